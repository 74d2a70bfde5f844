/* store_int.h - inside the store module only (store.c, store_history.c,
 * store_maint.c): the handle's layout, the limits and the SQLite helpers
 * they share. Nothing outside gateway/store*.c includes it. */
#pragma once
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Page cache bound: 1 MiB per connection (negative cache_size is KiB): the
 * hot pages of a gateway (outbox head, point states, the last readings)
 * fit, and the daemon stays inside the SPEC §8 memory budget. */
#define CACHE_KIB 1024
/* After a checkpoint the WAL file is truncated back to this size. */
#define JOURNAL_LIMIT_BYTES (4 * 1024 * 1024)
/* The writer is the main loop: it must not stall long behind a lock (there
 * is no other writer in normal operation). A CLI reader can wait longer. */
#define BUSY_MS_WRITER 1000
#define BUSY_MS_READER 5000

#define READINGS_MAX 4096      /* buffered readings between two flushes */
#define READING_STR_MAX 80     /* device ids are slugs (<= 63), names plain ids (<= 64) */
/* Readings hit the disk at most once a minute (earlier when the buffer is
 * half full): each flush is a transaction whose index pages go to the WAL
 * whole, so fewer, larger flushes write less (docs/storage.md). What a
 * power cut can lose is the last minute of readings, never an event. */
#define FLUSH_PERIOD_MS 60000
#define FLUSH_EARLY_READINGS (READINGS_MAX / 2)
#define QUERY_LIMIT_DEFAULT 1000
#define QUERY_CLASSES_MAX 16
#define PRIO_MIN 0
#define PRIO_MAX STORE_PRIO_TELEMETRY
#define FOREACH_CHUNK 64       /* outbox rows read before callbacks run */

/* Pruning works in bounded batches, each its own short transaction, so one
 * call never holds the main loop for long; what is left goes next call. */
#define PRUNE_BATCH 2000        /* rows per age-pruning batch */
#define PRUNE_MAX_BATCHES 50
#define PRUNE_SIZE_BATCH 256    /* smaller: size pruning stops near its target */
#define PRUNE_SIZE_MAX_BATCHES 400
#define PRUNE_START_PERCENT 80
#define PRUNE_TARGET_PERCENT 75
#define DAY_MS (86400 * (int64_t)1000)
/* Events stamped before 2024-01-01 were made with an unset clock: their age
 * is unknown, so age pruning keeps them (records must outlive inspections). */
#define SANE_WALL_MS_SQL "1704067200000"

struct buffered_reading {
	int64_t ts_ms;
	double value;
	int quality;
	char device[READING_STR_MAX];
	char name[READING_STR_MAX];
};

/* Prepared once, kept for the life of the handle (hot paths). */
enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_META_SEQ,
	ST_EVENT_INSERT,
	ST_OUTBOX_INSERT,
	ST_PSTATE_UPSERT,
	ST_OUTBOX_GET,
	ST_OUTBOX_DELETE,
	ST_READING_INSERT,
	ST_MAX
};

struct store {
	sqlite3 *db;
	char *path;
	bool readonly;
	bool unclean;      /* a non-empty WAL was left by the previous writer */
	int max_mb;
	int64_t page_size;
	bool sync_full;    /* current PRAGMA synchronous of the connection */
	int logged_err;    /* last error logged, so a repeated failure logs once */
	char epoch[9];
	uint64_t last_seq;
	int schema;        /* PRAGMA user_version once open */
	uint8_t head[STORE_HASH_LEN]; /* the chain's last link (store_chain.c) */
	uint64_t head_seq;
	/* store_batch_begin..end: one transaction for many events */
	bool in_batch;
	uint64_t batch_seq0, batch_head_seq0;
	uint8_t batch_head0[STORE_HASH_LEN];
	sqlite3_stmt *st[ST_MAX];
	sqlite3_stmt *page_st[PRIO_MAX + 1];
	struct buffered_reading *readings;
	size_t n_readings;
	bool tick_started;
	uint64_t last_flush_ms;
};

/* Accumulates the first bind error so a run of binds is checked once. */
struct binder {
	sqlite3_stmt *st;
	int rc;
};

/* Translates and logs a SQLite failure (once per distinct error). */
int store_fail(store *s, int rc, const char *what);
/* After a storage fault, says it is over. */
void store_succeeded(store *s);
/* What the user can do about err. */
const char *store_advice(int err);
int store_stmt_get(store *s, enum stmt_id id, sqlite3_stmt **ret);
int store_prepare_once(store *s, const char *sql, sqlite3_stmt **ret, const char *what);
void store_b_int(struct binder *b, int i, int64_t v);
void store_b_double(struct binder *b, int i, double v);
void store_b_text(struct binder *b, int i, const char *v);
void store_b_blob(struct binder *b, int i, const void *p, size_t len);
void store_b_null(struct binder *b, int i);
/* Steps a write statement to completion and resets it. */
int store_step_done(store *s, sqlite3_stmt *st, const char *what);
int store_bind_check(store *s, struct binder *b, const char *what);
int store_exec(store *s, const char *sql, const char *what);
/* A one-row statement's first column as an integer. */
int store_query_int(store *s, const char *sql, int64_t *ret);
int store_tx_begin(store *s);
int store_tx_commit(store *s);
void store_tx_rollback(store *s);
int store_set_sync(store *s, bool full);

/* The chain (store_chain.c). The link of an event: SHA-256(prev || seq as 8
 * bytes big-endian || payload). */
void store_chain_link(const uint8_t prev[STORE_HASH_LEN], uint64_t seq, const void *payload,
		      size_t len, uint8_t out[STORE_HASH_LEN]);
/* Migration step 3: the chain row, and links for the events already there. */
int store_chain_migrate(store *s);
/* At open: the head (last event's link, or the pruned link, or genesis). */
int store_chain_load(store *s);
