/* detect.h - fire, pre-alarm and fault detection for one alarm point.
 * Pure logic: no I/O, no globals, no clock reads (the caller passes time in).
 * SPEC §4; the transition table is in docs/mqtt.md. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Severity order, lowest first (SPEC §3): the state of a device is the
 * highest of its points' states. */
enum point_state {
	PSTATE_INVALID = -1,
	PSTATE_NORMAL,
	PSTATE_UNKNOWN,
	PSTATE_DISABLED,
	PSTATE_TEST,
	PSTATE_FAULT,
	PSTATE_PREALARM,
	PSTATE_ALARM,
	PSTATE_MAX
};
const char *point_state_name(enum point_state s); /* "normal", ... */

/* Device flags and input channels a point may have (profile "flags"). */
enum flag_kind {
	FLAG_INVALID = -1,
	FLAG_FIRE,
	FLAG_PREALARM,
	FLAG_FAULT,
	FLAG_TAMPER,
	FLAG_TEST,
	FLAG_POWER,
	FLAG_MAX
};
const char *flag_kind_name(enum flag_kind f); /* "fire", "prealarm", ... */
enum flag_kind flag_kind_from_name(const char *s); /* FLAG_INVALID if unknown */

/* Conditions: everything that holds now for a point (bit set). */
enum {
	COND_ALARM = 1u << 0,
	COND_PREALARM = 1u << 1,
	COND_COMM_LOSS = 1u << 2,
	COND_SENSOR_FAULT = 1u << 3, /* device fault flag, or value outside valid range */
	COND_TAMPER = 1u << 4,
	COND_PANEL_FAULT = 1u << 5, /* input channel wired to a panel's fault output */
	COND_POWER_FAULT = 1u << 6, /* power flag or a panel's power-fault output */
	COND_CHATTERING = 1u << 7,
	COND_ALL_ = (1u << 8) - 1
};
/* Name of a single COND_* bit: "alarm", "prealarm", "comm_loss",
 * "sensor_fault", "tamper", "panel_fault", "power_fault", "chattering". */
const char *cond_name(uint32_t cond);
uint32_t cond_from_name(const char *s); /* 0 if unknown */

/* Causes (SPEC §3 "causes"). */
enum {
	CAUSE_DEVICE_FLAG = 1u << 0,
	CAUSE_THRESHOLD = 1u << 1,
	CAUSE_RATE_OF_RISE = 1u << 2,
	CAUSE_INPUT = 1u << 3,
	CAUSE_COMM = 1u << 4,
	CAUSE_RANGE = 1u << 5,
	CAUSE_MANUAL = 1u << 6,
};
const char *cause_name(uint32_t cause); /* single bit: "device_flag", ... */

/* Rules of one alarm point after profile defaults and config overrides are
 * merged. NAN means "not set" for every double. */
struct detect_rules {
	double alarm_above;    /* alarm when value >= this */
	double prealarm_above; /* pre-alarm when value >= this */
	double hysteresis;     /* clears when value < threshold - hysteresis; >= 0 */
	int confirm;           /* consecutive samples >= threshold; >= 1 */
	double rate_of_rise;   /* alarm when rise over ror_window_s >= this, per minute */
	int ror_window_s;      /* > 0 */
	double valid_min;      /* value outside [valid_min, valid_max]: sensor_fault, cause range */
	double valid_max;
	bool latch;            /* fire alarms latch until reset (default true) */
	bool is_input;         /* flags come from input channels: causes "input",
				  FLAG_FAULT means panel_fault instead of sensor_fault */
	int fault_after;       /* consecutive failed reads before comm_loss; >= 1 */
	int chatter_max;       /* non-alarm events per hour before chattering; >= 1 */
};
/* Fills the defaults: thresholds NAN, hysteresis 0, confirm 1, ror_window_s 60,
 * latch true, fault_after 3, chatter_max 10. */
void detect_rules_default(struct detect_rules *r);

/* One poll result for one point. */
struct detect_sample {
	uint64_t mono_ms;   /* when it was read */
	bool ok;            /* false: the read failed (timeout, CRC, exception...) */
	uint32_t flags;     /* bit (1u << FLAG_*) set for each active flag, when ok */
	bool has_value;     /* the point has an analog value and it decoded */
	double value;
};

#define DETECT_ROR_MAX 64     /* samples kept for rate of rise */
#define DETECT_CHATTER_MAX 64 /* chatter_max is capped to this */

/* Per-point state. Zero-initialise, then detect_state_init(). */
struct detect_state {
	uint32_t conditions; /* COND_* holding now (what the payload "conditions" lists) */
	uint32_t alarm_causes, prealarm_causes;
	uint32_t fault_causes[8]; /* causes per fault condition, indexed by bit number */
	bool latched;        /* alarm kept by latch after its condition went away */
	bool known;          /* at least one good read since start (or restore) */
	bool stale;          /* restored from storage, no good read yet */
	int fail_count;
	int confirm_alarm, confirm_prealarm;
	double last_value;
	bool has_last_value;
	struct {
		uint64_t t;
		double v;
	} ror[DETECT_ROR_MAX];
	int ror_n, ror_head;
	uint64_t chatter_t[DETECT_CHATTER_MAX];
	int chatter_n, chatter_head;
	uint32_t suppressed; /* conditions whose events were suppressed by chattering */
};
void detect_state_init(struct detect_state *st);

enum event_class {
	EVCLASS_INVALID = -1,
	EVCLASS_ALARM,
	EVCLASS_PREALARM,
	EVCLASS_FAULT,
	EVCLASS_TEST,
	EVCLASS_RECORD,
	EVCLASS_SYSTEM,
	EVCLASS_MAX
};
const char *event_class_name(enum event_class c); /* "alarm", ... */

struct detect_event {
	enum event_class cls; /* ALARM, PREALARM or FAULT */
	uint32_t cond;        /* the one COND_* bit this event is about */
	bool active;          /* true: active, false: cleared */
	uint32_t causes;      /* CAUSE_* bits */
	bool has_value;
	double value;         /* the value that decided it, when has_value */
	double threshold;     /* NAN when none */
	bool suppressed;      /* chattering: store, do not publish */
};

#define DETECT_EVENTS_MAX 16 /* detect_step never returns more */

/* Feeds one sample; writes at most max (>= DETECT_EVENTS_MAX) events to out.
 * Returns the number of events. One alarm event per activation; pre-alarm
 * superseded by alarm has no event of its own; no clearing on unknown value. */
int detect_step(const struct detect_rules *r, struct detect_state *st,
		const struct detect_sample *s, struct detect_event *out, int max);

/* Clears the latch (SPEC §4 reset). If the fire condition still holds the
 * point stays in alarm and no event is made; otherwise one cleared alarm
 * event (cause manual) is written. Returns the number of events. */
int detect_reset(const struct detect_rules *r, struct detect_state *st,
		 struct detect_event *out, int max);

/* Point state from the conditions (ignoring test/disable, which the caller
 * overlays): alarm > prealarm > fault > unknown > normal. */
enum point_state detect_point_state(const struct detect_state *st);

/* Restores the persisted part (conditions, causes, latched) after a restart:
 * the point is "stale" until its first good read, and a condition that
 * still holds then makes no new event. */
void detect_restore(struct detect_state *st, uint32_t conditions, bool latched,
		    uint32_t alarm_causes, uint32_t prealarm_causes,
		    const uint32_t fault_causes[8] /* may be NULL */);
