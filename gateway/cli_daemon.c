/* cli_daemon.c - the commands that go through the running daemon's
 * control socket (SPEC §7): reset, test, disable, enable. The daemon owns
 * the points, their modes and the journal, so these only ask it: each
 * command parses its arguments into one request, and daemon_command() does
 * the rest once for all of them (the configuration, the call, the replies,
 * the exit status). cli_daemon_call() is the socket as every command sees
 * it (cli_bus.c's probe and scan too). Main thread of the calling process.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "config.h"
#include "control.h"
#include "util.h"

#define CONTROL_TIMEOUT_MS 15000

struct reply_ctx {
	int (*print)(json_t *reply);
	int failed;
};

/* An error reply ("error" is an object: a probe reading's "error" is a
 * string, the reason of its rc) is printed and counted here; the others go
 * to the command's printer. */
static void reply_cb(void *ud, json_t *reply)
{
	struct reply_ctx *rc = ud;
	json_t *err = json_object_get(reply, "error");

	if (json_is_object(err)) {
		fprintf(stderr, "firegw: %s: %s\n", json_string_value(json_object_get(err, "code")),
			json_string_value(json_object_get(err, "message")));
		rc->failed = 1;
		return;
	}
	if (rc->print && rc->print(reply))
		rc->failed = 1;
}

int cli_daemon_call(const struct config *c, json_t *req, int timeout_ms,
		    int (*print)(json_t *reply), int *ret_failed)
{
	struct reply_ctx rc = { .print = print };
	int r;

	r = control_call(c->runtime_dir, req, timeout_ms, reply_cb, &rc);
	*ret_failed = rc.failed;
	return r;
}

/* ----------------------------------------------------- the one helper */

static int print_reset(json_t *reply)
{
	json_int_t held = json_integer_value(json_object_get(reply, "still_alarm"));

	if (!json_object_get(reply, "cleared"))
		return 0;
	printf("reset %s: %" JSON_INTEGER_FORMAT " point(s) cleared, %" JSON_INTEGER_FORMAT
	       " still in alarm%s\n",
	       json_string_value(json_object_get(reply, "target")),
	       json_integer_value(json_object_get(reply, "cleared")), held,
	       held ? " (the fire condition holds)" : "");
	return 0;
}

static int print_points(json_t *reply)
{
	printf("%" JSON_INTEGER_FORMAT " point(s) done\n",
	       json_integer_value(json_object_get(reply, "points")));
	return 0;
}

static const struct daemon_cmd {
	const char *name;
	int (*print)(json_t *reply);
	/* reset tells a missing daemon apart from a call that failed; the
	 * mode commands say one thing for both (both wordings as they were) */
	bool tell_no_daemon;
} cmd_reset = { "reset", print_reset, true }, cmd_test = { "test", print_points, false },
  cmd_disable = { "disable", print_points, false }, cmd_enable = { "enable", print_points, false };

/* Loads the configuration at path, sends req (borrowed) to its daemon and
 * prints the replies. The exit status: 0 done, 1 refused by the daemon or
 * no daemon to ask, 2 the configuration is not valid. */
static int daemon_command(const struct daemon_cmd *dc, const char *path, json_t *req)
{
	struct config *c;
	int failed = 0, r;

	c = cli_load_config(path);
	if (!c)
		return 2;
	r = cli_daemon_call(c, req, CONTROL_TIMEOUT_MS, dc->print, &failed);
	if (r < 0 && !dc->tell_no_daemon)
		fprintf(stderr, "firegw %s: the running daemon is needed (control socket %s/%s): %s\n",
			dc->name, c->runtime_dir, CONTROL_SOCKET_NAME, strerror(-r));
	else if (r == -ENOENT || r == -ECONNREFUSED)
		fprintf(stderr, "firegw: no running daemon at %s/%s: %s needs it (start it with "
				"systemctl start firegw)\n",
			c->runtime_dir, CONTROL_SOCKET_NAME, dc->name);
	else if (r < 0)
		fprintf(stderr, "firegw: %s through %s failed: %s\n", dc->name, c->runtime_dir,
			strerror(-r));
	config_free(c);
	return r < 0 ? 1 : failed;
}

/* ------------------------------------------------------------- reset */

