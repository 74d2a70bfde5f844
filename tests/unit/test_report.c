/* test_report.c - unit tests of gateway/report.c and report_html.c: the
 * period parser (a table of bad periods with their exact messages, then the
 * good ones in the site's time zone), CSV quoting (RFC 4180) and HTML
 * escaping, and report_build over the synthetic year of yeardb.h: alarm
 * counts by verdict (a later verdict supersedes), fault durations,
 * availability in %, tests and untested points, records entered later and
 * corrected, disablements, the device timeline, the compliance timeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report.h"
#include "yeardb.h"

static void test_period_bad(void **state)
{
	(void)state;
	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"", "--period: empty; use 2026, 2026-H1, 2026-H2, 2026-11 or 2026-01-01..2026-03-31"},
	    {"26", "--period '26': not a period; use 2026, 2026-H1, 2026-H2, 2026-11 or "
		   "2026-01-01..2026-03-31"},
	    {"last-year", "--period 'last-year': not a period; use 2026, 2026-H1, 2026-H2, "
			  "2026-11 or 2026-01-01..2026-03-31"},
	    {"2026-H3", "--period '2026-H3': a half-year is H1 or H2"},
	    {"2026-13", "--period '2026-13': the month must be 01..12"},
	    {"2026-00", "--period '2026-00': the month must be 01..12"},
	    {"2026-1", "--period '2026-1': not a period; use 2026, 2026-H1, 2026-H2, 2026-11 or "
		       "2026-01-01..2026-03-31"},
	    {"2026-02-30..2026-03-01", "--period: FROM '2026-02-30' is not a day YYYY-MM-DD"},
	    {"2026-03-01..2026-3-5", "--period: TO '2026-3-5' is not a day YYYY-MM-DD"},
	    {"2026-03-01..", "--period: TO '' is not a day YYYY-MM-DD"},
	    {"2026-03-01..2026-02-01", "--period: TO 2026-02-01 is before FROM 2026-03-01"},
	    {"2025-02-29..2025-03-01", "--period: FROM '2025-02-29' is not a day YYYY-MM-DD"},
	};
	char err[200];
	int64_t from, to;
	size_t i;

	sitetime_use("Asia/Ho_Chi_Minh");
	assert_int_equal(report_period_parse(NULL, &from, &to, err, sizeof(err)), -EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(report_period_parse(bad[i].in, &from, &to, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, bad[i].msg);
	}
}

static void test_period_good(void **state)
{
	(void)state;
	static const struct {
		const char *in, *from, *to;
	} good[] = {
	    {"2026", "2025-12-31T17:00:00.000Z", "2026-12-31T17:00:00.000Z"},
	    {"2026-H1", "2025-12-31T17:00:00.000Z", "2026-06-30T17:00:00.000Z"},
	    {"2026-h2", "2026-06-30T17:00:00.000Z", "2026-12-31T17:00:00.000Z"},
	    {"2026-11", "2026-10-31T17:00:00.000Z", "2026-11-30T17:00:00.000Z"},
	    {"2026-12", "2026-11-30T17:00:00.000Z", "2026-12-31T17:00:00.000Z"},
	    {"2028-02", "2028-01-31T17:00:00.000Z", "2028-02-29T17:00:00.000Z"},
	    {"2026-01-01..2026-03-31", "2025-12-31T17:00:00.000Z", "2026-03-31T17:00:00.000Z"},
	    {"2026-05-03..2026-05-03", "2026-05-02T17:00:00.000Z", "2026-05-03T17:00:00.000Z"},
	};
	char err[200], a[UTIL_TS_LEN], b[UTIL_TS_LEN];
	int64_t from, to;
	size_t i;

	sitetime_use("Asia/Ho_Chi_Minh");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(report_period_parse(good[i].in, &from, &to, err, sizeof(err)), 0);
		assert_string_equal(util_rfc3339(from, a), good[i].from);
		assert_string_equal(util_rfc3339(to, b), good[i].to);
	}
	sitetime_use("UTC");
	assert_int_equal(report_period_parse("2026", &from, &to, err, sizeof(err)), 0);
	assert_string_equal(util_rfc3339(from, a), "2026-01-01T00:00:00.000Z");
}

static void test_csv_and_html_escaping(void **state)
{
	(void)state;
	static const struct {
		const char *in, *csv, *html;
	} cases[] = {
	    {"plain", "plain", "plain"},
	    {"Khu A, lô 11", "\"Khu A, lô 11\"", "Khu A, lô 11"},
	    {"say \"hi\"", "\"say \"\"hi\"\"\"", "say &quot;hi&quot;"},
	    {"two\nlines", "\"two\nlines\"", "two\nlines"},
	    {"cr\r", "\"cr\r\"", "cr\r"},
	    {"<script>&'", "<script>&'", "&lt;script&gt;&amp;&#39;"},
	    {"", "", ""},
	};
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct report_buf b = {0}, h = {0};
		char *s;

		report_buf_csv(&b, cases[i].in);
		s = report_buf_take(&b, &len);
		assert_string_equal(s, cases[i].csv);
		free(s);
		report_buf_html(&h, cases[i].in);
		s = report_buf_take(&h, &len);
		assert_string_equal(s, cases[i].html);
		free(s);
	}
}

static int setup(void **state)
{
	*state = yd_build();
	return 0;
}

static int teardown(void **state)
{
	yd_free(*state);
	return 0;
}

static json_t *build(struct yeardb *y, const char *period)
{
	char err[200];
	int64_t from, to;
	json_t *rep = NULL;
	store *s = yd_open_ro(y);

	sitetime_use("Asia/Ho_Chi_Minh");
	assert_int_equal(report_period_parse(period, &from, &to, err, sizeof(err)), 0);
	/* the year is over: as seen from 2027 */
	assert_int_equal(
	    report_build(s, &y->cfg, from, to, "vi", yd_at(12, 31, 0, 0) + 2 * 86400000LL, &rep),
	    0);
	store_free(s);
	return rep;
}

