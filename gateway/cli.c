/* cli.c - the commissioning and operating commands: check, status, watch,
 * reset, probe, scan, history. Each runs in the calling process's main
 * thread. Commands that change state, and probe/scan of a bus the daemon
 * owns, go through the daemon's control socket; read-only commands open the
 * database read-only and work with or without the daemon. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "log.h"
#include "point.h"
#include "poller.h"
#include "publish.h"
#include "store.h"
#include "util.h"

#define CONTROL_TIMEOUT_MS 15000

struct common_opts {
	const char *config;
	bool help;
};

void cli_usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "firegw %s: %s\nTry 'firegw %s --help'.\n", cmd, msg, cmd);
}

static struct config *load_config_or_report(const char *path)
{
	struct errlist errs = { 0 };
	struct config *c = NULL;
	int r;

	r = config_load(path, config_builtin_profile_dir(), &errs, &c);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0) {
		fprintf(stderr, "firegw: configuration '%s' is not valid (firegw check -c %s)\n",
			path, path);
		return NULL;
	}
	return c;
}

/* The configuration and its database, read-only (works beside a running
 * daemon: WAL lets a reader in). Returns 0, or the exit status to use. */
int cli_open_readonly(const char *path, struct config **ret_c, store **ret_st)
{
	struct store_opts so = { .readonly = true };
	struct config *c;
	int r;

	c = load_config_or_report(path);
	if (!c)
		return 2;
	so.path = c->storage.path;
	r = store_open(&so, ret_st);
	if (r < 0) {
		fprintf(stderr, "firegw: cannot open database '%s' read-only: %s%s\n", so.path,
			strerror(-r), r == -ENOENT ? " (has the daemon run yet?)" : "");
		config_free(c);
		return 1;
	}
	*ret_c = c;
	return 0;
}

/* ------------------------------------------------------------- check */

int cli_check(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "quiet", no_argument, NULL, 'q' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH;
	struct errlist errs = { 0 };
	struct config *c = NULL;
	bool quiet = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf("Usage: firegw check [-c FILE] [-q]\n"
			       "Checks the configuration and every profile it names; prints each\n"
			       "mistake as FILE:LINE:COL: message. Exit 0 when valid (warnings\n"
			       "allowed), 1 when not.\n");
			return 0;
		default:
			cli_usage_error("check", "unknown option");
			return 2;
		}
	}
	if (optind < argc) {
		cli_usage_error("check", "unexpected argument");
		return 2;
	}
	r = config_load(path, config_builtin_profile_dir(), &errs, &c);
	errlist_print(&errs, stderr);
	if (r < 0) {
		fprintf(stderr, "%s: %zu error(s), %zu warning(s): not valid\n", path,
			errs.n_errors, errs.n_warnings);
		errlist_clear(&errs);
		return 1;
	}
	if (!quiet)
		config_print_summary(c, stdout);
	printf("%s: valid (%zu warning(s))\n", path, errs.n_warnings);
	errlist_clear(&errs);
	config_free(c);
	return 0;
}

/* ------------------------------------------------------------ status */

struct status_ctx {
	struct store_point_state *ps;
	size_t n, cap;
};

static void conditions_str(uint32_t conds, char *buf, size_t len)
{
	uint32_t bit;
	size_t off = 0;

	buf[0] = '\0';
	for (bit = 1; bit && bit <= COND_CHATTERING; bit <<= 1)
		if ((conds & bit) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						cond_name(bit));
	if (!off)
		snprintf(buf, len, "-");
}

static int status_collect_cb(void *ud, const struct store_point_state *ps)
{
	struct status_ctx *sc = ud;

	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct store_point_state *n = realloc(sc->ps, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sc->ps = n;
		sc->cap = cap;
	}
	sc->ps[sc->n++] = *ps;
	return 0;
}

/* One line per configured alarm point: its stored state, or "unknown"
 * when the daemon has not stored one yet (never read). */
