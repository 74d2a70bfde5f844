/* config.c - the firegw configuration file (SPEC §9): read, checked and
 * resolved into struct config.
 *
 * Owns the struct config it returns, the profiles it loaded for it and the
 * device array. Called from the main thread only (start-up, SIGHUP reload,
 * `firegw check` and the other commands); nothing here is thread-safe and
 * nothing needs to be: a reload builds a new config and swaps on success.
 *
 * How it works: the file is read once (bounded by YTREE_MAX_FILE), hashed
 * (SHA-256 via OpenSSL's libcrypto, which paho already pulls in), parsed by
 * ytree into nodes with line:col, then walked with yval's field tables and
 * getters (rules mappings with yrules, the parser profiles use too), so a
 * mistake is worded as it is in a profile. Every problem becomes a
 * diagnostic with a position; cross-references (a device's bus, duplicate
 * units, profile point names) are checked in a second pass, and at the end
 * the diagnostics are sorted by position and handed to the errlist, so the
 * installer reads them top to bottom whatever pass found them. A profile
 * that fails to load is reported at the device that names it, followed by
 * the profile file's own errors. */
#include "config.h"
#include "config_int.h"
#include "sitetime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "yrules.h"
#include "ytree.h"
#include "yval.h"

/* Share of an RTU line the planned polls may take before `check` warns
 * (SPEC §8): the rest is headroom for retries, probes and slow slaves. */
#define RTU_LOAD_LIMIT_PCT 70

/* ---- diagnostics ------------------------------------------------------ */