static json_int_t jint(json_t *o, const char *path)
{
	char buf[128], *tok, *save = NULL;
	json_t *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
		v = json_object_get(v, tok);
	assert_non_null(v);
	return json_integer_value(v);
}

static void test_build_bad_input(void **state)
{
	struct yeardb *y = *state;
	store *s = yd_open_ro(y);
	json_t *rep = NULL;

	assert_int_equal(report_build(NULL, &y->cfg, 0, 1, "vi", 0, &rep), -EINVAL);
	assert_int_equal(report_build(s, &y->cfg, 10, 10, "vi", 0, &rep), -EINVAL);
	assert_int_equal(report_build(s, &y->cfg, 0, 10, "fr", 0, &rep), -EINVAL);
	assert_null(rep);
	store_free(s);
}

static void test_build_year(void **state)
{
	struct yeardb *y = *state;
	json_t *rep = build(y, "2026"), *f, *recs, *pts, *tl;
	size_t i;
	int later = 0, corrected = 0;

	assert_string_equal(json_string_value(json_object_get(rep, "schema")), REPORT_SCHEMA);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(rep, "site"), "facility_id")),
	    "TG-1");
	assert_int_equal(jint(rep, "alarms.count"), 2);
	/* the later ack on the first alarm says unwanted: it supersedes real */
	assert_int_equal(jint(rep, "alarms.by_verdict.real"), 0);
	assert_int_equal(jint(rep, "alarms.by_verdict.unwanted"), 2);
	assert_int_equal(jint(rep, "alarms.unwanted_12_months"), 2);
	assert_int_equal(jint(rep, "alarms.in_test_mode"), 1);
	f = json_array_get(json_object_get(json_object_get(rep, "alarms"), "list"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "location")), "Khu A, lô 11");
	assert_string_equal(json_string_value(json_object_get(f, "acked")),
			    "2026-03-05T06:08:00.000Z");
	assert_string_equal(json_string_value(json_object_get(f, "cleared")),
			    "2026-03-05T06:40:00.000Z");
	/* the comm_loss of nine days and the two-hour outage */
	assert_int_equal(jint(rep, "faults.count"), 2);
	f = json_array_get(json_object_get(json_object_get(rep, "faults"), "list"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "type")), "comm_loss");
	assert_int_equal(json_integer_value(json_object_get(f, "duration_s")), 9 * 86400);
	assert_int_equal(jint(rep, "availability.longest_outage_s"), 7200);
	assert_int_equal(jint(rep, "availability.uplink_down_s"), 7200);
	/* smoke-a1: 9 of 365 days unavailable; heat-b1 disabled 11 days */
	pts = json_object_get(json_object_get(rep, "availability"), "points");
	assert_int_equal(json_array_size(pts), 3);
	assert_float_equal(
	    json_real_value(json_object_get(json_array_get(pts, 0), "available_pct")),
	    round(10000.0 * (365.0 - 9.0) / 365.0) / 100.0, 0.001);
	assert_float_equal(
	    json_real_value(json_object_get(json_array_get(pts, 1), "available_pct")), 100.0,
	    0.001);
	assert_float_equal(
	    json_real_value(json_object_get(json_array_get(pts, 2), "available_pct")),
	    round(10000.0 * (365.0 - 11.0) / 365.0) / 100.0, 0.001);
	assert_float_equal(
	    json_real_value(json_object_get(json_object_get(rep, "availability"), "gateway_pct")),
	    round(10000.0 * (365.0 * 24 - 2) / (365.0 * 24)) / 100.0, 0.001);
	/* tests */
	assert_int_equal(jint(rep, "tests.tested"), 2);
	assert_int_equal(jint(rep, "tests.not_tested"), 1);
	assert_int_equal(jint(rep, "tests.sessions"), 1);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(json_object_get(rep, "tests"), "untested"), 0)),
			    "smoke-a2.fire");
	/* records */
	recs = json_object_get(rep, "records");
	assert_int_equal(json_array_size(recs), 1 + 11 + 2 + 2);
	for (i = 0; i < json_array_size(recs); i++) {
		json_t *r = json_array_get(recs, i);

		later += json_is_true(json_object_get(r, "entered_later"));
		corrected += json_is_string(json_object_get(r, "corrected_by"));
	}
	assert_int_equal(later, 2); /* the paper maintenance and the correction */
	assert_int_equal(corrected, 1);
	/* disablement: one, from its first day */
	assert_int_equal(jint(rep, "disablements.count"), 1);
	f = json_array_get(json_object_get(json_object_get(rep, "disablements"), "list"), 0);
	assert_int_equal(json_integer_value(json_object_get(f, "duration_s")), 11 * 86400);
	/* the device timeline: smoke-a1 alarm then fault segments */
	tl = json_object_get(json_array_get(json_object_get(rep, "timeline"), 0), "segments");
	assert_string_equal(json_string_value(json_object_get(json_array_get(tl, 0), "state")),
			    "normal");
	{
		int alarm = 0, fault = 0, test = 0;

		for (i = 0; i < json_array_size(tl); i++) {
			const char *st =
			    json_string_value(json_object_get(json_array_get(tl, i), "state"));

			alarm += strcmp(st, "alarm") == 0;
			fault += strcmp(st, "fault") == 0;
			test += strcmp(st, "test") == 0;
		}
		assert_int_equal(alarm, 1);
		assert_int_equal(fault, 1);
		assert_int_equal(test, 1);
	}
	json_decref(rep);
}

