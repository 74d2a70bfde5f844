/* test_request.c - gateway/request.c through its seam request_call(): the
 * answer object of one request, without the channel's framing. Error paths
 * first: a table of bad requests with their exact codes and messages, per
 * channel (MQTT or the control socket); `forbidden` for remote state
 * changes the configuration does not allow; then good requests, with the
 * answers and the events they made in the store.
 *
 * The collaborators are the real ones: a configuration from a small YAML
 * file with the shipped profiles, the site, a store on a temporary file,
 * the outbox, the journal and the modes. No broker: the uplink is only used
 * to send MQTT answers (request_mqtt), never by request_call(). No bus: the
 * pollers are NULL, and probe and scan are only called with arguments that
 * are refused before a job would be submitted. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "journal.h"
#include "log.h"
#include "modes.h"
#include "outbox.h"
#include "request.h"
#include "site.h"
#include "store.h"
#include "util.h"

/* a device id of 59 bytes: with ".fire" it fills 64 */
#define LONG_ID "d01234567890123456789012345678901234567890123456789abcdefgh"

struct fx {
	char dir[PATH_MAX];
	struct config *c;
	struct site s;
	outbox *ob;
	journal *j;
	store *st;
	modes *m;
	request *rq;
	poller *pollers[CONFIG_MAX_BUSES];
	int status_calls;
};

static json_t *status_cb(void *ud, const char *state, const char *reason)
{
	struct fx *f = ud;

	f->status_calls++;
	return json_pack("{s:s, s:s?, s:s}", "state", state, "reason", reason, "site",
			 f->c->site.id);
}

