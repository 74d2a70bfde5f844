/* gateway.c - the daemon's main loop (`firegw run`).
 *
 * One thread, this one, owns the SQLite store, the delivery scheduler, the
 * per-point detection state and the MQTT client handle. Bus threads
 * (poller.c) hand poll results over a bounded queue; paho's callbacks hand
 * notes over another (publish.c); the control socket and signals (via
 * signalfd) are polled here too. Every timer is a CLOCK_MONOTONIC deadline.
 *
 * The life of a reading: a poll result is decoded with the device's
 * profile, each alarm point's sample goes through detect_step(), and every
 * event it yields is numbered (seq), serialised once, and committed to
 * SQLite together with its outbox row and the point's new state before any
 * publish is attempted (SPEC §5). The scheduler (outbox.c) then sends
 * waiting events alarm-first within the in-flight window; a row leaves the
 * outbox only on PUBACK.
 */
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "detect.h"
#include "event.h"
#include "instance.h"
#include "log.h"
#include "outbox.h"
#include "point.h"
#include "marks.h"
#include "poller.h"
#include "profile.h"
#include "publish.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define RESULTS_QUEUE_LEN 256
#define DELETE_BATCH_MAX 256
#define DELETE_BATCH_MS 100
#define TELEMETRY_BACKFILL_PER_S 1000 /* batches per second while catching up */
#define TAG_MEM (1ull << 61)       /* an event held in memory: TAG_MEM | seq */
#define TAG_TELEMETRY (1ull << 62) /* a telemetry row: TAG_TELEMETRY | row id */
#define TAG_RETAINED (1ull << 63)  /* status, states, responses: not in the outbox */
#define INFLIGHT_MAX 1024
#define HELD_MAX 20000             /* events kept in memory while SQLite refuses writes */
#define ACKS_MAX 256               /* fire alarms waiting for the center's acknowledgement */
#define SIZE_CHECK_MS 60000
#define PRUNE_MS 3600000
#define CLOCK_STEP_MS 2000         /* a wall-clock jump larger than this is a step */
#define HWM_STEP 32                /* seqs reserved at a time while events are held */

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP };

struct point_rt {
	struct detect_state det;
	enum point_state state; /* as last computed */
	int64_t since_ms;
	int key;                /* outbox order key */
	uint64_t last_seq;
	bool stored;            /* has a row in point_state */
	/* operating mode (SPEC §4), persisted as JSON in point_state.mode */
	struct point_mode mode;
	uint64_t test_end_mono;   /* the test's end as a monotonic deadline */
	uint64_t dis_remind_mono; /* next daily 1571 reminder */
};

struct value_rt {
	struct value_reading r;
	int64_t ts_ms;          /* wall time of the last good read */
	uint64_t good_mono;     /* mono time of the last good read, 0 never */
	bool last_ok;
};

struct device_rt {
	struct point_rt *points; /* cfg n_points, sized per device (memory budget) */
	struct value_rt *values; /* profile n_values */
	uint32_t polls;
	int last_rc;
	enum point_state state;
	bool state_dirty;
};

struct inflight {
	uint64_t tag;
	uint64_t sent_mono;
	int64_t row_id;         /* telemetry rows: deleted on delivery */
};

/* An event SQLite did not take (disk full, I/O error): it keeps its seq,
 * goes out from memory, and is written in seq order when the store works
 * again (SPEC §5). */
struct held {
	uint64_t seq;
	int64_t ts_ms;
	char *event_id, *cls, *type, *state, *cid, *device, *point, *topic, *order_key;
	void *payload;
	size_t len;
	int prio;
	int dev, pt;    /* the point whose state is saved when written; -1: none */
	bool delivered; /* PUBACK came first: no outbox row when written */
};

struct pending_ack {
	char event_id[160];
	uint64_t deadline;
};

struct removed_dev {
	char id[CONFIG_ID_MAX];
	uint64_t tag;  /* the empty retained publish in flight, 0 when none */
	bool cleared;
};

struct job_client {
	uint64_t tag;
	int client;     /* control handle (control.h): stale once the client is gone */
	int bus;
	bool active;
};

struct gw {
	struct config *cfg;
	char topic_root[300];
	store *st;
	outbox *ob;
	publisher *pub;
	queue *results;
	poller *pollers[CONFIG_MAX_BUSES];
	control *ctl;
	int sfd;
	struct device_rt *devs;
	int gateway_key;

	/* uplink */
	enum link_state link;
	uint64_t next_connect_mono;
	int backoff_ms;
	bool resync;             /* after a connect: status and states first */
	bool status_dirty;
	size_t resync_next;      /* next device whose state goes out */
	struct inflight inflight[INFLIGHT_MAX];
	size_t n_inflight;
	uint64_t retained_tag;
	int64_t uplink_lost_ms;

	/* telemetry backfill */
	bool tel_waiting;        /* rows may wait after tel_cursor */
	int64_t tel_cursor;
	uint64_t tel_tokens_mono;
	double tel_tokens;

	/* batched outbox deletions */
	int64_t del_ids[DELETE_BATCH_MAX];
	size_t n_del;
	uint64_t del_due;

	/* timers */
	uint64_t next_heartbeat, next_telemetry, next_store_tick;
	int64_t started_ms;
	bool time_synced;

	/* control socket jobs (probe/scan through the bus owner) */
	struct job_client jobs[8];
	uint64_t next_job_tag;

	uint64_t send_retry_mono; /* after a failed outbox read: wait before retrying */

	/* storage health */
	uint64_t last_seq;       /* last seq given out, stored or held */
	struct held *held;
	size_t n_held, cap_held;
	bool store_wrote;        /* a write succeeded since the storage fault was raised */
	uint64_t next_size_check, next_prune, next_held_retry;

	/* center acknowledgements (mqtt.ack_timeout_s) */
	struct pending_ack acks[ACKS_MAX];
	size_t n_acks;

	/* clock */
	int64_t clock_offset;    /* wall - mono, to see steps */
	uint64_t clock_step_mono;

	/* devices gone from the configuration: their retained state is cleared */
	struct removed_dev *removed;
	size_t n_removed;

	/* gateway faults raised and not yet restored (bit 1 << enum gw_event)
	 * and the seq high-water mark: both kept in the marks file, which
	 * takes writes when the database does not */
	uint32_t gw_faults;
	marks *marks;
	uint64_t seq_hwm;
	bool marks_logged;
	char replaced_note[800]; /* the database was replaced: raised once marks are read */
	struct log_ratelimit bad_response_rl;

	/* systemd watchdog: half its interval (0: off), next ping */
	uint64_t wd_half_ms, next_wd;
	struct log_ratelimit wd_rl;

	bool stop;
	bool reload;             /* stop, then re-exec with the new configuration */
};

static bool clock_is_synced(void)
{
	struct timex tx = { 0 };

	return adjtimex(&tx) != TIME_ERROR;
}

/* ---------------------------------------------------------------- topics */

static void topic_of(const struct gw *g, char *buf, size_t len, const char *kind, const char *dev)
{
	if (dev)
		snprintf(buf, len, "%s/%s/%s", g->topic_root, kind, dev);
	else
		snprintf(buf, len, "%s/%s", g->topic_root, kind);
}

/* --------------------------------------------------------------- events */

struct emit {
	enum event_class cls;
	const char *type;
	bool active;
	const char *cid;
	int dev, pt;             /* -1: a gateway event */
	uint32_t causes;
	bool has_value;
	double value;
	const char *unit;
	double threshold;
	const char *by, *note;
	int prio;
	bool suppressed;         /* stored, not published */
	const char *topic_kind;  /* "alarm", "fault", "test"; NULL: stored only */
	int64_t ts_ms;           /* 0: now */
};

static void point_key(const struct gw *g, int dev, int pt, char *buf, size_t len)
{
	if (dev < 0)
		snprintf(buf, len, "gateway");
	else if (pt < 0)
		snprintf(buf, len, "%s", g->cfg->devices[dev].id); /* device-level events */
	else
		snprintf(buf, len, "%s.%s", g->cfg->devices[dev].id,
			 g->cfg->devices[dev].points[pt].name);
}

static bool in_test(const struct point_rt *p)
{
	return point_in_test(&p->mode);
}

/* The stored mode is restored as it was; the deadlines start again from
 * now: a test that ended while the gateway was down ends at once. */
static void mode_restore(struct point_rt *p, const char *mode)
{
	int64_t left;

	if (point_mode_parse(mode, &p->mode) < 0) {
		log_warning("stored operating mode '%.60s' is not readable; the point is back in "
			    "normal service", mode);
		return;
	}
	left = p->mode.test_until_ms - util_wall_ms();
	if (in_test(p))
		p->test_end_mono = util_mono_ms() + (uint64_t)(left > 0 ? left : 0);
	if (p->mode.disabled)
		p->dis_remind_mono = util_mono_ms() + 24ull * 3600 * 1000;
}

/* The point's state as stored. -ENOBUFS when its mode does not fit the
 * stored form (the caller must not store it: a mode cut short would be
 * lost at the next start). */
static int pstate_fill(const struct gw *g, int dev, int pt, struct store_point_state *ps)
{
	const struct point_rt *p = &g->devs[dev].points[pt];

	memset(ps, 0, sizeof(*ps));
	point_key(g, dev, pt, ps->key, sizeof(ps->key));
	ps->conditions = p->det.conditions;
	ps->latched = p->det.latched;
	ps->alarm_causes = p->det.alarm_causes;
	ps->prealarm_causes = p->det.prealarm_causes;
	memcpy(ps->fault_causes, p->det.fault_causes, sizeof(ps->fault_causes));
	ps->since_ms = p->since_ms;
	ps->last_seq = p->last_seq;
	return point_mode_format(&p->mode, ps->mode, sizeof(ps->mode));
}

/* Saves a point's state outside an event (a latch taking hold, a mode
 * change, start-up). A failure is logged here; the state is saved again
 * with the point's next event or change. 0 or -errno. */
static int point_save(struct gw *g, int dev, int pt)
{
	struct store_point_state ps;
	int r;

	g->devs[dev].state_dirty = true;
	r = pstate_fill(g, dev, pt, &ps);
	if (r == 0)
		r = store_point_state_save(g->st, &ps);
	if (r < 0)
		log_error("cannot save the state of '%s.%s': %s; it is saved with its next change",
			  g->cfg->devices[dev].id, g->cfg->devices[dev].points[pt].name,
			  strerror(-r));
	return r;
}

static void link_kick(struct gw *g);
static enum point_state point_state_now(const struct point_rt *p);

static void storage_fault_raise(struct gw *g, int err);
static void marks_save(struct gw *g);
static void ack_track(struct gw *g, const char *event_id);

static char *dup_or_null(const char *v)
{
	return v ? strdup(v) : NULL;
}

static void held_clear(struct held *h)
{
	free(h->event_id);
	free(h->cls);
	free(h->type);
	free(h->state);
	free(h->cid);
	free(h->device);
	free(h->point);
	free(h->topic);
	free(h->order_key);
	free(h->payload);
}

/* Keeps a copy of sev in memory until the store takes it. The point's
 * state is not copied: when the event is finally written, the point's
 * state then (never older than the event's) goes with it. */
