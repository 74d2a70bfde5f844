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

int util_parse_rfc3339(const char *s, int64_t *ret_wall_ms)
{
	struct tm tm = { 0 };
	int ms = 0;
	const char *p;

	if (!s)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -EINVAL;
	if (*p == 'T') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return -EINVAL;
		if (*p == '.') {
			int digits = 0;

			p++;
			while (isdigit((unsigned char)*p)) {
				if (digits < 3)
					ms = ms * 10 + (*p - '0');
				digits++;
				p++;
			}
			if (digits == 0)
				return -EINVAL;
			for (; digits < 3; digits++)
				ms *= 10;
		}
		if (*p != 'Z' || p[1] != '\0')
			return -EINVAL;
	} else if (*p != '\0') {
		return -EINVAL;
	}
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
