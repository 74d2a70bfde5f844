/* publish.c - the MQTT uplink: paho MQTTAsync clients, wrapped so that
 * the owner (the main loop) sees nothing of paho's threads.
 *
 * Owns: the paho client of the current connect attempt or connection,
 * the reaper thread that destroys the previous one, private copies of
 * every option string (the broker nodes among them), and the note queue.
 *
 * One paho client per connect attempt, to the node the owner selected
 * (paho fixes a client's server at create time). This is also what keeps
 * a reconnect fast. paho 1.3's receive thread polls only for reading, with
 * a 1 s timeout once it has served one socket (MQTTAsyncUtils.c,
 * MQTTAsync_receiveThread: timeout 10 ms at start, 1000 ms after the first
 * ready socket; Socket.c Socket_getReadySocket: poll() on fds_read, and
 * Socket_addPendingWrite is a no-op in the poll() build). A new socket
 * whose TCP connect has completed is writable but not readable, so with a
 * long-lived client the CONNECT of every reconnect went out only when that
 * poll timed out: about 1.05 s after the broker accepted TCP (10 ms on the
 * first connect). Destroying the last client stops paho's threads
 * (MQTTAsync_destroy -> MQTTAsync_terminate -> MQTTAsync_stop), and the
 * next attempt's client starts them afresh, with the 10 ms timeout. That
 * teardown waits for the threads (100 ms steps, up to the 1 s poll when a
 * socket was open), so it runs on a reaper thread, never on the owner's:
 * publish_connect() says -EBUSY meanwhile and PNOTE_READY ends the wait.
 * paho client creation and destruction are serialised process-wide
 * (paho_life), since a client created while paho stops its threads would
 * find them gone. The same per-attempt client is what lets the owner
 * abandon an attempt that hangs (TCP accepted, no CONNACK): paho's
 * MQTTAsync_disconnect refuses a client that is not connected yet, and its
 * connectTimeout is checked only every 3 s (MQTTAsync_checkTimeouts).
 *
 * Threads: publish_* are called by the owner thread only. paho calls the
 * static on_* callbacks on its own send and receive threads, while holding
 * its global mutex. A callback only copies what it needs, frees paho's
 * objects and pushes a struct publish_note into the bounded queue, whose
 * eventfd wakes the owner. p->lock guards the state and is never held while
 * calling into paho (paho holds its mutex while calling us: holding ours
 * across a paho call would invert the lock order). The exception is the
 * subscribe request made from the connect callback, which paho allows.
 * The owner holds p->lock only for a few assignments, never across a wait
 * that a callback could be stuck behind (cond waits release it).
 *
 * A callback never blocks and never waits for room (STYLE.md). The note
 * queue is sized so that a note the owner's bookkeeping depends on always
 * fits, by construction, whatever the owner is doing:
 * - DELIVERED / SEND_FAILED: one per send context, and a context counts
 *   against max_outstanding until the owner has popped its note (not merely
 *   until paho called back), so at most max_outstanding of them wait.
 * - CONNECTED / CONNECT_FAILED / CONNECTION_LOST: at most two per connect
 *   attempt, and publish_connect() starts no attempt unless two more fit
 *   in LINK_NOTES_MAX.
 * - MESSAGE (requests and acks from outside, not bounded by anything we
 *   do): at most max_messages wait; beyond that they are dropped and
 *   counted, and the owner logs the count (rate-limited) in publish_next().
 * The queue holds the sum of the three, so a push never finds it full.
 *
 * Choices (SPEC §3, §5):
 * - No persistence, no offline buffer (sendWhileDisconnected = 0), no
 *   automatic reconnect: the SQLite outbox is the system of record and the
 *   owner decides when to reconnect.
 * - Persistent session: cleansession = 0 (MQTT 3.1.1), or cleanstart = 0
 *   with a one-day Session Expiry Interval (MQTT 5). The broker keeps our
 *   QoS 1 subscriptions and queues the center's acks and requests sent
 *   while the link is down, so an ack that crosses an outage is not lost
 *   (a lost ack would raise a false 1354 fault). We still subscribe after
 *   every connect: a restarted broker without persistence forgot us.
 * - In-flight accounting: each send carries a tiny malloc'd context (tag,
 *   connection epoch). Every connection loss bumps the epoch, so the owner
 *   gets no note about a send made before a PNOTE_CONNECTION_LOST: such a
 *   send is "unknown" and the owner resends it from the outbox. paho still
 *   owns the old send (with a persistent session it may even retransmit it
 *   after the reconnect, a harmless duplicate that receivers dedupe by
 *   event_id); its callback frees the context silently. paho calls exactly
 *   one callback per accepted send, at the latest in MQTTAsync_destroy, so
 *   contexts are never leaked; their number is capped (-EAGAIN beyond) so
 *   memory stays bounded even if paho kept one forever.
 * - QoS 1 window: paho's maxInflight and maxBufferedMessages are both twice
 *   the owner's window, so commands that paho still holds from before a
 *   reconnect cannot make the owner's fresh window fail with -EAGAIN. */
#include "publish.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "secret.h"
#include "util.h"

#define LINK_NOTES_MAX 64 /* link notes waiting for the owner, at most */
#define DROP_LOG_MS 10000 /* the owner logs dropped messages at most this often */
#define PUBLISH_MAX_INFLIGHT 4096
#define PUBLISH_MAX_SUBSCRIPTIONS 64
#define MQTT_MAX_STRING 65535
#define MQTT_MAX_PACKET 268435455
#define SESSION_EXPIRY_S 86400
#define ABORT_WAIT_MS 2000

/* TLS 1.2 is the floor. paho 1.3 built on OpenSSL >= 1.1 ignores
 * MQTTAsync_SSLOptions.sslVersion (it always takes TLS_client_method(),
 * every version) and sets the security level to 1 itself, below Debian's
 * default of 2. The cipher list is the one TLS hook paho applies after
 * that: only suites that exist from TLS 1.2 on (forward secret, no
 * anonymous or PSK ones), so a server that offers TLS 1.0 or 1.1 finds no
 * common suite and the handshake fails, and @SECLEVEL=2 restores Debian's
 * level. TLS 1.3 suites are configured apart from this list: TLS 1.3 is
 * untouched. docs/security.md "The broker". */
#define TLS_CIPHERS "HIGH+TLSv1.2:!aNULL:!eNULL:!PSK:!SRP:!kRSA:@SECLEVEL=2"

/* paho clients are created and destroyed under this lock (file comment) */
static pthread_mutex_t paho_life = PTHREAD_MUTEX_INITIALIZER;

enum link_state {
	LINK_IDLE,
	LINK_CONNECTING,
	LINK_CONNECTED,
};

