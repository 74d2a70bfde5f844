/* journal.c - the event journal (journal.h): numbering, the one
 * serialisation of each event, commit-or-hold, the marks file (seq
 * high-water mark, open gateway faults) and the hand-off to the delivery
 * scheduler. Main loop only.
 *
 * The life of an event: journal_emit() numbers it (last_seq + 1),
 * serialises it once (event.c), and commits it to SQLite together with its
 * outbox row and the point's new state (synchronous=FULL) before anything
 * can publish it. If SQLite refuses (disk full, I/O error), the event is
 * held in memory with its seq after the high-water mark has been raised
 * above it in the marks file (which a full disk cannot refuse), and goes
 * out from memory; held events are written in seq order once SQLite takes
 * writes again. */
#include "journal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "marks.h"
#include "util.h"

#define HELD_MAX 20000 /* events kept in memory while SQLite refuses writes */
#define HWM_STEP 32    /* seqs reserved at a time while events are held */

/* An event SQLite did not take: it keeps its seq, goes out from memory,
 * and is written in seq order when the store works again (SPEC §5). */
struct held {
	uint64_t seq;
	int64_t ts_ms;
	char *event_id, *cls, *type, *state, *cid, *device, *point, *topic, *order_key, *ref;
	void *payload;
	size_t len;
	int prio;
	int dev, pt;    /* the point whose state is saved when written; -1: none */
	bool delivered; /* PUBACK came first: no outbox row when written */
	int64_t row_id; /* in a batch: its outbox row, once committed */
};

struct journal {
	const struct config *cfg;
	struct site *site;
	store *st;
	outbox *ob;
	struct journal_hooks hooks;
	void *ud;
	uint64_t last_seq;  /* last seq given out, stored or held */
	bool time_synced;
	char account[64]; /* "": none */
	struct held *held;
	size_t n_held, cap_held;
	/* journal_batch_begin..end: events committed in the open batch, kept
	 * until it is durable (then scheduled) or undone (then held) */
	bool batching;
	struct held *batch;
	size_t n_batch, cap_batch;
	bool store_wrote;   /* a write succeeded since the storage fault was raised */
	/* kept in the marks file */
	marks *marks;
	uint64_t seq_hwm;
	uint32_t gw_faults; /* bit 1 << enum gw_event: raised, not yet restored */
	int64_t uplink_lost_ms;
	int64_t next_periodic_ms;
	bool marks_logged;
};

static void storage_error(journal *j, int err);
static void marks_save(journal *j);

int journal_new(const struct config *c, struct site *site, outbox *ob,
		const struct journal_hooks *hooks, void *ud, journal **ret)
{
	journal *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->cfg = c;
	j->site = site;
	j->ob = ob;
	if (hooks)
		j->hooks = *hooks;
	j->ud = ud;
	*ret = j;
	return 0;
}

void journal_set_store(journal *j, store *st)
{
	j->st = st;
	j->last_seq = st ? store_last_seq(st) : 0;
}

uint64_t journal_last_seq(const journal *j)
{
	return j->last_seq;
}

char *journal_last_event_id(const journal *j, char *buf, size_t len)
{
	return event_id(j->cfg->site.id, store_epoch(j->st), j->last_seq, buf, len);
}

void journal_set_account(journal *j, const char *account)
{
	util_strlcpy(j->account, account ? account : "", sizeof(j->account));
}

void journal_set_time_synced(journal *j, bool synced)
{
	j->time_synced = synced;
}

bool journal_time_synced(const journal *j)
{
	return j->time_synced;
}

size_t journal_n_held(const journal *j)
{
	return j->n_held;
}

int64_t journal_uplink_lost_ms(const journal *j)
{
	return j->uplink_lost_ms;
}

int64_t journal_next_periodic(const journal *j)
{
	return j->next_periodic_ms;
}

void journal_set_next_periodic(journal *j, int64_t wall_ms)
{
	j->next_periodic_ms = wall_ms;
	marks_save(j);
}

int journal_faults_open(const journal *j)
{
	return __builtin_popcount(j->gw_faults);
}

bool journal_store_healthy(const journal *j)
{
	return j->n_held == 0 && (j->store_wrote || (j->st && store_probe(j->st) == 0));
}

/* ---------------------------------------------------------------- marks */

/* Writes the seq high-water mark and the open gateway faults. A failure is
 * logged once; events still go out (an alarm is never held back for the
 * sake of bookkeeping). */
