/* profile_load.c - reading a sensor profile file: the YAML register map
 * (values, device flags, input channels, alarm points, default rules) is
 * parsed by ytree, every key checked through yval and yrules with
 * file:line:col errors, all at once, and the reads planned
 * (profile_plan_blocks). Format: docs/profiles.md.
 *
 * Owns the struct profile it returns until the caller takes it
 * (profile_free). Does file I/O; runs in whichever thread loads the config
 * (start-up, SIGHUP, CLI). */
#include "profile_load.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errlist.h"
#include "util.h"
#include "yrules.h"
#include "ytree.h"
#include "yval.h"

#define CLIP YVAL_CLIP
#define VALUE_NAME_MAX sizeof(((struct profile_value *)0)->name)
#define POINT_NAME_MAX sizeof(((struct profile_point *)0)->name)

struct ctx {
	const char *file;
	struct yval y;
	struct profile *p;
};

const struct yval_enum profile_as_names[PROFILE_N_AS_NAMES] = {
    {"unused", FLAG_INVALID, NULL}, {"fire", FLAG_FIRE, NULL},	 {"prealarm", FLAG_PREALARM, NULL},
    {"fault", FLAG_FAULT, NULL},    {"power", FLAG_POWER, NULL}, {"tamper", FLAG_TAMPER, NULL},
};

static const struct yval_enum table_enum[] = {
    {"holding", TABLE_HOLDING, NULL},
    {"input", TABLE_INPUT, NULL},
    {"coil", TABLE_COIL, NULL},
    {"discrete", TABLE_DISCRETE, NULL},
};

static const struct yval_enum type_enum[] = {
    {"u16", RTYPE_U16, NULL}, {"s16", RTYPE_S16, NULL}, {"u32", RTYPE_U32, NULL},
    {"s32", RTYPE_S32, NULL}, {"f32", RTYPE_F32, NULL}, {"bit", RTYPE_BIT, NULL},
};

static const struct yval_enum order_enum[] = {
    {"high_first", WORDS_HIGH_FIRST, NULL},
    {"low_first", WORDS_LOW_FIRST, NULL},
};

static const struct yval_enum kind_enum[] = {
    {"smoke", PKIND_SMOKE, NULL}, {"heat", PKIND_HEAT, NULL},
    {"fire", PKIND_FIRE, NULL},	  {"temperature", PKIND_TEMPERATURE, NULL},
    {"input", PKIND_INPUT, NULL},
};

/* the device flags (enum flag_kind), as a flags: mapping may name them */
static const char *const flag_names[] = {"fire", "prealarm", "fault", "tamper",
					 "test", "power",    NULL};

