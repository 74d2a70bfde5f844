/* test_detect.c - unit tests of gateway/detect.c: error paths first, then
 * the name tables, then table-driven scenarios (one sample per row, the
 * events and conditions expected after it), then the cases that need more
 * than a table (rate of rise, chattering, restore). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"

#define F(k) (1u << (FLAG_##k))

static struct detect_rules rules_basic(void)
{
	struct detect_rules r;

	detect_rules_default(&r);
	return r;
}

static int feed(const struct detect_rules *r, struct detect_state *st, uint64_t t, bool ok,
		uint32_t flags, bool has_value, double v, struct detect_event *ev)
{
	struct detect_sample s = {
	    .mono_ms = t,
	    .ok = ok,
	    .flags = flags,
	    .has_value = has_value,
	    .value = v,
	};

	return detect_step(r, st, &s, ev, DETECT_EVENTS_MAX);
}

static int good(const struct detect_rules *r, struct detect_state *st, uint64_t t, double v,
		struct detect_event *ev)
{
	return feed(r, st, t, true, 0, true, v, ev);
}

static int flags(const struct detect_rules *r, struct detect_state *st, uint64_t t, uint32_t f,
		 struct detect_event *ev)
{
	return feed(r, st, t, true, f, false, 0.0, ev);
}

static int bad_read(const struct detect_rules *r, struct detect_state *st, uint64_t t,
		    struct detect_event *ev)
{
	return feed(r, st, t, false, 0, false, 0.0, ev);
}

static void assert_event(const struct detect_event *e, enum event_class cls, uint32_t cond,
			 bool active, uint32_t causes)
{
	assert_int_equal(e->cls, cls);
	assert_int_equal(e->cond, cond);
	assert_int_equal(e->active, active);
	assert_int_equal(e->causes, causes);
}

/* ---- error paths ---- */

static void test_step_bad_args(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_state st;
	struct detect_sample s = {.mono_ms = 1, .ok = true};
	struct detect_event ev[DETECT_EVENTS_MAX];

	(void)unused;
	detect_state_init(&st);
	assert_int_equal(detect_step(NULL, &st, &s, ev, DETECT_EVENTS_MAX), -EINVAL);
	assert_int_equal(detect_step(&r, NULL, &s, ev, DETECT_EVENTS_MAX), -EINVAL);
	assert_int_equal(detect_step(&r, &st, NULL, ev, DETECT_EVENTS_MAX), -EINVAL);
	assert_int_equal(detect_step(&r, &st, &s, NULL, DETECT_EVENTS_MAX), -EINVAL);
	assert_int_equal(detect_step(&r, &st, &s, ev, DETECT_EVENTS_MAX - 1), -EINVAL);
	/* Nothing was taken in: still unknown. */
	assert_false(st.known);
	assert_int_equal(detect_point_state(&st), PSTATE_UNKNOWN);

	assert_int_equal(detect_reset(NULL, &st, ev, 2), -EINVAL);
	assert_int_equal(detect_reset(&r, NULL, ev, 2), -EINVAL);
	assert_int_equal(detect_reset(&r, &st, NULL, 2), -EINVAL);
	assert_int_equal(detect_reset(&r, &st, ev, 1), -EINVAL);
	assert_int_equal(detect_point_state(NULL), PSTATE_INVALID);
	/* NULL-tolerant setters do nothing rather than crash. */
	detect_rules_default(NULL);
	detect_state_init(NULL);
	detect_restore(NULL, COND_ALARM, true, 0, 0, NULL);
}

static void test_step_bad_rules(void **unused)
{
	static const struct {
		const char *what;
		int confirm, fault_after, chatter_max, ror_window_s;
		double hysteresis, rate_of_rise, valid_min, valid_max;
	} bad[] = {
	    {"confirm 0", 0, 3, 10, 60, 0, NAN, NAN, NAN},
	    {"confirm negative", -1, 3, 10, 60, 0, NAN, NAN, NAN},
	    {"fault_after 0", 1, 0, 10, 60, 0, NAN, NAN, NAN},
	    {"chatter_max 0", 1, 3, 0, 60, 0, NAN, NAN, NAN},
	    {"hysteresis negative", 1, 3, 10, 60, -0.1, NAN, NAN, NAN},
	    {"hysteresis infinite", 1, 3, 10, 60, INFINITY, NAN, NAN, NAN},
	    {"ror window 0", 1, 3, 10, 0, 0, 8.0, NAN, NAN},
	    {"ror window negative", 1, 3, 10, -5, 0, 8.0, NAN, NAN},
	    {"valid_min > valid_max", 1, 3, 10, 60, 0, NAN, 10.0, 5.0},
	};
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct detect_rules r = rules_basic();

		r.confirm = bad[i].confirm;
		r.fault_after = bad[i].fault_after;
		r.chatter_max = bad[i].chatter_max;
		r.ror_window_s = bad[i].ror_window_s;
		r.hysteresis = bad[i].hysteresis;
		r.rate_of_rise = bad[i].rate_of_rise;
		r.valid_min = bad[i].valid_min;
		r.valid_max = bad[i].valid_max;
		detect_state_init(&st);
		print_message("bad rules: %s\n", bad[i].what);
		assert_int_equal(good(&r, &st, 1000, 1.0, ev), -EINVAL);
		assert_false(st.known);
		assert_int_equal(detect_reset(&r, &st, ev, 2), -EINVAL);
	}
}