static void marks_save(journal *j)
{
	struct marks_data d = { .seq_hwm = j->seq_hwm,
				.gw_faults = j->gw_faults,
				.uplink_lost_ms = j->uplink_lost_ms,
				.next_periodic_ms = j->next_periodic_ms };
	int r;

	if (!j->marks || !j->st)
		return;
	util_strlcpy(d.epoch, store_epoch(j->st), sizeof(d.epoch));
	r = marks_put(j->marks, &d);
	if (r < 0 && !j->marks_logged)
		log_error("cannot write the marks file of '%s': %s; a restart may raise open "
			  "gateway faults again", j->cfg->storage.path, strerror(-r));
	j->marks_logged = r < 0;
}

void journal_load_marks(journal *j, const char *replaced)
{
	struct marks_data d;
	int r;

	r = marks_open(j->cfg->storage.path, &j->marks);
	if (r < 0) {
		log_error("cannot open the marks file beside '%s': %s; seqs held in memory during a "
			  "storage fault may be given out again after a stop",
			  j->cfg->storage.path, strerror(-r));
	} else if (marks_get(j->marks, &d) == 0) {
		j->gw_faults = d.gw_faults & ((1u << GWEV_MAX) - 1);
		j->uplink_lost_ms = d.uplink_lost_ms;
		j->next_periodic_ms = d.next_periodic_ms;
		if (strcmp(d.epoch, store_epoch(j->st)) == 0) {
			j->seq_hwm = d.seq_hwm;
			if (d.seq_hwm > j->last_seq) {
				log_warning("seqs %" PRIu64 "..%" PRIu64 " of epoch %s may have been "
					    "published from memory but are not in the database; "
					    "numbering goes on at %" PRIu64,
					    j->last_seq + 1, d.seq_hwm, d.epoch, d.seq_hwm + 1);
				j->last_seq = d.seq_hwm;
			}
		}
		if (j->gw_faults)
			log_notice("gateway faults still open from before the start: 0x%x",
				   j->gw_faults);
	}
	if (replaced)
		journal_db_replaced(j, replaced);
}

/* --------------------------------------------------------------- held */

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
	free(h->ref);
	free(h->payload);
}

/* Keeps a copy of sev in memory until the store takes it. The point's
 * state is not copied: when the event is finally written, the point's
 * state then (never older than the event's) goes with it. */
