/* test_store.c - unit tests of gateway/store.c against real SQLite files
 * in a fresh mkdtemp() directory under /tmp per test, removed afterwards.
 * Error paths first, then the features. A second raw sqlite3 connection
 * checks what is really on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

struct fx {
	char dir[64];
	char path[160]; /* <dir>/sub/firegw.db: open creates "sub" */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/sub/firegw.db", f->dir);
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int r = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(f);
	return r;
}

static store *open_rw(struct fx *f, int max_mb)
{
	struct store_opts o = { .path = f->path, .max_mb = max_mb, .create = true };
	store *s = NULL;

	assert_int_equal(store_open(&o, &s), 0);
	assert_non_null(s);
	return s;
}

static store *open_ro(struct fx *f)
{
	struct store_opts o = { .path = f->path, .readonly = true };
	store *s = NULL;

	assert_int_equal(store_open(&o, &s), 0);
	assert_non_null(s);
	return s;
}

/* Runs a one-integer query on its own read-only connection. */
static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* An event with its own buffers, so tests can vary one field at a time. */
struct ev {
	struct store_event e;
	struct store_point_state ps;
	char id[64];
	char payload[320];
};

static void ev_init(struct ev *v, uint64_t seq, int64_t ts_ms, const char *cls,
		    const char *device, int prio)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "site-a:7f3a9c01:%llu", (unsigned long long)seq);
	{
		char ts[UTIL_TS_LEN];

		/* what the daemon stores: the columns say what the payload says
		 * (firegw verify checks it) */
		snprintf(v->payload, sizeof(v->payload),
			 "{\"event_id\":\"%s\",\"seq\":%llu,\"class\":\"%s\",\"type\":\"smoke\","
			 "\"state\":\"active\",\"device\":\"%s\",\"point\":\"fire\",\"ts\":\"%s\"}",
			 v->id, (unsigned long long)seq, cls, device, util_rfc3339(ts_ms, ts));
	}
	v->e.seq = seq;
	v->e.event_id = v->id;
	v->e.ts_ms = ts_ms;
	v->e.cls = cls;
	v->e.type = "smoke";
	v->e.state = "active";
	v->e.cid = "1111";
	v->e.device = device;
	v->e.point = "fire";
	v->e.dest = STORE_DEST_MQTT;
	v->e.topic = "firegw/site-a/alarm/smoke-a1";
	v->e.payload = v->payload;
	v->e.payload_len = strlen(v->payload);
	v->e.qos = 1;
	v->e.prio = prio;
	v->e.order_key = "smoke-a1.fire";
}

static void commit(store *s, uint64_t seq, int64_t ts_ms, const char *cls, const char *device)
{
	struct ev v;

	ev_init(&v, seq, ts_ms, cls, device, STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &v.e, NULL), 0);
}

/* ---- callbacks collecting rows ---------------------------------------- */

struct rows {
	size_t n;
	int64_t ids[256];
	uint64_t seqs[256];
	int prios[256];
	int stop_at; /* return 7 from the callback at this row count (0: never) */
};

static int outbox_cb(void *ud, const struct store_outbox_row *row)
{
	struct rows *r = ud;

	assert_true(r->n < ARRAY_SIZE(r->ids));
	r->ids[r->n] = row->id;
	r->seqs[r->n] = row->seq;
	r->prios[r->n] = row->prio;
	r->n++;
	return r->stop_at && (int)r->n == r->stop_at ? 7 : 0;
}

static int event_cb(void *ud, const struct store_event_row *row)
{
	struct rows *r = ud;

	assert_true(r->n < ARRAY_SIZE(r->seqs));
	r->seqs[r->n++] = row->seq;
	return 0;
}

struct readings_seen {
	size_t n;
	char dev[16][32];
	char name[16][32];
	int64_t ts[16];
	double value[16];
	int quality[16];
};

static int reading_cb(void *ud, const struct store_reading *r)
{
	struct readings_seen *rs = ud;

	assert_true(rs->n < 16);
	snprintf(rs->dev[rs->n], 32, "%s", r->device);
	snprintf(rs->name[rs->n], 32, "%s", r->name);
	rs->ts[rs->n] = r->ts_ms;
	rs->value[rs->n] = r->value;
	rs->quality[rs->n] = r->quality;
	rs->n++;
	return 0;
}

static size_t latest_count(store *s)
{
	struct readings_seen rs = { 0 };

	assert_int_equal(store_latest_readings(s, NULL, reading_cb, &rs), 0);
	return rs.n;
}

/* ---- error paths --------------------------------------------------------- */

static void test_open_bad_args(void **state)
{
	struct fx *f = *state;
	struct store_opts o = { .path = f->path, .max_mb = -1, .create = true };
	store *s = (store *)1;

	assert_int_equal(store_open(NULL, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(store_open(&o, &s), -EINVAL);
	o.max_mb = 0;
	o.path = "";
	assert_int_equal(store_open(&o, &s), -EINVAL);
	assert_null(s);
	store_free(NULL);
}

static void test_open_missing(void **state)
{
	struct fx *f = *state;
	struct store_opts o = { .path = f->path, .readonly = true };
	store *s = (store *)1;

	assert_int_equal(store_open(&o, &s), -ENOENT);
	assert_null(s);
	/* read-write without create: the caller decides, nothing is created */
	o.readonly = false;
	assert_int_equal(store_open(&o, &s), -ENOENT);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	char dir[160];
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdir(dir, 0700);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_open_garbage(void **state)
{
	struct fx *f = *state;
	struct store_opts o = { .path = f->path, .create = true };
	char garbage[8192];
	struct stat st;
	store *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)("this is not a database, it is a log file\n"[i % 41]);
	write_file(f->path, garbage, sizeof(garbage));
	assert_int_equal(store_open(&o, &s), -EBADMSG);
	assert_null(s);
	o.readonly = true;
	o.create = false;
	assert_int_equal(store_open(&o, &s), -EBADMSG);
	assert_null(s);
	/* the file is left as it was, for the caller to move aside */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, sizeof(garbage));
}

static void test_open_corrupt(void **state)
{
	struct fx *f = *state;
	struct store_opts o = { .path = f->path };
	unsigned char junk[3000];
	store *s = open_rw(f, 0);
	int fd;

	commit(s, 1, 1000, "alarm", "smoke-a1");
	store_free(s);
	/* page 1 keeps its valid 100-byte header but its b-tree (the schema) is
	 * overwritten: the first query fails with SQLITE_CORRUPT */
	memset(junk, 0xa5, sizeof(junk));
	fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 100), (ssize_t)sizeof(junk));
	assert_int_equal(close(fd), 0);
	s = NULL;
	assert_int_equal(store_open(&o, &s), -EBADMSG);
	assert_null(s);
}

static void test_open_newer_schema(void **state)
{
	struct fx *f = *state;
	struct store_opts o = { .path = f->path };
	store *s = open_rw(f, 0);

	store_free(s);
	raw_exec(f->path, "PRAGMA user_version = 99");
	s = NULL;
	/* not -EBADMSG: a newer firegw's database must not be moved aside */
	assert_int_equal(store_open(&o, &s), -EPROTO);
	assert_null(s);
	o.readonly = true;
	assert_int_equal(store_open(&o, &s), -EPROTO);
}

