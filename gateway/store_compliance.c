/* store_compliance.c - the store's side of inspection compliance (part of
 * the store module, store.h; SPEC §6): the history of every published
 * compliance status, when monitoring began, when each point was first
 * stored, and the class scans the evaluation and the reports replay
 * (who, what and when of each event, without reading payloads except for
 * records). The daemon calls these on its handle (main loop); the CLI on a
 * read-only one. Costs: every query walks an index (compliance_history_ts,
 * events_class_ts); a class scan reads each row of that class in the range
 * once. */
#include "store.h"
#include "store_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define COMPLIANCE_RANGE_DEFAULT 100000

int store_compliance_append(store *s, int64_t ts_ms, const char *overall, bool time_synced,
			    const void *payload, size_t len)
{
	static const char sql[] = "INSERT INTO compliance_history(ts_ms, overall, time_synced, "
				  "payload) VALUES(?1, ?2, ?3, ?4)";
	sqlite3_stmt *st = NULL;
	struct binder b;
	int rc, r;

	if (!s || !overall || !payload || !len)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "storing the compliance status");
	b = (struct binder){st, SQLITE_OK};
	store_b_int(&b, 1, ts_ms);
	store_b_text(&b, 2, overall);
	store_b_int(&b, 3, time_synced ? 1 : 0);
	store_b_blob(&b, 4, payload, len);
	r = store_bind_check(s, &b, "storing the compliance status");
	if (r == 0)
		r = store_step_done(s, st, "storing the compliance status");
	sqlite3_finalize(st);
	return r;
}

static int compliance_rows(store *s, sqlite3_stmt *st, size_t *n,
			   int (*cb)(void *ud, const struct store_compliance_row *row), void *ud)
{
	struct store_compliance_row row;
	int rc, r, len;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.id = sqlite3_column_int64(st, 0);
		row.ts_ms = sqlite3_column_int64(st, 1);
		row.overall = (const char *)sqlite3_column_text(st, 2);
		row.time_synced = sqlite3_column_int(st, 3) != 0;
		row.payload = sqlite3_column_blob(st, 4);
		len = sqlite3_column_bytes(st, 4);
		row.payload_len = len > 0 ? (size_t)len : 0;
		if (!row.payload)
			row.payload = "";
		if (!row.overall)
			row.overall = "";
		(*n)++;
		r = cb(ud, &row);
		if (r != 0)
			return r;
	}
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading the compliance history");
}

int store_compliance_at(store *s, int64_t at_ms,
			int (*cb)(void *ud, const struct store_compliance_row *row), void *ud)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc, r;

	if (!s || !cb)
		return -EINVAL;
	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT id, ts_ms, overall, time_synced, payload FROM compliance_history "
	    "WHERE ts_ms <= ?1 ORDER BY ts_ms DESC, id DESC LIMIT 1",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading the compliance history");
	rc = sqlite3_bind_int64(st, 1, at_ms);
	r = rc == SQLITE_OK ? compliance_rows(s, st, &n, cb, ud)
			    : store_fail(s, rc, "reading the compliance history");
	sqlite3_finalize(st);
	return r == 0 && n == 0 ? -ENOENT : r;
}

int store_compliance_range(store *s, int64_t from_ms, int64_t to_ms, size_t limit,
			   int (*cb)(void *ud, const struct store_compliance_row *row), void *ud)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	size_t n = 0;
	int rc, r;

	if (!s || !cb)
		return -EINVAL;
	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT id, ts_ms, overall, time_synced, payload FROM compliance_history "
	    "WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms, id LIMIT ?3",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading the compliance history");
	b = (struct binder){st, SQLITE_OK};
	store_b_int(&b, 1, from_ms);
	store_b_int(&b, 2, to_ms ? to_ms : INT64_MAX);
	store_b_int(&b, 3, (int64_t)(limit ? limit : COMPLIANCE_RANGE_DEFAULT));
	r = store_bind_check(s, &b, "reading the compliance history");
	if (r == 0)
		r = compliance_rows(s, st, &n, cb, ud);
	sqlite3_finalize(st);
	return r;
}

