/* fuzz_ack.c - libFuzzer target for the acknowledgement parser
 * (health_ack): any payload on <p>/<site>/ack is either recorded as an
 * acknowledgement of a known alarm, pre-alarm or fault, or ignored with a
 * (rate-limited) line; never a crash, a leak or a log line with raw control
 * characters (the log is quiet here unless FUZZ_LOG is set). The store is
 * real (fuzz_fixture.c) and holds one gateway fault; "@EV@" in the input
 * stands for its event id (random per run), so acks of a known event are
 * parsed to the end and recorded too. Seeds: tests/fuzz/corpus/ack. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "publish.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fx *f = fuzz_fx_get();
	struct publish_note n = { .kind = PNOTE_MESSAGE };
	size_t idl = strlen(f->fault_id), i, o = 0;
	/* each 4-byte "@EV@" may grow to the id */
	char *buf = malloc(size * (idl > 4 ? idl / 4 + 1 : 1) + 1);

	if (!buf)
		return 0;
	/* as publish.c hands it over: NUL-terminated beyond len */
	for (i = 0; i < size; i++) {
		if (i + 4 <= size && memcmp(data + i, "@EV@", 4) == 0) {
			memcpy(buf + o, f->fault_id, idl);
			o += idl;
			i += 3;
			continue;
		}
		buf[o++] = (char)data[i];
	}
	buf[o] = '\0';
	size = o;
	n.topic = (char *)"fire/s1/ack";
	n.payload = buf;
	n.len = size;
	health_ack(f->h, &n);
	free(buf);
	return 0;
}