static void test_commit_seq_out_of_order(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	int64_t oid = 42;
	struct ev v;

	ev_init(&v, 0, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &v.e, &oid), -EINVAL);
	assert_int_equal(oid, 0);
	assert_int_equal(store_commit_event(s, &v.e, NULL), -EINVAL);
	assert_int_equal(store_last_seq(s), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(raw_int(f->path, "SELECT last_seq FROM meta"), 0);

	commit(s, 1, 1000, "alarm", "smoke-a1");
	ev_init(&v, 1, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &v.e, NULL), -EINVAL); /* reuse */
	assert_int_equal(store_last_seq(s), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(raw_int(f->path, "SELECT last_seq FROM meta"), 1);
	/* a gap (seqs published from memory and never stored) is allowed, and
	 * after it the seqs it skipped are refused as reuses */
	commit(s, 5, 1000, "alarm", "smoke-a1");
	assert_int_equal(store_last_seq(s), 5);
	assert_int_equal(raw_int(f->path, "SELECT last_seq FROM meta"), 5);
	ev_init(&v, 4, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &v.e, NULL), -EINVAL); /* reuse */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 2);
	store_free(s);
}

/* A failure in the last step of the transaction undoes the earlier ones. */
static void test_commit_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	int64_t oid = 42;
	struct ev v;

	commit(s, 1, 1000, "alarm", "smoke-a1");
	/* an empty point key violates the schema's CHECK, after the meta,
	 * events and outbox writes */
	ev_init(&v, 2, 2000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	v.e.pstate = &v.ps;
	assert_int_equal(store_commit_event(s, &v.e, &oid), -EINVAL);
	assert_int_equal(oid, 0);
	/* a duplicate event_id (same bytes as seq 1's id) */
	ev_init(&v, 2, 2000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	snprintf(v.id, sizeof(v.id), "site-a:7f3a9c01:1");
	assert_int_equal(store_commit_event(s, &v.e, NULL), -EEXIST);

	assert_int_equal(store_last_seq(s), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM point_state"), 0);
	assert_int_equal(raw_int(f->path, "SELECT last_seq FROM meta"), 1);
	/* the same seq goes in once the event is right */
	commit(s, 2, 2000, "alarm", "smoke-a1");
	assert_int_equal(store_last_seq(s), 2);
	store_free(s);
}

static void test_readonly_rejects_writes(void **state)
{
	struct fx *f = *state;
	struct store_reading rd = { 1, "smoke-a1", "temp", 21.5, 0 };
	store *w = open_rw(f, 0), *r;
	int64_t id = 5;
	struct ev v;

	store_free(w);
	r = open_ro(f);
	ev_init(&v, 1, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(r, &v.e, NULL), -EROFS);
	assert_int_equal(store_outbox_add(r, NULL, "t", "x", 1, 0, false, 9, NULL, &id), -EROFS);
	assert_int_equal(id, 0);
	assert_int_equal(store_outbox_delete(r, &id, 1), -EROFS);
	assert_int_equal(store_readings_add(r, &rd), -EROFS);
	assert_int_equal(store_prune(r, 30, 1096, true, util_wall_ms()), -EROFS);
	assert_int_equal(store_last_seq(r), 0);
	store_free(r);
}

/* storage.max_mb: the file cannot grow past it; a full store refuses the
 * event whole, keeps what it has, and takes events again once room is made. */
static void test_max_mb_enospc(void **state)
{
	struct fx *f = *state;
	static char big[64 * 1024];
	struct rows rows = { 0 };
	struct store_query q = { 0 };
	struct rows got = { 0 };
	store *s = open_rw(f, 1);
	uint64_t seq;
	int r = 0, pct = 0;
	struct ev v;
	size_t i;

	memset(big, 'x', sizeof(big));
	for (seq = 1; seq <= 64; seq++) {
		ev_init(&v, seq, 1000 + (int64_t)seq, "alarm", "smoke-a1", STORE_PRIO_ALARM);
		v.e.payload = big;
		v.e.payload_len = sizeof(big);
		r = store_commit_event(s, &v.e, NULL);
		if (r < 0)
			break;
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(seq > 2); /* some events fitted */
	assert_int_equal(store_last_seq(s), seq - 1);
	/* the same event again: still refused whole */
	assert_int_equal(store_commit_event(s, &v.e, NULL), -ENOSPC);
	assert_int_equal(store_last_seq(s), seq - 1);
	assert_int_equal(store_size_percent(s, &pct), 0);
	assert_true(pct >= 90 && pct <= 100);
	/* the file itself never passed the bound */
	assert_true(raw_int(f->path, "PRAGMA page_count") * raw_int(f->path, "PRAGMA page_size") <=
		    1024 * 1024);
	/* earlier events intact */
	assert_int_equal(store_events_query(s, &q, event_cb, &got), 0);
	assert_int_equal(got.n, seq - 1);
	for (i = 0; i < got.n; i++)
		assert_int_equal(got.seqs[i], i + 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events WHERE length(payload) = 65536"),
			 (int64_t)(seq - 1));
	/* delivered rows leave the outbox: room for the next event */
	assert_int_equal(store_outbox_foreach(s, 0, 9, 0, 0, outbox_cb, &rows), 0);
	assert_int_equal(rows.n, seq - 1);
	assert_int_equal(store_outbox_delete(s, rows.ids, rows.n), 0);
	ev_init(&v, seq, 5000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &v.e, NULL), 0);
	assert_int_equal(store_last_seq(s), seq);
	store_free(s);
}

static void test_readings_errors(void **state)
{
	struct fx *f = *state;
	struct store_reading rd = { 1000, "smoke-a1", "temp", 21.5, 0 };
	char long_name[200];
	store *s = open_rw(f, 0);
	int i, r = 0;

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(store_readings_add(s, NULL), -EINVAL);
	rd.device = NULL;
	assert_int_equal(store_readings_add(s, &rd), -EINVAL);
	rd.device = "";
	assert_int_equal(store_readings_add(s, &rd), -EINVAL);
	rd.device = long_name;
	assert_int_equal(store_readings_add(s, &rd), -EINVAL);
	rd.device = "smoke-a1";
	/* bounded buffer: the caller is told to drop the reading */
	for (i = 0; i < 10000; i++) {
		r = store_readings_add(s, &rd);
		if (r < 0)
			break;
	}
	assert_int_equal(r, -ENOBUFS);
	assert_int_equal(i, 4096);
	store_free(s);
	/* store_free wrote the full buffer */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM readings"), 4096);
}

static void test_outbox_errors(void **state)
{
	struct fx *f = *state;
	char *topic = NULL;
	void *payload = NULL;
	size_t len = 0;
	int64_t id = 9;
	store *s = open_rw(f, 0);

	assert_int_equal(store_outbox_get(s, 12345, &topic, &payload, &len), -ENOENT);
	assert_null(topic);
	assert_null(payload);
	assert_int_equal(store_outbox_add(s, NULL, NULL, "x", 1, 0, false, 9, NULL, &id), -EINVAL);
	assert_int_equal(store_outbox_add(s, NULL, "t", "x", 1, 3, false, 9, NULL, &id), -EINVAL);
	assert_int_equal(store_outbox_add(s, NULL, "t", "x", 1, 0, false, 10, NULL, &id), -EINVAL);
	assert_int_equal(store_outbox_add(s, NULL, "t", NULL, 1, 0, false, 9, NULL, &id), -EINVAL);
	assert_int_equal(id, 0);
	assert_int_equal(store_outbox_delete(s, NULL, 1), -EINVAL);
	assert_int_equal(store_outbox_delete(s, NULL, 0), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox"), 0);
	store_free(s);
}

/* ---- features ------------------------------------------------------------- */

static bool is_hex8(const char *e)
{
	size_t i;

	if (strlen(e) != 8)
		return false;
	for (i = 0; i < 8; i++)
		if (!strchr("0123456789abcdef", e[i]))
			return false;
	return true;
}

static void test_new_database(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	char other[200];
	store *s2;
	struct store_opts o = { .path = other, .create = true };

	assert_true(is_hex8(store_epoch(s)));
	assert_int_equal(store_last_seq(s), 0);
	assert_false(store_unclean(s));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	assert_int_equal(raw_int(f->path, "SELECT schema_version FROM meta"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM meta"), 1);
	assert_true(raw_int(f->path, "SELECT created_ms FROM meta") > 1700000000000);
	assert_int_equal(store_integrity_check(s), 0);
	/* a second database draws its own epoch (chance of a clash: 2^-32) */
	snprintf(other, sizeof(other), "%s/other.db", f->dir);
	assert_int_equal(store_open(&o, &s2), 0);
	assert_true(is_hex8(store_epoch(s2)));
	assert_string_not_equal(store_epoch(s), store_epoch(s2));
	store_free(s2);
	store_free(s);
}

static void test_wal_mode(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_free(s);
}

static void test_epoch_persists(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	char epoch[9];

	snprintf(epoch, sizeof(epoch), "%s", store_epoch(s));
	commit(s, 1, 1000, "alarm", "smoke-a1");
	commit(s, 2, 2000, "fault", "smoke-a1");
	commit(s, 3, 3000, "alarm", "smoke-a1");
	store_free(s);

	s = open_rw(f, 0);
	assert_string_equal(store_epoch(s), epoch);
	assert_int_equal(store_last_seq(s), 3);
	assert_false(store_unclean(s)); /* closed cleanly */
	commit(s, 4, 4000, "alarm", "smoke-a1");
	store_free(s);

	s = open_ro(f);
	assert_string_equal(store_epoch(s), epoch);
	assert_int_equal(store_last_seq(s), 4);
	store_free(s);
}

/* A writer that dies without closing (SIGKILL, power cut) leaves the WAL:
 * the committed event is there and the next open says it was unclean. */
static void test_crash_keeps_commit(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	int status = 0;
	pid_t pid;

	store_free(s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_opts o = { .path = f->path };
		struct ev v;
		store *c = NULL;

		if (store_open(&o, &c) < 0)
			_exit(2);
		ev_init(&v, 1, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
		if (store_commit_event(c, &v.e, NULL) < 0)
			_exit(3);
		_exit(0); /* no store_free: as if killed */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	s = open_rw(f, 0);
	assert_true(store_unclean(s));
	assert_int_equal(store_integrity_check(s), 0);
	assert_int_equal(store_last_seq(s), 1);
	commit(s, 2, 2000, "alarm", "smoke-a1");
	store_free(s);
}

static int pstate_cb(void *ud, const struct store_point_state *ps)
{
	struct store_point_state *out = ud;
	size_t i;

	for (i = 0; i < 4; i++) {
		if (out[i].key[0] == '\0') {
			out[i] = *ps;
			return 0;
		}
	}
	fail_msg("more point states than expected");
	return -1;
}

static void test_commit_atomic(void **state)
{
	struct fx *f = *state;
	struct store_point_state got[4];
	struct rows rows = { 0 }, evs = { 0 };
	struct store_query q = { 0 };
	store *s = open_rw(f, 0);
	int64_t oid = 0, oid2 = 0;
	struct ev v;

	ev_init(&v, 1, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	util_strlcpy(v.ps.key, "smoke-a1.fire", sizeof(v.ps.key));
	v.ps.conditions = 1;
	v.ps.latched = true;
	v.ps.alarm_causes = 2;
	v.ps.since_ms = 1000;
	v.ps.last_seq = 1;
	v.e.pstate = &v.ps;
	assert_int_equal(store_commit_event(s, &v.e, &oid), 0);
	assert_true(oid > 0);
	/* a suppressed event (no topic): stored, no outbox row */
	ev_init(&v, 2, 2000, "fault", "smoke-a1", STORE_PRIO_FAULT);
	v.e.topic = NULL;
	assert_int_equal(store_commit_event(s, &v.e, &oid2), 0);
	assert_int_equal(oid2, 0);

	assert_int_equal(store_events_query(s, &q, event_cb, &evs), 0);
	assert_int_equal(evs.n, 2);
	assert_int_equal(store_outbox_foreach(s, 0, 9, 0, 0, outbox_cb, &rows), 0);
	assert_int_equal(rows.n, 1);
	assert_int_equal(rows.ids[0], oid);
	assert_int_equal(rows.seqs[0], 1);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_point_state_foreach(s, pstate_cb, got), 0);
	assert_string_equal(got[0].key, "smoke-a1.fire");
	assert_true(got[0].latched);
	assert_int_equal(got[0].last_seq, 1);
	assert_int_equal(got[1].key[0], '\0');
	assert_int_equal(raw_int(f->path, "SELECT last_seq FROM meta"), 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE seq = 1 AND dest = 'mqtt' "
					  "AND order_key = 'smoke-a1.fire' AND qos = 1 AND prio = 0"),
			 1);
	store_free(s);
}

static void test_outbox_exact_bytes(void **state)
{
	struct fx *f = *state;
	/* a NUL in the middle, UTF-8 ("Chợ Mỹ Tho"), a 0xff byte */
	static const char bytes[] = "{\"location\":\"Ch\xe1\xbb\xa3 M\xe1\xbb\xb9 Tho\"}\0tail\xff";
	const size_t blen = sizeof(bytes) - 1;
	const char *topic_in = "pccc/ti\xe1\xbb\x81n-giang/site-a/alarm/smoke-a1";
	store *s = open_rw(f, 0);
	int64_t oid = 0, tid = 0, eid = 0;
	char *topic = NULL;
	void *payload = NULL;
	size_t len = 0;
	struct ev v;

	ev_init(&v, 1, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	v.e.topic = topic_in;
	v.e.payload = bytes;
	v.e.payload_len = blen;
	assert_int_equal(store_commit_event(s, &v.e, &oid), 0);
	assert_int_equal(store_outbox_get(s, oid, &topic, &payload, &len), 0);
	assert_string_equal(topic, topic_in);
	assert_int_equal(len, blen);
	assert_memory_equal(payload, bytes, blen);
	free(topic);
	free(payload);

	/* telemetry through store_outbox_add, same guarantee */
	assert_int_equal(store_outbox_add(s, NULL, "t/telemetry", bytes, blen, 0, false,
					  STORE_PRIO_TELEMETRY, NULL, &tid), 0);
	assert_true(tid > oid);
	assert_int_equal(store_outbox_get(s, tid, &topic, &payload, &len), 0);
	assert_int_equal(len, blen);
	assert_memory_equal(payload, bytes, blen);
	free(topic);
	free(payload);

	/* an empty payload (a cleared retained state) stays empty, not NULL */
	assert_int_equal(store_outbox_add(s, "mqtt", "t/state/gone", NULL, 0, 1, true,
					  STORE_PRIO_OTHER, "gone", &eid), 0);
	assert_int_equal(store_outbox_get(s, eid, &topic, &payload, &len), 0);
	assert_int_equal(len, 0);
	assert_non_null(payload);
	free(topic);
	free(payload);
	store_free(s);
}

/* ids: prio of each row added in this order */
static void add_rows(store *s, const int *prios, size_t n, int64_t *ids)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(store_outbox_add(s, NULL, "t", "p", 1, 1, false, prios[i], "k",
						  &ids[i]), 0);
}

static void test_outbox_foreach(void **state)
{
	static const int prios[] = { 9, 0, 3, 9, 2, 0, 1, 9, 3, 0 };
	struct fx *f = *state;
	int64_t ids[ARRAY_SIZE(prios)];
	store *s = open_rw(f, 0);
	struct rows r;
	size_t i;

	add_rows(s, prios, ARRAY_SIZE(prios), ids);
	for (i = 1; i < ARRAY_SIZE(ids); i++)
		assert_true(ids[i] > ids[i - 1]);

	/* alarms only, in id order */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_outbox_foreach(s, 0, 0, 0, 0, outbox_cb, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ids[0], ids[1]);
	assert_int_equal(r.ids[1], ids[5]);
	assert_int_equal(r.ids[2], ids[9]);

	/* every event (0..3): merged across priorities, still in id order */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_outbox_foreach(s, STORE_PRIO_ALARM, STORE_PRIO_OTHER, 0, 0, outbox_cb,
					      &r), 0);
	assert_int_equal(r.n, 7);
	for (i = 0; i < r.n; i++) {
		assert_true(r.prios[i] <= 3);
		if (i)
			assert_true(r.ids[i] > r.ids[i - 1]);
	}

	/* after_id and limit: paging */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_outbox_foreach(s, 0, 9, ids[3], 3, outbox_cb, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ids[0], ids[4]);
	assert_int_equal(r.ids[2], ids[6]);

	/* telemetry only */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_outbox_foreach(s, 9, 9, 0, 0, outbox_cb, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ids[2], ids[7]);

	/* the callback stops the walk; its value comes back */
	memset(&r, 0, sizeof(r));
	r.stop_at = 2;
	assert_int_equal(store_outbox_foreach(s, 0, 9, 0, 0, outbox_cb, &r), 7);
	assert_int_equal(r.n, 2);

	/* an empty range */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_outbox_foreach(s, 5, 4, 0, 0, outbox_cb, &r), 0);
	assert_int_equal(r.n, 0);
	store_free(s);
}

/* More rows than one internal chunk, with the callback deleting as it goes
 * (as the publisher does on PUBACK). */
static int delete_cb(void *ud, const struct store_outbox_row *row)
{
	store *s = ud;

	return store_outbox_delete(s, &row->id, 1);
}

static void test_outbox_foreach_many(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	int64_t id, ev = -1, tel = -1, oldest = -1;
	struct rows r = { 0 };
	int i;

	for (i = 0; i < 200; i++)
		assert_int_equal(store_outbox_add(s, NULL, "t", "p", 1, 0, false,
						  i % 10 == 0 ? STORE_PRIO_ALARM : STORE_PRIO_TELEMETRY,
						  NULL, &id), 0);
	assert_int_equal(store_outbox_foreach(s, 0, 9, 0, 150, outbox_cb, &r), 0);
	assert_int_equal(r.n, 150);
	for (i = 1; i < 150; i++)
		assert_true(r.ids[i] > r.ids[i - 1]);
	assert_int_equal(store_outbox_foreach(s, 9, 9, 0, 0, delete_cb, s), 0);
	assert_int_equal(store_outbox_stats(s, &ev, &tel, &oldest), 0);
	assert_int_equal(ev, 20);
	assert_int_equal(tel, 0);
	store_free(s);
}

static void test_outbox_delete(void **state)
{
	static const int prios[] = { 0, 1, 2, 3, 9, 9 };
	struct fx *f = *state;
	int64_t ids[ARRAY_SIZE(prios)], del[3], newid;
	store *s = open_rw(f, 0);
	struct rows r = { 0 };

	add_rows(s, prios, ARRAY_SIZE(prios), ids);
	del[0] = ids[1];
	del[1] = ids[4];
	del[2] = 999999; /* already gone: not an error */
	assert_int_equal(store_outbox_delete(s, del, 3), 0);
	assert_int_equal(store_outbox_foreach(s, 0, 9, 0, 0, outbox_cb, &r), 0);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ids[0], ids[0]);
	assert_int_equal(r.ids[1], ids[2]);
	assert_int_equal(r.ids[2], ids[3]);
	assert_int_equal(r.ids[3], ids[5]);
	/* ids never come back, even after the newest row is deleted */
	assert_int_equal(store_outbox_delete(s, &ids[5], 1), 0);
	assert_int_equal(store_outbox_add(s, NULL, "t", "p", 1, 0, false, 9, NULL, &newid), 0);
	assert_true(newid > ids[5]);
	store_free(s);
}

static void test_outbox_stats(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	int64_t ev = -1, tel = -1, oldest = -1, id, before;

	assert_int_equal(store_outbox_stats(s, &ev, &tel, &oldest), 0);
	assert_int_equal(ev, 0);
	assert_int_equal(tel, 0);
	assert_int_equal(oldest, 0);
	before = util_wall_ms();
	commit(s, 1, 1000, "alarm", "smoke-a1");
	commit(s, 2, 1000, "fault", "smoke-a1");
	assert_int_equal(store_outbox_add(s, NULL, "t", "p", 1, 0, false, 9, NULL, &id), 0);
	assert_int_equal(store_outbox_stats(s, &ev, &tel, &oldest), 0);
	assert_int_equal(ev, 2);
	assert_int_equal(tel, 1);
	assert_true(oldest >= before && oldest <= util_wall_ms());
	store_free(s);
}

static void assert_pstate_equal(const struct store_point_state *a,
				const struct store_point_state *b)
{
	size_t i;

	assert_string_equal(a->key, b->key);
	assert_int_equal(a->conditions, b->conditions);
	assert_int_equal(a->latched, b->latched);
	assert_int_equal(a->alarm_causes, b->alarm_causes);
	assert_int_equal(a->prealarm_causes, b->prealarm_causes);
	for (i = 0; i < 8; i++)
		assert_int_equal(a->fault_causes[i], b->fault_causes[i]);
	assert_int_equal(a->since_ms, b->since_ms);
	assert_int_equal(a->last_seq, b->last_seq);
	assert_string_equal(a->mode, b->mode);
}

static void test_point_state_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_point_state a = { 0 }, b = { 0 }, got[4];
	store *s = open_rw(f, 0);
	size_t i;

	util_strlcpy(a.key, "panel-1.in1", sizeof(a.key));
	a.conditions = 0xffffffffu;
	a.latched = true;
	a.alarm_causes = 0x80000001u;
	a.prealarm_causes = 7;
	for (i = 0; i < 8; i++)
		a.fault_causes[i] = (uint32_t)(0xf0000000u + i);
	a.since_ms = 1764296506123;
	a.last_seq = 9007199254740993ull; /* beyond a double's exact range */
	util_strlcpy(a.mode, "{\"disabled\":true,\"reason\":\"thay đầu báo\"}", sizeof(a.mode));
	util_strlcpy(b.key, "gateway", sizeof(b.key));
	b.since_ms = -5;
	assert_int_equal(store_point_state_save(s, &a), 0);
	assert_int_equal(store_point_state_save(s, &b), 0);
	store_free(s);

	s = open_ro(f);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_point_state_foreach(s, pstate_cb, got), 0);
	/* ordered by key */
	assert_pstate_equal(&got[0], &b);
	assert_pstate_equal(&got[1], &a);
	assert_int_equal(got[2].key[0], '\0');
	store_free(s);

	/* a save replaces the point's row */
	s = open_rw(f, 0);
	a.latched = false;
	a.conditions = 0;
	assert_int_equal(store_point_state_save(s, &a), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_point_state_foreach(s, pstate_cb, got), 0);
	assert_pstate_equal(&got[1], &a);
	assert_int_equal(got[2].key[0], '\0');
	store_free(s);
}

/* A database made by the first schema (no point mode) is migrated in
 * place: its point states stay, in normal service. */
/* A file of schema 1 with events: the steps up to 3 run, the point state
 * survives, and the events stored before the chain become its first links. */
static void test_migration_v1_to_v3(void **state)
{
	struct fx *f = *state;
	struct store_point_state a = { 0 }, got[2];
	struct store_verify v;
	store *s = open_rw(f, 0);

	util_strlcpy(a.key, "smoke-1.fire", sizeof(a.key));
	a.latched = true;
	a.conditions = 1;
	assert_int_equal(store_point_state_save(s, &a), 0);
	commit(s, 1, 1000, "alarm", "smoke-a1");
	commit(s, 2, 2000, "fault", "smoke-a1");
	store_free(s);
	raw_exec(f->path, "DROP INDEX events_class_ts; DROP INDEX events_ref; "
			  "ALTER TABLE events DROP COLUMN hash; ALTER TABLE events DROP COLUMN ref; "
			  "ALTER TABLE point_state DROP COLUMN created_ms; DROP TABLE chain; "
			  "DROP TABLE compliance_history; "
			  "ALTER TABLE point_state DROP COLUMN mode; PRAGMA user_version = 1; "
			  "UPDATE meta SET schema_version = 1");
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	s = open_rw(f, 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_point_state_foreach(s, pstate_cb, got), 0);
	assert_pstate_equal(&got[0], &a);
	assert_int_equal(store_chain_verify(s, NULL, &v), 0);
	assert_int_equal(v.checked, 2);
	assert_int_equal(v.bad_seq, 0);
	assert_int_equal(v.head.seq, 2);
	store_free(s);
}

/* ---- tamper evidence -------------------------------------------------- */

static void test_chain_links_and_head(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0), *r;
	struct store_chain_head h0, h2, hro;
	struct store_verify v;
	uint8_t link[STORE_HASH_LEN], zero[STORE_HASH_LEN] = { 0 };
	char hex[2 * STORE_HASH_LEN + 1];
	struct ev e1;

	assert_int_equal(store_chain_head(s, &h0), 0);
	assert_int_equal(h0.seq, 0);
	assert_memory_equal(h0.hash, zero, sizeof(zero));
	ev_init(&e1, 1, 1000, "alarm", "smoke-a1", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &e1.e, NULL), 0);
	commit(s, 2, 2000, "fault", "smoke-a1");
	assert_int_equal(store_chain_head(s, &h2), 0);
	assert_int_equal(h2.seq, 2);
	/* link 1 is SHA-256(zeros || seq 1 || payload), as documented */
	assert_int_equal(raw_int(f->path, "SELECT length(hash) FROM events WHERE seq = 1"), 32);
	store_hash_hex(h2.hash, hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(store_hash_parse(hex, link), 0);
	assert_memory_equal(link, h2.hash, sizeof(link));
	assert_int_equal(store_hash_parse("xyz", link), -EINVAL);
	/* the head is the same seen from a read-only handle */
	r = open_ro(f);
	assert_int_equal(store_chain_head(r, &hro), 0);
	assert_int_equal(hro.seq, 2);
	assert_memory_equal(hro.hash, h2.hash, sizeof(h2.hash));
	assert_int_equal(store_chain_verify(r, &h2, &v), 0);
	assert_int_equal(v.checked, 2);
	assert_int_equal(v.bad_seq, 0);
	assert_true(v.head_checked && v.head_ok);
	store_free(r);
	store_free(s);
}

