/* test_compliance.c - unit tests of gateway/compliance.c over synthetic
 * calendars: a compliant site; an overdue maintenance; a point never
 * tested; a fault open for 8 days; a disabled point; an obligation due in
 * 10 days; a failed police inspection, then a later pass; a record
 * corrected by a later one; records not yet entered at the time evaluated;
 * leap years and month ends; bad input first. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "compliance.h"

#define DAY COMPLIANCE_DAY_MS

/* Midnight UTC of a calendar day. */
static int64_t day(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };

	return (int64_t)timegm(&tm) * 1000;
}

static const struct cfg_compliance defaults = {
	.system_test_days = 182,
	.maintenance_days = 730,
	.self_inspection_days = 31,
	.police_inspection_days = 365,
	.device_test_days = 365,
	.max_fault_days = 7,
	.due_soon_days = 14,
};

struct cal {
	struct comp_record rec[32];
	size_t n_rec;
	struct comp_point pts[4];
	struct comp_open faults[4], dis[4];
	struct comp_input in;
	struct comp_result res;
};

static void add(struct cal *c, enum comp_record_kind k, int64_t date, bool pass)
{
	c->rec[c->n_rec] = (struct comp_record){ .kind = k, .date_ms = date, .pass = pass,
						 .seq = c->n_rec + 1 };
	c->n_rec++;
}

/* A site monitored since 2026-01-01 that met every obligation, evaluated
 * on 2026-06-01. */
static void compliant_site(struct cal *c)
{
	memset(c, 0, sizeof(*c));
	add(c, COMP_REC_SYSTEM_TEST, day(2026, 3, 1), true);
	add(c, COMP_REC_MAINTENANCE, day(2025, 12, 1), true);
	add(c, COMP_REC_SELF_INSPECTION, day(2026, 5, 20), true);
	add(c, COMP_REC_POLICE_INSPECTION, day(2026, 2, 1), true);
	c->pts[0] = (struct comp_point){ "smoke-a1.fire", day(2026, 1, 1), day(2026, 3, 1) };
	c->pts[1] = (struct comp_point){ "heat-b1.fire", day(2026, 1, 1), day(2026, 3, 1) };
	c->in = (struct comp_input){
		.ob = &defaults, .now_ms = day(2026, 6, 1), .since_ms = day(2026, 1, 1),
		.records = c->rec, .n_records = c->n_rec, .points = c->pts, .n_points = 2,
		.faults = c->faults, .disabled = c->dis, .uplink_up = true, .clock_synced = true,
	};
}

static void eval(struct cal *c)
{
	c->in.n_records = c->n_rec;
	assert_int_equal(compliance_evaluate(&c->in, &c->res), 0);
}

static enum comp_status st(const struct cal *c, enum comp_item i)
{
	return c->res.items[i].status;
}

static void test_bad_input(void **state)
{
	struct comp_input in = { 0 };
	struct comp_result res;
	struct comp_record bad = { .kind = COMP_REC_MAX };

	(void)state;
	assert_int_equal(compliance_evaluate(NULL, &res), -EINVAL);
	assert_int_equal(compliance_evaluate(&in, &res), -EINVAL); /* no obligations */
	in.ob = &defaults;
	assert_int_equal(compliance_evaluate(&in, NULL), -EINVAL);
	in.n_records = 1; /* records missing */
	assert_int_equal(compliance_evaluate(&in, &res), -EINVAL);
	in.records = &bad;
	assert_int_equal(compliance_evaluate(&in, &res), -EINVAL);
	assert_int_equal(compliance_record_kind("maintenance"), COMP_REC_MAINTENANCE);
	assert_int_equal(compliance_record_kind("inspection"), COMP_REC_INVALID);
	assert_int_equal(compliance_record_kind(NULL), COMP_REC_INVALID);
	assert_string_equal(compliance_status_name(COMP_STATUS_MAX), "invalid");
}

static void test_compliant_site(void **state)
{
	struct cal c;
	int i;

	(void)state;
	compliant_site(&c);
	eval(&c);
	for (i = 0; i < COMP_ITEM_MAX; i++)
		assert_int_equal(st(&c, (enum comp_item)i), COMP_OK);
	assert_int_equal(c.res.overall, COMP_COMPLIANT);
	assert_string_equal(compliance_overall_name(c.res.overall), "compliant");
	assert_int_equal(c.res.items[COMP_SYSTEM_TEST].last_ms, day(2026, 3, 1));
	assert_int_equal(c.res.items[COMP_SYSTEM_TEST].due_ms, day(2026, 3, 1) + 182 * DAY);
}