struct send_ctx {
	publisher *p;
	uint64_t tag;
	uint64_t epoch;
	uint64_t sync_id; /* nonzero: publish_disconnect's own message */
};

struct publisher {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; sync send and disconnect waits */
	queue *notes;
	MQTTAsync client; /* of the current attempt or connection; NULL: none */

	/* the broker nodes; uri points at the selected one */
	char *uris[PUBLISH_MAX_NODES];
	size_t n_uris;
	size_t node;
	const char *uri;
	/* the reaper: destroys the previous client off the owner's thread */
	MQTTAsync dying;      /* guarded by lock */
	bool reaping;         /* guarded by lock */
	bool reaper_started;  /* owner only: reaper must be joined */
	pthread_t reaper;

	char *client_id, *username, *password;
	char *ca_file, *cert_file, *key_file, *key_password;
	char *will_topic;
	void *will_payload;
	size_t will_len;
	char **subscriptions;
	size_t n_subscriptions;
	int version; /* MQTTVERSION_3_1_1 or MQTTVERSION_5 */
	int keepalive_s, connect_timeout_s, max_inflight;
	unsigned max_packet; /* MQTT 5 Maximum Packet Size, 0: none */
	bool tls;

	/* guarded by lock */
	enum link_state state;
	uint64_t epoch;        /* bumped on every loss of the link */
	size_t outstanding;    /* send contexts paho still holds */
	size_t max_outstanding;
	uint64_t sync_id;
	int sync_result;       /* 1 pending, 0 delivered, <0 failed */
	bool disc_pending;

	/* note accounting (see the file comment); atomics: callbacks and the
	 * owner count without p->lock */
	size_t max_messages;
	atomic_size_t messages_queued; /* MESSAGE notes waiting */
	atomic_size_t bytes_queued;    /* their payloads, bytes */
	atomic_size_t link_queued;     /* link notes waiting */
	atomic_ulong dropped;          /* incoming messages dropped */
	atomic_ulong dropped_large;    /* of which: larger than PUBLISH_MAX_PAYLOAD */
	atomic_bool tls_error;         /* OpenSSL reported an error in this attempt */
	unsigned long dropped_logged;  /* owner only: count at the last log line */
	uint64_t drop_log_mono;        /* owner only */
};

/* ---- notes ---------------------------------------------------------- */

void publish_note_clear(struct publish_note *n)
{
	if (!n)
		return;
	free(n->topic);
	free(n->payload);
	free(n->response_topic);
	free(n->correlation);
	memset(n, 0, sizeof(*n));
	n->kind = PNOTE_INVALID;
}

static bool is_link_note(enum publish_note_kind kind)
{
	return kind == PNOTE_CONNECTED || kind == PNOTE_CONNECT_FAILED ||
	       kind == PNOTE_CONNECTION_LOST || kind == PNOTE_READY;
}

/* Takes ownership of n's buffers. Called from paho's threads, sometimes
 * with p->lock held, and from the owner: never waits. The note was
 * admitted by its kind's bound (file comment), so the queue has room; a
 * full queue here is a bug in that accounting, logged loudly. */
static void push_note(publisher *p, struct publish_note *n)
{
	int r;

	if (is_link_note(n->kind))
		atomic_fetch_add(&p->link_queued, 1);
	r = queue_push(p->notes, n);
	if (r < 0) {
		if (is_link_note(n->kind))
			atomic_fetch_sub(&p->link_queued, 1);
		else if (n->kind == PNOTE_MESSAGE) {
			atomic_fetch_sub(&p->messages_queued, 1);
			atomic_fetch_sub(&p->bytes_queued, n->len);
		}
		log_error("BUG: MQTT note %d (tag %llu) for '%s' lost: %s", (int)n->kind,
			  (unsigned long long)n->tag, p->uri, strerror(-r));
		publish_note_clear(n);
	}
}

static void push_simple(publisher *p, enum publish_note_kind kind, uint64_t tag, int rc,
			const char *text)
{
	struct publish_note n = { .kind = kind, .tag = tag, .rc = rc };

	if (text)
		util_strlcpy(n.text, text, sizeof(n.text));
	push_note(p, &n);
}

/* With p->lock held: the link is gone; every send made so far is unknown. */
static void link_lost_locked(publisher *p, const char *why)
{
	p->state = LINK_IDLE;
	p->epoch++;
	push_simple(p, PNOTE_CONNECTION_LOST, 0, -ECONNRESET, why);
}

static void client_retire(publisher *p);

/* ---- error mapping -------------------------------------------------- */

static int send_errno(int rc)
{
	switch (rc) {
	case MQTTASYNC_DISCONNECTED:
		return -ENOTCONN;
	case MQTTASYNC_MAX_BUFFERED_MESSAGES:
	case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
	case MQTTASYNC_NO_MORE_MSGIDS:
	case MQTTASYNC_COMMAND_IGNORED:
		return -EAGAIN;
	case MQTTASYNC_BAD_UTF8_STRING:
	case MQTTASYNC_NULL_PARAMETER:
	case MQTTASYNC_TOPICNAME_TRUNCATED:
	case MQTTASYNC_BAD_STRUCTURE:
	case MQTTASYNC_BAD_QOS:
	case MQTTASYNC_BAD_PROTOCOL:
	case MQTTASYNC_BAD_MQTT_OPTION:
	case MQTTASYNC_WRONG_MQTT_VERSION:
	case MQTTASYNC_0_LEN_WILL_TOPIC:
	case MQTTASYNC_MAX_BUFFERED:
		return -EINVAL;
	case MQTTASYNC_SSL_NOT_SUPPORTED:
		return -EPROTONOSUPPORT;
	case -99: /* PAHO_MEMORY_ERROR, not in the public header */
		return -ENOMEM;
	case MQTTASYNC_OPERATION_INCOMPLETE:
		return -ECONNABORTED;
	default:
		return -EIO;
	}
}

/* MQTT 3.1.1 CONNACK return codes (spec 3.2.2.3) and MQTT 5 reason codes. */
static int connect_errno(int code, int reason, const char *message)
{
	if (reason >= 0x80) {
		switch (reason) {
		case MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION:
			return -EPROTONOSUPPORT;
		case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID:
			return -EINVAL;
		case MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD:
		case MQTTREASONCODE_NOT_AUTHORIZED:
		case MQTTREASONCODE_BANNED:
			return -EACCES;
		default:
			return -ECONNREFUSED;
		}
	}
	switch (code) {
	case 1:
		return -EPROTONOSUPPORT;
	case 2:
		return -EINVAL;
	case 3:
		return -ECONNREFUSED;
	case 4:
	case 5:
		return -EACCES;
	case MQTTASYNC_OPERATION_INCOMPLETE:
		return -ECONNABORTED;
	default:
		break;
	}
	/* paho gives no errno for socket failures, only this text */
	if (message && strstr(message, "timeout"))
		return -ETIMEDOUT;
	return -ECONNREFUSED;
}

