/* test_readings.c - gateway/readings.c: which readings reach the database.
 * The rule (readings_should_store) table-driven, each case with what it
 * shows; the deadband of a profile value; then readings_offer() against a
 * real configuration (the shipped smoke-point profile), a site set by hand
 * and a real SQLite file, counting the rows that are really written.
 *
 * Runs from the repository root (the profiles are found as
 * config_builtin_profile_dir() finds them for build/tests/). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "point.h"
#include "readings.h"
#include "site.h"
#include "store.h"

#define T0_WALL 1764300000000LL /* 2025-11-28T03:20:00Z */
#define T0_MONO 1000000ull
#define MIN5 300000ull

/* ---- the rule ----------------------------------------------------------- */

struct rule_case {
	const char *what;
	struct readings_sample prev, now;
	double deadband;
	bool want;
};

#define S(t, v, q, c)                                                                              \
	{                                                                                          \
		.set = true, .mono_ms = (t), .value = (v), .quality = (q), .cls = (c)              \
	}

static const struct rule_case rule_cases[] = {
    {"nothing stored yet", {.set = false}, S(T0_MONO, 1.0, 0, 0), 0.2, true},
    {"unchanged, long after", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + 100 * MIN5, 1.0, 0, 0), 0.2,
     false},
    {"within the deadband, after the interval", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + MIN5, 1.2, 0, 0),
     0.2, false},
    {"beyond the deadband, after the interval", S(T0_MONO, 1.0, 0, 0),
     S(T0_MONO + MIN5, 1.21, 0, 0), 0.2, true},
    {"beyond the deadband downwards", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + MIN5, 0.7, 0, 0), 0.2,
     true},
    {"beyond the deadband, before the interval", S(T0_MONO, 1.0, 0, 0),
     S(T0_MONO + MIN5 - 1, 9.0, 0, 0), 0.2, false},
    {"deadband 0: any change", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + MIN5, 1.0001, 0, 0), 0, true},
    {"deadband 0: no change", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + MIN5, 1.0, 0, 0), 0, false},
    {"quality good to bad, after the interval", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + MIN5, 1.0, 1, 0),
     0.2, true},
    {"quality good to stale, before the interval", S(T0_MONO, 1.0, 0, 0),
     S(T0_MONO + 1000, 1.0, 2, 0), 0.2, false},
    {"state class change, a second later", S(T0_MONO, 1.0, 0, PSTATE_NORMAL),
     S(T0_MONO + 1000, 1.0, 0, PSTATE_ALARM), 0.2, true},
    {"state class change back at once", S(T0_MONO, 1.0, 0, PSTATE_ALARM),
     S(T0_MONO, 1.0, 0, PSTATE_NORMAL), 0.2, true},
    {"clock not forward: no time passed", S(T0_MONO + MIN5, 1.0, 0, 0), S(T0_MONO, 5.0, 0, 0), 0.2,
     false},
    {"a value becomes NaN", S(T0_MONO, 1.0, 0, 0), S(T0_MONO + MIN5, NAN, 0, 0), 0.2, true},
    {"NaN stays NaN", S(T0_MONO, NAN, 0, 0), S(T0_MONO + MIN5, NAN, 0, 0), 0.2, false},
    {"NaN gets a value", S(T0_MONO, NAN, 0, 0), S(T0_MONO + MIN5, 1.0, 0, 0), 0.2, true},
};

static void test_rule_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		const struct rule_case *c = &rule_cases[i];
		bool got = readings_should_store(&c->prev, &c->now, c->deadband, MIN5);

		if (got != c->want)
			fail_msg("case '%s': got %d, want %d", c->what, got, c->want);
	}
	/* no previous sample at all */
	assert_true(readings_should_store(NULL, &rule_cases[0].now, 0.2, MIN5));
}

/* A slow drift below the deadband per step is still stored once it adds
 * up: the comparison is against the last stored value. */
static void test_rule_drift_adds_up(void **state)
{
	struct readings_sample last = S(T0_MONO, 20.0, 0, 0), now = last;
	int stored = 0, i;

	(void)state;
	for (i = 1; i <= 600; i++) { /* ten minutes of 1 s polls, +0.001 each */
		now.mono_ms = T0_MONO + (uint64_t)i * 1000u;
		now.value = 20.0 + 0.001 * i;
		if (readings_should_store(&last, &now, 0.25, MIN5)) {
			last = now;
			stored++;
		}
	}
	/* 0.6 in all: stored at 300 s (0.3 > 0.25) and at 600 s (0.3 more) */
	assert_int_equal(stored, 2);
	assert_true(fabs(last.value - 20.6) < 1e-9);
}

static void test_deadband(void **state)
{
	struct profile_value v = {.valid_min = 0, .valid_max = 20};

	(void)state;
	assert_true(fabs(readings_deadband(&v, 1.0) - 0.2) < 1e-12);
	assert_true(fabs(readings_deadband(&v, 50.0) - 10.0) < 1e-12);
	assert_true(readings_deadband(&v, 0) == 0);
	v.valid_min = -40;
	v.valid_max = 150;
	assert_true(fabs(readings_deadband(&v, 0.5) - 0.95) < 1e-12);
	/* no range (a status bitfield): every change counts */
	v.valid_min = NAN;
	v.valid_max = NAN;
	assert_true(readings_deadband(&v, 1.0) == 0);
	v.valid_min = 0;
	assert_true(readings_deadband(&v, 1.0) == 0);
}

/* ---- readings_offer against a real store ------------------------------- */