static void test_defaults(void **unused)
{
	struct detect_rules r;
	struct detect_state st;

	(void)unused;
	memset(&r, 0x5a, sizeof(r));
	detect_rules_default(&r);
	assert_true(isnan(r.alarm_above));
	assert_true(isnan(r.prealarm_above));
	assert_true(r.hysteresis == 0.0);
	assert_int_equal(r.confirm, 1);
	assert_true(isnan(r.rate_of_rise));
	assert_int_equal(r.ror_window_s, 60);
	assert_true(isnan(r.valid_min));
	assert_true(isnan(r.valid_max));
	assert_true(r.latch);
	assert_false(r.is_input);
	assert_int_equal(r.fault_after, 3);
	assert_int_equal(r.chatter_max, 10);

	memset(&st, 0x5a, sizeof(st));
	detect_state_init(&st);
	assert_int_equal(st.conditions, 0);
	assert_false(st.known);
	assert_int_equal(st.ror_n, 0);
	assert_int_equal(st.chatter_n, 0);
	assert_int_equal(detect_point_state(&st), PSTATE_UNKNOWN);
}

/* ---- name tables ---- */

static void test_names(void **unused)
{
	static const char *const states[] = {"normal", "unknown",  "disabled", "test",
					     "fault",  "prealarm", "alarm"};
	static const char *const flagn[] = {"fire", "prealarm", "fault", "tamper", "test", "power"};
	static const char *const conds[] = {"alarm",  "prealarm",    "comm_loss",   "sensor_fault",
					    "tamper", "panel_fault", "power_fault", "chattering"};
	static const char *const causes[] = {"device_flag", "threshold", "rate_of_rise", "input",
					     "comm",	    "range",	 "manual"};
	static const char *const classes[] = {"alarm", "prealarm", "fault",
					      "test",  "record",   "system"};
	unsigned i;

	(void)unused;
	/* Out of range first. */
	assert_null(point_state_name(PSTATE_INVALID));
	assert_null(point_state_name(PSTATE_MAX));
	assert_null(flag_kind_name(FLAG_INVALID));
	assert_null(flag_kind_name(FLAG_MAX));
	assert_int_equal(flag_kind_from_name(NULL), FLAG_INVALID);
	assert_int_equal(flag_kind_from_name(""), FLAG_INVALID);
	assert_int_equal(flag_kind_from_name("Fire"), FLAG_INVALID);
	assert_int_equal(flag_kind_from_name("fire "), FLAG_INVALID);
	assert_null(cond_name(0));
	assert_null(cond_name(COND_ALARM | COND_PREALARM));
	assert_null(cond_name(1u << 8));
	assert_int_equal(cond_from_name(NULL), 0);
	assert_int_equal(cond_from_name("fire"), 0);
	assert_int_equal(cond_from_name(""), 0);
	assert_null(cause_name(0));
	assert_null(cause_name(CAUSE_INPUT | CAUSE_COMM));
	assert_null(cause_name(1u << 7));
	assert_null(event_class_name(EVCLASS_INVALID));
	assert_null(event_class_name(EVCLASS_MAX));

	for (i = 0; i < PSTATE_MAX; i++)
		assert_string_equal(point_state_name((enum point_state)i), states[i]);
	for (i = 0; i < FLAG_MAX; i++) {
		assert_string_equal(flag_kind_name((enum flag_kind)i), flagn[i]);
		assert_int_equal(flag_kind_from_name(flagn[i]), (int)i);
	}
	for (i = 0; i < 8; i++) {
		assert_string_equal(cond_name(1u << i), conds[i]);
		assert_int_equal(cond_from_name(conds[i]), 1u << i);
	}
	assert_int_equal(COND_ALL_, 0xffu);
	for (i = 0; i < 7; i++)
		assert_string_equal(cause_name(1u << i), causes[i]);
	for (i = 0; i < EVCLASS_MAX; i++)
		assert_string_equal(event_class_name((enum event_class)i), classes[i]);
}

/* ---- table-driven scenarios ---- */

struct exp_event {
	enum event_class cls;
	uint32_t cond;
	bool active;
	uint32_t causes;
};

enum row_kind { END, GOOD, FLAGS, FAIL, GOODF, RESET }; /* END: unused row */

struct row {
	enum row_kind kind; /* GOOD: value; FLAGS: flags only; GOODF: flags + value */
	uint32_t flags;
	double value;
	int n; /* events expected */
	struct exp_event ev[3];
	uint32_t conds; /* conditions after */
	enum point_state ps;
};

struct scenario {
	const char *name;
	struct {
		double alarm_above, prealarm_above, hysteresis, valid_min, valid_max;
		int confirm;
		bool latch, is_input;
	} rl;
	struct row rows[16];
	int nrows; /* cross-checks the table: rows before the first END */
};

/* Short names, so that one row of a scenario is one line. */
/* clang-format off */
/* The rules a scenario changes from the defaults, in this order. */
#define RL(alarm, pre, hyst, vmin, vmax, confirm, latch, input) \
	{ (alarm), (pre), (hyst), (vmin), (vmax), (confirm), (latch), (input) }
#define A_ON(c) { EVCLASS_ALARM, COND_ALARM, true, (c) }
#define A_OFF(c) { EVCLASS_ALARM, COND_ALARM, false, (c) }
#define P_ON(c) { EVCLASS_PREALARM, COND_PREALARM, true, (c) }
#define P_OFF(c) { EVCLASS_PREALARM, COND_PREALARM, false, (c) }
#define THR CAUSE_THRESHOLD
#define DEV CAUSE_DEVICE_FLAG
#define INP CAUSE_INPUT
#define NOEV {{0}}
#define AL COND_ALARM
#define PA COND_PREALARM
#define CL COND_COMM_LOSS
#define SF COND_SENSOR_FAULT
#define TA COND_TAMPER
#define PF COND_PANEL_FAULT
#define PW COND_POWER_FAULT
#define RNG CAUSE_RANGE
#define COMM CAUSE_COMM
#define MAN CAUSE_MANUAL
#define FON(cond, c) { EVCLASS_FAULT, (cond), true, (c) }
#define FOFF(cond, c) { EVCLASS_FAULT, (cond), false, (c) }
#define ST(s) PSTATE_##s