static int list_push(struct held **v, size_t *n, size_t *cap, const struct store_event *sev,
		     int dev, int pt)
{
	struct held *h;

	if (*n == HELD_MAX)
		return -ENOBUFS;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct held *nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	h = &(*v)[*n];
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
	h->ref = dup_or_null(sev->ref);
	h->payload = malloc(sev->payload_len ? sev->payload_len : 1);
	if (h->payload)
		memcpy(h->payload, sev->payload, sev->payload_len);
	h->len = sev->payload_len;
	h->dev = sev->pstate ? dev : -1;
	h->pt = sev->pstate ? pt : -1;
	if (!h->event_id || !h->cls || !h->state || !h->device || !h->payload ||
	    (sev->topic && !h->topic) || !h->order_key || (sev->ref && !h->ref)) {
		held_clear(h);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int hold_event(journal *j, const struct store_event *sev, int dev, int pt)
{
	return list_push(&j->held, &j->n_held, &j->cap_held, sev, dev, pt);
}

void journal_flush_held(journal *j)
{
	size_t done = 0;

	while (done < j->n_held) {
		struct held *h = &j->held[done];
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
			.ref = h->ref,
		};
		struct store_point_state ps;
		int64_t row_id = 0;

		if (h->dev >= 0 && site_pstate_fill(j->site, h->dev, h->pt, &ps) == 0)
			sev.pstate = &ps;
		if (store_commit_event(j->st, &sev, &row_id) < 0)
			break;
		j->store_wrote = true;
		if (row_id)
			outbox_set_row(j->ob, h->seq, row_id);
		held_clear(h);
		done++;
	}
	if (done) {
		memmove(j->held, j->held + done, (j->n_held - done) * sizeof(*j->held));
		j->n_held -= done;
		log_notice("%zu held event(s) written to the database, %zu still held", done,
			   j->n_held);
	}
}

void journal_held_delivered(journal *j, uint64_t seq)
{
	size_t i;

	for (i = 0; i < j->n_held; i++)
		if (j->held[i].seq == seq)
			j->held[i].delivered = true;
}

void journal_free(journal *j)
{
	size_t i;

	if (!j)
		return;
	journal_batch_end(j);
	if (j->st) {
		if (j->n_held)
			journal_flush_held(j);
		/* every seq up to last_seq was used: the next start goes on
		 * right after it, with no gap */
		j->seq_hwm = j->last_seq;
		marks_save(j);
	}
	if (j->n_held)
		log_error("%zu event(s) could not be written to '%s' before the stop; they were "
			  "published if the uplink allowed, but are not in the database; their "
			  "seqs are not given out again",
			  j->n_held, j->cfg->storage.path);
	for (i = 0; i < j->n_held; i++)
		held_clear(&j->held[i]);
	free(j->held);
	free(j->batch);
	marks_free(j->marks);
	free(j);
}

/* --------------------------------------------------------------- events */

int journal_prio(enum event_class cls, bool active)
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

/* Hands an event to the scheduler (from its row, or from memory when
 * row_id is 0) and tells the owner of an alarm. */
static void schedule(journal *j, const struct held *h, int64_t row_id)
{
	struct outbox_item it = { .seq = h->seq, .prio = h->prio, .row_id = row_id };

	if (!h->topic)
		return;
	it.key = outbox_key(j->ob, h->order_key);
	it.tag = row_id ? (uint64_t)row_id : JOURNAL_TAG_MEM | h->seq;
	if (!row_id) {
		it.topic = strdup(h->topic);
		it.payload = malloc(h->len ? h->len : 1);
		if (it.payload)
			memcpy(it.payload, h->payload, h->len);
		it.len = h->len;
	}
	if (it.key < 0 || (!row_id && (!it.topic || !it.payload)) || outbox_add(j->ob, &it) < 0) {
		log_error("out of memory queueing event %s for publishing", h->event_id);
		free(it.topic);
		free(it.payload);
		return;
	}
	if (strcmp(h->cls, "alarm") == 0 && strcmp(h->state, "active") == 0 && j->hooks.alarm)
		j->hooks.alarm(j->ud, h->event_id);
	if (h->prio == STORE_PRIO_ALARM && j->hooks.urgent)
		j->hooks.urgent(j->ud);
}

/* The store undid the open batch: its events are held (the high-water
 * mark first covers them) and go out from memory. */
static void batch_undone(journal *j)
{
	size_t i;

	j->batching = false;
	if (j->n_batch && j->batch[j->n_batch - 1].seq > j->seq_hwm) {
		j->seq_hwm = j->batch[j->n_batch - 1].seq + HWM_STEP;
		marks_save(j);
	}
	for (i = 0; i < j->n_batch; i++) {
		struct held *h = &j->batch[i];

		schedule(j, h, 0);
		if (j->n_held == j->cap_held) {
			size_t cap = j->cap_held ? j->cap_held * 2 : 64;
			struct held *n = realloc(j->held, cap * sizeof(*n));

			if (!n) {
				log_error("event %s could not be stored nor held; it is published but "
					  "not kept", h->event_id);
				held_clear(h);
				continue;
			}
			j->held = n;
			j->cap_held = cap;
		}
		h->row_id = 0;
		j->held[j->n_held++] = *h; /* ownership moves */
	}
	j->n_batch = 0;
}

void journal_batch_begin(journal *j)
{
	/* held events first: a batch only when the store takes writes */
	if (j->batching || j->n_held || !j->st || store_batch_begin(j->st) < 0)
		return;
	j->batching = true;
}

int journal_batch_end(journal *j)
{
	size_t i;
	int r;

	if (!j->batching)
		return 0;
	r = store_batch_end(j->st);
	if (r < 0) {
		store_batch_abort(j->st);
		batch_undone(j);
		storage_error(j, r);
		return r;
	}
	j->batching = false;
	for (i = 0; i < j->n_batch; i++) {
		schedule(j, &j->batch[i], j->batch[i].row_id);
		held_clear(&j->batch[i]);
	}
	j->n_batch = 0;
	return 0;
}

/* SPEC §3: alarm/, fault/ and test/ name the device (or "gateway");
 * record and system are one topic each for the site. */
static const char *topic_device(const char *kind, const struct cfg_device *d)
{
	if (strcmp(kind, "record") == 0 || strcmp(kind, "system") == 0)
		return NULL;
	return d ? d->id : "gateway";
}

int journal_emit(journal *j, const struct journal_event *e)
{
	const struct cfg_device *d = e->dev >= 0 ? &j->cfg->devices[e->dev] : NULL;
	const struct cfg_point *cp = d && e->pt >= 0 ? &d->points[e->pt] : NULL;
	struct store_point_state ps;
	struct event_info info = { 0 };
	struct store_event sev = { 0 };
	struct outbox_item it = { 0 };
	char id[160], topic[400], key[STORE_KEY_MAX];
	int64_t row_id = 0;
	char *payload;
	size_t len;
	int r, batch_err = 0;

	info.site = j->cfg->site.id;
	info.epoch = store_epoch(j->st);
	info.seq = j->last_seq + 1;
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
	info.time_synced = j->time_synced;
	info.by = e->by;
	info.account = j->account[0] ? j->account : NULL;
	info.note = e->note;
	info.result = e->result;
	info.date = e->date;
	info.ref = e->ref;
	info.verdict = e->verdict;
	info.has_counts = e->has_counts;
	info.open_faults = e->open_faults;
	info.disablements = e->disablements;
	payload = event_payload(&info, &len);
	if (!payload)
		return -ENOMEM;

	site_point_key(j->site, e->dev, e->pt, key, sizeof(key));
	if (e->topic_kind)
		site_topic(j->site, e->topic_kind, topic_device(e->topic_kind, d), topic,
			   sizeof(topic));
	event_id(info.site, info.epoch, info.seq, id, sizeof(id));
	if (cp) {
		struct point_rt *p = site_point(j->site, e->dev, e->pt);
		enum point_state now_state = site_point_state(p);

		/* the stored "since" is the time of this change, not of the
		 * previous one */
		if (now_state != p->state) {
			p->state = now_state;
			p->since_ms = info.ts_ms;
			j->site->devs[e->dev].state_dirty = true;
		}
		p->last_seq = info.seq;
		if (site_pstate_fill(j->site, e->dev, e->pt, &ps) < 0)
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
	sev.ref = e->ref;
	/* events behind held ones wait their turn: the store takes seqs in
	 * order only */
	r = j->n_held ? -EAGAIN : store_commit_event(j->st, &sev, &row_id);
	j->last_seq = info.seq;
	if (r == 0)
		j->store_wrote = true;
	if (r < 0 && j->batching) {
		/* the whole batch is undone (the store did it, or does it now for
		 * a commit refused before its statements ran): its events are
		 * held too, before this one (seq order) */
		store_batch_abort(j->st);
		batch_err = r;
		batch_undone(j);
		r = -EAGAIN;
	}
	if (r == 0 && j->batching) {
		/* scheduled once the batch is durable (journal_batch_end) */
		if (list_push(&j->batch, &j->n_batch, &j->cap_batch, &sev, e->dev, e->pt) == 0) {
			j->batch[j->n_batch - 1].row_id = row_id;
			log_info("event %s: %s %s %s%s%s%s", id, sev.cls, e->type ? e->type : "",
				 sev.state, d ? " on '" : "", d ? d->id : "", d ? "'" : "");
			if (j->hooks.event)
				j->hooks.event(j->ud, e->cls);
			free(payload);
			return 0;
		}
		/* out of memory keeping it: the batch is undone and held, and
		 * this one after them (seq order); the fault comes after both */
		log_error("out of memory keeping event %s of a batch; the batch is held in memory",
			  id);
		store_batch_abort(j->st);
		batch_undone(j);
		batch_err = -ENOMEM;
		r = -EAGAIN;
		row_id = 0;
	}
	if (r < 0) {
		int hr;

		/* this seq may go out before SQLite has it: the high-water mark
		 * is written first (ahead, in steps, to spare the flash), so a
		 * stop now never lets a later start give it to other bytes */
		if (info.seq > j->seq_hwm) {
			j->seq_hwm = info.seq + HWM_STEP;
			marks_save(j);
		}
		hr = hold_event(j, &sev, e->dev, e->pt);
		if (hr < 0)
			log_error("event %s (%s %s on '%s') could not be stored nor held (%s); "
				  "it is published but not kept",
				  id, sev.cls, sev.state, sev.device, strerror(-hr));
		if (r != -EAGAIN)
			storage_error(j, r);
	}
	if (batch_err)
		storage_error(j, batch_err);
	log_info("event %s: %s %s %s%s%s%s", id, sev.cls, e->type ? e->type : "", sev.state,
		 d ? " on '" : "", d ? d->id : "", d ? "'" : "");
	if (j->hooks.event)
		j->hooks.event(j->ud, e->cls);
	if (!sev.topic) {
		free(payload);
		return 0;
	}
	it.seq = info.seq;
	it.prio = e->prio;
	it.key = outbox_key(j->ob, key);
	it.row_id = row_id;
	it.tag = row_id ? (uint64_t)row_id : JOURNAL_TAG_MEM | info.seq;
	if (!row_id) {
		it.topic = strdup(topic);
		it.payload = payload;
		it.len = len;
		payload = NULL;
	}
	free(payload);
	if (it.key < 0 || (!row_id && !it.topic) || outbox_add(j->ob, &it) < 0) {
		/* still in SQLite (or held): it goes out after the next restart */
		log_error("out of memory queueing event %s for publishing", id);
		free(it.topic);
		free(it.payload);
		return -ENOMEM;
	}
	if (e->cls == EVCLASS_ALARM && e->active && j->hooks.alarm)
		j->hooks.alarm(j->ud, id);
	if (e->prio == STORE_PRIO_ALARM && j->hooks.urgent)
		j->hooks.urgent(j->ud);
	return 0;
}

int journal_record(journal *j, struct journal_event *e)
{
	e->cls = EVCLASS_RECORD;
	e->active = true;
	e->cid = NULL;
	e->causes = CAUSE_MANUAL;
	e->threshold = NAN;
	e->prio = STORE_PRIO_OTHER;
	e->topic_kind = "record"; /* the center keeps a copy (SPEC §3) */
	return journal_emit(j, e);
}

void journal_mode_event(journal *j, int dev, int pt, const char *type, bool active, int code,
			const char *by, const char *note)
{
	struct journal_event e = { 0 };
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
	journal_emit(j, &e);
}

void journal_point_event(journal *j, int dev, int pt, const struct detect_event *de,
			 const char *by)
{
	const struct cfg_device *d = &j->cfg->devices[dev];
	const struct cfg_point *cp = &d->points[pt];
	struct point_rt *p = site_point(j->site, dev, pt);
	struct journal_event e = { 0 };
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
	e.prio = journal_prio(de->cls, de->active);
	e.suppressed = de->suppressed;
	e.topic_kind = de->cls == EVCLASS_FAULT ? "fault" : "alarm";
	if (p->mode.disabled) {
		/* still polled and stored, not published (SPEC §4) */
		e.topic_kind = NULL;
	} else if (point_in_test(&p->mode) && de->cls != EVCLASS_FAULT) {
		/* a point in test: its fire and pre-alarm events go to test/,
		 * never to alarm/; faults stay real */
		e.cls = EVCLASS_TEST;
		e.topic_kind = "test";
		e.prio = STORE_PRIO_OTHER;
	}
	journal_emit(j, &e);
	if (e.cls == EVCLASS_TEST && de->cls == EVCLASS_ALARM && de->active && !p->mode.tested) {
		p->mode.tested = true;
		journal_mode_event(j, dev, pt, "point_tested", true, 611, by, NULL);
	}
}

/* ------------------------------------------------------- gateway faults */

static void gateway_event(journal *j, enum gw_event ge, bool active, int64_t ts_ms,
			  const char *note)
{
	struct journal_event e = { 0 };
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
	journal_emit(j, &e);
}

bool journal_fault_open(const journal *j, enum gw_event e)
{
	return j->gw_faults & (1u << e);
}

void journal_fault_set(journal *j, enum gw_event e, bool active, int64_t ts_ms, const char *note)
{
	if (journal_fault_open(j, e) == active)
		return;
	if (active)
		j->gw_faults |= 1u << e;
	else
		j->gw_faults &= ~(1u << e);
	if (e == GWEV_UPLINK_LOST && active)
		j->uplink_lost_ms = ts_ms ? ts_ms : util_wall_ms();
	marks_save(j);
	gateway_event(j, e, active, ts_ms, note);
}

void journal_db_replaced(journal *j, const char *note)
{
	j->gw_faults &= ~(1u << GWEV_STORAGE_FAULT);
	j->seq_hwm = 0;
	j->store_wrote = false;
	journal_fault_set(j, GWEV_STORAGE_FAULT, true, 0, note);
}

/* A commit failed: held events are published from memory; the fault says
 * so once (its own event may be held: the bit is set first). */
static void storage_error(journal *j, int err)
{
	char note[400];

	j->store_wrote = false;
	if (journal_fault_open(j, GWEV_STORAGE_FAULT))
		return;
	snprintf(note, sizeof(note), "database '%s': %s; events are kept in memory and published",
		 j->cfg->storage.path, strerror(-err));
	log_error("%s", note);
	journal_fault_set(j, GWEV_STORAGE_FAULT, true, 0, note);
}
