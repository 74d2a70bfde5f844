/* profile.c - sensor profiles: loads a device model's YAML register map
 * (values, device flags, input channels, alarm points, default rules),
 * checks all of it at once with file:line:col errors, plans the Modbus
 * reads (blocks), and decodes/encodes raw words. Format: docs/profiles.md.
 * Owns the struct profile it returns (profile_free). profile_load and
 * profile_find do file I/O and run in whichever thread loads the config
 * (start-up, SIGHUP, CLI); decode/encode/flag tests are pure and are called
 * by the poller threads and the simulator on a profile nobody modifies. */
#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errlist.h"
#include "util.h"
#include "ytree.h"

/* Modbus application protocol v1.1b3 §6.3/§6.4: one read returns at most
 * 125 registers; §6.1/§6.2: at most 2000 coils or discrete inputs. */
#define MB_MAX_REGS 125
#define MB_MAX_BITS 2000
/* Gaps merged into one read: a request costs a whole round trip (25-30 ms
 * at 9600 baud), a few extra registers cost 2 bytes each. */
#define MERGE_GAP_REGS 8
#define MERGE_GAP_BITS 16

#define VALUE_NAME_MAX sizeof(((struct profile_value *)0)->name)
#define POINT_NAME_MAX sizeof(((struct profile_point *)0)->name)

struct ctx {
	const char *file;
	struct errlist *errs;
	struct profile *p;
};

static const char *const table_names[TABLE_MAX] = {
    [TABLE_COIL] = "coil",
    [TABLE_DISCRETE] = "discrete",
    [TABLE_HOLDING] = "holding",
    [TABLE_INPUT] = "input",
};

static const char *const type_names[RTYPE_MAX] = {
    [RTYPE_BIT] = "bit", [RTYPE_U16] = "u16", [RTYPE_S16] = "s16",
    [RTYPE_U32] = "u32", [RTYPE_S32] = "s32", [RTYPE_F32] = "f32",
};

static const char *const order_names[WORDS_MAX] = {
    [WORDS_HIGH_FIRST] = "high_first",
    [WORDS_LOW_FIRST] = "low_first",
};

static const char *const kind_names[PKIND_MAX] = {
    [PKIND_SMOKE] = "smoke", [PKIND_HEAT] = "heat",
    [PKIND_FIRE] = "fire",   [PKIND_TEMPERATURE] = "temperature",
    [PKIND_INPUT] = "input",
};

/* EN 54-5:2000 table 1, static response temperature range per class. */
static const struct {
	const char *name;
	double min, max;
} en54_classes[EN54_MAX] = {
    [EN54_NONE] = {"none", 0, 0}, [EN54_A1] = {"A1", 54, 65}, [EN54_A2] = {"A2", 54, 70},
    [EN54_B] = {"B", 69, 85},	  [EN54_C] = {"C", 84, 100},  [EN54_D] = {"D", 99, 115},
    [EN54_E] = {"E", 114, 130},	  [EN54_F] = {"F", 129, 145}, [EN54_G] = {"G", 144, 160},
};

const char *reg_table_name(enum reg_table t)
{
	if (t < 0 || t >= TABLE_MAX)
		return "invalid";
	return table_names[t];
}

const char *point_kind_name(enum point_kind k)
{
	if (k < 0 || k >= PKIND_MAX)
		return "invalid";
	return kind_names[k];
}

const char *en54_class_name(enum en54_class c)
{
	if (c < 0 || c >= EN54_MAX)
		return "invalid";
	return en54_classes[c].name;
}

int en54_class_range(enum en54_class c, double *ret_min, double *ret_max)
{
	if (c <= EN54_NONE || c >= EN54_MAX)
		return -EINVAL;
	*ret_min = en54_classes[c].min;
	*ret_max = en54_classes[c].max;
	return 0;
}

/* Registers (or bits) a value occupies on the wire. */
static unsigned type_width(enum reg_type t)
{
	return t == RTYPE_U32 || t == RTYPE_S32 || t == RTYPE_F32 ? 2 : 1;
}

/* Bits a flag mask may use: the raw integer width. */
static unsigned type_bits(enum reg_type t)
{
	switch (t) {
	case RTYPE_BIT:
		return 1;
	case RTYPE_U16:
	case RTYPE_S16:
		return 16;
	case RTYPE_U32:
	case RTYPE_S32:
		return 32;
	default:
		return 0;
	}
}

static bool table_is_bits(enum reg_table t)
{
	return t == TABLE_COIL || t == TABLE_DISCRETE;
}

static int lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* ---- error helpers ---- */

static void perr(struct ctx *c, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct ctx *c, const struct ynode *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errlist_add(c->errs, c->file, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

static bool key_allowed(const char *const *allowed, const char *key)
{
	size_t k;

	for (k = 0; allowed[k]; k++)
		if (strcmp(allowed[k], key) == 0)
			return true;
	return false;
}

static void unknown_key(struct ctx *c, const struct ynode *key, const char *const *allowed,
			const char *what)
{
	char list[300];
	size_t k, len = 0;

	list[0] = '\0';
	for (k = 0; allowed[k]; k++) {
		int w = snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "", allowed[k]);

		if (w < 0 || (size_t)w >= sizeof(list) - len)
			break;
		len += (size_t)w;
	}
	perr(c, key, "unknown key '%s' in %s; expected one of: %s", key->scalar, what, list);
}

/* Every key of map must be in allowed (NULL-terminated); each other key is
 * an error at its own position. */
static void check_keys(struct ctx *c, const struct ynode *map, const char *const *allowed,
		       const char *what)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (!key_allowed(allowed, map->keys[i]->scalar))
			unknown_key(c, map->keys[i], allowed, what);
}

