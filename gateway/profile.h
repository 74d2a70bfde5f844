/* profile.h - sensor profiles: a device model's register map, flags, input
 * channels, alarm points and default rules, loaded from YAML in sensors/.
 * Loading (profile_load.h, included below) does file I/O; everything
 * declared here is pure. Format: docs/profiles.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

enum reg_table { TABLE_INVALID = -1, TABLE_COIL, TABLE_DISCRETE, TABLE_HOLDING, TABLE_INPUT, TABLE_MAX };
const char *reg_table_name(enum reg_table t); /* "coil", "discrete", "holding", "input" */

enum reg_type { RTYPE_INVALID = -1, RTYPE_BIT, RTYPE_U16, RTYPE_S16, RTYPE_U32, RTYPE_S32, RTYPE_F32, RTYPE_MAX };
enum word_order { WORDS_INVALID = -1, WORDS_HIGH_FIRST, WORDS_LOW_FIRST, WORDS_MAX };

/* EN 54-5 classes (SPEC §4) with their static response ranges. */
enum en54_class { EN54_INVALID = -1, EN54_NONE = 0, EN54_A1, EN54_A2, EN54_B, EN54_C, EN54_D, EN54_E, EN54_F, EN54_G, EN54_MAX };
/* Range of alarm_above allowed for the class; -EINVAL for NONE/INVALID. */
int en54_class_range(enum en54_class c, double *ret_min, double *ret_max);
const char *en54_class_name(enum en54_class c); /* "A1", ... */

#define PROFILE_NAME_MAX 64
#define PROFILE_MAX_WORDS 512 /* registers + bits one device may read per poll */
#define PROFILE_MAX_VALUES 64
#define PROFILE_MAX_POINTS 32
#define PROFILE_MAX_BLOCKS 16

/* One decoded value of a device ("point" in SPEC §2 words). */
struct profile_value {
	char name[32];
	enum reg_table table;
	uint16_t address;      /* on the wire, 0-based (1-based profiles converted) */
	enum reg_type type;
	enum word_order order; /* for 32-bit types */
	double scale, offset;  /* engineering = raw * scale + offset */
	char unit[16];         /* "%/m", "°C", "%RH", "" */
	double valid_min, valid_max; /* NAN when none */
	int block;             /* index into profile.blocks */
	uint16_t block_offset; /* first word/bit of the value inside that block */
	int line, col;         /* in the profile file */
};

/* Kind of alarm point: decides "type" in events and the fire cid. */
enum point_kind { PKIND_INVALID = -1, PKIND_SMOKE, PKIND_HEAT, PKIND_FIRE, PKIND_TEMPERATURE, PKIND_INPUT, PKIND_MAX };
/* "smoke" (cid 1111), "heat" (1114), "fire" (panel input / unknown, 1110),
 * "temperature" (threshold rules only; fire cid 1114), "input" (module
 * channel whose meaning comes from "as") */
const char *point_kind_name(enum point_kind k);

/* A flag source: active when ((raw value) & mask) != 0, inverted if invert. */
struct flag_src {
	int value;     /* index into profile.values, -1 when the flag is absent */
	uint32_t mask; /* bits of the raw integer value; 1 for a coil/discrete bit */
	bool invert;
};

struct profile_point {
	char name[32];
	enum point_kind kind;
	struct flag_src flags[FLAG_MAX]; /* device flags */
	struct flag_src input;           /* PKIND_INPUT: the channel bit */
	enum flag_kind as;               /* PKIND_INPUT: default meaning, FLAG_INVALID = unused */
	int value;                       /* analog value for rules, -1 none */
	struct detect_rules rules;       /* defaults (detect_rules_default + profile) */
	enum en54_class en54;
	int line, col;
};

/* A contiguous read: one Modbus request per block per poll. */
struct profile_block {
	enum reg_table table;
	uint16_t address;
	uint16_t count;        /* registers or bits; <= 125 registers, <= 2000 bits */
	uint16_t words_offset; /* where its data starts in profile_raw.words */
};

struct profile {
	char name[PROFILE_NAME_MAX];
	char description[128];
	char path[256];
	int base;              /* 0 or 1: addressing convention of the file */
	struct profile_value values[PROFILE_MAX_VALUES];
	size_t n_values;
	struct profile_point points[PROFILE_MAX_POINTS];
	size_t n_points;
	struct profile_block blocks[PROFILE_MAX_BLOCKS];
	size_t n_blocks;
	size_t n_words; /* sum of block counts (each bit takes one word) */
};

void profile_free(struct profile *p);
int profile_value_index(const struct profile *p, const char *name); /* -1 */
int profile_point_index(const struct profile *p, const char *name); /* -1 */

/* Registers (or bits) a value of type t occupies on the wire: 1 or 2. */
unsigned profile_type_width(enum reg_type t);
const char *reg_type_name(enum reg_type t); /* "bit", "u16", ... */
/* Plans the reads of p's values (table, address, type set): per table, by
 * address, merged across small gaps up to the Modbus per-request limits,
 * ordered by table then address; sets p->blocks, the values' block and
 * block_offset, and p->n_words. Pure. 0; -ENOSPC when more than
 * PROFILE_MAX_BLOCKS reads are needed (*ret_value: the first value that
 * did not fit); -E2BIG when the blocks hold more than PROFILE_MAX_WORDS. */
int profile_plan_blocks(struct profile *p, size_t *ret_value);

/* Raw data of one poll: the blocks' words (bits as 0/1 words), laid out as
 * blocks[i].words_offset says. */
struct profile_raw {
	uint16_t words[PROFILE_MAX_WORDS];
};

struct value_reading {
	bool ok;        /* false: value is NaN/Inf (f32) or not read */
	double value;   /* engineering units */
	uint32_t raw;   /* integer raw value for flag masks (u16/u32/s16/s32 bits, f32 bits) */
};
/* Decodes every value of p from raw into out[p->n_values]. Pure. */
void profile_decode(const struct profile *p, const struct profile_raw *raw, struct value_reading *out);
/* Inverse, for the simulator: writes value v (engineering units) of value
 * index vi into raw. -ERANGE if it does not fit the type. */
int profile_encode(const struct profile *p, int vi, double v, struct profile_raw *raw);
/* True when flag source f is active in the decoded readings. */
bool profile_flag_active(const struct flag_src *f, const struct value_reading *vals);

/* The loader: profile_load(), profile_find(). */
#include "profile_load.h"
