/* bench_store.c - `make bench`: how many readings per second the store
 * sustains in its batch mode (store_readings_add buffers, store_tick writes
 * the buffer in one transaction at most once per second).
 *
 * It fills the buffer up to its bound, calls store_tick with a monotonic
 * time advanced by one second (so every call flushes), and times the whole
 * run on CLOCK_MONOTONIC. It also times store_commit_event (one fsynced
 * transaction each, SPEC §5) since an alarm waits for one of those.
 * Prints one JSON object on stdout. Single-threaded.
 *
 * Usage: bench_store DB_PATH [READINGS [EVENTS]] */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define DEVICES 250
#define VALUES 3

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_count(const char *s, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 100000000)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int bench_readings(store *st, long n, double *ret_rate, long *ret_dropped)
{
	static const char *const names[VALUES] = { "status", "obscuration", "supply" };
	char devs[DEVICES][16];
	uint64_t mono = 1000;
	long i, dropped = 0;
	double t0, t1;
	int r;

	for (i = 0; i < DEVICES; i++)
		snprintf(devs[i], sizeof(devs[i]), "d%03ld", i);
	t0 = mono_s();
	for (i = 0; i < n; i++) {
		struct store_reading rd = {
			.ts_ms = 1795838000000 + i,
			.device = devs[i % DEVICES],
			.name = names[(i / DEVICES) % VALUES],
			.value = (double)(i % 1000) / 10.0,
			.quality = 0,
		};

		r = store_readings_add(st, &rd);
		if (r == -ENOBUFS) {
			/* the buffer is full: flush it, as the daemon's tick would */
			mono += 1000;
			r = store_tick(st, mono);
			if (r < 0)
				return r;
			r = store_readings_add(st, &rd);
		}
		if (r < 0)
			dropped++;
	}
	mono += 1000;
	r = store_tick(st, mono);
	if (r < 0)
		return r;
	t1 = mono_s();
	*ret_rate = (double)n / (t1 - t0);
	*ret_dropped = dropped;
	return 0;
}

static int bench_events(store *st, long n, double *ret_rate)
{
	char id[96], payload[256], topic[64];
	double t0, t1;
	long i;
	int r;

	t0 = mono_s();
	for (i = 0; i < n; i++) {
		uint64_t seq = store_last_seq(st) + 1;
		struct store_event ev = {
			.seq = seq, .event_id = id, .ts_ms = 1795838000000 + i,
			.cls = "fault", .type = "comm_loss", .state = "cleared", .cid = "3381",
			.device = "d001", .point = "fire", .dest = STORE_DEST_MQTT, .topic = topic,
			.payload = payload, .qos = 1, .prio = STORE_PRIO_OTHER, .order_key = "d001.fire",
		};

		snprintf(id, sizeof(id), "bench:%s:%" PRIu64, store_epoch(st), seq);
		snprintf(topic, sizeof(topic), "firegw/bench/fault/d001");
		ev.payload_len = (size_t)snprintf(payload, sizeof(payload),
						  "{\"schema\":\"firegw.event.v1\",\"event_id\":\"%s\",\"seq\":%" PRIu64 "}",
						  id, seq);
		r = store_commit_event(st, &ev, NULL);
		if (r < 0)
			return r;
	}
	t1 = mono_s();
	*ret_rate = (double)n / (t1 - t0);
	return 0;
}

/* 50 points alarming together (issue 8): their 50 events committed one
 * by one (50 fsyncs), then as one batch (one fsync); milliseconds each. */
static int bench_burst(store *st, bool batch, double *ret_ms)
{
	char id[96], payload[256];
	double t0;
	int i, r = 0;

	t0 = mono_s();
	if (batch) {
		r = store_batch_begin(st);
		if (r < 0)
			return r;
	}
	for (i = 0; i < 50 && r == 0; i++) {
		uint64_t seq = store_last_seq(st) + 1;
		struct store_event ev = {
			.seq = seq, .event_id = id, .ts_ms = 1795838000000 + i,
			.cls = "alarm", .type = "smoke", .state = "active", .cid = "1111",
			.device = "d001", .point = "fire", .dest = STORE_DEST_MQTT,
			.topic = "firegw/bench/alarm/d001", .payload = payload, .qos = 1,
			.prio = STORE_PRIO_ALARM, .order_key = "d001.fire",
		};

		snprintf(id, sizeof(id), "bench:%s:%" PRIu64, store_epoch(st), seq);
		ev.payload_len = (size_t)snprintf(payload, sizeof(payload),
						  "{\"schema\":\"firegw.event.v1\",\"event_id\":\"%s\"}",
						  id);
		r = store_commit_event(st, &ev, NULL);
	}
	if (batch && r == 0)
		r = store_batch_end(st);
	*ret_ms = (mono_s() - t0) * 1000.0;
	return r;
}

int main(int argc, char **argv)
{
	struct store_opts o = { .create = true };
	long readings = 1000000, events = 300, dropped = 0;
	double rrate = 0, erate = 0, single_ms = 0, batch_ms = 0;
	store *st = NULL;
	int r;

	if (argc < 2 || argc > 4 || (argc > 2 && parse_count(argv[2], &readings) < 0) ||
	    (argc > 3 && parse_count(argv[3], &events) < 0)) {
		fprintf(stderr, "usage: bench_store DB_PATH [READINGS [EVENTS]]\n");
		return 2;
	}
	o.path = argv[1];
	r = store_open(&o, &st);
	if (r < 0) {
		fprintf(stderr, "bench_store: cannot open '%s': %s\n", o.path, strerror(-r));
		return 1;
	}
	r = bench_readings(st, readings, &rrate, &dropped);
	if (r < 0) {
		fprintf(stderr, "bench_store: readings: %s\n", strerror(-r));
		goto out;
	}
	r = bench_events(st, events, &erate);
	if (r < 0) {
		fprintf(stderr, "bench_store: events: %s\n", strerror(-r));
		goto out;
	}
	r = bench_burst(st, false, &single_ms);
	if (r == 0)
		r = bench_burst(st, true, &batch_ms);
	if (r < 0) {
		fprintf(stderr, "bench_store: 50 alarms: %s\n", strerror(-r));
		goto out;
	}
	printf("{\"readings\": %ld, \"readings_per_s\": %.0f, \"dropped\": %ld, "
	       "\"events\": %ld, \"events_per_s\": %.1f, \"alarms50_single_ms\": %.2f, "
	       "\"alarms50_batch_ms\": %.2f}\n",
	       readings, rrate, dropped, events, erate, single_ms, batch_ms);
out:
	store_free(st);
	return r < 0 ? 1 : 0;
}
