/* loadgen.c - many simulated premises in one process, each speaking
 * firegw's MQTT contract (SPEC §3, §5) with the daemon's own code, for the
 * fan-in bench (tests/bench/bench.py, scenario fanin).
 *
 * Each premises is a site of its own (id <prefix>-NNNN, from --first on,
 * devices and rules
 * of the template configuration given with -c) with its own publisher
 * (gateway/publish.c: one paho MQTTAsync client, persistent session, will,
 * TLS when the uri is ssl://, subscriptions to ack and request), and
 * behaves as the uplink does: connect at start, jittered exponential
 * back-off after a loss or a failed attempt (500 ms doubling up to
 * mqtt.reconnect_max_s, delay drawn over the upper half), after each
 * connect the retained status (birth), compliance and every device state,
 * then waiting events in seq order, telemetry in at most half the window;
 * a heartbeat every mqtt.heartbeat_s, a telemetry batch and fresh device
 * states every mqtt.telemetry_s, fire alarms at random (a Poisson process,
 * mean --alarm-every-s per premises), each cleared --alarm-hold-s later.
 * Payloads come from gateway/payload.c, event.c and compliance_data.c,
 * detection from detect.c: the bytes are the daemon's. An event stays in
 * memory until its PUBACK and is resent byte-identical after a reconnect;
 * no event is ever dropped (events are bounded per premises: beyond
 * LG_EVENTS_MAX waiting, no new alarm is started and that is counted).
 *
 * paho runs one send and one receive thread per process whatever the
 * number of clients (MQTTAsync.c starts them once; Socket.c polls every
 * socket with poll(), not select(), in 1.3.12), so 1 000 clients cost two
 * threads, 1 000 sockets and 1 000 eventfds (publish.c's note queues).
 *
 * Output on stdout, one JSON object a line: {"kind": "stats", ...} every
 * second, {"kind": "ready", ...} once every premises has connected once,
 * {"kind": "final", ...} at the end. Each event id made goes to
 * --events-out, one a line, for the bench's loss count.
 *
 * Usage: loadgen -c TEMPLATE.yaml [--sites N] [--first I] [--site-prefix P]
 *        [--alarm-every-s S] [--alarm-hold-s S] [--ramp-s S]
 *        [--duration-s S] [--drain-s S] [--events-out FILE] [--seed N]
 * SIGTERM / SIGINT: no new alarm, wait up to --drain-s for every waiting
 * event to be acknowledged, print the final line, exit.
 * Single main thread (owns every premises); paho's threads only fill the
 * publishers' note queues. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "compliance.h"
#include "compliance_data.h"
#include "config.h"
#include "detect.h"
#include "event.h"
#include "gateway.h"
#include "log.h"
#include "payload.h"
#include "publish.h"
#include "site.h"
#include "util.h"

#define LG_SITES_MAX 20000
#define LG_EVENTS_MAX 256 /* events waiting for their PUBACK, per premises */
#define LG_TEL_MAX 8      /* telemetry batches kept while the link is down */
#define LG_TICK_MS 20     /* timers are checked this often */
#define NOTES_PER_PASS 64

/* tags: kind in the top byte, a counter below */
#define TAG_EVENT (1ull << 56)
#define TAG_RETAINED (2ull << 56)
#define TAG_TELEMETRY (3ull << 56)
#define TAG_KIND(t) ((t) & (0xffull << 56))
#define TAG_VALUE(t) ((t) & ((1ull << 56) - 1))

enum link { LINK_DOWN, LINK_CONNECTING, LINK_UP };

struct lg_event {
	uint64_t seq;
	char *topic;
	char *payload;
	size_t len;
	bool sent;
};

struct prem {
	char id[CONFIG_ID_MAX];
	char epoch[9];
	struct site site;
	publisher *pub;
	enum link link;
	int backoff_ms;
	uint64_t next_connect, next_heartbeat, next_telemetry, next_alarm, clear_at;
	int alarm_dev; /* device burning now, -1 none */
	int64_t started_ms;
	uint64_t last_seq, retained_tag;
	bool ever_up, status_dirty, comp_dirty, resync;
	size_t resync_next;
	size_t n_inflight;
	struct lg_event ev[LG_EVENTS_MAX]; /* waiting events, seq order */
	size_t n_ev;
	char *tel[LG_TEL_MAX];
	size_t tel_len[LG_TEL_MAX], n_tel;
	char *comp;
	size_t comp_len;
};

struct counters {
	unsigned long attempts, connects, connect_failed, lost, sent, delivered;
	unsigned long events_made, events_acked, alarms, alarms_refused, tel_dropped, sends_refused;
};

