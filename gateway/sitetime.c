/* sitetime.c - local time of the site (sitetime.h). TZ is set once per
 * sitetime_use(); mktime and localtime_r then do the zone rules (DST where
 * a zone has it; Asia/Ho_Chi_Minh has none). Single-threaded callers. */
#include "sitetime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int sitetime_zone_ok(const char *tz)
{
	struct stat st;
	char path[256];
	const char *p;

	if (!tz || !tz[0] || strlen(tz) > 64 || tz[0] == '/' || strstr(tz, ".."))
		return 0;
	for (p = tz; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
			return 0;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	/* a zone is a file: "Asia" (a directory) is not one */
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

int sitetime_use(const char *tz)
{
	int ok = tz && tz[0] && sitetime_zone_ok(tz);
	const char *want = ok ? tz : "UTC", *cur = getenv("TZ");

	/* the daemon sets TZ once before its threads start: then this
	 * writes nothing, so its inspector thread may call it too */
	if (cur && strcmp(cur, want) == 0)
		return ok || !tz || !tz[0] ? 0 : -ENOENT;
	setenv("TZ", want, 1);
	tzset();
	return ok || !tz || !tz[0] ? 0 : -ENOENT;
}

int32_t sitetime_offset_s(int64_t utc_ms)
{
	time_t t = (time_t)(utc_ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

int sitetime_local_ms(int y, int m, int d, int64_t *ret_utc_ms)
{
	struct tm tm = {0};
	time_t t;

	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_utc_ms = (int64_t)t * 1000;
	return 0;
}

int sitetime_parse_date(const char *s, int64_t *ret_utc_ms)
{
	int y, m, d, i;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return -EINVAL;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	return sitetime_local_ms(y, m, d, ret_utc_ms);
}

char *sitetime_format(int64_t utc_ms, const char *fmt, char *buf, size_t len)
{
	time_t t = (time_t)(utc_ms / 1000);
	struct tm tm;

	size_t n = 0;

	/* fmt comes from this program's own label tables, never from outside */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (localtime_r(&t, &tm))
		n = strftime(buf, len, fmt, &tm);
#pragma GCC diagnostic pop
	if (n == 0)
		snprintf(buf, len, "?");
	return buf;
}

void sitetime_date(int64_t utc_ms, int *ret_y, int *ret_m, int *ret_d)
{
	time_t t = (time_t)(utc_ms / 1000);
	struct tm tm = {0};

	localtime_r(&t, &tm);
	*ret_y = tm.tm_year + 1900;
	*ret_m = tm.tm_mon + 1;
	*ret_d = tm.tm_mday;
}