static int hold_event(struct gw *g, const struct store_event *sev, int dev, int pt)
{
	struct held *h;

	if (g->n_held == HELD_MAX)
		return -ENOBUFS;
	if (g->n_held == g->cap_held) {
		size_t cap = g->cap_held ? g->cap_held * 2 : 64;
		struct held *n = realloc(g->held, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		g->held = n;
		g->cap_held = cap;
	}
	h = &g->held[g->n_held];
	memset(h, 0, sizeof(*h));
	h->seq = sev->seq;
	h->ts_ms = sev->ts_ms;
	h->prio = sev->prio;
	h->event_id = dup_or_null(sev->event_id);
	h->cls = dup_or_null(sev->cls);
	h->type = dup_or_null(sev->type);
	h->state = dup_or_null(sev->state);
	h->cid = dup_or_null(sev->cid);
	h->device = dup_or_null(sev->device);
	h->point = dup_or_null(sev->point);
	h->topic = dup_or_null(sev->topic);
	h->order_key = dup_or_null(sev->order_key);
	h->payload = malloc(sev->payload_len ? sev->payload_len : 1);
	if (h->payload)
		memcpy(h->payload, sev->payload, sev->payload_len);
	h->len = sev->payload_len;
	h->dev = sev->pstate ? dev : -1;
	h->pt = sev->pstate ? pt : -1;
	if (!h->event_id || !h->cls || !h->state || !h->device || !h->payload ||
	    (sev->topic && !h->topic) || !h->order_key) {
		held_clear(h);
		return -ENOMEM;
	}
	g->n_held++;
	return 0;
}

static int gw_emit(struct gw *g, const struct emit *e)
{
	const struct cfg_device *d = e->dev >= 0 ? &g->cfg->devices[e->dev] : NULL;
	const struct cfg_point *cp = d && e->pt >= 0 ? &d->points[e->pt] : NULL;
	struct store_point_state ps;
	struct event_info info = { 0 };
	struct store_event sev = { 0 };
	struct outbox_item it = { 0 };
	char id[160], topic[400], key[STORE_KEY_MAX];
	int64_t row_id = 0;
	char *payload;
	size_t len;
	int r;

	info.site = g->cfg->site.id;
	info.epoch = store_epoch(g->st);
	info.seq = g->last_seq + 1;
	info.cls = e->cls;
	info.type = e->type;
	info.active = e->active;
	info.cid = e->cid;
	info.device = d ? d->id : "gateway";
	info.point = cp ? cp->name : NULL;
	info.zone = cp ? cp->zone : d ? d->zone : NULL;
	info.zone_no = cp ? cp->zone_no : d ? d->zone_no : 0;
	info.location = cp ? cp->location : d ? d->location : NULL;
	info.causes = e->causes;
	info.has_value = e->has_value;
	info.value = e->value;
	info.unit = e->unit;
	info.threshold = e->threshold;
	info.ts_ms = e->ts_ms ? e->ts_ms : util_wall_ms();
	info.time_synced = g->time_synced;
	info.by = e->by;
	info.note = e->note;
	payload = event_payload(&info, &len);
	if (!payload)
		return -ENOMEM;

	point_key(g, e->dev, e->pt, key, sizeof(key));
	if (e->topic_kind)
		topic_of(g, topic, sizeof(topic), e->topic_kind, d ? d->id : "gateway");
	event_id(info.site, info.epoch, info.seq, id, sizeof(id));
	if (cp) {
		struct point_rt *p = &g->devs[e->dev].points[e->pt];
		enum point_state now_state = point_state_now(p);

		/* the stored "since" is the time of this change, not of the
		 * previous one */
		if (now_state != p->state) {
			p->state = now_state;
			p->since_ms = info.ts_ms;
			g->devs[e->dev].state_dirty = true;
		}
		p->last_seq = info.seq;
		if (pstate_fill(g, e->dev, e->pt, &ps) < 0)
			log_error("operating mode of '%s.%s' does not fit its stored form; the "
				  "event is stored without the point's state", d->id, cp->name);
		else
			sev.pstate = &ps;
	}
	sev.seq = info.seq;
	sev.event_id = id;
	sev.ts_ms = info.ts_ms;
	sev.cls = event_class_name(e->cls);
	sev.type = e->type;
	sev.state = e->active ? "active" : "cleared";
	sev.cid = e->cid;
	sev.device = d ? d->id : "gateway";
	sev.point = cp ? cp->name : NULL;
	sev.dest = STORE_DEST_MQTT;
	sev.topic = (e->topic_kind && !e->suppressed) ? topic : NULL;
	sev.payload = payload;
	sev.payload_len = len;
	sev.qos = 1;
	sev.retain = false;
	sev.prio = e->prio;
	sev.order_key = key;
	/* events behind held ones wait their turn: the store takes seqs in
	 * order only */
	r = g->n_held ? -EAGAIN : store_commit_event(g->st, &sev, &row_id);
	g->last_seq = info.seq;
	if (r == 0)
		g->store_wrote = true;
	if (r < 0) {
		int hr;

		/* this seq may go out before SQLite has it: the high-water mark
		 * is written first (ahead, in steps, to spare the flash), so a
		 * stop now never lets a later start give it to other bytes */
		if (info.seq > g->seq_hwm) {
			g->seq_hwm = info.seq + HWM_STEP;
			marks_save(g);
		}
		hr = hold_event(g, &sev, e->dev, e->pt);

		if (hr < 0)
			log_error("event %s (%s %s on '%s') could not be stored nor held (%s); "
				  "it is published but not kept",
				  id, sev.cls, sev.state, sev.device, strerror(-hr));
		if (r != -EAGAIN)
			storage_fault_raise(g, r);
	}
	log_info("event %s: %s %s %s%s%s%s", id, sev.cls, e->type ? e->type : "", sev.state,
		 d ? " on '" : "", d ? d->id : "", d ? "'" : "");
	if (!sev.topic) {
		free(payload);
		return 0;
	}
	it.seq = info.seq;
	it.prio = e->prio;
	it.key = outbox_key(g->ob, key);
	it.row_id = row_id;
	it.tag = row_id ? (uint64_t)row_id : TAG_MEM | info.seq;
	if (!row_id) {
		it.topic = strdup(topic);
		it.payload = payload;
		it.len = len;
		payload = NULL;
	}
	free(payload);
	if (it.key < 0 || (!row_id && !it.topic) || outbox_add(g->ob, &it) < 0) {
		/* still in SQLite (or held): it goes out after the next restart */
		log_error("out of memory queueing event %s for publishing", id);
		free(it.topic);
		free(it.payload);
		return -ENOMEM;
	}
	if (e->cls == EVCLASS_ALARM && e->active)
		ack_track(g, id);
	if (e->prio == STORE_PRIO_ALARM && g->link == LINK_DOWN)
		link_kick(g);
	return 0;
}

static int prio_of(enum event_class cls, bool active)
{
	if (!active)
		return STORE_PRIO_OTHER;
	switch (cls) {
	case EVCLASS_ALARM:
		return STORE_PRIO_ALARM;
	case EVCLASS_PREALARM:
		return STORE_PRIO_PREALARM;
	case EVCLASS_FAULT:
		return STORE_PRIO_FAULT;
	default:
		return STORE_PRIO_OTHER;
	}
}

/* Test mode and disablement events (SPEC §3 codes 1607/3607 test mode,
 * 1611/1612 tested / not tested, 1571/3571 disabled). pt < 0: the device. */
static void emit_mode_event(struct gw *g, int dev, int pt, const char *type, bool active,
			    int code, const char *by, const char *note)
{
	struct emit e = { 0 };
	char cid[5];

	snprintf(cid, sizeof(cid), "%c%03d", active ? '1' : '3', code);
	e.cls = code == 571 ? EVCLASS_FAULT : EVCLASS_TEST;
	e.type = type;
	e.active = active;
	e.cid = cid;
	e.dev = dev;
	e.pt = pt;
	e.causes = CAUSE_MANUAL;
	e.threshold = NAN;
	e.by = by && by[0] ? by : NULL;
	e.note = note;
	e.prio = code == 571 && active ? STORE_PRIO_FAULT : STORE_PRIO_OTHER;
	e.topic_kind = code == 571 ? "fault" : "test";
	gw_emit(g, &e);
}

static void emit_point_event(struct gw *g, int dev, int pt, const struct detect_event *de,
			     const char *by)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	const struct cfg_point *cp = &d->points[pt];
	struct point_rt *p = &g->devs[dev].points[pt];
	struct emit e = { 0 };
	char cid[5];

	e.cls = de->cls;
	e.type = event_type_point(de->cls, de->cond, cp->kind);
	e.active = de->active;
	e.cid = event_cid_point(de->cls, de->cond, cp->kind, de->active, cid);
	e.dev = dev;
	e.pt = pt;
	e.causes = de->causes;
	e.has_value = de->has_value;
	e.value = de->value;
	e.unit = (cp->value >= 0) ? d->profile->values[cp->value].unit : NULL;
	e.threshold = de->threshold;
	e.by = by;
	e.prio = prio_of(de->cls, de->active);
	e.suppressed = de->suppressed;
	e.topic_kind = de->cls == EVCLASS_FAULT ? "fault" : "alarm";
	if (p->mode.disabled) {
		/* still polled and stored, not published (SPEC §4) */
		e.topic_kind = NULL;
	} else if (in_test(p) && de->cls != EVCLASS_FAULT) {
		/* a point in test: its fire and pre-alarm events go to test/,
		 * never to alarm/; faults stay real */
		e.cls = EVCLASS_TEST;
		e.topic_kind = "test";
		e.prio = STORE_PRIO_OTHER;
	}
	gw_emit(g, &e);
	if (e.cls == EVCLASS_TEST && de->cls == EVCLASS_ALARM && de->active && !p->mode.tested) {
		p->mode.tested = true;
		emit_mode_event(g, dev, pt, "point_tested", true, 611, by, NULL);
	}
}

static void emit_gateway_event(struct gw *g, enum gw_event ge, bool active, int64_t ts_ms,
			       const char *note)
{
	struct emit e = { 0 };
	char cid[5];

	e.cls = EVCLASS_FAULT;
	e.type = gw_event_type(ge);
	e.active = active;
	e.cid = event_cid_gateway(ge, active, cid);
	e.dev = -1;
	e.pt = -1;
	e.threshold = NAN;
	e.note = note;
	e.prio = active ? STORE_PRIO_FAULT : STORE_PRIO_OTHER;
	e.topic_kind = "fault";
	e.ts_ms = ts_ms;
	gw_emit(g, &e);
}

/* ------------------------------------------------------- gateway faults */

/* Writes the seq high-water mark and the open gateway faults to the marks
 * file. A failure is logged once; events still go out (an alarm is never
 * held back for the sake of bookkeeping). */
static void marks_save(struct gw *g)
{
	struct marks_data d = { .seq_hwm = g->seq_hwm,
				.gw_faults = g->gw_faults,
				.uplink_lost_ms = g->uplink_lost_ms };
	int r;

	if (!g->marks || !g->st)
		return;
	util_strlcpy(d.epoch, store_epoch(g->st), sizeof(d.epoch));
	r = marks_put(g->marks, &d);
	if (r < 0 && !g->marks_logged)
		log_error("cannot write the marks file of '%s': %s; a restart may raise open "
			  "gateway faults again", g->cfg->storage.path, strerror(-r));
	g->marks_logged = r < 0;
}

static bool gw_fault_open(const struct gw *g, enum gw_event e)
{
	return g->gw_faults & (1u << e);
}

/* Raises (active) or restores a gateway fault: one event per change,
 * whatever the number of restarts in between, since the open set is kept in
 * the marks file and restored at start-up. */
static void gw_fault_set(struct gw *g, enum gw_event e, bool active, int64_t ts_ms,
			 const char *note)
{
	if (gw_fault_open(g, e) == active)
		return;
	if (active)
		g->gw_faults |= 1u << e;
	else
		g->gw_faults &= ~(1u << e);
	marks_save(g);
	emit_gateway_event(g, e, active, ts_ms, note);
}

/* A new database (new epoch) replaced a corrupt one: its fault is raised
 * in the new epoch's stream even if the old epoch's was still open. */
static void db_replaced(struct gw *g, const char *note)
{
	g->gw_faults &= ~(1u << GWEV_STORAGE_FAULT);
	g->seq_hwm = 0;
	g->store_wrote = false;
	gw_fault_set(g, GWEV_STORAGE_FAULT, true, 0, note);
}

/* ------------------------------------------------------- storage health */

static void storage_fault_raise(struct gw *g, int err)
{
	char note[400];

	g->store_wrote = false;
	if (gw_fault_open(g, GWEV_STORAGE_FAULT))
		return;
	snprintf(note, sizeof(note), "database '%s': %s; events are kept in memory and published",
		 g->cfg->storage.path, strerror(-err));
	log_error("%s", note);
	/* the fault's own event may be held: the bit is set first */
	gw_fault_set(g, GWEV_STORAGE_FAULT, true, 0, note);
}

/* Writes held events in seq order while the store takes them. */
static void held_flush(struct gw *g)
{
	size_t done = 0;

	while (done < g->n_held) {
		struct held *h = &g->held[done];
		struct store_event sev = {
			.seq = h->seq,
			.event_id = h->event_id,
			.ts_ms = h->ts_ms,
			.cls = h->cls,
			.type = h->type,
			.state = h->state,
			.cid = h->cid,
			.device = h->device,
			.point = h->point,
			.dest = STORE_DEST_MQTT,
			.topic = h->delivered ? NULL : h->topic,
			.payload = h->payload,
			.payload_len = h->len,
			.qos = 1,
			.prio = h->prio,
			.order_key = h->order_key,
		};
		struct store_point_state ps;
		int64_t row_id = 0;

		if (h->dev >= 0 && pstate_fill(g, h->dev, h->pt, &ps) == 0)
			sev.pstate = &ps;

		if (store_commit_event(g->st, &sev, &row_id) < 0)
			break;
		g->store_wrote = true;
		if (row_id)
			outbox_set_row(g->ob, h->seq, row_id);
		held_clear(h);
		done++;
	}
	if (done) {
		memmove(g->held, g->held + done, (g->n_held - done) * sizeof(*g->held));
		g->n_held -= done;
		log_notice("%zu held event(s) written to the database, %zu still held", done,
			   g->n_held);
	}
}

/* Every minute: size (1623 at 90 %), pruning from 80 %, and the end of a
 * storage fault once the store takes writes and nothing is held. */
static void storage_check(struct gw *g, uint64_t now)
{
	int pct = 0;

	if (g->n_held && now >= g->next_held_retry) {
		held_flush(g);
		if (g->n_held)
			store_prune(g->st, g->cfg->storage.readings_days,
				    g->cfg->storage.records_days, g->time_synced, util_wall_ms());
		g->next_held_retry = now + 1000;
	}
	if (now < g->next_size_check)
		return;
	g->next_size_check = now + SIZE_CHECK_MS;
	if (store_size_percent(g->st, &pct) == 0) {
		if (pct >= 80 || now >= g->next_prune) {
			store_prune(g->st, g->cfg->storage.readings_days,
				    g->cfg->storage.records_days, g->time_synced, util_wall_ms());
			g->next_prune = now + PRUNE_MS;
			store_size_percent(g->st, &pct);
		}
		if (pct >= 90 && !gw_fault_open(g, GWEV_STORAGE_FULL)) {
			char note[128];

			snprintf(note, sizeof(note), "database at %d %% of storage.max_mb (%d MB)", pct,
				 g->cfg->storage.max_mb);
			log_warning("%s", note);
			gw_fault_set(g, GWEV_STORAGE_FULL, true, 0, note);
		} else if (pct < 85) {
			gw_fault_set(g, GWEV_STORAGE_FULL, false, 0, NULL);
		}
	}
	/* over once nothing is held and the database took a write since the
	 * fault (after a restart too: the fault was restored open) */
	if (gw_fault_open(g, GWEV_STORAGE_FAULT) && g->n_held == 0 &&
	    (g->store_wrote || store_probe(g->st) == 0)) {
		log_notice("database '%s' healthy again", g->cfg->storage.path);
		gw_fault_set(g, GWEV_STORAGE_FAULT, false, 0, NULL);
	}
}

/* -------------------------------------------------- center acknowledgement */

static void ack_track(struct gw *g, const char *event_id)
{
	if (g->cfg->mqtt.ack_timeout_s <= 0)
		return;
	if (g->n_acks == ACKS_MAX) {
		/* the oldest is overdue long since: its fault is already raised */
		memmove(g->acks, g->acks + 1, (ACKS_MAX - 1) * sizeof(g->acks[0]));
		g->n_acks--;
	}
	util_strlcpy(g->acks[g->n_acks].event_id, event_id, sizeof(g->acks[0].event_id));
	g->acks[g->n_acks].deadline = util_mono_ms() + (uint64_t)g->cfg->mqtt.ack_timeout_s * 1000u;
	g->n_acks++;
}

static void ack_check(struct gw *g, uint64_t now)
{
	size_t i;

	for (i = 0; i < g->n_acks; i++)
		if (now >= g->acks[i].deadline && !gw_fault_open(g, GWEV_ACK_TIMEOUT)) {
			char note[256];

			snprintf(note, sizeof(note), "alarm %s not acknowledged within %d s",
				 g->acks[i].event_id, g->cfg->mqtt.ack_timeout_s);
			log_warning("%s", note);
			gw_fault_set(g, GWEV_ACK_TIMEOUT, true, 0, note);
		}
}

