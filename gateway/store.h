/* store.h - the SQLite database: events with their seq and epoch, the
 * outbox (exact bytes of every message still to deliver), alarm-point
 * state, readings. One thread owns a store (the main loop); the CLI opens
 * its own read-only store. SPEC §5. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Outbox priorities, lowest first (SPEC §3 delivery order). */
enum {
	STORE_PRIO_ALARM = 0,    /* active fire alarm */
	STORE_PRIO_PREALARM = 1, /* active pre-alarm */
	STORE_PRIO_FAULT = 2,    /* active fault */
	STORE_PRIO_OTHER = 3,    /* every other event: cleared, test, system, record */
	STORE_PRIO_TELEMETRY = 9 /* readings batches: not events */
};
#define STORE_DEST_MQTT "mqtt"
#define STORE_KEY_MAX 160 /* "device.point" and similar */
#define STORE_MODE_MAX 512
#define STORE_HASH_LEN 32 /* SHA-256 */
#define CONFIG_ID_MAX_STORE 64 /* a device id (a slug of up to 63) */

struct store_opts {
	const char *path;
	int max_mb;       /* 0: unbounded */
	bool readonly;    /* CLI: SQLITE_OPEN_READONLY, no schema changes */
	bool create;      /* create the file (and parent directory) if missing */
};

/* Opens (creating and migrating the schema when not readonly; a new
 * database draws its 8-hex-digit epoch at random). WAL, bounded page cache,
 * journal_size_limit. Returns 0, -ENOENT (readonly, no file), -EBADMSG (not a
 * database / corrupt), -errno. Added: -EPROTO when the file's schema is newer
 * than this firegw (do not move such a file aside), -ENOENT also for a
 * readonly open of a file whose schema was never created. */
int store_open(const struct store_opts *o, store **ret);
/* Writes what is buffered and closes. Accepts NULL. */
void store_free(store *s);

const char *store_epoch(const store *s);  /* "7f3a9c01" */
uint64_t store_last_seq(const store *s);  /* 0 for a new database */

/* Point state persisted with the event that changed it (SPEC §4 restart). */
struct store_point_state {
	char key[STORE_KEY_MAX]; /* "device.point" */
	uint32_t conditions;
	bool latched;
	uint32_t alarm_causes, prealarm_causes;
	uint32_t fault_causes[8];
	int64_t since_ms;        /* wall time of the last state change */
	uint64_t last_seq;       /* seq of the last event of this point */
	char mode[STORE_MODE_MAX]; /* test mode / disablement, JSON; "" in normal service */
};

struct store_event {
	uint64_t seq;            /* > store_last_seq(): seqs grow, gaps allowed, never reused */
	const char *event_id;    /* "<site>:<epoch>:<seq>" */
	int64_t ts_ms;
	const char *cls, *type, *state;
	const char *cid;          /* NULL: the event has no Contact ID code (records) */
	const char *device, *point; /* point may be NULL (gateway events) */
	/* outbox row; topic NULL: stored only, not to be published (suppressed) */
	const char *dest;        /* STORE_DEST_MQTT */
	const char *topic;
	const void *payload;     /* exact bytes sent, also kept in events */
	size_t payload_len;
	int qos;
	bool retain;
	int prio;
	const char *order_key;   /* events with one order_key are never reordered ("device.point") */
	const struct store_point_state *pstate; /* NULL: no point state changes */
	const char *ref;         /* event_id this one refers to (a correction, an ack); NULL */
};
/* One transaction with synchronous=FULL: the seq counter, the events row,
 * the outbox row (when topic is set) and the point state. ret_outbox_id
 * gets the outbox row id (0 when none). 0, -EINVAL (seq not above the last),
 * -ENOSPC (disk or max_mb full), -EIO. On failure nothing is written. */
int store_commit_event(store *s, const struct store_event *ev, int64_t *ret_outbox_id);

/* Several events in one transaction, one fsync (points that alarm together):
 * store_batch_begin(), store_commit_event() for each (each with its own seq
 * and row, none of them durable yet), store_batch_end() commits them all,
 * before the caller publishes any. A commit that fails inside the batch
 * undoes the whole batch (the counter and chain go back), returns its
 * error, and ends the batch: store_batch_end() then returns -ECANCELED.
 * 0, -EALREADY (a batch is open), -errno. */
int store_batch_begin(store *s);
int store_batch_end(store *s);
/* Undoes an open batch (no-op without one). */
void store_batch_abort(store *s);

/* Telemetry and other non-event messages (no fsync). 0, -ENOSPC, -EIO. */
int store_outbox_add(store *s, const char *dest, const char *topic, const void *payload,
		     size_t len, int qos, bool retain, int prio, const char *order_key,
		     int64_t *ret_id);

struct store_outbox_row {
	int64_t id;
	uint64_t seq;            /* 0 for telemetry */
	int prio;
	int qos;
	bool retain;
	int64_t created_ms;
	char order_key[STORE_KEY_MAX];
};
/* Calls cb for each outbox row with min_prio <= prio <= max_prio and
 * id > after_id, in id order, at most limit rows (0: no limit). cb returns
 * 0 to go on, non-zero to stop (that value is returned). */