static int setup_with(void **state, bool allow)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist e = { 0 };
	struct store_opts so = { .create = true };
	struct request_deps d;
	char path[PATH_MAX + 16], yaml[PATH_MAX + 1024];
	size_t i, k;
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_request.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(yaml, sizeof(yaml),
		 "site: {id: s1}\n"
		 "storage: {path: %s/firegw.db}\n"
		 "buses: [{id: b1, tcp: {host: 127.0.0.1, port: 1}}]\n"
		 "devices:\n"
		 "  - {id: smoke-1, bus: b1, unit: 1, profile: smoke-point}\n"
		 "  - {id: smoke-2, bus: b1, unit: 2, profile: smoke-point}\n"
		 "  - {id: " LONG_ID ", bus: b1, unit: 3, profile: smoke-point}\n"
		 "remote: {allow_reset: %s, allow_test: %s}\n",
		 f->dir, allow ? "true" : "false", allow ? "true" : "false");
	snprintf(path, sizeof(path), "%s/firegw.yaml", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(yaml, fp);
	fclose(fp);
	if (config_load(path, config_builtin_profile_dir(), &e, &f->c) < 0)
		errlist_print(&e, stderr);
	errlist_clear(&e);
	assert_non_null(f->c);
	assert_int_equal(site_init(&f->s, f->c, util_wall_ms()), 0);
	assert_int_equal(outbox_new(&f->ob), 0);
	outbox_key(f->ob, "gateway");
	for (i = 0; i < f->c->n_devices; i++)
		for (k = 0; k < f->c->devices[i].n_points; k++) {
			char key[STORE_KEY_MAX];

			site_point_key(&f->s, (int)i, (int)k, key, sizeof(key));
			f->s.devs[i].points[k].key = outbox_key(f->ob, key);
		}
	assert_int_equal(journal_new(f->c, &f->s, f->ob, NULL, NULL, &f->j), 0);
	so.path = f->c->storage.path;
	assert_int_equal(store_open(&so, &f->st), 0);
	journal_set_store(f->j, f->st);
	journal_load_marks(f->j, NULL);
	assert_int_equal(modes_new(f->c, &f->s, f->j, f->st, &f->m), 0);
	d = (struct request_deps){ .cfg = f->c,
				   .site = &f->s,
				   .st = f->st,
				   .j = f->j,
				   .m = f->m,
				   .u = NULL,
				   .pollers = f->pollers,
				   .status = status_cb,
				   .ud = f };
	assert_int_equal(request_new(&d, &f->rq), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_allow(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	DIR *dir;

	request_free(f->rq);
	modes_free(f->m);
	journal_free(f->j);
	store_free(f->st);
	outbox_free(f->ob);
	site_clear(&f->s);
	config_free(f->c);
	dir = opendir(f->dir);
	while (dir && (de = readdir(dir))) {
		char p[PATH_MAX + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		unlink(p);
	}
	if (dir)
		closedir(dir);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The answer to text (a JSON request) over MQTT (remote) or the socket. */
static json_t *call(struct fx *f, bool remote, const char *text)
{
	json_error_t err;
	json_t *req = json_loads(text, 0, &err), *resp;

	if (!req)
		fail_msg("bad JSON in the test: %s: %s", text, err.text);
	resp = request_call(f->rq, remote, 3, req);
	json_decref(req);
	return resp;
}

static void assert_error(json_t *resp, const char *code, const char *msg, const char *what)
{
	json_t *e = json_object_get(resp, "error");
	const char *got_code = json_string_value(json_object_get(e, "code"));
	const char *got_msg = json_string_value(json_object_get(e, "message"));

	if (!resp || !json_is_false(json_object_get(resp, "ok")) || !got_code || !got_msg ||
	    strcmp(got_code, code) != 0 || strcmp(got_msg, msg) != 0) {
		char *dump = resp ? json_dumps(resp, 0) : NULL;

		fail_msg("%s:\n  want %s: %s\n  got  %s", what, code, msg, dump ? dump : "NULL");
	}
}

/* ------------------------------------------------ bad requests, a table */

#define MQTT_OPS "status, history, readings, compliance, report, reset, test, record"
#define CTL_OPS "status, history, readings, reset, test, record, disable, enable, probe, scan, ping"
#define BY_BAD "\"by\" must be 1..64 bytes of UTF-8 text without control characters"
#define REASON_BAD "\"reason\" must be 1..159 bytes of UTF-8 text without control characters"
#define TARGETS_BAD "\"targets\" must list DEVICE or DEVICE.POINT names"
#define TIME_BAD "\"from\"/\"to\" must be RFC 3339 times, e.g. 2026-11-28T02:11:46Z"
#define CLASS_BAD "\"class\" must be a list of alarm, prealarm, fault, test, record, system"
#define START "\"op\":\"test\",\"action\":\"start\",\"targets\":[\"smoke-1\"],\"by\":\"me\""

enum { MQTT = 1, CTL = 2, BOTH = 3 };

static const struct bad {
	int channels;
	const char *req;
	const char *code, *msg;
} bad[] = {
	/* the request and its op */
	{ BOTH, "[]", "bad_request", "a request is a JSON object" },
	{ BOTH, "{}", "bad_request", "missing \"op\"" },
	{ BOTH, "{\"op\":5}", "bad_request", "missing \"op\"" },
	{ MQTT, "{\"op\":\"frob\"}", "bad_request", "unknown op 'frob'; one of " MQTT_OPS },
	{ CTL, "{\"op\":\"frob\"}", "bad_request", "unknown op 'frob'; one of " CTL_OPS },
	{ MQTT, "{\"op\":\"a\\nb\"}", "bad_request", "unknown op 'a\\x0ab'; one of " MQTT_OPS },
	/* socket-only operations do not exist over MQTT */
	{ MQTT, "{\"op\":\"disable\",\"targets\":[\"smoke-1\"],\"by\":\"me\",\"reason\":\"r\"}",
	  "bad_request", "unknown op 'disable'; one of " MQTT_OPS },
	{ MQTT, "{\"op\":\"enable\"}", "bad_request", "unknown op 'enable'; one of " MQTT_OPS },
	{ MQTT, "{\"op\":\"probe\",\"device\":\"smoke-1\"}", "bad_request",
	  "unknown op 'probe'; one of " MQTT_OPS },
	{ MQTT, "{\"op\":\"scan\"}", "bad_request", "unknown op 'scan'; one of " MQTT_OPS },
	{ MQTT, "{\"op\":\"ping\"}", "bad_request", "unknown op 'ping'; one of " MQTT_OPS },

	/* reset: a target and who */
	{ BOTH, "{\"op\":\"reset\",\"by\":\"me\"}", "bad_request",
	  "reset needs \"device\" (and \"point\"), or \"target\" DEVICE[.POINT], and \"by\"" },
	{ BOTH, "{\"op\":\"reset\",\"point\":\"fire\",\"by\":\"me\"}", "bad_request",
	  "reset needs \"device\" (and \"point\"), or \"target\" DEVICE[.POINT], and \"by\"" },
	{ BOTH, "{\"op\":\"reset\",\"device\":\"smoke-1\"}", "bad_request",
	  "\"by\" (who does it) is required" },
	{ BOTH, "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":\"\"}", "bad_request",
	  "\"by\" (who does it) is required" },
	{ BOTH, "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":5}", "bad_request",
	  "\"by\" (who does it) is required" },
	{ BOTH,
	  "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":"
	  "\"01234567890123456789012345678901234567890123456789012345678901234\"}",
	  "bad_request", BY_BAD },
	{ BOTH, "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":\"a\\nb\"}", "bad_request", BY_BAD },
	{ BOTH, "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":\"a\\u0085b\"}", "bad_request",
	  BY_BAD },
	{ BOTH, "{\"op\":\"reset\",\"target\":\"nodev\",\"by\":\"me\"}", "not_found",
	  "no device 'nodev' in the configuration" },
	{ BOTH, "{\"op\":\"reset\",\"device\":\"nodev\",\"point\":\"fire\",\"by\":\"me\"}",
	  "not_found", "no device 'nodev' in the configuration" },
	{ BOTH, "{\"op\":\"reset\",\"device\":\"smoke-1\",\"point\":\"nopt\",\"by\":\"me\"}",
	  "not_found", "device 'smoke-1' has no point 'nopt'" },
	{ CTL, "{\"op\":\"reset\",\"target\":\"smoke-1.a\\u0001\",\"by\":\"me\"}", "not_found",
	  "device 'smoke-1' has no point 'a\\x01'" },
	/* the point is the target's, whole: a target cut to a buffer named
	 * LONG_ID.fire for LONG_ID.fireXYZ */
	{ BOTH, "{\"op\":\"reset\",\"target\":\"" LONG_ID ".fireXYZ\",\"by\":\"me\"}",
	  "not_found", "device '" LONG_ID "' has no point 'fireXYZ'" },
	{ BOTH, "{\"op\":\"reset\",\"device\":\"" LONG_ID "\",\"point\":\"fireXYZ\",\"by\":\"me\"}",
	  "not_found", "device '" LONG_ID "' has no point 'fireXYZ'" },
	{ CTL, "{\"op\":\"disable\",\"targets\":[\"" LONG_ID ".fireXYZ\"],\"by\":\"me\",\"reason\":\"r\"}",
	  "not_found", "device '" LONG_ID "' has no point 'fireXYZ'" },
	{ BOTH, "{\"op\":\"reset\",\"target\":\"" LONG_ID "xxxxxx\",\"by\":\"me\"}",
	  "not_found", "no device '" LONG_ID "xxxxxx' in the configuration" },

	/* test: action, minutes (seconds only over the socket), targets */
	{ BOTH, "{\"op\":\"test\",\"targets\":[\"smoke-1\"],\"by\":\"me\",\"minutes\":5}",
	  "bad_request", "\"action\" must be start or end" },
	{ BOTH, "{\"op\":\"test\",\"action\":\"go\",\"targets\":[\"smoke-1\"],\"by\":\"me\"}",
	  "bad_request", "\"action\" must be start or end" },
	{ BOTH, "{\"op\":\"test\",\"action\":\"start\",\"targets\":[\"smoke-1\"]}", "bad_request",
	  "\"by\" (who does it) is required" },
	{ BOTH, "{" START "}", "bad_request", "\"minutes\" must be 1..240" },
	{ BOTH, "{" START ",\"minutes\":0}", "bad_request", "\"minutes\" must be 1..240" },
	{ BOTH, "{" START ",\"minutes\":241}", "bad_request", "\"minutes\" must be 1..240" },
	{ BOTH, "{" START ",\"minutes\":\"5\"}", "bad_request", "\"minutes\" must be 1..240" },
	{ MQTT, "{" START ",\"seconds\":30}", "bad_request", "\"minutes\" must be 1..240" },
	{ CTL, "{" START ",\"seconds\":14401}", "bad_request", "\"minutes\" must be 1..240" },
	{ BOTH,
	  "{\"op\":\"test\",\"action\":\"start\",\"targets\":\"smoke-1\",\"by\":\"me\","
	  "\"minutes\":5}",
	  "bad_request", TARGETS_BAD },
	{ BOTH, "{\"op\":\"test\",\"action\":\"end\",\"targets\":[],\"by\":\"me\"}", "bad_request",
	  TARGETS_BAD },
	{ BOTH, "{\"op\":\"test\",\"action\":\"end\",\"by\":\"me\"}", "bad_request", TARGETS_BAD },
	/* a target that is not a string is a bad request, not an unknown one */
	{ BOTH, "{\"op\":\"test\",\"action\":\"end\",\"targets\":[1],\"by\":\"me\"}",
	  "bad_request", TARGETS_BAD },
	{ CTL,
	  "{\"op\":\"disable\",\"targets\":[\"smoke-1\",null],\"by\":\"me\",\"reason\":\"r\"}",
	  "bad_request", TARGETS_BAD },
	{ BOTH, "{\"op\":\"test\",\"action\":\"end\",\"targets\":[\"smoke-1\",\"nodev\"],\"by\":\"me\"}",
	  "not_found", "no device 'nodev' in the configuration" },

	/* disable, enable: who, why, what */
	{ CTL, "{\"op\":\"disable\",\"targets\":[\"smoke-1\"],\"by\":\"me\"}", "bad_request",
	  "\"reason\" is required to disable a point" },
	{ CTL, "{\"op\":\"disable\",\"targets\":[\"smoke-1\"],\"by\":\"me\",\"reason\":\"\"}",
	  "bad_request", REASON_BAD },
	{ CTL,
	  "{\"op\":\"disable\",\"targets\":[\"smoke-1\"],\"by\":\"me\",\"reason\":"
	  "\"01234567890123456789012345678901234567890123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789012345678901234567890123456789\"}",
	  "bad_request", REASON_BAD },
	{ CTL, "{\"op\":\"disable\",\"targets\":[\"smoke-1\"],\"by\":\"me\",\"reason\":\"a\\tb\"}",
	  "bad_request", REASON_BAD },
	{ CTL, "{\"op\":\"disable\",\"targets\":[\"smoke-1\"],\"reason\":\"r\"}", "bad_request",
	  "\"by\" (who does it) is required" },
	{ CTL, "{\"op\":\"disable\",\"targets\":\"smoke-1\",\"by\":\"me\",\"reason\":\"r\"}",
	  "bad_request", TARGETS_BAD },
	{ CTL, "{\"op\":\"disable\",\"targets\":[],\"by\":\"me\",\"reason\":\"r\"}", "bad_request",
	  TARGETS_BAD },
	{ CTL, "{\"op\":\"enable\",\"targets\":[\"smoke-9\"],\"by\":\"me\"}", "not_found",
	  "no device 'smoke-9' in the configuration" },
	{ CTL, "{\"op\":\"enable\",\"targets\":[\"\"],\"by\":\"me\"}", "not_found",
	  "a target is DEVICE or DEVICE.POINT" },

	/* history: every argument checked */
	{ BOTH, "{\"op\":\"history\",\"from\":\"yesterday\"}", "bad_request", TIME_BAD },
	{ BOTH, "{\"op\":\"history\",\"from\":1764300000}", "bad_request", TIME_BAD },
	{ BOTH, "{\"op\":\"history\",\"to\":\"2026-13-01T00:00:00Z\"}", "bad_request", TIME_BAD },
	{ BOTH, "{\"op\":\"history\",\"device\":5}", "bad_request",
	  "\"device\" must be a device id" },
	{ BOTH, "{\"op\":\"history\",\"class\":\"alarm\"}", "bad_request", CLASS_BAD },
	{ BOTH,
	  "{\"op\":\"history\",\"class\":[\"alarm\",\"alarm\",\"alarm\",\"alarm\",\"alarm\","
	  "\"alarm\",\"alarm\"]}",
	  "bad_request", CLASS_BAD },
	{ BOTH, "{\"op\":\"history\",\"class\":[1]}", "bad_request",
	  "\"class\" entries must be strings" },
	/* a misspelt class matched nothing: the center read "no alarms" */
	{ BOTH, "{\"op\":\"history\",\"class\":[\"alarms\"]}", "bad_request",
	  "unknown class 'alarms'; one of alarm, prealarm, fault, test, record, system" },
	{ BOTH, "{\"op\":\"history\",\"class\":[\"fault\",\"\"]}", "bad_request",
	  "unknown class ''; one of alarm, prealarm, fault, test, record, system" },
	{ BOTH, "{\"op\":\"history\",\"limit\":0}", "bad_request", "\"limit\" must be 1..1000" },
	{ BOTH, "{\"op\":\"history\",\"limit\":1001}", "bad_request", "\"limit\" must be 1..1000" },
	{ BOTH, "{\"op\":\"history\",\"limit\":\"5\"}", "bad_request", "\"limit\" must be 1..1000" },
	{ BOTH, "{\"op\":\"history\",\"limit\":2.5}", "bad_request", "\"limit\" must be 1..1000" },
	{ BOTH, "{\"op\":\"history\",\"cursor\":5}", "bad_request",
	  "\"cursor\" must be the \"next\" of an answer" },
	{ BOTH, "{\"op\":\"history\",\"cursor\":\"abc\"}", "bad_request",
	  "\"cursor\" must be the \"next\" of an answer" },
	{ BOTH, "{\"op\":\"history\",\"cursor\":\"-1\"}", "bad_request",
	  "\"cursor\" must be the \"next\" of an answer" },

	/* readings */
	{ BOTH, "{\"op\":\"readings\",\"device\":\"nodev\"}", "not_found", "no such device" },
	{ BOTH, "{\"op\":\"readings\",\"device\":5}", "not_found", "no such device" },

	/* answered by the daemon's inspector thread over MQTT only (this seam
	 * has no MQTT message to answer); the socket does not know them */
	{ MQTT, "{\"op\":\"compliance\"}", "unavailable",
	  "compliance is answered over MQTT by the running daemon; on site use firegw "
	  "compliance" },
	{ MQTT, "{\"op\":\"report\"}", "unavailable",
	  "report is answered over MQTT by the running daemon; on site use firegw report" },
	{ CTL, "{\"op\":\"compliance\"}", "bad_request",
	  "unknown op 'compliance'; one of " CTL_OPS },

	/* probe and scan (socket only): refused before any job */
	{ CTL, "{\"op\":\"probe\"}", "not_found", "no device ''" },
	{ CTL, "{\"op\":\"probe\",\"device\":\"nodev\"}", "not_found", "no device 'nodev'" },
	{ CTL, "{\"op\":\"probe\",\"device\":\"a\\nb\"}", "not_found", "no device 'a\\x0ab'" },
	{ CTL, "{\"op\":\"scan\",\"from\":1,\"to\":5}", "not_found", "no bus ''" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b9\",\"from\":1,\"to\":5}", "not_found", "no bus 'b9'" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"to\":5}", "bad_request",
	  "\"from\" must be a unit 1..247" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":0,\"to\":5}", "bad_request",
	  "\"from\" must be a unit 1..247" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":248,\"to\":248}", "bad_request",
	  "\"from\" must be a unit 1..247" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":1,\"to\":248}", "bad_request",
	  "\"to\" must be a unit \"from\"..247" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":10,\"to\":9}", "bad_request",
	  "\"to\" must be a unit \"from\"..247" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":1}", "bad_request",
	  "\"to\" must be a unit \"from\"..247" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":1,\"to\":5,\"timeout_ms\":9}",
	  "bad_request", "\"timeout_ms\" must be 10..1000 (omit it for 100)" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":1,\"to\":5,\"timeout_ms\":1001}",
	  "bad_request", "\"timeout_ms\" must be 10..1000 (omit it for 100)" },
	{ CTL, "{\"op\":\"scan\",\"bus\":\"b1\",\"from\":1,\"to\":5,\"timeout_ms\":\"50\"}",
	  "bad_request", "\"timeout_ms\" must be 10..1000 (omit it for 100)" },
};

/* Count of the events in the store. */
static int count_cb(void *ud, const struct store_event_row *row)
{
	(void)row;
	(*(size_t *)ud)++;
	return 0;
}

static size_t n_events(struct fx *f)
{
	struct store_query q = { 0 };
	size_t n = 0;

	assert_int_equal(store_events_query(f->st, &q, count_cb, &n), 0);
	return n;
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	size_t i, before = n_events(f);
	int ch;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (ch = MQTT; ch <= CTL; ch++) {
			char what[900];
			json_t *resp;

			if (!(bad[i].channels & ch))
				continue;
			snprintf(what, sizeof(what), "bad[%zu] over %s: %s", i,
				 ch == MQTT ? "MQTT" : "the socket", bad[i].req);
			resp = call(f, ch == MQTT, bad[i].req);
			assert_error(resp, bad[i].code, bad[i].msg, what);
			json_decref(resp);
		}
	/* nothing changed: no event, no point in test or disabled */
	assert_int_equal(n_events(f), before);
	for (i = 0; i < f->c->n_devices; i++) {
		assert_false(point_in_test(&site_point(&f->s, (int)i, 0)->mode));
		assert_false(site_point(&f->s, (int)i, 0)->mode.disabled);
	}
}

/* "by" as invalid UTF-8 (which JSON text cannot carry, a socket line can:
 * jansson keeps it when asked not to check) */
static void test_by_invalid_utf8(void **state)
{
	static const char *const bytes[] = { "a\xff", "\xc3\x28", "\xe2\x82", "\xc0\xaf",
					     "\xed\xa0\x80" };
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		json_t *req = json_pack("{s:s, s:s}", "op", "reset", "target", "smoke-1"), *resp;

		json_object_set_new(req, "by", json_string_nocheck(bytes[i]));
		resp = request_call(f->rq, false, 3, req);
		assert_error(resp, "bad_request", BY_BAD, bytes[i]);
		json_decref(resp);
		json_decref(req);
	}
}

/* Over MQTT a state change needs the configuration's word; the socket is
 * local and always may. */
static void test_remote_forbidden(void **state)
{
	struct fx *f = *state;
	json_t *r;

	r = call(f, true, "{\"op\":\"reset\",\"device\":\"smoke-1\",\"by\":\"me\"}");
	assert_error(r, "forbidden",
		     "remote reset is not allowed on this gateway (remote.allow_reset)", "reset");
	json_decref(r);
	/* refused before its arguments are looked at */
	r = call(f, true, "{\"op\":\"reset\"}");
	assert_error(r, "forbidden",
		     "remote reset is not allowed on this gateway (remote.allow_reset)", "reset");
	json_decref(r);
	r = call(f, true, "{\"op\":\"test\",\"action\":\"start\",\"targets\":[\"smoke-1\"],"
			  "\"by\":\"me\",\"minutes\":5}");
	assert_error(r, "forbidden",
		     "remote test is not allowed on this gateway (remote.allow_test)", "test");
	json_decref(r);
	assert_false(point_in_test(&site_point(&f->s, 0, 0)->mode));
	assert_int_equal(n_events(f), 0);
	/* queries are not state changes */
	r = call(f, true, "{\"op\":\"readings\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	/* the same reset over the socket runs */
	r = call(f, false, "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":\"me\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
}

/* ------------------------------------------------------ good requests */

struct ev {
	char cls[16], type[40], state[16], cid[8], device[40], point[40], by[80], note[200];
	uint64_t seq;
};

struct evs {
	struct ev e[64];
	size_t n;
};

static int collect_cb(void *ud, const struct store_event_row *row)
{
	struct evs *v = ud;
	struct ev *e;
	json_t *p;

	if (v->n == 64)
		return 1;
	e = &v->e[v->n++];
	memset(e, 0, sizeof(*e));
	e->seq = row->seq;
	snprintf(e->cls, sizeof(e->cls), "%s", row->cls ? row->cls : "");
	snprintf(e->type, sizeof(e->type), "%s", row->type ? row->type : "");
	snprintf(e->state, sizeof(e->state), "%s", row->state ? row->state : "");
	snprintf(e->cid, sizeof(e->cid), "%s", row->cid ? row->cid : "");
	snprintf(e->device, sizeof(e->device), "%s", row->device ? row->device : "");
	snprintf(e->point, sizeof(e->point), "%s", row->point ? row->point : "");
	p = json_loadb(row->payload, row->payload_len, 0, NULL);
	snprintf(e->by, sizeof(e->by), "%s", json_string_value(json_object_get(p, "by")) ?: "");
	snprintf(e->note, sizeof(e->note), "%s",
		 json_string_value(json_object_get(p, "note")) ?: "");
	json_decref(p);
	return 0;
}

/* The events stored after seq. */
static void events_after(struct fx *f, uint64_t seq, struct evs *v)
{
	struct store_query q = { .after_seq = seq };

	v->n = 0;
	assert_int_equal(store_events_query(f->st, &q, collect_cb, v), 0);
}

static bool ok(json_t *r)
{
	return json_is_true(json_object_get(r, "ok"));
}

static void test_status_and_ping(void **state)
{
	struct fx *f = *state;
	json_t *r;

	r = call(f, true, "{\"op\":\"status\"}");
	assert_true(ok(r));
	assert_int_equal(f->status_calls, 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "status"),
							      "state")),
			    "online");
	json_decref(r);
	r = call(f, false, "{\"op\":\"ping\"}");
	assert_true(ok(r));
	assert_string_equal(json_string_value(json_object_get(r, "epoch")), store_epoch(f->st));
	assert_int_equal(json_integer_value(json_object_get(r, "last_seq")), 0);
	json_decref(r);
}

static void test_readings(void **state)
{
	struct fx *f = *state;
	struct value_rt *v = &f->s.devs[1].values[1];
	json_t *r, *devs, *o;

	v->r.ok = true;
	v->r.value = 1.25;
	v->good_mono = util_mono_ms();
	v->ts_ms = util_wall_ms();
	v->last_ok = true;
	r = call(f, true, "{\"op\":\"readings\"}");
	assert_true(ok(r));
	devs = json_object_get(r, "devices");
	assert_int_equal(json_object_size(devs), 3);
	assert_int_equal(json_object_size(json_object_get(devs, "smoke-1")), 3);
	json_decref(r);
	r = call(f, false, "{\"op\":\"readings\",\"device\":\"smoke-2\"}");
	devs = json_object_get(r, "devices");
	assert_int_equal(json_object_size(devs), 1);
	o = json_object_get(json_object_get(devs, "smoke-2"), "obscuration");
	assert_true(json_real_value(json_object_get(o, "value")) == 1.25);
	assert_string_equal(json_string_value(json_object_get(o, "quality")), "good");
	o = json_object_get(json_object_get(devs, "smoke-2"), "supply");
	assert_true(json_is_null(json_object_get(o, "value")));
	json_decref(r);
}

/* A latch cleared by a reset (its record and its alarm cleared event, with
 * who); a point whose fire holds stays in alarm; MQTT's device/point
 * fields and the socket's target alias name the same points. */
static void test_reset(void **state)
{
	struct fx *f = *state;
	struct point_rt *p1 = site_point(&f->s, 0, 0), *p2 = site_point(&f->s, 1, 0);
	struct evs v;
	json_t *r;
	size_t i, n_rec = 0, n_cleared = 0;

	/* latched: the alarm is kept after its condition went away (as
	 * detect.c and detect_restore() hold it) */
	p1->det.known = true;
	p1->det.conditions = COND_ALARM;
	p1->det.latched = true;
	p1->det.alarm_causes = 1;
	p2->det.known = true;
	p2->det.conditions = COND_ALARM;
	p2->det.alarm_causes = 1;
	site_update_device(&f->s, 0, util_wall_ms());
	site_update_device(&f->s, 1, util_wall_ms());
	assert_int_equal(site_point_state(p1), PSTATE_ALARM);

	r = call(f, true, "{\"op\":\"reset\",\"device\":\"smoke-1\",\"point\":\"fire\","
			  "\"by\":\"Trần Văn Bảo\"}");
	assert_true(ok(r));
	assert_string_equal(json_string_value(json_object_get(r, "target")), "smoke-1.fire");
	assert_int_equal(json_integer_value(json_object_get(r, "cleared")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "still_alarm")), 0);
	json_decref(r);
	assert_false(p1->det.latched);
	assert_int_equal(f->s.devs[0].points[0].state, PSTATE_NORMAL);
	events_after(f, 0, &v);
	for (i = 0; i < v.n; i++) {
		assert_string_equal(v.e[i].device, "smoke-1");
		assert_string_equal(v.e[i].point, "fire");
		assert_string_equal(v.e[i].by, "Trần Văn Bảo");
		if (!strcmp(v.e[i].cls, "record") && !strcmp(v.e[i].type, "reset"))
			n_rec++;
		if (!strcmp(v.e[i].cls, "alarm") && !strcmp(v.e[i].state, "cleared"))
			n_cleared++;
	}
	assert_int_equal(n_rec, 1);
	assert_int_equal(n_cleared, 1);

	/* the fire still holds: the reset is recorded, the point stays */
	r = call(f, false, "{\"op\":\"reset\",\"target\":\"smoke-2\",\"by\":\"me\"}");
	assert_true(ok(r));
	assert_string_equal(json_string_value(json_object_get(r, "target")), "smoke-2");
	assert_int_equal(json_integer_value(json_object_get(r, "cleared")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "still_alarm")), 1);
	json_decref(r);
	assert_int_equal(site_point_state(p2), PSTATE_ALARM);
	events_after(f, v.e[v.n - 1].seq, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.e[0].cls, "record");
	assert_string_equal(v.e[0].type, "reset");
	assert_string_equal(v.e[0].device, "smoke-2");

	/* nothing to reset: nothing counted, nothing recorded */
	r = call(f, false, "{\"op\":\"reset\",\"target\":\"smoke-1\",\"by\":\"me\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "cleared")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "still_alarm")), 0);
	json_decref(r);
	events_after(f, v.e[0].seq, &v);
	assert_int_equal(v.n, 0);
	/* a target of 64 bytes is whole */
	r = call(f, false, "{\"op\":\"reset\",\"target\":\"" LONG_ID ".fire\",\"by\":\"me\"}");
	assert_true(ok(r));
	assert_string_equal(json_string_value(json_object_get(r, "target")), LONG_ID ".fire");
	json_decref(r);
}