int store_created_ms(store *s, int64_t *ret)
{
	if (!s || !ret)
		return -EINVAL;
	return store_query_int(s, "SELECT created_ms FROM meta WHERE id = 1", ret);
}

int store_point_created_foreach(store *s, int (*cb)(void *ud, const char *key, int64_t created_ms),
				void *ud)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	if (!s || !cb)
		return -EINVAL;
	rc = sqlite3_prepare_v2(s->db, "SELECT key, created_ms FROM point_state", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading point states");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);

		r = cb(ud, key ? key : "", sqlite3_column_int64(st, 1));
		if (r != 0)
			goto out_finalize;
	}
	if (rc != SQLITE_DONE)
		r = store_fail(s, rc, "reading point states");
out_finalize:
	sqlite3_finalize(st);
	return r;
}

int store_class_scan(store *s, const char *cls, int64_t from_ms, int64_t to_ms, bool with_payload,
		     int (*cb)(void *ud, const struct store_class_row *row), void *ud)
{
	/* class = ? AND ts_ms range walks events_class_ts in (ts_ms, seq)
	 * order: no sort, and the payload column is not read unless asked */
	static const char sql_bare[] =
	    "SELECT seq, ts_ms, event_id, type, state, cid, device, point, ref FROM events "
	    "WHERE class = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, seq";
	static const char sql_payload[] =
	    "SELECT seq, ts_ms, event_id, type, state, cid, device, point, ref, payload FROM "
	    "events "
	    "WHERE class = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, seq";
	struct store_class_row row;
	sqlite3_stmt *st = NULL;
	struct binder b;
	int rc, r, n;

	if (!s || !cls || !cb)
		return -EINVAL;
	rc = sqlite3_prepare_v2(s->db, with_payload ? sql_payload : sql_bare, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "scanning events");
	b = (struct binder){st, SQLITE_OK};
	store_b_text(&b, 1, cls);
	store_b_int(&b, 2, from_ms);
	store_b_int(&b, 3, to_ms ? to_ms : INT64_MAX);
	r = store_bind_check(s, &b, "scanning events");
	if (r < 0)
		goto out_finalize;
	memset(&row, 0, sizeof(row));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.seq = (uint64_t)sqlite3_column_int64(st, 0);
		row.ts_ms = sqlite3_column_int64(st, 1);
		row.event_id = (const char *)sqlite3_column_text(st, 2);
		row.type = (const char *)sqlite3_column_text(st, 3);
		row.state = (const char *)sqlite3_column_text(st, 4);
		row.cid = (const char *)sqlite3_column_text(st, 5);
		row.device = (const char *)sqlite3_column_text(st, 6);
		row.point = (const char *)sqlite3_column_text(st, 7);
		row.ref = (const char *)sqlite3_column_text(st, 8);
		if (with_payload) {
			row.payload = sqlite3_column_blob(st, 9);
			n = sqlite3_column_bytes(st, 9);
			row.payload_len = n > 0 ? (size_t)n : 0;
			if (!row.payload)
				row.payload = "";
		}
		if (!row.type || !row.state || !row.device || !row.event_id)
			continue; /* NOT NULL columns: cannot happen */
		r = cb(ud, &row);
		if (r != 0)
			goto out_finalize;
	}
	if (rc != SQLITE_DONE)
		r = store_fail(s, rc, "scanning events");
out_finalize:
	sqlite3_finalize(st);
	return r;
}

/* ---- open runs by key (events_key, schema v4) --------------------------- */

#define KEY_EXPR "(device || '|' || ifnull(point, '') || '|' || type)"

static int has_key_index(store *s)
{
	int64_t n = 0;
	int r = store_query_int(s,
				"SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
				"name = 'events_key'",
				&n);

	return r < 0 ? r : n > 0;
}