static bool table_is_bits(enum reg_table t)
{
	return t == TABLE_COIL || t == TABLE_DISCRETE;
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

/* "value 's'" when the entry's name is usable, else "value #3". */
static void entry_where(const char *what, size_t idx, const struct ynode *m, size_t name_max,
			char *buf, size_t len)
{
	const struct ynode *n = m->kind == YNODE_MAP ? ynode_get(m, "name") : NULL;

	if (n && n->kind == YNODE_SCALAR && util_is_plain_id(n->scalar) &&
	    strlen(n->scalar) < name_max)
		snprintf(buf, len, "%s '%s'", what, n->scalar);
	else
		snprintf(buf, len, "%s #%zu", what, idx + 1);
}

/* ---- values ---- */

static const struct yval_field value_fields[] = {
    {.name = "name",
     .type = YV_ID,
     .off = offsetof(struct profile_value, name),
     .size = VALUE_NAME_MAX,
     .required = true},
    {.name = "table",
     .type = YV_ENUM,
     .off = offsetof(struct profile_value, table),
     .names = table_enum,
     .n_names = ARRAY_SIZE(table_enum),
     .required = true,
     .hint = " (holding, input, coil or discrete)"},
    {.name = "address", .type = YV_NODE, .required = true},
    YV_F_NODE("type"),
    YV_F_NODE("word_order"),
    {.name = "scale",
     .type = YV_DOUBLE,
     .off = offsetof(struct profile_value, scale),
     .dmin = -HUGE_VAL,
     .dmax = HUGE_VAL},
    {.name = "offset",
     .type = YV_DOUBLE,
     .off = offsetof(struct profile_value, offset),
     .dmin = -HUGE_VAL,
     .dmax = HUGE_VAL},
    YV_F_STR(struct profile_value, unit),
    {.name = "valid_min",
     .type = YV_DOUBLE,
     .off = offsetof(struct profile_value, valid_min),
     .dmin = -HUGE_VAL,
     .dmax = HUGE_VAL},
    {.name = "valid_max",
     .type = YV_DOUBLE,
     .off = offsetof(struct profile_value, valid_max),
     .dmin = -HUGE_VAL,
     .dmax = HUGE_VAL},
};

enum {
	VF_NAME,
	VF_TABLE,
	VF_ADDRESS,
	VF_TYPE,
	VF_ORDER,
	VF_SCALE,
	VF_OFFSET,
	VF_UNIT,
	VF_VMIN,
	VF_VMAX
};

static void parse_value(struct ctx *c, size_t idx, const struct ynode *m)
{
	struct yval *y = &c->y;
	struct profile *p = c->p;
	struct profile_value *v = &p->values[p->n_values];
	const struct ynode *found[YVAL_FIELD_MAX], *n, *addr_at;
	char where[64];
	long addr = -1;
	int t;
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
	entry_where("value", idx, m, VALUE_NAME_MAX, where, sizeof(where));
	if (!yval_is_map(y, "values", where, m))
		return;
	yval_map(y, where, m, value_fields, ARRAY_SIZE(value_fields), v, found);

	n = found[VF_NAME];
	for (i = 0; n && v->name[0] && i < p->n_values; i++)
		if (strcmp(p->values[i].name, v->name) == 0) {
			yval_err(y, n, "%s: duplicate value name '%s' (first at line %d)", where,
				 v->name, p->values[i].line);
			v->name[0] = '\0';
			break;
		}

	/* Parsed before the type so that errors come out in the usual key
	 * order; the width check waits for the type. */
	addr_at = found[VF_ADDRESS];
	if (addr_at && p->base == 1 && addr_at->kind == YNODE_SCALAR && !addr_at->quoted &&
	    strcmp(addr_at->scalar, "0") == 0)
		yval_err(y, addr_at,
			 "%s: address 0 in a 1-based profile (addressing: 1): the first "
			 "register is 1",
			 where);
	else if (addr_at &&
		 yval_long(y, where, "address", addr_at, p->base, 65535L + p->base, true, &addr))
		addr -= p->base;

	n = found[VF_TYPE];
	if (n) {
		if (yval_enum(y, where, "type", n, type_enum, ARRAY_SIZE(type_enum), &t)) {
			v->type = (enum reg_type)t;
			if (v->table != TABLE_INVALID &&
			    table_is_bits(v->table) != (v->type == RTYPE_BIT)) {
				if (v->type == RTYPE_BIT)
					yval_err(y, n,
						 "%s: type 'bit' needs table coil or discrete, "
						 "not %s",
						 where, reg_table_name(v->table));
				else
					yval_err(y, n,
						 "%s: type '%s' needs table holding or input; %s "
						 "values are bits",
						 where, reg_type_name(v->type),
						 reg_table_name(v->table));
				v->type = RTYPE_INVALID;
			}
		}
	} else if (v->table != TABLE_INVALID) {
		v->type = table_is_bits(v->table) ? RTYPE_BIT : RTYPE_U16;
	}

	n = found[VF_ORDER];
	if (n && yval_enum(y, where, "word_order", n, order_enum, ARRAY_SIZE(order_enum), &t)) {
		if (v->type != RTYPE_INVALID && profile_type_width(v->type) != 2)
			yval_err(y, n,
				 "%s: word_order applies only to 32-bit types (u32, s32, f32), "
				 "not %s",
				 where, reg_type_name(v->type));
		else
			v->order = (enum word_order)t;
	}

	if (addr >= 0) {
		if (v->type != RTYPE_INVALID && addr + (long)profile_type_width(v->type) > 65536)
			yval_err(y, addr_at,
				 "%s: %s value at wire address %ld runs past address 65535", where,
				 reg_type_name(v->type), addr);
		else
			v->address = (uint16_t)addr;
	}

	n = found[VF_SCALE];
	if (n && v->scale == 0)
		yval_err(y, n, "%s: scale must not be 0", where);
	n = found[VF_VMAX];
	if (n && !isnan(v->valid_min) && !isnan(v->valid_max) && !(v->valid_min < v->valid_max))
		yval_err(y, n, "%s: valid_min %g must be below valid_max %g", where, v->valid_min,
			 v->valid_max);
}

/* ---- flag sources ---- */

static const struct yval_field src_fields[] = {
    {.name = "value",
     .type = YV_NODE,
     .required = true,
     .hint = " (the name of one of the values)"},
    YV_F_NODE("bit"),
    YV_F_NODE("bits"),
    YV_F_BOOL(struct flag_src, invert),
};

/* Checks one bit number against the value's raw width and adds it. */
static bool add_bit(struct ctx *c, const char *where, const struct ynode *n,
		    const struct profile_value *v, uint32_t *mask)
{
	long bit;
	unsigned width = type_bits(v->type);

	if (!yval_long(&c->y, where, "bit", n, 0, 31, false, &bit))
		return false;
	if ((unsigned long)bit >= width) {
		yval_err(&c->y, n, "%s: bit %ld is outside value '%s' (%s has bit%s 0..%u)", where,
			 bit, v->name, reg_type_name(v->type), width == 1 ? "" : "s", width - 1);
		return false;
	}
	*mask |= 1u << bit;
	return true;
}

/* {value: NAME, bit: N | bits: [..], invert: bool} under key name of
 * parent (where names both in messages). */
static void parse_src(struct ctx *c, const char *parent, const char *name, const struct ynode *m,
		      struct flag_src *src)
{
	struct yval *y = &c->y;
	const struct profile *p = c->p;
	const struct ynode *found[YVAL_FIELD_MAX], *n, *bit, *bits;
	const struct profile_value *v;
	char where[96];
	uint32_t mask = 0;
	bool ok = true;
	size_t i;
	int vi;

	src->value = -1;
	src->mask = 0;
	src->invert = false;
	if (!yval_is(y, parent, name, m, YNODE_MAP, "a mapping like {value: NAME, bit: N}"))
		return;
	snprintf(where, sizeof(where), "%s %s", parent, name);
	yval_map(y, where, m, src_fields, ARRAY_SIZE(src_fields), src, found);
	n = found[0];
	if (!n || !yval_is(y, where, "value", n, YNODE_SCALAR, "a value name"))
		return;
	vi = profile_value_index(p, n->scalar);
	if (vi < 0) {
		yval_err(y, n, "%s: refers to unknown value '" CLIP "'", where, n->scalar);
		return;
	}
	v = &p->values[vi];
	if (v->type == RTYPE_INVALID)
		return; /* already reported at the value */
	if (v->type == RTYPE_F32) {
		yval_err(y, n,
			 "%s: uses f32 value '%s'; flags need an integer value (u16, s16, u32, "
			 "s32) or a bit",
			 where, v->name);
		return;
	}
	if (v->scale != 1 || v->offset != 0) {
		yval_err(y, n,
			 "%s: uses scaled value '%s'; flags test raw bits, so the value needs "
			 "scale 1 and offset 0",
			 where, v->name);
		return;
	}
	bit = found[1];
	bits = found[2];
	if (bit && bits) {
		yval_err(y, bits, "%s: has both 'bit' and 'bits'; give one", where);
		return;
	}
	if (bit) {
		ok = add_bit(c, where, bit, v, &mask);
	} else if (bits) {
		if (!yval_is_seq(y, where, "bits", bits))
			return;
		if (bits->n == 0) {
			yval_err(y, bits, "%s: 'bits' is empty; list at least one bit", where);
			return;
		}
		for (i = 0; i < bits->n; i++)
			if (!add_bit(c, where, bits->values[i], v, &mask))
				ok = false;
	} else if (v->type == RTYPE_BIT) {
		mask = 1;
	} else {
		yval_err(y, m, "%s: on register value '%s' needs 'bit' or 'bits'", where, v->name);
		return;
	}
	if (!ok)
		return;
	src->value = vi;
	src->mask = mask;
}

/* ---- points ---- */

static const struct yval_field point_fields[] = {
    {.name = "name",
     .type = YV_ID,
     .off = offsetof(struct profile_point, name),
     .size = POINT_NAME_MAX,
     .required = true},
    {.name = "kind",
     .type = YV_ENUM,
     .off = offsetof(struct profile_point, kind),
     .names = kind_enum,
     .n_names = ARRAY_SIZE(kind_enum),
     .required = true,
     .hint = " (smoke, heat, fire, temperature or input)"},
    YV_F_NODE("flags"),
    YV_F_NODE("value"),
    YV_F_NODE("rules"),
    YV_F_NODE("input"),
    {.name = "as",
     .type = YV_ENUM,
     .off = offsetof(struct profile_point, as),
     .names = profile_as_names,
     .n_names = PROFILE_N_AS_NAMES},
    YV_F_NODE("en54_class"),
};

enum { PF_NAME, PF_KIND, PF_FLAGS, PF_VALUE, PF_RULES, PF_INPUT, PF_AS, PF_EN54 };

static void parse_point(struct ctx *c, size_t idx, const struct ynode *m)
{
	struct yval *y = &c->y;
	struct profile *p = c->p;
	struct profile_point *pt = &p->points[p->n_points];
	const struct ynode *found[YVAL_FIELD_MAX], *n, *flags;
	struct yrules_pos pos = {{NULL}};
	char where[64], w[96];
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
	entry_where("point", idx, m, POINT_NAME_MAX, where, sizeof(where));
	if (!yval_is_map(y, "points", where, m))
		return;
	yval_map(y, where, m, point_fields, ARRAY_SIZE(point_fields), pt, found);

	n = found[PF_NAME];
	for (j = 0; n && pt->name[0] && j < p->n_points; j++)
		if (strcmp(p->points[j].name, pt->name) == 0) {
			yval_err(y, n, "%s: duplicate point name '%s' (first at line %d)", where,
				 pt->name, p->points[j].line);
			pt->name[0] = '\0';
			break;
		}
	pt->rules.is_input = pt->kind == PKIND_INPUT;

	n = found[PF_VALUE];
	if (n && yval_is(y, where, "value", n, YNODE_SCALAR, "a value name")) {
		int vi = profile_value_index(p, n->scalar);

		if (vi < 0)
			yval_err(y, n, "%s: refers to unknown value '" CLIP "'", where, n->scalar);
		else if (p->values[vi].type == RTYPE_BIT)
			yval_err(y, n, "%s: value '%s' is a bit; rules need a register value",
				 where, n->scalar);
		else
			pt->value = vi;
	}
	if (pt->value >= 0) {
		pt->rules.valid_min = p->values[pt->value].valid_min;
		pt->rules.valid_max = p->values[pt->value].valid_max;
	}

	flags = found[PF_FLAGS];
	snprintf(w, sizeof(w), "%s flags", where);
	if (flags && yval_is_map(y, where, "flags", flags)) {
		if (pt->kind == PKIND_INPUT)
			yval_err(y, flags, "%s: an input point takes 'input' and 'as', not 'flags'",
				 where);
		for (j = 0; j < flags->n; j++) {
			const struct ynode *key = flags->keys[j];
			enum flag_kind fk = flag_kind_from_name(key->scalar);
			char what[48];

			if (fk <= FLAG_INVALID || fk >= FLAG_MAX) {
				yval_unknown_name(y, w, key, flag_names);
				continue;
			}
			snprintf(what, sizeof(what), "flag '%s'", key->scalar);
			parse_src(c, where, what, flags->values[j], &pt->flags[fk]);
		}
	}

	if (pt->kind == PKIND_INPUT) {
		if (!found[PF_INPUT])
			yval_missing(y, where, m, "input",
				     " for a point of kind input (its channel: "
				     "input: {value: NAME})");
		else
			parse_src(c, where, "input", found[PF_INPUT], &pt->input);
	} else if (pt->kind != PKIND_INVALID) {
		if (found[PF_INPUT])
			yval_err(y, yval_key(m, "input"),
				 "%s: 'input' is only for points of kind "
				 "input",
				 where);
		if (found[PF_AS])
			yval_err(y, yval_key(m, "as"), "%s: 'as' is only for points of kind input",
				 where);
		pt->as = FLAG_INVALID;
	}

	if (found[PF_RULES]) {
		struct yrules rs;

		snprintf(w, sizeof(w), "%s rules", where);
		yrules_parse(y, w, "rules", found[PF_RULES], YRULES_DEFAULTS, &rs);
		yrules_check_fit(y, w, &rs, pt->name, pt->value >= 0);
		yrules_apply(&rs, &pt->rules, &pt->en54, &pos);
	}
	n = found[PF_EN54];
	if (n) {
		const struct ynode *key = yval_key(m, "en54_class");

		if (pos.at[YRULE_EN54])
			yval_err(y, key,
				 "%s: en54_class is given twice (here and in rules at line %d)",
				 where, pos.at[YRULE_EN54]->line);
		else if (yrules_parse_en54(y, where, n, YRULES_DEFAULTS, &pt->en54))
			pos.at[YRULE_EN54] = key;
	}
	yrules_check(y, where, &pt->rules, pt->en54, pt->kind, &pos);

	if (pt->kind != PKIND_INVALID && pt->kind != PKIND_INPUT && !flags && !found[PF_VALUE])
		yval_err(y, m, "%s: has no flags and no value: it could never alarm", where);
}

/* ---- the file ---- */

static const struct yval_field top_fields[] = {
    YV_F_NODE("profile"),
    YV_F_STR(struct profile, description),
    {.name = "addressing",
     .type = YV_INT,
     .off = offsetof(struct profile, base),
     .min = 0,
     .max = 1},
    {.name = "values",
     .type = YV_NODE,
     .required = true,
     .hint = " (the registers and bits to read)"},
    {.name = "points",
     .type = YV_NODE,
     .required = true,
     .hint = " (the alarm points of the device)"},
};

enum { TF_PROFILE, TF_DESCRIPTION, TF_ADDRESSING, TF_VALUES, TF_POINTS };

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

static void plan_blocks(struct ctx *c, const struct ynode *values)
{
	struct profile *p = c->p;
	size_t first = 0;
	int r;

	r = profile_plan_blocks(p, &first);
	if (r == -ENOSPC)
		yval_err(&c->y, values,
			 "values need more than %d separate reads "
			 "(PROFILE_MAX_BLOCKS); value '%s' at line %d starts read %d: "
			 "bring the addresses closer",
			 PROFILE_MAX_BLOCKS, p->values[first].name, p->values[first].line,
			 PROFILE_MAX_BLOCKS + 1);
	else if (r == -E2BIG)
		yval_err(&c->y, values,
			 "values need %zu registers and bits per poll, more than %d "
			 "(PROFILE_MAX_WORDS): remove values or close the gaps",
			 p->n_words, PROFILE_MAX_WORDS);
}

static void parse_root(struct ctx *c, const struct ynode *root)
{
	struct yval *y = &c->y;
	struct profile *p = c->p;
	const struct ynode *found[YVAL_FIELD_MAX], *n, *values, *points;
	char stem[256], hint[320];
	size_t i, value_errs;

	if (!yval_is_root_map(y, root, "profile:, values:, points:, ..."))
		return;
	yval_map(y, "the top level", root, top_fields, ARRAY_SIZE(top_fields), p, found);

	n = found[TF_PROFILE];
	file_stem(c->file, stem, sizeof(stem));
	if (!n) {
		snprintf(hint, sizeof(hint),
			 "; write profile: %s (the profile's name, equal to the "
			 "file name)",
			 stem);
		yval_missing(y, "the top level", root, "profile", hint);
	} else if (yval_id(y, "the top level", "profile", n, p->name, PROFILE_NAME_MAX) &&
		   strcmp(p->name, stem) != 0) {
		yval_err(y, n,
			 "profile '%s' is in file '%s.yaml'; the name must equal the file name",
			 p->name, stem);
	}

	value_errs = y->n_errors;
	values = found[TF_VALUES];
	if (values && yval_is_seq(y, "the top level", "values", values)) {
		if (values->n == 0)
			yval_err(y, values, "'values' is empty; list at least one value");
		for (i = 0; i < values->n; i++) {
			if (p->n_values == PROFILE_MAX_VALUES) {
				yval_err(y, values->values[i],
					 "more than %d values (PROFILE_MAX_VALUES)",
					 PROFILE_MAX_VALUES);
				break;
			}
			parse_value(c, i, values->values[i]);
			p->n_values++;
		}
	}
	value_errs = y->n_errors - value_errs;

	points = found[TF_POINTS];
	if (points && yval_is_seq(y, "the top level", "points", points)) {
		if (points->n == 0)
			yval_err(y, points, "'points' is empty; list at least one alarm point");
		for (i = 0; i < points->n; i++) {
			if (p->n_points == PROFILE_MAX_POINTS) {
				yval_err(y, points->values[i],
					 "more than %d points (PROFILE_MAX_POINTS)",
					 PROFILE_MAX_POINTS);
				break;
			}
			parse_point(c, i, points->values[i]);
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
	struct ctx c = {.file = path};
	size_t errs_before = errs->n_errors;
	int r;

	yval_init(&c.y, path, errs);
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