static bool has_event(const struct evs *v, const char *cid, const char *device, const char *point,
		      const char *by)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->e[i].cid, cid) && !strcmp(v->e[i].device, device) &&
		    !strcmp(v->e[i].point, point) && (!by || !strcmp(v->e[i].by, by)))
			return true;
	return false;
}

/* test start (minutes over MQTT, seconds over the socket), then end:
 * 1607 per device, 1612 for a point that did not alarm, 3607. */
static void test_test_start_end(void **state)
{
	struct fx *f = *state;
	struct point_rt *p = site_point(&f->s, 0, 0);
	int64_t t0 = util_wall_ms();
	struct evs v;
	json_t *r;

	r = call(f, true, "{\"op\":\"test\",\"action\":\"start\",\"targets\":[\"smoke-1.fire\"],"
			  "\"by\":\"tech-1\",\"minutes\":5}");
	assert_true(ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 1);
	json_decref(r);
	assert_true(point_in_test(&p->mode));
	assert_in_range(p->mode.test_until_ms, t0 + 300000, util_wall_ms() + 300000);
	assert_string_equal(p->mode.by, "tech-1");
	events_after(f, 0, &v);
	assert_true(has_event(&v, "1607", "smoke-1", "", "tech-1"));

	/* the socket's seconds: a finer grain */
	r = call(f, false, "{\"op\":\"test\",\"action\":\"start\",\"targets\":[\"smoke-2\"],"
			   "\"by\":\"tech-1\",\"seconds\":30}");
	assert_true(ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 1);
	json_decref(r);
	assert_in_range(site_point(&f->s, 1, 0)->mode.test_until_ms, t0 + 30000,
			util_wall_ms() + 30000);

	r = call(f, true, "{\"op\":\"test\",\"action\":\"end\",\"targets\":[\"smoke-1\"],"
			  "\"by\":\"tech-1\"}");
	assert_true(ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 1);
	json_decref(r);
	assert_false(point_in_test(&p->mode));
	events_after(f, 0, &v);
	assert_true(has_event(&v, "1612", "smoke-1", "fire", NULL));
	assert_true(has_event(&v, "3607", "smoke-1", "", "tech-1"));

	/* end --all ends the rest */
	r = call(f, false, "{\"op\":\"test\",\"action\":\"end\",\"all\":true,\"by\":\"tech-2\"}");
	assert_true(ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 1);
	json_decref(r);
	assert_false(point_in_test(&site_point(&f->s, 1, 0)->mode));
	events_after(f, 0, &v);
	assert_true(has_event(&v, "3607", "smoke-2", "", "tech-2"));
}

