/* detect.c - fire, pre-alarm and fault detection for one alarm point
 * (SPEC §4). Turns one poll result into the point's new conditions and the
 * events that changed them; docs/mqtt.md "Detection: transition table" is
 * the reference for every transition made here.
 *
 * Owns nothing but the caller's struct detect_state. Pure logic: no I/O, no
 * globals, no clock reads (the sample carries its monotonic time), so it is
 * unit-tested without a bus. Called by the thread that owns the point's state
 * (the main loop); one state must not be stepped from two threads at once.
 *
 * Invariants kept on struct detect_state:
 *  - alarm_causes: causes of the alarm that hold now; while latched, the
 *    causes of the activation (for display), none of which holds any more.
 *  - prealarm_causes: pre-alarm causes that hold now, also while the
 *    pre-alarm is superseded by an alarm (COND_PREALARM is then not set).
 *  - fault_causes[bit]: causes of fault condition 1u << bit while it holds.
 *  - suppressed: conditions that had an event suppressed during the current
 *    chattering (so the caller knows which ones were not published); reset
 *    when chattering clears. */
#include "detect.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define HOUR_MS 3600000ull

#define COND_FAULTS                                                                                \
	(COND_COMM_LOSS | COND_SENSOR_FAULT | COND_TAMPER | COND_PANEL_FAULT | COND_POWER_FAULT |  \
	 COND_CHATTERING)

/* Bit numbers of the fault conditions, to index fault_causes[]. */
enum {
	BIT_COMM_LOSS = 2,
	BIT_SENSOR_FAULT = 3,
	BIT_CHATTERING = 7,
};

static const char *const point_state_names[PSTATE_MAX] = {
    [PSTATE_NORMAL] = "normal", [PSTATE_UNKNOWN] = "unknown", [PSTATE_DISABLED] = "disabled",
    [PSTATE_TEST] = "test",	[PSTATE_FAULT] = "fault",     [PSTATE_PREALARM] = "prealarm",
    [PSTATE_ALARM] = "alarm",
};

static const char *const flag_kind_names[FLAG_MAX] = {
    [FLAG_FIRE] = "fire",     [FLAG_PREALARM] = "prealarm", [FLAG_FAULT] = "fault",
    [FLAG_TAMPER] = "tamper", [FLAG_TEST] = "test",	    [FLAG_POWER] = "power",
};

/* Indexed by bit number. */
static const char *const cond_names[] = {
    "alarm",  "prealarm",    "comm_loss",   "sensor_fault",
    "tamper", "panel_fault", "power_fault", "chattering",
};

static const char *const cause_names[] = {
    "device_flag", "threshold", "rate_of_rise", "input", "comm", "range", "manual",
};

static const char *const event_class_names[EVCLASS_MAX] = {
    [EVCLASS_ALARM] = "alarm", [EVCLASS_PREALARM] = "prealarm", [EVCLASS_FAULT] = "fault",
    [EVCLASS_TEST] = "test",   [EVCLASS_RECORD] = "record",	[EVCLASS_SYSTEM] = "system",
};

/* Bit number of v if v is exactly one bit below 1u << nbits, else -1. */
static int single_bit(uint32_t v, unsigned nbits)
{
	unsigned i;

	if (v == 0 || (v & (v - 1)) != 0)
		return -1;
	for (i = 0; i < nbits; i++)
		if (v == 1u << i)
			return (int)i;
	return -1;
}

const char *point_state_name(enum point_state s)
{
	if (s < 0 || s >= PSTATE_MAX)
		return NULL;
	return point_state_names[s];
}

const char *flag_kind_name(enum flag_kind f)
{
	if (f < 0 || f >= FLAG_MAX)
		return NULL;
	return flag_kind_names[f];
}

enum flag_kind flag_kind_from_name(const char *s)
{
	int i;

	if (!s)
		return FLAG_INVALID;
	for (i = 0; i < FLAG_MAX; i++)
		if (strcmp(s, flag_kind_names[i]) == 0)
			return (enum flag_kind)i;
	return FLAG_INVALID;
}

const char *cond_name(uint32_t cond)
{
	int bit = single_bit(cond, (unsigned)(sizeof(cond_names) / sizeof(cond_names[0])));

	return bit < 0 ? NULL : cond_names[bit];
}