static const struct scenario scenarios[] = {
	{ "exactly at the threshold alarms", RL(4.0, NAN, 0, NAN, NAN, 1, true, false), {
		{ GOOD, 0, 4.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
	}, 1 },
	{ "just below the threshold does not", RL(4.0, NAN, 0, NAN, NAN, 1, true, false), {
		{ GOOD, 0, 3.999, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 3.9999999, 0, NOEV, 0, ST(NORMAL) },
	}, 2 },
	{ "flapping around the threshold, hysteresis 0.5", RL(4.0, NAN, 0.5, NAN, NAN, 1, false, false), {
		{ GOOD, 0, 4.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
		{ GOOD, 0, 3.6, 0, NOEV, AL, ST(ALARM) },
		{ GOOD, 0, 4.1, 0, NOEV, AL, ST(ALARM) },
		{ GOOD, 0, 3.5, 0, NOEV, AL, ST(ALARM) },		/* == thr - hyst: holds */
		{ GOOD, 0, 3.49, 1, { A_OFF(THR) }, 0, ST(NORMAL) },
		{ GOOD, 0, 3.9, 0, NOEV, 0, ST(NORMAL) },		/* band, from below */
		{ GOOD, 0, 4.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
	}, 7 },
	{ "confirm 3 with a failed read inside the run", RL(4.0, NAN, 0, NAN, NAN, 3, true, false), {
		{ GOOD, 0, 4.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 4.2, 0, NOEV, 0, ST(NORMAL) },
		{ FAIL, 0, 0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 4.1, 1, { A_ON(THR) }, AL, ST(ALARM) },
	}, 4 },
	{ "confirm 3: a value below resets the run", RL(4.0, NAN, 0, NAN, NAN, 3, true, false), {
		{ GOOD, 0, 4.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 4.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 3.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 4.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 4.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 4.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
	}, 6 },
	{ "comm loss after fault_after failures, restored by a good read",
	  RL(4.0, NAN, 0, NAN, NAN, 1, true, false), {
		{ GOOD, 0, 1.0, 0, NOEV, 0, ST(NORMAL) },
		{ FAIL, 0, 0, 0, NOEV, 0, ST(NORMAL) },
		{ FAIL, 0, 0, 0, NOEV, 0, ST(NORMAL) },
		{ FAIL, 0, 0, 1, { FON(CL, COMM) }, CL, ST(FAULT) },
		{ FAIL, 0, 0, 0, NOEV, CL, ST(FAULT) },
		{ GOOD, 0, 1.0, 1, { FOFF(CL, COMM) }, 0, ST(NORMAL) },
	}, 6 },
	{ "comm loss during an alarm keeps the alarm (non-latching)",
	  RL(4.0, NAN, 0, NAN, NAN, 1, false, false), {
		{ GOOD, 0, 5.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
		{ FAIL, 0, 0, 0, NOEV, AL, ST(ALARM) },
		{ FAIL, 0, 0, 0, NOEV, AL, ST(ALARM) },
		{ FAIL, 0, 0, 1, { FON(CL, COMM) }, AL | CL, ST(ALARM) },
		{ FAIL, 0, 0, 0, NOEV, AL | CL, ST(ALARM) },
		{ GOOD, 0, 5.0, 1, { FOFF(CL, COMM) }, AL, ST(ALARM) },
		{ GOOD, 0, 1.0, 1, { A_OFF(THR) }, 0, ST(NORMAL) },
	}, 7 },
	{ "pre-alarm then alarm: one alarm event (non-latching)",
	  RL(4.0, 2.5, 0, NAN, NAN, 1, false, false), {
		{ GOOD, 0, 3.0, 1, { P_ON(THR) }, PA, ST(PREALARM) },
		{ GOOD, 0, 4.5, 1, { A_ON(THR) }, AL, ST(ALARM) },
		{ GOOD, 0, 2.6, 2, { A_OFF(THR), P_ON(THR) }, PA, ST(PREALARM) },
		{ GOOD, 0, 1.0, 1, { P_OFF(THR) }, 0, ST(NORMAL) },
		/* straight past the pre-alarm and back: no pre-alarm event at all */
		{ GOOD, 0, 9.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
		{ GOOD, 0, 1.0, 1, { A_OFF(THR) }, 0, ST(NORMAL) },
	}, 6 },
	{ "pre-alarm then alarm, latched, reset uncovers the pre-alarm",
	  RL(4.0, 2.5, 0, NAN, NAN, 1, true, false), {
		{ GOOD, 0, 3.0, 1, { P_ON(THR) }, PA, ST(PREALARM) },
		{ GOOD, 0, 4.5, 1, { A_ON(THR) }, AL, ST(ALARM) },
		{ GOOD, 0, 3.0, 0, NOEV, AL, ST(ALARM) },
		{ RESET, 0, 0, 2, { A_OFF(MAN), P_ON(THR) }, PA, ST(PREALARM) },
		{ GOOD, 0, 1.0, 1, { P_OFF(THR) }, 0, ST(NORMAL) },
	}, 5 },
	{ "pre-alarm rises and falls, hysteresis 0.2", RL(NAN, 2.5, 0.2, NAN, NAN, 1, true, false), {
		{ GOOD, 0, 2.5, 1, { P_ON(THR) }, PA, ST(PREALARM) },
		{ GOOD, 0, 2.35, 0, NOEV, PA, ST(PREALARM) },
		{ GOOD, 0, 2.2, 1, { P_OFF(THR) }, 0, ST(NORMAL) },
	}, 3 },
	{ "pre-alarm flag, then fire flag", RL(NAN, NAN, 0, NAN, NAN, 1, true, false), {
		{ FLAGS, F(PREALARM), 0, 1, { P_ON(DEV) }, PA, ST(PREALARM) },
		{ FLAGS, F(PREALARM) | F(FIRE), 0, 1, { A_ON(DEV) }, AL, ST(ALARM) },
	}, 2 },
	{ "second cause while active: no event", RL(4.0, NAN, 0, NAN, NAN, 1, false, false), {
		{ FLAGS, F(FIRE), 0, 1, { A_ON(DEV) }, AL, ST(ALARM) },
		{ GOODF, F(FIRE), 5.0, 0, NOEV, AL, ST(ALARM) },
		{ GOOD, 0, 5.0, 0, NOEV, AL, ST(ALARM) },
		{ GOOD, 0, 1.0, 1, { A_OFF(THR) }, 0, ST(NORMAL) },
	}, 4 },
	{ "latch: gone, reset while fire holds, reset after",
	  RL(NAN, NAN, 0, NAN, NAN, 1, true, false), {
		{ RESET, 0, 0, 0, NOEV, 0, ST(UNKNOWN) },		/* nothing to reset */
		{ FLAGS, F(FIRE), 0, 1, { A_ON(DEV) }, AL, ST(ALARM) },
		{ RESET, 0, 0, 0, NOEV, AL, ST(ALARM) },		/* fire holds */
		{ FLAGS, F(FIRE), 0, 0, NOEV, AL, ST(ALARM) },
		{ FLAGS, 0, 0, 0, NOEV, AL, ST(ALARM) },		/* latched */
		{ FLAGS, 0, 0, 0, NOEV, AL, ST(ALARM) },
		{ FLAGS, F(FIRE), 0, 0, NOEV, AL, ST(ALARM) },		/* same activation */
		{ FLAGS, 0, 0, 0, NOEV, AL, ST(ALARM) },
		{ RESET, 0, 0, 1, { A_OFF(MAN) }, 0, ST(NORMAL) },
		{ RESET, 0, 0, 0, NOEV, 0, ST(NORMAL) },
		{ FLAGS, F(FIRE), 0, 1, { A_ON(DEV) }, AL, ST(ALARM) },	/* a new activation */
	}, 11 },
	{ "non-latching clears", RL(NAN, NAN, 0, NAN, NAN, 1, false, false), {
		{ FLAGS, F(FIRE), 0, 1, { A_ON(DEV) }, AL, ST(ALARM) },
		{ FLAGS, 0, 0, 1, { A_OFF(DEV) }, 0, ST(NORMAL) },
		{ RESET, 0, 0, 0, NOEV, 0, ST(NORMAL) },
	}, 3 },
	{ "valid range: sensor_fault range, no clearing on that value",
	  RL(60.0, NAN, 0, -20.0, 120.0, 1, false, false), {
		{ GOOD, 0, 70.0, 1, { A_ON(THR) }, AL, ST(ALARM) },
		{ GOOD, 0, 250.0, 1, { FON(SF, RNG) }, AL | SF, ST(ALARM) },
		{ GOOD, 0, -40.0, 0, NOEV, AL | SF, ST(ALARM) },
		{ GOOD, 0, NAN, 0, NOEV, AL | SF, ST(ALARM) },		/* not finite */
		{ FLAGS, 0, 0, 0, NOEV, AL | SF, ST(ALARM) },		/* no value */
		{ GOOD, 0, 20.0, 2, { A_OFF(THR), FOFF(SF, RNG) }, 0, ST(NORMAL) },
		{ GOOD, 0, -20.0, 0, NOEV, 0, ST(NORMAL) },		/* a bound is inside */
	}, 7 },
	{ "out of range neither confirms nor resets", RL(60.0, NAN, 0, 0.0, 100.0, 2, true, false), {
		{ GOOD, 0, 70.0, 0, NOEV, 0, ST(NORMAL) },
		{ GOOD, 0, 500.0, 1, { FON(SF, RNG) }, SF, ST(FAULT) },
		{ GOOD, 0, 70.0, 2, { A_ON(THR), FOFF(SF, RNG) }, AL, ST(ALARM) },
	}, 3 },
	{ "device fault flag and range together", RL(NAN, NAN, 0, 0.0, 100.0, 1, true, false), {
		{ GOODF, F(FAULT), 50.0, 1, { FON(SF, DEV) }, SF, ST(FAULT) },
		{ GOODF, F(FAULT), 150.0, 0, NOEV, SF, ST(FAULT) },
		{ GOOD, 0, 150.0, 0, NOEV, SF, ST(FAULT) },
		{ GOOD, 0, 50.0, 1, { FOFF(SF, RNG) }, 0, ST(NORMAL) },
		{ GOOD, 0, 100.0, 0, NOEV, 0, ST(NORMAL) },		/* bounds are inside */
		{ GOOD, 0, 0.0, 0, NOEV, 0, ST(NORMAL) },
	}, 6 },
	{ "input module channels", RL(NAN, NAN, 0, NAN, NAN, 1, true, true), {
		{ FLAGS, F(FIRE), 0, 1, { A_ON(INP) }, AL, ST(ALARM) },
		{ FLAGS, F(FIRE) | F(FAULT), 0, 1, { FON(PF, INP) }, AL | PF, ST(ALARM) },
		{ FLAGS, F(FAULT) | F(POWER), 0, 1, { FON(PW, INP) }, AL | PF | PW, ST(ALARM) },
		{ RESET, 0, 0, 1, { A_OFF(MAN) }, PF | PW, ST(FAULT) },
		{ FLAGS, F(TAMPER), 0, 3, { FON(TA, INP), FOFF(PF, INP), FOFF(PW, INP) }, TA, ST(FAULT) },
		{ FLAGS, F(PREALARM), 0, 2, { P_ON(INP), FOFF(TA, INP) }, PA, ST(PREALARM) },
	}, 6 },
	{ "detector flags", RL(NAN, NAN, 0, NAN, NAN, 1, true, false), {
		{ FLAGS, F(FAULT) | F(TAMPER) | F(POWER), 0, 3,
		  { FON(SF, DEV), FON(TA, DEV), FON(PW, DEV) }, SF | TA | PW, ST(FAULT) },
		{ FLAGS, 0, 0, 3, { FOFF(SF, DEV), FOFF(TA, DEV), FOFF(PW, DEV) }, 0, ST(NORMAL) },
	}, 2 },
	{ "test flag is ignored by detection", RL(NAN, NAN, 0, NAN, NAN, 1, true, false), {
		{ FLAGS, F(TEST), 0, 0, NOEV, 0, ST(NORMAL) },
		{ FLAGS, F(TEST) | (1u << 20), 0, 0, NOEV, 0, ST(NORMAL) },
		{ FLAGS, 0, 0, 0, NOEV, 0, ST(NORMAL) },
	}, 3 },
	{ "unknown before the first good read", RL(4.0, NAN, 0, NAN, NAN, 1, true, false), {
		{ FAIL, 0, 0, 0, NOEV, 0, ST(UNKNOWN) },
		{ FAIL, 0, 0, 0, NOEV, 0, ST(UNKNOWN) },
		{ FAIL, 0, 0, 1, { FON(CL, COMM) }, CL, ST(FAULT) },
		{ GOOD, 0, 1.0, 1, { FOFF(CL, COMM) }, 0, ST(NORMAL) },
	}, 4 },
};
/* clang-format on */

static void run_scenario(const struct scenario *sc)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	int i, j, n;

	r.alarm_above = sc->rl.alarm_above;
	r.prealarm_above = sc->rl.prealarm_above;
	r.hysteresis = sc->rl.hysteresis;
	r.valid_min = sc->rl.valid_min;
	r.valid_max = sc->rl.valid_max;
	r.confirm = sc->rl.confirm;
	r.latch = sc->rl.latch;
	r.is_input = sc->rl.is_input;
	detect_state_init(&st);
	print_message("scenario: %s\n", sc->name);
	for (i = 0; i < 16 && sc->rows[i].kind != END; i++)
		;
	assert_int_equal(i, sc->nrows);
	for (i = 0; i < sc->nrows; i++) {
		const struct row *rw = &sc->rows[i];
		uint64_t t = 1000u * (uint64_t)(i + 1);

		memset(ev, 0, sizeof(ev));
		switch (rw->kind) {
		case GOOD:
			n = good(&r, &st, t, rw->value, ev);
			break;
		case FLAGS:
			n = flags(&r, &st, t, rw->flags, ev);
			break;
		case GOODF:
			n = feed(&r, &st, t, true, rw->flags, true, rw->value, ev);
			break;
		case FAIL:
			n = bad_read(&r, &st, t, ev);
			break;
		case RESET:
			n = detect_reset(&r, &st, ev, DETECT_EVENTS_MAX);
			break;
		case END:
		default:
			fail_msg("bad row kind %d", rw->kind);
			return;
		}
		print_message("  row %d\n", i);
		assert_int_equal(n, rw->n);
		for (j = 0; j < n; j++) {
			assert_event(&ev[j], rw->ev[j].cls, rw->ev[j].cond, rw->ev[j].active,
				     rw->ev[j].causes);
			assert_false(ev[j].suppressed);
		}
		assert_int_equal(st.conditions, rw->conds);
		assert_int_equal(detect_point_state(&st), rw->ps);
	}
}

static void test_scenarios(void **unused)
{
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
}

/* ---- details the tables do not show ---- */

static void test_event_values(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;

	(void)unused;
	r.alarm_above = 4.0;
	r.prealarm_above = 2.5;
	r.valid_min = 0.0;
	r.valid_max = 20.0;
	r.latch = false;
	detect_state_init(&st);

	assert_int_equal(good(&r, &st, 1000, 3.0, ev), 1);
	assert_true(ev[0].has_value);
	assert_true(ev[0].value == 3.0);
	assert_true(ev[0].threshold == 2.5);

	assert_int_equal(good(&r, &st, 2000, 4.8, ev), 1);
	assert_true(ev[0].has_value);
	assert_true(ev[0].value == 4.8);
	assert_true(ev[0].threshold == 4.0);
	assert_true(st.has_last_value);
	assert_true(st.last_value == 4.8);

	/* Out of range above: the value and the violated bound. */
	assert_int_equal(good(&r, &st, 3000, 30.0, ev), 1);
	assert_int_equal(ev[0].cond, COND_SENSOR_FAULT);
	assert_true(ev[0].has_value);
	assert_true(ev[0].value == 30.0);
	assert_true(ev[0].threshold == 20.0);
	assert_true(st.last_value == 4.8); /* an unknown value is not kept */

	/* Below, with a fire flag: the threshold cause is kept on the
	 * unknown value, the flag joins it, the fault stays. */
	assert_int_equal(feed(&r, &st, 4000, true, F(FIRE), true, -1.0, ev), 0);
	assert_int_equal(st.alarm_causes, CAUSE_DEVICE_FLAG | CAUSE_THRESHOLD);
	assert_int_equal(st.fault_causes[3], CAUSE_RANGE);
	/* A good value below the threshold: only the flag remains. */
	assert_int_equal(feed(&r, &st, 4500, true, F(FIRE), true, 3.0, ev), 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_SENSOR_FAULT, false, CAUSE_RANGE);
	assert_true(ev[0].has_value);
	assert_true(ev[0].value == 3.0);
	assert_true(isnan(ev[0].threshold));
	assert_int_equal(st.alarm_causes, CAUSE_DEVICE_FLAG);

	/* Flag gone, value back: cleared alarm carries no threshold (the
	 * cause was the flag), and pre-alarm returns with the value. */
	assert_int_equal(good(&r, &st, 5000, 3.0, ev), 2);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, false, CAUSE_DEVICE_FLAG);
	assert_true(ev[0].has_value);
	assert_true(isnan(ev[0].threshold));
	assert_event(&ev[1], EVCLASS_PREALARM, COND_PREALARM, true, CAUSE_THRESHOLD);
	assert_true(ev[1].threshold == 2.5);

	/* Comm loss events carry no value. */
	bad_read(&r, &st, 6000, ev);
	bad_read(&r, &st, 7000, ev);
	assert_int_equal(bad_read(&r, &st, 8000, ev), 1);
	assert_false(ev[0].has_value);
	assert_true(isnan(ev[0].threshold));
	/* ...and failed reads leave the pre-alarm alone. */
	assert_int_equal(st.conditions, COND_PREALARM | COND_COMM_LOSS);
	assert_int_equal(detect_point_state(&st), PSTATE_PREALARM);
}

static void test_fail_count(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	int i;

	(void)unused;
	r.fault_after = 1;
	detect_state_init(&st);
	assert_int_equal(bad_read(&r, &st, 1000, ev), 1);
	assert_int_equal(st.fail_count, 1);
	for (i = 0; i < 20; i++)
		assert_int_equal(bad_read(&r, &st, 2000 + 1000u * (uint64_t)i, ev), 0);
	assert_int_equal(st.fail_count, 21);
	assert_int_equal(flags(&r, &st, 30000, 0, ev), 1);
	assert_int_equal(st.fail_count, 0);
}

/* Temperature rising at slope degrees per minute, sampled every step_ms. */
static int ror_run(const struct detect_rules *r, struct detect_state *st, double slope,
		   uint64_t step_ms, uint64_t until_ms, uint64_t *ret_t, struct detect_event *ev)
{
	uint64_t t;
	int n;

	for (t = 0; t <= until_ms; t += step_ms) {
		n = good(r, st, t, 20.0 + slope * (double)t / 60000.0, ev);
		assert_true(n >= 0);
		if (n > 0) {
			*ret_t = t;
			return n;
		}
	}
	*ret_t = t;
	return 0;
}

static void test_rate_of_rise(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	uint64_t t;
	int n;

	(void)unused;
	r.rate_of_rise = 8.0; /* per minute */
	r.ror_window_s = 60;
	r.latch = false;

	/* 12 per minute, polled every second: alarms once half a window of
	 * history exists, not before. */
	detect_state_init(&st);
	n = ror_run(&r, &st, 12.0, 1000, 600000, &t, ev);
	assert_int_equal(n, 1);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, true, CAUSE_RATE_OF_RISE);
	assert_true(t >= 30000);
	assert_true(t <= 32000);
	assert_true(ev[0].has_value);
	assert_true(isnan(ev[0].threshold));

	/* Flat afterwards: the rate falls and a non-latching alarm clears. */
	for (n = 0; t < 700000 && n == 0;) {
		t += 1000;
		n = good(&r, &st, t, 30.0, ev);
	}
	assert_int_equal(n, 1);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, false, CAUSE_RATE_OF_RISE);

	/* 5 per minute never reaches 8, at any poll rate. */
	detect_state_init(&st);
	assert_int_equal(ror_run(&r, &st, 5.0, 1000, 600000, &t, ev), 0);
	detect_state_init(&st);
	assert_int_equal(ror_run(&r, &st, 5.0, 100, 300000, &t, ev), 0);
	assert_true(st.ror_n <= DETECT_ROR_MAX);

	/* Fast polling (10 per second) still finds half a window. */
	detect_state_init(&st);
	n = ror_run(&r, &st, 12.0, 100, 600000, &t, ev);
	assert_int_equal(n, 1);
	assert_true(t >= 30000 && t <= 35000);

	/* Exactly the rate counts (>=): 8 per minute over 30 s is 4. */
	detect_state_init(&st);
	assert_int_equal(good(&r, &st, 0, 20.0, ev), 0);
	assert_int_equal(good(&r, &st, 29999, 24.0, ev), 0); /* not half a window */
	assert_int_equal(good(&r, &st, 30000, 24.0, ev), 1);

	/* A gap longer than the window forgets the history: no verdict on
	 * one sample, and the alarm is kept while the rate is unknown. */
	assert_int_equal(good(&r, &st, 200000, 90.0, ev), 0);
	assert_int_equal(st.conditions, COND_ALARM);
	assert_int_equal(st.ror_n, 1);
	assert_int_equal(good(&r, &st, 240000, 90.0, ev), 1);
	assert_false(ev[0].active);

	/* Failed reads do not count and an out-of-range value is not used. */
	detect_state_init(&st);
	r.valid_max = 100.0;
	assert_int_equal(good(&r, &st, 0, 20.0, ev), 0);
	assert_int_equal(bad_read(&r, &st, 10000, ev), 0);
	assert_int_equal(good(&r, &st, 20000, 1000.0, ev), 1); /* range fault only */
	assert_int_equal(ev[0].cond, COND_SENSOR_FAULT);
	assert_int_equal(good(&r, &st, 40000, 21.0, ev), 1); /* fault cleared, no fire */
	assert_int_equal(ev[0].cond, COND_SENSOR_FAULT);
	assert_int_equal(st.conditions, 0);
}

static void test_chattering(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	uint64_t t = 1000;
	int i, n;

	(void)unused;
	r.chatter_max = 4;
	r.latch = false;
	detect_state_init(&st);
	assert_int_equal(flags(&r, &st, t, 0, ev), 0);

	/* Four tamper events fit in the limit. */
	for (i = 0; i < 4; i++) {
		t += 1000;
		n = flags(&r, &st, t, (i % 2 == 0) ? F(TAMPER) : 0, ev);
		assert_int_equal(n, 1);
		assert_false(ev[0].suppressed);
	}
	assert_false(st.conditions & COND_CHATTERING);
	/* The fifth exceeds it: that event, then one chattering fault. */
	t += 1000;
	n = flags(&r, &st, t, F(TAMPER), ev);
	assert_int_equal(n, 2);
	assert_event(&ev[0], EVCLASS_FAULT, COND_TAMPER, true, CAUSE_DEVICE_FLAG);
	assert_false(ev[0].suppressed);
	assert_event(&ev[1], EVCLASS_FAULT, COND_CHATTERING, true, 0);
	assert_false(ev[1].suppressed);
	assert_int_equal(detect_point_state(&st), PSTATE_FAULT);

	/* Further non-alarm events are returned, suppressed; no second
	 * chattering event. */
	for (i = 0; i < 6; i++) {
		t += 1000;
		n = flags(&r, &st, t, (i % 2 == 0) ? F(PREALARM) | F(TAMPER) : F(TAMPER), ev);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].cls, EVCLASS_PREALARM);
		assert_true(ev[0].suppressed);
	}
	assert_int_equal(st.suppressed, COND_PREALARM);
	/* A fire alarm is never suppressed, nor its clearing. */
	t += 1000;
	n = flags(&r, &st, t, F(FIRE) | F(TAMPER), ev);
	assert_int_equal(n, 1);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, true, CAUSE_DEVICE_FLAG);
	assert_false(ev[0].suppressed);
	t += 1000;
	n = flags(&r, &st, t, 0, ev);
	assert_int_equal(n, 2);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, false, CAUSE_DEVICE_FLAG);
	assert_false(ev[0].suppressed);
	assert_event(&ev[1], EVCLASS_FAULT, COND_TAMPER, false, CAUSE_DEVICE_FLAG);
	assert_true(ev[1].suppressed);
	assert_int_equal(st.suppressed, COND_PREALARM | COND_TAMPER);

	/* Quiet: 12 events (t = 2..12 s and 14 s) are in the last hour. */
	assert_int_equal(flags(&r, &st, 3600000, 0, ev), 0);
	assert_true(st.conditions & COND_CHATTERING);
	/* Three left (11, 12, 14 s): more than chatter_max / 2. */
	assert_int_equal(flags(&r, &st, 3600000 + 10000, 0, ev), 0);
	assert_true(st.conditions & COND_CHATTERING);
	/* Two left: it clears, once; evaluated on a failed read too. */
	n = bad_read(&r, &st, 3600000 + 11000, ev);
	assert_int_equal(n, 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_CHATTERING, false, 0);
	assert_false(ev[0].suppressed);
	assert_int_equal(st.suppressed, 0);
	assert_int_equal(st.conditions, 0);
	assert_int_equal(flags(&r, &st, 3600000 + 12000, 0, ev), 0);

	/* And events are published again. */
	n = flags(&r, &st, 3600000 + 15000, F(TAMPER), ev);
	assert_int_equal(n, 1);
	assert_false(ev[0].suppressed);
}

