/* uplink.c - the MQTT uplink (uplink.h). Owns the link state, the in-flight
 * window, the resync cursor, the telemetry backfill cursor and token
 * bucket, the batched deletions and the removed devices. Main loop only. */
#include "uplink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "event.h"
#include "log.h"
#include "payload.h"
#include "util.h"

#define DELETE_BATCH_MAX 256
#define DELETE_BATCH_MS 100
#define TELEMETRY_BACKFILL_PER_S 1000 /* batches per second while catching up */
#define TAG_TELEMETRY (1ull << 62)    /* a telemetry row: TAG_TELEMETRY | row id */
#define TAG_RETAINED (1ull << 63)     /* status, states, answers: not in the outbox */
#define INFLIGHT_MAX 1024
#define EVENT_RETRY_MS 1000 /* while an event waits: an attempt at least this often */
/* A new alarm abandons an attempt that has waited this long for its
 * CONNACK (a node that accepted TCP and hangs) and tries the next node;
 * a younger attempt is left to finish. Only where there is another node
 * to try, and the wait doubles with every abandon in a row (reset once a
 * connection is up): a link so slow that its connect takes longer (TLS
 * over a poor cellular line) is given the time it needs, and an alarm
 * storm cannot keep it from ever connecting. */
#define KICK_ABORT_MS 1000
#define KICK_ABORT_MAX_SHIFT 5
#define PUB_BUSY_MAX_MS 15000 /* READY awaited at most this long */

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP };

struct inflight {
	uint64_t tag;
	uint64_t sent_mono;
	int64_t row_id; /* telemetry rows: deleted on delivery */
};

struct removed_dev {
	char id[CONFIG_ID_MAX];
	uint64_t tag; /* the empty retained publish in flight, 0 when none */
	bool cleared;
};

struct uplink {
	const struct config *cfg;
	struct site *site;
	store *st;
	outbox *ob;
	journal *j;
	publisher *pub;
	struct uplink_hooks hooks;
	void *ud;

	enum link_state link;
	uint64_t next_connect_mono;
	int backoff_ms;
	size_t node;            /* the node of the last attempt (publish.h) */
	bool tried;             /* an attempt was made: the next one goes to node + 1 */
	uint64_t attempt_mono;  /* when the attempt in progress started */
	bool pub_busy;          /* the publisher tears down its last client: wait for READY */
	uint64_t pub_busy_mono; /* since when */
	unsigned kick_aborts;   /* attempts abandoned for an alarm since the last connection */
	bool resync;        /* after a connect: status and states first */
	bool status_dirty;
	size_t resync_next; /* next device whose state goes out */
	struct inflight inflight[INFLIGHT_MAX];
	size_t n_inflight;
	uint64_t retained_tag;
	uint64_t send_retry_mono; /* after a refused send: wait before retrying */

	/* telemetry backfill */
	bool tel_waiting; /* rows may wait after tel_cursor */
	int64_t tel_cursor;
	uint64_t tel_tokens_mono;
	double tel_tokens;

	/* batched outbox deletions */
	int64_t del_ids[DELETE_BATCH_MAX];
	size_t n_del;
	uint64_t del_due;

	/* devices gone from the configuration: their retained state is cleared */
	struct removed_dev *removed;
	size_t n_removed;

	/* one more retained message kept up to date (the compliance status) */
	char kept_topic[400];
	char *kept_payload;
	size_t kept_len;
	bool kept_dirty;
};

/* ------------------------------------------------------------ link */

static void link_kick(uplink *u)
{
	u->next_connect_mono = util_mono_ms();
}

int uplink_retry_delay_ms(int *backoff_ms, int max_ms, bool event_waiting, uint32_t rnd)
{
	int b = *backoff_ms ? *backoff_ms * 2 : 500;

	if (b > max_ms)
		b = max_ms;
	if (b < 2)
		b = 2;
	*backoff_ms = b;
	/* while an event waits the back-off grows no further than
	 * EVENT_RETRY_MS, so an alarm raised during an outage goes out soon
	 * after the broker is back */
	if (event_waiting && b > EVENT_RETRY_MS)
		b = EVENT_RETRY_MS;
	/* full jitter over the upper half: many gateways restarting after a
	 * broker outage must not reconnect in lock-step */
	return b / 2 + (int)(rnd % (uint32_t)(b / 2 + 1));
}

static uint32_t random32(void)
{
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)util_mono_ms();
	return rnd;
}

