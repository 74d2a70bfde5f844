/* fuzz_modbus.c - libFuzzer target for what the poller does with a raw
 * Modbus TCP reply: poller_tcp_check_reply (MBAP header, unit id, length,
 * function, byte count) and, when it takes the reply, the decode of the
 * register array into a profile's values. A reply it takes must be one a
 * correct server could have sent: the header echoes the request, the MBAP
 * length is the frame's, the body holds exactly the registers asked.
 * The same bytes also go the way the poller reads them: through a socket
 * (a socketpair here, closed after the bytes) into libmodbus's framing
 * (modbus_receive_confirmation of a TCP context), whose frame must then
 * be the bytes sent, at most an ADU long, before the same check.
 * Input: byte 0 the function (mod 4, 0x01..0x04), byte 1 the unit, bytes
 * 2..3 the count, 4..5 the transaction id, the rest the reply.
 * Seeds: tests/fuzz/corpus/modbus (good replies, exceptions, wrong unit,
 * wrong length). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#include "errlist.h"
#include "log.h"
#include "poller.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct profile *prof;
static modbus_t *mb;

/* libmodbus's receive path: the frame it cuts from the bytes, checked. */
static void via_libmodbus(const uint8_t *data, size_t len, uint16_t tid, uint8_t unit,
			  uint8_t fn, uint16_t count)
{
	static uint16_t dst[2000];
	uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
	int sv[2], n, exc;
	ssize_t w;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	w = len ? send(sv[1], data, len, MSG_NOSIGNAL) : 0;
	shutdown(sv[1], SHUT_WR);
	if (w == (ssize_t)len) {
		modbus_set_socket(mb, sv[0]);
		n = modbus_receive_confirmation(mb, rsp);
		if (n > MODBUS_TCP_MAX_ADU_LENGTH || (n > 0 && ((size_t)n > len ||
							       memcmp(rsp, data, (size_t)n))))
			__builtin_trap();
		if (n > 0)
			(void)poller_tcp_check_reply(rsp, (size_t)n, tid, unit, fn, count, dst, &exc);
		modbus_set_socket(mb, -1);
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint16_t dst[2000];
	static struct profile_raw raw;
	static struct value_reading vals[PROFILE_MAX_VALUES];
	uint16_t count, tid;
	uint8_t fn, unit;
	int r, exc = -1;
	size_t len, body;

	if (!prof) {
		struct errlist e = { 0 };

		log_init(LOG_CRIT);
		if (profile_load("sensors/smoke-point.yaml", &e, &prof) < 0) {
			errlist_print(&e, stderr);
			abort();
		}
		errlist_clear(&e);
		mb = modbus_new_tcp("127.0.0.1", 502); /* never connected: given a socket */
		if (!mb)
			abort();
		/* the bytes are all there before the read: a timeout is a bug */
		modbus_set_response_timeout(mb, 1, 0);
		modbus_set_byte_timeout(mb, 1, 0);
	}
	if (size < 6)
		return 0;
	fn = (uint8_t)(1 + data[0] % 4);
	unit = data[1];
	count = (uint16_t)(data[2] << 8 | data[3]);
	tid = (uint16_t)(data[4] << 8 | data[5]);
	data += 6;
	len = size - 6;
	r = poller_tcp_check_reply(data, len, tid, unit, fn, count, dst, &exc);
	if (r == 0) {
		body = fn <= 2 ? ((size_t)count + 7) / 8 : (size_t)count * 2;
		/* taken: it must be exactly a correct server's answer */
		if (len != 9 + body || data[6] != unit || data[7] != fn || data[8] != body ||
		    (size_t)(data[4] << 8 | data[5]) != len - 6 || data[0] != tid >> 8 ||
		    data[1] != (tid & 0xff) || data[2] || data[3] || exc != 0)
			__builtin_trap();
		/* the words go where the poller puts them: the profile's first
		 * block, then decoded */
		memset(&raw, 0, sizeof(raw));
		if (prof->n_blocks > 0) {
			size_t n = count < prof->blocks[0].count ? count : prof->blocks[0].count;

			memcpy(raw.words + prof->blocks[0].words_offset, dst, n * sizeof(dst[0]));
		}
		profile_decode(prof, &raw, vals);
	} else if (r == -EPROTO) {
		if (exc < 1 || exc > 11 || len != 9 || data[6] != unit || data[7] != (fn | 0x80))
			__builtin_trap();
	} else if (r != -EBADMSG && r != -EINVAL) {
		__builtin_trap();
	}
	via_libmodbus(data, len, tid, unit, fn, count);
	return 0;
}
