/* test_util.c - unit tests of gateway/util.c: number parsing, RFC 3339
 * timestamps, identifier checks and util_strlcpy. Error paths first, each
 * family as a table of inputs and their exact expected result. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

/* ---- util_parse_long ---- */

struct long_case {
	const char *s;
	long min, max;
	int ret;
	long want; /* when ret == 0 */
};

static void test_parse_long_refused(void **state)
{
	static const struct long_case cases[] = {
	    {"", 0, 10, -EINVAL, 0},
	    {" 5", 0, 10, -EINVAL, 0}, /* leading space */
	    {"\t5", 0, 10, -EINVAL, 0},
	    {"5 ", 0, 10, -EINVAL, 0}, /* trailing space */
	    {"5\n", 0, 10, -EINVAL, 0},
	    {"5x", 0, 10, -EINVAL, 0}, /* junk after */
	    {"x5", 0, 10, -EINVAL, 0},
	    {"0x10", 0, 100, -EINVAL, 0}, /* base 10 only */
	    {"1.5", 0, 10, -EINVAL, 0},
	    {"1e3", 0, 10000, -EINVAL, 0},
	    {"-", -10, 10, -EINVAL, 0},
	    {"+", -10, 10, -EINVAL, 0},
	    {"--1", -10, 10, -EINVAL, 0},
	    {"11", 0, 10, -ERANGE, 0},	 /* above max */
	    {"-1", 0, 10, -ERANGE, 0},	 /* below min */
	    {"248", 1, 247, -ERANGE, 0}, /* Modbus unit id bound */
	    {"0", 1, 247, -ERANGE, 0},
	    {"9223372036854775808", LONG_MIN, LONG_MAX, -ERANGE, 0},  /* overflow */
	    {"-9223372036854775809", LONG_MIN, LONG_MAX, -ERANGE, 0}, /* underflow */
	    {"99999999999999999999999", 0, 10, -ERANGE, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		long v = 12345;
		int r = util_parse_long(cases[i].s, cases[i].min, cases[i].max, &v);

		if (r != cases[i].ret)
			fail_msg("util_parse_long(\"%s\", %ld, %ld) = %d, want %d", cases[i].s,
				 cases[i].min, cases[i].max, r, cases[i].ret);
		/* the out-parameter is untouched on failure */
		assert_int_equal(v, 12345);
	}
	assert_int_equal(util_parse_long(NULL, 0, 10, &(long){0}), -EINVAL);
}

static void test_parse_long_accepted(void **state)
{
	static const struct long_case cases[] = {
	    {"0", 0, 10, 0, 0},
	    {"10", 0, 10, 0, 10}, /* max inclusive */
	    {"1", 1, 247, 0, 1},  /* min inclusive */
	    {"247", 1, 247, 0, 247},
	    {"-5", -10, 10, 0, -5},
	    {"+7", 0, 10, 0, 7},
	    {"007", 0, 10, 0, 7}, /* not octal */
	    {"9223372036854775807", LONG_MIN, LONG_MAX, 0, LONG_MAX},
	    {"-9223372036854775808", LONG_MIN, LONG_MAX, 0, LONG_MIN},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		long v = -1;
		int r = util_parse_long(cases[i].s, cases[i].min, cases[i].max, &v);

		if (r != 0 || v != cases[i].want)
			fail_msg("util_parse_long(\"%s\") = %d, %ld; want 0, %ld", cases[i].s, r, v,
				 cases[i].want);
	}
}

/* ---- util_parse_double ---- */

static void test_parse_double_refused(void **state)
{
	static const char *const bad[] = {
	    "",	      " 1",  "\t1",  "1 ",  "1x",   "x",	"1.2.3", "1e",	  "--1", ",5",
	    "nan",    "NaN", "-nan", "inf", "-inf", "Infinity", "INF",	 "1e999", /* overflows to
										     inf */
	    "-1e999",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		double v = 42.0;
		int r = util_parse_double(bad[i], &v);

		if (r != -EINVAL)
			fail_msg("util_parse_double(\"%s\") = %d, want -EINVAL", bad[i], r);
		assert_true(v == 42.0);
	}
	assert_int_equal(util_parse_double(NULL, &(double){0}), -EINVAL);
}

static void test_parse_double_accepted(void **state)
{
	static const struct {
		const char *s;
		double want;
	} cases[] = {
	    {"0", 0.0},	 {"4.8", 4.8}, {"-40", -40.0},	   {"+1.5", 1.5},    {".5", 0.5},
	    {"5.", 5.0}, {"1e5", 1e5}, {"2.5E-3", 2.5e-3}, {"1e308", 1e308}, {"-0", -0.0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		double v = NAN;
		int r = util_parse_double(cases[i].s, &v);

		if (r != 0 || v != cases[i].want)
			fail_msg("util_parse_double(\"%s\") = %d, %g; want 0, %g", cases[i].s, r, v,
				 cases[i].want);
	}
}

/* ---- util_rfc3339 / util_parse_rfc3339 ---- */

static void test_parse_rfc3339_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026",
	    "2026-11",
	    "2026-11-28T",		     /* T with no time */
	    "2026-11-28T02:11",		     /* no seconds */
	    "2026-11-28T02:11:46",	     /* no Z */
	    "2026-11-28T02:11:46.123",	     /* no Z */
	    "2026-11-28T02:11:46.Z",	     /* dot, no digits */
	    "2026-11-28T02:11:46,123Z",	     /* comma decimal */
	    "2026-11-28T02:11:46.123+07:00", /* offsets are not UTC */
	    "2026-11-28T02:11:46+00:00",
	    "2026-11-28T02:11:46z",  /* lowercase z */
	    "2026-11-28t02:11:46Z",  /* lowercase t */
	    "2026-11-28 02:11:46Z",  /* space separator */
	    "2026-11-28T02:11:46Z ", /* trailing junk */
	    "2026-11-28T02:11:46Zx",
	    "2026-11-28T02:11:46.123Z\n",
	    "2026-11-28x",
	    "2026-11-28\n",
	    "2026/11/28",
	    "28-11-2026",
	    "+2026-11-28",
	    "2026-13-01",	    /* month 13 */
	    "2026-00-10",	    /* month 0 */
	    "2026-11-00",	    /* day 0 */
	    "2026-11-32",	    /* day 32 */
	    "2026-11-28T24:00:00Z", /* hour 24 */
	    "2026-11-28T02:60:00Z", /* minute 60 */
	    "today",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t v = 777;
		int r = util_parse_rfc3339(bad[i], &v);

		if (r != -EINVAL)
			fail_msg("util_parse_rfc3339(\"%s\") = %d (%lld), want -EINVAL", bad[i], r,
				 (long long)v);
		assert_true(v == 777);
	}
	assert_int_equal(util_parse_rfc3339(NULL, &(int64_t){0}), -EINVAL);
}