/* An edited row is found; a database recomputed after the edit verifies on
 * its own but no longer holds a head published before. */
static void test_chain_edit_found_and_recompute_fails_head(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	struct store_chain_head h3;
	struct store_verify v;
	uint64_t i;

	for (i = 1; i <= 5; i++)
		commit(s, i, (int64_t)i * 1000, "alarm", "smoke-a1");
	/* the head as the center holds it after seq 3 */
	store_free(s);
	s = open_ro(f);
	assert_int_equal(store_chain_verify(s, NULL, &v), 0);
	store_free(s);
	h3.seq = 3;
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE seq = 3", -1,
						    &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		memcpy(h3.hash, sqlite3_column_blob(st, 0), STORE_HASH_LEN);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	/* a careful forger: seq 2 becomes a heat event, payload and column
	 * alike (the columns agree with the payload) */
	raw_exec(f->path, "UPDATE events SET type = 'heat', payload = CAST(replace(CAST(payload AS "
			  "TEXT), '\"type\":\"smoke\"', '\"type\":\"heat\"') AS BLOB) WHERE seq = 2");
	s = open_ro(f);
	assert_int_equal(store_chain_verify(s, &h3, &v), 0);
	assert_int_equal(v.bad_seq, 2);
	assert_non_null(strstr(v.why, "event 2"));
	assert_int_equal(v.checked, 1);
	store_free(s);
	/* recompute every link, as a forger would: back to schema 2, and the
	 * migration's chaining rebuilds them all from the edited rows */
	{
		raw_exec(f->path, "DROP TABLE chain; DROP INDEX events_class_ts; DROP INDEX events_ref; "
				  "ALTER TABLE events DROP COLUMN hash; ALTER TABLE events DROP COLUMN "
				  "ref; ALTER TABLE point_state DROP COLUMN created_ms; DROP TABLE "
				  "compliance_history; PRAGMA user_version = 2");
		s = open_rw(f, 0);
		store_free(s);
	}
	s = open_ro(f);
	assert_int_equal(store_chain_verify(s, &h3, &v), 0);
	assert_int_equal(v.bad_seq, 0); /* consistent on its own */
	assert_true(v.head_checked);
	assert_false(v.head_ok);         /* but not the chain the center saw */
	store_free(s);
}