void config_diag_v(struct ctx *x, bool warning, const struct ynode *at, const char *profile_path,
		   const char *fmt, va_list ap)
{
	char msg[768];
	struct diag *d;

	if (x->n_diags >= DIAG_MAX) {
		if (warning)
			x->dropped_warnings++;
		else
			x->dropped_errors++;
		return;
	}
	if (x->n_diags == x->cap_diags) {
		size_t cap = x->cap_diags ? x->cap_diags * 2 : 16;
		struct diag *n = realloc(x->diags, cap * sizeof(*n));

		if (!n) {
			x->nomem = true;
			return;
		}
		x->diags = n;
		x->cap_diags = cap;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	d = &x->diags[x->n_diags];
	memset(d, 0, sizeof(*d));
	d->line = at ? at->line : 0;
	d->col = at ? at->col : 0;
	d->seq = x->seq++;
	d->warning = warning;
	d->msg = strdup(msg);
	if (!d->msg) {
		x->nomem = true;
		return;
	}
	if (profile_path) {
		d->profile_path = strdup(profile_path);
		if (!d->profile_path) {
			free(d->msg);
			x->nomem = true;
			return;
		}
	}
	x->n_diags++;
}

__attribute__((format(printf, 4, 5))) static void err_profile(struct ctx *x, const struct ynode *at,
							      const char *profile_path,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_diag_v(x, false, at, profile_path, fmt, ap);
	va_end(ap);
}

static size_t n_errors(const struct ctx *x)
{
	size_t i, n = x->dropped_errors;

	for (i = 0; i < x->n_diags; i++)
		if (!x->diags[i].warning)
			n++;
	return n;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *p = a, *q = b;

	if (p->line != q->line)
		return p->line < q->line ? -1 : 1;
	if (p->col != q->col)
		return p->col < q->col ? -1 : 1;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* Sorted by position, so the file reads top to bottom. A failed profile is
 * loaded again here, straight into errs, so its own lines follow the line
 * of the device that names it (the first load went to a scratch list). */
static void diag_flush(struct ctx *x, struct errlist *errs)
{
	size_t i;

	if (x->n_diags > 1)
		qsort(x->diags, x->n_diags, sizeof(*x->diags), diag_cmp);
	for (i = 0; i < x->n_diags; i++) {
		struct diag *d = &x->diags[i];

		if (d->warning)
			errlist_warn(errs, x->file, d->line, d->col, "%s", d->msg);
		else
			errlist_add(errs, x->file, d->line, d->col, "%s", d->msg);
		if (d->profile_path) {
			struct profile *p = NULL;

			if (profile_load(d->profile_path, errs, &p) == 0)
				profile_free(p);
		}
	}
	if (x->dropped_errors || x->dropped_warnings)
		errlist_add(errs, x->file, 0, 0,
			    "%zu more errors and %zu more warnings not shown; fix the ones above first",
			    x->dropped_errors, x->dropped_warnings);
	if (x->nomem)
		errlist_add(errs, x->file, 0, 0, "out of memory while checking the configuration");
}

static void diag_free(struct ctx *x)
{
	size_t i;

	for (i = 0; i < x->n_diags; i++) {
		free(x->diags[i].msg);
		free(x->diags[i].profile_path);
	}
	free(x->diags);
	x->diags = NULL;
	x->n_diags = 0;
}

/* ---- typed scalars and mappings: yval, its messages into the diags ---- */

static void diag_emit(void *arg, bool warning, const struct ynode *at, const char *msg)
{
	if (warning)
		warn(arg, at, "%s", msg);
	else
		err(arg, at, "%s", msg);
}

/* ---- site, profile_dirs, mqtt, storage, compliance, remote ------------ */

static const struct yval_field site_fields[] = {
	{ .name = "id", .type = YV_SLUG, .off = offsetof(struct cfg_site, id),
	  .size = sizeof(((struct cfg_site *)0)->id), .required = true,
	  .hint = "; give the premises a short id such as 'cho-my-tho-a' (lowercase letters, "
		  "digits, '-')" },
	YV_F_STR(struct cfg_site, facility_id),
	YV_F_STR(struct cfg_site, name),
	YV_F_STR(struct cfg_site, address),
	YV_F_STR(struct cfg_site, timezone),
};
#define SITE_FIELD_TIMEZONE 4

/* An IANA name tzdata knows: the same check as the one the reports and
 * the daemon's inspector thread use (sitetime.c), so a zone `check`
 * accepts is one they never refuse. */
static bool timezone_known(const char *tz)
{
	return sitetime_zone_ok(tz);
}

static void parse_site(struct ctx *x, const struct ynode *v)
{
	const struct ynode *found[YVAL_FIELD_MAX] = { 0 };

	if (!yval_is_map(&x->y, "the top level", "site", v))
		return;
	yval_map(&x->y, "site", v, site_fields, ARRAY_SIZE(site_fields), &x->c->site, found);
	if (found[SITE_FIELD_TIMEZONE] && !timezone_known(x->c->site.timezone))
		err(x, found[SITE_FIELD_TIMEZONE],
		    "site: timezone '" CLIP "' is not a known time zone; use an IANA name such as "
		    "Asia/Ho_Chi_Minh (package tzdata)",
		    x->c->site.timezone);
}

static int add_profile_dir(struct ctx *x, const char *dir)
{
	char *s;

	if (dir[0] == '/' || x->dir[0] == '\0') {
		s = strdup(dir);
	} else if (asprintf(&s, "%s/%s", x->dir, dir) < 0) {
		s = NULL;
	}
	if (!s) {
		x->nomem = true;
		return -ENOMEM;
	}
	x->c->profile_dirs[x->c->n_profile_dirs++] = s;
	return 0;
}

/* Relative directories are taken from the config file's directory, so a
 * config and its profiles can be moved together. */
static void parse_profile_dirs(struct ctx *x, const struct ynode *v)
{
	size_t i, max = ARRAY_SIZE(x->c->profile_dirs);

	if (!yval_is_seq(&x->y, "the top level", "profile_dirs", v))
		return;
	for (i = 0; i < v->n; i++) {
		const struct ynode *e = v->values[i];

		if (!yval_is(&x->y, "profile_dirs", "entry", e, YNODE_SCALAR, "a directory path"))
			continue;
		if (e->scalar[0] == '\0') {
			err(x, e, "profile_dirs: empty directory name; remove the entry");
			continue;
		}
		if (strlen(e->scalar) >= PATH_MAX - 2 * PROFILE_NAME_MAX) {
			err(x, e, "profile_dirs: path too long");
			continue;
		}
		if (x->c->n_profile_dirs >= max) {
			err(x, e, "profile_dirs: more than %zu directories; keep the list short", max);
			return;
		}
		if (add_profile_dir(x, e->scalar) < 0)
			return;
	}
}

static const struct yval_field storage_fields[] = {
	YV_F_STR(struct cfg_storage, path),
	YV_F_INT(struct cfg_storage, readings_days, 1, 3650),
	YV_F_INT(struct cfg_storage, records_days, 365, 36500),
	YV_F_INT(struct cfg_storage, max_mb, 8, 1048576),
	YV_F_INT(struct cfg_storage, readings_s, 1, 86400),
	{ .name = "readings_deadband_pct", .type = YV_DOUBLE,
	  .off = offsetof(struct cfg_storage, readings_deadband_pct), .dmin = 0, .dmax = 100 },
};

static void parse_storage(struct ctx *x, const struct ynode *v)
{
	const struct ynode *found[YVAL_FIELD_MAX];

	if (!yval_is_map(&x->y, "the top level", "storage", v))
		return;
	yval_map(&x->y, "storage", v, storage_fields, ARRAY_SIZE(storage_fields), &x->c->storage,
		 found);
	if (found[0] && found[0]->kind == YNODE_SCALAR && x->c->storage.path[0] == '\0')
		err(x, found[0], "storage: path is empty; remove the key to use "
				 "/var/lib/firegw/firegw.db");
}

static const struct yval_field compliance_fields[] = {
	YV_F_INT(struct cfg_compliance, system_test_days, 1, 3650),
	YV_F_INT(struct cfg_compliance, maintenance_days, 1, 3650),
	YV_F_INT(struct cfg_compliance, self_inspection_days, 1, 3650),
	YV_F_INT(struct cfg_compliance, police_inspection_days, 1, 3650),
	YV_F_INT(struct cfg_compliance, device_test_days, 1, 3650),
	YV_F_INT(struct cfg_compliance, max_fault_days, 1, 3650),
	YV_F_INT(struct cfg_compliance, due_soon_days, 1, 3650),
};

static const struct yval_field remote_fields[] = {
	YV_F_BOOL(struct cfg_remote, allow_reset),
	YV_F_BOOL(struct cfg_remote, allow_test),
	YV_F_BOOL(struct cfg_remote, allow_record),
};

/* ---- buses ------------------------------------------------------------ */

static const struct yval_field bus_fields[] = {
	{ .name = "id", .type = YV_SLUG, .off = offsetof(struct cfg_bus, id),
	  .size = sizeof(((struct cfg_bus *)0)->id), .required = true,
	  .hint = " (a short name such as rs485-1)" },
	YV_F_NODE("rtu"),
	YV_F_NODE("tcp"),
	YV_F_INT(struct cfg_bus, timeout_ms, 10, 60000),
	YV_F_INT(struct cfg_bus, byte_timeout_ms, 0, 10000),
	YV_F_INT(struct cfg_bus, retries, 0, 10),
	YV_F_INT(struct cfg_bus, inter_frame_ms, 0, 1000),
};

static const struct yval_field rtu_fields[] = {
	{ .name = "device", .type = YV_STR, .off = offsetof(struct cfg_bus, device),
	  .size = sizeof(((struct cfg_bus *)0)->device), .required = true,
	  .hint = " (the serial port, e.g. /dev/ttyUSB0)" },
	YV_F_INT(struct cfg_bus, baud, 1200, 921600),
	YV_F_NODE("parity"),
	YV_F_NODE("data_bits"),
	YV_F_NODE("stop_bits"),
};

static const struct yval_field tcp_fields[] = {
	{ .name = "host", .type = YV_STR, .off = offsetof(struct cfg_bus, host),
	  .size = sizeof(((struct cfg_bus *)0)->host), .required = true,
	  .hint = " (address of the Modbus TCP device or gateway)" },
	YV_F_INT(struct cfg_bus, port, 1, 65535),
};

static void parse_rtu(struct ctx *x, const char *where, struct cfg_bus *b, const struct ynode *v)
{
	static const struct yval_enum parity_names[] = {
		{ "N", 'N', "N (none)" },
		{ "E", 'E', "E (even)" },
		{ "O", 'O', "O (odd)" },
	};
	const struct ynode *found[YVAL_FIELD_MAX], *n;
	char w[128];
	int parity;

	snprintf(w, sizeof(w), "%s rtu", where);
	yval_map(&x->y, w, v, rtu_fields, ARRAY_SIZE(rtu_fields), b, found);
	if (found[0] && found[0]->kind == YNODE_SCALAR && b->device[0] == '\0')
		err(x, found[0], "%s: device is empty; give the serial port, e.g. /dev/ttyUSB0", w);
	n = found[2];
	if (n && yval_enum(&x->y, w, "parity", n, parity_names, ARRAY_SIZE(parity_names), &parity))
		b->parity = (char)parity;
	n = found[3];
	if (n && yval_int(&x->y, w, "data_bits", n, 7, 8, &b->data_bits) == false)
		b->data_bits = 8;
	n = found[4];
	if (n && yval_int(&x->y, w, "stop_bits", n, 1, 2, &b->stop_bits) == false)
		b->stop_bits = 1;
}

static void parse_bus(struct ctx *x, size_t idx, const struct ynode *v)
{
	struct cfg_bus *b = &x->c->buses[idx];
	const struct ynode *found[YVAL_FIELD_MAX], *id;
	char where[96];

	b->kind = BUS_INVALID;
	b->baud = 9600;
	b->parity = 'N';
	b->data_bits = 8;
	b->stop_bits = 1;
	b->port = 502;
	b->timeout_ms = 500;
	b->byte_timeout_ms = 50;
	b->retries = 1;
	b->inter_frame_ms = -1; /* kind decides the default */
	b->line = v->line;
	b->col = v->col;
	x->baux[idx].node = v;
	snprintf(where, sizeof(where), "bus #%zu", idx + 1);
	if (!yval_is_map(&x->y, "buses", where, v))
		return;
	id = ynode_get(v, "id");
	if (id && id->kind == YNODE_SCALAR && util_is_slug(id->scalar))
		snprintf(where, sizeof(where), "bus '%s'", id->scalar);
	yval_map(&x->y, where, v, bus_fields, ARRAY_SIZE(bus_fields), b, found);
	x->baux[idx].id = found[0];
	if (found[1] && found[2]) {
		err(x, found[2], "%s: has both rtu and tcp; a bus is one serial line or one TCP "
				 "endpoint, split it into two buses",
		    where);
	} else if (found[1]) {
		if (yval_is_map(&x->y, where, "rtu", found[1])) {
			b->kind = BUS_RTU;
			parse_rtu(x, where, b, found[1]);
		}
	} else if (found[2]) {
		if (yval_is_map(&x->y, where, "tcp", found[2])) {
			const struct ynode *tf[YVAL_FIELD_MAX];
			char w[128];

			b->kind = BUS_TCP;
			snprintf(w, sizeof(w), "%s tcp", where);
			yval_map(&x->y, w, found[2], tcp_fields, ARRAY_SIZE(tcp_fields), b, tf);
			if (tf[0] && tf[0]->kind == YNODE_SCALAR && b->host[0] == '\0')
				err(x, tf[0], "%s: host is empty; give an address", w);
		}
	} else {
		err(x, v, "%s: needs either rtu: {device: ..., baud: ...} or tcp: {host: ..., port: ...}",
		    where);
	}
	/* RTU needs a gap between a reply and the next request for slow
	 * slaves to turn their line driver around; TCP does not. */
	if (b->inter_frame_ms < 0)
		b->inter_frame_ms = b->kind == BUS_RTU ? 5 : 0;
}

static void parse_buses(struct ctx *x, const struct ynode *v)
{
	size_t i, j;

	if (!yval_is_seq(&x->y, "the top level", "buses", v))
		return;
	for (i = 0; i < v->n; i++) {
		if (i >= CONFIG_MAX_BUSES) {
			err(x, v->values[i], "buses: more than %d buses; one gateway serves at most %d",
			    CONFIG_MAX_BUSES, CONFIG_MAX_BUSES);
			break;
		}
		parse_bus(x, i, v->values[i]);
		x->c->n_buses = i + 1;
	}
	for (i = 0; i < x->c->n_buses; i++) {
		if (!x->baux[i].id || x->c->buses[i].id[0] == '\0')
			continue;
		for (j = 0; j < i; j++)
			if (x->baux[j].id && strcmp(x->c->buses[i].id, x->c->buses[j].id) == 0) {
				err(x, x->baux[i].id, "bus id '%s' is already used at line %d; give each "
						      "bus its own id",
				    x->c->buses[i].id, x->baux[j].id->line);
				break;
			}
	}
}

/* ---- devices ---------------------------------------------------------- */

static const struct yval_field device_fields[] = {
	{ .name = "id", .type = YV_SLUG, .off = offsetof(struct cfg_device, id),
	  .size = sizeof(((struct cfg_device *)0)->id), .required = true,
	  .hint = " (a short name such as smoke-a1)" },
	{ .name = "bus", .type = YV_NODE, .required = true,
	  .hint = " (the id of one of the buses)" },
	{ .name = "unit", .type = YV_INT, .off = offsetof(struct cfg_device, unit), .min = 1,
	  .max = 247, .required = true, .hint = " (its Modbus unit id, 1..247)" },
	{ .name = "profile", .type = YV_ID, .off = offsetof(struct cfg_device, profile_name),
	  .size = sizeof(((struct cfg_device *)0)->profile_name), .required = true,
	  .hint = " (the device model, e.g. smoke-point)" },
	YV_F_STR(struct cfg_device, zone),
	YV_F_INT(struct cfg_device, zone_no, 1, 999),
	YV_F_STR(struct cfg_device, location),
	YV_F_INT(struct cfg_device, poll_ms, 100, 3600000),
	YV_F_INT(struct cfg_device, fault_after, 1, 100),
	YV_F_INT(struct cfg_device, dead_retry_s, 1, 3600),
	YV_F_INT(struct cfg_device, timeout_ms, 10, 60000),
	YV_F_INT(struct cfg_device, retries, 0, 10),
	YV_F_NODE("rules"),
	YV_F_NODE("points"),
};

enum {
	DF_ID,
	DF_BUS,
	DF_UNIT,
	DF_PROFILE,
	DF_ZONE,
	DF_ZONE_NO,
	DF_LOCATION,
	DF_POLL,
	DF_FAULT_AFTER,
	DF_DEAD_RETRY,
	DF_TIMEOUT,
	DF_RETRIES,
	DF_RULES,
	DF_POINTS,
};

static void parse_device(struct ctx *x, size_t idx, const struct ynode *v)
{
	struct cfg_device *d = &x->c->devices[idx];
	struct dev_aux *a = &x->daux[idx];
	const struct ynode *found[YVAL_FIELD_MAX], *id;

	d->bus = -1;
	d->poll_ms = 1000;
	d->fault_after = 3;
	d->dead_retry_s = 10;
	d->line = v->line;
	d->col = v->col;
	a->node = v;
	snprintf(a->where, sizeof(a->where), "device #%zu", idx + 1);
	if (!yval_is_map(&x->y, "devices", a->where, v))
		return;
	id = ynode_get(v, "id");
	if (id && id->kind == YNODE_SCALAR && util_is_slug(id->scalar))
		snprintf(a->where, sizeof(a->where), "device '%s'", id->scalar);
	yval_map(&x->y, a->where, v, device_fields, ARRAY_SIZE(device_fields), d, found);
	if (found[DF_ID] && strcmp(d->id, "gateway") == 0)
		err(x, found[DF_ID], "%s: the id 'gateway' is reserved (fault/gateway carries the "
				     "gateway's own faults); choose another id",
		    a->where);
	if (found[DF_ZONE] && found[DF_ZONE]->kind == YNODE_SCALAR && d->zone[0] == '\0')
		err(x, found[DF_ZONE], "%s: zone is empty; remove the key or name the zone", a->where);
	a->bus = found[DF_BUS];
	a->unit = found[DF_UNIT];
	a->profile = found[DF_PROFILE];
	a->rules = found[DF_RULES];
	a->points = found[DF_POINTS];
	a->timeout = found[DF_TIMEOUT];
	a->retries = found[DF_RETRIES];
	if (a->bus && yval_is(&x->y, a->where, "bus", a->bus, YNODE_SCALAR, "a bus id"))
		d->bus = config_bus_index(x->c, a->bus->scalar);
	if (d->profile_name[0] == '\0')
		a->profile = NULL; /* absent or refused by yval_id: nothing to load */
	if (a->rules && !yval_is_map(&x->y, a->where, "rules", a->rules))
		a->rules = NULL;
	if (a->points && !yval_is_map(&x->y, a->where, "points", a->points))
		a->points = NULL;
}

/* Checks that need every bus and device: references, uniqueness, the
 * per-bus defaults of timeout_ms and retries. */
static void check_devices(struct ctx *x)
{
	struct config *c = x->c;
	size_t i, j;

	for (i = 0; i < c->n_devices; i++) {
		struct cfg_device *d = &c->devices[i];
		struct dev_aux *a = &x->daux[i];

		if (a->bus && a->bus->kind == YNODE_SCALAR && d->bus < 0)
			err(x, a->bus, "%s: bus '" CLIP "' is not defined; define it under buses: or "
				       "use one of the bus ids",
			    a->where, a->bus->scalar);
		if (d->bus >= 0) {
			const struct cfg_bus *b = &c->buses[d->bus];

			if (!a->timeout)
				d->timeout_ms = b->timeout_ms;
			if (!a->retries)
				d->retries = b->retries;
		} else {
			if (!a->timeout)
				d->timeout_ms = 500;
			if (!a->retries)
				d->retries = 1;
		}
		for (j = 0; j < i && d->id[0]; j++)
			if (strcmp(d->id, c->devices[j].id) == 0) {
				err(x, ynode_get(a->node, "id"), "%s: id already used by the device at "
								 "line %d; give each device its own id",
				    a->where, c->devices[j].line);
				break;
			}
		for (j = 0; j < i && d->bus >= 0 && d->unit > 0; j++)
			if (c->devices[j].bus == d->bus && c->devices[j].unit == d->unit) {
				err(x, a->unit, "%s: unit %d on bus '%s' is already used by device '%s' "
						"(line %d); give each device on a bus its own unit id",
				    a->where, d->unit, c->buses[d->bus].id, c->devices[j].id,
				    c->devices[j].line);
				break;
			}
		if (d->bus >= 0 && (long)d->timeout_ms * (1 + d->retries) > d->poll_ms)
			warn(x, a->node, "%s: timeout_ms %d x (1 + retries %d) = %ld ms exceeds poll_ms "
					 "%d; a silent device will hold the bus longer than its poll "
					 "period, raise poll_ms or lower timeout_ms",
			     a->where, d->timeout_ms, d->retries, (long)d->timeout_ms * (1 + d->retries),
			     d->poll_ms);
	}
}

/* ---- profiles --------------------------------------------------------- */

static void dirs_list(const struct ctx *x, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < x->c->n_profile_dirs && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
					x->c->profile_dirs[i]);
	if (len < size)
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "", x->builtin_dir);
}