struct lg {
	struct config *cfg; /* site.id is rewritten to the premises being built */
	struct prem *p;
	size_t n;
	double alarm_every_s, alarm_hold_s, ramp_s;
	int duration_s, drain_s;
	FILE *events_out;
	uint64_t rnd;
	struct counters c;
	bool ready_said;
	int64_t ready_ms;
};

/* ------------------------------------------------------------ helpers */

static uint64_t rnd_next(struct lg *g)
{
	/* xorshift64*: a bench's jitter, not a secret */
	g->rnd ^= g->rnd >> 12;
	g->rnd ^= g->rnd << 25;
	g->rnd ^= g->rnd >> 27;
	return g->rnd * 2685821657736338717ull;
}

static double rnd_unit(struct lg *g)
{
	return (double)(rnd_next(g) >> 11) / (double)(1ull << 53);
}

static uint64_t rnd_expo_ms(struct lg *g, double mean_s)
{
	double u = rnd_unit(g);

	if (u < 1e-12)
		u = 1e-12;
	return (uint64_t)(-log(u) * mean_s * 1000.0);
}

/* The payload builders read the site id from the configuration: point it
 * at the premises being built (main thread only). */
static void bind_site(struct lg *g, const struct prem *p)
{
	util_strlcpy(g->cfg->site.id, p->id, sizeof(g->cfg->site.id));
}

static bool parse_num(const char *s, double min, double max, double *ret)
{
	double v;

	if (util_parse_double(s, &v) < 0 || !(v >= min && v <= max))
		return false;
	*ret = v;
	return true;
}

/* ------------------------------------------------------------ the field */

/* Every value read just now (as a 1 s poll would have), with a small
 * random walk: what the states and telemetry carry. */
static void refresh_values(struct lg *g, struct prem *p, bool walk)
{
	uint64_t mono = util_mono_ms();
	int64_t wall = util_wall_ms();

	for (size_t i = 0; i < g->cfg->n_devices; i++) {
		const struct profile *pr = g->cfg->devices[i].profile;

		for (size_t j = 0; j < pr->n_values; j++) {
			struct value_rt *v = &p->site.devs[i].values[j];
			const struct profile_value *pv = &pr->values[j];

			if (!v->good_mono) {
				/* a point's analog value (smoke, heat) starts low in
				 * its valid range, others (a supply) at 60 % of it,
				 * bit fields without a range at 0 (no flag) */
				double lo = isnan(pv->valid_min) ? 0.0 : pv->valid_min;
				double hi = isnan(pv->valid_max) ? lo : pv->valid_max;
				double at = 0.6;

				for (size_t k = 0; k < g->cfg->devices[i].n_points; k++)
					if (g->cfg->devices[i].points[k].value == (int)j)
						at = 0.02 + 0.03 * rnd_unit(g);
				v->r.value = lo + (hi - lo) * at;
			} else if (walk && v->r.value != 0.0) {
				v->r.value *= 0.98 + 0.04 * rnd_unit(g);
			}
			v->r.value = round(v->r.value * 100.0) / 100.0;
			v->r.ok = true;
			v->r.raw = (uint32_t)(v->r.value >= 0 ? v->r.value * 100.0 : 0);
			v->ts_ms = wall;
			v->good_mono = mono;
			v->last_ok = true;
		}
	}
}

static int event_push(struct lg *g, struct prem *p, const char *kind, const char *dev,
		      const struct event_info *info)
{
	struct lg_event *e;
	char topic[400], id[160];
	size_t len;

	if (p->n_ev >= LG_EVENTS_MAX)
		return -ENOBUFS;
	e = &p->ev[p->n_ev];
	e->payload = event_payload(info, &len);
	site_topic(&p->site, kind, dev, topic, sizeof(topic));
	e->topic = strdup(topic);
	if (!e->payload || !e->topic) {
		free(e->payload);
		free(e->topic);
		return -ENOMEM;
	}
	e->len = len;
	e->seq = info->seq;
	e->sent = false;
	p->n_ev++;
	g->c.events_made++;
	if (g->events_out)
		fprintf(g->events_out, "%s\n", event_id(info->site, info->epoch, info->seq, id,
							sizeof(id)));
	return 0;
}

/* One detection event of a point, with the fields journal_point_event()
 * and journal_emit() give it. */