/* {"event_id": "...", "by": "..."} on <p>/<site>/ack */
static void handle_ack(struct gw *g, const struct publish_note *n)
{
	json_error_t jerr;
	json_t *o = json_loadb(n->payload, n->len, 0, &jerr);
	const char *eid = json_string_value(json_object_get(o, "event_id"));
	const char *by = json_string_value(json_object_get(o, "by"));
	size_t i;
	int r;

	if (!o || !eid || !by || !by[0]) {
		log_warning("acknowledgement on '%s' ignored: %s; expected {\"event_id\": \"...\", "
			    "\"by\": \"...\"}",
			    n->topic, !o ? jerr.text : !eid ? "no \"event_id\" string" : "no \"by\" string");
		json_decref(o);
		return;
	}
	r = store_event_ack(g->st, eid, by, util_wall_ms());
	if (r == -ENOENT)
		log_warning("acknowledgement of unknown event '%s' by '%s' ignored", eid, by);
	else if (r == 0)
		log_info("event %s acknowledged by '%s'", eid, by);
	for (i = 0; i < g->n_acks; i++)
		if (strcmp(g->acks[i].event_id, eid) == 0) {
			g->acks[i] = g->acks[--g->n_acks];
			break;
		}
	if (gw_fault_open(g, GWEV_ACK_TIMEOUT)) {
		uint64_t now = util_mono_ms();
		bool overdue = false;

		for (i = 0; i < g->n_acks; i++)
			overdue |= now >= g->acks[i].deadline;
		/* after a restart the alarms waiting were not kept: the first
		 * acknowledgement shows the center answers again */
		if (!overdue)
			gw_fault_set(g, GWEV_ACK_TIMEOUT, false, 0, NULL);
	}
	json_decref(o);
}

/* ---------------------------------------------------------------- clock */

/* A wall-clock step (SPEC §5): timers are monotonic and do not care, but
 * timestamps around it are not comparable, so the center is told (1626);
 * the restore follows once the clock is synchronised and steady a minute. */
static void clock_check(struct gw *g, uint64_t now)
{
	int64_t offset = util_wall_ms() - (int64_t)now;
	int64_t delta = offset - g->clock_offset;
	bool synced = clock_is_synced();

	if (synced != g->time_synced) {
		g->time_synced = synced;
		g->status_dirty = true;
		log_notice("system clock %s", synced ? "synchronised" : "no longer synchronised");
	}
	if (delta > CLOCK_STEP_MS || delta < -CLOCK_STEP_MS) {
		char note[96];

		snprintf(note, sizeof(note), "wall clock stepped by %+.3f s", (double)delta / 1000.0);
		log_warning("%s", note);
		g->clock_offset = offset;
		g->clock_step_mono = now;
		gw_fault_set(g, GWEV_CLOCK, true, 0, note);
		return;
	}
	/* follow slow slewing, so only jumps count */
	g->clock_offset += delta / 8;
	if (synced && now - g->clock_step_mono >= 60000)
		gw_fault_set(g, GWEV_CLOCK, false, 0, NULL);
}

/* ---------------------------------------------------------- point state */

/* Detection's state with the operating mode laid over it: a disabled
 * point is "disabled"; a point in test is "test" unless it has a fault. */
static enum point_state point_state_now(const struct point_rt *p)
{
	return point_state_derive(detect_point_state(&p->det), &p->mode);
}

static void device_update_state(struct gw *g, int dev)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	struct device_rt *rt = &g->devs[dev];
	enum point_state worst = PSTATE_NORMAL;
	size_t i;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = &rt->points[i];
		enum point_state s = point_state_now(p);

		if (s != p->state) {
			p->state = s;
			p->since_ms = util_wall_ms();
			rt->state_dirty = true;
		}
		worst = point_state_worst(worst, s);
	}
	if (worst != rt->state) {
		rt->state = worst;
		rt->state_dirty = true;
	}
}

static const char *quality_of(const struct gw *g, int dev, int vi, uint64_t now)
{
	const struct value_rt *v = &g->devs[dev].values[vi];
	uint64_t stale_after = (uint64_t)g->cfg->devices[dev].poll_ms * 2u;

	if (!v->good_mono || now - v->good_mono > stale_after)
		return v->good_mono && !v->last_ok ? "bad" : "stale";
	return v->last_ok ? "good" : "bad";
}

static json_t *conditions_json(uint32_t conds)
{
	json_t *a = json_array();
	uint32_t bit;

	for (bit = 1; bit && bit <= COND_CHATTERING; bit <<= 1)
		if (conds & bit)
			json_array_append_new(a, json_string(cond_name(bit)));
	return a;
}

static json_t *value_json(const struct gw *g, int dev, int vi, uint64_t now)
{
	const struct profile_value *pv = &g->cfg->devices[dev].profile->values[vi];
	const struct value_rt *v = &g->devs[dev].values[vi];
	char ts[UTIL_TS_LEN];
	json_t *o = json_object();

	if (v->good_mono)
		json_object_set_new(o, "value", json_real(round(v->r.value * 1e6) / 1e6));
	else
		json_object_set_new(o, "value", json_null());
	json_object_set_new(o, "unit", json_string(pv->unit));
	json_object_set_new(o, "quality", json_string(quality_of(g, dev, vi, now)));
	if (v->good_mono)
		json_object_set_new(o, "ts", json_string(util_rfc3339(v->ts_ms, ts)));
	return o;
}

static char *device_state_payload(const struct gw *g, int dev, size_t *ret_len)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	const struct device_rt *rt = &g->devs[dev];
	uint64_t now = util_mono_ms();
	char ts[UTIL_TS_LEN];
	json_t *o = json_object(), *pts = json_object(), *vals = json_object();
	size_t i;

	json_object_set_new(o, "schema", json_string(STATE_SCHEMA));
	json_object_set_new(o, "site", json_string(g->cfg->site.id));
	json_object_set_new(o, "device", json_string(d->id));
	json_object_set_new(o, "state", json_string(point_state_name(rt->state)));
	json_object_set_new(o, "profile", json_string(d->profile_name));
	json_object_set_new(o, "bus", json_string(g->cfg->buses[d->bus].id));
	json_object_set_new(o, "unit", json_integer(d->unit));
	if (d->zone[0])
		json_object_set_new(o, "zone", json_string(d->zone));
	if (d->location[0])
		json_object_set_new(o, "location", json_string(d->location));
	for (i = 0; i < d->n_points; i++) {
		const struct cfg_point *cp = &d->points[i];
		const struct point_rt *p = &rt->points[i];
		json_t *po = json_object();

		json_object_set_new(po, "state", json_string(point_state_name(p->state)));
		/* "conditions" lists what holds now: a latched alarm whose fire
		 * condition went away shows as latched, not as a condition */
		json_object_set_new(po, "conditions",
				    conditions_json(p->det.conditions &
						    ~(p->det.latched ? (uint32_t)COND_ALARM : 0u)));
		json_object_set_new(po, "latched", json_boolean(p->det.latched));
		json_object_set_new(po, "since", json_string(util_rfc3339(p->since_ms, ts)));
		if (cp->zone[0])
			json_object_set_new(po, "zone", json_string(cp->zone));
		if (cp->zone_no)
			json_object_set_new(po, "zone_no", json_integer(cp->zone_no));
		if (cp->location[0])
			json_object_set_new(po, "location", json_string(cp->location));
		if (cp->value >= 0)
			json_object_set_new(po, "value", value_json(g, dev, cp->value, now));
		if (in_test(p))
			json_object_set_new(po, "test_until",
					    json_string(util_rfc3339(p->mode.test_until_ms, ts)));
		if (p->mode.disabled)
			json_object_set_new(po, "disabled",
					    json_pack("{s:s, s:s, s:s}", "reason", p->mode.reason,
						      "by", p->mode.by, "since",
						      util_rfc3339(p->mode.dis_since_ms, ts)));
		json_object_set_new(pts, cp->name, po);
	}
	json_object_set_new(o, "points", pts);
	for (i = 0; i < d->profile->n_values; i++)
		json_object_set_new(vals, d->profile->values[i].name, value_json(g, dev, (int)i, now));
	json_object_set_new(o, "values", vals);
	json_object_set_new(o, "ts", json_string(util_rfc3339(util_wall_ms(), ts)));
	json_object_set_new(o, "time_synced", json_boolean(g->time_synced));
	return event_dump(o, ret_len);
}

static json_t *status_json(struct gw *g, const char *state, const char *reason)
{
	int64_t ev = 0, tel = 0, oldest = 0, now = util_wall_ms();
	int counts[PSTATE_MAX] = { 0 };
	char ts[UTIL_TS_LEN];
	json_t *o = json_object(), *pts, *backlog;
	size_t i, j, total = 0;

	json_object_set_new(o, "schema", json_string(STATUS_SCHEMA));
	json_object_set_new(o, "site", json_string(g->cfg->site.id));
	json_object_set_new(o, "facility_id", json_string(g->cfg->site.facility_id));
	json_object_set_new(o, "state", json_string(state));
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	json_object_set_new(o, "version", json_string(FIREGW_VERSION));
	json_object_set_new(o, "epoch", json_string(store_epoch(g->st)));
	json_object_set_new(o, "started", json_string(util_rfc3339(g->started_ms, ts)));
	json_object_set_new(o, "ts", json_string(util_rfc3339(now, ts)));
	json_object_set_new(o, "next_heartbeat_s", json_integer(g->cfg->mqtt.heartbeat_s));
	json_object_set_new(o, "last_seq", json_integer((json_int_t)g->last_seq));
	store_outbox_stats(g->st, &ev, &tel, &oldest);
	backlog = json_object();
	json_object_set_new(backlog, "events", json_integer(ev + (int64_t)g->n_held));
	json_object_set_new(backlog, "telemetry", json_integer(tel));
	json_object_set_new(o, "backlog", backlog);
	json_object_set_new(o, "oldest_unsent_s",
			    json_integer(oldest && now > oldest ? (now - oldest) / 1000 : 0));
	for (i = 0; i < g->cfg->n_devices; i++)
		for (j = 0; j < g->cfg->devices[i].n_points; j++) {
			counts[g->devs[i].points[j].state]++;
			total++;
		}
	pts = json_object();
	json_object_set_new(pts, "total", json_integer((json_int_t)total));
	for (i = 0; i < PSTATE_MAX; i++)
		json_object_set_new(pts, point_state_name((enum point_state)i),
				    json_integer(counts[i]));
	json_object_set_new(o, "points", pts);
	json_object_set_new(o, "time_synced", json_boolean(g->time_synced));
	json_object_set_new(o, "config_sha256", json_string(g->cfg->sha256));
	return o;
}

static char *status_payload(struct gw *g, const char *state, const char *reason, size_t *ret_len)
{
	return event_dump(status_json(g, state, reason), ret_len);
}

/* ------------------------------------------------------------ uplink */

static void link_kick(struct gw *g)
{
	g->next_connect_mono = util_mono_ms();
}

static void link_schedule_retry(struct gw *g)
{
	int max_ms = g->cfg->mqtt.reconnect_max_s * 1000;
	uint32_t rnd = 0;
	int delay;

	g->backoff_ms = g->backoff_ms ? g->backoff_ms * 2 : 500;
	if (g->backoff_ms > max_ms)
		g->backoff_ms = max_ms;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)util_mono_ms();
	/* full jitter over the upper half: many gateways restarting after a
	 * broker outage must not reconnect in lock-step */
	delay = g->backoff_ms / 2 + (int)(rnd % (uint32_t)(g->backoff_ms / 2 + 1));
	g->next_connect_mono = util_mono_ms() + (uint64_t)delay;
}

static void link_lost(struct gw *g, const char *why)
{
	bool was_up = g->link == LINK_UP;

	g->link = LINK_DOWN;
	g->n_inflight = 0;
	outbox_requeue_all(g->ob);
	for (size_t i = 0; i < g->n_removed; i++)
		g->removed[i].tag = 0;
	g->tel_cursor = 0;
	g->tel_waiting = true;
	g->resync = false;
	if (was_up) {
		log_warning("uplink to '%s' lost: %s", g->cfg->mqtt.uri, why);
		g->backoff_ms = 0;
	}
	if (!gw_fault_open(g, GWEV_UPLINK_LOST)) {
		g->uplink_lost_ms = util_wall_ms();
		gw_fault_set(g, GWEV_UPLINK_LOST, true, g->uplink_lost_ms, why);
	}
	link_schedule_retry(g);
}

static int inflight_add(struct gw *g, uint64_t tag, int64_t row_id)
{
	if (g->n_inflight >= INFLIGHT_MAX)
		return -EAGAIN;
	g->inflight[g->n_inflight++] =
		(struct inflight){ .tag = tag, .sent_mono = util_mono_ms(), .row_id = row_id };
	return 0;
}

static bool inflight_take(struct gw *g, uint64_t tag, struct inflight *ret)
{
	size_t i;

	for (i = 0; i < g->n_inflight; i++)
		if (g->inflight[i].tag == tag) {
			*ret = g->inflight[i];
			g->inflight[i] = g->inflight[--g->n_inflight];
			return true;
		}
	return false;
}

static void delete_row(struct gw *g, int64_t row_id)
{
	if (row_id <= 0)
		return;
	if (g->n_del == 0)
		g->del_due = util_mono_ms() + DELETE_BATCH_MS;
	g->del_ids[g->n_del++] = row_id;
	if (g->n_del == DELETE_BATCH_MAX) {
		store_outbox_delete(g->st, g->del_ids, g->n_del);
		g->n_del = 0;
	}
}

static void delete_flush(struct gw *g)
{
	if (g->n_del) {
		store_outbox_delete(g->st, g->del_ids, g->n_del);
		g->n_del = 0;
	}
}

static int send_retained(struct gw *g, const char *topic, char *payload, size_t len)
{
	uint64_t tag = TAG_RETAINED | ++g->retained_tag;
	int r;

	if (!payload)
		return -ENOMEM;
	r = publish_send(g->pub, topic, payload, len, 1, true, tag, NULL, 0);
	free(payload);
	if (r == 0)
		inflight_add(g, tag, 0);
	return r;
}

static int send_status(struct gw *g)
{
	char topic[400];
	size_t len;

	char *payload;

	topic_of(g, topic, sizeof(topic), "status", NULL);
	payload = status_payload(g, "online", NULL, &len);
	return send_retained(g, topic, payload, len);
}