uint32_t cond_from_name(const char *s)
{
	unsigned i;

	if (!s)
		return 0;
	for (i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++)
		if (strcmp(s, cond_names[i]) == 0)
			return 1u << i;
	return 0;
}

const char *cause_name(uint32_t cause)
{
	int bit = single_bit(cause, (unsigned)(sizeof(cause_names) / sizeof(cause_names[0])));

	return bit < 0 ? NULL : cause_names[bit];
}

const char *event_class_name(enum event_class c)
{
	if (c < 0 || c >= EVCLASS_MAX)
		return NULL;
	return event_class_names[c];
}

void detect_rules_default(struct detect_rules *r)
{
	if (!r)
		return;
	r->alarm_above = NAN;
	r->prealarm_above = NAN;
	r->hysteresis = 0.0;
	r->confirm = 1;
	r->rate_of_rise = NAN;
	r->ror_window_s = 60;
	r->valid_min = NAN;
	r->valid_max = NAN;
	r->latch = true;
	r->is_input = false;
	r->fault_after = 3;
	r->chatter_max = 10;
}

void detect_state_init(struct detect_state *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	st->last_value = NAN;
}

/* Rules come from config and profile, which validate them; checking again
 * here keeps a bad merge from turning into silent wrong detection. */
static int rules_check(const struct detect_rules *r)
{
	if (!r)
		return -EINVAL;
	if (r->confirm < 1 || r->fault_after < 1 || r->chatter_max < 1)
		return -EINVAL;
	if (!isnan(r->hysteresis) && !(r->hysteresis >= 0.0 && isfinite(r->hysteresis)))
		return -EINVAL;
	if (!isnan(r->rate_of_rise) && r->ror_window_s <= 0)
		return -EINVAL;
	if (!isnan(r->valid_min) && !isnan(r->valid_max) && r->valid_min > r->valid_max)
		return -EINVAL;
	return 0;
}

/* The effective chattering limit. The ring holds DETECT_CHATTER_MAX times,
 * so the largest count that can be seen to exceed the limit is that. */
static int chatter_limit(const struct detect_rules *r)
{
	return r->chatter_max < DETECT_CHATTER_MAX ? r->chatter_max : DETECT_CHATTER_MAX - 1;
}

struct emitter {
	struct detect_event *out;
	int n, max;
};

static struct detect_event *emit(struct emitter *em, enum event_class cls, uint32_t cond,
				 bool active, uint32_t causes)
{
	struct detect_event *e;

	/* detect_step makes at most 8 events and callers give >= 16 slots. */
	assert(em->n < em->max);
	e = &em->out[em->n++];
	e->cls = cls;
	e->cond = cond;
	e->active = active;
	e->causes = causes;
	e->has_value = false;
	e->value = NAN;
	e->threshold = NAN;
	e->suppressed = false;
	return e;
}

/* What one good sample says, once range-checked. */
struct eval {
	bool has_raw; /* the sample carried a value */
	double raw;
	bool value_known; /* has_raw, finite and inside [valid_min, valid_max] */
	double value;
	bool range_bad;
	double bound;	     /* the violated limit, NAN when none or not finite */
	double hyst;	     /* hysteresis, 0 when not set */
	uint32_t flag_cause; /* CAUSE_INPUT or CAUSE_DEVICE_FLAG */
};

static void eval_sample(const struct detect_rules *r, const struct detect_sample *s,
			struct eval *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->raw = NAN;
	ev->value = NAN;
	ev->bound = NAN;
	ev->hyst = isnan(r->hysteresis) ? 0.0 : r->hysteresis;
	ev->flag_cause = r->is_input ? CAUSE_INPUT : CAUSE_DEVICE_FLAG;
	if (!s->has_value)
		return;
	ev->has_raw = true;
	ev->raw = s->value;
	if (!isfinite(s->value)) {
		ev->range_bad = true;
	} else if (!isnan(r->valid_min) && s->value < r->valid_min) {
		ev->range_bad = true;
		ev->bound = r->valid_min;
	} else if (!isnan(r->valid_max) && s->value > r->valid_max) {
		ev->range_bad = true;
		ev->bound = r->valid_max;
	} else {
		ev->value_known = true;
		ev->value = s->value;
	}
}