static const char yaml[] = "site: {id: s1}\n"
			   "mqtt: {uri: tcp://127.0.0.1:1}\n"
			   "storage: {readings_s: 300, readings_deadband_pct: 1}\n"
			   "buses: [{id: b1, tcp: {host: 127.0.0.1, port: 1}}]\n"
			   "devices:\n"
			   "  - {id: d1, bus: b1, unit: 1, profile: smoke-point, poll_ms: 1000}\n"
			   "  - {id: d2, bus: b1, unit: 2, profile: smoke-point, poll_ms: 1000}\n";

struct fx {
	char dir[PATH_MAX];
	char db[PATH_MAX + 16];
	struct config *c;
	struct site s;
	store *st;
	readings *rd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist e = {0};
	struct store_opts o = {.create = true};
	char path[PATH_MAX + 16];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_readings.XXXXXX");
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
	assert_int_equal(site_init(&f->s, f->c, T0_WALL), 0);
	snprintf(f->db, sizeof(f->db), "%s/firegw.db", f->dir);
	o.path = f->db;
	assert_int_equal(store_open(&o, &f->st), 0);
	assert_int_equal(readings_new(f->c, &f->rd), 0);
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	readings_free(f->rd);
	store_free(f->st);
	site_clear(&f->s);
	config_free(f->c);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A good poll of dev at mono time t: status 0, obscuration obs, supply
 * 24 V. */
static void poll_good(struct fx *f, int dev, uint64_t t, double obs)
{
	static const double vals[] = {0, 0, 24.0};
	size_t i;

	for (i = 0; i < f->c->devices[dev].profile->n_values; i++) {
		struct value_rt *vr = &f->s.devs[dev].values[i];

		vr->r.ok = true;
		vr->r.value = i == 1 ? obs : vals[i];
		vr->good_mono = t;
		vr->ts_ms = T0_WALL + (int64_t)(t - T0_MONO);
		vr->last_ok = true;
	}
}

/* Rows on disk: the store's buffer is flushed by closing it. */
static int64_t rows(struct fx *f, const char *where)
{
	struct store_opts o = {.path = f->db, .create = true};
	char sql[256];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;

	store_free(f->st);
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM readings WHERE %s", where);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	f->st = NULL;
	assert_int_equal(store_open(&o, &f->st), 0);
	return n;
}

static void test_offer_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(readings_new(NULL, &f->rd), -EINVAL);
	assert_int_equal(readings_offer(NULL, &f->s, f->st, 0, T0_MONO), -EINVAL);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, -1, T0_MONO), -EINVAL);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 2, T0_MONO), -EINVAL);
	/* never read: nothing stored */
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 0, T0_MONO), 0);
	assert_int_equal(readings_stored(f->rd), 0);
	readings_free(NULL);
}

/* An hour of 1 s polls of two devices whose values never change: one
 * sample per value (the first), 6 rows; no more. */
static void test_offer_at_rest(void **state)
{
	struct fx *f = *state;
	uint64_t t;
	int dev;

	for (t = T0_MONO; t < T0_MONO + 3600000u; t += 1000) {
		for (dev = 0; dev < 2; dev++) {
			poll_good(f, dev, t, 0.5);
			site_update_device(&f->s, dev, T0_WALL + (int64_t)(t - T0_MONO));
			assert_true(readings_offer(f->rd, &f->s, f->st, dev, t) >= 0);
		}
	}
	assert_int_equal(readings_stored(f->rd), 6);
	assert_int_equal(rows(f, "1"), 6);
	assert_int_equal(rows(f, "device = 'd1' AND name = 'obscuration' AND value = 0.5"), 1);
}

/* The deadband of obscuration (0..20 %/m, 1 %) is 0.2: 0.1 more is no
 * change, 0.3 more is, but only once the interval has passed; a change of
 * the device's state is stored at once. */
static void test_offer_change(void **state)
{
	struct fx *f = *state;
	uint64_t t = T0_MONO;

	poll_good(f, 0, t, 0.5);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 0, t), 3);
	t += MIN5;
	poll_good(f, 0, t, 0.6);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 0, t), 0);
	t += 1000;
	poll_good(f, 0, t, 0.8);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 0, t), 1); /* obscuration only */
	t += 1000;
	poll_good(f, 0, t, 1.5); /* moved, but the interval has not passed */
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 0, t), 0);
	/* the device goes into alarm: every value of it, at once */
	f->s.devs[0].state = PSTATE_ALARM;
	t += 1000;
	poll_good(f, 0, t, 1.5);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 0, t), 3);
	assert_int_equal(rows(f, "device = 'd1' AND name = 'obscuration'"), 3);
	assert_int_equal(rows(f, "device = 'd1' AND name = 'obscuration' AND value = 1.5"), 1);
	assert_int_equal(rows(f, "device = 'd2'"), 0);
}

/* A failed poll makes the values bad: stored once the interval passed,
 * dated when seen, with the last good value; the next good poll is a
 * change of quality again. */
static void test_offer_quality(void **state)
{
	struct fx *f = *state;
	uint64_t t = T0_MONO;
	size_t i;

	poll_good(f, 1, t, 0.5);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 1, t), 3);
	t += MIN5;
	for (i = 0; i < 3; i++)
		f->s.devs[1].values[i].last_ok = false;
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 1, t), 3);
	t += MIN5;
	poll_good(f, 1, t, 0.5);
	assert_int_equal(readings_offer(f->rd, &f->s, f->st, 1, t), 3);
	assert_int_equal(rows(f, "device = 'd2' AND quality = 1 AND value = 0.5"), 1);
	assert_int_equal(rows(f, "device = 'd2' AND quality = 0"), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule_table),
	    cmocka_unit_test(test_rule_drift_adds_up),
	    cmocka_unit_test(test_deadband),
	    cmocka_unit_test_setup_teardown(test_offer_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offer_at_rest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offer_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offer_quality, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