static bool want_kind(struct ctx *c, const struct ynode *n, enum ynode_kind kind, const char *what)
{
	if (n->kind == kind)
		return true;
	perr(c, n, "'%s' must be a %s, not a %s", what, ynode_kind_name(kind),
	     ynode_kind_name(n->kind));
	return false;
}

/* A number or boolean must be a plain (unquoted) scalar: "4.0" in quotes
 * is almost always a mistake in a hand-edited map. */
static const char *plain_scalar(struct ctx *c, const struct ynode *n, const char *what)
{
	if (!want_kind(c, n, YNODE_SCALAR, what))
		return NULL;
	if (n->quoted) {
		perr(c, n, "'%s' must be written without quotes, got \"%s\"", what, n->scalar);
		return NULL;
	}
	return n->scalar;
}

static int get_int(struct ctx *c, const struct ynode *n, const char *what, long min, long max,
		   long *ret)
{
	const char *s = plain_scalar(c, n, what);

	if (!s)
		return -EINVAL;
	if (util_parse_long(s, min, max, ret) < 0) {
		perr(c, n, "'%s' must be an integer from %ld to %ld, got '%s'", what, min, max, s);
		return -EINVAL;
	}
	return 0;
}

/* Register addresses as manuals print them: decimal, or hex with 0x. */
static int get_address(struct ctx *c, const struct ynode *n, long min, long max, long *ret)
{
	const char *s = plain_scalar(c, n, "address");
	char *end;
	unsigned long v;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		/* strtoul alone would take " 1", "-1" and "+1" after the 0x */
		if (!isxdigit((unsigned char)s[2]))
			goto out_bad;
		errno = 0;
		v = strtoul(s + 2, &end, 16);
		if (*end == '\0' && errno == 0 && v <= (unsigned long)max && (long)v >= min) {
			*ret = (long)v;
			return 0;
		}
	} else if (util_parse_long(s, min, max, ret) == 0) {
		return 0;
	}
out_bad:
	perr(c, n, "'address' must be an integer from %ld to %ld, got '%s'", min, max, s);
	return -EINVAL;
}

static int get_double(struct ctx *c, const struct ynode *n, const char *what, double *ret)
{
	const char *s = plain_scalar(c, n, what);

	if (!s)
		return -EINVAL;
	if (util_parse_double(s, ret) < 0) {
		perr(c, n, "'%s' must be a number, got '%s'", what, s);
		return -EINVAL;
	}
	return 0;
}

static int get_bool(struct ctx *c, const struct ynode *n, const char *what, bool *ret)
{
	const char *s = plain_scalar(c, n, what);

	if (!s)
		return -EINVAL;
	if (strcmp(s, "true") == 0)
		*ret = true;
	else if (strcmp(s, "false") == 0)
		*ret = false;
	else {
		perr(c, n, "'%s' must be true or false, got '%s'", what, s);
		return -EINVAL;
	}
	return 0;
}

static int get_text(struct ctx *c, const struct ynode *n, const char *what, char *buf, size_t len)
{
	if (!want_kind(c, n, YNODE_SCALAR, what))
		return -EINVAL;
	if (util_strlcpy(buf, n->scalar, len) < 0) {
		perr(c, n, "'%s' is longer than %zu bytes", what, len - 1);
		return -EINVAL;
	}
	return 0;
}

/* Names of values and points: plain ids that fit their struct field. */
static int get_name(struct ctx *c, const struct ynode *n, const char *what, char *buf, size_t len)
{
	if (!want_kind(c, n, YNODE_SCALAR, what))
		return -EINVAL;
	if (!util_is_plain_id(n->scalar) || strlen(n->scalar) >= len) {
		perr(c, n, "%s '%s' must be a plain id: 1 to %zu of A-Z a-z 0-9 _ -", what,
		     n->scalar, len - 1);
		return -EINVAL;
	}
	memcpy(buf, n->scalar, strlen(n->scalar) + 1);
	return 0;
}

/* ---- values ---- */

static const char *const value_keys[] = {"name",       "table",	    "address", "type",
					 "word_order", "scale",	    "offset",  "unit",
					 "valid_min",  "valid_max", NULL};

