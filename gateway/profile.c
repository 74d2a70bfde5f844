/* profile.c - sensor profiles, the pure part: names of tables, types and
 * classes, the EN 54-5 class ranges, the read plan (blocks), and the
 * decoding/encoding of raw words. No I/O and no globals: the poller
 * threads and the simulator call it on a profile nobody modifies. Reading
 * a profile file is profile_load.c's. Format: docs/profiles.md. */
#include "profile.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Modbus application protocol v1.1b3 §6.3/§6.4: one read returns at most
 * 125 registers; §6.1/§6.2: at most 2000 coils or discrete inputs. */
#define MB_MAX_REGS 125
#define MB_MAX_BITS 2000
/* Gaps merged into one read: a request costs a whole round trip (25-30 ms
 * at 9600 baud), a few extra registers cost 2 bytes each. */
#define MERGE_GAP_REGS 8
#define MERGE_GAP_BITS 16

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

unsigned profile_type_width(enum reg_type t)
{
	return type_width(t);
}

const char *reg_type_name(enum reg_type t)
{
	if (t < 0 || t >= RTYPE_MAX)
		return "invalid";
	return type_names[t];
}

static bool table_is_bits(enum reg_table t)
{
	return t == TABLE_COIL || t == TABLE_DISCRETE;
}

/* ---- blocks ---- */

/* Plans the reads: per table, values by address, merged across small gaps
 * up to the Modbus per-request limits. Blocks come out ordered by table
 * then address, and words_offset packs them one after another. */
int profile_plan_blocks(struct profile *p, size_t *ret_value)
{
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
			if (!blocks_full && ret_value)
				*ret_value = order[i];
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
	if (blocks_full)
		return -ENOSPC;
	if (words > PROFILE_MAX_WORDS)
		return -E2BIG;
	return 0;
}

void profile_free(struct profile *p)
{
	free(p);
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