static void point_event(struct lg *g, struct prem *p, int dev, int pt,
			const struct detect_event *de)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	const struct cfg_point *cp = &d->points[pt];
	struct event_info info = { 0 };
	char cid[5];

	info.site = p->id;
	info.epoch = p->epoch;
	info.seq = p->last_seq + 1;
	info.cls = de->cls;
	info.type = event_type_point(de->cls, de->cond, cp->kind);
	info.active = de->active;
	info.cid = event_cid_point(de->cls, de->cond, cp->kind, de->active, cid);
	info.device = d->id;
	info.point = cp->name;
	info.zone = cp->zone;
	info.zone_no = cp->zone_no;
	info.location = cp->location;
	info.causes = de->causes;
	info.has_value = de->has_value;
	info.value = de->value;
	info.unit = cp->value >= 0 ? d->profile->values[cp->value].unit : NULL;
	info.threshold = de->threshold;
	info.ts_ms = util_wall_ms();
	info.time_synced = true;
	if (de->suppressed)
		return; /* stored only, in the daemon */
	if (event_push(g, p, de->cls == EVCLASS_FAULT ? "fault" : "alarm", d->id, &info) == 0)
		p->last_seq = info.seq;
}

/* A poll of every point of dev with the fire flag set or not. */
static void sample_device(struct lg *g, struct prem *p, int dev, bool fire)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	struct device_rt *rt = &p->site.devs[dev];
	struct detect_event out[DETECT_EVENTS_MAX];

	for (size_t i = 0; i < d->n_points; i++) {
		const struct cfg_point *cp = &d->points[i];
		struct detect_sample s = { .mono_ms = util_mono_ms(), .ok = true };
		int n;

		if (fire && cp->flags[FLAG_FIRE].value >= 0)
			s.flags = 1u << FLAG_FIRE;
		if (cp->value >= 0) {
			s.has_value = true;
			s.value = rt->values[cp->value].r.value;
		}
		n = detect_step(&cp->rules, &rt->points[i].det, &s, out, DETECT_EVENTS_MAX);
		for (int k = 0; k < n; k++)
			point_event(g, p, dev, (int)i, &out[k]);
	}
	site_update_device(&p->site, dev, util_wall_ms());
}

static void telemetry_tick(struct lg *g, struct prem *p)
{
	char *payload;
	size_t len;

	refresh_values(g, p, true);
	for (size_t i = 0; i < g->cfg->n_devices; i++)
		p->site.devs[i].state_dirty = true;
	if (!g->cfg->mqtt.telemetry_s)
		return;
	payload = payload_telemetry(&p->site, util_mono_ms(), util_wall_ms(), &len);
	if (!payload)
		return;
	if (p->n_tel == LG_TEL_MAX) {
		/* the daemon keeps them in SQLite; here the oldest goes */
		free(p->tel[0]);
		memmove(&p->tel[0], &p->tel[1], (LG_TEL_MAX - 1) * sizeof(p->tel[0]));
		memmove(&p->tel_len[0], &p->tel_len[1], (LG_TEL_MAX - 1) * sizeof(p->tel_len[0]));
		p->n_tel--;
		g->c.tel_dropped++;
	}
	p->tel[p->n_tel] = payload;
	p->tel_len[p->n_tel++] = len;
}

static char *compliance_payload(struct lg *g, const struct prem *p, size_t *ret_len)
{
	struct comp_gathered cg = { 0 };
	struct comp_result res;
	struct comp_point *pts;
	size_t n = 0, k = 0;
	json_t *o;

	for (size_t i = 0; i < g->cfg->n_devices; i++)
		n += g->cfg->devices[i].n_points;
	pts = calloc(n ? n : 1, sizeof(*pts));
	if (!pts)
		return NULL;
	char (*keys)[STORE_KEY_MAX] = calloc(n ? n : 1, STORE_KEY_MAX);
	if (!keys) {
		free(pts);
		return NULL;
	}
	for (size_t i = 0; i < g->cfg->n_devices; i++)
		for (size_t j = 0; j < g->cfg->devices[i].n_points; j++, k++) {
			site_point_key(&p->site, (int)i, (int)j, keys[k], STORE_KEY_MAX);
			pts[k].key = keys[k];
			pts[k].first_seen_ms = p->started_ms;
		}
	cg.at_ms = util_wall_ms();
	cg.in.ob = &g->cfg->compliance;
	cg.in.now_ms = cg.at_ms;
	cg.in.since_ms = p->started_ms;
	cg.in.points = pts;
	cg.in.n_points = n;
	cg.in.uplink_up = true;
	cg.in.clock_synced = true;
	o = compliance_evaluate(&cg.in, &res) == 0 ? compliance_to_json(g->cfg, &cg, &res, true)
						   : NULL;
	free(keys);
	free(pts);
	return o ? event_dump(o, ret_len) : NULL;
}