static void parse_value(struct ctx *c, const struct ynode *m)
{
	struct profile *p = c->p;
	struct profile_value *v = &p->values[p->n_values];
	const struct ynode *n, *addr_at;
	long addr = -1;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->table = TABLE_INVALID;
	v->type = RTYPE_INVALID;
	v->order = WORDS_HIGH_FIRST;
	v->scale = 1;
	v->offset = 0;
	v->valid_min = NAN;
	v->valid_max = NAN;
	v->block = -1;
	v->line = m->line;
	v->col = m->col;
	if (!want_kind(c, m, YNODE_MAP, "values[]"))
		return;
	check_keys(c, m, value_keys, "value");

	n = ynode_get(m, "name");
	if (!n)
		perr(c, m, "value needs a 'name'");
	else if (get_name(c, n, "value name", v->name, VALUE_NAME_MAX) == 0) {
		for (i = 0; i < p->n_values; i++)
			if (strcmp(p->values[i].name, v->name) == 0) {
				perr(c, n, "duplicate value name '%s' (first at line %d)", v->name,
				     p->values[i].line);
				v->name[0] = '\0';
				break;
			}
	}

	n = ynode_get(m, "table");
	if (!n)
		perr(c, m, "value needs a 'table' (holding, input, coil or discrete)");
	else if (want_kind(c, n, YNODE_SCALAR, "table")) {
		v->table = (enum reg_table)lookup(table_names, TABLE_MAX, n->scalar);
		if (v->table == TABLE_INVALID)
			perr(c, n, "unknown table '%s'; expected holding, input, coil or discrete",
			     n->scalar);
	}

	/* Parsed before the type so that errors come out in the usual key
	 * order; the width check waits for the type. */
	addr_at = ynode_get(m, "address");
	if (!addr_at) {
		perr(c, m, "value needs an 'address'");
	} else if (p->base == 1 && addr_at->kind == YNODE_SCALAR && !addr_at->quoted &&
		   strcmp(addr_at->scalar, "0") == 0) {
		perr(c, addr_at,
		     "address 0 in a 1-based profile (addressing: 1): the first register is 1");
	} else if (get_address(c, addr_at, p->base, 65535L + p->base, &addr) == 0) {
		addr -= p->base;
	}

	n = ynode_get(m, "type");
	if (n) {
		if (want_kind(c, n, YNODE_SCALAR, "type")) {
			v->type = (enum reg_type)lookup(type_names, RTYPE_MAX, n->scalar);
			if (v->type == RTYPE_INVALID)
				perr(c, n,
				     "unknown type '%s'; expected u16, s16, u32, s32, f32 or bit",
				     n->scalar);
			else if (v->table != TABLE_INVALID &&
				 table_is_bits(v->table) != (v->type == RTYPE_BIT)) {
				if (v->type == RTYPE_BIT)
					perr(c, n,
					     "type 'bit' needs table coil or discrete, not %s",
					     reg_table_name(v->table));
				else
					perr(c, n,
					     "type '%s' needs table holding or input; %s values "
					     "are bits",
					     type_names[v->type], reg_table_name(v->table));
				v->type = RTYPE_INVALID;
			}
		}
	} else if (v->table != TABLE_INVALID) {
		v->type = table_is_bits(v->table) ? RTYPE_BIT : RTYPE_U16;
	}

	n = ynode_get(m, "word_order");
	if (n && want_kind(c, n, YNODE_SCALAR, "word_order")) {
		int o = lookup(order_names, WORDS_MAX, n->scalar);

		if (o < 0)
			perr(c, n, "unknown word_order '%s'; expected high_first or low_first",
			     n->scalar);
		else if (v->type != RTYPE_INVALID && type_width(v->type) != 2)
			perr(c, n,
			     "word_order applies only to 32-bit types (u32, s32, f32), not %s",
			     type_names[v->type]);
		else
			v->order = (enum word_order)o;
	}

	if (addr >= 0) {
		if (v->type != RTYPE_INVALID && addr + (long)type_width(v->type) > 65536)
			perr(c, addr_at, "%s value at wire address %ld runs past address 65535",
			     type_names[v->type], addr);
		else
			v->address = (uint16_t)addr;
	}

	n = ynode_get(m, "scale");
	if (n && get_double(c, n, "scale", &v->scale) == 0 && v->scale == 0)
		perr(c, n, "'scale' must not be 0");
	n = ynode_get(m, "offset");
	if (n)
		get_double(c, n, "offset", &v->offset);
	n = ynode_get(m, "unit");
	if (n)
		get_text(c, n, "unit", v->unit, sizeof(v->unit));
	n = ynode_get(m, "valid_min");
	if (n)
		get_double(c, n, "valid_min", &v->valid_min);
	n = ynode_get(m, "valid_max");
	if (n && get_double(c, n, "valid_max", &v->valid_max) == 0 && !isnan(v->valid_min) &&
	    !(v->valid_min < v->valid_max))
		perr(c, n, "valid_max (%g) must be above valid_min (%g)", v->valid_max,
		     v->valid_min);
}

/* ---- flag sources ---- */

static const char *const src_keys[] = {"value", "bit", "bits", "invert", NULL};

/* Checks one bit number against the value's raw width and adds it. */
static int add_bit(struct ctx *c, const struct ynode *n, const struct profile_value *v,
		   uint32_t *mask)
{
	long bit;
	unsigned width = type_bits(v->type);

	if (get_int(c, n, "bit", 0, 31, &bit) < 0)
		return -EINVAL;
	if ((unsigned long)bit >= width) {
		perr(c, n, "bit %ld is outside value '%s' (%s has bit%s 0..%u)", bit, v->name,
		     type_names[v->type], width == 1 ? "" : "s", width - 1);
		return -EINVAL;
	}
	*mask |= 1u << bit;
	return 0;
}

/* {value: NAME, bit: N | bits: [..], invert: bool}; what names it in
 * messages ("flag 'fire'", "input"). */