/* Regression test (a bug found by this suite, now fixed): util_parse_rfc3339 relies on strptime(),
 * which checks day 1..31 whatever the month and skips blanks before each
 * number, and timegm() then silently normalises: "2026-11-31" is accepted
 * as 2026-12-01, "2026-02-29" as 2026-03-01, " 2026-11-28" and
 * "2026-11-28T 2:11:46Z" as if well formed. A record date or a report
 * period typed wrong thus lands on another day without an error. */
static void test_parse_rfc3339_refuses_impossible_dates(void **state)
{
	static const char *const bad[] = {
	    "2026-11-31", /* November has 30 days */
	    "2026-02-29", /* 2026 is not a leap year */
	    "2026-02-30",	 "2026-04-31T00:00:00Z", " 2026-11-28", /* leading blank */
	    "2026- 11-28",	 "2026-11-28T 2:11:46Z", "2026-1-2", /* fields must be two digits */
	    "2026-11-28T2:1:4Z",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t v = 777;
		int r = util_parse_rfc3339(bad[i], &v);

		if (r != -EINVAL)
			fail_msg("util_parse_rfc3339(\"%s\") = %d (%lld), want -EINVAL", bad[i], r,
				 (long long)v);
	}
}

struct ts_case {
	int64_t ms;
	const char *text;
};

