/* fuzz_fixture.h - the collaborators the request, ack and control fuzz
 * targets need, the real ones (as tests/unit/test_request.c builds them): a
 * configuration from a small YAML file with the shipped profiles, the site,
 * a store on a temporary file (in /dev/shm when it exists), the outbox, the
 * journal, the modes, the request layer and the health module. No broker,
 * no bus (the pollers are NULL). Built once per fuzzer process, at the
 * first input; run from the repository root. */
#pragma once
#include "config.h"
#include "health.h"
#include "journal.h"
#include "modes.h"
#include "outbox.h"
#include "request.h"
#include "site.h"
#include "store.h"

struct fuzz_fx {
	char dir[256];
	struct config *c;
	struct site s;
	outbox *ob;
	journal *j;
	store *st;
	modes *m;
	request *rq;
	health *h;
	poller *pollers[CONFIG_MAX_BUSES];
	char fault_id[96]; /* a gateway fault in the store: acks of a known event */
};

/* The process's fixture, built at the first call; aborts when it cannot be
 * built (a broken harness must not look like a clean run). */
struct fuzz_fx *fuzz_fx_get(void);
/* Writes size bytes to an in-memory file and gives its /proc/self/fd path
 * (the loaders take paths). 0 or -errno. */
int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t len);