static void test_overdue_maintenance(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.rec[1].date_ms = day(2024, 5, 1); /* two years and a month ago */
	eval(&c);
	assert_int_equal(st(&c, COMP_MAINTENANCE), COMP_OVERDUE);
	assert_int_equal(c.res.overall, COMP_OVERALL_NON_COMPLIANT);
	assert_non_null(strstr(c.res.items[COMP_MAINTENANCE].reason, "2024-05-01"));
}

static void test_point_never_tested(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.pts[1].last_tested_ms = 0;
	eval(&c); /* 151 days after its first state: not yet due */
	assert_int_equal(st(&c, COMP_DEVICE_TEST), COMP_OK);
	c.in.now_ms = day(2027, 1, 2); /* 366 days after its first state */
	c.rec[2].date_ms = day(2026, 12, 28);
	c.rec[0].date_ms = day(2026, 9, 1);
	eval(&c);
	assert_int_equal(st(&c, COMP_DEVICE_TEST), COMP_OVERDUE);
	assert_int_equal(c.res.items[COMP_DEVICE_TEST].count, 1);
	assert_non_null(strstr(c.res.items[COMP_DEVICE_TEST].reason, "heat-b1.fire"));
}

static void test_fault_open_eight_days(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.faults[0] = (struct comp_open){ "smoke-a1.fire", c.in.now_ms - 3 * DAY };
	c.in.n_faults = 1;
	eval(&c);
	assert_int_equal(st(&c, COMP_FAULTS), COMP_DUE_SOON);
	assert_int_equal(c.res.overall, COMP_OVERALL_DUE_SOON);
	c.faults[0].since_ms = c.in.now_ms - 8 * DAY;
	eval(&c);
	assert_int_equal(st(&c, COMP_FAULTS), COMP_NON_COMPLIANT);
	assert_int_equal(c.res.overall, COMP_OVERALL_NON_COMPLIANT);
	assert_int_equal(c.res.items[COMP_FAULTS].count, 1);
}

static void test_point_disabled(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.dis[0] = (struct comp_open){ "heat-b1.fire", c.in.now_ms - DAY };
	c.in.n_disabled = 1;
	eval(&c);
	assert_int_equal(st(&c, COMP_DISABLEMENTS), COMP_DUE_SOON);
	c.dis[0].since_ms = c.in.now_ms - 30 * DAY;
	eval(&c);
	assert_int_equal(st(&c, COMP_DISABLEMENTS), COMP_NON_COMPLIANT);
	assert_non_null(strstr(c.res.items[COMP_DISABLEMENTS].reason, "heat-b1.fire"));
}

static void test_due_in_ten_days(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	/* self-inspection every 31 days: last one 21 days ago */
	c.rec[2].date_ms = c.in.now_ms - 21 * DAY;
	eval(&c);
	assert_int_equal(st(&c, COMP_SELF_INSPECTION), COMP_DUE_SOON);
	assert_int_equal(c.res.items[COMP_SELF_INSPECTION].due_ms, c.in.now_ms + 10 * DAY);
	assert_int_equal(c.res.overall, COMP_OVERALL_DUE_SOON);
	/* 16 days ago: due in 15, outside due_soon_days */
	c.rec[2].date_ms = c.in.now_ms - 16 * DAY;
	eval(&c);
	assert_int_equal(st(&c, COMP_SELF_INSPECTION), COMP_OK);
}

static void test_failed_police_inspection_then_pass(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	add(&c, COMP_REC_POLICE_INSPECTION, day(2026, 5, 1), false);
	eval(&c);
	assert_int_equal(st(&c, COMP_POLICE_INSPECTION), COMP_NON_COMPLIANT);
	assert_non_null(strstr(c.res.items[COMP_POLICE_INSPECTION].reason, "failed"));
	/* the last pass still dates the obligation */
	assert_int_equal(c.res.items[COMP_POLICE_INSPECTION].last_ms, day(2026, 2, 1));
	add(&c, COMP_REC_POLICE_INSPECTION, day(2026, 5, 15), true);
	eval(&c);
	assert_int_equal(st(&c, COMP_POLICE_INSPECTION), COMP_OK);
	assert_int_equal(c.res.items[COMP_POLICE_INSPECTION].last_ms, day(2026, 5, 15));
}

/* A failed inspection entered by mistake is corrected by a later record
 * naming it: the corrected one no longer counts (both stay recorded). */