/* Known instants, checked against `date -u -d @SECONDS`. */
static const struct ts_case known_ts[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {1, "1970-01-01T00:00:00.001Z"},
    {999, "1970-01-01T00:00:00.999Z"},
    {1000, "1970-01-01T00:00:01.000Z"},
    {1795831906123, "2026-11-28T02:11:46.123Z"}, /* SPEC §3 example */
    {1795831906000, "2026-11-28T02:11:46.000Z"},
    {1709164800000, "2024-02-29T00:00:00.000Z"}, /* leap day */
    {951782400000, "2000-02-29T00:00:00.000Z"},
    {2147483647000, "2038-01-19T03:14:07.000Z"}, /* 32-bit time_t limit */
    {2147483648000, "2038-01-19T03:14:08.000Z"},
    {253402300799999, "9999-12-31T23:59:59.999Z"},
    /* before 1970: the millisecond part must not go negative */
    {-1, "1969-12-31T23:59:59.999Z"},
    {-999, "1969-12-31T23:59:59.001Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {-1001, "1969-12-31T23:59:58.999Z"},
    {-1500, "1969-12-31T23:59:58.500Z"},
    {-86400000, "1969-12-31T00:00:00.000Z"},
    {-2208988800000, "1900-01-01T00:00:00.000Z"},
};

static void test_rfc3339_format(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(known_ts); i++) {
		char buf[UTIL_TS_LEN];

		memset(buf, 'x', sizeof(buf));
		assert_ptr_equal(util_rfc3339(known_ts[i].ms, buf), buf);
		if (strcmp(buf, known_ts[i].text) != 0)
			fail_msg("util_rfc3339(%lld) = \"%s\", want \"%s\"",
				 (long long)known_ts[i].ms, buf, known_ts[i].text);
	}
}

static void test_parse_rfc3339_accepted(void **state)
{
	static const struct ts_case forms[] = {
	    {1795831906123, "2026-11-28T02:11:46.123Z"},
	    {1795831906000, "2026-11-28T02:11:46Z"},
	    {1795824000000, "2026-11-28"},	       /* midnight UTC */
	    {1795831906100, "2026-11-28T02:11:46.1Z"}, /* short fraction */
	    {1795831906120, "2026-11-28T02:11:46.12Z"},
	    {1795831906123, "2026-11-28T02:11:46.123456Z"}, /* truncated to ms */
	    {1709164800000, "2024-02-29"},
	    {0, "1970-01-01T00:00:00.000Z"},
	    {-1, "1969-12-31T23:59:59.999Z"},
	    {-2208988800000, "1900-01-01"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		int64_t v = 777;
		int r = util_parse_rfc3339(forms[i].text, &v);

		if (r != 0 || v != forms[i].ms)
			fail_msg("util_parse_rfc3339(\"%s\") = %d, %lld; want 0, %lld",
				 forms[i].text, r, (long long)v, (long long)forms[i].ms);
	}
}

static void test_rfc3339_round_trip(void **state)
{
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(known_ts); i++) {
		char buf[UTIL_TS_LEN];
		int64_t back = 0;

		util_rfc3339(known_ts[i].ms, buf);
		assert_int_equal(util_parse_rfc3339(buf, &back), 0);
		assert_true(back == known_ts[i].ms);
	}
	/* a sweep of odd steps across 1970 and across a few decades */
	for (ms = -100000037; ms < 4000000000000; ms += 99999999937) {
		char buf[UTIL_TS_LEN];
		int64_t back = 0;

		util_rfc3339(ms, buf);
		assert_int_equal(strlen(buf), 24);
		assert_int_equal(util_parse_rfc3339(buf, &back), 0);
		if (back != ms)
			fail_msg("round trip of %lld via \"%s\" gave %lld", (long long)ms, buf,
				 (long long)back);
	}
	/* the current time too, at its millisecond */
	ms = util_wall_ms();
	{
		char buf[UTIL_TS_LEN];
		int64_t back = 0;

		util_rfc3339(ms, buf);
		assert_int_equal(util_parse_rfc3339(buf, &back), 0);
		assert_true(back == ms);
	}
}