/* Finds and loads each device's profile once per name. Errors are reported
 * at the device's profile: key; a profile file with errors has them listed
 * after that line (diag_flush). */
static void load_profiles(struct ctx *x)
{
	struct config *c = x->c;
	const char *dirs[ARRAY_SIZE(c->profile_dirs) + 1];
	size_t i, j, n_dirs = 0;

	for (i = 0; i < c->n_profile_dirs; i++)
		dirs[n_dirs++] = c->profile_dirs[i];
	dirs[n_dirs++] = x->builtin_dir;
	for (i = 0; i < c->n_devices; i++) {
		struct cfg_device *d = &c->devices[i];
		const struct ynode *at = x->daux[i].profile;
		char path[PATH_MAX], list[1024];
		struct errlist scratch = { 0 };
		struct profile *p = NULL;
		bool failed = false;
		int r;

		if (!at)
			continue;
		for (j = 0; j < c->n_profiles; j++)
			if (strcmp(c->profiles[j]->name, d->profile_name) == 0) {
				d->profile = c->profiles[j];
				break;
			}
		if (d->profile)
			continue;
		for (j = 0; j < x->n_failed; j++)
			if (strcmp(x->failed[j], d->profile_name) == 0)
				failed = true;
		if (failed) {
			err(x, at, "%s: profile '%s' cannot be used (see above)", x->daux[i].where,
			    d->profile_name);
			continue;
		}
		r = profile_find(d->profile_name, dirs, n_dirs, path, sizeof(path));
		if (r < 0) {
			dirs_list(x, list, sizeof(list));
			err(x, at, "%s: profile '%s' not found in %s; check the name or add %s.yaml to "
				   "one of these directories",
			    x->daux[i].where, d->profile_name, list, d->profile_name);
		} else {
			r = profile_load(path, &scratch, &p);
			errlist_clear(&scratch);
			if (r == -ENOMEM) {
				x->nomem = true;
				return;
			}
			if (r < 0)
				err_profile(x, at, path, "%s: profile '%s' (%s) has errors, listed "
							 "next; fix the profile",
					    x->daux[i].where, d->profile_name, path);
		}
		if (r < 0) {
			util_strlcpy(x->failed[x->n_failed++], d->profile_name, PROFILE_NAME_MAX);
			continue;
		}
		c->profiles[c->n_profiles++] = p;
		d->profile = p;
	}
}