static int send_device_state(struct gw *g, int dev)
{
	char topic[400];
	size_t len;
	int r;

	char *payload;

	topic_of(g, topic, sizeof(topic), "state", g->cfg->devices[dev].id);
	payload = device_state_payload(g, dev, &len);
	r = send_retained(g, topic, payload, len);
	if (r == 0)
		g->devs[dev].state_dirty = false;
	return r;
}

static int send_event(struct gw *g)
{
	const struct outbox_item *it = outbox_next(g->ob);
	char *topic = NULL;
	void *payload = NULL;
	size_t len = 0;
	uint64_t tag;
	int r;

	if (!it)
		return -ENOENT;
	tag = it->tag;
	if (it->row_id) {
		r = store_outbox_get(g->st, it->row_id, &topic, &payload, &len);
		if (r == -ENOENT) {
			/* the row is gone (pruned by hand, a database replaced):
			 * nothing left to send for this entry */
			log_error("outbox row %" PRId64 " (event seq %" PRIu64 ") vanished; skipping it",
				  it->row_id, it->seq);
			outbox_acked(g->ob, tag, NULL, NULL);
			return 0;
		}
		if (r < 0) {
			outbox_unsend(g->ob, tag);
			g->send_retry_mono = util_mono_ms() + 1000;
			return r;
		}
		r = publish_send(g->pub, topic, payload, len, 1, false, tag, NULL, 0);
		free(topic);
		free(payload);
	} else {
		r = publish_send(g->pub, it->topic, it->payload, it->len, 1, false, tag, NULL, 0);
	}
	if (r < 0) {
		outbox_unsend(g->ob, tag);
		return r;
	}
	inflight_add(g, tag, 0);
	return 0;
}

struct tel_pick {
	int64_t id;
	int qos;
};

static int tel_pick_cb(void *ud, const struct store_outbox_row *row)
{
	struct tel_pick *p = ud;

	p->id = row->id;
	p->qos = row->qos;
	return 1;
}

static int send_telemetry(struct gw *g)
{
	struct tel_pick pick = { 0 };
	uint64_t now = util_mono_ms();
	char *topic = NULL;
	void *payload = NULL;
	size_t len;
	int r;

	/* token bucket: backfill never floods the window */
	g->tel_tokens += (double)(now - g->tel_tokens_mono) * TELEMETRY_BACKFILL_PER_S / 1000.0;
	g->tel_tokens_mono = now;
	if (g->tel_tokens > TELEMETRY_BACKFILL_PER_S)
		g->tel_tokens = TELEMETRY_BACKFILL_PER_S;
	if (g->tel_tokens < 1.0)
		return -ENOENT; /* nothing may go now; not an error to pause for */
	if (!g->tel_waiting)
		return -ENOENT;
	store_outbox_foreach(g->st, STORE_PRIO_TELEMETRY, STORE_PRIO_TELEMETRY, g->tel_cursor, 1,
			     tel_pick_cb, &pick);
	if (!pick.id) {
		/* none left after the cursor: no query per wake-up until a new
		 * batch is made or the link comes back */
		g->tel_waiting = false;
		return -ENOENT;
	}
	r = store_outbox_get(g->st, pick.id, &topic, &payload, &len);
	if (r < 0)
		return r;
	r = publish_send(g->pub, topic, payload, len, pick.qos, false, TAG_TELEMETRY | (uint64_t)pick.id,
			 NULL, 0);
	free(topic);
	free(payload);
	if (r < 0)
		return r;
	g->tel_cursor = pick.id;
	g->tel_tokens -= 1.0;
	inflight_add(g, TAG_TELEMETRY | (uint64_t)pick.id, pick.id);
	return 0;
}

/* Sends what may go now, in SPEC §5 order, within the in-flight window. */
/* An empty retained message clears a removed device's state at the broker. */
static int send_removed(struct gw *g)
{
	char topic[400];
	size_t i;
	int r;

	for (i = 0; i < g->n_removed; i++) {
		struct removed_dev *rd = &g->removed[i];
		uint64_t tag;

		if (rd->cleared || rd->tag)
			continue;
		tag = TAG_RETAINED | ++g->retained_tag;
		topic_of(g, topic, sizeof(topic), "state", rd->id);
		r = publish_send(g->pub, topic, "", 0, 1, true, tag, NULL, 0);
		if (r < 0)
			return r;
		rd->tag = tag;
		inflight_add(g, tag, 0);
		return 0;
	}
	return -ENOENT;
}

static void pump(struct gw *g)
{
	size_t window = (size_t)g->cfg->mqtt.inflight;

	/* after a refused send (client window full) or an unreadable row:
	 * a short pause, never a spin */
	if (util_mono_ms() < g->send_retry_mono)
		return;
	while (g->link == LINK_UP && g->n_inflight < window) {
		int r = -ENOENT;

		if (g->status_dirty) {
			r = send_status(g);
			if (r == 0)
				g->status_dirty = false;
		} else if (g->resync) {
			while (g->resync_next < g->cfg->n_devices && r == -ENOENT) {
				r = send_device_state(g, (int)g->resync_next);
				if (r == 0)
					g->resync_next++;
			}
			if (g->resync_next >= g->cfg->n_devices && r == -ENOENT)
				r = send_removed(g);
			if (g->resync_next >= g->cfg->n_devices && r == -ENOENT) {
				g->resync = false;
				continue;
			}
		} else {
			size_t i;

			r = send_event(g);
			for (i = 0; r == -ENOENT && i < g->cfg->n_devices; i++)
				if (g->devs[i].state_dirty)
					r = send_device_state(g, (int)i);
			/* telemetry never takes more than half the window: a
			 * new alarm always finds a slot free */
			if (r == -ENOENT && g->n_inflight < (window + 1) / 2)
				r = send_telemetry(g);
		}
		if (r < 0) {
			if (r != -ENOENT && g->send_retry_mono < util_mono_ms() + 50)
				g->send_retry_mono = util_mono_ms() + 50;
			break;
		}
	}
}

static void held_delivered(struct gw *g, uint64_t seq)
{
	size_t i;

	for (i = 0; i < g->n_held; i++)
		if (g->held[i].seq == seq)
			g->held[i].delivered = true;
}

static void removed_delivered(struct gw *g, uint64_t tag)
{
	size_t i;

	for (i = 0; i < g->n_removed; i++)
		if (g->removed[i].tag == tag) {
			g->removed[i].tag = 0;
			g->removed[i].cleared = true;
			store_point_state_delete_device(g->st, g->removed[i].id);
			log_notice("retained state of removed device '%s' cleared", g->removed[i].id);
		}
}

static void handle_delivered(struct gw *g, uint64_t tag)
{
	struct inflight f;
	int64_t row_id = 0;
	uint64_t seq = 0;

	if (!inflight_take(g, tag, &f))
		return; /* a delivery for a connection that is gone */
	if (tag & TAG_RETAINED) {
		removed_delivered(g, tag);
		return;
	}
	if (tag & TAG_TELEMETRY) {
		delete_row(g, f.row_id);
		return;
	}
	if (outbox_acked(g->ob, tag, &row_id, &seq) < 0)
		return;
	if (row_id)
		delete_row(g, row_id);
	else
		held_delivered(g, seq);
}

static void handle_message(struct gw *g, const struct publish_note *n);

static void handle_note(struct gw *g, struct publish_note *n)
{
	switch (n->kind) {
	case PNOTE_CONNECTED:
		log_notice("uplink to '%s' up", g->cfg->mqtt.uri);
		g->link = LINK_UP;
		g->backoff_ms = 0;
		g->n_inflight = 0;
		g->status_dirty = true;
		g->resync = true;
		g->resync_next = 0;
		g->tel_cursor = 0;
		g->tel_waiting = true;
		gw_fault_set(g, GWEV_UPLINK_LOST, false, 0, NULL);
		break;
	case PNOTE_CONNECT_FAILED:
		if (g->link == LINK_CONNECTING)
			log_warning("failed to connect to '%s': %s", g->cfg->mqtt.uri, n->text);
		link_lost(g, n->text[0] ? n->text : "connect failed");
		break;
	case PNOTE_CONNECTION_LOST:
		link_lost(g, n->text[0] ? n->text : "connection lost");
		break;
	case PNOTE_DELIVERED:
		handle_delivered(g, n->tag);
		break;
	case PNOTE_SEND_FAILED:
		/* only happens when the connection is going down: resend all
		 * in order after the reconnect rather than one out of order */
		if (g->link == LINK_UP) {
			log_warning("a publish to '%s' failed (%s); reconnecting", g->cfg->mqtt.uri,
				    n->text);
			publish_abort(g->pub);
		}
		break;
	case PNOTE_MESSAGE:
		handle_message(g, n);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ requests */

/* Sends an answer: to the MQTT 5 Response Topic with its Correlation Data
 * when the request had one, else to <p>/<site>/response/<id>. Answers are
 * not events: not stored, and a lost one is asked again by the center. */
static void respond(struct gw *g, const struct publish_note *n, const char *id, json_t *resp)
{
	char topic[400], *payload;
	size_t len;
	uint64_t tag = TAG_RETAINED | ++g->retained_tag;
	int r;

	/* a Response Topic reaches here only when response_topic_ok() */
	if (n->response_topic)
		util_strlcpy(topic, n->response_topic, sizeof(topic));
	else
		snprintf(topic, sizeof(topic), "%s/response/%s", g->topic_root, id);
	payload = event_dump(resp, &len);
	if (!payload)
		return;
	r = publish_send(g->pub, topic, payload, len, 1, false, tag, n->correlation,
			 n->correlation_len);
	if (r == 0)
		inflight_add(g, tag, 0);
	else
		log_warning("cannot send the answer to request '%s': %s", id, strerror(-r));
	free(payload);
}

static json_t *error_json(const char *id, const char *code, const char *msg)
{
	return json_pack("{s:s?, s:b, s:{s:s, s:s}}", "id", id, "ok", 0, "error", "code", code,
			 "message", msg);
}

struct history_acc {
	json_t *arr;
	size_t n, limit;
	uint64_t last_seq;
	bool more;
};

static int history_cb(void *ud, const struct store_event_row *row)
{
	struct history_acc *h = ud;
	json_t *ev;

	if (h->n == h->limit) {
		h->more = true;
		return 1;
	}
	ev = json_loadb(row->payload, row->payload_len, 0, NULL);
	if (ev)
		json_array_append_new(h->arr, ev);
	h->n++;
	h->last_seq = row->seq;
	return 0;
}

static json_t *request_history(struct gw *g, const char *id, json_t *req)
{
	struct store_query q = { 0 };
	struct history_acc h = { 0 };
	const char *classes[EVCLASS_MAX];
	json_t *from = json_object_get(req, "from"), *to = json_object_get(req, "to");
	json_t *cls = json_object_get(req, "class"), *lim = json_object_get(req, "limit");
	json_t *cur = json_object_get(req, "cursor"), *dev = json_object_get(req, "device");
	json_t *resp;
	size_t i;
	long v;

	if ((from && (!json_is_string(from) ||
		      util_parse_rfc3339(json_string_value(from), &q.from_ms) < 0)) ||
	    (to && (!json_is_string(to) || util_parse_rfc3339(json_string_value(to), &q.to_ms) < 0)))
		return error_json(id, "bad_request",
				  "\"from\"/\"to\" must be RFC 3339 times, e.g. 2026-11-28T02:11:46Z");
	if (dev && !json_is_string(dev))
		return error_json(id, "bad_request", "\"device\" must be a device id");
	q.device = json_string_value(dev);
	if (cls) {
		if (!json_is_array(cls) || json_array_size(cls) > EVCLASS_MAX)
			return error_json(id, "bad_request",
					  "\"class\" must be a list of alarm, prealarm, fault, test, record, system");
		for (i = 0; i < json_array_size(cls); i++) {
			classes[i] = json_string_value(json_array_get(cls, i));
			if (!classes[i])
				return error_json(id, "bad_request", "\"class\" entries must be strings");
		}
		q.classes = classes;
		q.n_classes = json_array_size(cls);
	}
	h.limit = 500;
	if (lim) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		    json_integer_value(lim) > 1000)
			return error_json(id, "bad_request", "\"limit\" must be 1..1000");
		h.limit = (size_t)json_integer_value(lim);
	}
	if (cur) {
		if (!json_is_string(cur) ||
		    util_parse_long(json_string_value(cur), 0, LONG_MAX, &v) < 0)
			return error_json(id, "bad_request", "\"cursor\" must be the \"next\" of an answer");
		q.after_seq = (uint64_t)v;
	}
	q.limit = h.limit + 1;
	h.arr = json_array();
	if (store_events_query(g->st, &q, history_cb, &h) < 0) {
		json_decref(h.arr);
		return error_json(id, "unavailable", "the event store cannot be read now; retry");
	}
	resp = json_pack("{s:s, s:b, s:o}", "id", id, "ok", 1, "events", h.arr);
	if (h.more) {
		char next[32];

		snprintf(next, sizeof(next), "%" PRIu64, h.last_seq);
		json_object_set_new(resp, "next", json_string(next));
	}
	return resp;
}

static json_t *request_readings(struct gw *g, const char *id, json_t *req)
{
	const char *dev = json_string_value(json_object_get(req, "device"));
	uint64_t now = util_mono_ms();
	json_t *devs = json_object();
	size_t i, j;

	if (json_object_get(req, "device") && (!dev || config_device_index(g->cfg, dev) < 0)) {
		json_decref(devs);
		return error_json(id, "not_found", "no such device");
	}
	for (i = 0; i < g->cfg->n_devices; i++) {
		const struct cfg_device *d = &g->cfg->devices[i];
		json_t *vals = json_object();

		if (dev && strcmp(dev, d->id) != 0) {
			json_decref(vals);
			continue;
		}
		for (j = 0; j < d->profile->n_values; j++)
			json_object_set_new(vals, d->profile->values[j].name,
					    value_json(g, (int)i, (int)j, now));
		json_object_set_new(devs, d->id, vals);
	}
	return json_pack("{s:s, s:b, s:o}", "id", id, "ok", 1, "devices", devs);
}

static int reset_points(struct gw *g, int dev, int pt, const char *by, int *ret_cleared,
			int *ret_held);
static json_t *mode_op(struct gw *g, const char *op, json_t *req);