static void test_clocks(void **state)
{
	uint64_t m1, m2;
	int64_t w;

	(void)state;
	m1 = util_mono_ms();
	m2 = util_mono_ms();
	assert_true(m2 >= m1);
	w = util_wall_ms();
	/* after 2020-01-01 and before 2200: the clock is in milliseconds */
	assert_true(w > 1577836800000LL);
	assert_true(w < 7258118400000LL);
}

/* ---- identifiers ---- */

static char *repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_is_slug(void **state)
{
	char buf[256];

	(void)state;
	/* refused first */
	assert_false(util_is_slug(NULL));
	assert_false(util_is_slug(""));
	assert_false(util_is_slug("-a"));  /* first char not a dash */
	assert_false(util_is_slug("Abc")); /* uppercase */
	assert_false(util_is_slug("abC"));
	assert_false(util_is_slug("a_b")); /* underscore is not a slug char */
	assert_false(util_is_slug("a b"));
	assert_false(util_is_slug("a.b"));
	assert_false(util_is_slug("a/b"));
	assert_false(util_is_slug("chợ")); /* UTF-8 bytes */
	assert_false(util_is_slug("\xc3\xa9t\xc3\xa9"));
	assert_false(util_is_slug("ab\xff"));
	assert_false(util_is_slug(repeat(buf, 'a', 64)));
	assert_false(util_is_slug(repeat(buf, 'a', 65)));
	assert_false(util_is_slug(repeat(buf, 'a', 100)));
	repeat(buf, 'a', 63);
	buf[62] = 'B'; /* the last allowed position is checked too */
	assert_false(util_is_slug(buf));

	assert_true(util_is_slug("a"));
	assert_true(util_is_slug("0"));
	assert_true(util_is_slug("9-")); /* trailing dash is allowed */
	assert_true(util_is_slug("cho-my-tho-a"));
	assert_true(util_is_slug("a--b"));
	assert_true(util_is_slug(repeat(buf, 'a', 63)));
	assert_true(util_is_slug(repeat(buf, 'z', 62)));
	repeat(buf, '-', 63);
	buf[0] = '1';
	assert_true(util_is_slug(buf));
}

static void test_is_plain_id(void **state)
{
	char buf[256];

	(void)state;
	assert_false(util_is_plain_id(NULL));
	assert_false(util_is_plain_id(""));
	assert_false(util_is_plain_id("a b"));
	assert_false(util_is_plain_id("a.b"));
	assert_false(util_is_plain_id("a/b")); /* topic level separator */
	assert_false(util_is_plain_id("a+b")); /* MQTT wildcards */
	assert_false(util_is_plain_id("a#"));
	assert_false(util_is_plain_id("r:1"));
	assert_false(util_is_plain_id("\xc3\xa9")); /* UTF-8 bytes */
	assert_false(util_is_plain_id("id\x80"));
	assert_false(util_is_plain_id("a\n"));
	assert_false(util_is_plain_id(repeat(buf, 'a', 65)));
	assert_false(util_is_plain_id(repeat(buf, 'a', 200)));
	repeat(buf, 'a', 64);
	buf[63] = '.'; /* the last allowed position is checked too */
	assert_false(util_is_plain_id(buf));

	assert_true(util_is_plain_id("a"));
	assert_true(util_is_plain_id("-")); /* any allowed char may come first */
	assert_true(util_is_plain_id("_x"));
	assert_true(util_is_plain_id("r-17"));
	assert_true(util_is_plain_id("ABC_def-09"));
	assert_true(util_is_plain_id(repeat(buf, 'Z', 63)));
	assert_true(util_is_plain_id(repeat(buf, 'a', 64)));
}

/* ---- util_strlcpy ---- */