/* Whether a threshold cause holds after this sample; was: it held before.
 * An unknown value changes nothing: no confirm advance, no reset, no
 * clearing. Once held, it holds down to threshold - hysteresis. */
static bool threshold_holds(double thr, double hyst, int confirm, bool was, const struct eval *ev,
			    int *count)
{
	if (isnan(thr)) {
		*count = 0;
		return false;
	}
	if (!ev->value_known)
		return was;
	if (ev->value >= thr) {
		if (*count < confirm)
			(*count)++;
		return was || *count >= confirm;
	}
	*count = 0;
	return was && ev->value >= thr - hyst;
}

/* Rate-of-rise history, a ring: ror_head is the oldest entry. */
static int ror_index(const struct detect_state *st, int i)
{
	return (st->ror_head + i) % DETECT_ROR_MAX;
}

static void ror_drop_oldest(struct detect_state *st)
{
	st->ror_head = (st->ror_head + 1) % DETECT_ROR_MAX;
	st->ror_n--;
}

/* Whether the rate of rise holds after this sample; was: it held before.
 * Method: samples are kept at least window/32 apart (so the 64-slot ring
 * covers the window at any poll rate) and forgotten once older than the
 * window. The rate is (value now - value of the oldest kept sample) / its
 * age, per minute, and is only computed when that oldest sample is at least
 * half a window old; until then (start, after a gap, after a restore) the
 * rate is unknown and the previous verdict stands. */
static bool ror_holds(const struct detect_rules *r, struct detect_state *st,
		      const struct detect_sample *s, const struct eval *ev, bool was)
{
	uint64_t window_ms, spacing_ms, age;
	bool holds = was;
	int i;

	if (isnan(r->rate_of_rise)) {
		st->ror_n = 0;
		return false;
	}
	if (!ev->value_known)
		return was;
	window_ms = (uint64_t)r->ror_window_s * 1000u;
	spacing_ms = window_ms / (DETECT_ROR_MAX / 2);
	/* A monotonic clock does not go back; if it did, the history is void. */
	if (st->ror_n > 0 && s->mono_ms < st->ror[ror_index(st, st->ror_n - 1)].t)
		st->ror_n = 0;
	while (st->ror_n > 0 && s->mono_ms - st->ror[st->ror_head].t > window_ms)
		ror_drop_oldest(st);
	if (st->ror_n > 0) {
		age = s->mono_ms - st->ror[st->ror_head].t;
		if (age > 0 && age * 2 >= window_ms) {
			double rate = (ev->value - st->ror[st->ror_head].v) * 60000.0 / (double)age;

			holds = rate >= r->rate_of_rise;
		}
	}
	if (st->ror_n == 0 || s->mono_ms - st->ror[ror_index(st, st->ror_n - 1)].t >= spacing_ms) {
		if (st->ror_n == DETECT_ROR_MAX)
			ror_drop_oldest(st);
		i = ror_index(st, st->ror_n);
		st->ror[i].t = s->mono_ms;
		st->ror[i].v = ev->value;
		st->ror_n++;
	}
	return holds;
}

/* Chattering history, a ring of event times: chatter_head is the oldest. */
static void chatter_push(struct detect_state *st, uint64_t now)
{
	if (st->chatter_n == DETECT_CHATTER_MAX) {
		st->chatter_head = (st->chatter_head + 1) % DETECT_CHATTER_MAX;
		st->chatter_n--;
	}
	st->chatter_t[(st->chatter_head + st->chatter_n) % DETECT_CHATTER_MAX] = now;
	st->chatter_n++;
}

static void chatter_prune(struct detect_state *st, uint64_t now)
{
	int newest;

	if (st->chatter_n == 0)
		return;
	newest = (st->chatter_head + st->chatter_n - 1) % DETECT_CHATTER_MAX;
	if (now < st->chatter_t[newest]) {
		st->chatter_n = 0;
		return;
	}
	while (st->chatter_n > 0 && now - st->chatter_t[st->chatter_head] >= HOUR_MS) {
		st->chatter_head = (st->chatter_head + 1) % DETECT_CHATTER_MAX;
		st->chatter_n--;
	}
}