static void status_print_point(const struct status_ctx *sc, const char *key)
{
	const struct store_point_state *ps = NULL;
	char conds[160] = "-", since[UTIL_TS_LEN] = "-";
	const char *state = "unknown";
	struct point_mode mode;
	struct detect_state st;
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->ps[i].key, key) == 0)
			ps = &sc->ps[i];
	if (ps) {
		detect_state_init(&st);
		detect_restore(&st, ps->conditions, ps->latched, ps->alarm_causes,
			       ps->prealarm_causes, ps->fault_causes);
		/* the stored state is what the daemon last decided: show it as
		 * such, not as "unknown until the next read" */
		st.known = true;
		st.stale = false;
		/* the same derivation as the daemon's: a disabled point in fire
		 * is "disabled" here too, as in its retained state */
		if (point_mode_parse(ps->mode, &mode) < 0)
			memset(&mode, 0, sizeof(mode));
		state = point_state_name(point_state_derive(detect_point_state(&st), &mode));
		conditions_str(ps->conditions & ~(ps->latched ? (uint32_t)COND_ALARM : 0u), conds,
			       sizeof(conds));
		util_rfc3339(ps->since_ms, since);
	}
	printf("  %-32s %-9s %-28s %-7s %s\n", key, state, conds,
	       ps && ps->latched ? "latched" : "-", since);
}

static void ping_cb(void *ud, json_t *reply)
{
	*(bool *)ud = json_is_true(json_object_get(reply, "ok"));
}

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH;
	struct status_ctx sc = { 0 };
	int64_t ev = 0, tel = 0, oldest = 0;
	struct config *c;
	json_t *ping;
	bool daemon_up = false;
	size_t i, j;
	store *st;
	int o, r;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			printf("Usage: firegw status [-c FILE]\n"
			       "Shows the gateway's points and their states from the database\n"
			       "(read-only; works with or without the daemon).\n");
			return 0;
		default:
			cli_usage_error("status", "unknown option");
			return 2;
		}
	}
	r = cli_open_readonly(path, &c, &st);
	if (r)
		return r;
	ping = json_pack("{s:s}", "op", "ping");
	control_call(c->runtime_dir, ping, 2000, ping_cb, &daemon_up);
	json_decref(ping);
	store_outbox_stats(st, &ev, &tel, &oldest);
	printf("site %s  epoch %s  last_seq %" PRIu64 "  daemon %s\n", c->site.id, store_epoch(st),
	       store_last_seq(st), daemon_up ? "running" : "not running");
	printf("outbox: %" PRId64 " events, %" PRId64 " telemetry waiting\n", ev, tel);
	printf("  %-32s %-9s %-28s %-7s %s\n", "POINT", "STATE", "CONDITIONS", "LATCH", "SINCE");
	store_point_state_foreach(st, status_collect_cb, &sc);
	for (i = 0; i < c->n_devices; i++)
		for (j = 0; j < c->devices[i].n_points; j++) {
			char key[STORE_KEY_MAX];

			snprintf(key, sizeof(key), "%s.%s", c->devices[i].id,
				 c->devices[i].points[j].name);
			status_print_point(&sc, key);
		}
	free(sc.ps);
	store_free(st);
	config_free(c);
	return 0;
}

/* ------------------------------------------------------------- watch */