static void test_chattering_first_alarm(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	uint64_t t = 0;
	int i;

	(void)unused;
	r.chatter_max = 1;
	detect_state_init(&st);
	/* Pre-alarm up and down: two events, over the limit of one. */
	assert_int_equal(flags(&r, &st, t += 1000, F(PREALARM), ev), 1);
	assert_int_equal(flags(&r, &st, t += 1000, 0, ev), 2);
	assert_int_equal(ev[1].cond, COND_CHATTERING);
	/* Pre-alarm then fire in one sample: the alarm goes out; the
	 * superseded pre-alarm made no event at all. */
	assert_int_equal(flags(&r, &st, t += 1000, F(PREALARM) | F(FIRE), ev), 1);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, true, CAUSE_DEVICE_FLAG);
	assert_false(ev[0].suppressed);
	/* With chatter_max 1, clearing needs an hour with no event at all. */
	for (i = 0; i < 3; i++)
		assert_int_equal(flags(&r, &st, t += 600000, F(FIRE), ev), 0);
	assert_true(st.conditions & COND_CHATTERING);
	assert_int_equal(flags(&r, &st, t += 3600000, F(FIRE), ev), 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_CHATTERING, false, 0);
	assert_int_equal(st.conditions, COND_ALARM);

	/* A huge chatter_max is capped by the ring and still raises. */
	r.chatter_max = 1000;
	detect_state_init(&st);
	for (i = 0, t = 0; i < DETECT_CHATTER_MAX + 2; i++) {
		int n = flags(&r, &st, t += 1000, (i % 2 == 0) ? F(TAMPER) : 0, ev);

		assert_true(n >= 1 && n <= 2);
		if (n == 2) {
			assert_int_equal(ev[1].cond, COND_CHATTERING);
			break;
		}
	}
	assert_int_equal(i, DETECT_CHATTER_MAX - 1);
	assert_true(st.conditions & COND_CHATTERING);
}

