/* store_history.c - the store's read side for people (part of the store
 * module, store.h): the event history with its filters and cursor, and the
 * latest readings. Used by the daemon's requests on its own handle and by
 * the CLI on a read-only one. */
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

/* ---- history ------------------------------------------------------------ */

int store_events_query(store *s, const struct store_query *q,
		       int (*cb)(void *ud, const struct store_event_row *row), void *ud)
{
	char sql[1024];
	struct store_event_row row;
	sqlite3_stmt *st = NULL;
	struct binder b;
	size_t len, i, limit;
	int rc, r = 0, n;

	if (!s || !q || !cb || q->n_classes > QUERY_CLASSES_MAX || q->after_seq > INT64_MAX ||
	    (q->n_classes > 0 && !q->classes))
		return -EINVAL;
	for (i = 0; i < q->n_classes; i++)
		if (!q->classes[i])
			return -EINVAL;
	len = (size_t)snprintf(sql, sizeof(sql),
			       "SELECT seq, ts_ms, event_id, class, type, state, cid, device, point, "
			       "payload FROM events WHERE seq > :after");
	if (q->from_ms)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND ts_ms >= :from");
	if (q->to_ms)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND ts_ms < :to");
	if (q->device)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND device = :device");
	if (q->n_classes > 0) {
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND class IN (");
		for (i = 0; i < q->n_classes; i++)
			len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s?%zu",
						i ? ", " : "", 100 + i);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, ")");
	}
	len += (size_t)snprintf(sql + len, sizeof(sql) - len, " ORDER BY seq LIMIT :limit");
	/* Cannot trigger with QUERY_CLASSES_MAX classes (about 350 bytes at
	 * most); kept so a longer query added later fails cleanly. */
	if (len >= sizeof(sql))
		return -E2BIG;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "querying events");
	limit = q->limit ? q->limit : QUERY_LIMIT_DEFAULT;
	if (limit > INT64_MAX)
		limit = INT64_MAX;
	b = (struct binder){ st, SQLITE_OK };
	store_b_int(&b, sqlite3_bind_parameter_index(st, ":after"), (int64_t)q->after_seq);
	if (q->from_ms)
		store_b_int(&b, sqlite3_bind_parameter_index(st, ":from"), q->from_ms);
	if (q->to_ms)
		store_b_int(&b, sqlite3_bind_parameter_index(st, ":to"), q->to_ms);
	if (q->device)
		store_b_text(&b, sqlite3_bind_parameter_index(st, ":device"), q->device);
	for (i = 0; i < q->n_classes; i++)
		store_b_text(&b, 100 + (int)i, q->classes[i]);
	store_b_int(&b, sqlite3_bind_parameter_index(st, ":limit"), (int64_t)limit);
	r = store_bind_check(s, &b, "querying events");
	if (r < 0)
		goto out_finalize;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.seq = (uint64_t)sqlite3_column_int64(st, 0);
		row.ts_ms = sqlite3_column_int64(st, 1);
		row.event_id = (const char *)sqlite3_column_text(st, 2);
		row.cls = (const char *)sqlite3_column_text(st, 3);
		row.type = (const char *)sqlite3_column_text(st, 4);
		row.state = (const char *)sqlite3_column_text(st, 5);
		row.cid = (const char *)sqlite3_column_text(st, 6);
		row.device = (const char *)sqlite3_column_text(st, 7);
		row.point = (const char *)sqlite3_column_text(st, 8);
		row.payload = sqlite3_column_blob(st, 9);
		n = sqlite3_column_bytes(st, 9);
		row.payload_len = n > 0 ? (size_t)n : 0;
		if (!row.payload)
			row.payload = "";
		r = cb(ud, &row);
		if (r != 0)
			goto out_finalize;
	}
	if (rc != SQLITE_DONE)
		r = store_fail(s, rc, "querying events");
out_finalize:
	sqlite3_finalize(st);
	return r;
}

/* Latest reading per (device, name) without scanning the whole table: hop
 * from one distinct key to the next on readings_dev_name_ts, and read the
 * newest row of each key from the same index. Cost: two index seeks per
 * key, whatever the number of readings kept. */
