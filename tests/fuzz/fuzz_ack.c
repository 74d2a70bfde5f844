/* fuzz_ack.c - libFuzzer target for the acknowledgement parser
 * (health_ack): any payload on <p>/<site>/ack is either recorded as an
 * acknowledgement of a known alarm, pre-alarm or fault, or ignored with a
 * (rate-limited) line; never a crash, a leak or a log line with raw control
 * characters (the log is quiet here unless FUZZ_LOG is set). The store is
 * real (fuzz_fixture.c) and empty: an ack that passes the checks of its
 * form is looked up there and found unknown. Seeds: tests/fuzz/corpus/ack. */
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
	char *buf = malloc(size + 1);

	if (!buf)
		return 0;
	/* as publish.c hands it over: NUL-terminated beyond len */
	memcpy(buf, data, size);
	buf[size] = '\0';
	n.topic = (char *)"fire/s1/ack";
	n.payload = buf;
	n.len = size;
	health_ack(f->h, &n);
	free(buf);
	return 0;
}