/* ---- rules and points ------------------------------------------------- */

/* Everything a point override may say, into a point_ovr; "as" takes the
 * meanings a profile does. */
static const struct yval_field point_fields[] = {
	{ .name = "as", .type = YV_ENUM, .off = offsetof(struct point_ovr, as),
	  .names = profile_as_names, .n_names = PROFILE_N_AS_NAMES },
	YV_F_STR(struct point_ovr, zone),
	YV_F_INT(struct point_ovr, zone_no, 1, 999),
	YV_F_STR(struct point_ovr, location),
	YV_F_NODE("rules"),
	YV_F_BOOL(struct point_ovr, enabled),
};

enum { PF_AS, PF_ZONE, PF_ZONE_NO, PF_LOCATION, PF_RULES, PF_ENABLED };

static void parse_point(struct ctx *x, const char *dwhere, const struct ynode *key,
			const struct ynode *v, const struct profile *p, int pi)
{
	struct point_ovr *o;
	struct point_ovr scratch = { 0 };
	const struct ynode *found[YVAL_FIELD_MAX], *n;
	char where[192];

	o = pi >= 0 ? &x->povr[pi] : &scratch;
	memset(o, 0, sizeof(*o));
	o->key = key;
	o->enabled = true;
	o->as = FLAG_MAX; /* stays so unless 'as' names a meaning */
	snprintf(where, sizeof(where), "%s point '" CLIP "'", dwhere, key->scalar);
	if (!yval_is_map(&x->y, dwhere, "points entry", v))
		return;
	yval_map(&x->y, where, v, point_fields, ARRAY_SIZE(point_fields), o, found);
	n = found[PF_AS];
	if (o->as == FLAG_MAX) {
		o->as = FLAG_INVALID;
	} else {
		if (p && pi >= 0 && p->points[pi].kind != PKIND_INPUT)
			err(x, n, "%s: 'as' applies only to input channels, and this is a %s point of "
				  "profile '%s'; remove it",
			    where, point_kind_name(p->points[pi].kind), p->name);
		else
			o->has_as = true;
	}
	n = found[PF_ZONE];
	if (n && n->kind == YNODE_SCALAR && n->scalar[0] == '\0')
		err(x, n, "%s: zone is empty; remove the key or name the zone", where);
	o->has_location = found[PF_LOCATION] && found[PF_LOCATION]->kind == YNODE_SCALAR &&
			  strlen(found[PF_LOCATION]->scalar) < sizeof(o->location);
	if (found[PF_RULES]) {
		char rw[sizeof(where) + 8];

		snprintf(rw, sizeof(rw), "%s rules", where);
		yrules_parse(&x->y, rw, "rules", found[PF_RULES], YRULES_OVERRIDE, &o->rules);
		o->has_rules = true;
		if (p && pi >= 0)
			yrules_check_fit(&x->y, rw, &o->rules, p->points[pi].name,
					 p->points[pi].value >= 0);
	}
}