static json_t *request_reset(struct gw *g, const char *id, json_t *req)
{
	const char *dev = json_string_value(json_object_get(req, "device"));
	const char *pt = json_string_value(json_object_get(req, "point"));
	const char *by = json_string_value(json_object_get(req, "by"));
	int d, p = -1, cleared = 0, held = 0;

	if (!g->cfg->remote.allow_reset)
		return error_json(id, "forbidden",
				  "remote reset is not allowed on this gateway (remote.allow_reset)");
	if (!dev || !by || !by[0])
		return error_json(id, "bad_request", "reset needs \"device\" and \"by\"");
	d = config_device_index(g->cfg, dev);
	if (d < 0)
		return error_json(id, "not_found", "no such device");
	if (pt) {
		size_t i;

		for (i = 0; i < g->cfg->devices[d].n_points; i++)
			if (strcmp(g->cfg->devices[d].points[i].name, pt) == 0)
				p = (int)i;
		if (p < 0)
			return error_json(id, "not_found", "no such point");
	}
	reset_points(g, d, p, by, &cleared, &held);
	return json_pack("{s:s, s:b, s:i, s:i}", "id", id, "ok", 1, "cleared", cleared,
			 "still_alarm", held);
}

/* SPEC §3: answers go only under <p>/<site>/response/, so that no client
 * allowed to publish a request can make the gateway publish on its own
 * alarm topics (or anyone else's). */
static bool response_topic_ok(const struct gw *g, const char *topic)
{
	size_t root = strlen(g->topic_root);

	return strncmp(topic, g->topic_root, root) == 0 &&
	       strncmp(topic + root, "/response/", 10) == 0 && util_is_plain_id(topic + root + 10);
}

static void handle_request(struct gw *g, const struct publish_note *n)
{
	json_error_t jerr;
	json_t *req = json_loadb(n->payload, n->len, 0, &jerr), *resp;
	const char *id = json_string_value(json_object_get(req, "id"));
	const char *op = json_string_value(json_object_get(req, "op"));

	if (n->response_topic && !response_topic_ok(g, n->response_topic)) {
		struct publish_note plain = *n;
		bool id_ok = id && util_is_plain_id(id);
		unsigned suppressed = 0;

		if (log_ratelimit_ok(&g->bad_response_rl, util_mono_ms(), 10000, &suppressed)) {
			char esc[200];

			util_escape(n->response_topic, strlen(n->response_topic), esc, sizeof(esc));
			log_warning("request refused: its Response Topic '%s' is not under '%s/response/'"
				    "%s (%u more refused since the last line)",
				    esc, g->topic_root, id_ok ? "" : "; no valid id to answer",
				    suppressed);
		}
		/* the refusal goes to response/<id>, never to the topic asked */
		plain.response_topic = NULL;
		plain.correlation = NULL;
		plain.correlation_len = 0;
		if (id_ok)
			respond(g, &plain, id,
				error_json(id, "forbidden",
					   "the Response Topic must be <prefix>/<site>/response/<id>"));
		json_decref(req);
		return;
	}
	if (!id || !util_is_plain_id(id)) {
		/* no valid id: nowhere to answer unless MQTT 5 said where */
		log_warning("request on '%s' ignored: %s", n->topic,
			    !req ? jerr.text : "\"id\" must be a plain id [A-Za-z0-9_-]{1,64}");
		if (n->response_topic)
			respond(g, n, "invalid",
				error_json(NULL, "bad_request",
					   "\"id\" must be a plain id [A-Za-z0-9_-]{1,64}"));
		json_decref(req);
		return;
	}
	if (!op)
		resp = error_json(id, "bad_request", "missing \"op\"");
	else if (strcmp(op, "status") == 0)
		resp = json_pack("{s:s, s:b, s:o}", "id", id, "ok", 1, "status",
				 status_json(g, "online", NULL));
	else if (strcmp(op, "history") == 0)
		resp = request_history(g, id, req);
	else if (strcmp(op, "readings") == 0)
		resp = request_readings(g, id, req);
	else if (strcmp(op, "reset") == 0)
		resp = request_reset(g, id, req);
	else if (strcmp(op, "test") == 0) {
		if (!g->cfg->remote.allow_test) {
			resp = error_json(id, "forbidden",
					  "remote test is not allowed on this gateway (remote.allow_test)");
		} else {
			resp = mode_op(g, op, req);
			json_object_set_new(resp, "id", json_string(id));
		}
	} else if (strcmp(op, "compliance") == 0 || strcmp(op, "report") == 0)
		resp = error_json(id, "unsupported",
				  "this gateway version does not keep compliance records yet");
	else
		resp = error_json(id, "bad_request",
				  "unknown op; one of status, history, readings, reset, test");
	respond(g, n, id, resp);
	json_decref(req);
}

static void handle_message(struct gw *g, const struct publish_note *n)
{
	const char *kind = n->topic + strlen(g->topic_root);

	if (strncmp(n->topic, g->topic_root, strlen(g->topic_root)) != 0)
		return;
	if (strcmp(kind, "/ack") == 0)
		handle_ack(g, n);
	else if (strcmp(kind, "/request") == 0)
		handle_request(g, n);
}

static void link_tick(struct gw *g, uint64_t now)
{
	if (g->link == LINK_DOWN && now >= g->next_connect_mono) {
		int r = publish_connect(g->pub);

		if (r == 0 || r == -EALREADY)
			g->link = LINK_CONNECTING;
		else
			link_schedule_retry(g);
	}
	if (g->link == LINK_UP && g->n_inflight > 0) {
		uint64_t oldest = UINT64_MAX;
		size_t i;

		for (i = 0; i < g->n_inflight; i++)
			if (g->inflight[i].sent_mono < oldest)
				oldest = g->inflight[i].sent_mono;
		if (now - oldest > (uint64_t)g->cfg->mqtt.ack_stall_s * 1000u) {
			log_warning("broker '%s' has not acknowledged a message for %d s; reconnecting",
				    g->cfg->mqtt.uri, g->cfg->mqtt.ack_stall_s);
			publish_abort(g->pub);
			link_lost(g, "acknowledgement stalled");
		}
	}
}

/* ------------------------------------------------------------ polling */

/* A change of what is persisted (a latch taking hold, a second cause) that
 * made no event is saved on its own, so a restart restores it (SPEC §4). */
static void persist_if_changed(struct gw *g, int dev, int pt, const struct detect_state *before)
{
	const struct detect_state *now = &g->devs[dev].points[pt].det;

	if (before->conditions == now->conditions && before->latched == now->latched &&
	    before->alarm_causes == now->alarm_causes &&
	    before->prealarm_causes == now->prealarm_causes &&
	    memcmp(before->fault_causes, now->fault_causes, sizeof(now->fault_causes)) == 0 &&
	    before->known == now->known)
		return;
	/* conditions or latch changed: the retained state says so */
	point_save(g, dev, pt);
}

static void handle_read(struct gw *g, const struct poll_result *res)
{
	const struct cfg_device *d = &g->cfg->devices[res->device];
	struct device_rt *rt = &g->devs[res->device];
	struct value_reading vals[PROFILE_MAX_VALUES];
	bool ok = res->rc == 0;
	size_t i;

	rt->polls = res->polls;
	rt->last_rc = res->rc;
	if (ok) {
		profile_decode(d->profile, &res->raw, vals);
		for (i = 0; i < d->profile->n_values; i++) {
			struct value_rt *v = &rt->values[i];

			v->last_ok = vals[i].ok;
			if (vals[i].ok) {
				v->r = vals[i];
				v->ts_ms = res->wall_ms;
				v->good_mono = res->mono_ms;
			}
		}
	} else {
		for (i = 0; i < d->profile->n_values; i++)
			rt->values[i].last_ok = false;
	}
	for (i = 0; i < d->n_points; i++) {
		const struct cfg_point *cp = &d->points[i];
		struct detect_event evs[DETECT_EVENTS_MAX];
		struct detect_sample s = { .mono_ms = res->mono_ms, .ok = ok };
		struct detect_state before;
		int n, k, f;

		if (ok) {
			for (f = 0; f < FLAG_MAX; f++)
				if (cp->flags[f].value >= 0 &&
				    profile_flag_active(&cp->flags[f], vals))
					s.flags |= 1u << f;
			if (cp->value >= 0 && vals[cp->value].ok) {
				s.has_value = true;
				s.value = vals[cp->value].value;
			}
		}
		before = rt->points[i].det;
		n = detect_step(&cp->rules, &rt->points[i].det, &s, evs, DETECT_EVENTS_MAX);
		for (k = 0; k < n; k++)
			emit_point_event(g, res->device, (int)i, &evs[k], NULL);
		if (n > 0)
			rt->state_dirty = true;
		else
			persist_if_changed(g, res->device, (int)i, &before);
	}
	device_update_state(g, res->device);
}

static void handle_job_result(struct gw *g, const struct poll_result *res);

static void drain_results(struct gw *g)
{
	struct poll_result res;
	int budget = RESULTS_QUEUE_LEN;

	while (budget-- > 0 && queue_pop(g->results, &res)) {
		if (res.kind == POLL_RESULT_READ)
			handle_read(g, &res);
		else
			handle_job_result(g, &res);
	}
}

/* ----------------------------------------------------------- telemetry */

static void telemetry_tick(struct gw *g)
{
	int64_t now_ms = util_wall_ms();
	uint64_t now = util_mono_ms();
	char ts[UTIL_TS_LEN], topic[400];
	json_t *o, *arr;
	size_t i, j, len;
	char *payload;

	o = json_object();
	arr = json_array();
	json_object_set_new(o, "schema", json_string(TELEMETRY_SCHEMA));
	json_object_set_new(o, "site", json_string(g->cfg->site.id));
	json_object_set_new(o, "ts", json_string(util_rfc3339(now_ms, ts)));
	for (i = 0; i < g->cfg->n_devices; i++) {
		const struct cfg_device *d = &g->cfg->devices[i];

		for (j = 0; j < d->profile->n_values; j++) {
			const struct value_rt *v = &g->devs[i].values[j];
			const char *q = quality_of(g, (int)i, (int)j, now);
			struct store_reading sr = {
				.ts_ms = v->good_mono ? v->ts_ms : now_ms,
				.device = d->id,
				.name = d->profile->values[j].name,
				.value = v->good_mono ? v->r.value : NAN,
				.quality = q[0] == 'g' ? 0 : q[0] == 'b' ? 1 : 2,
			};
			json_t *r;

			if (!v->good_mono)
				continue;
			store_readings_add(g->st, &sr);
			r = json_pack("{s:s, s:s, s:f, s:s, s:s}", "device", d->id, "name",
				      d->profile->values[j].name, "value",
				      round(v->r.value * 1e6) / 1e6, "unit",
				      d->profile->values[j].unit, "quality", q);
			if (!r)
				continue;
			json_object_set_new(r, "ts", json_string(util_rfc3339(v->ts_ms, ts)));
			json_array_append_new(arr, r);
		}
		g->devs[i].state_dirty = true; /* values go out with the state at most this often */
	}
	json_object_set_new(o, "readings", arr);
	if (!g->cfg->mqtt.telemetry_s) {
		/* telemetry off: readings are still kept in the database */
		json_decref(o);
		return;
	}
	payload = event_dump(o, &len);
	if (!payload)
		return;
	topic_of(g, topic, sizeof(topic), "telemetry", NULL);
	if (store_outbox_add(g->st, STORE_DEST_MQTT, topic, payload, len,
			     g->cfg->mqtt.telemetry_qos, false, STORE_PRIO_TELEMETRY, "telemetry",
			     NULL) == 0)
		g->tel_waiting = true;
	free(payload);
}

/* -------------------------------------------------------------- control */

static int find_point(const struct cfg_device *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_points; i++)
		if (strcmp(d->points[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Clears the latches of device dev's points (or only point pt >= 0), as
 * `by` asked (SPEC §4): the reset is recorded as an event; a point whose
 * fire condition still holds stays in alarm. */
static int reset_points(struct gw *g, int dev, int pt, const char *by, int *ret_cleared,
			int *ret_held)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	size_t i;

	*ret_cleared = *ret_held = 0;
	for (i = 0; i < d->n_points; i++) {
		struct detect_event evs[DETECT_EVENTS_MAX];
		struct point_rt *p = &g->devs[dev].points[i];
		struct emit rec = { 0 };
		int n, k;

		if (pt >= 0 && (int)i != pt)
			continue;
		if (!p->det.latched && !(p->det.conditions & COND_ALARM))
			continue;
		n = detect_reset(&d->points[i].rules, &p->det, evs, DETECT_EVENTS_MAX);
		/* the reset itself is an event (a record, kept with the history) */
		rec.cls = EVCLASS_RECORD;
		rec.type = "reset";
		rec.active = true;
		rec.dev = dev;
		rec.pt = (int)i;
		rec.causes = CAUSE_MANUAL;
		rec.threshold = NAN;
		rec.by = by;
		rec.prio = STORE_PRIO_OTHER;
		gw_emit(g, &rec);
		for (k = 0; k < n; k++)
			emit_point_event(g, dev, (int)i, &evs[k], by);
		if (n > 0)
			(*ret_cleared)++;
		else
			(*ret_held)++;
	}
	device_update_state(g, dev);
	return 0;
}

static void do_reset(struct gw *g, int client, json_t *req)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	const char *by = json_string_value(json_object_get(req, "by"));
	char devname[CONFIG_ID_MAX + 1] = "", *dot;
	const struct cfg_device *d;
	json_t *done;
	int dev, pt = -1, n_cleared = 0, n_held = 0;

	if (!target || !by || !by[0]) {
		control_error(g->ctl, client, "bad_request",
			      "reset needs \"target\" (DEVICE or DEVICE.POINT) and \"by\" (who resets)");
		return;
	}
	util_strlcpy(devname, target, sizeof(devname));
	dot = strchr(devname, '.');
	if (dot)
		*dot = '\0';
	dev = config_device_index(g->cfg, devname);
	if (dev < 0) {
		control_error(g->ctl, client, "not_found", "no device '%s' in the configuration",
			      devname);
		return;
	}
	d = &g->cfg->devices[dev];
	if (dot) {
		pt = find_point(d, dot + 1);
		if (pt < 0) {
			control_error(g->ctl, client, "not_found", "device '%s' has no point '%s'",
				      devname, dot + 1);
			return;
		}
	}
	reset_points(g, dev, pt, by, &n_cleared, &n_held);
	done = json_pack("{s:b, s:s, s:i, s:i}", "ok", 1, "target", target, "cleared", n_cleared,
			 "still_alarm", n_held);
	control_reply(g->ctl, client, done, true);
}

/* ------------------------------------------------- test mode, disablement */

#define TEST_MAX_MINUTES 240

/* Resolves "DEVICE" or "DEVICE.POINT" into dev and pt (-1: every point).
 * Returns 0 or writes a reason into why. */
static int resolve_target(struct gw *g, const char *target, int *ret_dev, int *ret_pt,
			  char *why, size_t len)
{
	char devname[CONFIG_ID_MAX + 1];
	char *dot;

	util_strlcpy(devname, target, sizeof(devname));
	dot = strchr(devname, '.');
	if (dot)
		*dot = '\0';
	*ret_dev = config_device_index(g->cfg, devname);
	if (*ret_dev < 0) {
		snprintf(why, len, "no device '%s' in the configuration", devname);
		return -ENOENT;
	}
	*ret_pt = -1;
	if (dot) {
		*ret_pt = find_point(&g->cfg->devices[*ret_dev], dot + 1);
		if (*ret_pt < 0) {
			snprintf(why, len, "device '%s' has no point '%s'", devname, dot + 1);
			return -ENOENT;
		}
	}
	return 0;
}


/* An alarm active event for a fire condition that holds while its own
 * activation was not published (made in test mode or while disabled). */
static void emit_real_alarm(struct gw *g, int dev, int pt, const char *by)
{
	struct detect_event real = {
		.cls = EVCLASS_ALARM,
		.cond = COND_ALARM,
		.active = true,
		.causes = g->devs[dev].points[pt].det.alarm_causes,
		.threshold = NAN,
	};

	emit_point_event(g, dev, pt, &real, by);
}

/* Starts (or extends) a test of dev's points (pt < 0: all) for seconds.
 * Returns the number of points put in test. */
static int test_start(struct gw *g, int dev, int pt, const char *by, int seconds)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	int64_t until = util_wall_ms() + (int64_t)seconds * 1000;
	char note[96];
	size_t i;
	int n = 0;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = &g->devs[dev].points[i];

		if (pt >= 0 && (int)i != pt)
			continue;
		if (!in_test(p))
			p->mode.tested = false;
		p->mode.test_until_ms = until;
		p->test_end_mono = util_mono_ms() + (uint64_t)seconds * 1000u;
		util_strlcpy(p->mode.by, by, sizeof(p->mode.by));
		n++;
	}
	snprintf(note, sizeof(note), "%d point(s) in test for %d min", n, (seconds + 59) / 60);
	emit_mode_event(g, dev, -1, "test_mode", true, 607, by, note);
	for (i = 0; i < d->n_points; i++)
		if (pt < 0 || (int)i == pt)
			point_save(g, dev, (int)i);
	device_update_state(g, dev);
	return n;
}