static const char *connack_text(int code)
{
	static const char *const t[] = { "accepted",
					 "unacceptable protocol version",
					 "identifier rejected",
					 "server unavailable",
					 "bad user name or password",
					 "not authorized" };

	return code >= 0 && (size_t)code < ARRAY_SIZE(t) ? t[code] : "refused";
}

static void connect_failed(publisher *p, int code, int reason, const char *message)
{
	struct publish_note n = { .kind = PNOTE_CONNECT_FAILED };

	n.rc = connect_errno(code, reason, message);
	if (reason >= 0x80)
		snprintf(n.text, sizeof(n.text), "%s (reason 0x%02x)",
			 MQTTReasonCode_toString((enum MQTTReasonCodes)reason), (unsigned)reason);
	else if (code > 0)
		snprintf(n.text, sizeof(n.text), "CONNACK %d: %s", code, connack_text(code));
	else if (message && p->tls && !atomic_load(&p->tls_error))
		/* paho checks the host name after the handshake and reports
		 * nothing more than a refused TCP connection would */
		snprintf(n.text, sizeof(n.text),
			 "%s (no TLS error: the TCP connection was refused, or the server's "
			 "certificate does not name the host)",
			 message);
	else if (message)
		snprintf(n.text, sizeof(n.text), "%s", message);
	else
		snprintf(n.text, sizeof(n.text), "%s", MQTTAsync_strerror(code));

	log_debug("connect to '%s' failed: %s (code %d)", p->uri, n.text, code);
	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTING) {
		p->state = LINK_IDLE;
		push_note(p, &n);
	}
	pthread_mutex_unlock(&p->lock);
}

/* ---- paho callbacks (paho's threads) -------------------------------- */

static void on_subscribe_ok(void *context, MQTTAsync_successData *r)
{
	publisher *p = context;

	/* a single topic's refusal comes as granted QoS 0x80 */
	if (p->n_subscriptions == 1 && r && r->alt.qos == MQTT_BAD_SUBSCRIBE)
		log_warning("subscription to '%s' refused by '%s'", p->subscriptions[0], p->uri);
	else if (p->n_subscriptions > 1 && r && r->alt.qosList) {
		for (size_t i = 0; i < p->n_subscriptions; i++)
			if (r->alt.qosList[i] == MQTT_BAD_SUBSCRIBE)
				log_warning("subscription to '%s' refused by '%s'",
					    p->subscriptions[i], p->uri);
	}
}

static void on_subscribe_fail(void *context, MQTTAsync_failureData *r)
{
	publisher *p = context;

	log_warning("subscribing on '%s' failed: %s", p->uri,
		    r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1));
}

static void on_subscribe_ok5(void *context, MQTTAsync_successData5 *r)
{
	publisher *p = context;

	if (!r)
		return;
	/* paho 1.3.12 leaves alt.sub.reasonCodes uninitialised when one
	 * topic was subscribed: only reasonCode is valid then */
	if (p->n_subscriptions == 1) {
		if (r->reasonCode >= 0x80)
			log_warning("subscription to '%s' refused by '%s': %s", p->subscriptions[0],
				    p->uri, MQTTReasonCode_toString(r->reasonCode));
		return;
	}
	for (int i = 0; i < r->alt.sub.reasonCodeCount && (size_t)i < p->n_subscriptions; i++)
		if (r->alt.sub.reasonCodes[i] >= 0x80)
			log_warning("subscription to '%s' refused by '%s': %s",
				    p->subscriptions[i], p->uri,
				    MQTTReasonCode_toString(r->alt.sub.reasonCodes[i]));
}

static void on_subscribe_fail5(void *context, MQTTAsync_failureData5 *r)
{
	publisher *p = context;

	log_warning("subscribing on '%s' failed: %s", p->uri,
		    r && r->message ? r->message
				    : MQTTReasonCode_toString(r ? r->reasonCode : MQTTREASONCODE_UNSPECIFIED_ERROR));
}

static void subscribe_all(publisher *p, MQTTAsync client)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int qos[PUBLISH_MAX_SUBSCRIPTIONS];
	int rc;

	if (p->n_subscriptions == 0)
		return;
	for (size_t i = 0; i < p->n_subscriptions; i++)
		qos[i] = 1;
	ro.context = p;
	if (p->version == MQTTVERSION_5) {
		ro.onSuccess5 = on_subscribe_ok5;
		ro.onFailure5 = on_subscribe_fail5;
	} else {
		ro.onSuccess = on_subscribe_ok;
		ro.onFailure = on_subscribe_fail;
	}
	rc = MQTTAsync_subscribeMany(client, (int)p->n_subscriptions, p->subscriptions, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		log_warning("failed to subscribe on '%s': %s", p->uri, MQTTAsync_strerror(rc));
}

static void connected(publisher *p)
{
	MQTTAsync client;

	log_debug("connected to '%s'", p->uri);
	pthread_mutex_lock(&p->lock);
	if (p->state != LINK_CONNECTING) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->state = LINK_CONNECTED;
	/* valid through this callback even if the owner retires it now: paho
	 * holds its mutex while calling us, and destroying takes it */
	client = p->client;
	pthread_mutex_unlock(&p->lock);

	/* requested before the note, so whatever the owner sends next is
	 * queued behind the SUBSCRIBE on the same connection */
	subscribe_all(p, client);

	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTED)
		push_simple(p, PNOTE_CONNECTED, 0, 0, NULL);
	pthread_mutex_unlock(&p->lock);
}

static void on_connect_ok(void *context, MQTTAsync_successData *r)
{
	(void)r;
	connected(context);
}

static void on_connect_ok5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	connected(context);
}

static void on_connect_fail(void *context, MQTTAsync_failureData *r)
{
	connect_failed(context, r ? r->code : MQTTASYNC_FAILURE, 0, r ? r->message : NULL);
}

static void on_connect_fail5(void *context, MQTTAsync_failureData5 *r)
{
	connect_failed(context, r ? r->code : MQTTASYNC_FAILURE, r ? (int)r->reasonCode : 0,
		       r ? r->message : NULL);
}

/* paho documents cause as always NULL and does not hand it over to us */
static void on_connection_lost(void *context, char *cause)
{
	publisher *p = context;

	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTED)
		link_lost_locked(p, cause ? cause : "connection lost");
	p->disc_pending = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* MQTT 5 only: a DISCONNECT from the broker (session taken over, server
 * shutting down). paho clears its connected flag before it closes, so it
 * calls neither connectionLost nor any other callback for this. */