/* ------------------------------------------------------------ the link */

static void schedule_retry(struct lg *g, struct prem *p)
{
	int max_ms = g->cfg->mqtt.reconnect_max_s * 1000;
	int delay;

	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 500;
	if (p->backoff_ms > max_ms)
		p->backoff_ms = max_ms;
	delay = p->backoff_ms / 2 + (int)(rnd_next(g) % (uint64_t)(p->backoff_ms / 2 + 1));
	p->next_connect = util_mono_ms() + (uint64_t)delay;
}

static void link_lost(struct lg *g, struct prem *p)
{
	if (p->link == LINK_UP) {
		g->c.lost++;
		p->backoff_ms = 0;
	}
	p->link = LINK_DOWN;
	p->n_inflight = 0;
	for (size_t i = 0; i < p->n_ev; i++)
		p->ev[i].sent = false;
	schedule_retry(g, p);
}

static json_t *status_now(struct lg *g, const struct prem *p, const char *state,
			  const char *reason)
{
	struct status_info si = {
		.cfg = g->cfg,
		.state = state,
		.reason = reason,
		.version = FIREGW_VERSION,
		.epoch = p->epoch,
		.broker = g->cfg->mqtt.uri,
		.started_ms = p->started_ms,
		.now_ms = util_wall_ms(),
		.last_seq = p->last_seq,
		.backlog_events = (int64_t)p->n_ev,
		.backlog_telemetry = (int64_t)p->n_tel,
		.time_synced = true,
	};

	payload_count_points(&p->site, &si);
	return payload_status(&si);
}

static int send_msg(struct lg *g, struct prem *p, const char *topic, const void *payload,
		    size_t len, int qos, bool retain, uint64_t tag)
{
	int r = publish_send(p->pub, topic, payload, len, qos, retain, tag, NULL, 0);

	if (r < 0) {
		g->c.sends_refused++;
		return r;
	}
	p->n_inflight++;
	g->c.sent++;
	return 0;
}

static int send_retained(struct lg *g, struct prem *p, const char *kind, const char *dev,
			 char *payload, size_t len)
{
	char topic[400];
	int r;

	if (!payload)
		return -ENOMEM;
	site_topic(&p->site, kind, dev, topic, sizeof(topic));
	r = send_msg(g, p, topic, payload, len, 1, true, TAG_RETAINED | ++p->retained_tag);
	free(payload);
	return r;
}

static int send_state(struct lg *g, struct prem *p, size_t dev)
{
	size_t len;
	char *s = payload_device_state(&p->site, (int)dev, util_mono_ms(), util_wall_ms(), true,
				       &len);
	int r = send_retained(g, p, "state", g->cfg->devices[dev].id, s, len);

	if (r == 0)
		p->site.devs[dev].state_dirty = false;
	return r;
}

/* What may go now, in the uplink's order, within the window. */
static void pump(struct lg *g, struct prem *p)
{
	size_t window = (size_t)g->cfg->mqtt.inflight;

	bind_site(g, p);
	while (p->link == LINK_UP && p->n_inflight < window) {
		int r = -ENOENT;
		size_t len;

		if (p->status_dirty) {
			char *s = event_dump(status_now(g, p, "online", NULL), &len);

			r = send_retained(g, p, "status", NULL, s, len);
			if (r == 0)
				p->status_dirty = false;
		} else if (p->comp_dirty && p->comp) {
			char *copy = malloc(p->comp_len);

			if (copy)
				memcpy(copy, p->comp, p->comp_len);
			r = send_retained(g, p, "compliance", NULL, copy, p->comp_len);
			if (r == 0)
				p->comp_dirty = false;
		} else if (p->resync) {
			if (p->resync_next < g->cfg->n_devices) {
				r = send_state(g, p, p->resync_next);
				if (r == 0)
					p->resync_next++;
			} else {
				p->resync = false;
				continue;
			}
		} else {
			size_t i;

			for (i = 0; i < p->n_ev && p->ev[i].sent; i++)
				;
			if (i < p->n_ev) {
				struct lg_event *e = &p->ev[i];

				r = send_msg(g, p, e->topic, e->payload, e->len, 1, false,
					     TAG_EVENT | e->seq);
				if (r == 0)
					e->sent = true;
			}
			for (i = 0; r == -ENOENT && i < g->cfg->n_devices; i++)
				if (p->site.devs[i].state_dirty)
					r = send_state(g, p, i);
			if (r == -ENOENT && p->n_tel && p->n_inflight < (window + 1) / 2) {
				char topic[400];

				site_topic(&p->site, "telemetry", NULL, topic, sizeof(topic));
				r = send_msg(g, p, topic, p->tel[0], p->tel_len[0],
					     g->cfg->mqtt.telemetry_qos, false, TAG_TELEMETRY);
				if (r == 0) {
					free(p->tel[0]);
					memmove(&p->tel[0], &p->tel[1],
						(LG_TEL_MAX - 1) * sizeof(p->tel[0]));
					memmove(&p->tel_len[0], &p->tel_len[1],
						(LG_TEL_MAX - 1) * sizeof(p->tel_len[0]));
					p->n_tel--;
				}
			}
		}
		if (r < 0)
			break;
	}
}

