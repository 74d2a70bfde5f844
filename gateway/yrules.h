/* yrules.h - detection rules (SPEC §4) read from YAML: the one parser of a
 * rules mapping (alarm_above, prealarm_above, hysteresis, confirm,
 * rate_of_rise, ror_window_s, valid_min, valid_max, latch, chatter_max,
 * en54_class), used for a profile point's defaults and for the config's
 * per-device and per-point overrides, and the one set of checks of merged
 * rules, the EN 54-5 class check among them. Messages go through yval.
 * Pure: no I/O, no globals. */
#pragma once
#include <stdbool.h>

#include "detect.h"
#include "profile.h"
#include "yval.h"

enum yrule {
	YRULE_INVALID = -1,
	YRULE_ALARM,
	YRULE_PREALARM,
	YRULE_HYST,
	YRULE_CONFIRM,
	YRULE_ROR,
	YRULE_ROR_WINDOW,
	YRULE_VMIN,
	YRULE_VMAX,
	YRULE_LATCH,
	YRULE_CHATTER,
	YRULE_EN54,
	YRULE_MAX
};
const char *yrule_name(enum yrule k); /* "alarm_above", ... */

/* A rules mapping as written: which keys it sets (and parsed cleanly), to
 * what, and each key's node for messages. */
struct yrules {
	bool set[YRULE_MAX];
	const struct ynode *at[YRULE_MAX];
	struct detect_rules r;
	enum en54_class en54;
};

/* Where each rule of a merged point was last set (a key node), or NULL
 * when it keeps its default; checks report there. */
struct yrules_pos {
	const struct ynode *at[YRULE_MAX];
};

/* How a rules mapping may be written: a profile gives defaults; a config
 * overrides them and may remove a threshold (null) or the class (none). */
enum yrules_mode { YRULES_INVALID = -1, YRULES_DEFAULTS, YRULES_OVERRIDE, YRULES_MAX };

/* Parses map (must be a mapping; name is the key it is under, for the
 * kind message) into ret. Unknown keys and bad values are errors; only
 * clean keys are marked set. */
void yrules_parse(struct yval *y, const char *where, const char *name, const struct ynode *v,
		  enum yrules_mode mode, struct yrules *ret);
/* An en54_class scalar (A1..G; "none" too in YRULES_OVERRIDE). */
bool yrules_parse_en54(struct yval *y, const char *where, const struct ynode *v,
		       enum yrules_mode mode, enum en54_class *ret);
/* Applies the set keys of s onto r and *en54, recording their nodes in
 * pos (may be NULL). */
void yrules_apply(const struct yrules *s, struct detect_rules *r, enum en54_class *en54,
		  struct yrules_pos *pos);
/* A rules mapping for a point without an analog value: each set rule
 * other than latch and chatter_max is an error at its key. */
void yrules_check_fit(struct yval *y, const char *where, const struct yrules *s, const char *point,
		      bool has_value);
/* EN 54-5 (SPEC §4): alarm_above must lie in the class's static response
 * range (A1 54..65 °C, A2 54..70, B 69..85, C 84..100, D 99..115,
 * E 114..130, F 129..145, G 144..160). False, and an error at at, when it
 * does not; true for no class or no threshold. */
bool yrules_check_en54(struct yval *y, const struct ynode *at, const char *where, enum en54_class c,
		       double alarm_above);
/* Checks the merged rules of one point of kind: prealarm below alarm,
 * valid_min below valid_max, alarm reachable, en54_class only on heat
 * points and within its class. Each error is at the node in pos that
 * made it; a mistake no key in pos made is not reported (the profile's
 * own load reported it). */
void yrules_check(struct yval *y, const char *where, const struct detect_rules *r,
		  enum en54_class c, enum point_kind kind, const struct yrules_pos *pos);