static void on_disconnected5(void *context, MQTTProperties *props, enum MQTTReasonCodes reason)
{
	publisher *p = context;
	char why[128];

	(void)props;
	snprintf(why, sizeof(why), "disconnected by the broker: %s",
		 MQTTReasonCode_toString(reason));
	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTED)
		link_lost_locked(p, why);
	p->disc_pending = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *dup_bytes(const void *src, size_t len)
{
	char *d = malloc(len + 1);

	if (!d)
		return NULL;
	if (len)
		memcpy(d, src, len);
	d[len] = '\0';
	return d;
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m)
{
	publisher *p = context;
	struct publish_note n = { .kind = PNOTE_MESSAGE };
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	MQTTProperty *prop;

	/* dropped and counted, never waited for; the owner logs the count */
	if (m->payloadlen < 0 || (size_t)m->payloadlen > PUBLISH_MAX_PAYLOAD) {
		atomic_fetch_add(&p->dropped_large, 1);
		atomic_fetch_add(&p->dropped, 1);
		goto out;
	}
	if (atomic_fetch_add(&p->messages_queued, 1) >= p->max_messages) {
		atomic_fetch_sub(&p->messages_queued, 1);
		atomic_fetch_add(&p->dropped, 1);
		goto out;
	}
	/* and by bytes: a flood of large requests must not hold more than
	 * PUBLISH_MAX_QUEUED_BYTES (the unit's MemoryMax would kill the
	 * daemon, and the persistent session would bring the flood back) */
	if (atomic_fetch_add(&p->bytes_queued, (size_t)m->payloadlen) + (size_t)m->payloadlen >
	    PUBLISH_MAX_QUEUED_BYTES) {
		atomic_fetch_sub(&p->bytes_queued, (size_t)m->payloadlen);
		atomic_fetch_sub(&p->messages_queued, 1);
		atomic_fetch_add(&p->dropped, 1);
		goto out;
	}
	n.len = (size_t)m->payloadlen;
	n.topic = dup_bytes(topic, tlen);
	n.payload = dup_bytes(m->payload, n.len);
	if (!n.topic || !n.payload)
		goto oom;
	prop = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
	if (prop && prop->value.data.len >= 0) {
		n.response_topic = dup_bytes(prop->value.data.data, (size_t)prop->value.data.len);
		if (!n.response_topic)
			goto oom;
	}
	prop = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
	if (prop && prop->value.data.len >= 0) {
		n.correlation_len = (size_t)prop->value.data.len;
		n.correlation = dup_bytes(prop->value.data.data, n.correlation_len);
		if (!n.correlation)
			goto oom;
	}
	push_note(p, &n);
	goto out;

oom:
	atomic_fetch_sub(&p->messages_queued, 1);
	atomic_fetch_sub(&p->bytes_queued, (size_t)m->payloadlen);
	atomic_fetch_add(&p->dropped, 1);
	publish_note_clear(&n);
out:
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1; /* handled: paho must not redeliver it */
}

static void send_done(struct send_ctx *c, bool ok, int rc, const char *message)
{
	publisher *p = c->p;

	pthread_mutex_lock(&p->lock);
	if (c->sync_id) {
		p->outstanding--;
		if (c->sync_id == p->sync_id) {
			p->sync_result = ok ? 0 : send_errno(rc);
			pthread_cond_broadcast(&p->cond);
		}
	} else if (c->epoch != p->epoch) {
		/* sent before a connection loss; the owner already counts it
		 * as unknown and resends it */
		p->outstanding--;
	} else {
		/* the context's place in max_outstanding passes to its note,
		 * freed when the owner pops it (publish_next) */
		struct publish_note n = { .kind = ok ? PNOTE_DELIVERED : PNOTE_SEND_FAILED,
					  .tag = c->tag };

		if (!ok) {
			n.rc = send_errno(rc);
			snprintf(n.text, sizeof(n.text), "%s",
				 message ? message : MQTTAsync_strerror(rc));
		}
		push_note(p, &n);
	}
	pthread_mutex_unlock(&p->lock);
	free(c);
}

static void on_send_ok(void *context, MQTTAsync_successData *r)
{
	(void)r;
	send_done(context, true, 0, NULL);
}

static void on_send_fail(void *context, MQTTAsync_failureData *r)
{
	send_done(context, false, r ? r->code : MQTTASYNC_FAILURE, r ? r->message : NULL);
}

static void on_send_ok5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	send_done(context, true, 0, NULL);
}

static void on_send_fail5(void *context, MQTTAsync_failureData5 *r)
{
	send_done(context, false, r ? r->code : MQTTASYNC_FAILURE, r ? r->message : NULL);
}

static void on_disconnect_done(publisher *p)
{
	pthread_mutex_lock(&p->lock);
	p->disc_pending = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void on_disc_ok(void *context, MQTTAsync_successData *r)
{
	(void)r;
	on_disconnect_done(context);
}

static void on_disc_fail(void *context, MQTTAsync_failureData *r)
{
	(void)r;
	on_disconnect_done(context);
}

static void on_disc_ok5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	on_disconnect_done(context);
}

static void on_disc_fail5(void *context, MQTTAsync_failureData5 *r)
{
	(void)r;
	on_disconnect_done(context);
}

static int on_ssl_error(const char *str, size_t len, void *u)
{
	publisher *p = u;
	char esc[600];

	atomic_store(&p->tls_error, true);
	/* OpenSSL's text ends in newlines and may quote the peer's data */
	while (len && (str[len - 1] == '\n' || str[len - 1] == '\r'))
		len--;
	log_warning("TLS error on '%s': %s", p->uri, util_escape(str, len, esc, sizeof(esc)));
	return 0;
}

/* ---- option checks -------------------------------------------------- */

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* scheme://host[:port] with a scheme we support and a sane port. paho
 * itself accepts a uri without a scheme and never checks the port. */
static int check_uri(const char *uri, bool *ret_tls)
{
	static const char *const plain[] = { "tcp://", "mqtt://" };
	static const char *const secure[] = { "ssl://", "mqtts://" };
	const char *host = NULL, *port = NULL, *end;
	long v;

	for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
		if (has_prefix(uri, plain[i])) {
			host = uri + strlen(plain[i]);
			*ret_tls = false;
		}
	for (size_t i = 0; i < ARRAY_SIZE(secure); i++)
		if (has_prefix(uri, secure[i])) {
			host = uri + strlen(secure[i]);
			*ret_tls = true;
		}
	if (!host || !*host || strpbrk(host, "/ \t?#@"))
		return -EINVAL;
	if (*host == '[') {
		end = strchr(host, ']');
		if (!end || end == host + 1)
			return -EINVAL;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -EINVAL;
	} else {
		end = strchr(host, ':');
		if (end == host)
			return -EINVAL;
		if (end)
			port = end + 1;
	}
	if (port && util_parse_long(port, 1, 65535, &v) < 0)
		return -EINVAL;
	return 0;
}