static void names_list(const struct profile *p, bool values, char *buf, size_t size)
{
	size_t i, n = values ? p->n_values : p->n_points, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
					values ? p->values[i].name : p->points[i].name);
}

static void resolve_device(struct ctx *x, size_t idx)
{
	struct cfg_device *d = &x->c->devices[idx];
	struct dev_aux *a = &x->daux[idx];
	const struct profile *p = d->profile;
	struct dev_rules *dr = NULL;
	size_t i, j, n_dr = 0;
	char list[512];

	memset(x->povr, 0, sizeof(x->povr));
	for (i = 0; i < ARRAY_SIZE(x->povr); i++)
		x->povr[i].enabled = true;
	if (a->rules && a->rules->n) {
		dr = calloc(a->rules->n, sizeof(*dr));
		if (!dr) {
			x->nomem = true;
			return;
		}
		for (i = 0; i < a->rules->n; i++) {
			const struct ynode *key = a->rules->keys[i];
			struct dev_rules *e = &dr[n_dr++];
			char where[200];

			e->key = key;
			e->value = e->point = -1;
			snprintf(where, sizeof(where), "%s rules '" CLIP "'", a->where, key->scalar);
			yrules_parse(&x->y, where, "rules", a->rules->values[i], YRULES_OVERRIDE,
				     &e->o);
			if (!p)
				continue;
			e->value = profile_value_index(p, key->scalar);
			if (e->value < 0)
				e->point = profile_point_index(p, key->scalar);
			if (e->value < 0 && e->point < 0) {
				char vl[256], pl[256];

				names_list(p, true, vl, sizeof(vl));
				names_list(p, false, pl, sizeof(pl));
				err(x, key, "%s: rules: '" CLIP "' is neither a value nor a point of "
					    "profile '%s' (values: %s; points: %s)",
				    a->where, key->scalar, p->name, vl, pl);
			} else if (e->point >= 0) {
				yrules_check_fit(&x->y, where, &e->o, p->points[e->point].name,
						 p->points[e->point].value >= 0);
			}
		}
	}
	if (a->points) {
		for (i = 0; i < a->points->n; i++) {
			const struct ynode *key = a->points->keys[i];
			int pi = p ? profile_point_index(p, key->scalar) : -1;

			if (p && pi < 0) {
				names_list(p, false, list, sizeof(list));
				err(x, key, "%s: points: profile '%s' has no point '" CLIP "' (its "
					    "points: %s)",
				    a->where, p->name, key->scalar, list);
			}
			parse_point(x, a->where, key, a->points->values[i], p, pi);
		}
	}
	if (!p)
		goto out;
	/* sized to the profile, not to the largest profile possible: 250
	 * devices must fit the SPEC §8 memory budget */
	d->points = calloc(p->n_points ? p->n_points : 1, sizeof(*d->points));
	if (!d->points) {
		x->nomem = true;
		goto out;
	}
	for (i = 0; i < p->n_points; i++) {
		const struct profile_point *pp = &p->points[i];
		const struct point_ovr *po = &x->povr[i];
		struct cfg_point *pt = &d->points[d->n_points];
		struct yrules_pos pos = { { NULL } };
		char pwhere[200];
		enum flag_kind as;
		int f;

		memset(pt, 0, sizeof(*pt));
		util_strlcpy(pt->name, pp->name, sizeof(pt->name));
		pt->profile_point = (int)i;
		pt->kind = pp->kind;
		pt->as = FLAG_INVALID;
		pt->enabled = true;
		memcpy(pt->flags, pp->flags, sizeof(pt->flags));
		pt->value = pp->value;
		pt->rules = pp->rules;
		pt->en54 = pp->en54;
		memcpy(pt->zone, d->zone, sizeof(pt->zone));
		pt->zone_no = d->zone_no;
		memcpy(pt->location, d->location, sizeof(pt->location));
		pt->line = po->key ? po->key->line : d->line;
		pt->col = po->key ? po->key->col : d->col;
		/* device rules by value, then by point name, then the point's own */
		for (j = 0; j < n_dr; j++)
			if (dr[j].value >= 0 && dr[j].value == pp->value) {
				yrules_apply(&dr[j].o, &pt->rules, &pt->en54, &pos);
				dr[j].used = true;
			}
		for (j = 0; j < n_dr; j++)
			if (dr[j].point == (int)i) {
				yrules_apply(&dr[j].o, &pt->rules, &pt->en54, &pos);
				dr[j].used = true;
			}
		if (po->has_rules)
			yrules_apply(&po->rules, &pt->rules, &pt->en54, &pos);
		if (po->zone[0])
			util_strlcpy(pt->zone, po->zone, sizeof(pt->zone));
		if (po->zone_no)
			pt->zone_no = po->zone_no;
		if (po->has_location)
			util_strlcpy(pt->location, po->location, sizeof(pt->location));
		pt->rules.fault_after = d->fault_after;
		if (!po->enabled)
			continue;
		if (pp->kind == PKIND_INPUT) {
			as = po->has_as ? po->as : pp->as;
			if (as <= FLAG_INVALID || as >= FLAG_MAX)
				continue; /* unused channel: not an alarm point */
			pt->as = as;
			pt->rules.is_input = true;
			for (f = 0; f < FLAG_MAX; f++) {
				pt->flags[f].value = -1;
				pt->flags[f].mask = 0;
				pt->flags[f].invert = false;
			}
			pt->flags[as] = pp->input;
			pt->kind = as == FLAG_FIRE || as == FLAG_PREALARM ? PKIND_FIRE : PKIND_INPUT;
		}
		snprintf(pwhere, sizeof(pwhere), "%s point '%s'", a->where, pt->name);
		yrules_check(&x->y, pwhere, &pt->rules, pt->en54, pt->kind, &pos);
		d->n_points++;
	}
	for (j = 0; j < n_dr; j++)
		if (!dr[j].used && dr[j].value >= 0)
			warn(x, dr[j].key, "%s: rules for value '%s' apply to no alarm point (no point "
					   "of profile '%s' uses it)",
			     a->where, dr[j].key->scalar, p->name);
	if (d->n_points == 0)
		warn(x, a->node, "%s: has no alarm point (every channel unused or disabled); it will "
				 "be polled for nothing",
		     a->where);
out:
	free(dr);
}

