/* yrules.c - detection rules read from YAML, and the checks of merged rules.
 *
 * One parser for a profile point's `rules:` (defaults) and the config's
 * device and point `rules:` (overrides), one EN 54-5 class check. Owns
 * nothing; pure, called by whichever thread loads the config. */
#include "yrules.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

#define CLIP YVAL_CLIP

static const struct yval_enum en54_names[] = {
    {"A1", EN54_A1, NULL}, {"A2", EN54_A2, NULL}, {"B", EN54_B, NULL},
    {"C", EN54_C, NULL},   {"D", EN54_D, NULL},	  {"E", EN54_E, NULL},
    {"F", EN54_F, NULL},   {"G", EN54_G, NULL},	  {"none", EN54_NONE, NULL},
};
#define EN54_N_CLASSES (ARRAY_SIZE(en54_names) - 1) /* without "none" */

/* Indexed by enum yrule. Thresholds of an override may be null (removed);
 * a profile's defaults must be numbers. */
#define RD(m, lo, nul)                                                                             \
	{                                                                                          \
		.name = #m, .type = YV_DOUBLE, .off = offsetof(struct yrules, r.m), .dmin = lo,    \
		.dmax = HUGE_VAL, .nullable = nul                                                  \
	}
#define RI(m, lo, hi)                                                                              \
	{                                                                                          \
		.name = #m, .type = YV_INT, .off = offsetof(struct yrules, r.m), .min = lo,        \
		.max = hi                                                                          \
	}
#define RULE_FIELDS(nul, n_en54)                                                                   \
	{                                                                                          \
		RD(alarm_above, -HUGE_VAL, nul), RD(prealarm_above, -HUGE_VAL, nul),               \
		    RD(hysteresis, 0, false), RI(confirm, 1, 100),                                 \
		    RD(rate_of_rise, -HUGE_VAL, nul), RI(ror_window_s, 1, 3600),                   \
		    RD(valid_min, -HUGE_VAL, nul), RD(valid_max, -HUGE_VAL, nul),                  \
		    {.name = "latch", .type = YV_BOOL, .off = offsetof(struct yrules, r.latch)},   \
		    RI(chatter_max, 1, DETECT_CHATTER_MAX),                                        \
		    {.name = "en54_class",                                                         \
		     .type = YV_ENUM,                                                              \
		     .off = offsetof(struct yrules, en54),                                         \
		     .names = en54_names,                                                          \
		     .n_names = n_en54},                                                           \
	}

static const struct yval_field rule_fields[YRULES_MAX][YRULE_MAX] = {
    [YRULES_DEFAULTS] = RULE_FIELDS(false, EN54_N_CLASSES),
    [YRULES_OVERRIDE] = RULE_FIELDS(true, ARRAY_SIZE(en54_names)),
};

const char *yrule_name(enum yrule k)
{
	if (k <= YRULE_INVALID || k >= YRULE_MAX)
		return "invalid";
	return rule_fields[YRULES_DEFAULTS][k].name;
}

bool yrules_parse_en54(struct yval *y, const char *where, const struct ynode *v,
		       enum yrules_mode mode, enum en54_class *ret)
{
	const struct yval_field *f = &rule_fields[mode][YRULE_EN54];
	int c;

	if (!yval_enum(y, where, f->name, v, f->names, f->n_names, &c))
		return false;
	*ret = (enum en54_class)c;
	return true;
}

void yrules_parse(struct yval *y, const char *where, const char *name, const struct ynode *v,
		  enum yrules_mode mode, struct yrules *ret)
{
	const struct yval_field *fields = rule_fields[mode];
	size_t i;

	memset(ret, 0, sizeof(*ret));
	detect_rules_default(&ret->r);
	if (!yval_is_map(y, where, name, v))
		return;
	for (i = 0; i < v->n; i++) {
		const struct ynode *key = v->keys[i], *n = v->values[i];
		int k = yval_field_index(fields, YRULE_MAX, key->scalar);
		bool ok;

		if (k < 0) {
			yval_unknown_key(y, where, key, fields, YRULE_MAX);
			continue;
		}
		if (k == YRULE_EN54)
			ok = yrules_parse_en54(y, where, n, mode, &ret->en54);
		else
			ok = yval_field(y, where, &fields[k], n, ret);
		/* above 0 and not just 0 or more: a rise of 0 per minute would
		 * alarm on any steady reading */
		if (ok && k == YRULE_ROR && !isnan(ret->r.rate_of_rise) &&
		    ret->r.rate_of_rise <= 0) {
			yval_err(y, n, "%s: rate_of_rise %g must be above 0 (per minute)%s", where,
				 ret->r.rate_of_rise,
				 mode == YRULES_OVERRIDE ? ", or null to remove it" : "");
			ok = false;
		}
		if (ok) {
			ret->set[k] = true;
			ret->at[k] = key;
		}
	}
}

