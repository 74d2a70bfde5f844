/* yval.c - checked reading of ytree nodes, one wording per mistake.
 *
 * The getters and field tables config.c and profile_load.c read their YAML
 * with. Owns nothing: a struct yval is the caller's, messages go straight
 * to its errlist or sink. Pure (no I/O, no globals), so any thread may use
 * it on its own tree; in practice the thread that loads the config. */
#include "yval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CLIP YVAL_CLIP

void yval_init(struct yval *y, const char *file, struct errlist *errs)
{
	memset(y, 0, sizeof(*y));
	y->file = file;
	y->errs = errs;
}

void yval_init_emit(struct yval *y, const char *file, yval_emit_fn *emit, void *arg)
{
	memset(y, 0, sizeof(*y));
	y->file = file;
	y->emit = emit;
	y->arg = arg;
}

__attribute__((format(printf, 4, 0))) static void
yval_vreport(struct yval *y, bool warning, const struct ynode *at, const char *fmt, va_list ap)
{
	char msg[768];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!warning)
		y->n_errors++;
	if (y->emit)
		y->emit(y->arg, warning, at, msg);
	else if (warning)
		errlist_warn(y->errs, y->file, at ? at->line : 0, at ? at->col : 0, "%s", msg);
	else
		errlist_add(y->errs, y->file, at ? at->line : 0, at ? at->col : 0, "%s", msg);
}

void yval_err(struct yval *y, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yval_vreport(y, false, at, fmt, ap);
	va_end(ap);
}

void yval_warn(struct yval *y, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yval_vreport(y, true, at, fmt, ap);
	va_end(ap);
}

/* ---- node kinds ---- */

bool yval_is(struct yval *y, const char *where, const char *name, const struct ynode *v,
	     enum ynode_kind kind, const char *what)
{
	if (v->kind == kind)
		return true;
	if (v->kind == YNODE_SCALAR)
		yval_err(y, v, "%s: %s: expected %s, got '" CLIP "'", where, name, what, v->scalar);
	else
		yval_err(y, v, "%s: %s: expected %s, got a %s", where, name, what,
			 ynode_kind_name(v->kind));
	return false;
}

bool yval_is_map(struct yval *y, const char *where, const char *name, const struct ynode *v)
{
	return yval_is(y, where, name, v, YNODE_MAP, "a mapping (key: value lines)");
}

bool yval_is_seq(struct yval *y, const char *where, const char *name, const struct ynode *v)
{
	return yval_is(y, where, name, v, YNODE_SEQ, "a list ('- item' lines or [a, b])");
}

bool yval_is_root_map(struct yval *y, const struct ynode *root, const char *sections)
{
	if (root->kind == YNODE_MAP)
		return true;
	yval_err(y, root, "the top level must be a mapping of sections (%s), not a %s", sections,
		 ynode_kind_name(root->kind));
	return false;
}

bool yval_is_null(const struct ynode *v)
{
	return v->kind == YNODE_SCALAR && !v->quoted &&
	       (v->scalar[0] == '\0' || strcmp(v->scalar, "~") == 0 ||
		strcmp(v->scalar, "null") == 0);
}

const struct ynode *yval_key(const struct ynode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->scalar, key) == 0)
			return map->keys[i];
	return NULL;
}

/* ---- typed scalars ---- */

/* A number must be a plain scalar: "20" in quotes is a string, and almost
 * always a mistake in a hand-edited file. */
static bool number_scalar(struct yval *y, const char *where, const char *name,
			  const struct ynode *v)
{
	if (!yval_is(y, where, name, v, YNODE_SCALAR, "a number"))
		return false;
	if (v->quoted) {
		yval_err(y, v,
			 "%s: %s: expected a number, got the string \"" CLIP
			 "\"; write the number without quotes",
			 where, name, v->scalar);
		return false;
	}
	return true;
}

/* 0x followed by hex digits only: strtoul alone would take " 1", "-1"
 * and "+1" after the 0x. -EINVAL, -ERANGE as util_parse_long. */
static int parse_hex(const char *s, long min, long max, long *ret)
{
	unsigned long v;
	char *end;
	size_t i;

	for (i = 2; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
	if (i == 2)
		return -EINVAL;
	errno = 0;
	v = strtoul(s + 2, &end, 16);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > (unsigned long)max || (long)v < min)
		return -ERANGE;
	*ret = (long)v;
	return 0;
}