/* A fire alarm or pre-alarm waits to be sent: the reconnect back-off is
 * cut to EVENT_RETRY_MS. Other events (faults, among them the link loss
 * itself, which every outage journals) keep the back-off, so a province
 * of gateways does not hammer a recovering broker every second. */
static bool alarm_waits(const uplink *u)
{
	return outbox_best_prio(u->ob) <= STORE_PRIO_PREALARM;
}

static void link_schedule_retry(uplink *u)
{
	int delay = uplink_retry_delay_ms(&u->backoff_ms, u->cfg->mqtt.reconnect_max_s * 1000,
					  alarm_waits(u), random32());

	u->next_connect_mono = util_mono_ms() + (uint64_t)delay;
}

/* The node in use, or of the last attempt. */
static const char *node_uri(const uplink *u)
{
	const char *uri = publish_node_uri(u->pub, u->node);

	return uri ? uri : u->cfg->mqtt.uri;
}

static void link_lost(uplink *u, const char *why)
{
	bool was_up = u->link == LINK_UP;

	u->link = LINK_DOWN;
	u->n_inflight = 0;
	outbox_requeue_all(u->ob);
	for (size_t i = 0; i < u->n_removed; i++)
		u->removed[i].tag = 0;
	u->tel_cursor = 0;
	u->tel_waiting = true;
	u->resync = false;
	if (was_up) {
		log_warning("uplink to '%s' lost: %s", node_uri(u), why);
		u->backoff_ms = 0;
	}
	/* 1350 carries the time the link was lost; it goes out when the
	 * link returns */
	if (!journal_fault_open(u->j, GWEV_UPLINK_LOST))
		journal_fault_set(u->j, GWEV_UPLINK_LOST, true, util_wall_ms(), why);
	link_schedule_retry(u);
}

static int inflight_add(uplink *u, uint64_t tag, int64_t row_id)
{
	if (u->n_inflight >= INFLIGHT_MAX)
		return -EAGAIN;
	u->inflight[u->n_inflight++] =
		(struct inflight){ .tag = tag, .sent_mono = util_mono_ms(), .row_id = row_id };
	return 0;
}

static bool inflight_take(uplink *u, uint64_t tag, struct inflight *ret)
{
	size_t i;

	for (i = 0; i < u->n_inflight; i++)
		if (u->inflight[i].tag == tag) {
			*ret = u->inflight[i];
			u->inflight[i] = u->inflight[--u->n_inflight];
			return true;
		}
	return false;
}

static void delete_row(uplink *u, int64_t row_id)
{
	if (row_id <= 0)
		return;
	if (u->n_del == 0)
		u->del_due = util_mono_ms() + DELETE_BATCH_MS;
	u->del_ids[u->n_del++] = row_id;
	if (u->n_del == DELETE_BATCH_MAX) {
		store_outbox_delete(u->st, u->del_ids, u->n_del);
		u->n_del = 0;
	}
}

static void delete_flush(uplink *u)
{
	if (u->n_del) {
		store_outbox_delete(u->st, u->del_ids, u->n_del);
		u->n_del = 0;
	}
}

static int send_retained(uplink *u, const char *topic, char *payload, size_t len)
{
	uint64_t tag = TAG_RETAINED | ++u->retained_tag;
	int r;

	if (!payload)
		return -ENOMEM;
	r = publish_send(u->pub, topic, payload, len, 1, true, tag, NULL, 0);
	free(payload);
	if (r == 0)
		inflight_add(u, tag, 0);
	return r;
}

static int send_status(uplink *u)
{
	char topic[400];
	size_t len;

	char *payload;

	site_topic(u->site, "status", NULL, topic, sizeof(topic));
	payload = event_dump(u->hooks.status(u->ud, "online", NULL), &len);
	return send_retained(u, topic, payload, len);
}

static int send_device_state(uplink *u, int dev)
{
	char topic[400];
	size_t len;
	int r;

	char *payload;

	site_topic(u->site, "state", u->cfg->devices[dev].id, topic, sizeof(topic));
	payload = payload_device_state(u->site, dev, util_mono_ms(), util_wall_ms(),
				       journal_time_synced(u->j), &len);
	r = send_retained(u, topic, payload, len);
	if (r == 0)
		u->site->devs[dev].state_dirty = false;
	return r;
}