static void delivered(struct lg *g, struct prem *p, uint64_t tag)
{
	if (p->n_inflight)
		p->n_inflight--;
	g->c.delivered++;
	if (TAG_KIND(tag) != TAG_EVENT)
		return;
	for (size_t i = 0; i < p->n_ev; i++)
		if (p->ev[i].seq == TAG_VALUE(tag)) {
			free(p->ev[i].topic);
			free(p->ev[i].payload);
			memmove(&p->ev[i], &p->ev[i + 1], (p->n_ev - i - 1) * sizeof(p->ev[0]));
			p->n_ev--;
			g->c.events_acked++;
			return;
		}
}

static void handle_notes(struct lg *g, struct prem *p)
{
	struct publish_note n;
	int budget = NOTES_PER_PASS;

	while (budget-- > 0 && publish_next(p->pub, &n)) {
		switch (n.kind) {
		case PNOTE_CONNECTED:
			p->link = LINK_UP;
			p->backoff_ms = 0;
			p->n_inflight = 0;
			p->status_dirty = p->comp_dirty = p->resync = true;
			p->resync_next = 0;
			p->ever_up = true;
			g->c.connects++;
			break;
		case PNOTE_CONNECT_FAILED:
			g->c.connect_failed++;
			link_lost(g, p);
			break;
		case PNOTE_CONNECTION_LOST:
			link_lost(g, p);
			break;
		case PNOTE_DELIVERED:
			delivered(g, p, n.tag);
			break;
		case PNOTE_SEND_FAILED:
			if (p->n_inflight)
				p->n_inflight--;
			if (TAG_KIND(n.tag) == TAG_EVENT)
				for (size_t i = 0; i < p->n_ev; i++)
					if (p->ev[i].seq == TAG_VALUE(n.tag))
						p->ev[i].sent = false;
			break;
		default:
			break; /* acks and requests from the center: not answered here */
		}
		publish_note_clear(&n);
	}
	pump(g, p);
}

static void prem_tick(struct lg *g, struct prem *p, uint64_t now, bool stopping)
{
	if (p->link == LINK_DOWN && now >= p->next_connect) {
		int r = publish_connect(p->pub);

		g->c.attempts++;
		if (r == 0 || r == -EALREADY)
			p->link = LINK_CONNECTING;
		else
			schedule_retry(g, p);
	}
	if (now >= p->next_heartbeat) {
		p->status_dirty = true;
		p->next_heartbeat = now + (uint64_t)g->cfg->mqtt.heartbeat_s * 1000u;
	}
	if (now >= p->next_telemetry) {
		bind_site(g, p);
		telemetry_tick(g, p);
		p->next_telemetry =
			now + (uint64_t)(g->cfg->mqtt.telemetry_s ? g->cfg->mqtt.telemetry_s : 60) * 1000u;
	}
	if (p->alarm_dev >= 0 && now >= p->clear_at) {
		bind_site(g, p);
		sample_device(g, p, p->alarm_dev, false);
		p->alarm_dev = -1;
	}
	if (g->alarm_every_s > 0 && now >= p->next_alarm) {
		p->next_alarm = now + rnd_expo_ms(g, g->alarm_every_s);
		if (!stopping && p->alarm_dev < 0 && g->cfg->n_devices) {
			if (p->n_ev + 2 * DETECT_EVENTS_MAX > LG_EVENTS_MAX) {
				g->c.alarms_refused++;
			} else {
				p->alarm_dev = (int)(rnd_next(g) % g->cfg->n_devices);
				p->clear_at = now + (uint64_t)(g->alarm_hold_s * 1000.0);
				bind_site(g, p);
				sample_device(g, p, p->alarm_dev, true);
				g->c.alarms++;
			}
		}
	}
	pump(g, p);
}

