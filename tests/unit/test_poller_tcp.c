/* test_poller_tcp.c - poller_tcp_check_reply, the Modbus TCP reply check
 * (Modbus Messaging on TCP/IP v1.0b §3.1.3): every header field and the
 * body's size must match the request; nothing is taken from a refused
 * reply. Error paths first. Pure: no socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "poller.h"

/* A good reply to "read 2 holding registers of unit 7", transaction 0x1234:
 * MBAP (tid, protocol 0, length 7, unit 7), function 3, 4 bytes. */
static const uint8_t good_regs[] = { 0x12, 0x34, 0x00, 0x00, 0x00, 0x07, 0x07,
				     0x03, 0x04, 0xab, 0xcd, 0x00, 0x2a };

static int check(const uint8_t *rsp, size_t len, uint16_t *dst, int *exc)
{
	return poller_tcp_check_reply(rsp, len, 0x1234, 7, 0x03, 2, dst, exc);
}

static void test_wrong_unit_refused(void **state)
{
	uint8_t r[sizeof(good_regs)];
	uint16_t dst[2] = { 0xffff, 0xffff };
	int exc = -1;

	(void)state;
	memcpy(r, good_regs, sizeof(r));
	r[6] = 8;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	r[6] = 0; /* "any unit" is no answer from unit 7 either */
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	r[6] = 0xff;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	assert_int_equal(exc, 0);
	/* nothing taken */
	assert_int_equal(dst[0], 0xffff);
	assert_int_equal(dst[1], 0xffff);
}

static void test_wrong_mbap_length_refused(void **state)
{
	uint8_t r[sizeof(good_regs)];
	uint16_t dst[2] = { 0xffff, 0xffff };
	int exc;
	unsigned l;

	(void)state;
	memcpy(r, good_regs, sizeof(r));
	for (l = 0; l < 0x10000; l += l < 300 ? 1 : 257) {
		if (l == 7)
			continue;
		r[4] = (uint8_t)(l >> 8);
		r[5] = (uint8_t)l;
		assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	}
	assert_int_equal(dst[0], 0xffff);
	/* the header's length matching a frame cut short is still refused:
	 * the byte count says 4 */
	r[4] = 0;
	r[5] = 5;
	assert_int_equal(check(r, 11, dst, &exc), -EBADMSG);
	/* and a frame longer than its byte count, header agreeing */
	{
		uint8_t l2[sizeof(good_regs) + 1];

		memcpy(l2, good_regs, sizeof(good_regs));
		l2[sizeof(good_regs)] = 0;
		l2[5] = 8;
		assert_int_equal(check(l2, sizeof(l2), dst, &exc), -EBADMSG);
	}
	assert_int_equal(dst[1], 0xffff);
}

static void test_other_header_fields_refused(void **state)
{
	uint8_t r[sizeof(good_regs)];
	uint16_t dst[2];
	int exc;

	(void)state;
	memcpy(r, good_regs, sizeof(r));
	r[1] = 0x35; /* transaction id: a late reply */
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	memcpy(r, good_regs, sizeof(r));
	r[3] = 1; /* protocol id */
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	memcpy(r, good_regs, sizeof(r));
	r[2] = 1;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	memcpy(r, good_regs, sizeof(r));
	r[7] = 0x04; /* another function */
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	memcpy(r, good_regs, sizeof(r));
	r[8] = 6; /* byte count for 3 registers */
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	/* too short to hold a PDU, NULL */
	assert_int_equal(check(r, 8, dst, &exc), -EBADMSG);
	assert_int_equal(check(r, 0, dst, &exc), -EBADMSG);
	assert_int_equal(check(NULL, 13, dst, &exc), -EBADMSG);
}

static void test_bad_request_arguments(void **state)
{
	uint16_t dst[2];
	int exc;

	(void)state;
	assert_int_equal(poller_tcp_check_reply(good_regs, sizeof(good_regs), 0x1234, 7, 0x05, 2,
						dst, &exc),
			 -EINVAL);
	assert_int_equal(poller_tcp_check_reply(good_regs, sizeof(good_regs), 0x1234, 7, 0x03,
						126, dst, &exc),
			 -EINVAL);
	assert_int_equal(poller_tcp_check_reply(good_regs, sizeof(good_regs), 0x1234, 7, 0x03, 0,
						dst, &exc),
			 -EBADMSG);
}

static void test_exception_reply(void **state)
{
	uint8_t r[] = { 0x12, 0x34, 0, 0, 0, 3, 7, 0x83, 0x02 };
	uint16_t dst[2];
	int exc;

	(void)state;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EPROTO);
	assert_int_equal(exc, 2);
	r[8] = 0x0b;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EPROTO);
	assert_int_equal(exc, 0x0b);
	/* an unknown exception code, a wrong unit, a wrong length */
	r[8] = 0x0c;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	assert_int_equal(exc, 0);
	r[8] = 0;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	r[8] = 2;
	r[6] = 9;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	r[6] = 7;
	r[5] = 4;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
	/* the exception of another function */
	r[5] = 3;
	r[7] = 0x84;
	assert_int_equal(check(r, sizeof(r), dst, &exc), -EBADMSG);
}

static void test_good_replies_decoded(void **state)
{
	/* 10 coils of unit 1: 2 bytes, bits low first */
	static const uint8_t coils[] = { 0, 1, 0, 0, 0, 5, 1, 0x01, 0x02, 0x05, 0x02 };
	uint16_t dst[10];
	int exc = -1;

	(void)state;
	assert_int_equal(check(good_regs, sizeof(good_regs), dst, &exc), 0);
	assert_int_equal(exc, 0);
	assert_int_equal(dst[0], 0xabcd);
	assert_int_equal(dst[1], 0x002a);
	assert_int_equal(poller_tcp_check_reply(coils, sizeof(coils), 1, 1, 0x01, 10, dst, &exc), 0);
	assert_int_equal(dst[0], 1);
	assert_int_equal(dst[1], 0);
	assert_int_equal(dst[2], 1);
	assert_int_equal(dst[3], 0);
	assert_int_equal(dst[8], 0);
	assert_int_equal(dst[9], 1);
	/* the same bits asked as 9 coils need 2 bytes too; as 8, one */
	assert_int_equal(poller_tcp_check_reply(coils, sizeof(coils), 1, 1, 0x01, 9, dst, &exc), 0);
	assert_int_equal(poller_tcp_check_reply(coils, sizeof(coils), 1, 1, 0x01, 8, dst, &exc),
			 -EBADMSG);
	assert_int_equal(poller_tcp_check_reply(coils, sizeof(coils), 1, 1, 0x02, 10, dst, &exc),
			 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrong_unit_refused),
	    cmocka_unit_test(test_wrong_mbap_length_refused),
	    cmocka_unit_test(test_other_header_fields_refused),
	    cmocka_unit_test(test_bad_request_arguments),
	    cmocka_unit_test(test_exception_reply),
	    cmocka_unit_test(test_good_replies_decoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
