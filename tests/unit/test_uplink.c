/* test_uplink.c - the uplink's reconnect schedule (uplink_retry_delay_ms):
 * the back-off doubles from 500 ms to the cap, the delay is jittered over
 * the upper half of it, and while an event waits it never exceeds 1 s.
 * The failover itself (nodes in turn, connect timeout, an alarm that
 * abandons a hung attempt) runs against real brokers in
 * tests/integration/test_failover.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "uplink.h"

static void test_backoff_doubles_to_the_cap(void **state)
{
	static const int want[] = { 500, 1000, 2000, 4000, 8000, 10000, 10000 };
	int b = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int d = uplink_retry_delay_ms(&b, 10000, false, 0);

		assert_int_equal(b, want[i]);
		assert_int_equal(d, want[i] / 2); /* rnd 0: the bottom of the jitter */
	}
	/* the top of the jitter is the back-off itself */
	b = 2000;
	assert_int_equal(uplink_retry_delay_ms(&b, 10000, false, 4000 / 2), 4000);
}

static void test_jitter_stays_in_the_upper_half(void **state)
{
	(void)state;
	for (uint32_t rnd = 0; rnd < 20000; rnd += 7) {
		int b = 4000;
		int d = uplink_retry_delay_ms(&b, 10000, false, rnd * 2654435761u);

		assert_int_equal(b, 8000);
		assert_true(d >= 4000 && d <= 8000);
	}
}

static void test_event_waiting_caps_at_one_second(void **state)
{
	int b = 0;

	(void)state;
	for (int i = 0; i < 10; i++) {
		for (uint32_t rnd = 0; rnd < 2000; rnd += 97) {
			int keep = b;
			int d = uplink_retry_delay_ms(&keep, 10000, true, rnd);

			assert_true(d >= 250 && d <= 1000);
			if (keep > 1000)
				assert_true(d >= 500);
		}
		uplink_retry_delay_ms(&b, 10000, true, 0);
	}
	/* the back-off itself keeps growing: once nothing waits, it applies */
	assert_int_equal(b, 10000);
	assert_true(uplink_retry_delay_ms(&b, 10000, false, 0) == 5000);
}

static void test_small_cap(void **state)
{
	int b = 0;

	(void)state;
	assert_int_equal(uplink_retry_delay_ms(&b, 1000, false, 0), 250);
	assert_int_equal(uplink_retry_delay_ms(&b, 1000, false, 0), 500);
	assert_int_equal(b, 1000);
	assert_int_equal(uplink_retry_delay_ms(&b, 1000, false, 500), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_to_the_cap),
		cmocka_unit_test(test_jitter_stays_in_the_upper_half),
		cmocka_unit_test(test_event_waiting_caps_at_one_second),
		cmocka_unit_test(test_small_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