static int send_event(uplink *u)
{
	const struct outbox_item *it = outbox_next(u->ob);
	char *topic = NULL;
	void *payload = NULL;
	size_t len = 0;
	uint64_t tag;
	int r;

	if (!it)
		return -ENOENT;
	tag = it->tag;
	if (it->row_id) {
		r = store_outbox_get(u->st, it->row_id, &topic, &payload, &len);
		if (r == -ENOENT) {
			/* the row is gone (pruned by hand, a database replaced):
			 * nothing left to send for this entry */
			log_error("outbox row %" PRId64 " (event seq %" PRIu64 ") vanished; skipping it",
				  it->row_id, it->seq);
			outbox_acked(u->ob, tag, NULL, NULL);
			return 0;
		}
		if (r < 0) {
			outbox_unsend(u->ob, tag);
			u->send_retry_mono = util_mono_ms() + 1000;
			return r;
		}
		r = publish_send(u->pub, topic, payload, len, 1, false, tag, NULL, 0);
		free(topic);
		free(payload);
	} else {
		r = publish_send(u->pub, it->topic, it->payload, it->len, 1, false, tag, NULL, 0);
	}
	if (r < 0) {
		outbox_unsend(u->ob, tag);
		return r;
	}
	inflight_add(u, tag, 0);
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

static int send_telemetry(uplink *u)
{
	struct tel_pick pick = { 0 };
	uint64_t now = util_mono_ms();
	char *topic = NULL;
	void *payload = NULL;
	size_t len;
	int r;

	/* token bucket: backfill never floods the window */
	u->tel_tokens += (double)(now - u->tel_tokens_mono) * TELEMETRY_BACKFILL_PER_S / 1000.0;
	u->tel_tokens_mono = now;
	if (u->tel_tokens > TELEMETRY_BACKFILL_PER_S)
		u->tel_tokens = TELEMETRY_BACKFILL_PER_S;
	if (u->tel_tokens < 1.0)
		return -ENOENT; /* nothing may go now; not an error to pause for */
	if (!u->tel_waiting)
		return -ENOENT;
	store_outbox_foreach(u->st, STORE_PRIO_TELEMETRY, STORE_PRIO_TELEMETRY, u->tel_cursor, 1,
			     tel_pick_cb, &pick);
	if (!pick.id) {
		/* none left after the cursor: no query per wake-up until a new
		 * batch is made or the link comes back */
		u->tel_waiting = false;
		return -ENOENT;
	}
	r = store_outbox_get(u->st, pick.id, &topic, &payload, &len);
	if (r < 0)
		return r;
	r = publish_send(u->pub, topic, payload, len, pick.qos, false, TAG_TELEMETRY | (uint64_t)pick.id,
			 NULL, 0);
	free(topic);
	free(payload);
	if (r < 0)
		return r;
	u->tel_cursor = pick.id;
	u->tel_tokens -= 1.0;
	inflight_add(u, TAG_TELEMETRY | (uint64_t)pick.id, pick.id);
	return 0;
}

/* Sends what may go now, in SPEC §5 order, within the in-flight window. */
/* An empty retained message clears a removed device's state at the broker. */
static int send_removed(uplink *u)
{
	char topic[400];
	size_t i;
	int r;

	for (i = 0; i < u->n_removed; i++) {
		struct removed_dev *rd = &u->removed[i];
		uint64_t tag;

		if (rd->cleared || rd->tag)
			continue;
		tag = TAG_RETAINED | ++u->retained_tag;
		site_topic(u->site, "state", rd->id, topic, sizeof(topic));
		r = publish_send(u->pub, topic, "", 0, 1, true, tag, NULL, 0);
		if (r < 0)
			return r;
		rd->tag = tag;
		inflight_add(u, tag, 0);
		return 0;
	}
	return -ENOENT;
}

static void pump(uplink *u)
{
	size_t window = (size_t)u->cfg->mqtt.inflight;

	/* after a refused send (client window full) or an unreadable row:
	 * a short pause, never a spin */
	if (util_mono_ms() < u->send_retry_mono)
		return;
	while (u->link == LINK_UP && u->n_inflight < window) {
		int r = -ENOENT;

		if (u->status_dirty) {
			r = send_status(u);
			if (r == 0)
				u->status_dirty = false;
		} else if (u->kept_dirty && u->kept_payload) {
			char *copy = malloc(u->kept_len ? u->kept_len : 1);

			if (copy)
				memcpy(copy, u->kept_payload, u->kept_len);
			r = send_retained(u, u->kept_topic, copy, u->kept_len);
			if (r == 0)
				u->kept_dirty = false;
		} else if (u->resync) {
			while (u->resync_next < u->cfg->n_devices && r == -ENOENT) {
				r = send_device_state(u, (int)u->resync_next);
				if (r == 0)
					u->resync_next++;
			}
			if (u->resync_next >= u->cfg->n_devices && r == -ENOENT)
				r = send_removed(u);
			if (u->resync_next >= u->cfg->n_devices && r == -ENOENT) {
				u->resync = false;
				continue;
			}
		} else {
			size_t i;

			r = send_event(u);
			for (i = 0; r == -ENOENT && i < u->cfg->n_devices; i++)
				if (u->site->devs[i].state_dirty)
					r = send_device_state(u, (int)i);
			/* telemetry never takes more than half the window: a
			 * new alarm always finds a slot free */
			if (r == -ENOENT && u->n_inflight < (window + 1) / 2)
				r = send_telemetry(u);
		}
		if (r < 0) {
			if (r != -ENOENT && u->send_retry_mono < util_mono_ms() + 50)
				u->send_retry_mono = util_mono_ms() + 50;
			break;
		}
	}
}

static void removed_delivered(uplink *u, uint64_t tag)
{
	size_t i;

	for (i = 0; i < u->n_removed; i++)
		if (u->removed[i].tag == tag) {
			u->removed[i].tag = 0;
			u->removed[i].cleared = true;
			store_point_state_delete_device(u->st, u->removed[i].id);
			log_notice("retained state of removed device '%s' cleared", u->removed[i].id);
		}
}

static void handle_delivered(uplink *u, uint64_t tag)
{
	struct inflight f;
	int64_t row_id = 0;
	uint64_t seq = 0;

	if (!inflight_take(u, tag, &f))
		return; /* a delivery for a connection that is gone */
	if (tag & TAG_RETAINED) {
		removed_delivered(u, tag);
		return;
	}
	if (tag & TAG_TELEMETRY) {
		delete_row(u, f.row_id);
		return;
	}
	if (outbox_acked(u->ob, tag, &row_id, &seq) < 0)
		return;
	if (row_id)
		delete_row(u, row_id);
	else
		journal_held_delivered(u->j, seq);
}

static void handle_note(uplink *u, struct publish_note *n)
{
	switch (n->kind) {
	case PNOTE_CONNECTED:
		/* not connecting: the note of an attempt the uplink abandoned
		 * just as it succeeded (its client is gone) */
		if (u->link != LINK_CONNECTING) {
			log_debug("stale connected note for '%s' ignored", node_uri(u));
			break;
		}
		log_notice("uplink to '%s' up", node_uri(u));
		u->link = LINK_UP;
		u->backoff_ms = 0;
		u->kick_aborts = 0;
		u->n_inflight = 0;
		u->status_dirty = true;
		u->kept_dirty = true;
		u->resync = true;
		u->resync_next = 0;
		u->tel_cursor = 0;
		u->tel_waiting = true;
		journal_fault_set(u->j, GWEV_UPLINK_LOST, false, 0, NULL);
		break;
	case PNOTE_CONNECT_FAILED:
		/* not connecting: an attempt the uplink abandoned itself */
		if (u->link != LINK_CONNECTING)
			break;
		log_warning("failed to connect to '%s': %s", node_uri(u), n->text);
		link_lost(u, n->text[0] ? n->text : "connect failed");
		break;
	case PNOTE_CONNECTION_LOST:
		/* not up: a connection the uplink dropped itself (ack stall) */
		if (u->link == LINK_UP)
			link_lost(u, n->text[0] ? n->text : "connection lost");
		break;
	case PNOTE_READY:
		u->pub_busy = false;
		break;
	case PNOTE_DELIVERED:
		handle_delivered(u, n->tag);
		break;
	case PNOTE_SEND_FAILED:
		/* only happens when the connection is going down: resend all
		 * in order after the reconnect rather than one out of order */
		if (u->link == LINK_UP) {
			log_warning("a publish to '%s' failed (%s); reconnecting", node_uri(u),
				    n->text);
			publish_abort(u->pub);
		}
		break;
	case PNOTE_MESSAGE:
		if (u->hooks.message)
			u->hooks.message(u->ud, n);
		break;
	default:
		break;
	}
}

/* One attempt, to the node after the last one used (the first node at
 * start): a dead node costs one attempt, not a turn at the head of every
 * round as with paho's serverURIs. */
static void link_attempt(uplink *u, uint64_t now)
{
	size_t n = publish_nodes(u->pub), node = u->tried && n ? (u->node + 1) % n : 0;
	int r = publish_connect_node(u->pub, node);

	if (r == -EBUSY) {
		if (!u->pub_busy)
			u->pub_busy_mono = now;
		u->pub_busy = true; /* PNOTE_READY comes; same node then */
		return;
	}
	if (r == 0 || r == -EALREADY) {
		u->node = node;
		u->tried = true;
		u->link = LINK_CONNECTING;
		u->attempt_mono = now;
		log_info("connecting to '%s'", node_uri(u));
		return;
	}
	link_schedule_retry(u);
}

/* Gives up the attempt in progress (no CONNACK in time, or an alarm
 * waits); at_once: the next node now, else after the back-off. */
static void link_abandon(uplink *u, const char *why, bool at_once)
{
	publish_abort(u->pub);
	link_lost(u, why);
	if (at_once)
		u->next_connect_mono = util_mono_ms();
}

static void link_tick(uplink *u, uint64_t now)
{
	/* an alarm waits: the next attempt within EVENT_RETRY_MS */
	if (u->link == LINK_DOWN && u->next_connect_mono > now + EVENT_RETRY_MS &&
	    alarm_waits(u))
		u->next_connect_mono =
			now + EVENT_RETRY_MS / 2 + random32() % (EVENT_RETRY_MS / 2 + 1);
	/* a lost READY note must not stop the reconnects for good: a
	 * teardown takes about a second, so after PUB_BUSY_MAX_MS the
	 * publisher is asked again (it answers -EBUSY while still busy) */
	if (u->pub_busy && now - u->pub_busy_mono >= PUB_BUSY_MAX_MS) {
		log_warning("the MQTT client's teardown has not been confirmed for %" PRIu64
			    " ms; asking again",
			    now - u->pub_busy_mono);
		u->pub_busy = false;
	}
	if (u->link == LINK_DOWN && !u->pub_busy && now >= u->next_connect_mono)
		link_attempt(u, now);
	if (u->link == LINK_CONNECTING &&
	    now - u->attempt_mono >= (uint64_t)u->cfg->mqtt.connect_timeout_s * 1000u) {
		log_warning("no CONNACK from '%s' within %d s; trying the next node", node_uri(u),
			    u->cfg->mqtt.connect_timeout_s);
		link_abandon(u, "connect timeout", false);
	}
	if (u->link == LINK_UP && u->n_inflight > 0) {
		uint64_t oldest = UINT64_MAX;
		size_t i;

		for (i = 0; i < u->n_inflight; i++)
			if (u->inflight[i].sent_mono < oldest)
				oldest = u->inflight[i].sent_mono;
		if (now - oldest > (uint64_t)u->cfg->mqtt.ack_stall_s * 1000u) {
			log_warning("broker '%s' has not acknowledged a message for %d s; reconnecting",
				    node_uri(u), u->cfg->mqtt.ack_stall_s);
			publish_abort(u->pub);
			link_lost(u, "acknowledgement stalled");
		}
	}
}


/* ------------------------------------------------------------ public */

int uplink_new(const struct config *c, struct site *site, store *st, outbox *ob, journal *j,
	       publisher *pub, const struct uplink_hooks *hooks, void *ud, uplink **ret)
{
	uplink *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->cfg = c;
	u->site = site;
	u->st = st;
	u->ob = ob;
	u->j = j;
	u->pub = pub;
	u->hooks = *hooks;
	u->ud = ud;
	u->link = LINK_DOWN;
	u->tel_waiting = true;
	u->tel_tokens_mono = util_mono_ms();
	link_kick(u);
	*ret = u;
	return 0;
}

void uplink_free(uplink *u)
{
	if (!u)
		return;
	if (u->st)
		delete_flush(u);
	free(u->removed);
	free(u->kept_payload);
	free(u);
}

int uplink_keep_retained(uplink *u, const char *kind, const char *payload, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, payload, len);
	free(u->kept_payload);
	u->kept_payload = copy;
	u->kept_len = len;
	site_topic(u->site, kind, NULL, u->kept_topic, sizeof(u->kept_topic));
	u->kept_dirty = true;
	return 0;
}