static void test_restore(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	uint32_t fc[8] = {0};
	int i;

	(void)unused;
	r.alarm_above = 4.0;
	r.prealarm_above = 2.5;
	r.confirm = 3;

	/* Nothing restored: unknown until the first read, then normal, and
	 * no event either way. */
	detect_restore(&st, 0, false, 0, 0, NULL);
	assert_true(st.stale);
	assert_int_equal(detect_point_state(&st), PSTATE_UNKNOWN);
	assert_int_equal(good(&r, &st, 1000, 1.0, ev), 0);
	assert_false(st.stale);
	assert_int_equal(detect_point_state(&st), PSTATE_NORMAL);

	/* An alarm that still holds: no duplicate, even with confirm 3. */
	detect_restore(&st, COND_ALARM, false, CAUSE_THRESHOLD, 0, NULL);
	assert_int_equal(detect_point_state(&st), PSTATE_ALARM);
	assert_int_equal(good(&r, &st, 1000, 5.0, ev), 0);
	assert_int_equal(st.conditions, COND_ALARM);
	/* Then it goes away: latched by default, no event. */
	assert_int_equal(good(&r, &st, 2000, 1.0, ev), 0);
	assert_true(st.latched);

	/* A restored latched alarm stays alarm whatever the value. */
	detect_restore(&st, 0 /* latched implies alarm */, true, CAUSE_DEVICE_FLAG, 0, NULL);
	assert_int_equal(st.conditions, COND_ALARM);
	assert_int_equal(good(&r, &st, 1000, 1.0, ev), 0);
	assert_int_equal(detect_point_state(&st), PSTATE_ALARM);
	assert_int_equal(detect_reset(&r, &st, ev, DETECT_EVENTS_MAX), 1);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, false, CAUSE_MANUAL);

	/* A restored non-latching alarm that no longer holds clears. */
	r.latch = false;
	detect_restore(&st, COND_ALARM, false, CAUSE_THRESHOLD, 0, NULL);
	assert_int_equal(good(&r, &st, 1000, 1.0, ev), 1);
	assert_event(&ev[0], EVCLASS_ALARM, COND_ALARM, false, CAUSE_THRESHOLD);
	r.latch = true;

	/* A pre-alarm superseded by a restored alarm comes back with an
	 * event when the alarm clears after the restart. */
	detect_restore(&st, COND_ALARM | COND_PREALARM, true, CAUSE_THRESHOLD, CAUSE_THRESHOLD,
		       NULL);
	assert_int_equal(st.conditions, COND_ALARM);
	assert_int_equal(good(&r, &st, 1000, 3.0, ev), 0);
	assert_int_equal(detect_reset(&r, &st, ev, DETECT_EVENTS_MAX), 2);
	assert_event(&ev[1], EVCLASS_PREALARM, COND_PREALARM, true, CAUSE_THRESHOLD);

	/* Comm loss restored: failures do not raise it again, fail_count
	 * starts from 0, the first good read clears it. */
	fc[2] = CAUSE_COMM;
	detect_restore(&st, COND_COMM_LOSS, false, 0, 0, fc);
	assert_int_equal(st.fail_count, 0);
	assert_int_equal(detect_point_state(&st), PSTATE_FAULT);
	for (i = 0; i < 5; i++)
		assert_int_equal(bad_read(&r, &st, 1000u * (uint64_t)(i + 1), ev), 0);
	assert_int_equal(st.fail_count, 5);
	assert_int_equal(good(&r, &st, 9000, 1.0, ev), 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_COMM_LOSS, false, CAUSE_COMM);
	/* ...also without the causes array. */
	detect_restore(&st, COND_COMM_LOSS, false, 0, 0, NULL);
	assert_int_equal(st.fault_causes[2], CAUSE_COMM);

	/* Faults: one still holding (no event), one gone (cleared). */
	memset(fc, 0, sizeof(fc));
	fc[3] = CAUSE_DEVICE_FLAG;
	fc[4] = CAUSE_DEVICE_FLAG;
	detect_restore(&st, COND_SENSOR_FAULT | COND_TAMPER, false, 0, 0, fc);
	assert_int_equal(flags(&r, &st, 1000, F(TAMPER), ev), 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_SENSOR_FAULT, false, CAUSE_DEVICE_FLAG);
	assert_int_equal(st.conditions, COND_TAMPER);

	/* Pre-alarm still holding: no event. Bits beyond COND_ALL_ dropped. */
	detect_restore(&st, COND_PREALARM | 0xff00u, false, CAUSE_DEVICE_FLAG, CAUSE_THRESHOLD,
		       NULL);
	assert_int_equal(st.conditions, COND_PREALARM);
	assert_int_equal(st.alarm_causes, 0);
	assert_int_equal(good(&r, &st, 1000, 3.0, ev), 0);
	assert_int_equal(detect_point_state(&st), PSTATE_PREALARM);
}

