/* cli_bus.c - the bus commands: probe (read each device once and print its
 * decoded values) and scan (which unit ids answer on a bus). Through the
 * daemon when it runs, since it owns the buses (cli_daemon_call(); its bus
 * thread interleaves the job with its polls); else on the bus directly,
 * with the bus's port locked so no daemon uses it meanwhile
 * (poller_run_job()). Main thread of the calling process. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "config.h"
#include "poller.h"
#include "profile.h"
#include "util.h"

/* A reply of the daemon's probe (a reading) or scan (a unit that answers),
 * printed as the direct path prints its results (direct_cb); error replies
 * are printed by cli_daemon_call(). 1 for a probe without a valid answer. */
static int print_reply(json_t *reply)
{
	json_int_t rc = json_integer_value(json_object_get(reply, "rc"));

	if (json_object_get(reply, "values")) {
		/* a probe reading */
		json_t *v;
		const char *name;

		printf("%s (unit %" JSON_INTEGER_FORMAT "):",
		       json_string_value(json_object_get(reply, "device")),
		       json_integer_value(json_object_get(reply, "unit")));
		if (rc) {
			printf(" no valid answer: %s\n",
			       json_string_value(json_object_get(reply, "error")) ?: "?");
			return 1;
		}
		json_object_foreach(json_object_get(reply, "values"), name, v)
		{
			json_t *val = json_object_get(v, "value");

			if (json_is_number(val))
				printf(" %s=%g%s%s", name, json_number_value(val),
				       json_string_length(json_object_get(v, "unit")) ? " " : "",
				       json_string_value(json_object_get(v, "unit")) ?: "");
			else
				printf(" %s=invalid", name);
		}
		printf("\n");
	} else if (json_object_get(reply, "unit")) {
		printf("unit %" JSON_INTEGER_FORMAT " answers\n",
		       json_integer_value(json_object_get(reply, "unit")));
	}
	return 0;
}

struct direct_ctx {
	const struct config *c;
	int failed;
};

static void direct_cb(void *ud, const struct poll_result *res)
{
	struct direct_ctx *dc = ud;

	if (res->kind == POLL_RESULT_SCAN) {
		printf("unit %d answers\n", res->unit);
	} else if (res->kind == POLL_RESULT_PROBE) {
		const struct cfg_device *d = &dc->c->devices[res->device];
		struct value_reading vals[PROFILE_MAX_VALUES];
		size_t i;

		printf("%s (unit %d):", d->id, d->unit);
		if (res->rc < 0) {
			printf(" no valid answer: %s\n", strerror(-res->rc));
			dc->failed = 1;
			return;
		}
		profile_decode(d->profile, &res->raw, vals);
		for (i = 0; i < d->profile->n_values; i++) {
			if (vals[i].ok)
				printf(" %s=%g%s%s", d->profile->values[i].name, vals[i].value,
				       d->profile->values[i].unit[0] ? " " : "",
				       d->profile->values[i].unit);
			else
				printf(" %s=invalid", d->profile->values[i].name);
		}
		printf("\n");
	} else if (res->kind == POLL_RESULT_JOB_DONE && res->rc < 0) {
		fprintf(stderr, "firegw: job failed: %s\n", strerror(-res->rc));
		dc->failed = 1;
	}
}

static int run_job(const struct config *c, int bus, const struct poller_job *job, json_t *req,
		   const char *what)
{
	struct direct_ctx dc = { .c = c };
	int failed = 0, r;

	/* through the daemon when it runs: it owns the bus */
	r = cli_daemon_call(c, req, 120000, print_reply, &failed);
	if (r == 0)
		return failed;
	if (r != -ENOENT && r != -ECONNREFUSED) {
		fprintf(stderr, "firegw: %s through the daemon failed: %s\n", what, strerror(-r));
		return 1;
	}
	r = poller_run_job(c, bus, job, direct_cb, &dc);
	if (r == -EBUSY) {
		fprintf(stderr, "firegw: bus '%s' is in use by a running firegw whose control "
				"socket is not at %s; stop it or use its runtime directory\n",
			c->buses[bus].id, c->runtime_dir);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "firegw: %s on bus '%s' failed: %s\n", what, c->buses[bus].id,
			strerror(-r));
		return 1;
	}
	return dc.failed;
}