void uplink_set_store(uplink *u, store *st)
{
	u->n_del = 0; /* rows of the old database */
	u->st = st;
}

void uplink_kick(uplink *u)
{
	uint64_t now = util_mono_ms();

	if (u->link == LINK_DOWN)
		link_kick(u);
	else if (u->link == LINK_CONNECTING && publish_nodes(u->pub) > 1 &&
		 now - u->attempt_mono >=
			 (uint64_t)KICK_ABORT_MS
				 << (u->kick_aborts < KICK_ABORT_MAX_SHIFT ? u->kick_aborts
									   : KICK_ABORT_MAX_SHIFT)) {
		log_warning("an alarm waits and '%s' has not answered the connect for %" PRIu64
			    " ms; trying the next node now",
			    node_uri(u), now - u->attempt_mono);
		u->kick_aborts++;
		link_abandon(u, "connect attempt hung", true);
	}
}

void uplink_tick(uplink *u, uint64_t now)
{
	link_tick(u, now);
	if (u->n_del && now >= u->del_due)
		delete_flush(u);
}

void uplink_pump(uplink *u)
{
	pump(u);
}

void uplink_drain_notes(uplink *u, int budget)
{
	struct publish_note note;

	while (budget-- > 0 && publish_next(u->pub, &note)) {
		handle_note(u, &note);
		publish_note_clear(&note);
	}
}