static void test_build_month_and_renderers(void **state)
{
	struct yeardb *y = *state;
	json_t *rep = build(y, "2026-04");
	char *csv, *html;
	size_t len;

	assert_int_equal(jint(rep, "alarms.count"), 0);
	assert_int_equal(jint(rep, "faults.count"), 1);
	csv = report_csv(rep, &len);
	assert_non_null(csv);
	assert_int_equal(strncmp(csv, "section,key,value\r\n", 19), 0);
	assert_non_null(strstr(csv, "summary,site_name,\"Chợ \"\"Thử\"\" <A>, Khu A\"\r\n"));
	assert_non_null(strstr(csv, "fault,smoke-a1,fire,comm_loss,"));
	/* times local, with their offset */
	assert_non_null(strstr(csv, "fault,smoke-a1,fire,comm_loss,2026-04-01T08:00:00+07:00,"
				    "2026-04-10T08:00:00+07:00,false,777600\r\n"));
	free(csv);
	html = report_html(rep, &len);
	assert_non_null(html);
	assert_int_equal(strlen(html), len);
	assert_non_null(strstr(html, "Chợ &quot;Thử&quot; &lt;A&gt;, Khu A"));
	assert_null(strstr(html, "<A>"));
	assert_non_null(strstr(html, "@page { size: A4"));
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(strstr(html, "9 ngày 0 giờ"));
	free(html);
	json_decref(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_period_bad),
	    cmocka_unit_test(test_period_good),
	    cmocka_unit_test(test_csv_and_html_escaping),
	    cmocka_unit_test_setup_teardown(test_build_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_build_year, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_build_month_and_renderers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