static int parse_src(struct ctx *c, const struct ynode *m, const char *what, struct flag_src *src)
{
	const struct profile *p = c->p;
	const struct ynode *n, *bit, *bits;
	const struct profile_value *v;
	int vi;
	size_t i;
	uint32_t mask = 0;
	int r = 0;

	src->value = -1;
	src->mask = 0;
	src->invert = false;
	if (m->kind != YNODE_MAP) {
		perr(c, m, "%s must be a mapping like {value: NAME, bit: N}, not a %s", what,
		     ynode_kind_name(m->kind));
		return -EINVAL;
	}
	check_keys(c, m, src_keys, what);
	n = ynode_get(m, "invert");
	if (n && get_bool(c, n, "invert", &src->invert) < 0)
		r = -EINVAL;
	n = ynode_get(m, "value");
	if (!n) {
		perr(c, m, "%s needs a 'value' (the name of one of the values)", what);
		return -EINVAL;
	}
	if (!want_kind(c, n, YNODE_SCALAR, "value"))
		return -EINVAL;
	vi = profile_value_index(p, n->scalar);
	if (vi < 0) {
		perr(c, n, "%s refers to unknown value '%s'", what, n->scalar);
		return -EINVAL;
	}
	v = &p->values[vi];
	if (v->type == RTYPE_INVALID)
		return -EINVAL; /* already reported at the value */
	if (v->type == RTYPE_F32) {
		perr(c, n,
		     "%s uses f32 value '%s'; flags need an integer value (u16, s16, u32, s32) or "
		     "a bit",
		     what, v->name);
		return -EINVAL;
	}
	if (v->scale != 1 || v->offset != 0) {
		perr(c, n,
		     "%s uses scaled value '%s'; flags test raw bits, so the value needs scale 1 "
		     "and offset 0",
		     what, v->name);
		return -EINVAL;
	}
	bit = ynode_get(m, "bit");
	bits = ynode_get(m, "bits");
	if (bit && bits) {
		perr(c, bits, "%s has both 'bit' and 'bits'; give one", what);
		return -EINVAL;
	}
	if (bit) {
		if (add_bit(c, bit, v, &mask) < 0)
			r = -EINVAL;
	} else if (bits) {
		if (!want_kind(c, bits, YNODE_SEQ, "bits"))
			return -EINVAL;
		if (bits->n == 0) {
			perr(c, bits, "'bits' is empty; list at least one bit");
			return -EINVAL;
		}
		for (i = 0; i < bits->n; i++)
			if (add_bit(c, bits->values[i], v, &mask) < 0)
				r = -EINVAL;
	} else if (v->type == RTYPE_BIT) {
		mask = 1;
	} else {
		perr(c, m, "%s on register value '%s' needs 'bit' or 'bits'", what, v->name);
		return -EINVAL;
	}
	if (r < 0)
		return r;
	src->value = vi;
	src->mask = mask;
	return 0;
}

/* ---- points ---- */

static const char *const point_keys[] = {"name",  "kind", "flags",	"value", "rules",
					 "input", "as",	  "en54_class", NULL};
static const char *const rule_keys[] = {"alarm_above",	"prealarm_above", "hysteresis", "confirm",
					"rate_of_rise", "ror_window_s",	  "valid_min",	"valid_max",
					"latch",	"chatter_max",	  "en54_class", NULL};

static int parse_en54(struct ctx *c, const struct ynode *n, enum en54_class *ret)
{
	int i;

	if (!want_kind(c, n, YNODE_SCALAR, "en54_class"))
		return -EINVAL;
	for (i = EN54_A1; i < EN54_MAX; i++)
		if (strcmp(en54_classes[i].name, n->scalar) == 0) {
			*ret = (enum en54_class)i;
			return 0;
		}
	perr(c, n, "unknown EN 54-5 class '%s'; expected A1, A2, B, C, D, E, F or G", n->scalar);
	return -EINVAL;
}

/* Rules of point pt; the value (pt->value) is already resolved. en54_at is
 * set to the node of a rules-level en54_class. */