/* Counts this step's non-alarm events (from index first on), marks them
 * suppressed if the point was already chattering, then raises or clears
 * chattering. The events of the sample that crosses the limit are not
 * suppressed: they happened before the point was known to chatter. */
static void chatter_step(const struct detect_rules *r, struct detect_state *st, uint64_t now,
			 struct emitter *em, int first)
{
	bool chattering = st->conditions & COND_CHATTERING;
	int limit = chatter_limit(r);
	int i;

	chatter_prune(st, now);
	for (i = first; i < em->n; i++) {
		struct detect_event *e = &em->out[i];

		if (e->cls == EVCLASS_ALARM)
			continue;
		if (chattering) {
			e->suppressed = true;
			st->suppressed |= e->cond;
		}
		chatter_push(st, now);
	}
	if (!chattering && st->chatter_n > limit) {
		st->conditions |= COND_CHATTERING;
		st->fault_causes[BIT_CHATTERING] = 0;
		emit(em, EVCLASS_FAULT, COND_CHATTERING, true, 0);
	} else if (chattering && st->chatter_n <= limit / 2) {
		st->conditions &= ~(uint32_t)COND_CHATTERING;
		st->fault_causes[BIT_CHATTERING] = 0;
		st->suppressed = 0;
		emit(em, EVCLASS_FAULT, COND_CHATTERING, false, 0);
	}
}

/* Value and threshold an alarm or pre-alarm event carries. */
static void event_values(struct detect_event *e, const struct eval *ev, double thr)
{
	if (ev && ev->value_known) {
		e->has_value = true;
		e->value = ev->value;
	}
	if (e->causes & CAUSE_THRESHOLD)
		e->threshold = thr;
}

/* After the alarm is gone (cleared or reset): the pre-alarm it superseded
 * comes back, with an event, if its condition still holds. */
static void prealarm_resume(const struct detect_rules *r, struct detect_state *st,
			    const struct eval *ev, struct emitter *em)
{
	struct detect_event *e;

	if (!st->prealarm_causes || (st->conditions & COND_PREALARM))
		return;
	st->conditions |= COND_PREALARM;
	e = emit(em, EVCLASS_PREALARM, COND_PREALARM, true, st->prealarm_causes);
	event_values(e, ev, r->prealarm_above);
}

static void update_alarm(const struct detect_rules *r, struct detect_state *st, uint32_t fire,
			 uint32_t pre, const struct eval *ev, struct emitter *em)
{
	uint32_t old_pre = st->prealarm_causes;
	struct detect_event *e;

	st->prealarm_causes = pre;
	if (fire) {
		if (!(st->conditions & COND_ALARM)) {
			st->conditions |= COND_ALARM;
			/* Superseded: the alarm event stands for both. */
			st->conditions &= ~(uint32_t)COND_PREALARM;
			st->latched = false;
			st->alarm_causes = fire;
			e = emit(em, EVCLASS_ALARM, COND_ALARM, true, fire);
			event_values(e, ev, r->alarm_above);
		} else {
			/* Same activation: a new cause, or fire back while
			 * latched, changes the state, not the event stream. */
			st->latched = false;
			st->alarm_causes = fire;
		}
		return;
	}
	if ((st->conditions & COND_ALARM) && !st->latched) {
		if (r->latch) {
			st->latched = true;
		} else {
			uint32_t causes = st->alarm_causes;

			st->conditions &= ~(uint32_t)COND_ALARM;
			st->alarm_causes = 0;
			e = emit(em, EVCLASS_ALARM, COND_ALARM, false, causes);
			event_values(e, ev, r->alarm_above);
		}
	}
	if (st->conditions & COND_ALARM)
		return;
	if (pre && !(st->conditions & COND_PREALARM)) {
		prealarm_resume(r, st, ev, em);
	} else if (!pre && (st->conditions & COND_PREALARM)) {
		st->conditions &= ~(uint32_t)COND_PREALARM;
		e = emit(em, EVCLASS_PREALARM, COND_PREALARM, false, old_pre);
		event_values(e, ev, r->prealarm_above);
	}
}

