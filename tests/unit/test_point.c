/* test_point.c - unit tests of gateway/point.c: the derived state of a
 * point with its operating mode laid over detection's (every combination),
 * the device's worst state, and the stored form of the mode: round trip,
 * normal service as "", a mode too long for its buffer refused (never cut),
 * unreadable text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "point.h"

static void test_derive_overlay(void **state)
{
	struct point_mode normal = { 0 }, test = { .test_until_ms = 1 }, dis = { .disabled = true },
			  both = { .test_until_ms = 1, .disabled = true };
	enum point_state s;

	(void)state;
	for (s = PSTATE_NORMAL; s < PSTATE_MAX; s++) {
		assert_int_equal(point_state_derive(s, &normal), s);
		assert_int_equal(point_state_derive(s, NULL), s);
		/* disabled whatever detection says: a disabled point in fire too */
		assert_int_equal(point_state_derive(s, &dis), PSTATE_DISABLED);
		assert_int_equal(point_state_derive(s, &both), PSTATE_DISABLED);
		/* in test: "test" unless it has a fault */
		assert_int_equal(point_state_derive(s, &test),
				 s == PSTATE_FAULT ? PSTATE_FAULT : PSTATE_TEST);
	}
}

static void test_worst_order(void **state)
{
	static const enum point_state order[] = { PSTATE_NORMAL, PSTATE_UNKNOWN, PSTATE_DISABLED,
						  PSTATE_TEST,   PSTATE_FAULT,   PSTATE_PREALARM,
						  PSTATE_ALARM };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		for (j = 0; j < sizeof(order) / sizeof(order[0]); j++)
			assert_int_equal(point_state_worst(order[i], order[j]), order[i > j ? i : j]);
}

static void test_mode_round_trip(void **state)
{
	struct point_mode m = { .test_until_ms = 1764300000000, .tested = true, .disabled = true,
				.dis_since_ms = 1764200000000 },
			  got;
	char buf[512];

	(void)state;
	strcpy(m.by, "Nguyễn Văn A");
	strcpy(m.reason, "thay đầu báo");
	assert_int_equal(point_mode_format(&m, buf, sizeof(buf)), 0);
	assert_int_equal(point_mode_parse(buf, &got), 0);
	assert_int_equal(got.test_until_ms, m.test_until_ms);
	assert_true(got.tested);
	assert_true(got.disabled);
	assert_int_equal(got.dis_since_ms, m.dis_since_ms);
	assert_string_equal(got.by, m.by);
	assert_string_equal(got.reason, m.reason);
}

static void test_mode_normal_service_is_empty(void **state)
{
	struct point_mode m = { 0 }, got;
	char buf[64] = "x";

	(void)state;
	strcpy(m.by, "leftover");
	assert_int_equal(point_mode_format(&m, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(point_mode_parse("", &got), 0);
	assert_false(got.disabled);
	assert_false(point_in_test(&got));
	assert_int_equal(point_mode_parse(NULL, &got), 0);
}

/* A disablement whose JSON does not fit is refused, not stored empty (it
 * would vanish at the next start). */
static void test_mode_too_long_refused(void **state)
{
	struct point_mode m = { .disabled = true };
	char buf[48];

	(void)state;
	strcpy(m.by, "tech");
	memset(m.reason, 'r', sizeof(m.reason) - 1);
	assert_int_equal(point_mode_format(&m, buf, sizeof(buf)), -ENOBUFS);
	assert_string_equal(buf, "");
	assert_int_equal(point_mode_format(&m, buf, 0), -EINVAL);
}

static void test_mode_parse_bad(void **state)
{
	struct point_mode got;

	(void)state;
	assert_int_equal(point_mode_parse("{not json", &got), -EBADMSG);
	assert_false(got.disabled);
	assert_int_equal(point_mode_parse("[1,2]", &got), -EBADMSG);
	assert_int_equal(point_mode_parse("{\"test_until\": -5, \"tested\": true}", &got), 0);
	assert_false(point_in_test(&got));
	assert_false(got.tested);
	assert_int_equal(point_mode_parse("x", NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_derive_overlay),
	    cmocka_unit_test(test_worst_order),
	    cmocka_unit_test(test_mode_round_trip),
	    cmocka_unit_test(test_mode_normal_service_is_empty),
	    cmocka_unit_test(test_mode_too_long_refused),
	    cmocka_unit_test(test_mode_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
