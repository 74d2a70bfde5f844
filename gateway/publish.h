/* publish.h - the MQTT uplink, a thin wrapper over paho MQTTAsync.
 * paho's callbacks run on paho's threads: they only fill notes into a
 * bounded queue and wake the owner through publish_fd(). The owner (main
 * loop) decides when to connect, what to send and when to give up: paho's
 * automatic reconnect, offline buffering and persistence are all off, since
 * the SQLite outbox is the system of record. SPEC §3, §5. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct publisher publisher;

struct publish_opts {
	const char *uri;        /* tcp://host:port or ssl://host:port */
	/* the nodes of a cluster, one per connect attempt (publish_connect_node);
	 * NULL: uri is the only node. All plain or all TLS, no duplicates. */
	const char *const *uris;
	size_t n_uris;          /* 1..PUBLISH_MAX_NODES when uris is set */
	const char *client_id;
	int version;            /* 3 (MQTT 3.1.1) or 5 */
	int keepalive_s;
	int connect_timeout_s;  /* 0: keepalive_s */
	const char *username;   /* NULL: none */
	const char *password;   /* NULL: none, or read from password_file */
	const char *password_file;     /* read by publish_new (secret_read) */
	const char *ca_file, *cert_file, *key_file; /* NULL: none */
	const char *key_password_file; /* the encrypted key_file's pass phrase */
	unsigned max_packet;    /* MQTT 5: Maximum Packet Size announced in CONNECT,
				   bytes (the broker sends nothing larger); 0: none */
	const char *will_topic; /* retained QoS 1 last will; NULL: none */
	const void *will_payload;
	size_t will_len;
	int inflight;           /* paho maxInflight, >= the owner's window */
	const char *const *subscriptions; /* subscribed with QoS 1 after each connect */
	size_t n_subscriptions;
	int max_messages;       /* incoming messages waiting for the owner, at most;
				   more are dropped and counted. 0: PUBLISH_MAX_MESSAGES */
};

enum publish_note_kind {
	PNOTE_INVALID = -1,
	PNOTE_CONNECTED,       /* connect succeeded, subscriptions requested */
	PNOTE_CONNECT_FAILED,  /* rc: -errno style; text: paho's reason */
	PNOTE_CONNECTION_LOST, /* every message in flight is now unknown */
	PNOTE_DELIVERED,       /* QoS 1: PUBACK received; QoS 0: written. tag */
	PNOTE_SEND_FAILED,     /* tag; the owner sends it again later */
	PNOTE_MESSAGE,         /* an incoming message on a subscription */
	PNOTE_READY,           /* the previous client is gone: a connect may start */
	PNOTE_MAX
};

struct publish_note {
	enum publish_note_kind kind;
	uint64_t tag;
	int rc;
	char *topic;            /* PNOTE_MESSAGE, malloc'd */
	void *payload;          /* PNOTE_MESSAGE, malloc'd, NUL-terminated beyond len */
	size_t len;
	char *response_topic;   /* MQTT 5 Response Topic, or NULL */
	void *correlation;      /* MQTT 5 Correlation Data, or NULL */
	size_t correlation_len;
	char text[128];         /* reason for failures */
};

#define PUBLISH_MAX_PAYLOAD (256 * 1024) /* incoming messages larger are dropped */
#define PUBLISH_MAX_MESSAGES 2048        /* default of publish_opts.max_messages */
/* incoming payloads waiting for the owner, bytes, at most; more are
 * dropped and counted (a few large requests fit; a flood cannot grow the
 * heap past the unit's MemoryMax) */
#define PUBLISH_MAX_QUEUED_BYTES (4 * 1024 * 1024)
#define PUBLISH_MAX_NODES 8


/* Creates the client (does not connect). Call after blocking signals and
 * ignoring SIGPIPE. 0, -EINVAL (bad uri/options, logged), -ENOMEM. */
int publish_new(const struct publish_opts *o, publisher **ret);
/* Stops the client; in-flight messages are dropped (the outbox still has
 * them). Accepts NULL. */
void publish_free(publisher *p);
/* Readable while notes wait. */
int publish_fd(const publisher *p);
/* Pops the next note; false when none. Free its buffers with
 * publish_note_clear(). Notes come in the order paho reported them. No
 * DELIVERED, SEND_FAILED or link note is ever lost, however long the owner
 * does not drain (a send's place in the window is held until its note is
 * popped: publish_send() says -EAGAIN meanwhile); incoming messages beyond
 * max_messages waiting are dropped and counted, and publish_next() logs
 * that count, at most every 10 s. */
bool publish_next(publisher *p, struct publish_note *ret);
/* Incoming messages dropped so far (too many or too many bytes waiting, larger than
 * PUBLISH_MAX_PAYLOAD, or out of memory). */
unsigned long publish_dropped(const publisher *p);
void publish_note_clear(struct publish_note *n);

/* Starts one asynchronous connect attempt to the node selected last (node
 * 0 at first); the result comes as a note. Every attempt has a client of
 * its own (file comment of publish.c). -EALREADY while connecting or
 * connected; -EAGAIN when the owner left too many link notes undrained
 * (pop them first); -EBUSY while the previous attempt's or connection's
 * client is still being torn down on another thread: a PNOTE_READY note
 * says when it is gone. */
int publish_connect(publisher *p);
/* Selects node (0..publish_nodes()-1) and starts an attempt to it, as
 * publish_connect(). -EINVAL for a node out of range. */
int publish_connect_node(publisher *p, size_t node);
size_t publish_nodes(const publisher *p);
/* The URI of node, NULL when out of range; valid while p lives. */
const char *publish_node_uri(const publisher *p, size_t node);
bool publish_is_connected(const publisher *p);
/* Queues one message; the outcome comes as a note with tag. For MQTT 5,
 * correlation data may be attached (NULL otherwise). -ENOTCONN, -EAGAIN
 * (paho's window full), -EINVAL. */
int publish_send(publisher *p, const char *topic, const void *payload, size_t len, int qos,
		 bool retain, uint64_t tag, const void *correlation, size_t correlation_len);
/* Sends payload retained on topic and disconnects cleanly, waiting up to
 * timeout_ms for both. Used for the explicit offline status. */
int publish_disconnect(publisher *p, const char *topic, const void *payload, size_t len,
		       int timeout_ms);
/* Drops the connection at once (ack stall: the broker stopped answering),
 * or abandons the connect attempt in progress (a node that accepted TCP
 * but does not answer). A PNOTE_CONNECTION_LOST note follows, or a
 * PNOTE_CONNECT_FAILED with rc -ECANCELED, then PNOTE_READY once the
 * client is gone. Never waits for the network. */
void publish_abort(publisher *p);