static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* One readable line per event: time, class, state, where, what, code. */
static void print_event_line(FILE *f, const char *topic, json_t *ev)
{
	const char *cls = json_string_value(json_object_get(ev, "class"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	const char *ts = json_string_value(json_object_get(ev, "ts"));
	const char *dev = json_string_value(json_object_get(ev, "device"));
	const char *pt = json_string_value(json_object_get(ev, "point"));
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *cid = json_string_value(json_object_get(ev, "cid"));
	const char *zone = json_string_value(json_object_get(ev, "zone"));
	const char *loc = json_string_value(json_object_get(ev, "location"));
	const char *eid = json_string_value(json_object_get(ev, "event_id"));
	json_t *value = json_object_get(ev, "value");
	char upper[16] = "";
	size_t i;

	for (i = 0; cls && cls[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)(cls[i] >= 'a' && cls[i] <= 'z' ? cls[i] - 32 : cls[i]);
	fprintf(f, "%s  %-8s %-7s %s%s%s  %s", ts ? ts : "-", upper, state ? state : "-",
		dev ? dev : "gateway", pt ? "." : "", pt ? pt : "", type ? type : "");
	if (json_is_number(value))
		fprintf(f, " %.2f%s%s", json_number_value(value),
			json_string_value(json_object_get(ev, "unit")) ? " " : "",
			json_string_value(json_object_get(ev, "unit")) ?: "");
	if (zone)
		fprintf(f, "  zone %s", zone);
	if (json_integer_value(json_object_get(ev, "zone_no")))
		fprintf(f, " #%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(ev, "zone_no")));
	if (loc)
		fprintf(f, "  \"%s\"", loc);
	fprintf(f, "  cid %s  %s  [%s]\n", cid ? cid : "-", eid ? eid : "", topic);
}

struct watch_dev {
	char topic[256];
	json_t *state;
};

static void print_state_table(FILE *f, struct watch_dev *devs, size_t n)
{
	size_t i;

	fprintf(f, "  +-- states ---------------------------------------------------------\n");
	for (i = 0; i < n; i++) {
		json_t *s = devs[i].state, *pts = json_object_get(s, "points"), *p;
		const char *name;

		fprintf(f, "  | %-16s %-9s", json_string_value(json_object_get(s, "device")) ?: "?",
			json_string_value(json_object_get(s, "state")) ?: "?");
		json_object_foreach(pts, name, p) {
			json_t *conds = json_object_get(p, "conditions");
			json_t *v = json_object_get(json_object_get(p, "value"), "value");
			size_t k;

			fprintf(f, " %s=%s", name, json_string_value(json_object_get(p, "state")) ?: "?");
			if (json_is_number(v))
				fprintf(f, "(%.2f)", json_number_value(v));
			for (k = 0; k < json_array_size(conds); k++)
				if (strcmp(json_string_value(json_array_get(conds, k)) ?: "",
					   json_string_value(json_object_get(p, "state")) ?: "") != 0)
					fprintf(f, "+%s", json_string_value(json_array_get(conds, k)));
			if (json_is_true(json_object_get(p, "latched")))
				fprintf(f, "[latched]");
		}
		fprintf(f, "\n");
	}
	fprintf(f, "  +-------------------------------------------------------------------\n");
}

int cli_watch(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "uri", required_argument, NULL, 'u' },
					      { "prefix", required_argument, NULL, 'p' },
					      { "site", required_argument, NULL, 's' },
					      { "count", required_argument, NULL, 'n' },
					      { "timeout", required_argument, NULL, 't' },
					      { "no-table", no_argument, NULL, 'T' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = NULL, *uri = NULL, *prefix = NULL, *site = NULL;
	long count = 0, timeout_s = 0, seen = 0;
	bool table = true;
	struct config *c = NULL;
	struct publish_opts po = { 0 };
	struct watch_dev devs[256];
	size_t n_devs = 0, i;
	char sub[512], client_id[64];
	const char *subs[1] = { sub };
	publisher *p = NULL;
	uint64_t deadline;
	int o, r, status = 0;
	bool table_dirty = false;
	uint64_t last_msg = 0, last_table = 0;
	long seen_at_table = -1;

	while ((o = getopt_long(argc, argv, "c:u:p:s:n:t:Th", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'u':
			uri = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 's':
			site = optarg;
			break;
		case 'n':
			if (util_parse_long(optarg, 1, 1000000000, &count) < 0) {
				cli_usage_error("watch", "--count takes a whole number from 1");
				return 2;
			}
			break;
		case 't':
			if (util_parse_long(optarg, 1, 86400 * 365, &timeout_s) < 0) {
				cli_usage_error("watch", "--timeout takes seconds from 1");
				return 2;
			}
			break;
		case 'T':
			table = false;
			break;
		case 'h':
			printf("Usage: firegw watch [-c FILE] [--uri URI] [--prefix P] [--site S|+]\n"
			       "                    [--count N] [--timeout S] [--no-table]\n"
			       "Subscribes like the command center: one line per event (alarm,\n"
			       "fault, test, gateway) and a table of device states when they change.\n"
			       "Broker, prefix and site come from the configuration unless given.\n");
			return 0;
		default:
			cli_usage_error("watch", "unknown option");
			return 2;
		}
	}
	if (!uri || !prefix || !site) {
		c = load_config_or_report(path ? path : CONFIG_DEFAULT_PATH);
		if (!c)
			return 2;
		uri = uri ? uri : c->mqtt.uri;
		prefix = prefix ? prefix : c->mqtt.topic_prefix;
		site = site ? site : c->site.id;
	}
	snprintf(sub, sizeof(sub), "%s/%s/#", prefix, site);
	snprintf(client_id, sizeof(client_id), "firegw-watch-%d", (int)getpid());
	po.uri = uri;
	po.client_id = client_id;
	po.version = 3;
	po.keepalive_s = 20;
	po.inflight = 16;
	po.subscriptions = subs;
	po.n_subscriptions = 1;
	r = publish_new(&po, &p);
	if (r < 0) {
		fprintf(stderr, "firegw watch: cannot create an MQTT client for '%s'\n", uri);
		config_free(c);
		return 2;
	}
	signal(SIGINT, watch_signal);
	signal(SIGTERM, watch_signal);
	publish_connect(p);
	deadline = timeout_s ? util_mono_ms() + (uint64_t)timeout_s * 1000u : UINT64_MAX;
	fprintf(stderr, "watching %s on %s (Ctrl-C to stop)\n", sub, uri);
	while (!watch_stop && util_mono_ms() < deadline && (!count || seen < count)) {
		struct pollfd pfd = { .fd = publish_fd(p), .events = POLLIN };
		struct publish_note n;

		if (poll(&pfd, 1, 500) < 0 && errno != EINTR)
			break;
		while (publish_next(p, &n)) {
			if (n.kind == PNOTE_CONNECT_FAILED || n.kind == PNOTE_CONNECTION_LOST) {
				fprintf(stderr, "firegw watch: '%s': %s; retrying\n", uri, n.text);
				sleep(1); /* interactive tool: a plain pause between attempts */
				publish_connect(p);
			} else if (n.kind == PNOTE_MESSAGE) {
				const char *t = n.topic + strlen(prefix) + 1;

				last_msg = util_mono_ms();
				json_t *js = n.len ? json_loadb(n.payload, n.len, 0, NULL) : NULL;

				t = strchr(t, '/') ? strchr(t, '/') + 1 : t;
				if (strncmp(t, "state/", 6) == 0 && js) {
					for (i = 0; i < n_devs; i++)
						if (strcmp(devs[i].topic, n.topic) == 0)
							break;
					if (i == n_devs && n_devs < ARRAY_SIZE(devs)) {
						util_strlcpy(devs[i].topic, n.topic, sizeof(devs[i].topic));
						devs[i].state = NULL;
						n_devs++;
					}
					if (i < n_devs) {
						json_decref(devs[i].state);
						devs[i].state = json_incref(js);
						table_dirty = true;
					}
				} else if (js && json_object_get(js, "event_id")) {
					print_event_line(stdout, n.topic, js);
					seen++;
				} else if (strncmp(t, "status", 6) == 0 && js) {
					printf("%s  STATUS   %s  last_seq %" JSON_INTEGER_FORMAT
					       "  backlog %" JSON_INTEGER_FORMAT "\n",
					       json_string_value(json_object_get(js, "ts")) ?: "-",
					       json_string_value(json_object_get(js, "state")) ?: "?",
					       json_integer_value(json_object_get(js, "last_seq")),
					       json_integer_value(json_object_get(
						       json_object_get(js, "backlog"), "events")));
				}
				json_decref(js);
				fflush(stdout);
			}
			publish_note_clear(&n);
		}
		/* the table after a burst settles (1 s quiet), at most every 10 s
		 * unless an event came: a person reads it, not a parser */
		if (table && table_dirty && util_mono_ms() - last_msg >= 1000 &&
		    (seen != seen_at_table || util_mono_ms() - last_table >= 10000)) {
			print_state_table(stdout, devs, n_devs);
			fflush(stdout);
			table_dirty = false;
			last_table = util_mono_ms();
			seen_at_table = seen;
		}
	}
	if (count && seen < count)
		status = 1;
	for (i = 0; i < n_devs; i++)
		json_decref(devs[i].state);
	publish_free(p);
	config_free(c);
	return status;
}

/* ------------------------------------------------------------- reset */

static void print_reply_cb(void *ud, json_t *reply)
{
	json_t *err = json_object_get(reply, "error");

	if (err) {
		fprintf(stderr, "firegw: %s: %s\n", json_string_value(json_object_get(err, "code")),
			json_string_value(json_object_get(err, "message")));
		*(int *)ud = 1;
		return;
	}
	if (json_object_get(reply, "values")) {
		/* a probe reading */
		json_t *v;
		const char *name;

		printf("%s (unit %" JSON_INTEGER_FORMAT "):",
		       json_string_value(json_object_get(reply, "device")),
		       json_integer_value(json_object_get(reply, "unit")));
		if (json_object_get(reply, "error"))
			printf(" %s", json_string_value(json_object_get(reply, "error")));
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
		if (json_integer_value(json_object_get(reply, "rc")))
			printf(" no valid answer: %s",
			       json_string_value(json_object_get(reply, "error")) ?: "?");
		printf("\n");
	} else if (json_object_get(reply, "unit")) {
		printf("unit %" JSON_INTEGER_FORMAT " answers\n",
		       json_integer_value(json_object_get(reply, "unit")));
	} else if (json_object_get(reply, "cleared")) {
		json_int_t held = json_integer_value(json_object_get(reply, "still_alarm"));

		printf("reset %s: %" JSON_INTEGER_FORMAT " point(s) cleared, %" JSON_INTEGER_FORMAT
		       " still in alarm%s\n",
		       json_string_value(json_object_get(reply, "target")),
		       json_integer_value(json_object_get(reply, "cleared")), held,
		       held ? " (the fire condition holds)" : "");
	}
}

static int daemon_call(const struct config *c, json_t *req, const char *what)
{
	int failed = 0, r;

	r = control_call(c->runtime_dir, req, CONTROL_TIMEOUT_MS, print_reply_cb, &failed);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		fprintf(stderr, "firegw: no running daemon at %s/%s: %s needs it (start it with "
				"systemctl start firegw)\n",
			c->runtime_dir, CONTROL_SOCKET_NAME, what);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "firegw: %s through %s failed: %s\n", what, c->runtime_dir,
			strerror(-r));
		return 1;
	}
	return failed;
}

int cli_reset(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "by", required_argument, NULL, 'b' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH, *by = NULL;
	struct config *c;
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
	c = load_config_or_report(path);
	if (!c)
		return 2;
	req = json_pack("{s:s, s:s, s:s}", "op", "reset", "target", argv[optind], "by", by);
	r = daemon_call(c, req, "reset");
	json_decref(req);
	config_free(c);
	return r;
}

/* ------------------------------------------- test mode and disablement */

static void mode_reply_cb(void *ud, json_t *reply)
{
	json_t *err = json_object_get(reply, "error");

	if (err) {
		fprintf(stderr, "firegw: %s: %s\n", json_string_value(json_object_get(err, "code")),
			json_string_value(json_object_get(err, "message")));
		*(int *)ud = 1;
		return;
	}
	printf("%" JSON_INTEGER_FORMAT " point(s) done\n",
	       json_integer_value(json_object_get(reply, "points")));
}

/* Sends one mode request (test, disable, enable) through the daemon. */
static int mode_call(const char *cmd, const char *path, json_t *req)
{
	struct config *c;
	int failed = 0, r;

	c = load_config_or_report(path);
	if (!c)
		return 2;
	r = control_call(c->runtime_dir, req, CONTROL_TIMEOUT_MS, mode_reply_cb, &failed);
	if (r < 0) {
		fprintf(stderr, "firegw %s: the running daemon is needed (control socket %s/%s): %s\n",
			cmd, c->runtime_dir, CONTROL_SOCKET_NAME, strerror(-r));
		failed = 1;
	}
	config_free(c);
	return failed;
}

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
	r = mode_call("test", path, req);
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
	r = mode_call(cmd, path, req);
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

/* ------------------------------------------------------- probe / scan */

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
	r = control_call(c->runtime_dir, req, 120000, print_reply_cb, &failed);
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
	c = load_config_or_report(path);
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
	c = load_config_or_report(path);
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

/* ----------------------------------------------------------- history */

enum history_format { HIST_TABLE, HIST_CSV, HIST_JSON };

struct history_ctx {
	size_t n;
	enum history_format fmt;
	const char *zone, *type; /* filters: NULL any */
};

static void csv_field(const char *v, bool last)
{
	const char *p;

	if (!v)
		v = "";
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, stdout);
	} else {
		putchar('"');
		for (p = v; *p; p++) {
			if (*p == '"')
				putchar('"');
			putchar(*p);
		}
		putchar('"');
	}
	fputs(last ? "\r\n" : ",", stdout);
}

static int history_cb(void *ud, const struct store_event_row *row)
{
	struct history_ctx *hc = ud;
	json_t *ev = NULL;
	char zone_no[16] = "";

	if (hc->type && strcmp(row->type ? row->type : "", hc->type) != 0)
		return 0;
	if (hc->zone || hc->fmt != HIST_JSON) {
		ev = json_loadb(row->payload, row->payload_len, 0, NULL);
		if (hc->zone &&
		    (!ev || strcmp(json_string_value(json_object_get(ev, "zone")) ?: "", hc->zone))) {
			json_decref(ev);
			return 0;
		}
	}
	hc->n++;
	switch (hc->fmt) {
	case HIST_JSON:
		printf("%.*s\n", (int)row->payload_len, row->payload);
		break;
	case HIST_CSV:
		if (json_integer_value(json_object_get(ev, "zone_no")))
			snprintf(zone_no, sizeof(zone_no), "%lld",
				 (long long)json_integer_value(json_object_get(ev, "zone_no")));
		printf("%" PRIu64 ",", row->seq);
		csv_field(json_string_value(json_object_get(ev, "ts")), false);
		csv_field(row->event_id, false);
		csv_field(row->cls, false);
		csv_field(row->type, false);
		csv_field(row->state, false);
		csv_field(row->cid, false);
		csv_field(row->device, false);
		csv_field(row->point, false);
		csv_field(json_string_value(json_object_get(ev, "zone")), false);
		csv_field(zone_no, false);
		csv_field(json_string_value(json_object_get(ev, "location")), false);
		csv_field(json_string_value(json_object_get(ev, "by")), false);
		csv_field(json_string_value(json_object_get(ev, "note")), true);
		break;
	default:
		if (ev)
			print_event_line(stdout, "db", ev);
	}
	json_decref(ev);
	return 0;
}

/* Pages through the store so filters on fields outside the index (zone,
 * type) still see every event up to --limit matches. */
static int history_page_cb(void *ud, const struct store_event_row *row)
{
	struct history_ctx *hc = ((void **)ud)[0];
	uint64_t *last = ((void **)ud)[1];
	size_t *limit = ((void **)ud)[2];

	*last = row->seq;
	if (hc->n >= *limit)
		return 1;
	return history_cb(hc, row);
}

int cli_history(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "from", required_argument, NULL, 'f' },
					      { "to", required_argument, NULL, 't' },
					      { "device", required_argument, NULL, 'd' },
					      { "class", required_argument, NULL, 'k' },
					      { "limit", required_argument, NULL, 'n' },
					      { "json", no_argument, NULL, 'j' },
					      { "zone", required_argument, NULL, 'z' },
					      { "type", required_argument, NULL, 'y' },
					      { "format", required_argument, NULL, 'F' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = CONFIG_DEFAULT_PATH;
	struct store_query q = { 0 };
	size_t want = 1000;
	struct history_ctx hc = { 0 };
	const char *classes[1];
	struct config *c;
	store *st;
	long limit;
	int o, r;

	while ((o = getopt_long(argc, argv, "c:f:t:d:k:n:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'f':
		case 't':
			if (util_parse_rfc3339(optarg, o == 'f' ? &q.from_ms : &q.to_ms) < 0) {
				cli_usage_error("history", "--from/--to take 2026-11-28 or 2026-11-28T02:11:46Z");
				return 2;
			}
			break;
		case 'd':
			q.device = optarg;
			break;
		case 'k':
			classes[0] = optarg;
			q.classes = classes;
			q.n_classes = 1;
			break;
		case 'n':
			if (util_parse_long(optarg, 1, 100000, &limit) < 0) {
				cli_usage_error("history", "--limit takes 1..100000");
				return 2;
			}
			want = (size_t)limit;
			break;
		case 'j':
			hc.fmt = HIST_JSON;
			break;
		case 'z':
			hc.zone = optarg;
			break;
		case 'y':
			hc.type = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "table") == 0)
				hc.fmt = HIST_TABLE;
			else if (strcmp(optarg, "csv") == 0)
				hc.fmt = HIST_CSV;
			else if (strcmp(optarg, "json") == 0)
				hc.fmt = HIST_JSON;
			else {
				cli_usage_error("history", "--format takes table, csv or json");
				return 2;
			}
			break;
		case 'h':
			printf("Usage: firegw history [-c FILE] [--from T] [--to T] [--device ID]\n"
			       "                      [--class alarm|prealarm|fault|test|record|system]\n"
			       "                      [--zone ZONE] [--type TYPE] [--limit N]\n"
			       "                      [--format table|csv|json] [--json]\n"
			       "Lists stored events, oldest first (read-only). --type is the event\n"
			       "type (smoke, comm_loss, maintenance, ...); --zone the zone of the\n"
			       "alarm point. csv: RFC 4180 with a header row; json (= --json): one\n"
			       "payload per line, the exact stored bytes.\n");
			return 0;
		default:
			cli_usage_error("history", "unknown option");
			return 2;
		}
	}
	r = cli_open_readonly(path, &c, &st);
	if (r)
		return r;
	if (hc.fmt == HIST_CSV)
		printf("seq,ts,event_id,class,type,state,cid,device,point,zone,zone_no,location,by,"
		       "note\r\n");
	{
		uint64_t last = 0;
		void *ud[3] = { &hc, &last, &want };

		/* pages of at most 1000 rows, until --limit events matched */
		for (;;) {
			q.after_seq = last;
			q.limit = 1000;
			last = 0;
			r = store_events_query(st, &q, history_page_cb, ud);
			if (r != 0 || last == 0 || hc.n >= want)
				break;
		}
		if (r < 0) {
			fprintf(stderr, "firegw history: cannot read the events: %s\n", strerror(-r));
			store_free(st);
			config_free(c);
			return 2;
		}
	}
	if (hc.fmt == HIST_TABLE)
		fprintf(stderr, "%zu event(s)\n", hc.n);
	store_free(st);
	config_free(c);
	return 0;
}