static bool topic_ok(const char *t, bool filter)
{
	size_t len;

	if (!t || !*t)
		return false;
	len = strlen(t);
	if (len > MQTT_MAX_STRING)
		return false;
	return filter || !strpbrk(t, "+#");
}

static int check_opts(const struct publish_opts *o, bool *ret_tls)
{
	const char *what = NULL;
	bool tls = false;

	if (!o->uri || check_uri(o->uri, &tls) < 0)
		what = "bad uri (want tcp://host[:port] or ssl://host[:port])";
	else if (!o->client_id || !*o->client_id || strlen(o->client_id) > MQTT_MAX_STRING)
		what = "bad client id";
	else if (o->version != 3 && o->version != 5)
		what = "MQTT version must be 3 (3.1.1) or 5";
	else if (o->keepalive_s < 0 || o->keepalive_s > 65535)
		what = "keepalive out of range 0..65535";
	else if (o->connect_timeout_s < 0)
		what = "negative connect timeout";
	else if (o->password && !o->username)
		what = "password without user name";
	else if ((o->username && strlen(o->username) > MQTT_MAX_STRING) ||
		 (o->password && strlen(o->password) > MQTT_MAX_STRING))
		what = "user name or password too long";
	else if (o->will_topic && !topic_ok(o->will_topic, false))
		what = "bad will topic";
	else if (o->will_topic && (o->will_len > MQTT_MAX_STRING || (o->will_len && !o->will_payload)))
		what = "bad will payload";
	else if (o->inflight < 1 || o->inflight > PUBLISH_MAX_INFLIGHT)
		what = "inflight out of range 1..4096";
	else if (o->n_subscriptions > PUBLISH_MAX_SUBSCRIPTIONS ||
		 (o->n_subscriptions && !o->subscriptions))
		what = "bad subscription list";
	else if (!tls && (o->ca_file || o->cert_file || o->key_file || o->key_password_file))
		what = "TLS files given for a plain uri (use ssl://)";
	else if (o->key_password_file && !o->key_file)
		what = "a key pass phrase without a key file";
	else if (o->password_file && o->password)
		what = "both a password and a password file";
	else if (o->password_file && !o->username)
		what = "password file without user name";
	else if (o->max_packet && (o->version != 5 || o->max_packet < 1024 ||
				   o->max_packet > MQTT_MAX_PACKET))
		what = "a maximum packet size needs MQTT 5 and 1024..268435455 bytes";
	if (!what)
		for (size_t i = 0; i < o->n_subscriptions; i++)
			if (!topic_ok(o->subscriptions[i], true))
				what = "bad subscription topic";
	if (!what) {
		const char *files[] = { o->ca_file, o->cert_file, o->key_file };

		for (size_t i = 0; i < ARRAY_SIZE(files); i++)
			if (files[i] && access(files[i], R_OK) < 0) {
				log_error("MQTT uplink '%s': cannot read '%s': %s", o->uri,
					  files[i], strerror(errno));
				return -EINVAL;
			}
	}
	if (what) {
		log_error("MQTT uplink '%s': %s", o->uri ? o->uri : "(null)", what);
		return -EINVAL;
	}
	*ret_tls = tls;
	return 0;
}

/* ---- credentials (secret.c reads the files) ------------------------ */

/* Reads one secret file into a malloc'd string, logging what is wrong
 * (never the secret). */
static int load_secret(const char *uri, const char *what, const char *path, char **ret)
{
	char buf[SECRET_MAX + 1], why[PATH_MAX * 2 + 128];
	int r;

	*ret = NULL;
	if (!path)
		return 0;
	r = secret_read(path, buf, sizeof(buf), why, sizeof(why));
	if (r < 0) {
		char esc[1024];

		log_error("MQTT uplink '%s': %s '%s' %s", uri, what,
			  util_escape(path, strlen(path), esc, sizeof(esc)), why);
		return r;
	}
	*ret = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *ret ? 0 : -ENOMEM;
}

static int dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* ---- public API (owner thread) -------------------------------------- */

static atomic_bool paho_initialised;

/* The node list: each a valid URI (check_uri), all plain or all TLS, none
 * twice. The first node is checked with the other options by check_opts. */
static int check_uris(const struct publish_opts *o, const char *const **ret_list,
		      size_t *ret_n)
{
	const char *const *list = o->uris ? o->uris : &o->uri;
	size_t n = o->uris ? o->n_uris : 1;
	bool tls0 = false, tls;

	if (n < 1 || n > PUBLISH_MAX_NODES) {
		log_error("MQTT uplink: %zu broker nodes, want 1..%d", n, PUBLISH_MAX_NODES);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!list[i] || check_uri(list[i], &tls) < 0) {
			log_error("MQTT uplink '%s': bad uri (want tcp://host[:port] or "
				  "ssl://host[:port])",
				  list[i] ? list[i] : "(null)");
			return -EINVAL;
		}
		if (i == 0)
			tls0 = tls;
		if (tls != tls0) {
			log_error("MQTT uplink '%s': plain and TLS nodes mixed", list[i]);
			return -EINVAL;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(list[k], list[i]) == 0) {
				log_error("MQTT uplink '%s': node listed twice", list[i]);
				return -EINVAL;
			}
	}
	*ret_list = list;
	*ret_n = n;
	return 0;
}