void yrules_apply(const struct yrules *s, struct detect_rules *r, enum en54_class *en54,
		  struct yrules_pos *pos)
{
	int k;

	for (k = 0; k < YRULE_MAX; k++) {
		if (!s->set[k])
			continue;
		if (pos)
			pos->at[k] = s->at[k];
		switch (k) {
		case YRULE_ALARM:
			r->alarm_above = s->r.alarm_above;
			break;
		case YRULE_PREALARM:
			r->prealarm_above = s->r.prealarm_above;
			break;
		case YRULE_HYST:
			r->hysteresis = s->r.hysteresis;
			break;
		case YRULE_CONFIRM:
			r->confirm = s->r.confirm;
			break;
		case YRULE_ROR:
			r->rate_of_rise = s->r.rate_of_rise;
			break;
		case YRULE_ROR_WINDOW:
			r->ror_window_s = s->r.ror_window_s;
			break;
		case YRULE_VMIN:
			r->valid_min = s->r.valid_min;
			break;
		case YRULE_VMAX:
			r->valid_max = s->r.valid_max;
			break;
		case YRULE_LATCH:
			r->latch = s->r.latch;
			break;
		case YRULE_CHATTER:
			r->chatter_max = s->r.chatter_max;
			break;
		case YRULE_EN54:
			*en54 = s->en54;
			break;
		}
	}
}

/* latch and chatter_max are about events; every other rule acts on the
 * analog value. */
static bool rule_needs_value(int k)
{
	return k != YRULE_LATCH && k != YRULE_CHATTER;
}

void yrules_check_fit(struct yval *y, const char *where, const struct yrules *s, const char *point,
		      bool has_value)
{
	int k;

	if (has_value)
		return;
	for (k = 0; k < YRULE_MAX; k++)
		if (s->set[k] && rule_needs_value(k))
			yval_err(y, s->at[k],
				 "%s: %s does not apply: point '%s' has no analog value "
				 "(only latch and chatter_max do); remove it",
				 where, yrule_name((enum yrule)k), point);
}

bool yrules_check_en54(struct yval *y, const struct ynode *at, const char *where, enum en54_class c,
		       double alarm_above)
{
	double lo, hi;

	if (isnan(alarm_above) || en54_class_range(c, &lo, &hi) < 0)
		return true;
	if (alarm_above >= lo && alarm_above <= hi)
		return true;
	yval_err(y, at,
		 "%s: alarm_above %g is outside EN 54-5 class %s (%g..%g °C); use a "
		 "threshold within the class or change the class",
		 where, alarm_above, en54_class_name(c), lo, hi);
	return false;
}

/* The node of a or else of b. */
static const struct ynode *pos_of(const struct yrules_pos *pos, int a, int b)
{
	return pos->at[a] ? pos->at[a] : pos->at[b];
}

void yrules_check(struct yval *y, const char *where, const struct detect_rules *r,
		  enum en54_class c, enum point_kind kind, const struct yrules_pos *pos)
{
	const struct ynode *at;

	at = pos_of(pos, YRULE_PREALARM, YRULE_ALARM);
	if (at && !isnan(r->alarm_above) && !isnan(r->prealarm_above) &&
	    r->prealarm_above >= r->alarm_above)
		yval_err(y, at, "%s: prealarm_above %g must be below alarm_above %g", where,
			 r->prealarm_above, r->alarm_above);
	at = pos_of(pos, YRULE_VMIN, YRULE_VMAX);
	if (at && !isnan(r->valid_min) && !isnan(r->valid_max) && r->valid_min >= r->valid_max)
		yval_err(y, at, "%s: valid_min %g must be below valid_max %g", where, r->valid_min,
			 r->valid_max);
	at = pos_of(pos, YRULE_ALARM, YRULE_VMAX);
	if (at && !isnan(r->alarm_above) && !isnan(r->valid_max) && r->alarm_above > r->valid_max)
		yval_err(y, at,
			 "%s: alarm_above %g is above valid_max %g and could never be "
			 "reached; lower the threshold",
			 where, r->alarm_above, r->valid_max);
	if (kind <= PKIND_INVALID)
		return;
	if (c > EN54_NONE && pos->at[YRULE_EN54] && kind != PKIND_HEAT)
		yval_err(y, pos->at[YRULE_EN54],
			 "%s: en54_class is only for heat points, and this "
			 "is a %s point; remove it",
			 where, point_kind_name(kind));
	at = pos_of(pos, YRULE_ALARM, YRULE_EN54);
	if (at && kind == PKIND_HEAT && c > EN54_NONE)
		yrules_check_en54(y, at, where, c, r->alarm_above);
}