static void test_disable_enable(void **state)
{
	struct fx *f = *state;
	struct point_rt *p = site_point(&f->s, 1, 0);
	struct evs v;
	json_t *r;

	r = call(f, false, "{\"op\":\"disable\",\"targets\":[\"smoke-2.fire\"],\"by\":\"tech-1\","
			   "\"reason\":\"thay đầu báo\"}");
	assert_true(ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 1);
	json_decref(r);
	assert_true(p->mode.disabled);
	assert_string_equal(p->mode.reason, "thay đầu báo");
	assert_string_equal(p->mode.by, "tech-1");
	assert_int_equal(site_point_state(p), PSTATE_DISABLED);
	events_after(f, 0, &v);
	assert_true(has_event(&v, "1571", "smoke-2", "fire", "tech-1"));
	assert_string_equal(v.e[v.n - 1].note, "thay đầu báo");

	/* disabled again: nothing changes */
	r = call(f, false, "{\"op\":\"disable\",\"targets\":[\"smoke-2\"],\"by\":\"tech-1\","
			   "\"reason\":\"again\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 0);
	json_decref(r);

	r = call(f, false, "{\"op\":\"enable\",\"targets\":[\"smoke-2\"],\"by\":\"tech-2\"}");
	assert_true(ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "points")), 1);
	json_decref(r);
	assert_false(p->mode.disabled);
	events_after(f, 0, &v);
	assert_true(has_event(&v, "3571", "smoke-2", "fire", "tech-2"));
}