int store_latest_readings(store *s, const char *device,
			  int (*cb)(void *ud, const struct store_reading *r), void *ud)
{
	char dev[READING_STR_MAX] = "", name[READING_STR_MAX] = "";
	sqlite3_stmt *next = NULL, *last = NULL;
	struct store_reading rd;
	struct binder b;
	const unsigned char *t;
	int rc, r = 0;

	if (!s || !cb)
		return -EINVAL;
	if (device && strlen(device) >= READING_STR_MAX)
		return 0; /* no such device can be stored */
	if (device)
		util_strlcpy(dev, device, sizeof(dev));
	rc = sqlite3_prepare_v2(s->db,
				device ? "SELECT device, name FROM readings WHERE device = ?1 AND "
					 "name > ?2 ORDER BY device, name LIMIT 1"
				       : "SELECT device, name FROM readings WHERE (device, name) > "
					 "(?1, ?2) ORDER BY device, name LIMIT 1",
				-1, &next, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"SELECT ts_ms, value, quality FROM readings WHERE device = ?1 "
					"AND name = ?2 ORDER BY ts_ms DESC LIMIT 1",
					-1, &last, NULL);
	if (rc != SQLITE_OK) {
		r = store_fail(s, rc, "reading the latest readings");
		goto out_finalize;
	}
	for (;;) {
		b = (struct binder){ next, SQLITE_OK };
		store_b_text(&b, 1, dev);
		store_b_text(&b, 2, name);
		r = store_bind_check(s, &b, "reading the latest readings");
		if (r < 0)
			goto out_finalize;
		rc = sqlite3_step(next);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			r = store_fail(s, rc, "reading the latest readings");
			goto out_finalize;
		}
		t = sqlite3_column_text(next, 0);
		util_strlcpy(dev, t ? (const char *)t : "", sizeof(dev));
		t = sqlite3_column_text(next, 1);
		util_strlcpy(name, t ? (const char *)t : "", sizeof(name));
		sqlite3_reset(next);

		b = (struct binder){ last, SQLITE_OK };
		store_b_text(&b, 1, dev);
		store_b_text(&b, 2, name);
		r = store_bind_check(s, &b, "reading the latest readings");
		if (r < 0)
			goto out_finalize;
		rc = sqlite3_step(last);
		if (rc != SQLITE_ROW) {
			r = store_fail(s, rc, "reading the latest readings");
			goto out_finalize;
		}
		rd.ts_ms = sqlite3_column_int64(last, 0);
		rd.value = sqlite3_column_type(last, 1) == SQLITE_NULL ? NAN
								       : sqlite3_column_double(last, 1);
		rd.quality = sqlite3_column_int(last, 2);
		rd.device = dev;
		rd.name = name;
		sqlite3_reset(last);
		r = cb(ud, &rd);
		if (r != 0)
			goto out_finalize;
	}
out_finalize:
	sqlite3_finalize(next);
	sqlite3_finalize(last);
	return r;
}

int store_event_find(store *s, const char *event_id, struct store_event_brief *ret)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc, r;

	if (!s || !event_id || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	r = store_prepare_once(s, "SELECT seq, class, type, state, device FROM events "
				  "WHERE event_id = ?1", &st, "finding an event");
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, event_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ret->seq = (uint64_t)sqlite3_column_int64(st, 0);
		t = sqlite3_column_text(st, 1);
		util_strlcpy(ret->cls, t ? (const char *)t : "", sizeof(ret->cls));
		t = sqlite3_column_text(st, 2);
		util_strlcpy(ret->type, t ? (const char *)t : "", sizeof(ret->type));
		t = sqlite3_column_text(st, 3);
		util_strlcpy(ret->state, t ? (const char *)t : "", sizeof(ret->state));
		t = sqlite3_column_text(st, 4);
		util_strlcpy(ret->device, t ? (const char *)t : "", sizeof(ret->device));
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = store_fail(s, rc, "finding an event");
	}
	sqlite3_finalize(st);
	return r;
}
