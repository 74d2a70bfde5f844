/* mkbacklog.c - fills a firegw database with a backlog, for the fault tests
 * (tests/fault/test_fault.py) and by hand.
 *
 * Writes through the store's own API (gateway/store.h), exactly as the
 * daemon does: N events with store_commit_event (seq = last_seq + 1, payload
 * from event_payload, one fsync each) on a few fake order keys
 * ("backlog-1.fire", ...), then M telemetry rows with store_outbox_add.
 * Optionally keeps adding telemetry until the file uses a given share of
 * storage.max_mb, to test pruning and the 1623 warning. Single-threaded
 * command-line tool; the daemon must not be running on the same file (the
 * store would refuse its stale seq counter anyway).
 *
 * Usage: mkbacklog --db PATH --site ID [--prefix P] [--events N]
 *        [--telemetry M] [--keys K] [--max-mb MB] [--fill-percent P]
 *        [--pad BYTES] [--stored-only] [--fill-events-percent P]
 * Prints one line: "mkbacklog: events=N telemetry=M ... ms=T", exit 0, or
 * a message and exit 1 (runtime) / 2 (usage).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "event.h"
#include "profile.h"
#include "store.h"
#include "util.h"

#define KEYS_MAX 64
#define PAD_MAX 65536

struct opts {
	const char *db, *site, *prefix;
	long events, telemetry, keys, max_mb, fill_percent, fill_events_percent, pad;
	bool stored_only;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mkbacklog --db PATH --site ID [--prefix P] [--events N] [--telemetry M]\n"
		   "                 [--keys K] [--max-mb MB] [--fill-percent P] [--pad BYTES]\n"
		   "                 [--stored-only] [--fill-events-percent P]\n"
		   "  --events N        events committed one by one with store_commit_event\n"
		   "  --telemetry M     telemetry rows added with store_outbox_add\n"
		   "  --keys K          order keys backlog-1.fire .. backlog-K.fire (default 4)\n"
		   "  --max-mb MB       open the store with this storage.max_mb\n"
		   "  --fill-events-percent P  after the events, add more (same options) until the\n"
		   "                    file uses P %% of max-mb (100: until the store refuses)\n"
		   "  --fill-percent P  at the end, add telemetry until the file uses P %% of max-mb\n"
		   "  --pad BYTES       a note of BYTES characters in each event payload\n"
		   "  --stored-only     events get no outbox row (never published)\n");
}

static int parse_num(const char *name, const char *s, long min, long max, long *ret)
{
	int r;

	if (!s) {
		fprintf(stderr, "mkbacklog: %s needs a value\n", name);
		return -EINVAL;
	}
	r = util_parse_long(s, min, max, ret);
	if (r < 0)
		fprintf(stderr, "mkbacklog: %s '%s': not a number in %ld..%ld\n", name, s, min, max);
	return r;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	*o = (struct opts){ .prefix = "firegw", .keys = 4 };
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r = 0;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--stored-only") == 0) {
			o->stored_only = true;
			continue;
		} else if (strcmp(a, "--db") == 0) {
			o->db = v;
		} else if (strcmp(a, "--site") == 0) {
			o->site = v;
		} else if (strcmp(a, "--prefix") == 0) {
			o->prefix = v;
		} else if (strcmp(a, "--events") == 0) {
			r = parse_num(a, v, 0, 10000000, &o->events);
		} else if (strcmp(a, "--telemetry") == 0) {
			r = parse_num(a, v, 0, 100000000, &o->telemetry);
		} else if (strcmp(a, "--keys") == 0) {
			r = parse_num(a, v, 1, KEYS_MAX, &o->keys);
		} else if (strcmp(a, "--max-mb") == 0) {
			r = parse_num(a, v, 0, 1048576, &o->max_mb);
		} else if (strcmp(a, "--fill-percent") == 0) {
			r = parse_num(a, v, 1, 100, &o->fill_percent);
		} else if (strcmp(a, "--fill-events-percent") == 0) {
			r = parse_num(a, v, 1, 100, &o->fill_events_percent);
		} else if (strcmp(a, "--pad") == 0) {
			r = parse_num(a, v, 0, PAD_MAX, &o->pad);
		} else {
			fprintf(stderr, "mkbacklog: unknown option '%s'\n", a);
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0)
			return r;
		if (!v) {
			fprintf(stderr, "mkbacklog: %s needs a value\n", a);
			return -EINVAL;
		}
		i++;
	}
	if (!o->db || !o->site) {
		fprintf(stderr, "mkbacklog: --db and --site are required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (!util_is_slug(o->site)) {
		fprintf(stderr, "mkbacklog: --site '%s' is not a slug [a-z0-9][a-z0-9-]{0,62}\n",
			o->site);
		return -EINVAL;
	}
	if ((o->fill_percent || o->fill_events_percent) && !o->max_mb) {
		fprintf(stderr, "mkbacklog: --fill-percent and --fill-events-percent need --max-mb\n");
		return -EINVAL;
	}
	return 0;
}

/* Event number i: key i % keys; on each key the events alternate active and
 * cleared, and each active/cleared pair alternates fault and pre-alarm, so
 * the backlog holds every delivery priority below alarm. */
