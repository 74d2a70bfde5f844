/* test_log.c - the rate limit of repeated errors (log.h): one line per
 * interval, the lines refused counted, and the count of a flood's end
 * handed to the owner's tick once the interval is over. Pure: times are
 * given, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

static void test_due_nothing_to_say(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned n = 99;

	(void)state;
	/* nothing refused: never a count, whatever the time */
	assert_int_equal(log_ratelimit_due(&rl, 0, 1000), 0);
	assert_true(log_ratelimit_ok(&rl, 100, 1000, &n));
	assert_int_equal(n, 0);
	assert_int_equal(log_ratelimit_due(&rl, 5000, 1000), 0);
}

static void test_flood_counted_by_lines_and_tick(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned n = 0, i, allowed = 0, counted = 0;

	(void)state;
	/* 2 000 errors within 500 ms: one line */
	for (i = 0; i < 2000; i++)
		if (log_ratelimit_ok(&rl, 1000 + i / 4, 10000, &n)) {
			allowed++;
			counted += n;
		}
	assert_int_equal(allowed, 1);
	assert_int_equal(counted, 0);
	/* the tick says nothing before the interval is over ... */
	assert_int_equal(log_ratelimit_due(&rl, 10999, 10000), 0);
	/* ... then the whole rest, once */
	assert_int_equal(log_ratelimit_due(&rl, 11000, 10000), 1999);
	assert_int_equal(log_ratelimit_due(&rl, 30000, 10000), 0);
	/* the count restarted the interval: the next error waits for it */
	assert_false(log_ratelimit_ok(&rl, 20999, 10000, &n));
	assert_true(log_ratelimit_ok(&rl, 21000, 10000, &n));
	assert_int_equal(n, 1);
}

static void test_line_takes_count_before_tick(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned n = 0;

	(void)state;
	assert_true(log_ratelimit_ok(&rl, 0, 100, &n));
	assert_false(log_ratelimit_ok(&rl, 50, 100, &n));
	assert_false(log_ratelimit_ok(&rl, 60, 100, &n));
	/* a line after the interval carries the count: the tick has none left */
	assert_true(log_ratelimit_ok(&rl, 150, 100, &n));
	assert_int_equal(n, 2);
	assert_int_equal(log_ratelimit_due(&rl, 1000, 100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due_nothing_to_say),
	    cmocka_unit_test(test_flood_counted_by_lines_and_tick),
	    cmocka_unit_test(test_line_takes_count_before_tick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
