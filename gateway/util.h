/* util.h - small helpers shared by every module: clocks, number parsing,
 * identifier checks. No state, no I/O beyond reading the clocks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds on CLOCK_MONOTONIC: every timer and deadline uses this. */
uint64_t util_mono_ms(void);
/* Milliseconds since the Unix epoch on CLOCK_REALTIME: timestamps only. */
int64_t util_wall_ms(void);
/* Formats wall_ms as RFC 3339 UTC with milliseconds, "2026-11-28T02:11:46.123Z".
 * buf must hold UTIL_TS_LEN bytes. Returns buf. */
#define UTIL_TS_LEN 32
char *util_rfc3339(int64_t wall_ms, char buf[UTIL_TS_LEN]);
/* Parses "2026-11-28T02:11:46.123Z", "2026-11-28T02:11:46Z" or "2026-11-28"
 * (midnight UTC). Returns 0 or -EINVAL. */
int util_parse_rfc3339(const char *s, int64_t *ret_wall_ms);

/* Whole string must be a base-10 integer in [min, max]. 0, -EINVAL or -ERANGE. */
int util_parse_long(const char *s, long min, long max, long *ret);
/* Whole string must be a finite number. 0 or -EINVAL. */
int util_parse_double(const char *s, double *ret);

/* site and device ids: [a-z0-9][a-z0-9-]{0,62} */
bool util_is_slug(const char *s);
/* request ids, profile names, point names: [A-Za-z0-9_-]{1,64} */
bool util_is_plain_id(const char *s);

/* Copies src into dst of size n, always NUL-terminated. Returns -ENAMETOOLONG
 * (and a truncated copy) when src does not fit, else 0. */
int util_strlcpy(char *dst, const char *src, size_t n);

/* Text from outside (names, reasons, notes) that may be stored and shown:
 * valid UTF-8, no control characters, 1..max_bytes bytes. */
bool util_text_ok(const char *s, size_t max_bytes);
/* Copies text from outside into buf for a log line or a terminal: control
 * characters, bytes of invalid UTF-8 and backslashes become \xNN escapes, so
 * nothing from outside can forge a line or drive a terminal; cut (with
 * "...") to fit len. Returns buf. */
char *util_escape(const char *s, size_t s_len, char *buf, size_t len);