static void parse_devices(struct ctx *x, const struct ynode *v)
{
	size_t i, n;

	if (!yval_is_seq(&x->y, "the top level", "devices", v))
		return;
	n = v->n;
	if (n > CONFIG_MAX_DEVICES) {
		err(x, v->values[CONFIG_MAX_DEVICES], "devices: more than %d devices; split the "
						      "premises across several gateways",
		    CONFIG_MAX_DEVICES);
		n = CONFIG_MAX_DEVICES;
	}
	if (n == 0)
		return;
	x->c->devices = calloc(n, sizeof(*x->c->devices));
	x->daux = calloc(n, sizeof(*x->daux));
	x->failed = calloc(n, sizeof(*x->failed));
	if (!x->c->devices || !x->daux || !x->failed) {
		x->nomem = true;
		return;
	}
	for (i = 0; i < n; i++)
		parse_device(x, i, v->values[i]);
	x->c->n_devices = n;
}

/* ---- RTU line load ---------------------------------------------------- */

/* Seconds of line time one poll of d takes: per block one request (8 bytes:
 * unit, function, address, count, CRC) and one reply (5 bytes + data), each
 * followed by 3.5 characters of silence (Modbus over serial line V1.02
 * §2.5.1.1), plus the inter-frame gap we add per transaction. */
static double poll_seconds(const struct cfg_bus *b, const struct profile *p)
{
	double bits = (b->parity != 'N' || b->stop_bits == 2) ? 11.0 : 10.0;
	double chars = 0, gaps = 0;
	size_t i;

	for (i = 0; i < p->n_blocks; i++) {
		const struct profile_block *bl = &p->blocks[i];
		double data = (bl->table == TABLE_COIL || bl->table == TABLE_DISCRETE)
				      ? (double)((bl->count + 7) / 8)
				      : 2.0 * bl->count;

		chars += 8 + 3.5 + 5 + data + 3.5;
		gaps += b->inter_frame_ms / 1000.0;
	}
	return chars * bits / b->baud + gaps;
}