static void test_strlcpy(void **state)
{
	char dst[8];

	(void)state;
	/* error paths: truncation, always terminated, nothing written past n */
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(util_strlcpy(dst, "abcdefghij", 5), -ENAMETOOLONG);
	assert_string_equal(dst, "abcd");
	assert_int_equal(dst[5], 'x');

	memset(dst, 'x', sizeof(dst));
	assert_int_equal(util_strlcpy(dst, "abcdefgh", sizeof(dst)), -ENAMETOOLONG);
	assert_string_equal(dst, "abcdefg");

	memset(dst, 'x', sizeof(dst));
	assert_int_equal(util_strlcpy(dst, "a", 1), -ENAMETOOLONG);
	assert_string_equal(dst, "");
	assert_int_equal(dst[1], 'x');

	memset(dst, 'x', sizeof(dst));
	assert_int_equal(util_strlcpy(dst, "a", 0), -ENAMETOOLONG);
	assert_int_equal(dst[0], 'x'); /* n == 0: nothing written */

	/* fits exactly: n - 1 characters */
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(util_strlcpy(dst, "abcdefg", sizeof(dst)), 0);
	assert_string_equal(dst, "abcdefg");

	assert_int_equal(util_strlcpy(dst, "", sizeof(dst)), 0);
	assert_string_equal(dst, "");
	assert_int_equal(util_strlcpy(dst, "", 1), 0);
	assert_string_equal(dst, "");
	assert_int_equal(util_strlcpy(dst, "hi", sizeof(dst)), 0);
	assert_string_equal(dst, "hi");
}

/* Text from outside: control characters, invalid UTF-8 and oversize are
 * refused; Vietnamese passes. */
static void test_text_ok(void **state)
{
	(void)state;
	assert_true(util_text_ok("Nguyễn Văn A", 64));
	assert_true(util_text_ok("a", 1));
	assert_false(util_text_ok("ab", 1));
	assert_false(util_text_ok("", 64));
	assert_false(util_text_ok(NULL, 64));
	assert_false(util_text_ok("line\nbreak", 64));
	assert_false(util_text_ok("tab\there", 64));
	assert_false(util_text_ok("esc\x1b[2J", 64));
	assert_false(util_text_ok("del\x7f", 64));
	assert_false(util_text_ok("c1 \xc2\x85", 64));   /* U+0085 NEL */
	assert_false(util_text_ok("bad \xc3", 64));       /* cut sequence */
	assert_false(util_text_ok("over \xc0\xaf", 64)); /* overlong '/' */
	assert_false(util_text_ok("sur \xed\xa0\x80", 64));
	assert_false(util_text_ok("big \xf4\x90\x80\x80", 64));
}

/* Escaped text cannot forge a log line nor drive a terminal. */
static void test_escape(void **state)
{
	const char evil[] = "x\nfiregw: crit: fake\x1b[31m\\";
	char buf[64];

	(void)state;
	util_escape(evil, strlen(evil), buf, sizeof(buf));
	assert_string_equal(buf, "x\\x0afiregw: crit: fake\\x1b[31m\\x5c");
	assert_null(strchr(buf, '\n'));
	util_escape("Tủ trung tâm", strlen("Tủ trung tâm"), buf, sizeof(buf));
	assert_string_equal(buf, "Tủ trung tâm");
	util_escape("\xff\xfe", 2, buf, sizeof(buf));
	assert_string_equal(buf, "\\xff\\xfe");
	/* cut to fit, said with "..." */
	util_escape("abcdefghijklmnop", 16, buf, 10);
	assert_string_equal(buf, "abcdef..."); /* 9 bytes and the NUL */
	util_escape(NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_ok),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_parse_long_refused),
	    cmocka_unit_test(test_parse_long_accepted),
	    cmocka_unit_test(test_parse_double_refused),
	    cmocka_unit_test(test_parse_double_accepted),
	    cmocka_unit_test(test_parse_rfc3339_refused),
	    cmocka_unit_test(test_parse_rfc3339_refuses_impossible_dates),
	    cmocka_unit_test(test_rfc3339_format),
	    cmocka_unit_test(test_parse_rfc3339_accepted),
	    cmocka_unit_test(test_rfc3339_round_trip),
	    cmocka_unit_test(test_clocks),
	    cmocka_unit_test(test_is_slug),
	    cmocka_unit_test(test_is_plain_id),
	    cmocka_unit_test(test_strlcpy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