static void parse_rules(struct ctx *c, const struct ynode *m, struct profile_point *pt,
			const struct ynode **en54_at, const struct ynode **alarm_at)
{
	struct detect_rules *r = &pt->rules;
	const struct ynode *pre_at = NULL;
	double vmin = NAN, vmax = NAN;
	const struct ynode *vmax_at = NULL;
	size_t i;

	if (!want_kind(c, m, YNODE_MAP, "rules"))
		return;
	for (i = 0; i < m->n; i++) {
		const char *k = m->keys[i]->scalar;
		const struct ynode *n = m->values[i];
		long l;
		double d;

		if (!key_allowed(rule_keys, k)) {
			unknown_key(c, m->keys[i], rule_keys, "rules");
			continue;
		}
		/* latch and chatter_max are about events, not about a value. */
		if (pt->value < 0 && strcmp(k, "latch") != 0 && strcmp(k, "chatter_max") != 0) {
			perr(c, m->keys[i],
			     "rule '%s' needs the point to have a 'value' to apply to", k);
			continue;
		}
		if (strcmp(k, "alarm_above") == 0) {
			if (get_double(c, n, k, &d) == 0) {
				r->alarm_above = d;
				*alarm_at = n;
			}
		} else if (strcmp(k, "prealarm_above") == 0) {
			if (get_double(c, n, k, &d) == 0) {
				r->prealarm_above = d;
				pre_at = n;
			}
		} else if (strcmp(k, "hysteresis") == 0) {
			if (get_double(c, n, k, &d) == 0) {
				if (d < 0)
					perr(c, n, "'hysteresis' must be 0 or more, got %g", d);
				else
					r->hysteresis = d;
			}
		} else if (strcmp(k, "confirm") == 0) {
			if (get_int(c, n, k, 1, 100, &l) == 0)
				r->confirm = (int)l;
		} else if (strcmp(k, "rate_of_rise") == 0) {
			if (get_double(c, n, k, &d) == 0) {
				if (!(d > 0))
					perr(c, n,
					     "'rate_of_rise' must be above 0 (°C per minute), got "
					     "%g",
					     d);
				else
					r->rate_of_rise = d;
			}
		} else if (strcmp(k, "ror_window_s") == 0) {
			if (get_int(c, n, k, 1, 3600, &l) == 0)
				r->ror_window_s = (int)l;
		} else if (strcmp(k, "valid_min") == 0) {
			if (get_double(c, n, k, &d) == 0)
				vmin = d;
		} else if (strcmp(k, "valid_max") == 0) {
			if (get_double(c, n, k, &d) == 0) {
				vmax = d;
				vmax_at = n;
			}
		} else if (strcmp(k, "latch") == 0) {
			get_bool(c, n, k, &r->latch);
		} else if (strcmp(k, "chatter_max") == 0) {
			if (get_int(c, n, k, 1, DETECT_CHATTER_MAX, &l) == 0)
				r->chatter_max = (int)l;
		} else if (strcmp(k, "en54_class") == 0) {
			if (parse_en54(c, n, &pt->en54) == 0)
				*en54_at = n;
		}
	}
	if (!isnan(vmin))
		r->valid_min = vmin;
	if (!isnan(vmax))
		r->valid_max = vmax;
	if (vmax_at && !isnan(r->valid_min) && !(r->valid_min < r->valid_max))
		perr(c, vmax_at, "valid_max (%g) must be above valid_min (%g)", r->valid_max,
		     r->valid_min);
	if (pre_at && !isnan(r->alarm_above) && !(r->prealarm_above < r->alarm_above))
		perr(c, pre_at, "prealarm_above (%g) must be below alarm_above (%g)",
		     r->prealarm_above, r->alarm_above);
}

/* Threshold checks that need the merged rules (value range + overrides). */
static void check_thresholds(struct ctx *c, const struct profile_point *pt,
			     const struct ynode *alarm_at, const struct ynode *en54_at)
{
	const struct detect_rules *r = &pt->rules;
	double lo, hi;

	if (!isnan(r->alarm_above) && !isnan(r->valid_max) && r->alarm_above > r->valid_max)
		perr(c, alarm_at,
		     "alarm_above (%g) is above valid_max (%g): it could never be reached",
		     r->alarm_above, r->valid_max);
	if (pt->en54 > EN54_NONE && en54_class_range(pt->en54, &lo, &hi) == 0 &&
	    !isnan(r->alarm_above) && (r->alarm_above < lo || r->alarm_above > hi))
		perr(c, alarm_at ? alarm_at : en54_at,
		     "alarm_above (%g) is outside the EN 54-5 class %s range %g..%g °C",
		     r->alarm_above, en54_class_name(pt->en54), lo, hi);
}