static void check_rtu_load(struct ctx *x)
{
	const struct config *c = x->c;
	size_t i, j;

	for (i = 0; i < c->n_buses; i++) {
		const struct cfg_bus *b = &c->buses[i];
		double load = 0;
		int pct;

		if (b->kind != BUS_RTU || b->baud <= 0)
			continue;
		for (j = 0; j < c->n_devices; j++) {
			const struct cfg_device *d = &c->devices[j];

			if (d->bus == (int)i && d->profile && d->poll_ms > 0)
				load += poll_seconds(b, d->profile) * 1000.0 / d->poll_ms;
		}
		pct = (int)lround(load * 100.0);
		if (pct > RTU_LOAD_LIMIT_PCT)
			warn(x, x->baux[i].node, "bus '%s': planned transactions use %d %% of the line at "
						 "%d baud (limit %d %%); raise poll_ms, lower the number "
						 "of devices or raise the baud",
			     b->id, pct, b->baud, RTU_LOAD_LIMIT_PCT);
	}
}

/* ---- the file --------------------------------------------------------- */

static const struct yval_field top_fields[] = {
	{ .name = "site", .type = YV_NODE, .required = true,
	  .hint = "; write e.g. site: {id: cho-my-tho-a}" },
	YV_F_NODE("profile_dirs"), YV_F_NODE("mqtt"),	    YV_F_NODE("storage"),
	YV_F_NODE("buses"),	   YV_F_NODE("devices"),    YV_F_NODE("compliance"),
	YV_F_NODE("remote"),
};

static void set_defaults(struct config *c)
{
	util_strlcpy(c->mqtt.uri, "tcp://127.0.0.1:1883", sizeof(c->mqtt.uri));
	util_strlcpy(c->mqtt.uris[0], c->mqtt.uri, sizeof(c->mqtt.uris[0]));
	c->mqtt.n_uris = 1;
	c->mqtt.connect_timeout_s = 5;
	c->mqtt.version = 3;
	util_strlcpy(c->mqtt.topic_prefix, "firegw", sizeof(c->mqtt.topic_prefix));
	c->mqtt.keepalive_s = 20;
	c->mqtt.heartbeat_s = 30;
	c->mqtt.telemetry_s = 60;
	c->mqtt.telemetry_qos = 0;
	c->mqtt.inflight = 16;
	c->mqtt.ack_stall_s = 15;
	c->mqtt.reconnect_max_s = 10;
	c->mqtt.ack_timeout_s = 0;
	c->mqtt.periodic_test_h = 24;
	c->mqtt.max_packet_kb = 288;
	util_strlcpy(c->site.timezone, "Asia/Ho_Chi_Minh", sizeof(c->site.timezone));
	util_strlcpy(c->storage.path, "/var/lib/firegw/firegw.db", sizeof(c->storage.path));
	c->storage.readings_days = 30;
	c->storage.records_days = 1096;
	c->storage.max_mb = 512;
	c->storage.readings_s = 300;
	c->storage.readings_deadband_pct = 1.0;
	c->compliance.system_test_days = 182;
	c->compliance.maintenance_days = 730;
	c->compliance.self_inspection_days = 31;
	c->compliance.police_inspection_days = 365;
	c->compliance.device_test_days = 365;
	c->compliance.max_fault_days = 7;
	c->compliance.due_soon_days = 14;
	c->remote.allow_reset = false;
	c->remote.allow_test = false;
	c->remote.allow_record = false;
}

static void set_runtime_dir(struct config *c)
{
	const char *s = getenv("RUNTIME_DIRECTORY");
	size_t n;

	/* systemd lists every RuntimeDirectory= colon-separated; ours is first */
	if (s && *s) {
		n = strcspn(s, ":");
		if (n < sizeof(c->runtime_dir)) {
			memcpy(c->runtime_dir, s, n);
			c->runtime_dir[n] = '\0';
			return;
		}
	}
	s = getenv("FIREGW_RUNTIME_DIR");
	if (s && *s && strlen(s) < sizeof(c->runtime_dir)) {
		util_strlcpy(c->runtime_dir, s, sizeof(c->runtime_dir));
		return;
	}
	util_strlcpy(c->runtime_dir, "/run/firegw", sizeof(c->runtime_dir));
}

static void walk_top(struct ctx *x, const struct ynode *root)
{
	const struct ynode *found[YVAL_FIELD_MAX], *sub[YVAL_FIELD_MAX];
	struct config *c = x->c;

	if (!yval_is_root_map(&x->y, root, "site:, mqtt:, buses:, devices:, ..."))
		return;
	yval_map(&x->y, "the top level", root, top_fields, ARRAY_SIZE(top_fields), c, found);
	if (found[0])
		parse_site(x, found[0]);
	if (found[1])
		parse_profile_dirs(x, found[1]);
	else
		add_profile_dir(x, "/etc/firegw/sensors");
	if (found[2])
		config_parse_mqtt(x, found[2]);
	if (found[3])
		parse_storage(x, found[3]);
	if (found[4])
		parse_buses(x, found[4]);
	if (found[5])
		parse_devices(x, found[5]);
	if (found[6] && yval_is_map(&x->y, "the top level", "compliance", found[6]))
		yval_map(&x->y, "compliance", found[6], compliance_fields, ARRAY_SIZE(compliance_fields),
			 &c->compliance, sub);
	if (found[7] && yval_is_map(&x->y, "the top level", "remote", found[7]))
		yval_map(&x->y, "remote", found[7], remote_fields, ARRAY_SIZE(remote_fields), &c->remote,
			 sub);
}


static int sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int config_load(const char *path, const char *builtin_profile_dir, struct errlist *errs,
		struct config **ret)
{
	struct ctx x = { .file = path };
	size_t errors_before = errs->n_errors, i;
	struct ytree *t = NULL;
	struct config *c;
	char *buf = NULL, *slash;
	size_t len = 0;
	int r;