static int until(uint64_t now, uint64_t due, int cur)
{
	int t;

	if (due <= now)
		return 0;
	t = due - now > INT32_MAX ? INT32_MAX : (int)(due - now);
	return t < cur ? t : cur;
}

int uplink_timeout(const uplink *u, uint64_t now, int cur)
{
	if (u->link == LINK_DOWN && !u->pub_busy)
		cur = until(now, u->next_connect_mono, cur);
	if (u->link == LINK_CONNECTING)
		cur = until(now, u->attempt_mono + (uint64_t)u->cfg->mqtt.connect_timeout_s * 1000u,
			    cur);
	if (u->n_del)
		cur = until(now, u->del_due, cur);
	if (u->link == LINK_UP && outbox_pending(u->ob) &&
	    u->n_inflight < (size_t)u->cfg->mqtt.inflight)
		cur = until(now, u->send_retry_mono, cur);
	return cur;
}

void uplink_status_dirty(uplink *u)
{
	u->status_dirty = true;
}

void uplink_telemetry_added(uplink *u)
{
	u->tel_waiting = true;
}

int uplink_telemetry_send(uplink *u, const char *topic, const void *payload, size_t len, int qos)
{
	size_t window = (size_t)u->cfg->mqtt.inflight;
	uint64_t tag;
	int r;

	if (qos != 0 || u->link != LINK_UP || u->resync || u->tel_waiting ||
	    u->n_inflight >= (window + 1) / 2)
		return -EAGAIN;
	/* not an outbox row: delivered like the retained messages, nothing to
	 * delete */
	tag = TAG_RETAINED | ++u->retained_tag;
	r = publish_send(u->pub, topic, payload, len, 0, false, tag, NULL, 0);
	if (r < 0)
		return r;
	inflight_add(u, tag, 0);
	return 0;
}