static void parse_point(struct ctx *c, const struct ynode *m)
{
	struct profile *p = c->p;
	struct profile_point *pt = &p->points[p->n_points];
	const struct ynode *n, *val_node, *flags, *rules, *input, *as, *en54;
	const struct ynode *en54_at = NULL, *alarm_at = NULL;
	const struct profile_value *v;
	int i;
	size_t j;

	memset(pt, 0, sizeof(*pt));
	pt->kind = PKIND_INVALID;
	for (i = 0; i < FLAG_MAX; i++)
		pt->flags[i].value = -1;
	pt->input.value = -1;
	pt->as = FLAG_INVALID;
	pt->value = -1;
	detect_rules_default(&pt->rules);
	pt->en54 = EN54_NONE;
	pt->line = m->line;
	pt->col = m->col;
	if (!want_kind(c, m, YNODE_MAP, "points[]"))
		return;
	check_keys(c, m, point_keys, "point");

	n = ynode_get(m, "name");
	if (!n)
		perr(c, m, "point needs a 'name'");
	else if (get_name(c, n, "point name", pt->name, POINT_NAME_MAX) == 0) {
		for (j = 0; j < p->n_points; j++)
			if (strcmp(p->points[j].name, pt->name) == 0) {
				perr(c, n, "duplicate point name '%s' (first at line %d)", pt->name,
				     p->points[j].line);
				pt->name[0] = '\0';
				break;
			}
	}

	n = ynode_get(m, "kind");
	if (!n)
		perr(c, m, "point needs a 'kind' (smoke, heat, fire, temperature or input)");
	else if (want_kind(c, n, YNODE_SCALAR, "kind")) {
		pt->kind = (enum point_kind)lookup(kind_names, PKIND_MAX, n->scalar);
		if (pt->kind == PKIND_INVALID)
			perr(c, n,
			     "unknown kind '%s'; expected smoke, heat, fire, temperature or input",
			     n->scalar);
	}
	pt->rules.is_input = pt->kind == PKIND_INPUT;

	val_node = ynode_get(m, "value");
	if (val_node && want_kind(c, val_node, YNODE_SCALAR, "value")) {
		int vi = profile_value_index(p, val_node->scalar);

		if (vi < 0)
			perr(c, val_node, "point refers to unknown value '%s'", val_node->scalar);
		else if (p->values[vi].type == RTYPE_BIT)
			perr(c, val_node, "value '%s' is a bit; rules need a register value",
			     val_node->scalar);
		else
			pt->value = vi;
	}
	if (pt->value >= 0) {
		v = &p->values[pt->value];
		pt->rules.valid_min = v->valid_min;
		pt->rules.valid_max = v->valid_max;
	}

	flags = ynode_get(m, "flags");
	if (flags && want_kind(c, flags, YNODE_MAP, "flags")) {
		if (pt->kind == PKIND_INPUT)
			perr(c, flags, "an input point takes 'input' and 'as', not 'flags'");
		for (j = 0; j < flags->n; j++) {
			const struct ynode *key = flags->keys[j];
			enum flag_kind fk = flag_kind_from_name(key->scalar);
			char what[48];

			if (fk <= FLAG_INVALID || fk >= FLAG_MAX) {
				perr(c, key,
				     "unknown flag '%s'; expected fire, prealarm, fault, tamper, "
				     "test or power",
				     key->scalar);
				continue;
			}
			snprintf(what, sizeof(what), "flag '%s'", key->scalar);
			parse_src(c, flags->values[j], what, &pt->flags[fk]);
		}
	}

	input = ynode_get(m, "input");
	as = ynode_get(m, "as");
	if (pt->kind == PKIND_INPUT) {
		if (!input)
			perr(c, m, "input point needs 'input: {value: NAME}' (its channel)");
		else
			parse_src(c, input, "input", &pt->input);
		if (as && want_kind(c, as, YNODE_SCALAR, "as")) {
			if (strcmp(as->scalar, "unused") == 0)
				pt->as = FLAG_INVALID;
			else {
				pt->as = flag_kind_from_name(as->scalar);
				if (pt->as != FLAG_FIRE && pt->as != FLAG_PREALARM &&
				    pt->as != FLAG_FAULT && pt->as != FLAG_POWER &&
				    pt->as != FLAG_TAMPER) {
					perr(c, as,
					     "unknown 'as' meaning '%s'; expected fire, prealarm, "
					     "fault, power, tamper or unused",
					     as->scalar);
					pt->as = FLAG_INVALID;
				}
			}
		}
	} else if (pt->kind != PKIND_INVALID) {
		if (input)
			perr(c, input, "'input' is only for points of kind input");
		if (as)
			perr(c, as, "'as' is only for points of kind input");
	}

	rules = ynode_get(m, "rules");
	if (rules)
		parse_rules(c, rules, pt, &en54_at, &alarm_at);

	en54 = ynode_get(m, "en54_class");
	if (en54) {
		if (en54_at)
			perr(c, en54, "en54_class is given twice (here and in rules at line %d)",
			     en54_at->line);
		else if (parse_en54(c, en54, &pt->en54) == 0)
			en54_at = en54;
	}
	if (en54_at && pt->kind != PKIND_INVALID && pt->kind != PKIND_HEAT)
		perr(c, en54_at, "en54_class is only for heat points, not %s",
		     point_kind_name(pt->kind));
	check_thresholds(c, pt, alarm_at, en54_at);

	if (pt->kind != PKIND_INVALID && pt->kind != PKIND_INPUT && !flags && !val_node)
		perr(c, m, "point '%s' has no flags and no value: it could never alarm", pt->name);
}

/* ---- blocks ---- */

/* Plans the reads: per table, values by address, merged across small gaps
 * up to the Modbus per-request limits. Blocks come out ordered by table
 * then address, and words_offset packs them one after another. */
static void plan_blocks(struct ctx *c, const struct ynode *values_node)
{
	struct profile *p = c->p;
	size_t order[PROFILE_MAX_VALUES];
	size_t i, j, n = p->n_values;
	uint32_t words = 0;
	bool blocks_full = false;

	for (i = 0; i < n; i++)
		order[i] = i;
	/* Insertion sort: at most 64 values, and stable. */
	for (i = 1; i < n; i++) {
		size_t x = order[i];
		const struct profile_value *vx = &p->values[x];

		for (j = i; j > 0; j--) {
			const struct profile_value *vy = &p->values[order[j - 1]];

			if (vy->table < vx->table ||
			    (vy->table == vx->table && vy->address <= vx->address))
				break;
			order[j] = order[j - 1];
		}
		order[j] = x;
	}
	p->n_blocks = 0;
	for (i = 0; i < n; i++) {
		struct profile_value *v = &p->values[order[i]];
		bool bits = table_is_bits(v->table);
		uint32_t gap = bits ? MERGE_GAP_BITS : MERGE_GAP_REGS;
		uint32_t maxc = bits ? MB_MAX_BITS : MB_MAX_REGS;
		uint32_t vend = (uint32_t)v->address + type_width(v->type);
		struct profile_block *b = p->n_blocks ? &p->blocks[p->n_blocks - 1] : NULL;

		if (b && b->table == v->table) {
			uint32_t bend = (uint32_t)b->address + b->count;
			uint32_t nend = vend > bend ? vend : bend;

			if (v->address <= bend + gap && nend - b->address <= maxc) {
				b->count = (uint16_t)(nend - b->address);
				v->block = (int)(p->n_blocks - 1);
				v->block_offset = (uint16_t)(v->address - b->address);
				continue;
			}
		}
		if (p->n_blocks == PROFILE_MAX_BLOCKS) {
			if (!blocks_full)
				perr(c, values_node,
				     "values need more than %d separate reads "
				     "(PROFILE_MAX_BLOCKS); value '%s' at line %d starts read %d: "
				     "bring the addresses closer",
				     PROFILE_MAX_BLOCKS, v->name, v->line, PROFILE_MAX_BLOCKS + 1);
			blocks_full = true;
			continue;
		}
		b = &p->blocks[p->n_blocks];
		b->table = v->table;
		b->address = v->address;
		b->count = (uint16_t)type_width(v->type);
		v->block = (int)p->n_blocks;
		v->block_offset = 0;
		p->n_blocks++;
	}
	for (i = 0; i < p->n_blocks; i++) {
		p->blocks[i].words_offset = (uint16_t)(words < UINT16_MAX ? words : UINT16_MAX);
		words += p->blocks[i].count;
	}
	p->n_words = words;
	if (!blocks_full && words > PROFILE_MAX_WORDS)
		perr(c, values_node,
		     "values need %u registers and bits per poll, more than %d "
		     "(PROFILE_MAX_WORDS): remove values or close the gaps",
		     (unsigned)words, PROFILE_MAX_WORDS);
}

