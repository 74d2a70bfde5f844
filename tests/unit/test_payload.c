/* test_payload.c - gateway/payload.c at its boundary: the retained state of
 * a device (a point in alarm, latched, in test, disabled with its
 * "disabled" object; values good, bad and stale), the status and its point
 * counts (payload_count_points), the last will, and telemetry with and
 * without good reads. Pure builders: the site is built from a real
 * configuration (a small YAML file, the shipped sensors/ profiles) and
 * set by hand; times are arguments, so every figure is exact.
 *
 * Runs from the repository root (the profiles are found as
 * config_builtin_profile_dir() finds them for build/tests/). */
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
#include "event.h"
#include "payload.h"
#include "site.h"

#define T0_WALL 1764300000000LL /* 2025-11-28T03:20:00Z */
#define T0_MONO 1000000ull

static const char yaml[] =
	"site: {id: s1, facility_id: F-1}\n"
	"mqtt: {uri: tcp://127.0.0.1:1, topic_prefix: p, heartbeat_s: 15}\n"
	"buses: [{id: b1, tcp: {host: 127.0.0.1, port: 1}}]\n"
	"devices:\n"
	"  - {id: d-alarm, bus: b1, unit: 1, profile: smoke-point, zone: z1, zone_no: 11,\n"
	"     location: \"Lô 11\", poll_ms: 1000}\n"
	"  - {id: d-test, bus: b1, unit: 2, profile: smoke-point, poll_ms: 1000}\n"
	"  - {id: d-dis, bus: b1, unit: 3, profile: smoke-point, poll_ms: 1000}\n"
	"  - {id: d-norm, bus: b1, unit: 4, profile: smoke-point, poll_ms: 500}\n";