/* Ends the test of dev's points in test (pt < 0: all): latches left by
 * test alarms are reset (their events still go to test/), a point that did
 * not alarm is reported not tested (1612), then the end (3607). */
static int test_end(struct gw *g, int dev, int pt, const char *by, bool only_expired)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	int n = 0, untested = 0;
	char note[96];
	size_t i;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = &g->devs[dev].points[i];
		struct detect_event evs[DETECT_EVENTS_MAX];
		int k, m;

		if ((pt >= 0 && (int)i != pt) || !in_test(p))
			continue;
		if (only_expired && util_mono_ms() < p->test_end_mono)
			continue;
		m = detect_reset(&d->points[i].rules, &p->det, evs, DETECT_EVENTS_MAX);
		for (k = 0; k < m; k++)
			emit_point_event(g, dev, (int)i, &evs[k], by);
		if (!p->mode.tested) {
			emit_mode_event(g, dev, (int)i, "point_not_tested", true, 612, by, NULL);
			untested++;
		}
		p->mode.test_until_ms = 0;
		p->mode.tested = false;
		n++;
		/* the fire condition outlived the test: from now on it is a
		 * real alarm, and the center must hear of it */
		if (p->det.conditions & COND_ALARM && !p->det.latched)
			emit_real_alarm(g, dev, (int)i, NULL);
	}
	if (!n)
		return 0;
	snprintf(note, sizeof(note), "%d point(s) tested, %d not tested", n - untested, untested);
	emit_mode_event(g, dev, -1, "test_mode", false, 607, by, note);
	for (i = 0; i < d->n_points; i++)
		if (pt < 0 || (int)i == pt)
			point_save(g, dev, (int)i);
	device_update_state(g, dev);
	return n;
}

static int set_disabled(struct gw *g, int dev, int pt, bool disable, const char *by,
			const char *reason)
{
	const struct cfg_device *d = &g->cfg->devices[dev];
	size_t i;
	int n = 0;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = &g->devs[dev].points[i];

		if ((pt >= 0 && (int)i != pt) || p->mode.disabled == disable)
			continue;
		if (disable) {
			p->mode.disabled = true;
			p->mode.dis_since_ms = util_wall_ms();
			p->dis_remind_mono = util_mono_ms() + 24ull * 3600 * 1000;
			util_strlcpy(p->mode.reason, reason ? reason : "", sizeof(p->mode.reason));
			util_strlcpy(p->mode.by, by, sizeof(p->mode.by));
			emit_mode_event(g, dev, (int)i, "disabled", true, 571, by, reason);
		} else {
			p->mode.disabled = false;
			p->mode.reason[0] = '\0';
			emit_mode_event(g, dev, (int)i, "disabled", false, 571, by, NULL);
			/* an alarm made while disabled was stored, not published:
			 * back in service, the center hears of it */
			if (p->det.conditions & COND_ALARM)
				emit_real_alarm(g, dev, (int)i, by);
		}
		point_save(g, dev, (int)i);
		n++;
	}
	device_update_state(g, dev);
	return n;
}

/* Every second: tests that ran out end by themselves; disabled points are
 * announced again daily (SPEC §4). */
static void mode_tick(struct gw *g, uint64_t now)
{
	size_t i, j;

	for (i = 0; i < g->cfg->n_devices; i++) {
		bool expired = false;

		for (j = 0; j < g->cfg->devices[i].n_points; j++)
			expired |= in_test(&g->devs[i].points[j]) &&
				   now >= g->devs[i].points[j].test_end_mono;
		if (expired)
			test_end(g, (int)i, -1, NULL, true); /* the time is over */
		for (j = 0; j < g->cfg->devices[i].n_points; j++) {
			struct point_rt *p = &g->devs[i].points[j];

			if (p->mode.disabled && now >= p->dis_remind_mono) {
				char note[256];

				p->dis_remind_mono = now + 24ull * 3600 * 1000;
				snprintf(note, sizeof(note), "still disabled: %s", p->mode.reason);
				emit_mode_event(g, (int)i, (int)j, "disabled", true, 571, p->mode.by,
						note);
			}
		}
	}
}

/* {"op": "test", "action": "start"|"end", "targets": [...], "by", "minutes"}
 * {"op": "disable"|"enable", "targets": [...], "by", "reason"}: from the
 * control socket and, when allowed, from the center. Returns the answer. */
static json_t *mode_op(struct gw *g, const char *op, json_t *req)
{
	const char *by = json_string_value(json_object_get(req, "by"));
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	json_t *targets = json_object_get(req, "targets");
	json_int_t minutes = json_integer_value(json_object_get(req, "minutes"));
	/* "seconds" (control socket only, for commissioning checks and tests)
	 * overrides "minutes" with a finer grain, same 240 min bound */
	json_int_t seconds = json_integer_value(json_object_get(req, "seconds"));
	bool all = json_is_true(json_object_get(req, "all"));
	bool is_test = strcmp(op, "test") == 0;
	char why[160];
	int n = 0;
	size_t i;

	if (!by || !by[0])
		return error_json(NULL, "bad_request", "\"by\" (who does it) is required");
	/* stored with the point's mode and shown on site and at the center:
	 * bounded, printable UTF-8, never cut */
	if (!util_text_ok(by, POINT_BY_MAX - 1))
		return error_json(NULL, "bad_request",
				  "\"by\" must be 1..63 bytes of UTF-8 text without control characters");
	if (reason && !util_text_ok(reason, POINT_REASON_MAX - 1))
		return error_json(NULL, "bad_request",
				  "\"reason\" must be 1..159 bytes of UTF-8 text without control "
				  "characters");
	if (is_test && (!action || (strcmp(action, "start") && strcmp(action, "end"))))
		return error_json(NULL, "bad_request", "\"action\" must be start or end");
	if (seconds > 0 && seconds <= TEST_MAX_MINUTES * 60)
		minutes = 0;
	else if (is_test && !strcmp(action, "start") && (minutes < 1 || minutes > TEST_MAX_MINUTES))
		return error_json(NULL, "bad_request", "\"minutes\" must be 1..240");
	else
		seconds = minutes * 60;
	if (!strcmp(op, "disable") && (!reason || !reason[0]))
		return error_json(NULL, "bad_request", "\"reason\" is required to disable a point");
	if (all && is_test && !strcmp(action, "end")) {
		for (i = 0; i < g->cfg->n_devices; i++)
			n += test_end(g, (int)i, -1, by, false);
		return json_pack("{s:b, s:i}", "ok", 1, "points", n);
	}
	if (!json_is_array(targets) || json_array_size(targets) == 0)
		return error_json(NULL, "bad_request",
				  "\"targets\" must list DEVICE or DEVICE.POINT names");
	/* all targets must exist before anything changes */
	for (i = 0; i < json_array_size(targets); i++) {
		const char *t = json_string_value(json_array_get(targets, i));
		int dev, pt;

		if (!t || resolve_target(g, t, &dev, &pt, why, sizeof(why)) < 0)
			return error_json(NULL, "not_found", t ? why : "targets must be strings");
	}
	for (i = 0; i < json_array_size(targets); i++) {
		int dev, pt;

		resolve_target(g, json_string_value(json_array_get(targets, i)), &dev, &pt, why,
			       sizeof(why));
		if (is_test && !strcmp(action, "start"))
			n += test_start(g, dev, pt, by, (int)seconds);
		else if (is_test)
			n += test_end(g, dev, pt, by, false);
		else
			n += set_disabled(g, dev, pt, !strcmp(op, "disable"), by, reason);
	}
	return json_pack("{s:b, s:i}", "ok", 1, "points", n);
}

static json_t *probe_json(struct gw *g, const struct poll_result *res)
{
	const struct cfg_device *d = &g->cfg->devices[res->device];
	struct value_reading vals[PROFILE_MAX_VALUES];
	json_t *o = json_object(), *vo = json_object();
	size_t i;

	json_object_set_new(o, "device", json_string(d->id));
	json_object_set_new(o, "unit", json_integer(d->unit));
	json_object_set_new(o, "rc", json_integer(res->rc));
	if (res->rc == 0) {
		profile_decode(d->profile, &res->raw, vals);
		for (i = 0; i < d->profile->n_values; i++) {
			json_t *v = json_object();

			json_object_set_new(v, "value", vals[i].ok ? json_real(vals[i].value)
								     : json_null());
			json_object_set_new(v, "raw", json_integer(vals[i].raw));
			json_object_set_new(v, "unit", json_string(d->profile->values[i].unit));
			json_object_set_new(vo, d->profile->values[i].name, v);
		}
	} else {
		json_object_set_new(o, "error", json_string(strerror(-res->rc)));
		if (res->rc == -EPROTO)
			json_object_set_new(o, "exception", json_integer(res->exception));
	}
	json_object_set_new(o, "values", vo);
	return o;
}

static struct job_client *job_find(struct gw *g, uint64_t tag)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(g->jobs); i++)
		if (g->jobs[i].active && g->jobs[i].tag == tag)
			return &g->jobs[i];
	return NULL;
}

/* The control client went away (control_set_gone): its job slots are
 * free at once, so a late result of its job is dropped (job_find no longer
 * matches the tag) and never reaches a new client. */
static void jobs_client_gone(void *ud, int client)
{
	struct gw *g = ud;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(g->jobs); i++) {
		struct job_client *j = &g->jobs[i];

		if (!j->active || j->client != client)
			continue;
		j->active = false;
		/* the bus stops the job at its next step: a scan nobody waits
		 * for no longer takes the bus's gaps */
		poller_cancel(g->pollers[j->bus], j->tag);
	}
}

static void handle_job_result(struct gw *g, const struct poll_result *res)
{
	struct job_client *j = job_find(g, res->tag);

	if (!j)
		return;
	switch (res->kind) {
	case POLL_RESULT_PROBE:
		control_reply(g->ctl, j->client, probe_json(g, res), false);
		break;
	case POLL_RESULT_SCAN:
		control_reply(g->ctl, j->client,
			      json_pack("{s:i, s:i}", "unit", res->unit, "rc", res->rc), false);
		break;
	case POLL_RESULT_JOB_DONE:
		control_reply(g->ctl, j->client, json_pack("{s:b, s:i}", "ok", 1, "rc", res->rc),
			      true);
		j->active = false;
		break;
	default:
		break;
	}
}

static void do_job(struct gw *g, int client, json_t *req, enum poller_job_kind kind)
{
	struct poller_job job = { .kind = kind };
	struct job_client *slot = NULL;
	int bus = -1, r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(g->jobs); i++)
		if (!g->jobs[i].active) {
			slot = &g->jobs[i];
			break;
		}
	if (!slot) {
		control_error(g->ctl, client, "busy", "too many probe/scan jobs running; retry later");
		return;
	}
	if (kind == POLLER_JOB_PROBE) {
		const char *dev = json_string_value(json_object_get(req, "device"));

		job.device = dev ? config_device_index(g->cfg, dev) : -1;
		if (job.device < 0) {
			control_error(g->ctl, client, "not_found", "no device '%s'", dev ? dev : "");
			return;
		}
		bus = g->cfg->devices[job.device].bus;
	} else {
		const char *b = json_string_value(json_object_get(req, "bus"));

		bus = b ? config_bus_index(g->cfg, b) : -1;
		if (bus < 0) {
			control_error(g->ctl, client, "not_found", "no bus '%s'", b ? b : "");
			return;
		}
		json_t *from = json_object_get(req, "from"), *to = json_object_get(req, "to");
		json_t *tmo = json_object_get(req, "timeout_ms");

		/* every argument bounded: a scan shares the bus with the polls
		 * one transaction at a time, never longer than 1 s each */
		if (!json_is_integer(from) || json_integer_value(from) < 1 ||
		    json_integer_value(from) > 247) {
			control_error(g->ctl, client, "bad_request", "\"from\" must be a unit 1..247");
			return;
		}
		if (!json_is_integer(to) || json_integer_value(to) < json_integer_value(from) ||
		    json_integer_value(to) > 247) {
			control_error(g->ctl, client, "bad_request",
				      "\"to\" must be a unit \"from\"..247");
			return;
		}
		if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < 10 ||
			    json_integer_value(tmo) > 1000)) {
			control_error(g->ctl, client, "bad_request",
				      "\"timeout_ms\" must be 10..1000 (omit it for 100)");
			return;
		}
		job.unit_from = (int)json_integer_value(from);
		job.unit_to = (int)json_integer_value(to);
		job.timeout_ms = tmo ? (int)json_integer_value(tmo) : 0;
	}
	job.tag = ++g->next_job_tag;
	r = poller_submit(g->pollers[bus], &job);
	if (r < 0) {
		control_error(g->ctl, client, "busy", "bus '%s' is busy: %s", g->cfg->buses[bus].id,
			      strerror(-r));
		return;
	}
	*slot = (struct job_client){ .tag = job.tag, .client = client, .bus = bus, .active = true };
}