/* ---- load ---- */

static const char *const top_keys[] = {"profile", "description", "addressing",
				       "values",  "points",	 NULL};

/* The file name without directory and ".yaml": what "profile:" must say. */
static void file_stem(const char *path, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	if (n >= len)
		n = len - 1;
	memcpy(buf, base, n);
	buf[n] = '\0';
}

static void parse_root(struct ctx *c, const struct ynode *root)
{
	struct profile *p = c->p;
	const struct ynode *n, *values, *points;
	char stem[256];
	size_t i, value_errs;
	long l;

	if (!want_kind(c, root, YNODE_MAP, "profile file"))
		return;
	check_keys(c, root, top_keys, "profile");

	n = ynode_get(root, "profile");
	file_stem(c->file, stem, sizeof(stem));
	if (!n) {
		perr(c, root, "missing 'profile: %s' (the profile's name, equal to the file name)",
		     stem);
	} else if (get_name(c, n, "profile name", p->name, PROFILE_NAME_MAX) == 0 &&
		   strcmp(p->name, stem) != 0) {
		perr(c, n, "profile '%s' is in file '%s.yaml'; the name must equal the file name",
		     p->name, stem);
	}
	n = ynode_get(root, "description");
	if (n)
		get_text(c, n, "description", p->description, sizeof(p->description));
	n = ynode_get(root, "addressing");
	if (n && get_int(c, n, "addressing", 0, 1, &l) == 0)
		p->base = (int)l;

	value_errs = c->errs->n_errors;
	values = ynode_get(root, "values");
	if (!values) {
		perr(c, root, "missing 'values' (the registers and bits to read)");
	} else if (want_kind(c, values, YNODE_SEQ, "values")) {
		if (values->n == 0)
			perr(c, values, "'values' is empty; list at least one value");
		for (i = 0; i < values->n; i++) {
			if (p->n_values == PROFILE_MAX_VALUES) {
				perr(c, values->values[i],
				     "more than %d values (PROFILE_MAX_VALUES)",
				     PROFILE_MAX_VALUES);
				break;
			}
			parse_value(c, values->values[i]);
			p->n_values++;
		}
	}
	value_errs = c->errs->n_errors - value_errs;

	points = ynode_get(root, "points");
	if (!points) {
		perr(c, root, "missing 'points' (the alarm points of the device)");
	} else if (want_kind(c, points, YNODE_SEQ, "points")) {
		if (points->n == 0)
			perr(c, points, "'points' is empty; list at least one alarm point");
		for (i = 0; i < points->n; i++) {
			if (p->n_points == PROFILE_MAX_POINTS) {
				perr(c, points->values[i],
				     "more than %d points (PROFILE_MAX_POINTS)",
				     PROFILE_MAX_POINTS);
				break;
			}
			parse_point(c, points->values[i]);
			p->n_points++;
		}
	}
	/* Blocks only from a clean value list: a value with a bad table or
	 * type has no width to plan with. */
	if (value_errs == 0 && p->n_values > 0)
		plan_blocks(c, values);
}

int profile_load(const char *path, struct errlist *errs, struct profile **ret)
{
	struct ytree *t = NULL;
	struct profile *p;
	struct ctx c = {.file = path, .errs = errs};
	size_t errs_before = errs->n_errors;
	int r;

	r = ytree_load(path, errs, &t);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out_free_tree;
	}
	c.p = p;
	if (util_strlcpy(p->path, path, sizeof(p->path)) < 0)
		errlist_add(errs, path, 0, 0, "path longer than %zu bytes", sizeof(p->path) - 1);
	if (!t->root)
		errlist_add(errs, path, 0, 0, "empty profile; see docs/profiles.md for the format");
	else
		parse_root(&c, t->root);
	if (errs->n_errors != errs_before) {
		r = -EINVAL;
		goto out_free_profile;
	}
	ytree_free(t);
	*ret = p;
	return 0;

out_free_profile:
	profile_free(p);
out_free_tree:
	ytree_free(t);
	return r;
}

void profile_free(struct profile *p)
{
	free(p);
}