static void test_record_corrected(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	add(&c, COMP_REC_POLICE_INSPECTION, day(2026, 5, 1), false);
	add(&c, COMP_REC_POLICE_INSPECTION, day(2026, 5, 1), true);
	c.rec[c.n_rec - 1].corrects_seq = c.rec[c.n_rec - 2].seq;
	c.rec[c.n_rec - 1].entered_ms = day(2026, 5, 3);
	eval(&c);
	assert_int_equal(st(&c, COMP_POLICE_INSPECTION), COMP_OK);
	assert_int_equal(c.res.items[COMP_POLICE_INSPECTION].last_ms, day(2026, 5, 1));
	/* as of 2026-05-02 the correction was not entered yet */
	c.in.now_ms = day(2026, 5, 2);
	eval(&c);
	assert_int_equal(st(&c, COMP_POLICE_INSPECTION), COMP_NON_COMPLIANT);
}

/* A record entered later (a paper logbook) counts only from its entry. */
static void test_entered_later(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.rec[1].date_ms = day(2024, 5, 1); /* overdue maintenance */
	add(&c, COMP_REC_MAINTENANCE, day(2026, 4, 1), true);
	c.rec[c.n_rec - 1].entered_ms = day(2026, 6, 10);
	eval(&c); /* on 2026-06-01 it was not entered yet */
	assert_int_equal(st(&c, COMP_MAINTENANCE), COMP_OVERDUE);
	c.in.now_ms = day(2026, 6, 10);
	eval(&c);
	assert_int_equal(st(&c, COMP_MAINTENANCE), COMP_OK);
	assert_int_equal(c.res.items[COMP_MAINTENANCE].last_ms, day(2026, 4, 1));
}

/* Day arithmetic across a leap day and month ends: 2024-02-29 + 730 days
 * is 2026-02-28; 2026-01-31 + 31 days is 2026-03-03. */
static void test_leap_years_and_month_ends(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.rec[1].date_ms = day(2024, 2, 29);
	c.rec[2].date_ms = day(2026, 1, 31);
	c.in.now_ms = day(2026, 2, 27);
	c.rec[0].date_ms = day(2026, 1, 1);
	eval(&c);
	assert_int_equal(c.res.items[COMP_MAINTENANCE].due_ms, day(2026, 2, 28));
	assert_int_equal(st(&c, COMP_MAINTENANCE), COMP_DUE_SOON);
	assert_int_equal(c.res.items[COMP_SELF_INSPECTION].due_ms, day(2026, 3, 3));
	c.in.now_ms = day(2026, 2, 28) + 1;
	eval(&c);
	assert_int_equal(st(&c, COMP_MAINTENANCE), COMP_OVERDUE);
}

static void test_never_recorded_counts_from_start(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.n_rec = 0;
	c.pts[0].last_tested_ms = c.pts[1].last_tested_ms = 0;
	c.in.now_ms = day(2026, 1, 20);
	eval(&c);
	/* 19 days in: the monthly self-inspection is due in 12 days */
	assert_int_equal(st(&c, COMP_SELF_INSPECTION), COMP_DUE_SOON);
	assert_int_equal(st(&c, COMP_SYSTEM_TEST), COMP_OK);
	assert_int_equal(c.res.items[COMP_SYSTEM_TEST].last_ms, 0);
	c.in.now_ms = day(2026, 2, 2);
	eval(&c);
	assert_int_equal(st(&c, COMP_SELF_INSPECTION), COMP_OVERDUE);
}

static void test_health_items(void **state)
{
	struct cal c;

	(void)state;
	compliant_site(&c);
	c.in.uplink_up = false;
	c.in.uplink_down_since_ms = c.in.now_ms - 3600 * 1000;
	c.in.clock_synced = false;
	c.in.storage_full = true;
	eval(&c);
	assert_int_equal(st(&c, COMP_UPLINK), COMP_NON_COMPLIANT);
	assert_int_equal(st(&c, COMP_CLOCK), COMP_DUE_SOON);
	assert_int_equal(st(&c, COMP_STORAGE), COMP_DUE_SOON);
	c.in.storage_fault = true;
	eval(&c);
	assert_int_equal(st(&c, COMP_STORAGE), COMP_NON_COMPLIANT);
	assert_int_equal(c.res.overall, COMP_OVERALL_NON_COMPLIANT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_compliant_site),
	    cmocka_unit_test(test_overdue_maintenance),
	    cmocka_unit_test(test_point_never_tested),
	    cmocka_unit_test(test_fault_open_eight_days),
	    cmocka_unit_test(test_point_disabled),
	    cmocka_unit_test(test_due_in_ten_days),
	    cmocka_unit_test(test_failed_police_inspection_then_pass),
	    cmocka_unit_test(test_record_corrected),
	    cmocka_unit_test(test_entered_later),
	    cmocka_unit_test(test_leap_years_and_month_ends),
	    cmocka_unit_test(test_never_recorded_counts_from_start),
	    cmocka_unit_test(test_health_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