/* A new database after corruption starts from a genesis naming the old
 * epoch's last head; only before its first event. */
static void test_chain_origin(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	struct store_chain_head old = { .seq = 41 }, h;
	uint8_t zero[STORE_HASH_LEN] = { 0 };
	struct store_verify v;

	memset(old.hash, 0xab, sizeof(old.hash));
	assert_int_equal(store_chain_set_origin(s, "bad", &old), -EINVAL);
	assert_int_equal(store_chain_set_origin(s, "0badc0de", &old), 0);
	assert_int_equal(store_chain_head(s, &h), 0);
	assert_memory_not_equal(h.hash, zero, sizeof(zero));
	commit(s, 1, 1000, "fault", "gateway");
	assert_int_equal(store_chain_set_origin(s, "0badc0de", &old), -EEXIST);
	assert_int_equal(raw_int(f->path, "SELECT prev_seq FROM chain"), 41);
	assert_int_equal(store_chain_verify(s, NULL, &v), 0);
	assert_int_equal(v.bad_seq, 0);
	store_free(s);
	/* the genesis survives a reopen */
	s = open_rw(f, 0);
	commit(s, 2, 2000, "fault", "gateway");
	assert_int_equal(store_chain_verify(s, NULL, &v), 0);
	assert_int_equal(v.checked, 2);
	assert_int_equal(v.bad_seq, 0);
	store_free(s);
}