	yval_init_emit(&x.y, path, diag_emit, &x);
	x.builtin_dir = builtin_profile_dir ? builtin_profile_dir : config_builtin_profile_dir();
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	x.c = c;
	set_defaults(c);
	set_runtime_dir(c);
	if (util_strlcpy(c->path, path, sizeof(c->path)) < 0) {
		errlist_add(errs, path, 0, 0, "path longer than %zu bytes", sizeof(c->path) - 1);
		r = -EINVAL;
		goto out_free;
	}
	util_strlcpy(x.dir, path, sizeof(x.dir));
	slash = strrchr(x.dir, '/');
	if (slash)
		*slash = '\0';
	else
		x.dir[0] = '\0';
	r = ytree_read_file(path, errs, &buf, &len); /* the hash and the parse see the same bytes */
	if (r == -EFBIG || r == -EIO)
		r = -EINVAL; /* the contract's "errors in errs" */
	if (r < 0)
		goto out_free;
	r = sha256_hex(buf, len, c->sha256);
	if (r < 0) {
		errlist_add(errs, path, 0, 0, "cannot compute the file's SHA-256");
		goto out_free;
	}
	r = ytree_load_buffer(path, buf, len, errs, &t);
	free(buf);
	buf = NULL;
	/* ytree returns -ENOMEM for its node bound too, with an error in errs:
	 * that file was refused, not our memory exhausted. */
	if (r == -ENOMEM && errs->n_errors > errors_before)
		r = -EINVAL;
	if (r < 0)
		goto out_free;
	if (!t->root) {
		errlist_add(errs, path, 1, 1, "the file is empty; a configuration needs at least "
					      "site: {id: ...}");
		r = -EINVAL;
		goto out_free;
	}
	walk_top(&x, t->root);
	if (!x.nomem) {
		check_devices(&x);
		load_profiles(&x);
	}
	for (i = 0; i < c->n_devices && !x.nomem; i++)
		resolve_device(&x, i);
	if (!x.nomem)
		check_rtu_load(&x);
	if (c->mqtt.client_id[0] == '\0' && c->site.id[0])
		snprintf(c->mqtt.client_id, sizeof(c->mqtt.client_id), "firegw-%s", c->site.id);
	diag_flush(&x, errs);
	if (x.nomem)
		r = -ENOMEM;
	else if (n_errors(&x) > 0 || errs->n_errors > errors_before)
		r = -EINVAL;
	else
		r = 0;
out_free:
	free(buf);
	diag_free(&x);
	free(x.daux);
	free(x.failed);
	ytree_free(t);
	if (r < 0) {
		config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_profile_dirs; i++)
		free(c->profile_dirs[i]);
	for (i = 0; i < c->n_profiles; i++)
		profile_free(c->profiles[i]);
	for (i = 0; c->devices && i < c->n_devices; i++)
		free(c->devices[i].points);
	free(c->devices);
	free(c);
}

int config_bus_index(const struct config *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->n_buses; i++)
		if (strcmp(c->buses[i].id, id) == 0)
			return (int)i;
	return -1;
}

int config_device_index(const struct config *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->n_devices; i++)
		if (strcmp(c->devices[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* Where `make install` puts the shipped profiles: $(PREFIX)/share/firegw/sensors,
 * set by the Makefile so that an installed daemon finds them. */
#ifndef FIREGW_PROFILE_DIR
#define FIREGW_PROFILE_DIR "/usr/share/firegw/sensors"
#endif

/* Not thread-safe (one static buffer): called at start-up and by commands.
 * The source-tree guesses make `build/firegw check` and the unit tests in
 * build/tests/ find sensors/ without installing anything. */
const char *config_builtin_profile_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX], try[PATH_MAX + 32], *slash;
	const char *env = getenv("FIREGW_SENSORS_DIR");
	ssize_t n;

	if (env && *env && strlen(env) < sizeof(dir)) {
		util_strlcpy(dir, env, sizeof(dir));
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			/* a sensors/ that holds profiles: build/sensors/ holds only
			 * the simulator's objects */
			snprintf(try, sizeof(try), "%s/../sensors/smoke-point.yaml", exe);
			if (access(try, R_OK) != 0)
				snprintf(try, sizeof(try), "%s/../../sensors/smoke-point.yaml", exe);
			if (access(try, R_OK) == 0) {
				*strrchr(try, '/') = '\0';
				if (realpath(try, dir))
					return dir;
			}
		}
	}
	util_strlcpy(dir, FIREGW_PROFILE_DIR, sizeof(dir));
	return dir;
}

void config_print_summary(const struct config *c, FILE *f)
{
	size_t i, j, total = 0, n_dev;

	fprintf(f, "site %s", c->site.id);
	if (c->site.facility_id[0])
		fprintf(f, " (facility %s)", c->site.facility_id);
	if (c->site.name[0])
		fprintf(f, " \"%s\"", c->site.name);
	fprintf(f, "\n");
	fprintf(f, "broker %s", c->mqtt.uris[0]);
	for (i = 1; i < c->mqtt.n_uris; i++)
		fprintf(f, "%s%s", i + 1 == c->mqtt.n_uris ? " or " : ", ", c->mqtt.uris[i]);
	fprintf(f, ", MQTT %s, client id %s, topics %s/%s/...\n",
		c->mqtt.version == 5 ? "5" : "3.1.1", c->mqtt.client_id, c->mqtt.topic_prefix,
		c->site.id);
	for (i = 0; i < c->n_buses; i++) {
		const struct cfg_bus *b = &c->buses[i];

		if (b->kind == BUS_RTU)
			fprintf(f, "bus %s: RTU %s %d %d%c%d\n", b->id, b->device, b->baud,
				b->data_bits, b->parity, b->stop_bits);
		else
			fprintf(f, "bus %s: TCP %s:%d\n", b->id, b->host, b->port);
		n_dev = 0;
		for (j = 0; j < c->n_devices; j++) {
			const struct cfg_device *d = &c->devices[j];

			if (d->bus != (int)i)
				continue;
			fprintf(f, "  unit %3d  %-20s %-24s %zu alarm point%s, every %d ms\n", d->unit,
				d->id, d->profile_name, d->n_points, d->n_points == 1 ? "" : "s",
				d->poll_ms);
			total += d->n_points;
			n_dev++;
		}
		if (n_dev == 0)
			fprintf(f, "  (no devices)\n");
	}
	fprintf(f, "%zu device%s, %zu alarm point%s\n", c->n_devices, c->n_devices == 1 ? "" : "s",
		total, total == 1 ? "" : "s");
}