/* ------------------------------------------------------------ output */

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	if (s) {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
	json_decref(o);
}

static json_t *stats_json(struct lg *g, const char *kind)
{
	size_t up = 0, connecting = 0, ev_waiting = 0;
	struct rusage ru;

	for (size_t i = 0; i < g->n; i++) {
		up += g->p[i].link == LINK_UP;
		connecting += g->p[i].link == LINK_CONNECTING;
		ev_waiting += g->p[i].n_ev;
	}
	getrusage(RUSAGE_SELF, &ru);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I, s:f}",
			 "kind", kind, "wall_ms", (json_int_t)util_wall_ms(), "sites",
			 (json_int_t)g->n, "up", (json_int_t)up, "connecting",
			 (json_int_t)connecting, "attempts", (json_int_t)g->c.attempts, "connects",
			 (json_int_t)g->c.connects, "connect_failed", (json_int_t)g->c.connect_failed,
			 "lost", (json_int_t)g->c.lost, "sent", (json_int_t)g->c.sent, "delivered",
			 (json_int_t)g->c.delivered, "events_made", (json_int_t)g->c.events_made,
			 "events_acked", (json_int_t)g->c.events_acked, "events_waiting",
			 (json_int_t)ev_waiting, "alarms", (json_int_t)g->c.alarms, "alarms_refused",
			 (json_int_t)g->c.alarms_refused, "telemetry_dropped",
			 (json_int_t)g->c.tel_dropped, "cpu_s",
			 (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
				 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

/* Clean stop, as the daemon's: the explicit offline status, retained,
 * then DISCONNECT (no will). At most OFFLINE_TOTAL_MS for all of them. */
#define OFFLINE_WAIT_MS 500
#define OFFLINE_TOTAL_MS 15000
static void say_offline(struct lg *g)
{
	uint64_t end = util_mono_ms() + OFFLINE_TOTAL_MS;

	for (size_t i = 0; i < g->n && util_mono_ms() < end; i++) {
		struct prem *p = &g->p[i];
		char topic[400];
		size_t len;
		char *off;

		if (p->link != LINK_UP)
			continue;
		bind_site(g, p);
		off = event_dump(status_now(g, p, "offline", "shutdown"), &len);
		site_topic(&p->site, "status", NULL, topic, sizeof(topic));
		if (off)
			publish_disconnect(p->pub, topic, off, len, OFFLINE_WAIT_MS);
		free(off);
	}
}

/* ------------------------------------------------------------ setup */

static int prem_init(struct lg *g, struct prem *p, size_t idx, const char *prefix,
		     uint64_t now)
{
	static const char *const subs_kinds[] = { "ack", "request" };
	char will_topic[400], sub_topics[2][400];
	const char *subs[2];
	struct publish_opts po = { 0 };
	char client_id[160];
	size_t will_len;
	char *will;
	int r;

	snprintf(p->id, sizeof(p->id), "%s-%04zu", prefix, idx);
	snprintf(p->epoch, sizeof(p->epoch), "%08" PRIx32, (uint32_t)rnd_next(g));
	p->started_ms = util_wall_ms();
	p->alarm_dev = -1;
	bind_site(g, p);
	r = site_init(&p->site, g->cfg, p->started_ms);
	if (r < 0)
		return r;
	refresh_values(g, p, false);
	for (size_t i = 0; i < g->cfg->n_devices; i++)
		sample_device(g, p, (int)i, false); /* first good read: normal */
	p->comp = compliance_payload(g, p, &p->comp_len);
	site_topic(&p->site, "status", NULL, will_topic, sizeof(will_topic));
	will = payload_will(p->id, &will_len);
	if (!will || !p->comp) {
		free(will);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs_kinds); i++) {
		site_topic(&p->site, subs_kinds[i], NULL, sub_topics[i], sizeof(sub_topics[i]));
		subs[i] = sub_topics[i];
	}
	snprintf(client_id, sizeof(client_id), "firegw-%s", p->id);
	po.uri = g->cfg->mqtt.uri;
	po.client_id = client_id;
	po.version = g->cfg->mqtt.version;
	po.keepalive_s = g->cfg->mqtt.keepalive_s;
	po.username = g->cfg->mqtt.username[0] ? g->cfg->mqtt.username : NULL;
	po.ca_file = g->cfg->mqtt.ca_file[0] ? g->cfg->mqtt.ca_file : NULL;
	po.cert_file = g->cfg->mqtt.cert_file[0] ? g->cfg->mqtt.cert_file : NULL;
	po.key_file = g->cfg->mqtt.key_file[0] ? g->cfg->mqtt.key_file : NULL;
	po.will_topic = will_topic;
	po.will_payload = will;
	po.will_len = will_len;
	po.inflight = g->cfg->mqtt.inflight + 8;
	po.subscriptions = subs;
	po.n_subscriptions = ARRAY_SIZE(subs);
	po.max_messages = 64;
	r = publish_new(&po, &p->pub);
	free(will);
	if (r < 0)
		return r;
	/* phases spread as gateways started at different times would be */
	p->next_connect = now + (uint64_t)(g->ramp_s * 1000.0 * rnd_unit(g));
	p->next_heartbeat = now + (uint64_t)(g->cfg->mqtt.heartbeat_s * 1000.0 * rnd_unit(g));
	p->next_telemetry =
		now + (uint64_t)((g->cfg->mqtt.telemetry_s ? g->cfg->mqtt.telemetry_s : 60) * 1000.0 *
				 rnd_unit(g));
	p->next_alarm = now + rnd_expo_ms(g, g->alarm_every_s > 0 ? g->alarm_every_s : 1.0);
	return 0;
}

