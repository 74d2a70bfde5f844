/* report.h - the period report for inspectors (SPEC §6): built once as data
 * (a jansson object, schema firegw.report.v1: the JSON format IS that
 * object, and the MQTT `report` request answers with it), then rendered as
 * CSV (report_csv) or as one self-contained HTML page (report_html.c).
 * Data in UTC (RFC 3339); labels and the dates people read in the site's
 * time zone (site.timezone) and language (vi by default, en). Runs on the
 * thread that owns the store handle; selects the site's zone (sitetime.h). */
#pragma once
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

#define REPORT_SCHEMA "firegw.report.v1"

/* Parses a period, "2026" | "2026-H1" | "2026-H2" | "2026-11" |
 * "2026-01-01..2026-03-31" (both days included), into [from, to) in UTC,
 * days being local days of the zone selected with sitetime_use(). 0, or
 * -EINVAL with the message (naming the field and what to write) in err. */
int report_period_parse(const char *s, int64_t *ret_from_ms, int64_t *ret_to_ms, char *err,
			size_t errlen);

/* Builds the report of [from_ms, to_ms) from the store: site identity,
 * alarms (with point identity, ack time and verdict; counted real /
 * unwanted / test / unverified, and unwanted over the 12 months before
 * to_ms), prealarms, faults with durations, point and gateway availability
 * in %, point tests and the points untested in the period, the records
 * (system tests, maintenance, inspections; "entered_later" when entered
 * after their day), disablements, each device's state timeline, the
 * compliance status at the end and its timeline (compliance_history), and
 * the chain head. lang "vi" or "en" (labels only). now_ms clips a period
 * that is not over (0: the wall clock). 0, -EINVAL, -ENOMEM, -errno of the
 * store. */
int report_build(store *s, const struct config *c, int64_t from_ms, int64_t to_ms, const char *lang,
		 int64_t now_ms, json_t **ret);

/* The report as RFC 4180 CSV (CRLF, fields quoted when they hold a comma,
 * a quote or a line break, quotes doubled), one table per section, each
 * with a header row: section,key,... Times in the site's local time with
 * their offset (2026-03-05T13:07:00+07:00). Selects the site's zone.
 * malloc'd, NUL-terminated; NULL on ENOMEM. */
char *report_csv(const json_t *rep, size_t *ret_len);
/* The report as one HTML page (report_html.c). */
char *report_html(const json_t *rep, size_t *ret_len);

/* The detail of one compliance item (an element of "items" of the
 * published status) for people: in English the evaluation's own reason; in
 * Vietnamese written from its status, dates (local, dd/mm/yyyy) and count.
 * Returns buf. */
char *report_item_detail(const char *lang, const char *item, const json_t *e, char *buf,
			 size_t len);

/* A label in lang ("vi", else English); the key itself when unknown. */
const char *report_label(const char *lang, const char *key);

/* A growing text buffer for the renderers. */
struct report_buf {
	char *p;
	size_t len, cap;
	int err; /* -ENOMEM once an append failed; later appends do nothing */
};
void report_buf_add(struct report_buf *b, const char *s, size_t n);
void report_buf_puts(struct report_buf *b, const char *s);
void report_buf_printf(struct report_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One CSV field (RFC 4180). */
void report_buf_csv(struct report_buf *b, const char *s);
/* Text escaped for HTML (& < > " '). */
void report_buf_html(struct report_buf *b, const char *s);
/* The buffer's string (owned by the caller), NULL after an allocation failure. */
char *report_buf_take(struct report_buf *b, size_t *ret_len);
