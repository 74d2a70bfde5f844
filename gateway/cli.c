/* cli.c - the commissioning and operating commands other than `run`, by
 * family: here what they share (a command's configuration, usage errors,
 * the database opened read-only, an event as a line: cli_int.h), `check`
 * (the configuration) and the database readers `status` and `history`,
 * which open the database read-only and work with or without the daemon.
 * The others: cli_watch.c (`watch`, a subscriber like the center),
 * cli_daemon.c (`reset`, `test`, `disable`, `enable`, through the daemon's
 * control socket), cli_bus.c (`probe`, `scan`: through the daemon when it
 * runs, else on the bus directly). Each runs in the calling process's main
 * thread. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "config.h"
#include "control.h"
#include "point.h"
#include "store.h"
#include "util.h"

struct common_opts {
	const char *config;
	bool help;
};

void cli_usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "firegw %s: %s\nTry 'firegw %s --help'.\n", cmd, msg, cmd);
}

struct config *cli_load_config(const char *path)
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

	c = cli_load_config(path);
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

/* ------------------------------------------------------ an event line */

/* One readable line per event: time, class, state, where, what, code
 * (history and watch print the same line). */
const char *cli_text(const char *s, const char *dflt, char *buf, size_t len)
{
	if (!s)
		return dflt;
	return util_escape(s, strlen(s), buf, len);
}

const char *cli_json_text(json_t *o, const char *key, const char *dflt, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return dflt;
	return util_escape(json_string_value(v), json_string_length(v), buf, len);
}

void cli_print_event_line(FILE *f, const char *topic, json_t *ev)
{
	const char *cls = json_string_value(json_object_get(ev, "class"));
	char ts[64], state[64], dev[200], pt[200], type[100], unit[64], zone[200], loc[400];
	char cid[32], eid[200], top[400];
	json_t *value = json_object_get(ev, "value");
	char raw[16] = "", upper[64];
	size_t i;

	for (i = 0; cls && cls[i] && i < sizeof(raw) - 1; i++)
		raw[i] = (char)(cls[i] >= 'a' && cls[i] <= 'z' ? cls[i] - 32 : cls[i]);
	fprintf(f, "%s  %-8s %-7s %s", cli_json_text(ev, "ts", "-", ts, sizeof(ts)),
		cli_text(raw, "", upper, sizeof(upper)),
		cli_json_text(ev, "state", "-", state, sizeof(state)),
		cli_json_text(ev, "device", "gateway", dev, sizeof(dev)));
	if (json_is_string(json_object_get(ev, "point")))
		fprintf(f, ".%s", cli_json_text(ev, "point", "", pt, sizeof(pt)));
	fprintf(f, "  %s", cli_json_text(ev, "type", "", type, sizeof(type)));
	if (json_is_number(value)) {
		const char *u = cli_json_text(ev, "unit", NULL, unit, sizeof(unit));

		fprintf(f, " %.2f%s%s", json_number_value(value), u ? " " : "", u ? u : "");
	}
	if (json_is_string(json_object_get(ev, "zone")))
		fprintf(f, "  zone %s", cli_json_text(ev, "zone", "", zone, sizeof(zone)));
	if (json_integer_value(json_object_get(ev, "zone_no")))
		fprintf(f, " #%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(ev, "zone_no")));
	if (json_is_string(json_object_get(ev, "location")))
		fprintf(f, "  \"%s\"", cli_json_text(ev, "location", "", loc, sizeof(loc)));
	fprintf(f, "  cid %s  %s  [%s]\n", cli_json_text(ev, "cid", "-", cid, sizeof(cid)),
		cli_json_text(ev, "event_id", "", eid, sizeof(eid)),
		cli_text(topic, "", top, sizeof(top)));
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
			cli_print_event_line(stdout, "db", ev);
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