/* history over a real store: a page, its cursor, the next page; filters */
static void test_history_cursor(void **state)
{
	struct fx *f = *state;
	json_t *r, *evs;
	const char *next;
	char req[200];
	int i;

	/* 5 events: disable/enable smoke-1 and smoke-2 and one reset record */
	for (i = 0; i < 2; i++) {
		snprintf(req, sizeof(req),
			 "{\"op\":\"disable\",\"targets\":[\"smoke-%d\"],\"by\":\"me\","
			 "\"reason\":\"r\"}",
			 i + 1);
		json_decref(call(f, false, req));
	}
	json_decref(call(f, false, "{\"op\":\"enable\",\"targets\":[\"smoke-1\"],\"by\":\"me\"}"));
	json_decref(call(f, false, "{\"op\":\"enable\",\"targets\":[\"smoke-2\"],\"by\":\"me\"}"));
	assert_int_equal(n_events(f), 4);

	r = call(f, true, "{\"op\":\"history\",\"limit\":3}");
	assert_true(ok(r));
	evs = json_object_get(r, "events");
	assert_int_equal(json_array_size(evs), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 2), "seq")), 3);
	next = json_string_value(json_object_get(r, "next"));
	assert_non_null(next);
	assert_string_equal(next, "3");
	snprintf(req, sizeof(req), "{\"op\":\"history\",\"limit\":3,\"cursor\":\"%s\"}", next);
	json_decref(r);
	r = call(f, true, req);
	evs = json_object_get(r, "events");
	assert_int_equal(json_array_size(evs), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "seq")), 4);
	assert_null(json_object_get(r, "next"));
	json_decref(r);

	/* exactly a page: no next */
	r = call(f, false, "{\"op\":\"history\",\"limit\":4}");
	assert_int_equal(json_array_size(json_object_get(r, "events")), 4);
	assert_null(json_object_get(r, "next"));
	json_decref(r);

	/* by device, by class */
	r = call(f, true, "{\"op\":\"history\",\"device\":\"smoke-2\"}");
	evs = json_object_get(r, "events");
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "device")),
			    "smoke-2");
	json_decref(r);
	r = call(f, true, "{\"op\":\"history\",\"class\":[\"alarm\"]}");
	assert_int_equal(json_array_size(json_object_get(r, "events")), 0);
	json_decref(r);
	r = call(f, true, "{\"op\":\"history\",\"class\":[\"fault\",\"alarm\"],\"limit\":1}");
	assert_int_equal(json_array_size(json_object_get(r, "events")), 1);
	assert_string_equal(json_string_value(json_object_get(r, "next")), "1");
	json_decref(r);
	/* a time window that holds nothing */
	r = call(f, true, "{\"op\":\"history\",\"from\":\"2020-01-01T00:00:00Z\","
			  "\"to\":\"2020-01-02T00:00:00Z\"}");
	assert_int_equal(json_array_size(json_object_get(r, "events")), 0);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_requests, setup_allow, teardown),
		cmocka_unit_test_setup_teardown(test_by_invalid_utf8, setup_allow, teardown),
		cmocka_unit_test_setup_teardown(test_remote_forbidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup_allow, teardown),
		cmocka_unit_test_setup_teardown(test_test_start_end, setup_allow, teardown),
		cmocka_unit_test_setup_teardown(test_disable_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_cursor, setup, teardown),
	};

	log_init(LOG_WARNING); /* not every stored event's info line */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
