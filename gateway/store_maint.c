/* store_maint.c - the store's housekeeping (part of the store module,
 * store.h): integrity check, size, pruning in bounded batches, and the
 * rows the main loop changes on the command center's word (acknowledgements,
 * removed devices). Called by the daemon's main loop on its handle. */
#include "store.h"
#include "store_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* ---- maintenance ---------------------------------------------------------- */

int store_integrity_check(store *s)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc, r = 0, shown = 0;

	if (!s)
		return -EINVAL;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "checking integrity");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		if (t && strcmp((const char *)t, "ok") == 0)
			continue;
		r = -EBADMSG;
		if (shown++ < 5)
			log_error("storage '%s': integrity: %s", s->path, t ? (const char *)t : "?");
	}
	if (rc != SQLITE_DONE)
		r = store_fail(s, rc, "checking integrity");
	else if (r < 0)
		log_error("storage '%s' failed its integrity check: %s", s->path, store_advice(r));
	sqlite3_finalize(st);
	return r;
}

static int used_percent(store *s, int *ret_percent)
{
	int64_t pages = 0, free_pages = 0, used, limit;
	int r;

	*ret_percent = 0;
	if (s->max_mb == 0)
		return 0;
	r = store_query_int(s, "PRAGMA page_count", &pages);
	if (r == 0)
		r = store_query_int(s, "PRAGMA freelist_count", &free_pages);
	if (r < 0)
		return r;
	used = (pages - free_pages) * s->page_size;
	limit = (int64_t)s->max_mb * 1024 * 1024;
	used = used * 100 / limit;
	*ret_percent = used > INT_MAX ? INT_MAX : (int)used;
	return 0;
}

int store_size_percent(store *s, int *ret_percent)
{
	if (!s || !ret_percent)
		return -EINVAL;
	return used_percent(s, ret_percent);
}

/* Runs a "DELETE ... LIMIT ?2" in batches, each its own transaction; ?1 is
 * arg (the SQL may leave it out). With by_size, stops once the file is under
 * PRUNE_TARGET_PERCENT. */
static int delete_batches(store *s, const char *sql, int64_t arg, bool by_size,
			  int64_t *ret_deleted)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	int batch = by_size ? PRUNE_SIZE_BATCH : PRUNE_BATCH;
	int max = by_size ? PRUNE_SIZE_MAX_BATCHES : PRUNE_MAX_BATCHES;
	int rc, r = 0, i, pct;
	int64_t n;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "pruning");
	for (i = 0; i < max; i++) {
		if (by_size) {
			r = used_percent(s, &pct);
			if (r < 0 || pct < PRUNE_TARGET_PERCENT)
				break;
		}
		b = (struct binder){ st, SQLITE_OK };
		store_b_int(&b, 1, arg);
		store_b_int(&b, 2, batch);
		r = store_bind_check(s, &b, "pruning");
		if (r == 0)
			r = store_step_done(s, st, "pruning");
		if (r < 0)
			break;
		n = sqlite3_changes64(s->db);
		*ret_deleted += n;
		if (n < batch)
			break;
	}
	sqlite3_finalize(st);
	return r;
}

/* Events go by age as a prefix of the chain only: up to the first event
 * that is young, undelivered (still in the outbox) or stamped with an unset
 * clock. Each batch keeps the link of its last deleted event in the chain
 * row, in the same transaction, so what is left verifies from there. */
static int prune_events(store *s, int64_t cutoff_ms, int64_t *ret_deleted)
{
	static const char *const what = "pruning events";
	sqlite3_stmt *lim = NULL, *upto = NULL, *del = NULL, *keep = NULL;
	int64_t first_kept, last, n;
	int i, rc, r;

	if (s->schema < 3)
		return 0;
	/* the age is read from the hashed payload's ts (RFC 3339 UTC strings
	 * compare in time order), not from the ts_ms column a hand edit
	 * could move back to get a row pruned unseen */
	r = store_prepare_once(s, "SELECT min(seq) FROM events AS e WHERE "
				  "json_extract(CAST(payload AS TEXT), '$.ts') >= ?1 OR ts_ms >= ?2 "
				  "OR ts_ms < " SANE_WALL_MS_SQL " OR EXISTS (SELECT 1 FROM outbox "
				  "AS o WHERE o.seq = e.seq)", &lim, what);
	/* the last event of the next batch below the first one kept */
	if (r == 0)
		r = store_prepare_once(s, "SELECT seq, hash FROM (SELECT seq, hash FROM events WHERE "
					  "seq < ?1 ORDER BY seq LIMIT ?2) ORDER BY seq DESC LIMIT 1",
				       &upto, what);
	if (r == 0)
		r = store_prepare_once(s, "DELETE FROM events WHERE seq <= ?1", &del, what);
	if (r == 0)
		r = store_prepare_once(s, "UPDATE chain SET pruned_seq = ?1, pruned_hash = ?2 "
					  "WHERE id = 1", &keep, what);
	if (r < 0)
		goto out;
	{
		char cut[UTIL_TS_LEN];

		sqlite3_bind_text(lim, 1, util_rfc3339(cutoff_ms, cut), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(lim, 2, cutoff_ms);
	}
	rc = sqlite3_step(lim);
	if (rc != SQLITE_ROW) {
		r = store_fail(s, rc, what);
		goto out;
	}
	first_kept = sqlite3_column_type(lim, 0) == SQLITE_NULL ? INT64_MAX
								 : sqlite3_column_int64(lim, 0);
	for (i = 0; i < PRUNE_MAX_BATCHES; i++) {
		uint8_t hash[STORE_HASH_LEN];

		sqlite3_bind_int64(upto, 1, first_kept);
		sqlite3_bind_int64(upto, 2, PRUNE_BATCH);
		rc = sqlite3_step(upto);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(upto);
			break; /* nothing left to prune */
		}
		if (rc != SQLITE_ROW || sqlite3_column_bytes(upto, 1) != STORE_HASH_LEN) {
			/* a row without its link: keep everything, verify says why */
			r = rc == SQLITE_ROW ? 0 : store_fail(s, rc, what);
			sqlite3_reset(upto);
			goto out;
		}
		last = sqlite3_column_int64(upto, 0);
		memcpy(hash, sqlite3_column_blob(upto, 1), STORE_HASH_LEN);
		sqlite3_reset(upto);
		r = store_tx_begin(s);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(del, 1, last);
		r = store_step_done(s, del, what);
		n = sqlite3_changes64(s->db);
		if (r == 0) {
			sqlite3_bind_int64(keep, 1, last);
			sqlite3_bind_blob(keep, 2, hash, sizeof(hash), SQLITE_TRANSIENT);
			r = store_step_done(s, keep, what);
		}
		if (r == 0)
			r = store_tx_commit(s);
		if (r < 0) {
			store_tx_rollback(s);
			goto out;
		}
		*ret_deleted += n;
		if (n < PRUNE_BATCH)
			break;
	}
out:
	sqlite3_finalize(lim);
	sqlite3_finalize(upto);
	sqlite3_finalize(del);
	sqlite3_finalize(keep);
	return r;
}