int publish_new(const struct publish_opts *o, publisher **ret)
{
	struct publish_opts first;
	const char *const *nodes;
	pthread_condattr_t ca;
	publisher *p;
	size_t n_nodes;
	bool tls;
	int r;

	if (!o || !ret)
		return -EINVAL;
	r = check_uris(o, &nodes, &n_nodes);
	if (r < 0)
		return r;
	first = *o;
	first.uri = nodes[0];
	r = check_opts(&first, &tls);
	if (r < 0)
		return r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->state = LINK_IDLE;
	p->tls = tls;
	p->version = o->version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
	p->keepalive_s = o->keepalive_s;
	p->connect_timeout_s = o->connect_timeout_s ? o->connect_timeout_s
						    : (o->keepalive_s ? o->keepalive_s : 30);
	p->max_inflight = 2 * o->inflight;
	/* paho's own bound is max_inflight in flight + max_inflight queued */
	p->max_outstanding = 2 * (size_t)p->max_inflight + 16;
	p->max_messages = o->max_messages ? (size_t)o->max_messages : PUBLISH_MAX_MESSAGES;
	p->max_packet = o->max_packet;

	r = -ENOMEM;
	for (size_t i = 0; i < n_nodes; i++)
		if (dup_opt(nodes[i], &p->uris[p->n_uris++]) < 0)
			goto out_free;
	p->uri = p->uris[0];
	if (dup_opt(o->client_id, &p->client_id) < 0 ||
	    dup_opt(o->username, &p->username) < 0 || dup_opt(o->password, &p->password) < 0 ||
	    dup_opt(o->ca_file, &p->ca_file) < 0 || dup_opt(o->cert_file, &p->cert_file) < 0 ||
	    dup_opt(o->key_file, &p->key_file) < 0 || dup_opt(o->will_topic, &p->will_topic) < 0)
		goto out_free;
	if (o->password_file) {
		r = load_secret(p->uri, "mqtt.password_file", o->password_file, &p->password);
		if (r < 0)
			goto out_free;
	}
	r = load_secret(p->uri, "mqtt.tls.key_password_file", o->key_password_file,
			&p->key_password);
	if (r < 0)
		goto out_free;
	if (p->password && strlen(p->password) > MQTT_MAX_STRING) {
		log_error("MQTT uplink '%s': the password is too long", p->uri);
		r = -EINVAL;
		goto out_free;
	}
	r = -ENOMEM;
	if (o->will_topic) {
		p->will_payload = dup_bytes(o->will_payload, o->will_len);
		if (!p->will_payload)
			goto out_free;
		p->will_len = o->will_len;
	}
	if (o->n_subscriptions) {
		p->subscriptions = calloc(o->n_subscriptions, sizeof(char *));
		if (!p->subscriptions)
			goto out_free;
		p->n_subscriptions = o->n_subscriptions;
		for (size_t i = 0; i < o->n_subscriptions; i++)
			if (dup_opt(o->subscriptions[i], &p->subscriptions[i]) < 0)
				goto out_free;
	}
	/* room for every note that can wait at once: never full (file comment) */
	r = queue_new(p->max_outstanding + LINK_NOTES_MAX + p->max_messages,
		      sizeof(struct publish_note), &p->notes);
	if (r < 0)
		goto out_free;

	/* paho initialises all of OpenSSL (error strings, every algorithm)
	 * unless told not to: without TLS that is megabytes of resident memory
	 * for nothing (SPEC §8 budget). Once per process, before the first
	 * client, as paho requires; OpenSSL 3 still initialises itself when
	 * TLS is used after all. */
	if (!atomic_exchange(&paho_initialised, true)) {
		MQTTAsync_init_options io = MQTTAsync_init_options_initializer;

		io.do_openssl_init = tls ? 1 : 0;
		MQTTAsync_global_init(&io);
	}
	/* the client is made per connect attempt (attempt_start) */
	*ret = p;
	return 0;

out_free:
	publish_free(p);
	return r;
}

void publish_free(publisher *p)
{
	struct publish_note n;

	if (!p)
		return;
	/* paho calls onFailure for every send it still holds while it is
	 * destroyed, so all send contexts are freed here */
	if (p->reaper_started)
		pthread_join(p->reaper, NULL);
	if (p->client) {
		pthread_mutex_lock(&paho_life);
		MQTTAsync_destroy(&p->client);
		pthread_mutex_unlock(&paho_life);
	}
	if (p->notes) {
		while (queue_pop(p->notes, &n))
			publish_note_clear(&n);
		queue_free(p->notes);
	}
	/* n_subscriptions is set only once the array exists */
	for (size_t i = 0; p->subscriptions && i < p->n_subscriptions; i++)
		free(p->subscriptions[i]);
	free(p->subscriptions);
	for (size_t i = 0; i < p->n_uris; i++)
		free(p->uris[i]);
	free(p->client_id);
	free(p->username);
	secret_free(p->password);
	secret_free(p->key_password);
	free(p->ca_file);
	free(p->cert_file);
	free(p->key_file);
	free(p->will_topic);
	free(p->will_payload);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int publish_fd(const publisher *p)
{
	return queue_fd(p->notes);
}

/* Owner thread: the count of dropped incoming messages, at most every
 * DROP_LOG_MS (a flood must not become a flood of log lines). */
static void log_drops(publisher *p)
{
	unsigned long d = atomic_load(&p->dropped);
	uint64_t now;

	if (d == p->dropped_logged)
		return;
	now = util_mono_ms();
	if (p->drop_log_mono && now < p->drop_log_mono + DROP_LOG_MS)
		return;
	log_warning("dropped %lu incoming message(s) from '%s' since the last report (%lu in "
		    "all: %lu larger than %d bytes, the others beyond %zu waiting for the main "
		    "loop)",
		    d - p->dropped_logged, p->uri, d, atomic_load(&p->dropped_large),
		    PUBLISH_MAX_PAYLOAD, p->max_messages);
	p->dropped_logged = d;
	p->drop_log_mono = now;
}

bool publish_next(publisher *p, struct publish_note *ret)
{
	if (!p || !ret)
		return false;
	log_drops(p);
	if (!queue_pop(p->notes, ret))
		return false;
	switch (ret->kind) {
	case PNOTE_MESSAGE:
		atomic_fetch_sub(&p->messages_queued, 1);
		atomic_fetch_sub(&p->bytes_queued, ret->len);
		break;
	case PNOTE_DELIVERED:
	case PNOTE_SEND_FAILED:
		pthread_mutex_lock(&p->lock);
		p->outstanding--;
		pthread_mutex_unlock(&p->lock);
		break;
	case PNOTE_CONNECT_FAILED:
	case PNOTE_CONNECTION_LOST:
		atomic_fetch_sub(&p->link_queued, 1);
		/* the client is done with: tear it down now, in the background,
		 * so the next attempt finds it gone */
		client_retire(p);
		break;
	default:
		atomic_fetch_sub(&p->link_queued, 1);
		break;
	}
	return true;
}

unsigned long publish_dropped(const publisher *p)
{
	return p ? atomic_load(&p->dropped) : 0;
}

bool publish_is_connected(const publisher *p)
{
	publisher *mp = (publisher *)p; /* the lock is not part of the value */
	bool up;

	if (!p)
		return false;
	pthread_mutex_lock(&mp->lock);
	up = p->state == LINK_CONNECTED;
	pthread_mutex_unlock(&mp->lock);
	return up;
}

/* ---- connect attempts (owner thread) -------------------------------- */

static void *reaper_main(void *arg)
{
	publisher *p = arg;
	MQTTAsync c;

	pthread_mutex_lock(&p->lock);
	c = p->dying;
	pthread_mutex_unlock(&p->lock);
	/* paho calls the send callbacks of what the client still held: their
	 * epoch is old, so they are freed silently (send_done) */
	pthread_mutex_lock(&paho_life);
	MQTTAsync_destroy(&c);
	pthread_mutex_unlock(&paho_life);
	pthread_mutex_lock(&p->lock);
	p->dying = NULL;
	p->reaping = false;
	push_simple(p, PNOTE_READY, 0, 0, NULL);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Hands the client of a finished attempt or connection to the reaper.
 * Only while the link is idle: a live client is never torn down here. */
static void client_retire(publisher *p)
{
	pthread_mutex_lock(&p->lock);
	if (!p->client || p->reaping || p->state != LINK_IDLE) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->dying = p->client;
	p->client = NULL;
	p->reaping = true;
	pthread_mutex_unlock(&p->lock);
	if (p->reaper_started)
		pthread_join(p->reaper, NULL); /* it has finished: reaping was false */
	p->reaper_started = pthread_create(&p->reaper, NULL, reaper_main, p) == 0;
	if (!p->reaper_started) {
		log_warning("MQTT uplink '%s': no thread for the teardown; doing it inline",
			    p->uri);
		reaper_main(p);
	}
}

/* The checks before an attempt: idle, no client left, room for its notes. */
static int attempt_begin(publisher *p)
{
	bool retire = false;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->state != LINK_IDLE)
		r = -EALREADY;
	else if (p->reaping)
		r = -EBUSY;
	else if (p->client)
		retire = true; /* the owner has not popped the loss note yet */
	/* this attempt makes at most three link notes: they must fit */
	else if (atomic_load(&p->link_queued) + 3 > LINK_NOTES_MAX)
		r = -EAGAIN;
	else
		p->state = LINK_CONNECTING;
	pthread_mutex_unlock(&p->lock);
	if (retire) {
		client_retire(p);
		r = -EBUSY;
	}
	return r;
}

/* Creates the attempt's client for the selected node and starts paho's
 * connect. paho return codes. */
static int attempt_start(publisher *p, MQTTAsync_connectOptions *c)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	MQTTAsync client = NULL;
	int rc;

	co.sendWhileDisconnected = 0;
	co.maxBufferedMessages = p->max_inflight;
	co.MQTTVersion = p->version;
	co.deleteOldestMessages = 0;
	co.restoreMessages = 0;
	co.persistQoS0 = 0;
	pthread_mutex_lock(&paho_life);
	rc = MQTTAsync_createWithOptions(&client, p->uri, p->client_id, MQTTCLIENT_PERSISTENCE_NONE,
					 NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		pthread_mutex_unlock(&paho_life);
		log_error("MQTT uplink '%s': cannot create client: %s", p->uri,
			  MQTTAsync_strerror(rc));
		return rc;
	}
	rc = MQTTAsync_setCallbacks(client, p, on_connection_lost, on_message, NULL);
	if (rc == MQTTASYNC_SUCCESS && p->version == MQTTVERSION_5)
		rc = MQTTAsync_setDisconnected(client, p, on_disconnected5);
	if (rc == MQTTASYNC_SUCCESS) {
		pthread_mutex_lock(&p->lock);
		p->client = client; /* before the connect: its callbacks use it */
		pthread_mutex_unlock(&p->lock);
		rc = MQTTAsync_connect(client, c);
	}
	if (rc != MQTTASYNC_SUCCESS) {
		pthread_mutex_lock(&p->lock);
		p->client = NULL;
		pthread_mutex_unlock(&p->lock);
		MQTTAsync_destroy(&client);
	}
	pthread_mutex_unlock(&paho_life);
	return rc;
}