static int commit_one(store *st, const struct opts *o, long i, const char *pad, int64_t ts_ms)
{
	long key = i % o->keys, n = i / o->keys;
	bool active = n % 2 == 0;
	bool fault = (n / 2) % 2 == 0;
	enum event_class cls = fault ? EVCLASS_FAULT : EVCLASS_PREALARM;
	uint32_t cond = fault ? COND_SENSOR_FAULT : COND_PREALARM;
	struct event_info info = { 0 };
	struct store_event sev = { 0 };
	char dev[32], okey[STORE_KEY_MAX], topic[400], id[160], cid[5];
	size_t len;
	char *payload;
	int r;

	snprintf(dev, sizeof(dev), "backlog-%ld", key + 1);
	snprintf(okey, sizeof(okey), "%s.fire", dev);
	/* pre-alarms go to alarm/ like the daemon's (SPEC §3 topic table) */
	snprintf(topic, sizeof(topic), "%s/%s/%s/%s", o->prefix, o->site, fault ? "fault" : "alarm",
		 dev);
	info.site = o->site;
	info.epoch = store_epoch(st);
	info.seq = store_last_seq(st) + 1;
	info.cls = cls;
	info.type = event_type_point(cls, cond, PKIND_SMOKE);
	info.active = active;
	info.cid = event_cid_point(cls, cond, PKIND_SMOKE, active, cid);
	info.device = dev;
	info.point = "fire";
	info.zone = "backlog";
	info.zone_no = (int)key + 1;
	info.causes = CAUSE_DEVICE_FLAG;
	info.threshold = NAN;
	info.ts_ms = ts_ms;
	info.time_synced = true;
	info.note = pad;
	payload = event_payload(&info, &len);
	if (!payload)
		return -ENOMEM;
	event_id(info.site, info.epoch, info.seq, id, sizeof(id));
	sev.seq = info.seq;
	sev.event_id = id;
	sev.ts_ms = ts_ms;
	sev.cls = event_class_name(cls);
	sev.type = info.type;
	sev.state = active ? "active" : "cleared";
	sev.cid = info.cid;
	sev.device = dev;
	sev.point = "fire";
	sev.dest = STORE_DEST_MQTT;
	sev.topic = o->stored_only ? NULL : topic;
	sev.payload = payload;
	sev.payload_len = len;
	sev.qos = 1;
	sev.prio = !active ? STORE_PRIO_OTHER : fault ? STORE_PRIO_FAULT : STORE_PRIO_PREALARM;
	sev.order_key = okey;
	r = store_commit_event(st, &sev, NULL);
	free(payload);
	return r;
}

/* One batch of readings as the daemon's telemetry_tick() makes it. */
static char *telemetry_payload(const struct opts *o, long i, int64_t ts_ms, size_t *ret_len)
{
	char ts[UTIL_TS_LEN], dev[32];
	json_t *obj = json_object(), *arr = json_array();
	int k;

	if (!obj || !arr) {
		json_decref(obj);
		json_decref(arr);
		return NULL;
	}
	json_object_set_new(obj, "schema", json_string(TELEMETRY_SCHEMA));
	json_object_set_new(obj, "site", json_string(o->site));
	json_object_set_new(obj, "ts", json_string(util_rfc3339(ts_ms, ts)));
	for (k = 0; k < 4; k++) {
		snprintf(dev, sizeof(dev), "backlog-%d", k + 1);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:s, s:s, s:s}", "device", dev,
						     "name", "obscuration",
						     (double)((i + k) % 400) / 100.0, "unit", "%/m",
						     "quality", "good", "ts", ts));
	}
	json_object_set_new(obj, "readings", arr);
	return event_dump(obj, ret_len);
}

