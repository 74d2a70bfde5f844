/* bench_backlog.c - `make bench`'s fallback for build/mkbacklog (owned by
 * tests/fault/): fills a gateway database, through the store's own API
 * (store.h), with an outbox backlog of N events and M telemetry batches, as
 * a gateway cut off from its broker for a long time would have. The events
 * are cleared comm-loss faults (priority "other", so that a new alarm has
 * to jump them) with the exact payload shape of SPEC §3; the telemetry rows
 * are small readings batches at priority 9. Single-threaded.
 *
 * Usage: bench_backlog --db PATH --site ID --prefix P --events N --telemetry M */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct args {
	const char *db, *site, *prefix;
	long events, telemetry;
};

static int parse_count(const char *s, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 100000000)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--db"))
			a->db = v;
		else if (!strcmp(k, "--site"))
			a->site = v;
		else if (!strcmp(k, "--prefix"))
			a->prefix = v;
		else if (!strcmp(k, "--events")) {
			if (parse_count(v, &a->events) < 0)
				return -EINVAL;
		} else if (!strcmp(k, "--telemetry")) {
			if (parse_count(v, &a->telemetry) < 0)
				return -EINVAL;
		} else
			return -EINVAL;
	}
	if (i != argc || !a->db || !a->site || !a->prefix)
		return -EINVAL;
	return 0;
}

static int add_events(store *st, const struct args *a)
{
	char id[160], topic[300], payload[768], dev[16], key[32];
	long i;
	int r;

	for (i = 0; i < a->events; i++) {
		uint64_t seq = store_last_seq(st) + 1;
		int64_t ts = 1795838000000 + i;
		struct store_event ev = {
			.seq = seq, .event_id = id, .ts_ms = ts, .cls = "fault", .type = "comm_loss",
			.state = "cleared", .cid = "3381", .device = dev, .point = "fire",
			.dest = STORE_DEST_MQTT, .topic = topic, .payload = payload, .qos = 1,
			.prio = STORE_PRIO_OTHER, .order_key = key,
		};
		int n;

		snprintf(dev, sizeof(dev), "b%03ld", i % 200);
		snprintf(key, sizeof(key), "%s.fire", dev);
		snprintf(id, sizeof(id), "%s:%s:%" PRIu64, a->site, store_epoch(st), seq);
		snprintf(topic, sizeof(topic), "%s/%s/fault/%s", a->prefix, a->site, dev);
		n = snprintf(payload, sizeof(payload),
			     "{\"schema\":\"firegw.event.v1\",\"event_id\":\"%s\",\"site\":\"%s\","
			     "\"seq\":%" PRIu64 ",\"class\":\"fault\",\"type\":\"comm_loss\","
			     "\"state\":\"cleared\",\"cid\":\"3381\",\"device\":\"%s\",\"point\":\"fire\","
			     "\"zone\":\"backlog\",\"zone_no\":1,\"causes\":[\"comm\"],"
			     "\"ts\":\"2026-11-28T00:00:00.000Z\",\"time_synced\":true}",
			     id, a->site, seq, dev);
		ev.payload_len = (size_t)n;
		r = store_commit_event(st, &ev, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_telemetry(store *st, const struct args *a)
{
	char topic[300], payload[512];
	long i;
	int r;

	snprintf(topic, sizeof(topic), "%s/%s/telemetry", a->prefix, a->site);
	for (i = 0; i < a->telemetry; i++) {
		int n = snprintf(payload, sizeof(payload),
				 "{\"schema\":\"firegw.telemetry.v1\",\"site\":\"%s\","
				 "\"ts\":\"2026-11-28T00:00:00.000Z\",\"readings\":[{\"device\":\"b%03ld\","
				 "\"name\":\"obscuration\",\"value\":0.1,\"unit\":\"%%/m\",\"quality\":\"good\","
				 "\"ts\":\"2026-11-28T00:00:00.000Z\"}],\"backlog_row\":%ld}",
				 a->site, i % 200, i);

		r = store_outbox_add(st, STORE_DEST_MQTT, topic, payload, (size_t)n, 0, false,
				     STORE_PRIO_TELEMETRY, "telemetry", NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct store_opts o = { .create = true };
	store *st = NULL;
	int r;

	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr, "usage: bench_backlog --db PATH --site ID --prefix P "
				"--events N --telemetry M\n");
		return 2;
	}
	o.path = a.db;
	r = store_open(&o, &st);
	if (r < 0) {
		fprintf(stderr, "bench_backlog: cannot open '%s': %s\n", a.db, strerror(-r));
		return 1;
	}
	r = add_events(st, &a);
	if (r >= 0)
		r = add_telemetry(st, &a);
	if (r < 0)
		fprintf(stderr, "bench_backlog: '%s': %s\n", a.db, strerror(-r));
	store_free(st);
	return r < 0 ? 1 : 0;
}