bool yval_long(struct yval *y, const char *where, const char *name, const struct ynode *v, long min,
	       long max, bool hex, long *ret)
{
	const char *s;
	int r;

	if (!number_scalar(y, where, name, v))
		return false;
	s = v->scalar;
	if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		r = parse_hex(s, min, max, ret);
	else
		r = util_parse_long(s, min, max, ret);
	if (r == -ERANGE) {
		yval_err(y, v,
			 "%s: %s " CLIP
			 " is out of range %ld..%ld; use a whole number in that range",
			 where, name, s, min, max);
		return false;
	}
	if (r < 0) {
		yval_err(y, v, "%s: %s: expected a whole number in %ld..%ld, got '" CLIP "'", where,
			 name, min, max, s);
		return false;
	}
	return true;
}

bool yval_int(struct yval *y, const char *where, const char *name, const struct ynode *v, long min,
	      long max, int *ret)
{
	long l;

	if (!yval_long(y, where, name, v, min, max, false, &l))
		return false;
	*ret = (int)l;
	return true;
}

bool yval_double(struct yval *y, const char *where, const char *name, const struct ynode *v,
		 double min, double max, bool nullable, double *ret)
{
	double d;

	if (!yval_is(y, where, name, v, YNODE_SCALAR, "a number"))
		return false;
	if (nullable && yval_is_null(v)) {
		*ret = NAN;
		return true;
	}
	if (!number_scalar(y, where, name, v))
		return false;
	if (util_parse_double(v->scalar, &d) < 0) {
		yval_err(y, v, "%s: %s: expected a number%s, got '" CLIP "'", where, name,
			 nullable ? " (or null to remove it)" : "", v->scalar);
		return false;
	}
	if (d < min || d > max) {
		if (isinf(max))
			yval_err(y, v, "%s: %s %g must be %g or more", where, name, d, min);
		else if (isinf(min))
			yval_err(y, v, "%s: %s %g must be %g or less", where, name, d, max);
		else
			yval_err(y, v, "%s: %s %g is out of range %g..%g", where, name, d, min,
				 max);
		return false;
	}
	*ret = d;
	return true;
}

bool yval_bool(struct yval *y, const char *where, const char *name, const struct ynode *v,
	       bool *ret)
{
	if (!yval_is(y, where, name, v, YNODE_SCALAR, "true or false"))
		return false;
	if (!v->quoted && strcmp(v->scalar, "true") == 0) {
		*ret = true;
		return true;
	}
	if (!v->quoted && strcmp(v->scalar, "false") == 0) {
		*ret = false;
		return true;
	}
	yval_err(y, v, "%s: %s: expected true or false, got '" CLIP "'", where, name, v->scalar);
	return false;
}

bool yval_str(struct yval *y, const char *where, const char *name, const struct ynode *v, char *buf,
	      size_t size)
{
	size_t len;

	if (!yval_is(y, where, name, v, YNODE_SCALAR, "a string"))
		return false;
	len = strlen(v->scalar);
	if (len >= size) {
		yval_err(y, v, "%s: %s is too long (%zu bytes, at most %zu); shorten it", where,
			 name, len, size - 1);
		return false;
	}
	memcpy(buf, v->scalar, len + 1);
	return true;
}

bool yval_slug(struct yval *y, const char *where, const char *name, const struct ynode *v,
	       char *buf, size_t size)
{
	if (!yval_is(y, where, name, v, YNODE_SCALAR, "an id"))
		return false;
	if (!util_is_slug(v->scalar) || strlen(v->scalar) >= size) {
		yval_err(y, v,
			 "%s: %s '" CLIP "' is not a valid id; use lowercase letters, digits "
			 "and '-', starting with a letter or digit, at most %zu characters",
			 where, name, v->scalar, size - 1);
		return false;
	}
	memcpy(buf, v->scalar, strlen(v->scalar) + 1);
	return true;
}