static void test_restore_chattering(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;

	(void)unused;
	detect_restore(&st, COND_CHATTERING | COND_TAMPER, false, 0, 0, NULL);
	/* The history is lost: it stays for a quiet hour after the restart,
	 * with no new chattering event, and keeps suppressing meanwhile. */
	assert_int_equal(flags(&r, &st, 5000, F(TAMPER), ev), 0);
	assert_int_equal(flags(&r, &st, 6000, 0, ev), 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_TAMPER, false, CAUSE_DEVICE_FLAG);
	assert_true(ev[0].suppressed);
	assert_int_equal(flags(&r, &st, 5000 + 3599999, 0, ev), 0);
	assert_int_equal(flags(&r, &st, 5000 + 3600000, 0, ev), 1);
	assert_event(&ev[0], EVCLASS_FAULT, COND_CHATTERING, false, 0);
	assert_int_equal(detect_point_state(&st), PSTATE_NORMAL);
}

static void test_event_bound(void **unused)
{
	struct detect_rules r = rules_basic();
	struct detect_event ev[DETECT_EVENTS_MAX];
	struct detect_state st;
	int n;

	(void)unused;
	/* Everything at once, one sample after a comm loss, with chattering
	 * crossing on the same sample: still within DETECT_EVENTS_MAX. */
	r.alarm_above = 4.0;
	r.prealarm_above = 2.0;
	r.valid_max = 10.0;
	r.chatter_max = 1;
	r.fault_after = 1;
	r.latch = false;
	detect_state_init(&st);
	assert_int_equal(bad_read(&r, &st, 1000, ev), 1);
	n = feed(&r, &st, 2000, true, F(FIRE) | F(FAULT) | F(TAMPER) | F(POWER), true, 50.0, ev);
	assert_int_equal(n, 6); /* comm cleared, alarm, sensor, tamper, power, chattering */
	assert_true(n <= DETECT_EVENTS_MAX);
	assert_int_equal(ev[0].cond, COND_COMM_LOSS);
	assert_int_equal(ev[1].cond, COND_ALARM);
	assert_int_equal(ev[2].causes, CAUSE_DEVICE_FLAG | CAUSE_RANGE);
	assert_int_equal(ev[5].cond, COND_CHATTERING);
	assert_int_equal(st.conditions, COND_ALARM | COND_SENSOR_FAULT | COND_TAMPER |
					    COND_POWER_FAULT | COND_CHATTERING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_step_bad_args), cmocka_unit_test(test_step_bad_rules),
	    cmocka_unit_test(test_defaults),	  cmocka_unit_test(test_names),
	    cmocka_unit_test(test_scenarios),	  cmocka_unit_test(test_event_values),
	    cmocka_unit_test(test_fail_count),	  cmocka_unit_test(test_rate_of_rise),
	    cmocka_unit_test(test_chattering),	  cmocka_unit_test(test_chattering_first_alarm),
	    cmocka_unit_test(test_restore),	  cmocka_unit_test(test_restore_chattering),
	    cmocka_unit_test(test_event_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