static void update_fault(struct detect_state *st, struct emitter *em, uint32_t cond,
			 uint32_t causes, const struct eval *ev)
{
	int bit = single_bit(cond, 8);
	struct detect_event *e;

	assert(bit >= 0);
	if (causes && !(st->conditions & cond)) {
		st->conditions |= cond;
		st->fault_causes[bit] = causes;
		e = emit(em, EVCLASS_FAULT, cond, true, causes);
	} else if (causes) {
		st->fault_causes[bit] = causes;
		return;
	} else if (st->conditions & cond) {
		e = emit(em, EVCLASS_FAULT, cond, false, st->fault_causes[bit]);
		st->conditions &= ~cond;
		st->fault_causes[bit] = 0;
	} else {
		return;
	}
	/* The value is what makes a range fault; other faults carry none. */
	if (cond == COND_SENSOR_FAULT && ev->has_raw) {
		e->has_value = true;
		e->value = ev->raw;
		if (e->active && (causes & CAUSE_RANGE))
			e->threshold = ev->bound;
	}
}

static void step_failed(const struct detect_rules *r, struct detect_state *st, struct emitter *em)
{
	if (st->fail_count < INT_MAX)
		st->fail_count++;
	/* A restored comm_loss is already set and is not raised again. */
	if (st->fail_count >= r->fault_after && !(st->conditions & COND_COMM_LOSS)) {
		st->conditions |= COND_COMM_LOSS;
		st->fault_causes[BIT_COMM_LOSS] = CAUSE_COMM;
		emit(em, EVCLASS_FAULT, COND_COMM_LOSS, true, CAUSE_COMM);
	}
}

static void step_good(const struct detect_rules *r, struct detect_state *st,
		      const struct detect_sample *s, struct emitter *em)
{
	bool fire_holding = (st->conditions & COND_ALARM) && !st->latched;
	uint32_t fire = 0, pre = 0, sensor = 0;
	bool was_range;
	struct eval ev;

	eval_sample(r, s, &ev);
	st->fail_count = 0;
	st->known = true;
	st->stale = false;
	if (ev.value_known) {
		st->last_value = ev.value;
		st->has_last_value = true;
	}
	if (st->conditions & COND_COMM_LOSS) {
		uint32_t causes = st->fault_causes[BIT_COMM_LOSS];

		st->conditions &= ~(uint32_t)COND_COMM_LOSS;
		st->fault_causes[BIT_COMM_LOSS] = 0;
		emit(em, EVCLASS_FAULT, COND_COMM_LOSS, false, causes ? causes : CAUSE_COMM);
	}

	/* FLAG_TEST is deliberately ignored: a detector's own test button is
	 * neither a fire nor a fault, and the gateway's test mode is separate. */
	if (s->flags & (1u << FLAG_FIRE))
		fire |= ev.flag_cause;
	if (threshold_holds(r->alarm_above, ev.hyst, r->confirm,
			    fire_holding && (st->alarm_causes & CAUSE_THRESHOLD), &ev,
			    &st->confirm_alarm))
		fire |= CAUSE_THRESHOLD;
	if (ror_holds(r, st, s, &ev, fire_holding && (st->alarm_causes & CAUSE_RATE_OF_RISE)))
		fire |= CAUSE_RATE_OF_RISE;

	if (s->flags & (1u << FLAG_PREALARM))
		pre |= ev.flag_cause;
	if (threshold_holds(r->prealarm_above, ev.hyst, r->confirm,
			    st->prealarm_causes & CAUSE_THRESHOLD, &ev, &st->confirm_prealarm))
		pre |= CAUSE_THRESHOLD;

	update_alarm(r, st, fire, pre, &ev, em);

	was_range = (st->conditions & COND_SENSOR_FAULT) &&
		    (st->fault_causes[BIT_SENSOR_FAULT] & CAUSE_RANGE);
	if ((s->flags & (1u << FLAG_FAULT)) && !r->is_input)
		sensor |= CAUSE_DEVICE_FLAG;
	/* No value this time: the range verdict of the last one stands. */
	if (ev.has_raw ? ev.range_bad : was_range)
		sensor |= CAUSE_RANGE;
	update_fault(st, em, COND_SENSOR_FAULT, sensor, &ev);
	update_fault(st, em, COND_TAMPER, (s->flags & (1u << FLAG_TAMPER)) ? ev.flag_cause : 0,
		     &ev);
	update_fault(st, em, COND_PANEL_FAULT,
		     ((s->flags & (1u << FLAG_FAULT)) && r->is_input) ? CAUSE_INPUT : 0, &ev);
	update_fault(st, em, COND_POWER_FAULT, (s->flags & (1u << FLAG_POWER)) ? ev.flag_cause : 0,
		     &ev);
}