static void test_readings_batched(void **state)
{
	struct fx *f = *state;
	struct store_reading rd = { 1000, "smoke-a1", "obscuration", 1.25, 0 };
	store *w = open_rw(f, 0), *r = open_ro(f);
	uint64_t t0 = 5000000;
	int i;

	assert_int_equal(store_readings_add(w, &rd), 0);
	rd.name = "temp";
	rd.value = 23.5;
	assert_int_equal(store_readings_add(w, &rd), 0);
	assert_int_equal(latest_count(r), 0);
	assert_int_equal(store_tick(w, t0), 0);
	assert_int_equal(latest_count(r), 0);
	/* a flush a minute: not after a second, nor a second before */
	assert_int_equal(store_tick(w, t0 + 1000), 0);
	assert_int_equal(latest_count(r), 0);
	assert_int_equal(store_tick(w, t0 + 59999), 0);
	assert_int_equal(latest_count(r), 0);
	assert_int_equal(store_tick(w, t0 + 60000), 0);
	assert_int_equal(latest_count(r), 2);
	/* next flush again waits a full minute */
	rd.device = "heat-b2";
	assert_int_equal(store_readings_add(w, &rd), 0);
	assert_int_equal(store_tick(w, t0 + 90000), 0);
	assert_int_equal(latest_count(r), 2);
	assert_int_equal(store_tick(w, t0 + 120000), 0);
	assert_int_equal(latest_count(r), 3);
	/* ... unless half the buffer is used: then the next tick writes */
	rd.device = "many";
	for (i = 0; i < 2047; i++) {
		rd.ts_ms = 2000 + i;
		assert_int_equal(store_readings_add(w, &rd), 0);
	}
	assert_int_equal(store_tick(w, t0 + 121000), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM readings WHERE device = 'many'"), 0);
	assert_int_equal(store_readings_add(w, &rd), 0);
	assert_int_equal(store_tick(w, t0 + 122000), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM readings WHERE device = 'many'"),
			 2048);
	store_free(r);
	store_free(w);
}

static void test_latest_readings(void **state)
{
	struct fx *f = *state;
	struct store_reading rd = { 0 };
	struct readings_seen rs = { 0 };
	store *s = open_rw(f, 0);
	static const struct {
		int64_t ts;
		const char *dev, *name;
		double v;
		int q;
	} in[] = {
		{ 3000, "smoke-a1", "temp", 22.0, 0 }, { 1000, "smoke-a1", "temp", 20.0, 0 },
		{ 2000, "smoke-a1", "obscuration", 0.5, 0 }, { 4000, "heat-b2", "temp", 31.0, 2 },
		{ 5000, "heat-b2", "temp", NAN, 1 }, { 1000, "heat-b2", "temp", 30.0, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(in); i++) {
		rd.ts_ms = in[i].ts;
		rd.device = in[i].dev;
		rd.name = in[i].name;
		rd.value = in[i].v;
		rd.quality = in[i].q;
		assert_int_equal(store_readings_add(s, &rd), 0);
	}
	store_free(s);
	s = open_ro(f);
	assert_int_equal(store_latest_readings(s, NULL, reading_cb, &rs), 0);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.dev[0], "heat-b2");
	assert_int_equal(rs.ts[0], 5000);
	assert_true(isnan(rs.value[0])); /* a bad read keeps no value */
	assert_int_equal(rs.quality[0], 1);
	assert_string_equal(rs.name[1], "obscuration");
	assert_string_equal(rs.name[2], "temp");
	assert_int_equal(rs.ts[2], 3000);
	assert_true(rs.value[2] == 22.0);
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_latest_readings(s, "smoke-a1", reading_cb, &rs), 0);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.dev[0], "smoke-a1");
	assert_string_equal(rs.dev[1], "smoke-a1");
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_latest_readings(s, "nobody", reading_cb, &rs), 0);
	assert_int_equal(rs.n, 0);
	store_free(s);
}

