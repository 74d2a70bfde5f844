/* config_int.h - what the parts of the configuration parser share
 * (config.c: the file, buses, devices, profiles; config_mqtt.c: the mqtt
 * section). Not a public interface: only config*.c include it. */
#ifndef FIREGW_CONFIG_INT_H
#define FIREGW_CONFIG_INT_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "profile.h"
#include "yrules.h"
#include "ytree.h"
#include "yval.h"

#define CLIP YVAL_CLIP

/* Diagnostics kept before sorting; errlist keeps ERRLIST_MAX anyway, and a
 * hostile file with 100 000 nodes must not make us hold 100 000 messages. */
#define DIAG_MAX (2 * ERRLIST_MAX)

struct diag {
	int line, col;
	size_t seq;
	bool warning;
	char *msg;
	char *profile_path; /* reload this profile after the line to list its errors */
};

/* The parts of a bus mapping the second pass needs. */
struct bus_aux {
	const struct ynode *node;
	const struct ynode *id;
};

/* The parts of a device mapping the second pass needs. */
struct dev_aux {
	const struct ynode *node;
	const struct ynode *bus, *unit, *profile, *rules, *points, *timeout, *retries;
	char where[96]; /* "device 'smoke-a1'" or "device #3" */
};

struct point_ovr {
	const struct ynode *key;
	enum flag_kind as; /* FLAG_INVALID = unused */
	bool has_as;
	char zone[CONFIG_ID_MAX]; /* "" when unset */
	int zone_no;              /* 0 when unset */
	char location[160];       /* "" when unset */
	bool has_location;
	bool enabled;
	bool has_rules;
	struct yrules rules;
};

/* One entry of a device's `rules:` mapping. */
struct dev_rules {
	const struct ynode *key;
	int value; /* profile value index, or -1 */
	int point; /* profile point index when the key names a point, or -1 */
	bool used;
	struct yrules o;
};

struct ctx {
	const char *file;
	struct yval y; /* its messages come back as diags (diag_emit) */
	struct config *c;
	const char *builtin_dir;
	char dir[PATH_MAX]; /* the config file's directory, for relative paths */
	struct diag *diags;
	size_t n_diags, cap_diags, seq;
	size_t dropped_errors, dropped_warnings;
	bool nomem;
	struct bus_aux baux[CONFIG_MAX_BUSES];
	struct dev_aux *daux;
	struct point_ovr povr[PROFILE_MAX_POINTS];
	/* profiles that failed to load: reported once, remembered by name */
	char (*failed)[PROFILE_NAME_MAX];
	size_t n_failed;
};

/* Records a diagnostic at `at` (NULL: the file itself); profile_path: the
 * profile whose own errors are listed after it. Bounded (DIAG_MAX). */
__attribute__((format(printf, 5, 0))) void config_diag_v(struct ctx *x, bool warning,
							  const struct ynode *at,
							  const char *profile_path,
							  const char *fmt, va_list ap);

__attribute__((format(printf, 3, 4))) static inline void err(struct ctx *x, const struct ynode *at,
							     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_diag_v(x, false, at, NULL, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static inline void warn(struct ctx *x, const struct ynode *at,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_diag_v(x, true, at, NULL, fmt, ap);
	va_end(ap);
}

/* The mqtt mapping (config_mqtt.c): its keys, the broker nodes, TLS and
 * secret files (read as the connect will read them). */
void config_parse_mqtt(struct ctx *x, const struct ynode *v);

#endif