int detect_step(const struct detect_rules *r, struct detect_state *st,
		const struct detect_sample *s, struct detect_event *out, int max)
{
	struct emitter em = {.out = out, .n = 0, .max = max};
	int ret;

	if (!st || !s || !out || max < DETECT_EVENTS_MAX)
		return -EINVAL;
	ret = rules_check(r);
	if (ret < 0)
		return ret;

	/* A restored chattering has lost its history: count it as just at
	 * half the limit plus one, so it clears only after a quiet hour
	 * observed since the restart. */
	if (st->stale && (st->conditions & COND_CHATTERING) && st->chatter_n == 0) {
		int i;

		for (i = 0; i <= chatter_limit(r) / 2; i++)
			chatter_push(st, s->mono_ms);
	}

	if (s->ok)
		step_good(r, st, s, &em);
	else
		step_failed(r, st, &em);
	chatter_step(r, st, s->mono_ms, &em, 0);
	return em.n;
}

int detect_reset(const struct detect_rules *r, struct detect_state *st, struct detect_event *out,
		 int max)
{
	struct emitter em = {.out = out, .n = 0, .max = max};
	int ret;

	/* Room for the cleared alarm and the pre-alarm it may uncover. */
	if (!st || !out || max < 2)
		return -EINVAL;
	ret = rules_check(r);
	if (ret < 0)
		return ret;
	/* Not in alarm, or the fire still holds: only the latch is cleared,
	 * and there is none to clear. */
	if (!(st->conditions & COND_ALARM) || !st->latched)
		return 0;
	st->latched = false;
	st->conditions &= ~(uint32_t)COND_ALARM;
	st->alarm_causes = 0;
	st->confirm_alarm = 0;
	emit(&em, EVCLASS_ALARM, COND_ALARM, false, CAUSE_MANUAL);
	prealarm_resume(r, st, NULL, &em);
	/* A reset has no sample time, so it does not count towards
	 * chattering; it still respects an ongoing one. */
	if (em.n > 1 && (st->conditions & COND_CHATTERING)) {
		em.out[1].suppressed = true;
		st->suppressed |= em.out[1].cond;
	}
	return em.n;
}

enum point_state detect_point_state(const struct detect_state *st)
{
	if (!st)
		return PSTATE_INVALID;
	if ((st->conditions & COND_ALARM) || st->latched)
		return PSTATE_ALARM;
	if (st->conditions & COND_PREALARM)
		return PSTATE_PREALARM;
	if (st->conditions & COND_FAULTS)
		return PSTATE_FAULT;
	if (!st->known || st->stale)
		return PSTATE_UNKNOWN;
	return PSTATE_NORMAL;
}

void detect_restore(struct detect_state *st, uint32_t conditions, bool latched,
		    uint32_t alarm_causes, uint32_t prealarm_causes, const uint32_t fault_causes[8])
{
	int i;

	if (!st)
		return;
	detect_state_init(st);
	conditions &= COND_ALL_;
	/* A latch is an alarm kept after its condition went away. */
	if (latched)
		conditions |= COND_ALARM;
	if (conditions & COND_ALARM)
		conditions &= ~(uint32_t)COND_PREALARM;
	st->conditions = conditions;
	st->latched = latched;
	st->alarm_causes = (conditions & COND_ALARM) ? alarm_causes : 0;
	st->prealarm_causes = (conditions & (COND_ALARM | COND_PREALARM)) ? prealarm_causes : 0;
	for (i = 2; i < 8; i++) {
		if (!(conditions & (1u << i)))
			continue;
		st->fault_causes[i] = fault_causes ? fault_causes[i] : 0;
	}
	if ((conditions & COND_COMM_LOSS) && !st->fault_causes[BIT_COMM_LOSS])
		st->fault_causes[BIT_COMM_LOSS] = CAUSE_COMM;
	st->known = false;
	st->stale = true;
}