int publish_connect_node(publisher *p, size_t node)
{
	if (!p || node >= p->n_uris)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_IDLE && !p->client && !p->reaping) {
		p->node = node;
		p->uri = p->uris[node];
	}
	pthread_mutex_unlock(&p->lock);
	return publish_connect(p);
}

size_t publish_nodes(const publisher *p)
{
	return p ? p->n_uris : 0;
}

const char *publish_node_uri(const publisher *p, size_t node)
{
	return p && node < p->n_uris ? p->uris[node] : NULL;
}

/* The TLS side of a connect: verification always on (the chain against
 * ca_file, or the system's store without one; the host name against the
 * certificate, paho's verify), TLS 1.2 as the floor (TLS_CIPHERS), the
 * client certificate and key for mutual TLS, the key's pass phrase. */
static void tls_options(publisher *p, MQTTAsync_SSLOptions *ssl)
{
	ssl->trustStore = p->ca_file;
	ssl->keyStore = p->cert_file;
	ssl->privateKey = p->key_file;
	ssl->privateKeyPassword = p->key_password;
	ssl->enableServerCertAuth = 1;
	ssl->verify = 1; /* check the host name too */
	/* what the field promises; paho 1.3 on OpenSSL 3 does not use it
	 * (see TLS_CIPHERS), and on OpenSSL 1.0 it means exactly TLS 1.2,
	 * the newest that has */
	ssl->sslVersion = MQTT_SSL_VERSION_TLS_1_2;
	ssl->enabledCipherSuites = TLS_CIPHERS;
	ssl->ssl_error_cb = on_ssl_error;
	ssl->ssl_error_context = p;
}

/* MQTT 5 CONNECT properties: a one-day session, and the Maximum Packet
 * Size, so the broker never sends us a packet larger than we can hold
 * (paho reads a whole packet into memory before we see it). */
static int connect_properties(publisher *p, MQTTProperties *props)
{
	MQTTProperty expiry = { .identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL };
	MQTTProperty maxp = { .identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE };

	expiry.value.integer4 = SESSION_EXPIRY_S;
	if (MQTTProperties_add(props, &expiry) != 0)
		return -99; /* paho's memory error */
	if (p->max_packet) {
		maxp.value.integer4 = p->max_packet;
		if (MQTTProperties_add(props, &maxp) != 0)
			return -99;
	}
	return 0;
}

int publish_connect(publisher *p)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTProperties props = MQTTProperties_initializer;
	MQTTAsync_connectOptions *c;
	int rc;

	if (!p)
		return -EINVAL;
	rc = attempt_begin(p);
	if (rc < 0)
		return rc;

	if (p->version == MQTTVERSION_5) {
		c = &co5;
		c->cleanstart = 0;
		c->onSuccess5 = on_connect_ok5;
		c->onFailure5 = on_connect_fail5;
		rc = connect_properties(p, &props);
		if (rc != 0)
			goto out_fail;
		c->connectProperties = &props;
	} else {
		c = &co;
		c->cleansession = 0;
		c->onSuccess = on_connect_ok;
		c->onFailure = on_connect_fail;
	}
	c->context = p;
	c->MQTTVersion = p->version;
	c->keepAliveInterval = p->keepalive_s;
	c->connectTimeout = p->connect_timeout_s;
	c->maxInflight = p->max_inflight;
	c->automaticReconnect = 0;
	c->retryInterval = 0; /* resends are the outbox's job */
	c->username = p->username;
	c->password = p->password;
	if (p->will_topic) {
		will.topicName = p->will_topic;
		will.message = NULL; /* binary-safe: paho then uses payload */
		will.payload.data = p->will_payload;
		will.payload.len = (int)p->will_len;
		will.retained = 1;
		will.qos = 1;
		c->will = &will;
	}
	if (p->tls) {
		tls_options(p, &ssl);
		c->ssl = &ssl;
	}
	atomic_store(&p->tls_error, false);
	log_debug("connecting to '%s' as '%s'", p->uri, p->client_id);
	rc = attempt_start(p, c);
	MQTTProperties_free(&props); /* paho copied them */
	if (rc == MQTTASYNC_SUCCESS)
		return 0;