int store_outbox_foreach(store *s, int min_prio, int max_prio, int64_t after_id, size_t limit,
			 int (*cb)(void *ud, const struct store_outbox_row *row), void *ud);
/* Malloc'd copies of a row's topic and payload (caller frees both).
 * 0, -ENOENT, -EIO. */
int store_outbox_get(store *s, int64_t id, char **ret_topic, void **ret_payload, size_t *ret_len);
/* Removes delivered rows, in one transaction. */
int store_outbox_delete(store *s, const int64_t *ids, size_t n);
/* Rows waiting: events (prio < TELEMETRY; not counted when ret_events is
 * NULL) and telemetry; and created_ms of the oldest waiting event (0 when
 * none). */
int store_outbox_stats(store *s, int64_t *ret_events, int64_t *ret_telemetry, int64_t *ret_oldest_ms);

/* Point states: cb once per stored point. */
int store_point_state_foreach(store *s, int (*cb)(void *ud, const struct store_point_state *ps), void *ud);
int store_point_state_save(store *s, const struct store_point_state *ps);

struct store_reading {
	int64_t ts_ms;
	const char *device;
	const char *name;  /* value name */
	double value;
	int quality;       /* 0 good, 1 bad, 2 stale */
};
/* Appends readings (which ones: readings.c); they are written in one
 * transaction at most once a minute by store_tick(), earlier when half the
 * buffer is used, and at store_free. Bounded buffer: -ENOBUFS when it is
 * full (the caller drops the reading, never an event). */
int store_readings_add(store *s, const struct store_reading *r);
/* Periodic work: flush readings (at most once a minute, or when the buffer
 * is half full). now_mono_ms drives it. */
int store_tick(store *s, uint64_t now_mono_ms);

/* History (CLI and requests): events with from_ms <= ts < to_ms (0: open),
 * device/classes filters (NULL: any), seq > after_seq, newest last. */
struct store_event_row {
	uint64_t seq;
	int64_t ts_ms;
	const char *event_id, *cls, *type, *state, *cid, *device, *point;
	const char *payload;
	size_t payload_len;
};
struct store_query {
	int64_t from_ms, to_ms;
	const char *device;
	const char *const *classes;
	size_t n_classes;
	uint64_t after_seq;
	size_t limit; /* 0: 1000 */
};
int store_events_query(store *s, const struct store_query *q,
		       int (*cb)(void *ud, const struct store_event_row *row), void *ud);

/* One stored event by its id (an acknowledgement, a record's --ref). */
struct store_event_brief {
	uint64_t seq;
	char cls[16], type[40], state[16], device[CONFIG_ID_MAX_STORE];
};
/* 0, -ENOENT (no stored event has that id), -errno. */
int store_event_find(store *s, const char *event_id, struct store_event_brief *ret);

/* Latest readings per device/value (CLI status). */
int store_latest_readings(store *s, const char *device,
			  int (*cb)(void *ud, const struct store_reading *r), void *ud);

/* Added (additive, for the daemon's storage housekeeping, SPEC §5): */

/* PRAGMA quick_check. 0, -EBADMSG (corrupt: move the file aside), -errno. */
int store_integrity_check(store *s);
/* Deletes readings older than readings_days and delivered events (no outbox
 * row left) older than records_days (0 days: keep forever). Nothing is
 * pruned by age when !clock_synced. When the file uses 80 % of max_mb or
 * more, unsent telemetry then the oldest readings are dropped down to 75 %;
 * events never. Works in bounded batches: call it periodically (e.g.
 * hourly), what is left goes next call. 0 or -errno. */
int store_prune(store *s, int readings_days, int records_days, bool clock_synced,
		int64_t now_wall_ms);
/* Pages in use (page_count - freelist_count) times page_size, in percent of
 * max_mb; 0 when max_mb is 0 (unbounded). 0 or -errno. */
int store_size_percent(store *s, int *ret_percent);
/* True when the previous writer left a non-empty WAL (crash, power loss or
 * SIGKILL): the caller runs store_integrity_check() (SPEC §5). */
bool store_unclean(const store *s);

/* A small fsynced write that changes nothing: tells whether the database
 * takes writes again after a storage fault. 0 or -errno (-ENOSPC, -EIO). */
int store_probe(store *s);
/* Deletes the stored point states of a device that left the configuration
 * (its retained state has been cleared). */
int store_point_state_delete_device(store *s, const char *device);

/* Tamper evidence (SPEC §5, compliance): every stored event is a link of a
 * chain, hash = SHA-256(previous hash || seq || payload bytes), from the
 * epoch's genesis (32 zero bytes, or for a database that replaced a corrupt
 * one a hash naming the old epoch and its last head). */
