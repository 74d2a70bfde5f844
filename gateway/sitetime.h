/* sitetime.h - the site's local time (site.timezone, an IANA name): what
 * people read in reports and command output, while data stays in UTC.
 * Uses the C library's zone database (tzdata) through TZ and tzset(), so it
 * changes the process's TZ: call it from one thread only (the CLI, or the
 * daemon's main loop). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* True when the zone name is known to tzdata (/usr/share/zoneinfo). */
int sitetime_zone_ok(const char *tz);
/* Selects the zone for the calls below ("" or NULL: UTC). 0 or -ENOENT
 * (unknown zone: UTC is used). */
int sitetime_use(const char *tz);
/* The UTC offset, in seconds, at utc_ms in the selected zone. */
int32_t sitetime_offset_s(int64_t utc_ms);
/* Local midnight of y-m-d (then + the given seconds) as UTC ms. 0 or -EINVAL
 * (no such day). */
int sitetime_local_ms(int y, int m, int d, int64_t *ret_utc_ms);
/* Parses "YYYY-MM-DD" into its local midnight. 0 or -EINVAL. */
int sitetime_parse_date(const char *s, int64_t *ret_utc_ms);
/* Formats utc_ms in local time with strftime's fmt into buf. Returns buf. */
char *sitetime_format(int64_t utc_ms, const char *fmt, char *buf, size_t len);
/* Local calendar date of utc_ms. */
void sitetime_date(int64_t utc_ms, int *ret_y, int *ret_m, int *ret_d);