bool yval_id(struct yval *y, const char *where, const char *name, const struct ynode *v, char *buf,
	     size_t size)
{
	if (!yval_is(y, where, name, v, YNODE_SCALAR, "a name"))
		return false;
	if (!util_is_plain_id(v->scalar) || strlen(v->scalar) >= size) {
		yval_err(y, v,
			 "%s: %s '" CLIP "' is not a valid name; use 1 to %zu of A-Z a-z 0-9 _ -",
			 where, name, v->scalar, size - 1);
		return false;
	}
	memcpy(buf, v->scalar, strlen(v->scalar) + 1);
	return true;
}

/* "a, b or c" */
static void enum_list(const struct yval_enum *names, size_t n, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i == 0	     ? ""
					: i + 1 == n ? " or "
						     : ", ",
					names[i].label ? names[i].label : names[i].name);
}

bool yval_enum(struct yval *y, const char *where, const char *name, const struct ynode *v,
	       const struct yval_enum *names, size_t n, int *ret)
{
	char list[400];
	size_t i;

	enum_list(names, n, list, sizeof(list));
	if (!yval_is(y, where, name, v, YNODE_SCALAR, list))
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(names[i].name, v->scalar) == 0) {
			*ret = names[i].value;
			return true;
		}
	yval_err(y, v, "%s: %s: expected %s, got '" CLIP "'", where, name, list, v->scalar);
	return false;
}

/* ---- mappings ---- */

void yval_unknown_key(struct yval *y, const char *where, const struct ynode *key,
		      const struct yval_field *fields, size_t n)
{
	char allowed[512];
	size_t i, len = 0;

	allowed[0] = '\0';
	for (i = 0; i < n && len < sizeof(allowed); i++)
		len += (size_t)snprintf(allowed + len, sizeof(allowed) - len, "%s%s", i ? ", " : "",
					fields[i].name);
	yval_err(y, key, "unknown key '" CLIP "' in %s; allowed: %s", key->scalar, where, allowed);
}

void yval_unknown_name(struct yval *y, const char *where, const struct ynode *key,
		       const char *const *names)
{
	char allowed[512];
	size_t i, len = 0;

	allowed[0] = '\0';
	for (i = 0; names[i] && len < sizeof(allowed); i++)
		len += (size_t)snprintf(allowed + len, sizeof(allowed) - len, "%s%s", i ? ", " : "",
					names[i]);
	yval_err(y, key, "unknown key '" CLIP "' in %s; allowed: %s", key->scalar, where, allowed);
}

void yval_missing(struct yval *y, const char *where, const struct ynode *at, const char *key,
		  const char *hint)
{
	yval_err(y, at, "%s: '%s' is required%s", where, key, hint ? hint : "");
}

int yval_field_index(const struct yval_field *fields, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool yval_field(struct yval *y, const char *where, const struct yval_field *f,
		const struct ynode *v, void *obj)
{
	char *p = (char *)obj + f->off;

	switch (f->type) {
	case YV_INT:
		return yval_int(y, where, f->name, v, f->min, f->max, (int *)(void *)p);
	case YV_DOUBLE:
		return yval_double(y, where, f->name, v, f->dmin, f->dmax, f->nullable,
				   (double *)(void *)p);
	case YV_STR:
		return yval_str(y, where, f->name, v, p, f->size);
	case YV_SLUG:
		return yval_slug(y, where, f->name, v, p, f->size);
	case YV_ID:
		return yval_id(y, where, f->name, v, p, f->size);
	case YV_BOOL:
		return yval_bool(y, where, f->name, v, (bool *)(void *)p);
	case YV_ENUM:
		return yval_enum(y, where, f->name, v, f->names, f->n_names, (int *)(void *)p);
	default:
		return true;
	}
}

void yval_map(struct yval *y, const char *where, const struct ynode *map,
	      const struct yval_field *fields, size_t n, void *obj, const struct ynode **found)
{
	size_t i;
	int j;

	for (i = 0; i < n; i++)
		found[i] = NULL;
	for (i = 0; i < map->n; i++) {
		const struct ynode *k = map->keys[i], *v = map->values[i];

		j = yval_field_index(fields, n, k->scalar);
		if (j < 0) {
			yval_unknown_key(y, where, k, fields, n);
			continue;
		}
		found[j] = v;
		yval_field(y, where, &fields[j], v, obj);
	}
	for (i = 0; i < n; i++)
		if (fields[i].required && !found[i])
			yval_missing(y, where, map, fields[i].name, fields[i].hint);
}