static void control_cb(void *ud, int client, json_t *req)
{
	struct gw *g = ud;
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!op)
		control_error(g->ctl, client, "bad_request", "missing \"op\"");
	else if (strcmp(op, "reset") == 0)
		do_reset(g, client, req);
	else if (strcmp(op, "probe") == 0)
		do_job(g, client, req, POLLER_JOB_PROBE);
	else if (strcmp(op, "scan") == 0)
		do_job(g, client, req, POLLER_JOB_SCAN);
	else if (strcmp(op, "test") == 0 || strcmp(op, "disable") == 0 ||
		 strcmp(op, "enable") == 0) {
		json_t *resp = mode_op(g, op, req);

		control_reply(g->ctl, client, resp, true);
	} else if (strcmp(op, "ping") == 0)
		control_reply(g->ctl, client,
			      json_pack("{s:b, s:s, s:I}", "ok", 1, "epoch", store_epoch(g->st),
					"last_seq", (json_int_t)g->last_seq),
			      true);
	else
		control_error(g->ctl, client, "bad_request",
			      "unknown op '%s' (reset, test, disable, enable, probe, scan, ping)", op);
}

/* ------------------------------------------------------------ start-up */

/* A device in the database but not in the configuration: its retained
 * state is cleared at the next connect (SPEC §3). */
static void removed_add(struct gw *g, const char *dev)
{
	struct removed_dev *n;
	size_t i;

	for (i = 0; i < g->n_removed; i++)
		if (strcmp(g->removed[i].id, dev) == 0)
			return;
	n = realloc(g->removed, (g->n_removed + 1) * sizeof(*n));
	if (!n)
		return;
	g->removed = n;
	memset(&n[g->n_removed], 0, sizeof(n[0]));
	util_strlcpy(n[g->n_removed].id, dev, sizeof(n[0].id));
	g->n_removed++;
	log_notice("device '%s' is no longer configured; its retained state will be cleared", dev);
}

static int restore_cb(void *ud, const struct store_point_state *ps)
{
	struct gw *g = ud;
	char dev[CONFIG_ID_MAX + 1];
	const char *dot = strchr(ps->key, '.');
	int d, p;

	if (!dot || (size_t)(dot - ps->key) >= sizeof(dev))
		return 0;
	memcpy(dev, ps->key, (size_t)(dot - ps->key));
	dev[dot - ps->key] = '\0';
	d = config_device_index(g->cfg, dev);
	if (d < 0) {
		removed_add(g, dev);
		return 0;
	}
	p = find_point(&g->cfg->devices[d], dot + 1);
	if (p < 0)
		return 0;
	detect_restore(&g->devs[d].points[p].det, ps->conditions, ps->latched, ps->alarm_causes,
		       ps->prealarm_causes, ps->fault_causes);
	g->devs[d].points[p].since_ms = ps->since_ms;
	g->devs[d].points[p].last_seq = ps->last_seq;
	g->devs[d].points[p].stored = true;
	mode_restore(&g->devs[d].points[p], ps->mode);
	return 0;
}

struct load_ctx {
	struct gw *g;
	int r;
};

static int load_outbox_cb(void *ud, const struct store_outbox_row *row)
{
	struct load_ctx *lc = ud;
	struct outbox_item it = {
		.seq = row->seq, .prio = row->prio, .row_id = row->id, .tag = (uint64_t)row->id
	};

	it.key = outbox_key(lc->g->ob, row->order_key[0] ? row->order_key : "gateway");
	if (it.key < 0 || outbox_add(lc->g->ob, &it) < 0) {
		lc->r = -ENOMEM;
		return 1;
	}
	return 0;
}

/* Renames the database and its -wal/-shm aside, so a new one can start;
 * the old file stays for the record (and for a forensic look). */
static int move_aside(const char *path, char *aside, size_t len)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	char from[600], to[600];
	size_t i;

	snprintf(aside, len, "%s.corrupt-%" PRId64, path, util_wall_ms());
	if (rename(path, aside) < 0)
		return -errno;
	for (i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(from, sizeof(from), "%s%s", path, suffixes[i]);
		snprintf(to, sizeof(to), "%s%s", aside, suffixes[i]);
		if (rename(from, to) < 0 && errno != ENOENT)
			log_warning("cannot move '%s' aside: %s", from, strerror(errno));
	}
	return 0;
}

static int open_store(struct gw *g)
{
	struct store_opts so = {
		.path = g->cfg->storage.path,
		.max_mb = g->cfg->storage.max_mb,
		.create = true,
	};
	char aside[600];
	int r;

	r = store_open(&so, &g->st);
	if (r == -EBADMSG) {
		r = move_aside(so.path, aside, sizeof(aside));
		if (r < 0) {
			log_error("database '%s' is corrupt and cannot be moved aside: %s; "
				  "move or delete it by hand",
				  so.path, strerror(-r));
			return r;
		}
		log_error("database '%s' is corrupt; moved aside to '%s', starting a new one",
			  so.path, aside);
		r = store_open(&so, &g->st);
		if (r == 0) {
			g->last_seq = store_last_seq(g->st);
			/* raised once the marks are read (gw_start) */
			snprintf(g->replaced_note, sizeof(g->replaced_note),
				 "corrupt database moved aside to '%s'; new database, new epoch %s",
				 aside, store_epoch(g->st));
		}
	}
	if (r < 0)
		log_error("cannot open database '%s': %s; check storage.path and its directory",
			  so.path, strerror(-r));
	else
		g->last_seq = store_last_seq(g->st);
	return r;
}

struct salvage {
	int64_t id;
	int prio;
	char key[STORE_KEY_MAX];
};

struct salvage_list {
	struct salvage *v;
	size_t n, cap;
};

static int salvage_cb(void *ud, const struct store_outbox_row *row)
{
	struct salvage_list *l = ud;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct salvage *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n].id = row->id;
	l->v[l->n].prio = row->prio;
	util_strlcpy(l->v[l->n].key, row->order_key, sizeof(l->v[0].key));
	l->n++;
	return 0;
}

static int load_outbox_cb(void *ud, const struct store_outbox_row *row);

/* After an unclean stop (SPEC §5): the integrity check runs once the
 * buses are already polled (their results wait in the queue). A corrupt
 * database is replaced by a new one (new epoch); the events it still had
 * to send are copied over byte for byte first, as far as they can be read. */
static int check_after_unclean_stop(struct gw *g)
{
	struct store_opts so = {
		.path = g->cfg->storage.path,
		.max_mb = g->cfg->storage.max_mb,
		.create = true,
	};
	struct salvage_list l = { 0 };
	struct load_ctx lc = { .g = g };
	struct store_chain_head old_head;
	char aside[600], note[1000], origin[200] = "", old_hex[2 * STORE_HASH_LEN + 1];
	size_t i, saved = 0;
	store *fresh;
	int r;

	log_notice("previous stop was unclean; checking database '%s'", so.path);
	r = store_integrity_check(g->st);
	if (r != -EBADMSG) {
		if (r == 0)
			log_notice("database '%s' passed its integrity check", so.path);
		return 0;
	}
	store_outbox_foreach(g->st, 0, STORE_PRIO_TELEMETRY - 1, 0, 0, salvage_cb, &l);
	r = move_aside(so.path, aside, sizeof(aside));
	if (r < 0) {
		log_error("database '%s' is corrupt and cannot be moved aside (%s); going on with it",
			  so.path, strerror(-r));
		free(l.v);
		return 0;
	}
	r = store_open(&so, &fresh);
	if (r < 0) {
		log_error("cannot create a new database at '%s': %s", so.path, strerror(-r));
		free(l.v);
		return r;
	}
	/* the new chain names where the old one ended, as far as it could be
	 * read (SPEC §5 tamper evidence) */
	if (store_chain_head(g->st, &old_head) == 0 &&
	    store_chain_set_origin(fresh, store_epoch(g->st), &old_head) == 0) {
		store_hash_hex(old_head.hash, old_hex);
		snprintf(origin, sizeof(origin), "; the new chain starts from epoch %s head %" PRIu64
			 ":%s", store_epoch(g->st), old_head.seq, old_hex);
	}
	for (i = 0; i < l.n; i++) {
		char *topic = NULL;
		void *payload = NULL;
		size_t len;

		if (store_outbox_get(g->st, l.v[i].id, &topic, &payload, &len) == 0 &&
		    store_outbox_add(fresh, STORE_DEST_MQTT, topic, payload, len, 1, false,
				     l.v[i].prio, l.v[i].key, NULL) == 0)
			saved++;
		free(topic);
		free(payload);
	}
	free(l.v);
	store_free(g->st);
	g->st = fresh;
	g->last_seq = store_last_seq(fresh);
	/* the scheduler now follows the new database's outbox */
	outbox_free(g->ob);
	g->ob = NULL;
	r = outbox_new(&g->ob);
	if (r < 0)
		return r;
	r = store_outbox_foreach(g->st, 0, STORE_PRIO_TELEMETRY - 1, 0, 0, load_outbox_cb, &lc);
	if (r < 0 || lc.r < 0)
		return r < 0 ? r : lc.r;
	snprintf(note, sizeof(note),
		 "corrupt database moved aside to '%s' (%zu of %zu unsent events carried over); "
		 "new epoch %s%s",
		 aside, saved, l.n, store_epoch(g->st), origin);
	log_error("%s", note);
	db_replaced(g, note);
	/* the points' states go into the new database too */
	for (i = 0; i < g->cfg->n_devices; i++)
		for (size_t j = 0; j < g->cfg->devices[i].n_points; j++)
			point_save(g, (int)i, (int)j);
	return 0;
}

/* The marks file beside the database: numbering goes on above every seq
 * that may have been published, and open gateway faults stay open (no new
 * event for them) until their cause ends. */
static void marks_load(struct gw *g)
{
	struct marks_data d;
	int r;

	r = marks_open(g->cfg->storage.path, &g->marks);
	if (r < 0) {
		log_error("cannot open the marks file beside '%s': %s; seqs held in memory during a "
			  "storage fault may be given out again after a stop",
			  g->cfg->storage.path, strerror(-r));
	} else if (marks_get(g->marks, &d) == 0) {
		g->gw_faults = d.gw_faults & ((1u << GWEV_MAX) - 1);
		g->uplink_lost_ms = d.uplink_lost_ms;
		if (strcmp(d.epoch, store_epoch(g->st)) == 0) {
			g->seq_hwm = d.seq_hwm;
			if (d.seq_hwm > g->last_seq) {
				log_warning("seqs %" PRIu64 "..%" PRIu64 " of epoch %s may have been "
					    "published from memory but are not in the database; "
					    "numbering goes on at %" PRIu64,
					    g->last_seq + 1, d.seq_hwm, d.epoch, d.seq_hwm + 1);
				g->last_seq = d.seq_hwm;
			}
		}
		if (g->gw_faults)
			log_notice("gateway faults still open from before the start: 0x%x",
				   g->gw_faults);
	}
	if (g->replaced_note[0])
		db_replaced(g, g->replaced_note);
}