int profile_find(const char *name, const char *const *dirs, size_t n_dirs, char *ret_path,
		 size_t path_len)
{
	char buf[4096];
	struct stat st;
	size_t i;

	/* A plain id keeps "../" and absolute paths out of the search. */
	if (!util_is_plain_id(name) || strlen(name) >= PROFILE_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n_dirs; i++) {
		int w;

		if (!dirs[i] || !dirs[i][0])
			continue;
		w = snprintf(buf, sizeof(buf), "%s/%s.yaml", dirs[i], name);
		if (w < 0 || (size_t)w >= sizeof(buf))
			continue;
		/* Existing but unreadable still counts as found: profile_load
		 * then says why, rather than a later directory's copy being
		 * used silently. */
		if (stat(buf, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if ((size_t)w >= path_len)
			return -EINVAL;
		memcpy(ret_path, buf, (size_t)w + 1);
		return 0;
	}
	return -ENOENT;
}

int profile_value_index(const struct profile *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_values; i++)
		if (p->values[i].name[0] && strcmp(p->values[i].name, name) == 0)
			return (int)i;
	return -1;
}

int profile_point_index(const struct profile *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_points; i++)
		if (p->points[i].name[0] && strcmp(p->points[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- decode / encode ---- */

/* Index of the value's first word in profile_raw.words, or -1 when the
 * value has no valid place (not planned; cannot happen after a load). */
static int word_index(const struct profile *p, const struct profile_value *v)
{
	size_t idx;

	if (v->block < 0 || (size_t)v->block >= p->n_blocks)
		return -1;
	idx = (size_t)p->blocks[v->block].words_offset + v->block_offset;
	if (idx + type_width(v->type) > PROFILE_MAX_WORDS)
		return -1;
	return (int)idx;
}

static uint32_t join32(const struct profile_value *v, const uint16_t *w)
{
	if (v->order == WORDS_LOW_FIRST)
		return (uint32_t)w[1] << 16 | w[0];
	return (uint32_t)w[0] << 16 | w[1];
}

void profile_decode(const struct profile *p, const struct profile_raw *raw,
		    struct value_reading *out)
{
	size_t i;

	for (i = 0; i < p->n_values; i++) {
		const struct profile_value *v = &p->values[i];
		struct value_reading *o = &out[i];
		int idx = word_index(p, v);
		const uint16_t *w;
		double x;
		float f;

		o->ok = false;
		o->value = NAN;
		o->raw = 0;
		if (idx < 0)
			continue;
		w = &raw->words[idx];
		switch (v->type) {
		case RTYPE_BIT:
			o->raw = w[0] ? 1 : 0;
			x = o->raw;
			break;
		case RTYPE_U16:
			o->raw = w[0];
			x = w[0];
			break;
		case RTYPE_S16:
			o->raw = w[0];
			x = (int16_t)w[0];
			break;
		case RTYPE_U32:
			o->raw = join32(v, w);
			x = o->raw;
			break;
		case RTYPE_S32:
			o->raw = join32(v, w);
			x = (int32_t)o->raw;
			break;
		case RTYPE_F32:
			o->raw = join32(v, w);
			memcpy(&f, &o->raw, sizeof(f));
			x = f;
			break;
		default:
			continue;
		}
		o->value = x * v->scale + v->offset;
		o->ok = isfinite(o->value);
	}
}

int profile_encode(const struct profile *p, int vi, double v, struct profile_raw *raw)
{
	const struct profile_value *pv;
	uint16_t *w;
	uint32_t u;
	double x;
	float f;
	int idx;

	if (vi < 0 || (size_t)vi >= p->n_values)
		return -EINVAL;
	pv = &p->values[vi];
	idx = word_index(p, pv);
	if (idx < 0)
		return -EINVAL;
	w = &raw->words[idx];
	x = (v - pv->offset) / pv->scale;
	if (pv->type == RTYPE_F32) {
		/* NaN and infinities are representable: the simulator uses them
		 * to show a broken sensor. */
		if (isfinite(x) && fabs(x) > FLT_MAX)
			return -ERANGE;
		f = (float)x;
		memcpy(&u, &f, sizeof(u));
	} else {
		if (!isfinite(x))
			return -ERANGE;
		x = round(x);
		switch (pv->type) {
		case RTYPE_BIT:
			if (x != 0 && x != 1)
				return -ERANGE;
			break;
		case RTYPE_U16:
			if (x < 0 || x > UINT16_MAX)
				return -ERANGE;
			break;
		case RTYPE_S16:
			if (x < INT16_MIN || x > INT16_MAX)
				return -ERANGE;
			break;
		case RTYPE_U32:
			if (x < 0 || x > UINT32_MAX)
				return -ERANGE;
			break;
		case RTYPE_S32:
			if (x < INT32_MIN || x > INT32_MAX)
				return -ERANGE;
			break;
		default:
			return -EINVAL;
		}
		/* Two's complement through int64_t keeps negative s16/s32. */
		u = (uint32_t)(int64_t)x;
	}
	if (type_width(pv->type) == 1) {
		w[0] = (uint16_t)(u & 0xffffu);
	} else if (pv->order == WORDS_LOW_FIRST) {
		w[0] = (uint16_t)(u & 0xffffu);
		w[1] = (uint16_t)(u >> 16);
	} else {
		w[0] = (uint16_t)(u >> 16);
		w[1] = (uint16_t)(u & 0xffffu);
	}
	return 0;
}

bool profile_flag_active(const struct flag_src *f, const struct value_reading *vals)
{
	const struct value_reading *r;

	/* An absent flag, or one whose value was not read, is never active,
	 * inverted or not: an unknown reading must not raise or clear. */
	if (!f || f->value < 0)
		return false;
	r = &vals[f->value];
	if (!r->ok)
		return false;
	return ((r->raw & f->mask) != 0) != f->invert;
}