out_fail:
	MQTTProperties_free(&props);
	log_warning("cannot start connecting to '%s': %s", p->uri, MQTTAsync_strerror(rc));
	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTING)
		p->state = LINK_IDLE;
	pthread_mutex_unlock(&p->lock);
	return send_errno(rc);
}

static int send_message(publisher *p, const char *topic, const void *payload, size_t len,
			int qos, bool retain, struct send_ctx *ctx, const void *correlation,
			size_t correlation_len)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTProperty corr = { .identifier = MQTTPROPERTY_CODE_CORRELATION_DATA };
	int rc;

	msg.payload = (void *)payload; /* paho copies it */
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retain;
	if (correlation) {
		corr.value.data.data = (char *)correlation; /* deep-copied by _add */
		corr.value.data.len = (int)correlation_len;
		if (MQTTProperties_add(&msg.properties, &corr) != 0)
			return -ENOMEM;
	}
	ro.context = ctx;
	if (p->version == MQTTVERSION_5) {
		ro.onSuccess5 = on_send_ok5;
		ro.onFailure5 = on_send_fail5;
	} else {
		ro.onSuccess = on_send_ok;
		ro.onFailure = on_send_fail;
	}
	rc = MQTTAsync_sendMessage(p->client, topic, &msg, &ro);
	MQTTProperties_free(&msg.properties);
	return rc == MQTTASYNC_SUCCESS ? 0 : send_errno(rc);
}

/* Registers a send context, or fails when the link is down. */
static int ctx_new(publisher *p, uint64_t tag, bool sync, struct send_ctx **ret)
{
	struct send_ctx *c = calloc(1, sizeof(*c));
	int r = 0;

	if (!c)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	if (p->state != LINK_CONNECTED)
		r = -ENOTCONN;
	else if (p->outstanding >= p->max_outstanding)
		r = -EAGAIN;
	else {
		c->p = p;
		c->tag = tag;
		c->epoch = p->epoch;
		if (sync) {
			c->sync_id = ++p->sync_id;
			p->sync_result = 1;
		}
		p->outstanding++;
	}
	pthread_mutex_unlock(&p->lock);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* Only for a send paho refused: paho will never call back for it. */
static void ctx_drop(publisher *p, struct send_ctx *c)
{
	pthread_mutex_lock(&p->lock);
	p->outstanding--;
	pthread_mutex_unlock(&p->lock);
	free(c);
}

int publish_send(publisher *p, const char *topic, const void *payload, size_t len, int qos,
		 bool retain, uint64_t tag, const void *correlation, size_t correlation_len)
{
	struct send_ctx *c;
	int r;

	if (!p || !topic_ok(topic, false) || (len && !payload) || len > MQTT_MAX_PACKET ||
	    qos < 0 || qos > 2)
		return -EINVAL;
	if (correlation && (p->version != MQTTVERSION_5 || correlation_len > MQTT_MAX_STRING))
		return -EINVAL;
	r = ctx_new(p, tag, false, &c);
	if (r < 0)
		return r;
	r = send_message(p, topic, payload, len, qos, retain, c, correlation, correlation_len);
	if (r < 0)
		ctx_drop(p, c);
	return r;
}

static void deadline_ts(uint64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

int publish_disconnect(publisher *p, const char *topic, const void *payload, size_t len,
		       int timeout_ms)
{
	MQTTAsync_disconnectOptions d3 = MQTTAsync_disconnectOptions_initializer;
	MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
	MQTTAsync_disconnectOptions *d = p && p->version == MQTTVERSION_5 ? &d5 : &d3;
	uint64_t deadline;
	struct timespec ts;
	struct send_ctx *c;
	int r, rc, left;

	if (!p || !topic_ok(topic, false) || (len && !payload) || len > MQTT_MAX_PACKET ||
	    timeout_ms < 0)
		return -EINVAL;
	deadline = util_mono_ms() + (uint64_t)timeout_ms;
	deadline_ts(deadline, &ts);

	r = ctx_new(p, 0, true, &c);
	if (r < 0)
		return r;
	r = send_message(p, topic, payload, len, 1, true, c, NULL, 0);
	if (r < 0) {
		ctx_drop(p, c);
	} else {
		pthread_mutex_lock(&p->lock);
		while (p->sync_result == 1 && p->state == LINK_CONNECTED &&
		       pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
			;
		r = p->sync_result == 1 ? (p->state == LINK_CONNECTED ? -ETIMEDOUT : -ENOTCONN)
					: p->sync_result;
		pthread_mutex_unlock(&p->lock);
	}

	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTED)
		link_lost_locked(p, "disconnected");
	p->disc_pending = true;
	pthread_mutex_unlock(&p->lock);

	left = (int)(deadline > util_mono_ms() ? deadline - util_mono_ms() : 0);
	d->timeout = left;
	d->context = p;
	if (p->version == MQTTVERSION_5) {
		d->onSuccess5 = on_disc_ok5;
		d->onFailure5 = on_disc_fail5;
	} else {
		d->onSuccess = on_disc_ok;
		d->onFailure = on_disc_fail;
	}
	rc = MQTTAsync_disconnect(p->client, d);
	pthread_mutex_lock(&p->lock);
	if (rc != MQTTASYNC_SUCCESS)
		p->disc_pending = false; /* already down: paho will not call back */
	while (p->disc_pending && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	if (p->disc_pending && r == 0)
		r = -ETIMEDOUT;
	pthread_mutex_unlock(&p->lock);
	if (r < 0)
		log_warning("clean disconnect from '%s' incomplete: %s", p->uri, strerror(-r));
	return r;
}

void publish_abort(publisher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->state == LINK_CONNECTING) {
		/* paho would neither disconnect a client that is not connected
		 * yet nor time the attempt out for seconds: drop the client */
		p->state = LINK_IDLE;
		push_simple(p, PNOTE_CONNECT_FAILED, 0, -ECANCELED, "connect attempt abandoned");
	} else if (p->state == LINK_CONNECTED) {
		/* paho calls connectionLost only for losses it detects itself */
		link_lost_locked(p, "connection aborted");
	} else {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	/* destroying closes the socket (with a DISCONNECT when connected) */
	client_retire(p);
}