static int payload_cb(void *ud, const struct store_event_row *row)
{
	struct ev *want = ud;

	assert_int_equal(row->seq, want->e.seq);
	assert_string_equal(row->event_id, want->e.event_id);
	assert_string_equal(row->cls, want->e.cls);
	assert_string_equal(row->type, want->e.type);
	assert_string_equal(row->state, want->e.state);
	assert_string_equal(row->cid, want->e.cid);
	assert_string_equal(row->device, want->e.device);
	assert_null(row->point);
	assert_int_equal(row->ts_ms, want->e.ts_ms);
	assert_int_equal(row->payload_len, want->e.payload_len);
	assert_memory_equal(row->payload, want->e.payload, want->e.payload_len);
	return 0;
}

static void test_events_query(void **state)
{
	struct fx *f = *state;
	static const char *const alarm_fault[] = { "alarm", "fault" };
	static const char *const system_only[] = { "system" };
	store *s = open_rw(f, 0);
	struct store_query q;
	struct rows r;
	struct ev v;
	uint64_t i;

	/* seq 1..10 at ts 1000..10000; devices alternate; classes cycle */
	for (i = 1; i <= 10; i++)
		commit(s, i, (int64_t)i * 1000, i % 3 == 0 ? "fault" : i % 3 == 1 ? "alarm" : "test",
		       i % 2 ? "smoke-a1" : "heat-b2");
	ev_init(&v, 11, 11000, "system", "gateway", STORE_PRIO_OTHER);
	v.e.point = NULL;
	assert_int_equal(store_commit_event(s, &v.e, NULL), 0);

	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_events_query(s, &q, event_cb, &r), 0);
	assert_int_equal(r.n, 11);
	for (i = 0; i < r.n; i++)
		assert_int_equal(r.seqs[i], i + 1); /* ascending */

	q.from_ms = 3000; /* inclusive */
	q.to_ms = 6000;   /* exclusive */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_events_query(s, &q, event_cb, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.seqs[0], 3);
	assert_int_equal(r.seqs[2], 5);

	memset(&q, 0, sizeof(q));
	q.device = "heat-b2";
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_events_query(s, &q, event_cb, &r), 0);
	assert_int_equal(r.n, 5);
	for (i = 0; i < r.n; i++)
		assert_int_equal(r.seqs[i] % 2, 0);

	memset(&q, 0, sizeof(q));
	q.classes = alarm_fault;
	q.n_classes = 2;
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_events_query(s, &q, event_cb, &r), 0);
	assert_int_equal(r.n, 7); /* 1 3 4 6 7 9 10 */
	assert_int_equal(r.seqs[0], 1);
	assert_int_equal(r.seqs[1], 3);
	assert_int_equal(r.seqs[6], 10);

	/* combined: device + class + after_seq + limit (a cursor page) */
	q.device = "smoke-a1";
	q.after_seq = 1;
	q.limit = 2;
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_events_query(s, &q, event_cb, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seqs[0], 3);
	assert_int_equal(r.seqs[1], 7);

	memset(&q, 0, sizeof(q));
	q.classes = system_only;
	q.n_classes = 1;
	assert_int_equal(store_events_query(s, &q, payload_cb, &v), 0);

	memset(&q, 0, sizeof(q));
	q.n_classes = 1; /* classes NULL with a count */
	assert_int_equal(store_events_query(s, &q, event_cb, &r), -EINVAL);
	store_free(s);
}