struct fx {
	char dir[PATH_MAX];
	struct config *c;
	struct site s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist e = { 0 };
	char path[PATH_MAX + 16];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_payload.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/firegw.yaml", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(yaml, fp);
	fclose(fp);
	if (config_load(path, config_builtin_profile_dir(), &e, &f->c) < 0)
		errlist_print(&e, stderr);
	errlist_clear(&e);
	assert_non_null(f->c);
	unlink(path);
	assert_int_equal(site_init(&f->s, f->c, T0_WALL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	site_clear(&f->s);
	config_free(f->c);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A good read of every value of dev at mono time t. */
static void read_good(struct fx *f, int dev, uint64_t t, double v)
{
	size_t i;

	for (i = 0; i < f->c->devices[dev].profile->n_values; i++) {
		struct value_rt *vr = &f->s.devs[dev].values[i];

		vr->r.ok = true;
		vr->r.value = v + (double)i;
		vr->good_mono = t;
		vr->ts_ms = T0_WALL + (int64_t)(t - T0_MONO);
		vr->last_ok = true;
	}
}

/* The scene: d-alarm latched in alarm, its fire gone; d-test in test with
 * a pre-alarm; d-dis disabled while in fire; d-norm normal. */
static void scene(struct fx *f)
{
	struct point_rt *p;

	p = site_point(&f->s, 0, 0);
	p->det.known = true;
	p->det.conditions = COND_ALARM; /* kept by the latch (detect.c) */
	p->det.latched = true;
	p->det.alarm_causes = 1;
	read_good(f, 0, T0_MONO, 1.0);

	p = site_point(&f->s, 1, 0);
	p->det.known = true;
	p->det.conditions = COND_PREALARM;
	p->mode.test_until_ms = T0_WALL + 600000;
	strcpy(p->mode.by, "Trần Văn Bảo");
	read_good(f, 1, T0_MONO, 2.0);

	p = site_point(&f->s, 2, 0);
	p->det.known = true;
	p->det.conditions = COND_ALARM;
	p->mode.disabled = true;
	p->mode.dis_since_ms = T0_WALL - 3600000;
	strcpy(p->mode.by, "tech-1");
	strcpy(p->mode.reason, "thay đầu báo");
	read_good(f, 2, T0_MONO, 3.0);

	p = site_point(&f->s, 3, 0);
	p->det.known = true;
	read_good(f, 3, T0_MONO, 0.5);
	for (int d = 0; d < 4; d++)
		site_update_device(&f->s, d, T0_WALL + 1000);
}

/* s with its length as the builder said (read after the call). */
static json_t *parse(char *s, const size_t *len)
{
	json_t *j;

	assert_non_null(s);
	assert_int_equal(strlen(s), *len);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	free(s);
	return j;
}

static const char *sget(json_t *o, const char *path)
{
	char buf[200], *save = NULL, *k;
	json_t *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, k);
	return json_string_value(cur);
}

/* ---------------------------------------------------------------- tests */

static void test_state_alarm_latched(void **state)
{
	struct fx *f = *state;
	size_t len;
	json_t *o, *pt;

	scene(f);
	o = parse(payload_device_state(&f->s, 0, T0_MONO + 500, T0_WALL + 2000, true, &len), &len);
	assert_string_equal(sget(o, "schema"), STATE_SCHEMA);
	assert_string_equal(sget(o, "site"), "s1");
	assert_string_equal(sget(o, "device"), "d-alarm");
	assert_string_equal(sget(o, "state"), "alarm");
	assert_string_equal(sget(o, "profile"), "smoke-point");
	assert_string_equal(sget(o, "bus"), "b1");
	assert_int_equal(json_integer_value(json_object_get(o, "unit")), 1);
	assert_string_equal(sget(o, "zone"), "z1");
	assert_string_equal(sget(o, "location"), "Lô 11");
	assert_string_equal(sget(o, "ts"), "2025-11-28T03:20:02.000Z");
	assert_true(json_is_true(json_object_get(o, "time_synced")));
	pt = json_object_get(json_object_get(o, "points"), "fire");
	assert_non_null(pt);
	assert_string_equal(sget(pt, "state"), "alarm");
	assert_true(json_is_true(json_object_get(pt, "latched")));
	/* latched, its condition gone: not listed as a condition */
	assert_int_equal(json_array_size(json_object_get(pt, "conditions")), 0);
	assert_string_equal(sget(pt, "since"), "2025-11-28T03:20:01.000Z");
	assert_null(json_object_get(pt, "test_until"));
	assert_null(json_object_get(pt, "disabled"));
	/* the point's value is its obscuration reading */
	assert_true(json_real_value(json_object_get(json_object_get(pt, "value"), "value")) == 2.0);
	assert_string_equal(sget(pt, "value.quality"), "good");
	assert_string_equal(sget(pt, "value.unit"), "%/m");
	assert_int_equal(json_object_size(json_object_get(o, "values")), 3);
	json_decref(o);
}

static void test_state_alarm_with_condition(void **state)
{
	struct fx *f = *state;
	size_t len;
	json_t *o, *conds;

	scene(f);
	site_point(&f->s, 0, 0)->det.conditions = COND_ALARM | COND_TAMPER;
	site_point(&f->s, 0, 0)->det.latched = false;
	site_update_device(&f->s, 0, T0_WALL + 1000);
	o = parse(payload_device_state(&f->s, 0, T0_MONO, T0_WALL, false, &len), &len);
	conds = json_object_get(json_object_get(json_object_get(o, "points"), "fire"),
				"conditions");
	assert_int_equal(json_array_size(conds), 2);
	assert_string_equal(json_string_value(json_array_get(conds, 0)), "alarm");
	assert_string_equal(json_string_value(json_array_get(conds, 1)), "tamper");
	assert_true(json_is_false(json_object_get(o, "time_synced")));
	json_decref(o);
}

static void test_state_in_test(void **state)
{
	struct fx *f = *state;
	size_t len;
	json_t *o, *pt;

	scene(f);
	o = parse(payload_device_state(&f->s, 1, T0_MONO, T0_WALL, true, &len), &len);
	assert_string_equal(sget(o, "state"), "test");
	assert_null(json_object_get(o, "zone"));
	assert_null(json_object_get(o, "location"));
	pt = json_object_get(json_object_get(o, "points"), "fire");
	/* in test: "test" over its pre-alarm, which is still listed */
	assert_string_equal(sget(pt, "state"), "test");
	assert_string_equal(json_string_value(json_array_get(json_object_get(pt, "conditions"), 0)),
			    "prealarm");
	assert_string_equal(sget(pt, "test_until"), "2025-11-28T03:30:00.000Z");
	assert_null(json_object_get(pt, "disabled"));
	json_decref(o);
}

static void test_state_disabled(void **state)
{
	struct fx *f = *state;
	size_t len;
	json_t *o, *pt, *dis;

	scene(f);
	o = parse(payload_device_state(&f->s, 2, T0_MONO, T0_WALL, true, &len), &len);
	/* a disabled point in fire is "disabled", and so is its device */
	assert_string_equal(sget(o, "state"), "disabled");
	pt = json_object_get(json_object_get(o, "points"), "fire");
	assert_string_equal(sget(pt, "state"), "disabled");
	dis = json_object_get(pt, "disabled");
	assert_non_null(dis);
	assert_int_equal(json_object_size(dis), 3);
	assert_string_equal(sget(dis, "reason"), "thay đầu báo");
	assert_string_equal(sget(dis, "by"), "tech-1");
	assert_string_equal(sget(dis, "since"), "2025-11-28T02:20:00.000Z");
	assert_null(json_object_get(pt, "test_until"));
	json_decref(o);
}

/* good within 2 x poll_ms of a good read, stale after (the value and its
 * ts stay), bad when the last read failed, stale (value null, no ts) before
 * any good read */
static void test_value_quality(void **state)
{
	struct fx *f = *state;
	json_t *v;

	scene(f);
	/* d-norm polls every 500 ms: stale after 1000 ms */
	v = payload_value(&f->s, 3, 1, T0_MONO + 1000);
	assert_string_equal(sget(v, "quality"), "good");
	assert_true(json_real_value(json_object_get(v, "value")) == 1.5);
	assert_string_equal(sget(v, "unit"), "%/m");
	assert_string_equal(sget(v, "ts"), "2025-11-28T03:20:00.000Z");
	json_decref(v);
	v = payload_value(&f->s, 3, 1, T0_MONO + 1001);
	assert_string_equal(sget(v, "quality"), "stale");
	assert_true(json_real_value(json_object_get(v, "value")) == 1.5);
	assert_non_null(sget(v, "ts"));
	json_decref(v);

	/* the last read failed: bad, the last good value kept */
	f->s.devs[3].values[1].last_ok = false;
	v = payload_value(&f->s, 3, 1, T0_MONO + 200);
	assert_string_equal(sget(v, "quality"), "bad");
	assert_true(json_real_value(json_object_get(v, "value")) == 1.5);
	json_decref(v);
	v = payload_value(&f->s, 3, 1, T0_MONO + 5000);
	assert_string_equal(sget(v, "quality"), "bad");
	json_decref(v);

	/* never read */
	memset(&f->s.devs[3].values[2], 0, sizeof(f->s.devs[3].values[2]));
	v = payload_value(&f->s, 3, 2, T0_MONO);
	assert_string_equal(sget(v, "quality"), "stale");
	assert_true(json_is_null(json_object_get(v, "value")));
	assert_null(json_object_get(v, "ts"));
	assert_string_equal(sget(v, "unit"), "V");
	json_decref(v);
}

static void test_status_counts_and_fields(void **state)
{
	struct fx *f = *state;
	struct status_info si = { .cfg = f->c,
				  .state = "online",
				  .version = "9.9",
				  .epoch = "e0f98195",
				  .broker = "tcp://127.0.0.1:1",
				  .started_ms = T0_WALL,
				  .now_ms = T0_WALL + 61500,
				  .last_seq = 42,
				  .backlog_events = 3,
				  .backlog_telemetry = 7,
				  .oldest_unsent_ms = T0_WALL + 1500,
				  .time_synced = true };
	json_t *o, *pts;

	scene(f);
	payload_count_points(&f->s, &si);
	assert_int_equal(si.total, 4);
	assert_int_equal(si.counts[PSTATE_ALARM], 1);
	assert_int_equal(si.counts[PSTATE_TEST], 1);
	assert_int_equal(si.counts[PSTATE_DISABLED], 1);
	assert_int_equal(si.counts[PSTATE_NORMAL], 1);
	assert_int_equal(si.counts[PSTATE_PREALARM], 0);
	o = payload_status(&si);
	assert_string_equal(sget(o, "schema"), STATUS_SCHEMA);
	assert_string_equal(sget(o, "site"), "s1");
	assert_string_equal(sget(o, "facility_id"), "F-1");
	assert_string_equal(sget(o, "state"), "online");
	assert_null(json_object_get(o, "reason"));
	assert_string_equal(sget(o, "version"), "9.9");
	assert_string_equal(sget(o, "epoch"), "e0f98195");
	assert_string_equal(sget(o, "started"), "2025-11-28T03:20:00.000Z");
	assert_string_equal(sget(o, "ts"), "2025-11-28T03:21:01.500Z");
	assert_int_equal(json_integer_value(json_object_get(o, "next_heartbeat_s")), 15);
	assert_int_equal(json_integer_value(json_object_get(o, "last_seq")), 42);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "backlog"), "events")),
			 3);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(o, "backlog"), "telemetry")), 7);
	assert_int_equal(json_integer_value(json_object_get(o, "oldest_unsent_s")), 60);
	pts = json_object_get(o, "points");
	assert_int_equal(json_object_size(pts), 1 + PSTATE_MAX);
	assert_int_equal(json_integer_value(json_object_get(pts, "total")), 4);
	assert_int_equal(json_integer_value(json_object_get(pts, "alarm")), 1);
	assert_int_equal(json_integer_value(json_object_get(pts, "test")), 1);
	assert_int_equal(json_integer_value(json_object_get(pts, "disabled")), 1);
	assert_int_equal(json_integer_value(json_object_get(pts, "normal")), 1);
	assert_int_equal(json_integer_value(json_object_get(pts, "unknown")), 0);
	assert_int_equal(json_integer_value(json_object_get(pts, "fault")), 0);
	assert_true(json_is_true(json_object_get(o, "time_synced")));
	assert_string_equal(sget(o, "config_sha256"), f->c->sha256);
	assert_int_equal(strlen(f->c->sha256), 64);
	assert_string_equal(sget(o, "broker"), "tcp://127.0.0.1:1");
	json_decref(o);

	/* offline with a reason, no broker, nothing waiting; a fresh site
	 * counts every point unknown */
	site_clear(&f->s);
	assert_int_equal(site_init(&f->s, f->c, T0_WALL), 0);
	payload_count_points(&f->s, &si);
	assert_int_equal(si.counts[PSTATE_UNKNOWN], 4);
	assert_int_equal(si.counts[PSTATE_ALARM], 0);
	si.state = "offline";
	si.reason = "shutdown";
	si.broker = NULL;
	si.oldest_unsent_ms = 0;
	o = payload_status(&si);
	assert_string_equal(sget(o, "state"), "offline");
	assert_string_equal(sget(o, "reason"), "shutdown");
	assert_null(json_object_get(o, "broker"));
	assert_int_equal(json_integer_value(json_object_get(o, "oldest_unsent_s")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "points"), "unknown")),
			 4);
	json_decref(o);
}