void uplink_removed_add(uplink *u, const char *dev)
{
	struct removed_dev *n;
	size_t i;

	for (i = 0; i < u->n_removed; i++)
		if (strcmp(u->removed[i].id, dev) == 0)
			return;
	n = realloc(u->removed, (u->n_removed + 1) * sizeof(*n));
	if (!n)
		return;
	u->removed = n;
	memset(&n[u->n_removed], 0, sizeof(n[0]));
	util_strlcpy(n[u->n_removed].id, dev, sizeof(n[0].id));
	u->n_removed++;
	log_notice("device '%s' is no longer configured; its retained state will be cleared", dev);
}

int uplink_answer(uplink *u, const char *topic, const void *payload, size_t len,
		  const void *correlation, size_t correlation_len)
{
	uint64_t tag = TAG_RETAINED | ++u->retained_tag;
	int r;

	r = publish_send(u->pub, topic, payload, len, 1, false, tag, correlation, correlation_len);
	if (r == 0)
		inflight_add(u, tag, 0);
	return r;
}

bool uplink_is_up(const uplink *u)
{
	return u->link == LINK_UP;
}

size_t uplink_inflight(const uplink *u)
{
	return u->n_inflight;
}

const char *uplink_broker(const uplink *u)
{
	return node_uri(u);
}

void uplink_offline(uplink *u, const char *reason)
{
	char topic[400];
	size_t len;
	char *off;

	if (u->link != LINK_UP)
		return;
	off = event_dump(u->hooks.status(u->ud, "offline", reason), &len);
	site_topic(u->site, "status", NULL, topic, sizeof(topic));
	if (off)
		publish_disconnect(u->pub, topic, off, len, 2000);
	free(off);
}