static void test_readonly_sees_writer(void **state)
{
	struct fx *f = *state;
	struct store_query q = { 0 };
	store *w = open_rw(f, 0), *r;
	struct rows rows = { 0 };
	int64_t ev = 0, tel = 0, oldest = 0;

	commit(w, 1, 1000, "alarm", "smoke-a1");
	r = open_ro(f); /* opened next to the running writer */
	assert_string_equal(store_epoch(r), store_epoch(w));
	assert_int_equal(store_last_seq(r), 1);
	commit(w, 2, 2000, "alarm", "smoke-a1");
	commit(w, 3, 3000, "alarm", "smoke-a1");
	assert_int_equal(store_events_query(r, &q, event_cb, &rows), 0);
	assert_int_equal(rows.n, 3);
	assert_int_equal(store_outbox_stats(r, &ev, &tel, &oldest), 0);
	assert_int_equal(ev, 3);
	assert_int_equal(store_integrity_check(r), 0);
	/* the writer keeps writing while the reader is open */
	commit(w, 4, 4000, "alarm", "smoke-a1");
	store_free(r);
	store_free(w);
}

static void test_prune_age(void **state)
{
	struct fx *f = *state;
	const int64_t now = 1893456000000; /* 2030-01-01 */
	const int64_t day = 86400000;
	struct store_reading rd = { 0, "smoke-a1", "temp", 20.0, 0 };
	store *s = open_rw(f, 0);
	struct rows rows = { 0 };
	size_t i;

	/* seq 1,2: 4 years old, delivered; 3: 4 years old, still in the outbox;
	 * 4: 4 years old, never published; 5: recent, delivered;
	 * 6: stamped 1970 (clock unset at the time), delivered */
	commit(s, 1, now - 1460 * day, "alarm", "smoke-a1");
	commit(s, 2, now - 1460 * day, "alarm", "smoke-a1");
	commit(s, 3, now - 1460 * day, "alarm", "smoke-a1");
	{
		struct ev v;

		ev_init(&v, 4, now - 1460 * day, "fault", "smoke-a1", STORE_PRIO_FAULT);
		v.e.topic = NULL;
		assert_int_equal(store_commit_event(s, &v.e, NULL), 0);
	}
	commit(s, 5, now - 10 * day, "alarm", "smoke-a1");
	commit(s, 6, 5000, "alarm", "smoke-a1");
	assert_int_equal(store_outbox_foreach(s, 0, 9, 0, 0, outbox_cb, &rows), 0);
	assert_int_equal(rows.n, 5);
	for (i = 0; i < rows.n; i++)
		if (rows.seqs[i] != 3)
			assert_int_equal(store_outbox_delete(s, &rows.ids[i], 1), 0);

	rd.ts_ms = now - 40 * day;
	assert_int_equal(store_readings_add(s, &rd), 0);
	rd.ts_ms = now - 1 * day;
	assert_int_equal(store_readings_add(s, &rd), 0);
	/* a value that never changed: its one sample is old, and stays */
	rd.name = "supply";
	rd.ts_ms = now - 400 * day;
	assert_int_equal(store_readings_add(s, &rd), 0);
	store_free(s); /* flushes the readings */
	s = open_rw(f, 0);

	/* clock not synchronised: nothing goes by age */
	assert_int_equal(store_prune(s, 30, 1096, false, now), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 6);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM readings"), 3);

	/* events go as a prefix of the chain: 1 and 2; 3 must still go out,
	 * so 4 (old, never published) stays behind it */
	assert_int_equal(store_prune(s, 30, 1096, true, now), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events WHERE seq IN (3, 4, 5, 6)"),
			 4);
	assert_int_equal(raw_int(f->path, "SELECT pruned_seq FROM chain"), 2);
	{
		struct store_verify v;

		/* what is left verifies from the kept link */
		assert_int_equal(store_chain_verify(s, NULL, &v), 0);
		assert_int_equal(v.bad_seq, 0);
		assert_int_equal(v.checked, 4);
		assert_int_equal(v.first_seq, 3);
	}
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM readings"), 2);
	assert_int_equal(raw_int(f->path, "SELECT ts_ms FROM readings WHERE name = 'temp'"),
			 now - day);
	assert_int_equal(raw_int(f->path, "SELECT ts_ms FROM readings WHERE name = 'supply'"),
			 now - 400 * day);
	/* the seq counter is unaffected */
	assert_int_equal(raw_int(f->path, "SELECT last_seq FROM meta"), 6);
	/* 0 days: kept forever */
	assert_int_equal(store_prune(s, 0, 0, true, now + 3000 * day), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM readings"), 2);
	assert_int_equal(store_prune(s, -1, 0, true, now), -EINVAL);
	store_free(s);
}

static void test_prune_size(void **state)
{
	struct fx *f = *state;
	static char big[1024];
	store *s = open_rw(f, 1);
	int64_t id = 0, first = 0, ev = 0, tel = 0, before_tel = 0;
	int pct = 0, i, r = 0;

	memset(big, 't', sizeof(big));
	commit(s, 1, 1000, "alarm", "smoke-a1");
	commit(s, 2, 2000, "fault", "smoke-a1");
	for (i = 0; i < 2000; i++) {
		r = store_size_percent(s, &pct);
		assert_int_equal(r, 0);
		if (pct >= 85)
			break;
		assert_int_equal(store_outbox_add(s, NULL, "t/telemetry", big, sizeof(big), 0, false,
						  STORE_PRIO_TELEMETRY, NULL, &id), 0);
		if (!first)
			first = id;
	}
	assert_true(pct >= 85);
	assert_int_equal(store_outbox_stats(s, &ev, &before_tel, NULL), 0);
	/* size pruning does not depend on the clock */
	assert_int_equal(store_prune(s, 30, 1096, false, 0), 0);
	assert_int_equal(store_size_percent(s, &pct), 0);
	assert_true(pct < 80);
	assert_int_equal(store_outbox_stats(s, &ev, &tel, NULL), 0);
	assert_true(tel < before_tel);
	assert_true(tel > 0); /* only down to the target, not everything */
	assert_int_equal(ev, 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 2);
	/* the oldest telemetry went first */
	assert_true(raw_int(f->path, "SELECT min(id) FROM outbox WHERE prio = 9") > first);
	assert_int_equal(raw_int(f->path, "SELECT max(id) FROM outbox WHERE prio = 9"), id);
	store_free(s);
}

static void test_size_percent_unbounded(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	int pct = -1;

	assert_int_equal(store_size_percent(s, &pct), 0);
	assert_int_equal(pct, 0);
	assert_int_equal(store_size_percent(s, NULL), -EINVAL);
	store_free(s);
	s = open_rw(f, 512);
	assert_int_equal(store_size_percent(s, &pct), 0);
	assert_int_equal(pct, 0); /* an empty database is well under 1 % of 512 MB */
	store_free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* Points that alarm together: one transaction; a failure inside undoes the
 * whole batch, counter and chain included. */
static void test_batch_commit_and_undo(void **state)
{
	struct fx *f = *state;
	store *s = open_rw(f, 0);
	struct store_chain_head h1, h;
	struct store_verify v;
	struct ev e;

	commit(s, 1, 1000, "alarm", "smoke-a1");
	assert_int_equal(store_chain_head(s, &h1), 0);
	assert_int_equal(store_batch_begin(s), 0);
	assert_int_equal(store_batch_begin(s), -EALREADY);
	commit(s, 2, 2000, "alarm", "smoke-a2");
	commit(s, 3, 2000, "alarm", "smoke-a3");
	/* not durable yet: another connection does not see them */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(store_batch_end(s), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 3);
	assert_int_equal(store_last_seq(s), 3);
	/* a reused seq inside a batch undoes it all */
	assert_int_equal(store_batch_begin(s), 0);
	commit(s, 4, 3000, "alarm", "smoke-a4");
	ev_init(&e, 4, 3000, "alarm", "smoke-a4", STORE_PRIO_ALARM);
	assert_int_equal(store_commit_event(s, &e.e, NULL), -EINVAL);
	/* -EINVAL is refused before the statement: the batch goes on */
	assert_int_equal(store_batch_end(s), 0);
	assert_int_equal(store_last_seq(s), 4);
	/* an event id that exists: the insert fails, the batch is undone */
	assert_int_equal(store_batch_begin(s), 0);
	commit(s, 5, 4000, "alarm", "smoke-a5");
	ev_init(&e, 6, 4000, "alarm", "smoke-a6", STORE_PRIO_ALARM);
	snprintf(e.id, sizeof(e.id), "site-a:7f3a9c01:1"); /* duplicate event_id */
	assert_true(store_commit_event(s, &e.e, NULL) < 0);
	assert_int_equal(store_batch_end(s), -ECANCELED);
	assert_int_equal(store_last_seq(s), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 4);
	assert_int_equal(store_chain_head(s, &h), 0);
	assert_int_equal(h.seq, 4);
	commit(s, 5, 5000, "alarm", "smoke-a5"); /* numbering goes on after the undo */
	assert_int_equal(store_chain_verify(s, NULL, &v), 0);
	assert_int_equal(v.bad_seq, 0);
	assert_int_equal(v.checked, 5);
	store_free(s);
}

/* Review: the columns readers use (class, type, ts_ms, ...) are checked
 * against the hashed payload; an edit of one alone is found. */
static void test_chain_column_edit_found(void **state)
{
	static const char *const edits[] = {
		"UPDATE events SET ts_ms = ts_ms - 400 * 86400000 WHERE seq = 2",
		"UPDATE events SET class = 'system' WHERE seq = 2",
		"UPDATE events SET type = 'maintenance' WHERE seq = 2",
		"UPDATE events SET ref = 'x:1:1' WHERE seq = 2",
	};
	struct fx *f = *state;
	struct store_verify v;
	store *s;
	size_t i;

	s = open_rw(f, 0);
	commit(s, 1, 1000, "alarm", "smoke-a1");
	commit(s, 2, 2000, "fault", "smoke-a1");
	commit(s, 3, 3000, "alarm", "smoke-a1");
	store_free(s);
	raw_exec(f->path, "CREATE TABLE keep AS SELECT * FROM events WHERE seq = 2");
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		raw_exec(f->path, edits[i]);
		s = open_ro(f);
		assert_int_equal(store_chain_verify(s, NULL, &v), 0);
		assert_int_equal(v.bad_seq, 2);
		assert_non_null(strstr(v.why, "column"));
		store_free(s);
		raw_exec(f->path, "DELETE FROM events WHERE seq = 2; INSERT INTO events SELECT * FROM "
				  "keep");
	}
	s = open_ro(f);
	assert_int_equal(store_chain_verify(s, NULL, &v), 0);
	assert_int_equal(v.bad_seq, 0);
	assert_int_equal(v.checked, 3);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* error paths */
		T(test_open_bad_args),
		T(test_open_missing),
		T(test_open_garbage),
		T(test_open_corrupt),
		T(test_open_newer_schema),
		T(test_commit_seq_out_of_order),
		T(test_commit_failure_rolls_back),
		T(test_readonly_rejects_writes),
		T(test_max_mb_enospc),
		T(test_readings_errors),
		T(test_outbox_errors),
		/* features */
		T(test_new_database),
		T(test_wal_mode),
		T(test_epoch_persists),
		T(test_crash_keeps_commit),
		T(test_commit_atomic),
		T(test_outbox_exact_bytes),
		T(test_outbox_foreach),
		T(test_outbox_foreach_many),
		T(test_outbox_delete),
		T(test_outbox_stats),
		T(test_point_state_roundtrip),
		T(test_migration_v1_to_v3),
		T(test_chain_links_and_head),
		T(test_chain_edit_found_and_recompute_fails_head),
		T(test_chain_origin),
		T(test_batch_commit_and_undo),
		T(test_chain_column_edit_found),
		T(test_readings_batched),
		T(test_latest_readings),
		T(test_events_query),
		T(test_readonly_sees_writer),
		T(test_prune_age),
		T(test_prune_size),
		T(test_size_percent_unbounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
