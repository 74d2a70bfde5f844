/* clockshift.c - LD_PRELOAD shim for the fault tests: shifts CLOCK_REALTIME
 * of one process (the gateway under test) by an offset the test writes,
 * so a wall-clock step (SPEC §5, 1626) can be tested without touching the
 * machine's clock, which other tests and engineers share.
 *
 * FIREGW_TEST_CLOCK_FILE names a file holding the offset in milliseconds as
 * text (e.g. "3600000\n"); it is re-read at most every 100 ms of monotonic
 * time. CLOCK_MONOTONIC is never shifted. Called from any thread of the
 * process; the cached offset is an atomic.
 *
 * Build: cc -shared -fPIC -O2 tests/fault/clockshift.c -o build/clockshift.so -ldl
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static _Atomic long long shift_ms;
static _Atomic long long next_read_ms;

static long long mono_ms(clock_gettime_fn real)
{
	struct timespec ts;

	real(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the offset file; keeps the old offset when it cannot be read. */
static void refresh(clock_gettime_fn real)
{
	const char *path = getenv("FIREGW_TEST_CLOCK_FILE");
	long long now = mono_ms(real), v;
	char buf[64], *end;
	FILE *f;

	if (now < atomic_load(&next_read_ms) || !path)
		return;
	atomic_store(&next_read_ms, now + 100);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		errno = 0;
		v = strtoll(buf, &end, 10);
		if (errno == 0 && end != buf)
			atomic_store(&shift_ms, v);
	}
	fclose(f);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static clock_gettime_fn real;
	long long ns;
	int r;

	if (!real)
		real = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
	if (!real)
		return -1;
	r = real(id, ts);
	if (r != 0 || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE))
		return r;
	refresh(real);
	ns = (long long)ts->tv_nsec + (atomic_load(&shift_ms) % 1000) * 1000000;
	ts->tv_sec += (time_t)(atomic_load(&shift_ms) / 1000 + ns / 1000000000 - (ns < 0));
	ts->tv_nsec = (long)((ns % 1000000000 + 1000000000) % 1000000000);
	return r;
}

/* FIREGW_TEST_CLOCK_SYNCED=1: the process sees a synchronised clock
 * (adjtimex answers TIME_OK), as on a gateway with NTP, so what the daemon
 * does only with a synchronised clock (publishing compliance changes) can be
 * tested on a machine whose clock is not. */
#include <string.h>
#include <sys/timex.h>

int adjtimex(struct timex *buf)
{
	typedef int (*adjtimex_fn)(struct timex *);
	static adjtimex_fn real;
	const char *synced = getenv("FIREGW_TEST_CLOCK_SYNCED");

	if (synced && strcmp(synced, "1") == 0) {
		buf->status = 0;
		return TIME_OK;
	}
	if (!real)
		real = (adjtimex_fn)dlsym(RTLD_NEXT, "adjtimex");
	return real ? real(buf) : -1;
}