static void test_will(void **state)
{
	static const char want[] = "{\"schema\":\"firegw.status.v1\",\"site\":\"s1\","
				   "\"state\":\"offline\",\"reason\":\"connection lost\"}";
	size_t len = 0;
	char *w;

	(void)state;
	w = payload_will("s1", &len);
	assert_non_null(w);
	assert_string_equal(w, want);
	assert_int_equal(len, strlen(want));
	free(w);
}

static void test_telemetry(void **state)
{
	struct fx *f = *state;
	size_t len, i;
	json_t *o, *arr, *r;

	/* no good read yet: an empty batch */
	o = parse(payload_telemetry(&f->s, T0_MONO, T0_WALL, &len), &len);
	assert_string_equal(sget(o, "schema"), TELEMETRY_SCHEMA);
	assert_string_equal(sget(o, "site"), "s1");
	assert_string_equal(sget(o, "ts"), "2025-11-28T03:20:00.000Z");
	assert_true(json_is_array(json_object_get(o, "readings")));
	assert_int_equal(json_array_size(json_object_get(o, "readings")), 0);
	json_decref(o);

	/* d-norm's three values read good; the others never */
	read_good(f, 3, T0_MONO, 0.5);
	f->s.devs[3].values[2].last_ok = false; /* supply: its last read failed */
	o = parse(payload_telemetry(&f->s, T0_MONO + 100, T0_WALL + 100, &len), &len);
	arr = json_object_get(o, "readings");
	assert_int_equal(json_array_size(arr), 3);
	for (i = 0; i < 3; i++) {
		r = json_array_get(arr, i);
		assert_string_equal(sget(r, "device"), "d-norm");
		assert_non_null(sget(r, "name"));
		assert_non_null(sget(r, "ts"));
	}
	r = json_array_get(arr, 1);
	assert_string_equal(sget(r, "name"), "obscuration");
	assert_true(json_real_value(json_object_get(r, "value")) == 1.5);
	assert_string_equal(sget(r, "unit"), "%/m");
	assert_string_equal(sget(r, "quality"), "good");
	assert_string_equal(sget(r, "ts"), "2025-11-28T03:20:00.000Z");
	assert_string_equal(sget(json_array_get(arr, 2), "quality"), "bad");
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_alarm_latched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_alarm_with_condition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_in_test, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_quality, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_counts_and_fields, setup, teardown),
		cmocka_unit_test(test_will),
		cmocka_unit_test_setup_teardown(test_telemetry, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
