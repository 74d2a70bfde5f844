/* fuzz_request.c - libFuzzer target for the request parser (request.c,
 * through its seam request_call): any payload on <p>/<site>/request, as
 * the MQTT side hands it over (json_loadb of the bytes), gets an answer
 * object with "ok" and never a crash or a leak; the same object as a
 * control-socket request too (probe and scan aside: they would submit a
 * job to a bus this fixture does not have). The store, journal and modes
 * are real (fuzz_fixture.c), so accepted operations really run. Seeds:
 * tests/fuzz/corpus/request (requests of docs/mqtt.md and the tests). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer_check(json_t *resp)
{
	char *s;

	if (!json_is_object(resp) || !json_is_boolean(json_object_get(resp, "ok")))
		__builtin_trap();
	s = json_dumps(resp, JSON_COMPACT);
	if (!s)
		__builtin_trap();
	free(s);
	json_decref(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fx *f = fuzz_fx_get();
	json_t *req = json_loadb((const char *)data, size, 0, NULL), *resp;
	const char *op;

	if (!json_is_object(req)) {
		json_decref(req);
		return 0;
	}
	answer_check(request_call(f->rq, true, -1, req));
	op = json_string_value(json_object_get(req, "op"));
	if (!op || (strcmp(op, "probe") && strcmp(op, "scan"))) {
		resp = request_call(f->rq, false, 0, req);
		answer_check(resp);
	}
	json_decref(req);
	return 0;
}