int cli_reset(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "by", required_argument, NULL, 'b' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH, *by = NULL;
	json_t *req;
	int o, r;

	while ((o = getopt_long(argc, argv, "c:b:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'h':
			printf("Usage: firegw reset DEVICE[.POINT] --by NAME [-c FILE]\n"
			       "Clears the latch of a device's alarm points (or one point). If the\n"
			       "fire condition still holds, the point stays in alarm. The reset is\n"
			       "recorded as an event with NAME.\n");
			return 0;
		default:
			cli_usage_error("reset", "unknown option");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		cli_usage_error("reset", "give exactly one DEVICE or DEVICE.POINT");
		return 2;
	}
	if (!by || !by[0]) {
		cli_usage_error("reset", "--by NAME is required: who resets is recorded");
		return 2;
	}
	req = json_pack("{s:s, s:s, s:s}", "op", "reset", "target", argv[optind], "by", by);
	r = daemon_command(&cmd_reset, path, req);
	json_decref(req);
	return r;
}

/* ------------------------------------------- test mode and disablement */

static json_t *targets_json(int argc, char **argv, int from)
{
	json_t *a = json_array();
	int i;

	for (i = from; i < argc; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

int cli_test(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "by", required_argument, NULL, 'b' },
					      { "minutes", required_argument, NULL, 'm' },
					      { "all", no_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH, *by = NULL, *action;
	long minutes = 0;
	bool all = false;
	json_t *req;
	int o, r;

	while ((o = getopt_long(argc, argv, "c:b:m:ah", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'm':
			if (util_parse_long(optarg, 1, 240, &minutes) < 0) {
				cli_usage_error("test", "--minutes takes 1..240");
				return 2;
			}
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			printf("Usage: firegw test start DEVICE[.POINT]... --by NAME --minutes M [-c FILE]\n"
			       "       firegw test end (DEVICE[.POINT]... | --all) --by NAME [-c FILE]\n"
			       "Puts points in test mode (at most 240 min, ends by itself): their fire\n"
			       "and pre-alarm events go to test/, never alarm/; a point that alarms is\n"
			       "tested OK (1611), one that does not is reported not tested (1612).\n");
			return 0;
		default:
			cli_usage_error("test", "unknown option");
			return 2;
		}
	}
	if (optind >= argc || (strcmp(argv[optind], "start") && strcmp(argv[optind], "end"))) {
		cli_usage_error("test", "say start or end");
		return 2;
	}
	action = argv[optind++];
	if (!by || !by[0]) {
		cli_usage_error("test", "--by NAME is required: who tests is recorded");
		return 2;
	}
	if (!strcmp(action, "start") && (!minutes || all || optind >= argc)) {
		cli_usage_error("test", "start needs DEVICE[.POINT]... and --minutes M (1..240)");
		return 2;
	}
	if (!strcmp(action, "end") && !all && optind >= argc) {
		cli_usage_error("test", "end needs DEVICE[.POINT]... or --all");
		return 2;
	}
	req = json_pack("{s:s, s:s, s:s, s:I, s:b, s:o}", "op", "test", "action", action, "by", by,
			"minutes", (json_int_t)minutes, "all", all, "targets",
			targets_json(argc, argv, optind));
	r = daemon_command(&cmd_test, path, req);
	json_decref(req);
	return r;
}

static int disable_enable(int argc, char **argv, bool disable)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "by", required_argument, NULL, 'b' },
					      { "reason", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *cmd = disable ? "disable" : "enable";
	const char *path = CONFIG_DEFAULT_PATH, *by = NULL, *reason = NULL;
	json_t *req;
	int o, r;

	while ((o = getopt_long(argc, argv, "c:b:r:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'h':
			if (disable)
				printf("Usage: firegw disable DEVICE[.POINT]... --reason TEXT --by NAME [-c FILE]\n"
				       "The point is still polled and its events stored, not published;\n"
				       "a 1571 fault is published, announced again daily, until enabled.\n");
			else
				printf("Usage: firegw enable DEVICE[.POINT]... --by NAME [-c FILE]\n"
				       "Returns disabled points to service (3571).\n");
			return 0;
		default:
			cli_usage_error(cmd, "unknown option");
			return 2;
		}
	}
	if (optind >= argc) {
		cli_usage_error(cmd, "give DEVICE or DEVICE.POINT");
		return 2;
	}
	if (!by || !by[0] || (disable && (!reason || !reason[0]))) {
		cli_usage_error(cmd, disable ? "--reason TEXT and --by NAME are required"
					 : "--by NAME is required");
		return 2;
	}
	req = json_pack("{s:s, s:s, s:s?, s:o}", "op", cmd, "by", by, "reason", reason, "targets",
			targets_json(argc, argv, optind));
	r = daemon_command(disable ? &cmd_disable : &cmd_enable, path, req);
	json_decref(req);
	return r;
}

int cli_disable(int argc, char **argv)
{
	return disable_enable(argc, argv, true);
}

int cli_enable(int argc, char **argv)
{
	return disable_enable(argc, argv, false);
}