static void prem_clear(struct prem *p)
{
	publish_free(p->pub);
	for (size_t i = 0; i < p->n_ev; i++) {
		free(p->ev[i].topic);
		free(p->ev[i].payload);
	}
	for (size_t i = 0; i < p->n_tel; i++)
		free(p->tel[i]);
	free(p->comp);
	site_clear(&p->site);
}

static int raise_nofile(size_t n_sites)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)(2 * n_sites + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	if (rl.rlim_cur < need) {
		fprintf(stderr, "loadgen: %zu sites need %lu open files, the hard limit is %lu; "
				"raise it (ulimit -Hn) or use fewer --sites\n",
			n_sites, (unsigned long)need, (unsigned long)rl.rlim_max);
		return -EMFILE;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: loadgen -c TEMPLATE.yaml [--sites N] [--first I] [--site-prefix P] "
		   "[--alarm-every-s S] [--alarm-hold-s S] [--ramp-s S] [--duration-s S] "
		   "[--drain-s S] [--events-out FILE] [--seed N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sites", required_argument, NULL, 'n' },
		{ "site-prefix", required_argument, NULL, 'P' },
		{ "first", required_argument, NULL, 'f' },
		{ "alarm-every-s", required_argument, NULL, 'a' },
		{ "alarm-hold-s", required_argument, NULL, 'H' },
		{ "ramp-s", required_argument, NULL, 'r' },
		{ "duration-s", required_argument, NULL, 'd' },
		{ "drain-s", required_argument, NULL, 'D' },
		{ "events-out", required_argument, NULL, 'e' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lg g = { .n = 1000, .alarm_every_s = 600, .alarm_hold_s = 5, .drain_s = 20 };
	struct errlist errs = { 0 };
	const char *cfg_path = NULL, *prefix = "lg", *events_path = NULL;
	struct epoll_event evs[256];
	uint64_t now, next_stats, stop_at = 0, drain_until = 0;
	sigset_t mask;
	int c, ep = -1, sfd = -1, status = 1;
	char esc[128];
	bool seeded = false;
	size_t first = 0;
	double v;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'n':
			if (!parse_num(optarg, 1, LG_SITES_MAX, &v))
				goto bad_arg;
			g.n = (size_t)v;
			break;
		case 'f':
			if (!parse_num(optarg, 0, LG_SITES_MAX, &v))
				goto bad_arg;
			first = (size_t)v;
			break;
		case 'P':
			if (!util_is_slug(optarg) || strlen(optarg) > 40)
				goto bad_arg;
			prefix = optarg;
			break;
		case 'a':
			if (!parse_num(optarg, 0, 1e7, &g.alarm_every_s))
				goto bad_arg;
			break;
		case 'H':
			if (!parse_num(optarg, 0.1, 3600, &g.alarm_hold_s))
				goto bad_arg;
			break;
		case 'r':
			if (!parse_num(optarg, 0, 3600, &g.ramp_s))
				goto bad_arg;
			break;
		case 'd':
			if (!parse_num(optarg, 0, 86400, &v))
				goto bad_arg;
			g.duration_s = (int)v;
			break;
		case 'D':
			if (!parse_num(optarg, 0, 3600, &v))
				goto bad_arg;
			g.drain_s = (int)v;
			break;
		case 'e':
			events_path = optarg;
			break;
		case 's':
			if (!parse_num(optarg, 1, 1e15, &v))
				goto bad_arg;
			g.rnd = (uint64_t)v;
			seeded = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!seeded && getrandom(&g.rnd, sizeof(g.rnd), 0) != sizeof(g.rnd))
		g.rnd = (uint64_t)util_wall_ms();
	g.rnd |= 1; /* xorshift needs a nonzero state */
	if (!cfg_path || optind < argc) {
		usage(stderr);
		return 2;
	}
	log_init(LOG_WARNING);
	if (config_load(cfg_path, config_builtin_profile_dir(), &errs, &g.cfg) < 0) {
		errlist_print(&errs, stderr);
		errlist_clear(&errs);
		return 1;
	}
	errlist_clear(&errs);
	if (raise_nofile(g.n) < 0)
		goto out_cfg;
	if (events_path) {
		g.events_out = fopen(events_path, "w");
		if (!g.events_out) {
			fprintf(stderr, "loadgen: cannot write '%s': %s\n", events_path,
				strerror(errno));
			goto out_cfg;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	g.p = calloc(g.n, sizeof(*g.p));
	if (sfd < 0 || ep < 0 || !g.p) {
		fprintf(stderr, "loadgen: setup: %s\n", strerror(errno ? errno : ENOMEM));
		goto out_free;
	}
	now = util_mono_ms();
	for (size_t i = 0; i < g.n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };
		int r = prem_init(&g, &g.p[i], first + i, prefix, now);

		if (r < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, publish_fd(g.p[i].pub), &e) < 0) {
			fprintf(stderr, "loadgen: premises %zu: %s\n", i,
				strerror(r < 0 ? -r : errno));
			g.n = i + 1;
			goto out_free;
		}
	}
	{
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = UINT64_MAX };

		epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
	}
	if (g.duration_s)
		stop_at = now + (uint64_t)g.duration_s * 1000u;
	next_stats = now + 1000;
	for (;;) {
		bool stopping = drain_until != 0;
		int nev;

		now = util_mono_ms();
		for (size_t i = 0; i < g.n; i++)
			prem_tick(&g, &g.p[i], now, stopping);
		nev = epoll_wait(ep, evs, (int)ARRAY_SIZE(evs), LG_TICK_MS);
		if (nev < 0 && errno != EINTR) {
			fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
			goto out_free;
		}
		for (int k = 0; k < nev; k++) {
			if (evs[k].data.u64 == UINT64_MAX) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) > 0 && !drain_until)
					drain_until = util_mono_ms() + (uint64_t)g.drain_s * 1000u;
				continue;
			}
			handle_notes(&g, &g.p[evs[k].data.u64]);
		}
		now = util_mono_ms();
		if (stop_at && now >= stop_at && !drain_until)
			drain_until = now + (uint64_t)g.drain_s * 1000u;
		if (!g.ready_said) {
			size_t up = 0;

			for (size_t i = 0; i < g.n; i++)
				up += g.p[i].ever_up;
			if (up == g.n) {
				g.ready_said = true;
				print_json(stats_json(&g, "ready"));
			}
		}
		if (now >= next_stats) {
			print_json(stats_json(&g, "stats"));
			next_stats += 1000;
			if (next_stats < now)
				next_stats = now + 1000;
		}
		if (drain_until) {
			size_t waiting = 0;

			for (size_t i = 0; i < g.n; i++)
				waiting += g.p[i].n_ev + (g.p[i].alarm_dev >= 0);
			if (waiting == 0 || now >= drain_until)
				break;
			/* a burning device clears now: its cleared event is the
			 * last one of the run */
			for (size_t i = 0; i < g.n; i++)
				if (g.p[i].alarm_dev >= 0)
					g.p[i].clear_at = now;
		}
	}
	print_json(stats_json(&g, "final"));
	say_offline(&g);
	status = 0;

out_free:
	for (size_t i = 0; g.p && i < g.n; i++)
		prem_clear(&g.p[i]);
	free(g.p);
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (g.events_out)
		fclose(g.events_out);
out_cfg:
	config_free(g.cfg);
	return status;

bad_arg:
	fprintf(stderr, "loadgen: bad value '%s' for --%s\n",
		util_escape(optarg, strlen(optarg), esc, sizeof(esc)),
		c == 'n' ? "sites" : c == 'f' ? "first" : c == 'P' ? "site-prefix" : c == 'a' ? "alarm-every-s"
				 : c == 'H' ? "alarm-hold-s" : c == 'r' ? "ramp-s"
				 : c == 'd' ? "duration-s" : c == 'D' ? "drain-s" : "seed");
	return 2;
}
