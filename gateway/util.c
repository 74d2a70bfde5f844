/* util.c - clocks, number parsing and identifier checks. Pure helpers,
 * callable from any thread. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *util_rfc3339(int64_t wall_ms, char buf[UTIL_TS_LEN])
{
	time_t secs = (time_t)(wall_ms / 1000);
	int ms = (int)(wall_ms % 1000);
	struct tm tm;
	size_t n;

	if (ms < 0) {
		ms += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	n = strftime(buf, UTIL_TS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, UTIL_TS_LEN - n, ".%03dZ", ms);
	return buf;
}

/* n decimal digits at *p, exactly; advances *p. -1 when not digits. */
static int digits(const char **p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* Strict: exactly YYYY-MM-DD, optionally THH:MM:SS[.fraction]Z; a date
 * that does not exist (2026-11-31) is refused, not rolled over. */
int util_parse_rfc3339(const char *s, int64_t *ret_wall_ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	y = digits(&p, 4);
	if (y < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -EINVAL;
	if (*p == 'T') {
		p++;
		if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 ||
		    *p++ != ':' || (sec = digits(&p, 2)) < 0)
			return -EINVAL;
		if (h > 23 || mi > 59 || sec > 59)
			return -EINVAL;
		if (*p == '.') {
			int n = 0;

			p++;
			while (isdigit((unsigned char)*p)) {
				if (n < 3)
					ms = ms * 10 + (*p - '0');
				n++;
				p++;
			}
			if (n == 0)
				return -EINVAL;
			for (; n < 3; n++)
				ms *= 10;
		}
		if (*p++ != 'Z')
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ret_wall_ms = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

int util_parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int util_parse_double(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

bool util_is_slug(const char *s)
{
	size_t n;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (n = 1; s[n]; n++) {
		char c = s[n];

		if (n > 62)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

bool util_is_plain_id(const char *s)
{
	size_t n;

	if (!s || !*s)
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= 64)
			return false;
		if (!(isalnum((unsigned char)c) || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int util_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return -ENAMETOOLONG;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

bool util_text_ok(const char *s, size_t max_bytes)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i = 0, k;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > max_bytes)
		return false;
	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		k = utf8_seq_len(p + i, n - i);
		if (!k)
			return false;
		/* C1 controls U+0080..U+009F */
		if (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)
			return false;
		i += k;
	}
	return true;
}

char *util_escape(const char *s, size_t s_len, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, k;

	if (!buf || len == 0)
		return buf;
	buf[0] = '\0';
	if (!s)
		return buf;
	while (i < s_len) {
		char tmp[8];
		size_t tl;

		k = p[i] >= 0x20 && p[i] != 0x7f && p[i] != '\\' ? utf8_seq_len(p + i, s_len - i) : 0;
		if (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)
			k = 0;
		if (k) {
			memcpy(tmp, p + i, k);
			tl = k;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			tl = 4;
			k = 1;
		}
		if (o + tl + 4 > len) {
			/* room for "..." and the NUL */
			if (o + 4 <= len)
				memcpy(buf + o, "...", 3), o += 3;
			break;
		}
		memcpy(buf + o, tmp, tl);
		o += tl;
		i += k;
	}
	buf[o] = '\0';
	return buf;
}