int cli_probe(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH;
	struct config *c;
	int o, status = 0;
	size_t i;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			printf("Usage: firegw probe [-c FILE] [DEVICE...]\n"
			       "Reads each configured device (or those named) once and prints its\n"
			       "decoded values. Goes through the daemon when it runs.\n");
			return 0;
		default:
			cli_usage_error("probe", "unknown option");
			return 2;
		}
	}
	c = cli_load_config(path);
	if (!c)
		return 2;
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (config_device_index(c, argv[i]) < 0) {
			fprintf(stderr, "firegw probe: no device '%s' in '%s'\n", argv[i], path);
			config_free(c);
			return 2;
		}
	for (i = 0; i < c->n_devices; i++) {
		struct poller_job job = { .kind = POLLER_JOB_PROBE, .device = (int)i, .tag = i + 1 };
		bool wanted = optind == argc;
		json_t *req;
		int k;

		for (k = optind; k < argc; k++)
			if (strcmp(argv[k], c->devices[i].id) == 0)
				wanted = true;
		if (!wanted)
			continue;
		req = json_pack("{s:s, s:s}", "op", "probe", "device", c->devices[i].id);
		if (run_job(c, c->devices[i].bus, &job, req, "probe"))
			status = 1;
		json_decref(req);
	}
	config_free(c);
	return status;
}

int cli_scan(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "bus", required_argument, NULL, 'b' },
					      { "units", required_argument, NULL, 'u' },
					      { "timeout-ms", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH, *bus_id = NULL;
	struct poller_job job = { .kind = POLLER_JOB_SCAN, .unit_from = 1, .unit_to = 247, .tag = 1 };
	struct config *c;
	json_t *req;
	long t = 0;
	int o, r, bus;

	while ((o = getopt_long(argc, argv, "c:b:u:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			bus_id = optarg;
			break;
		case 'u': {
			long a, b;
			char *dash = strchr(optarg, '-');

			if (dash)
				*dash = '\0';
			if (util_parse_long(optarg, 1, 247, &a) < 0 ||
			    util_parse_long(dash ? dash + 1 : optarg, 1, 247, &b) < 0 || a > b) {
				cli_usage_error("scan", "--units takes FROM-TO within 1-247, e.g. 1-32");
				return 2;
			}
			job.unit_from = (int)a;
			job.unit_to = (int)b;
			break;
		}
		case 't':
			if (util_parse_long(optarg, 10, 1000, &t) < 0) {
				cli_usage_error("scan", "--timeout-ms takes 10..1000 (ms per unit)");
				return 2;
			}
			job.timeout_ms = (int)t;
			break;
		case 'h':
			printf("Usage: firegw scan --bus ID [--units FROM-TO] [--timeout-ms MS] [-c FILE]\n"
			       "Finds which unit ids answer on a bus (default 1-247, 100 ms each).\n");
			return 0;
		default:
			cli_usage_error("scan", "unknown option");
			return 2;
		}
	}
	if (!bus_id) {
		cli_usage_error("scan", "--bus ID is required");
		return 2;
	}
	c = cli_load_config(path);
	if (!c)
		return 2;
	bus = config_bus_index(c, bus_id);
	if (bus < 0) {
		fprintf(stderr, "firegw scan: no bus '%s' in '%s'\n", bus_id, path);
		config_free(c);
		return 2;
	}
	req = json_pack("{s:s, s:s, s:i, s:i}", "op", "scan", "bus", bus_id, "from",
			job.unit_from, "to", job.unit_to);
	if (req && job.timeout_ms > 0) /* absent: the daemon's default */
		json_object_set_new(req, "timeout_ms", json_integer(job.timeout_ms));
	r = run_job(c, bus, &job, req, "scan");
	json_decref(req);
	config_free(c);
	return r;
}