/* A reading r that a newer sample of the same value follows (one seek on
 * readings_dev_name_ts). */
#define NOT_NEWEST                                                                                 \
	"EXISTS (SELECT 1 FROM readings n WHERE n.device = r.device AND n.name = r.name AND "      \
	"n.ts_ms > r.ts_ms)"

int store_prune(store *s, int readings_days, int records_days, bool clock_synced,
		int64_t now_wall_ms)
{
	int64_t readings = 0, events = 0, telemetry = 0;
	int pct, r;

	if (!s || readings_days < 0 || records_days < 0)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	r = store_set_sync(s, false);
	if (r < 0)
		return r;
	/* With the clock unsynchronised, "now" may be years off: no age pruning. */
	if (clock_synced && readings_days > 0) {
		/* readings are stored by change (readings.c): the newest sample
		 * of a value is its value now, however old, and stays */
		r = delete_batches(s,
				   "DELETE FROM readings WHERE rowid IN (SELECT rowid FROM readings r "
				   "WHERE ts_ms < ?1 AND " NOT_NEWEST " ORDER BY ts_ms LIMIT ?2)",
				   now_wall_ms - readings_days * DAY_MS, false, &readings);
		if (r < 0)
			return r;
	}
	if (clock_synced && records_days > 0) {
		r = prune_events(s, now_wall_ms - records_days * DAY_MS, &events);
		if (r < 0)
			return r;
	}
	/* Over the size bound: telemetry waiting to be sent goes first, then
	 * the oldest readings. Events are never removed for space. */
	r = used_percent(s, &pct);
	if (r < 0)
		return r;
	if (pct >= PRUNE_START_PERCENT) {
		r = delete_batches(s,
				   "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
				   "WHERE prio >= ?1 ORDER BY prio, id LIMIT ?2)",
				   STORE_PRIO_TELEMETRY, true, &telemetry);
		if (r == 0)
			r = delete_batches(s,
					   "DELETE FROM readings WHERE rowid IN (SELECT rowid FROM "
					   "readings r WHERE " NOT_NEWEST " ORDER BY ts_ms LIMIT ?2)",
					   0, true, &readings);
		if (r < 0)
			return r;
		r = used_percent(s, &pct);
		if (r < 0)
			return r;
		log_notice("storage '%s' at %d %% of storage.max_mb (%d MB) after dropping %lld "
			   "unsent telemetry messages and the oldest readings", s->path, pct,
			   s->max_mb, (long long)telemetry);
	}
	if (readings || events || telemetry)
		log_info("storage '%s': pruned %lld readings, %lld events, %lld telemetry messages",
			 s->path, (long long)readings, (long long)events, (long long)telemetry);
	return 0;
}

/* ---- acknowledgements, removed devices ---------------------------------- */


int store_point_state_delete_device(store *s, const char *device)
{
	static const char *const what = "deleting a removed device's point states";
	sqlite3_stmt *st = NULL;
	char prefix[STORE_KEY_MAX];
	int r;

	if (!s || !device || (size_t)snprintf(prefix, sizeof(prefix), "%s.", device) >= sizeof(prefix))
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	r = store_prepare_once(s, "DELETE FROM point_state WHERE substr(key, 1, length(?1)) = ?1", &st,
			 what);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
	r = store_step_done(s, st, what);
	sqlite3_finalize(st);
	if (r == 0)
		store_succeeded(s);
	return r;
}