struct store_chain_head {
	uint64_t seq;                  /* 0: no event yet (hash is the genesis) */
	uint8_t hash[STORE_HASH_LEN];
};
/* The current head. 0, -EPROTO (a database older than the chain, opened
 * read-only: start the daemon once to upgrade it). */
int store_chain_head(store *s, struct store_chain_head *ret);
/* Before the first event of a new database that replaced a corrupt one:
 * the chain starts from a hash naming the old epoch and its last head.
 * 0, -EEXIST (events exist already), -errno. */
int store_chain_set_origin(store *s, const char *old_epoch, const struct store_chain_head *old);

struct store_verify {
	uint64_t checked;        /* links recomputed */
	uint64_t first_seq;      /* first kept seq (after pruning), 0: none */
	uint64_t bad_seq;        /* first broken link, 0: none */
	bool head_checked;       /* the claimed head was found and compared */
	bool head_ok;
	char why[200];           /* what is wrong, in words */
	struct store_chain_head head; /* today's head */
};
/* Walks the chain from the pruned link, recomputing every link; stops at
 * the first broken one (ret->bad_seq, ret->why). claim (may be NULL): a head
 * published earlier; it must be a link of today's chain. 0 (see ret: the
 * chain may still be broken), -EPROTO (no chain in this database), -errno. */
int store_chain_verify(store *s, const struct store_chain_head *claim, struct store_verify *ret);
/* Hex of a hash into buf[2 * STORE_HASH_LEN + 1]; parses it back. */
char *store_hash_hex(const uint8_t h[STORE_HASH_LEN], char buf[2 * STORE_HASH_LEN + 1]);
int store_hash_parse(const char *hex, uint8_t ret[STORE_HASH_LEN]);

/* Inspection compliance (store_compliance.c, SPEC §6). */

/* Appends a published compliance status (every one is kept: `firegw
 * compliance --at DATE` shows what was published then). overall is
 * "compliant" | "due_soon" | "non_compliant"; payload the exact published
 * JSON bytes. 0, -EINVAL, -ENOSPC, -EIO, -EROFS (read-only handle). */
int store_compliance_append(store *s, int64_t ts_ms, const char *overall, bool time_synced,
			    const void *payload, size_t len);

struct store_compliance_row {
	int64_t id;
	int64_t ts_ms;
	const char *overall;
	bool time_synced;
	const char *payload;     /* valid during the callback only */
	size_t payload_len;
};
/* The status in force at at_ms: the last row with ts_ms <= at_ms; cb is
 * called once with it. 0, -ENOENT (nothing published by then), -errno. */
int store_compliance_at(store *s, int64_t at_ms,
			int (*cb)(void *ud, const struct store_compliance_row *row), void *ud);
/* The rows with from_ms <= ts_ms < to_ms in time order, at most limit (0:
 * 100000); cb returns non-zero to stop (that value is returned). */
int store_compliance_range(store *s, int64_t from_ms, int64_t to_ms, size_t limit,
			   int (*cb)(void *ud, const struct store_compliance_row *row), void *ud);

/* meta.created_ms: when monitoring began. 0 or -errno. */
int store_created_ms(store *s, int64_t *ret);
/* Each stored point state's key and created_ms (0 on rows older than
 * schema v3). */
int store_point_created_foreach(store *s, int (*cb)(void *ud, const char *key, int64_t created_ms),
				void *ud);

/* Events of one class for replays that need who, what and when (the
 * compliance evaluation, reports): from_ms <= ts_ms < to_ms (0: open), in
 * (ts_ms, seq) order, walking events_class_ts. The payload is read only
 * when with_payload (records); else payload is NULL. */
struct store_class_row {
	uint64_t seq;
	int64_t ts_ms;
	const char *event_id, *type, *state, *cid, *device, *point, *ref;
	const char *payload;
	size_t payload_len;
};
int store_class_scan(store *s, const char *cls, int64_t from_ms, int64_t to_ms, bool with_payload,
		     int (*cb)(void *ud, const struct store_class_row *row), void *ud);

/* The runs of one class open at at_ms (faults, disablements): for each
 * device.point.type whose last event at or before at_ms is active, cb gets
 * them (point "" for gateway events) and since_ms, the first active event
 * after the last cleared one (a daily repeat does not move it). Cost: a few
 * index seeks per key on events_key (schema v4), whatever the number of
 * events. 0, -ENOTSUP (an older database opened read-only: no events_key;
 * use store_class_scan), -errno. */
int store_open_runs_at(store *s, const char *cls, int64_t at_ms,
		       int (*cb)(void *ud, const char *device, const char *point,
				 const char *type, int64_t since_ms),
		       void *ud);
/* The events of one key (device, point or "" , type) of class cls with
 * from_ms <= ts_ms < to_ms (0: open), in time order: cb(ud, active, ts).
 * Uses events_key; -ENOTSUP without it. */
int store_key_events(store *s, const char *cls, const char *device, const char *point,
		     const char *type, int64_t from_ms, int64_t to_ms,
		     int (*cb)(void *ud, bool active, int64_t ts_ms), void *ud);