int store_open_runs_at(store *s, const char *cls, int64_t at_ms,
		       int (*cb)(void *ud, const char *device, const char *point, const char *type,
				 int64_t since_ms),
		       void *ud)
{
	sqlite3_stmt *next = NULL, *back = NULL;
	char key[512] = "", dev[256], *pt, *ty;
	struct binder b;
	int rc, r;

	if (!s || !cls || !cb)
		return -EINVAL;
	r = has_key_index(s);
	if (r <= 0)
		return r < 0 ? r : -ENOTSUP;
	rc = sqlite3_prepare_v2(s->db,
				"SELECT " KEY_EXPR " FROM events WHERE class = ?1 AND " KEY_EXPR
				" > ?2 ORDER BY " KEY_EXPR " LIMIT 1",
				-1, &next, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db,
		    "SELECT state, ts_ms FROM events WHERE class = ?1 AND " KEY_EXPR
		    " = ?2 AND ts_ms <= ?3 ORDER BY ts_ms DESC",
		    -1, &back, NULL);
	if (rc != SQLITE_OK) {
		r = store_fail(s, rc, "finding open faults");
		goto out_finalize;
	}
	for (;;) {
		const unsigned char *k;
		int64_t since = 0;

		b = (struct binder){next, SQLITE_OK};
		store_b_text(&b, 1, cls);
		store_b_text(&b, 2, key);
		r = store_bind_check(s, &b, "finding open faults");
		if (r < 0)
			goto out_finalize;
		rc = sqlite3_step(next);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			r = store_fail(s, rc, "finding open faults");
			goto out_finalize;
		}
		k = sqlite3_column_text(next, 0);
		snprintf(key, sizeof(key), "%s", k ? (const char *)k : "");
		sqlite3_reset(next);

		/* back from at_ms while the key is active: the open run */
		b = (struct binder){back, SQLITE_OK};
		store_b_text(&b, 1, cls);
		store_b_text(&b, 2, key);
		store_b_int(&b, 3, at_ms);
		r = store_bind_check(s, &b, "finding open faults");
		if (r < 0)
			goto out_finalize;
		while ((rc = sqlite3_step(back)) == SQLITE_ROW) {
			const unsigned char *st = sqlite3_column_text(back, 0);

			if (!st || strcmp((const char *)st, "active") != 0)
				break;
			since = sqlite3_column_int64(back, 1);
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			r = store_fail(s, rc, "finding open faults");
			goto out_finalize;
		}
		sqlite3_reset(back);
		if (!since)
			continue;
		/* device|point|type: slugs and plain ids hold no '|' */
		snprintf(dev, sizeof(dev), "%s", key);
		pt = strchr(dev, '|');
		ty = pt ? strchr(pt + 1, '|') : NULL;
		if (!pt || !ty)
			continue;
		*pt++ = '\0';
		*ty++ = '\0';
		r = cb(ud, dev, pt, ty, since);
		if (r != 0)
			goto out_finalize;
	}
	r = 0;
out_finalize:
	sqlite3_finalize(next);
	sqlite3_finalize(back);
	return r;
}

int store_key_events(store *s, const char *cls, const char *device, const char *point,
		     const char *type, int64_t from_ms, int64_t to_ms,
		     int (*cb)(void *ud, bool active, int64_t ts_ms), void *ud)
{
	sqlite3_stmt *st = NULL;
	char key[512];
	struct binder b;
	int rc, r;

	if (!s || !cls || !device || !type || !cb)
		return -EINVAL;
	r = has_key_index(s);
	if (r <= 0)
		return r < 0 ? r : -ENOTSUP;
	snprintf(key, sizeof(key), "%s|%s|%s", device, point ? point : "", type);
	rc = sqlite3_prepare_v2(s->db,
				"SELECT state, ts_ms FROM events WHERE class = ?1 AND " KEY_EXPR
				" = ?2 AND ts_ms >= ?3 AND ts_ms < ?4 ORDER BY ts_ms",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading events");
	b = (struct binder){st, SQLITE_OK};
	store_b_text(&b, 1, cls);
	store_b_text(&b, 2, key);
	store_b_int(&b, 3, from_ms);
	store_b_int(&b, 4, to_ms ? to_ms : INT64_MAX);
	r = store_bind_check(s, &b, "reading events");
	if (r < 0)
		goto out_finalize;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *state = sqlite3_column_text(st, 0);

		r = cb(ud, state && strcmp((const char *)state, "active") == 0,
		       sqlite3_column_int64(st, 1));
		if (r != 0)
			goto out_finalize;
	}
	if (rc != SQLITE_DONE)
		r = store_fail(s, rc, "reading events");
out_finalize:
	sqlite3_finalize(st);
	return r;
}
