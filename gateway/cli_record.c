/* cli_record.c - `firegw record`: an inspection, test or maintenance
 * record (SPEC §6), made by the running daemon (control socket), which
 * numbers, chains, stores and publishes it. Append-only: a correction is a
 * new record whose --ref names the one it corrects. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli_int.h"
#include "compliance.h"
#include "config.h"
#include "control.h"

#define RECORD_TIMEOUT_MS 10000

static void record_usage_error(const char *msg)
{
	cli_usage_error("record", msg);
}

static int record_print(json_t *reply)
{
	printf("recorded as %s (seq %" JSON_INTEGER_FORMAT ")\n",
	       json_string_value(json_object_get(reply, "event_id")),
	       json_integer_value(json_object_get(reply, "seq")));
	return 0;
}

int cli_record(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "by", required_argument, NULL, 'b' },
					      { "result", required_argument, NULL, 'r' },
					      { "date", required_argument, NULL, 'd' },
					      { "note", required_argument, NULL, 'n' },
					      { "ref", required_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH, *by = NULL, *result = NULL, *date = NULL;
	const char *note = NULL, *ref = NULL;
	struct config *c;
	int o, r, failed = 0;
	json_t *req;

	while ((o = getopt_long(argc, argv, "c:b:r:d:n:f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'r':
			result = optarg;
			break;
		case 'd':
			date = optarg;
			break;
		case 'n':
			note = optarg;
			break;
		case 'f':
			ref = optarg;
			break;
		case 'h':
			printf("Usage: firegw record system_test|maintenance|self_inspection|"
			       "police_inspection\n"
			       "         --by NAME --result pass|fail [--date YYYY-MM-DD] "
			       "[--note TEXT] [--ref EVENT_ID] [-c FILE]\n"
			       "Records an inspection, a test of the whole system or a maintenance\n"
			       "(SPEC §6), through the running daemon: it is numbered, chained,\n"
			       "stored and published on <prefix>/<site>/record. --date is the day it\n"
			       "was done (default today, at most 730 days back, never in the future);\n"
			       "records are append-only: to correct one, record again with --ref\n"
			       "naming the event_id of the record it corrects. NAME up to 64 bytes,\n"
			       "TEXT up to 1000.\n");
			return 0;
		default:
			record_usage_error("unknown option");
			return 2;
		}
	}
	if (optind + 1 != argc || compliance_record_kind(argv[optind]) == COMP_REC_INVALID) {
		record_usage_error("give one kind: system_test, maintenance, self_inspection or "
				   "police_inspection");
		return 2;
	}
	if (!by || !by[0]) {
		record_usage_error("--by NAME is required: who did it is recorded");
		return 2;
	}
	if (!result || (strcmp(result, "pass") && strcmp(result, "fail"))) {
		record_usage_error("--result must be pass or fail");
		return 2;
	}
	c = cli_load_config(path);
	if (!c)
		return 2;
	req = json_pack("{s:s, s:s, s:s, s:s}", "op", "record", "kind", argv[optind], "by", by,
			"result", result);
	if (date)
		json_object_set_new(req, "date", json_string(date));
	if (note)
		json_object_set_new(req, "note", json_string(note));
	if (ref)
		json_object_set_new(req, "ref", json_string(ref));
	r = cli_daemon_call(c, req, RECORD_TIMEOUT_MS, record_print, &failed);
	if (r < 0) {
		fprintf(stderr, "firegw record: the running daemon is needed (control socket %s/%s): "
				"%s\n",
			c->runtime_dir, CONTROL_SOCKET_NAME, strerror(-r));
		failed = 1;
	}
	json_decref(req);
	config_free(c);
	return failed;
}