static int gw_start(struct gw *g)
{
	static const char *subs_kinds[] = { "ack", "request" };
	char will_topic[400], sub_topics[2][400];
	const char *subs[2];
	struct publish_opts po = { 0 };
	struct load_ctx lc = { .g = g };
	char *will;
	size_t will_len, i, j;
	pid_t holder = 0;
	int r;

	/* one daemon per database (SPEC §7): before anything is opened */
	r = instance_lock(g->cfg->storage.path, &holder);
	if (r == -EBUSY) {
		if (holder > 0)
			log_error("database '%s' is in use by firegw pid %ld (lock '%s%s'); not "
				  "starting a second daemon on it",
				  g->cfg->storage.path, (long)holder, g->cfg->storage.path,
				  INSTANCE_LOCK_SUFFIX);
		else
			log_error("database '%s' is in use by another firegw (lock '%s%s'); not "
				  "starting a second daemon on it",
				  g->cfg->storage.path, g->cfg->storage.path, INSTANCE_LOCK_SUFFIX);
		return r;
	}
	if (r < 0) {
		log_error("cannot lock '%s%s': %s; check storage.path and its directory",
			  g->cfg->storage.path, INSTANCE_LOCK_SUFFIX, strerror(-r));
		return r;
	}

	snprintf(g->topic_root, sizeof(g->topic_root), "%s/%s", g->cfg->mqtt.topic_prefix,
		 g->cfg->site.id);
	g->started_ms = util_wall_ms();
	g->time_synced = clock_is_synced();
	r = outbox_new(&g->ob);
	if (r < 0)
		return r;
	g->gateway_key = outbox_key(g->ob, "gateway");
	g->devs = calloc(g->cfg->n_devices ? g->cfg->n_devices : 1, sizeof(*g->devs));
	if (!g->devs)
		return -ENOMEM;
	for (i = 0; i < g->cfg->n_devices; i++) {
		const struct cfg_device *d = &g->cfg->devices[i];
		char key[STORE_KEY_MAX];

		g->devs[i].points = calloc(d->n_points ? d->n_points : 1, sizeof(struct point_rt));
		g->devs[i].values = calloc(d->profile->n_values ? d->profile->n_values : 1,
					   sizeof(struct value_rt));
		if (!g->devs[i].points || !g->devs[i].values)
			return -ENOMEM;

		g->devs[i].state = PSTATE_UNKNOWN;
		g->devs[i].state_dirty = true;
		for (j = 0; j < g->cfg->devices[i].n_points; j++) {
			detect_state_init(&g->devs[i].points[j].det);
			g->devs[i].points[j].state = PSTATE_UNKNOWN;
			g->devs[i].points[j].since_ms = g->started_ms;
			point_key(g, (int)i, (int)j, key, sizeof(key));
			g->devs[i].points[j].key = outbox_key(g->ob, key);
		}
	}
	r = open_store(g);
	if (r < 0)
		return r;
	marks_load(g);
	store_point_state_foreach(g->st, restore_cb, g);
	/* every configured point gets its row at once: that is also how a
	 * device removed from the configuration later is recognised */
	for (i = 0; i < g->cfg->n_devices; i++)
		for (j = 0; j < g->cfg->devices[i].n_points; j++)
			if (!g->devs[i].points[j].stored)
				point_save(g, (int)i, (int)j);
	for (i = 0; i < g->cfg->n_devices; i++)
		device_update_state(g, (int)i);
	r = store_outbox_foreach(g->st, 0, STORE_PRIO_TELEMETRY - 1, 0, 0, load_outbox_cb, &lc);
	if (r < 0 || lc.r < 0) {
		log_error("cannot load the outbox of '%s'", g->cfg->storage.path);
		return r < 0 ? r : lc.r;
	}
	if (outbox_count(g->ob))
		log_notice("%zu events waiting in the outbox from before the start",
			   outbox_count(g->ob));

	r = queue_new(RESULTS_QUEUE_LEN, sizeof(struct poll_result), &g->results);
	if (r < 0)
		return r;

	topic_of(g, will_topic, sizeof(will_topic), "status", NULL);
	{
		json_t *w = json_pack("{s:s, s:s, s:s, s:s}", "schema", STATUS_SCHEMA, "site",
				      g->cfg->site.id, "state", "offline", "reason",
				      "connection lost");

		will = event_dump(w, &will_len);
	}
	if (!will)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(subs_kinds); i++) {
		topic_of(g, sub_topics[i], sizeof(sub_topics[i]), subs_kinds[i], NULL);
		subs[i] = sub_topics[i];
	}
	po.uri = g->cfg->mqtt.uri;
	po.client_id = g->cfg->mqtt.client_id;
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
	{
		char pass[256] = "";

		if (g->cfg->mqtt.password_file[0]) {
			FILE *f = fopen(g->cfg->mqtt.password_file, "r");

			if (!f || !fgets(pass, sizeof(pass), f)) {
				log_error("cannot read mqtt.password_file '%s': %s",
					  g->cfg->mqtt.password_file, strerror(errno));
				if (f)
					fclose(f);
				free(will);
				return -EACCES;
			}
			fclose(f);
			pass[strcspn(pass, "\r\n")] = '\0';
			po.password = pass;
		}
		r = publish_new(&po, &g->pub);
	}
	free(will);
	if (r < 0) {
		log_error("cannot create the MQTT client for '%s': %s", g->cfg->mqtt.uri,
			  strerror(-r));
		return r;
	}

	for (i = 0; i < g->cfg->n_buses; i++) {
		r = poller_start(g->cfg, (int)i, g->results, &g->pollers[i]);
		if (r < 0) {
			log_error("cannot start bus '%s': %s", g->cfg->buses[i].id, strerror(-r));
			return r;
		}
	}
	if (store_unclean(g->st)) {
		r = check_after_unclean_stop(g);
		if (r < 0)
			return r;
	}
	r = control_open(g->cfg->runtime_dir, &g->ctl);
	if (r == -EADDRINUSE)
		log_error("control socket '%s/%s' belongs to another running daemon (another "
			  "database, same runtime directory); left alone: reset, probe and scan "
			  "through this daemon are unavailable",
			  g->cfg->runtime_dir, CONTROL_SOCKET_NAME);
	else if (r < 0)
		log_warning("no control socket in '%s' (%s): reset, probe and scan through the "
			    "daemon are unavailable",
			    g->cfg->runtime_dir, strerror(-r));
	else
		control_set_gone(g->ctl, jobs_client_gone, g);
	g->link = LINK_DOWN;
	link_kick(g);
	return 0;
}

static void gw_stop(struct gw *g)
{
	size_t i;

	for (i = 0; i < CONFIG_MAX_BUSES; i++)
		poller_stop(g->pollers[i]);
	if (g->results)
		drain_results(g);
	if (g->pub && g->link == LINK_UP) {
		char topic[400];
		size_t len;
		char *off = status_payload(g, "offline", g->reload ? "reload" : "shutdown", &len);

		topic_of(g, topic, sizeof(topic), "status", NULL);
		if (off)
			publish_disconnect(g->pub, topic, off, len, 2000);
		free(off);
	}
	publish_free(g->pub);
	if (g->st) {
		delete_flush(g);
		if (g->n_held)
			held_flush(g);
		/* every seq up to last_seq was used: the next start goes on
		 * right after it, with no gap */
		g->seq_hwm = g->last_seq;
		marks_save(g);
	}
	marks_free(g->marks);
	store_free(g->st);
	control_free(g->ctl);
	queue_free(g->results);
	outbox_free(g->ob);
	for (i = 0; g->devs && i < g->cfg->n_devices; i++) {
		free(g->devs[i].points);
		free(g->devs[i].values);
	}
	free(g->devs);
	for (i = 0; i < g->n_held; i++)
		held_clear(&g->held[i]);
	if (g->n_held)
		log_error("%zu event(s) could not be written to '%s' before the stop; they were "
			  "published if the uplink allowed, but are not in the database",
			  g->n_held, g->cfg->storage.path);
	free(g->held);
	free(g->removed);
	/* a reload keeps the lock across the re-exec (main.c) */
	if (!g->reload)
		instance_unlock();
}

/* ----------------------------------------------------------- main loop */

/* systemd's watchdog (WatchdogSec=): pinged from a timer of its own at half
 * the interval, independent of heartbeat_s (which may be up to an hour). */
static void watchdog_init(struct gw *g, uint64_t now)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		g->wd_half_ms = usec / 2000;
		g->next_wd = now;
		log_info("watchdog: pinging every %" PRIu64 " ms while every thread makes progress",
			 g->wd_half_ms);
	}
}

/* Pings only when every part made progress within half the interval: the
 * main loop (it is running this) and each bus thread. A stuck bus thread
 * stops the pings, and systemd restarts the daemon. An uplink that is down
 * but keeps scheduling its connect attempts is progress: a long broker
 * outage never restarts the daemon. */
static bool watchdog_healthy(struct gw *g)
{
	uint64_t now = util_mono_ms();
	size_t i;

	for (i = 0; i < g->cfg->n_buses; i++) {
		uint64_t seen = poller_progress_ms(g->pollers[i]);
		unsigned suppressed = 0;

		if (seen && now - seen <= g->wd_half_ms)
			continue;
		if (log_ratelimit_ok(&g->wd_rl, now, 10000, &suppressed))
			log_error("bus '%s': its thread made no progress for %" PRIu64 " ms; not "
				  "pinging the watchdog, so the service manager restarts firegw "
				  "(%u more such checks since the last line)",
				  g->cfg->buses[i].id, now - seen, suppressed);
		return false;
	}
	return true;
}

static void watchdog_tick(struct gw *g)
{
	if (!watchdog_healthy(g))
		return;
	sd_notify(0, "WATCHDOG=1");
}

static int timeout_until(uint64_t now, uint64_t due, int cur)
{
	int t;

	if (due <= now)
		return 0;
	t = due - now > INT_MAX ? INT_MAX : (int)(due - now);
	return t < cur ? t : cur;
}

/* SIGHUP (mosquitto's config_reload): the new file is parsed and checked
 * first; only a valid one replaces the running configuration, by a clean
 * stop and a re-exec of the daemon. Every state that matters (latches,
 * open faults, the outbox) is in SQLite, so nothing is lost and no event is
 * repeated; the center sees one offline/online pair with reason "reload". */
static void reload_request(struct gw *g)
{
	struct errlist errs = { 0 };
	struct config *next = NULL;
	int r;

	r = config_load(g->cfg->path, config_builtin_profile_dir(), &errs, &next);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0) {
		log_error("SIGHUP: '%s' is not valid; keeping the running configuration (fix it, "
			  "check with firegw check -c %s)",
			  g->cfg->path, g->cfg->path);
		return;
	}
	if (strcmp(next->sha256, g->cfg->sha256) == 0) {
		log_notice("SIGHUP: '%s' unchanged; nothing to reload", g->cfg->path);
		config_free(next);
		return;
	}
	config_free(next);
	/* events held in memory would not survive the exec: written first,
	 * or the reload waits */
	if (g->n_held)
		held_flush(g);
	if (g->n_held) {
		log_error("SIGHUP: '%s' changed and is valid, but %zu event(s) are held in memory "
			  "while database '%s' refuses writes; not reloading now, send SIGHUP again "
			  "once the storage fault is over",
			  g->cfg->path, g->n_held, g->cfg->storage.path);
		return;
	}
	log_notice("SIGHUP: '%s' changed and is valid; restarting with it", g->cfg->path);
	g->reload = true;
	g->stop = true;
}

static void handle_signal(struct gw *g)
{
	struct signalfd_siginfo si;

	while (read(g->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_notice("stopping on signal %u", si.ssi_signo);
			g->stop = true;
			break;
		case SIGHUP:
			reload_request(g);
			break;
		default:
			break;
		}
	}
}

static void gw_loop(struct gw *g)
{
	struct pollfd fds[4 + 1 + CONTROL_MAX_CLIENTS];
	uint64_t now = util_mono_ms();

	g->next_heartbeat = now + (uint64_t)g->cfg->mqtt.heartbeat_s * 1000u;
	g->next_telemetry = now + (uint64_t)(g->cfg->mqtt.telemetry_s ? g->cfg->mqtt.telemetry_s : 60) * 1000u;
	g->next_store_tick = now + 1000;
	g->next_size_check = now + 10000;
	g->next_prune = now + 10000;
	g->clock_offset = util_wall_ms() - (int64_t)now;
	g->tel_tokens_mono = now;
	watchdog_init(g, now);
	while (!g->stop) {
		size_t n = 0, nctl = 0;
		int timeout = 1000;

		now = util_mono_ms();
		link_tick(g, now);
		pump(g);

		fds[n++] = (struct pollfd){ .fd = g->sfd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = queue_fd(g->results), .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = publish_fd(g->pub), .events = POLLIN };
		if (g->ctl) {
			nctl = control_pollfds(g->ctl, &fds[n]);
			n += nctl;
		}
		if (g->link == LINK_DOWN)
			timeout = timeout_until(now, g->next_connect_mono, timeout);
		timeout = timeout_until(now, g->next_heartbeat, timeout);
		timeout = timeout_until(now, g->next_telemetry, timeout);
		timeout = timeout_until(now, g->next_store_tick, timeout);
		if (g->n_del)
			timeout = timeout_until(now, g->del_due, timeout);
		if (g->wd_half_ms)
			timeout = timeout_until(now, g->next_wd, timeout);
		if (g->link == LINK_UP && outbox_pending(g->ob) &&
		    g->n_inflight < (size_t)g->cfg->mqtt.inflight)
			timeout = timeout_until(now, g->send_retry_mono, timeout);

		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			handle_signal(g);
		/* detection first: a fresh alarm is committed before the
		 * scheduler picks what to send next */
		drain_results(g);
		{
			struct publish_note note;
			int budget = 4096;

			while (budget-- > 0 && publish_next(g->pub, &note)) {
				handle_note(g, &note);
				publish_note_clear(&note);
			}
		}
		if (g->ctl && nctl)
			control_dispatch(g->ctl, &fds[3], nctl, control_cb, g);

		now = util_mono_ms();
		if (g->n_del && now >= g->del_due)
			delete_flush(g);
		if (now >= g->next_store_tick) {
			clock_check(g, now);
			store_tick(g->st, now);
			storage_check(g, now);
			ack_check(g, now);
			mode_tick(g, now);
			g->next_store_tick = now + 1000;
		}
		if (now >= g->next_heartbeat) {
			struct mallinfo2 mi = mallinfo2();

			/* for soak runs (-v): heap in use, to tell a leak from
			 * pages touched for the first time */
			log_debug("heap in use %zu KiB, %zu held, %zu waiting, %zu in flight",
				  mi.uordblks / 1024, g->n_held, outbox_count(g->ob), g->n_inflight);
			g->status_dirty = true;
			g->next_heartbeat = now + (uint64_t)g->cfg->mqtt.heartbeat_s * 1000u;
		}
		if (g->wd_half_ms && now >= g->next_wd) {
			watchdog_tick(g);
			g->next_wd = now + g->wd_half_ms;
		}
		if (now >= g->next_telemetry) {
			telemetry_tick(g);
			g->next_telemetry = now + (uint64_t)(g->cfg->mqtt.telemetry_s ? g->cfg->mqtt.telemetry_s : 60) * 1000u;
		}
	}
}

int gateway_run(const char *config_path)
{
	struct errlist errs = { 0 };
	struct gw g = { .sfd = -1 };
	sigset_t mask;
	int r, status = 0;

	r = config_load(config_path, config_builtin_profile_dir(), &errs, &g.cfg);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0) {
		log_error("configuration '%s' is not valid; fix the errors above (firegw check -c %s)",
			  config_path, config_path);
		return 1;
	}
	/* one malloc arena for every thread: the threads allocate little
	 * (paho per message, the main loop per event), and per-thread arenas
	 * would each keep their own free pages resident (SPEC §8 memory) */
	mallopt(M_ARENA_MAX, 1);
	/* before any thread exists (paho's, the pollers'): they inherit it */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	g.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (g.sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		config_free(g.cfg);
		return 2;
	}
	r = gw_start(&g);
	if (r < 0) {
		status = 2;
		goto out;
	}
	log_notice("firegw %s running: site '%s', %zu devices on %zu buses, epoch %s, last seq %" PRIu64,
		   FIREGW_VERSION, g.cfg->site.id, g.cfg->n_devices, g.cfg->n_buses,
		   store_epoch(g.st), store_last_seq(g.st));
	sd_notify(0, "READY=1");
	gw_loop(&g);
	sd_notify(0, g.reload ? "RELOADING=1" : "STOPPING=1");
	if (g.reload)
		status = GATEWAY_RELOAD;
out:
	gw_stop(&g);
	close(g.sfd);
	config_free(g.cfg);
	return status;
}
