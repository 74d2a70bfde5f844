/* yval.h - checked reading of ytree nodes: typed getters and field tables
 * shared by config_load and profile_load, so that one mistake (an unknown
 * key, a missing key, a wrong type, a value out of range) gets one wording
 * wherever it is made. Every message is "<where>: ..." at the node's
 * line:col and goes to an errlist (or to the caller's sink, which config.c
 * uses to sort its diagnostics by position). Pure: no I/O, no globals. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "errlist.h"
#include "ytree.h"

/* Scalars are quoted in messages clipped, so a 4 KB value cannot flood them. */
#define YVAL_CLIP "%.60s"

/* Where messages go: emit(arg, ...) when set, else errlist_add/warn on errs
 * with file. n_errors counts the errors reported through this yval. */
typedef void yval_emit_fn(void *arg, bool warning, const struct ynode *at, const char *msg);
struct yval {
	const char *file;
	struct errlist *errs;
	yval_emit_fn *emit;
	void *arg;
	size_t n_errors;
};

void yval_init(struct yval *y, const char *file, struct errlist *errs);
void yval_init_emit(struct yval *y, const char *file, yval_emit_fn *emit, void *arg);
/* at NULL: no position ("file: error: ..."). */
void yval_err(struct yval *y, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void yval_warn(struct yval *y, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- node kinds ---- */

/* True when v is of kind; else "<where>: <name>: expected <what>, got 'x'"
 * (or "got a mapping"). */
bool yval_is(struct yval *y, const char *where, const char *name, const struct ynode *v,
	     enum ynode_kind kind, const char *what);
/* what = "a mapping (key: value lines)" / "a list ('- item' lines or [a, b])" */
bool yval_is_map(struct yval *y, const char *where, const char *name, const struct ynode *v);
bool yval_is_seq(struct yval *y, const char *where, const char *name, const struct ynode *v);
/* The root of a file: "the top level must be a mapping of sections
 * (<sections>), not a sequence". */
bool yval_is_root_map(struct yval *y, const struct ynode *root, const char *sections);
/* An unquoted empty scalar, ~ or null. */
bool yval_is_null(const struct ynode *v);
/* The key node of map's entry key (for positions), or NULL. */
const struct ynode *yval_key(const struct ynode *map, const char *key);

/* ---- typed scalars: false (and one error at v) when wrong ---- */

/* A whole number in min..max, unquoted. hex also takes 0x1f (register
 * addresses as manuals print them). */
bool yval_long(struct yval *y, const char *where, const char *name, const struct ynode *v, long min,
	       long max, bool hex, long *ret);
bool yval_int(struct yval *y, const char *where, const char *name, const struct ynode *v, long min,
	      long max, int *ret);
/* A finite number in min..max (-HUGE_VAL/HUGE_VAL: unbounded); with
 * nullable, null (or ~) gives NAN, "not set". */
bool yval_double(struct yval *y, const char *where, const char *name, const struct ynode *v,
		 double min, double max, bool nullable, double *ret);
/* true or false, unquoted: YAML 1.1's yes/no/on/off are refused because an
 * installer cannot know which YAML version reads the file. */
bool yval_bool(struct yval *y, const char *where, const char *name, const struct ynode *v,
	       bool *ret);
/* Any scalar shorter than size. */
bool yval_str(struct yval *y, const char *where, const char *name, const struct ynode *v, char *buf,
	      size_t size);
/* A slug (lowercase letters, digits, '-'; util_is_slug) shorter than size. */
bool yval_slug(struct yval *y, const char *where, const char *name, const struct ynode *v,
	       char *buf, size_t size);
/* A plain id (A-Z a-z 0-9 _ -; util_is_plain_id) shorter than size. */
bool yval_id(struct yval *y, const char *where, const char *name, const struct ynode *v, char *buf,
	     size_t size);

/* One name of an enum; label, when set, is what messages show ("N (none)"). */
struct yval_enum {
	const char *name;
	int value;
	const char *label;
};
/* One of names[0..n): "<where>: <name>: expected a, b or c, got 'x'". */
bool yval_enum(struct yval *y, const char *where, const char *name, const struct ynode *v,
	       const struct yval_enum *names, size_t n, int *ret);

/* ---- mappings described by field tables ---- */

enum yval_type {
	YV_INVALID = -1,
	YV_NODE,   /* only recorded in found[]: the caller reads it */
	YV_INT,	   /* int at off, min..max */
	YV_DOUBLE, /* double at off, dmin..dmax (nullable: null gives NAN) */
	YV_STR,	   /* char[size] at off */
	YV_SLUG,   /* char[size] at off */
	YV_ID,	   /* char[size] at off */
	YV_BOOL,   /* bool at off */
	YV_ENUM,   /* int-sized enum at off, one of names[0..n_names) */
	YV_MAX
};

struct yval_field {
	const char *name;
	enum yval_type type;
	size_t off, size;
	long min, max;
	double dmin, dmax;
	bool nullable;
	const struct yval_enum *names;
	size_t n_names;
	bool required;
	const char *hint; /* after "'x' is required": " (the serial port ...)" */
};

#define YVAL_FIELD_MAX 24

#define YV_F_NODE(n)                                                                               \
	{                                                                                          \
		.name = n, .type = YV_NODE                                                         \
	}
#define YV_F_INT(s, m, lo, hi)                                                                     \
	{                                                                                          \
		.name = #m, .type = YV_INT, .off = offsetof(s, m), .min = lo, .max = hi            \
	}
#define YV_F_STR(s, m)                                                                             \
	{                                                                                          \
		.name = #m, .type = YV_STR, .off = offsetof(s, m), .size = sizeof(((s *)0)->m)     \
	}
#define YV_F_SLUG(s, m)                                                                            \
	{                                                                                          \
		.name = #m, .type = YV_SLUG, .off = offsetof(s, m), .size = sizeof(((s *)0)->m)    \
	}
#define YV_F_BOOL(s, m)                                                                            \
	{                                                                                          \
		.name = #m, .type = YV_BOOL, .off = offsetof(s, m)                                 \
	}

/* "unknown key 'x' in <where>; allowed: a, b, c" at key. */
void yval_unknown_key(struct yval *y, const char *where, const struct ynode *key,
		      const struct yval_field *fields, size_t n);
/* The same for a list of names (NULL-terminated), for maps whose keys are
 * not fields (flag names). */
void yval_unknown_name(struct yval *y, const char *where, const struct ynode *key,
		       const char *const *names);
/* "<where>: '<key>' is required<hint>" at at (the mapping). */
void yval_missing(struct yval *y, const char *where, const struct ynode *at, const char *key,
		  const char *hint);

/* Walks map in document order: each known key is parsed into obj (or only
 * recorded, YV_NODE), each unknown key is an error; then each required
 * field that is absent is an error at the mapping. found[i] (n entries) is
 * the value node of fields[i], set also when its value was wrong. obj may
 * be NULL when every field is YV_NODE. */
void yval_map(struct yval *y, const char *where, const struct ynode *map,
	      const struct yval_field *fields, size_t n, void *obj, const struct ynode **found);
/* Parses v as field f into obj (nothing for YV_NODE); false when wrong. */
bool yval_field(struct yval *y, const char *where, const struct yval_field *f,
		const struct ynode *v, void *obj);
/* Index of name in fields, or -1. */
int yval_field_index(const struct yval_field *fields, size_t n, const char *name);