static int add_telemetry(store *st, const struct opts *o, long i, int64_t ts_ms)
{
	char topic[400];
	size_t len;
	char *payload = telemetry_payload(o, i, ts_ms, &len);
	int r;

	if (!payload)
		return -ENOMEM;
	snprintf(topic, sizeof(topic), "%s/%s/telemetry", o->prefix, o->site);
	r = store_outbox_add(st, STORE_DEST_MQTT, topic, payload, len, 0, false,
			     STORE_PRIO_TELEMETRY, "telemetry", NULL);
	free(payload);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct store_opts so = { 0 };
	store *st = NULL;
	char *pad = NULL;
	const char *fill_pad;
	uint64_t t0, t_ev;
	int64_t now = util_wall_ms();
	long i, n_ev = 0, n_tel = 0;
	int pct = 0, r, status = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.pad) {
		pad = malloc((size_t)o.pad + 1);
		if (!pad) {
			fprintf(stderr, "mkbacklog: out of memory\n");
			return 1;
		}
		memset(pad, 'x', (size_t)o.pad);
		pad[o.pad] = '\0';
	}
	so.path = o.db;
	so.max_mb = (int)o.max_mb;
	so.create = true;
	t0 = util_mono_ms();
	r = store_open(&so, &st);
	if (r < 0) {
		fprintf(stderr, "mkbacklog: cannot open '%s': %s\n", o.db, strerror(-r));
		goto out_free_pad;
	}
	n_ev = o.events;
	for (i = 0; i < o.events; i++) {
		/* timestamps in the past, one per millisecond, so the backlog
		 * looks like what an outage leaves behind */
		r = commit_one(st, &o, i, pad, now - o.events + i);
		if (r < 0) {
			fprintf(stderr, "mkbacklog: event %ld of %ld (seq %" PRIu64 "): %s\n", i + 1,
				o.events, store_last_seq(st) + 1, strerror(-r));
			goto out_close;
		}
	}
	fill_pad = pad;
	/* bounded: each event takes at least one row of a few hundred bytes */
	for (i = o.events; o.fill_events_percent && i < 100000000; i++) {
		r = store_size_percent(st, &pct);
		if (r < 0) {
			fprintf(stderr, "mkbacklog: size of '%s': %s\n", o.db, strerror(-r));
			goto out_close;
		}
		/* 100 means "until the store refuses": percent is rounded */
		if (pct >= o.fill_events_percent && o.fill_events_percent < 100)
			break;
		r = commit_one(st, &o, i, fill_pad, now);
		if (r == -ENOSPC && fill_pad) {
			/* the last pages take only small events: fill them too, so
			 * that "100" leaves no room for any event of the daemon */
			fill_pad = NULL;
			continue;
		}
		if (r == -ENOSPC)
			break; /* full: what --fill-events-percent 100 asks for */
		if (r < 0) {
			fprintf(stderr, "mkbacklog: event seq %" PRIu64 ": %s\n",
				store_last_seq(st) + 1, strerror(-r));
			goto out_close;
		}
		n_ev++;
	}
	t_ev = util_mono_ms();
	for (i = 0; i < o.telemetry; i++) {
		r = add_telemetry(st, &o, n_tel++, now - o.telemetry + i);
		if (r < 0) {
			fprintf(stderr, "mkbacklog: telemetry row %ld of %ld: %s\n", i + 1, o.telemetry,
				strerror(-r));
			goto out_close;
		}
	}
	/* bounded: a row is at least a few hundred bytes, max_mb is at most 1 TiB */
	for (i = 0; o.fill_percent && i < 100000000; i++) {
		if (i % 256 == 0) {
			r = store_size_percent(st, &pct);
			if (r < 0) {
				fprintf(stderr, "mkbacklog: size of '%s': %s\n", o.db, strerror(-r));
				goto out_close;
			}
			if (pct >= o.fill_percent)
				break;
		}
		r = add_telemetry(st, &o, n_tel++, now);
		if (r == -ENOSPC)
			break; /* 100 % asked, or rows larger than the margin */
		if (r < 0) {
			fprintf(stderr, "mkbacklog: telemetry row %ld: %s\n", n_tel, strerror(-r));
			goto out_close;
		}
	}
	if (store_size_percent(st, &pct) < 0)
		pct = -1;
	printf("mkbacklog: events=%ld telemetry=%ld last_seq=%" PRIu64 " epoch=%s percent=%d "
	       "events_ms=%" PRIu64 " ms=%" PRIu64 "\n",
	       n_ev, n_tel, store_last_seq(st), store_epoch(st), pct, t_ev - t0,
	       util_mono_ms() - t0);
	status = 0;
out_close:
	store_free(st);
out_free_pad:
	free(pad);
	return status;
}
