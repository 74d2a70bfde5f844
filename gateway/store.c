/* store.c - the SQLite database of firegw (SPEC §5): the meta row (epoch,
 * last_seq), events with their exact payload bytes, the outbox of messages
 * still to deliver, alarm-point state, readings. Schema and durability rules
 * are described in docs/storage.md.
 *
 * Owns one sqlite3 connection, its prepared statements and the bounded
 * readings buffer. A handle is used only by the thread that opened it: the
 * daemon's main loop owns the read-write handle, a CLI command its own
 * read-only one. Not thread-safe (the connection is opened NOMUTEX). */
#include "store.h"
#include "store_int.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* The last_seq guard also catches a second process writing the file. */
	[ST_META_SEQ] = "UPDATE meta SET last_seq = ?1 WHERE id = 1 AND last_seq = ?2",
	[ST_EVENT_INSERT] = "INSERT INTO events(seq, event_id, ts_ms, class, type, state, cid, "
			    "device, point, payload, hash, ref) "
			    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_OUTBOX_INSERT] = "INSERT INTO outbox(dest, seq, topic, payload, qos, retain, prio, "
			     "order_key, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	/* created_ms is set once, when the point's row is made: its first
	 * stored state dates its first test obligation (compliance) */
	[ST_PSTATE_UPSERT] = "INSERT INTO point_state(key, conditions, latched, "
			     "alarm_causes, prealarm_causes, fault_causes_0, fault_causes_1, "
			     "fault_causes_2, fault_causes_3, fault_causes_4, fault_causes_5, "
			     "fault_causes_6, fault_causes_7, since_ms, last_seq, mode, created_ms) "
			     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
			     "?16, ?17) ON CONFLICT(key) DO UPDATE SET conditions = excluded.conditions, "
			     "latched = excluded.latched, alarm_causes = excluded.alarm_causes, "
			     "prealarm_causes = excluded.prealarm_causes, "
			     "fault_causes_0 = excluded.fault_causes_0, "
			     "fault_causes_1 = excluded.fault_causes_1, "
			     "fault_causes_2 = excluded.fault_causes_2, "
			     "fault_causes_3 = excluded.fault_causes_3, "
			     "fault_causes_4 = excluded.fault_causes_4, "
			     "fault_causes_5 = excluded.fault_causes_5, "
			     "fault_causes_6 = excluded.fault_causes_6, "
			     "fault_causes_7 = excluded.fault_causes_7, since_ms = excluded.since_ms, "
			     "last_seq = excluded.last_seq, mode = excluded.mode",
	[ST_OUTBOX_GET] = "SELECT topic, payload FROM outbox WHERE id = ?1",
	[ST_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
	[ST_READING_INSERT] = "INSERT INTO readings(ts_ms, device, name, value, quality) "
			      "VALUES(?1, ?2, ?3, ?4, ?5)",
};

/* One per priority: an equality on prio walks outbox_prio_id in id order,
 * so foreach merges these streams instead of sorting the whole range. */
static const char outbox_page_sql[] =
	"SELECT id, seq, prio, qos, retain, created_ms, order_key FROM outbox "
	"WHERE prio = ?1 AND id > ?2 ORDER BY id LIMIT ?3";


/* ---- schema and migrations ------------------------------------------ */

/* Version 1. Later versions append steps below; a step never edits an
 * earlier one, so every database walks the same path. */
static const char schema_v1[] =
	"CREATE TABLE meta ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" epoch TEXT NOT NULL CHECK (length(epoch) = 8),"
	" last_seq INTEGER NOT NULL CHECK (last_seq >= 0),"
	" created_ms INTEGER NOT NULL,"
	" schema_version INTEGER NOT NULL);"
	"CREATE TABLE events ("
	" seq INTEGER PRIMARY KEY,"
	" event_id TEXT NOT NULL UNIQUE,"
	" ts_ms INTEGER NOT NULL,"
	" class TEXT NOT NULL,"
	" type TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" cid TEXT NOT NULL,"
	" device TEXT NOT NULL,"
	" point TEXT,"
	" payload BLOB NOT NULL,"
	" acked_by TEXT,"
	" acked_ms INTEGER);"
	"CREATE INDEX events_ts ON events(ts_ms);"
	"CREATE TABLE outbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" dest TEXT NOT NULL,"
	" seq INTEGER,"
	" topic TEXT NOT NULL,"
	" payload BLOB NOT NULL,"
	" qos INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),"
	" retain INTEGER NOT NULL,"
	" prio INTEGER NOT NULL,"
	" order_key TEXT NOT NULL DEFAULT '',"
	" created_ms INTEGER NOT NULL);"
	"CREATE INDEX outbox_prio_id ON outbox(prio, id);"
	"CREATE INDEX outbox_order_key ON outbox(order_key);"
	"CREATE INDEX outbox_seq ON outbox(seq) WHERE seq IS NOT NULL;"
	"CREATE TABLE point_state ("
	" key TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 159),"
	" conditions INTEGER NOT NULL,"
	" latched INTEGER NOT NULL,"
	" alarm_causes INTEGER NOT NULL,"
	" prealarm_causes INTEGER NOT NULL,"
	" fault_causes_0 INTEGER NOT NULL, fault_causes_1 INTEGER NOT NULL,"
	" fault_causes_2 INTEGER NOT NULL, fault_causes_3 INTEGER NOT NULL,"
	" fault_causes_4 INTEGER NOT NULL, fault_causes_5 INTEGER NOT NULL,"
	" fault_causes_6 INTEGER NOT NULL, fault_causes_7 INTEGER NOT NULL,"
	" since_ms INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL);"
	"CREATE TABLE readings ("
	" ts_ms INTEGER NOT NULL,"
	" device TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" value REAL,"
	" quality INTEGER NOT NULL);"
	"CREATE INDEX readings_ts ON readings(ts_ms);"
	"CREATE INDEX readings_dev_name_ts ON readings(device, name, ts_ms);";

static int migrate_v1_meta(store *s);

struct migration {
	int version;
	const char *sql;
	int (*post)(store *s); /* runs in the step's transaction, may be NULL */
};

/* v2: the operating mode of a point (test mode, disablement), as JSON
 * written and read by the daemon; '' when the point is in normal service. */
static const char schema_v2[] = "ALTER TABLE point_state ADD COLUMN mode TEXT NOT NULL DEFAULT '';";

/* v3 (compliance, tamper evidence): every event is a link of a hash chain
 * (store_chain.c); the chain row keeps the link before the oldest kept event
 * (pruning) and, for a database that replaced a corrupt one, the old
 * epoch's last head. Events may name the event they refer to (a record's
 * correction, an acknowledgement). Every published compliance status is
 * kept. A point's first stored state dates its first test obligation. */
static const char schema_v3[] =
	"ALTER TABLE events ADD COLUMN hash BLOB;"
	"ALTER TABLE events ADD COLUMN ref TEXT;"
	"CREATE INDEX events_class_ts ON events(class, ts_ms);"
	"CREATE INDEX events_ref ON events(ref) WHERE ref IS NOT NULL;"
	"ALTER TABLE point_state ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE chain ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" genesis BLOB NOT NULL CHECK (length(genesis) = 32),"
	" pruned_seq INTEGER NOT NULL,"
	" pruned_hash BLOB NOT NULL CHECK (length(pruned_hash) = 32),"
	" prev_epoch TEXT, prev_seq INTEGER, prev_hash BLOB);"
	"CREATE TABLE compliance_history ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ts_ms INTEGER NOT NULL,"
	" overall TEXT NOT NULL,"
	" time_synced INTEGER NOT NULL,"
	" payload BLOB NOT NULL);"
	"CREATE INDEX compliance_history_ts ON compliance_history(ts_ms);";

/* v4 (compliance): the last events of each device.point.type (the state
 * of a fault or a disablement at any moment) found by index seeks instead
 * of a walk over every fault of the year (store_compliance.c). The key
 * expression is written exactly as the queries write it. */
static const char schema_v4[] =
	"CREATE INDEX IF NOT EXISTS events_key ON events(class, (device || '|' || ifnull(point, '') || '|' || "
	"type), ts_ms, state);";

static const struct migration migrations[] = {
	{ 1, schema_v1, migrate_v1_meta },
	{ 2, schema_v2, NULL },
	{ 3, schema_v3, store_chain_migrate },
	{ 4, schema_v4, NULL },
};
#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

/* ---- errors ---------------------------------------------------------- */

static int sql_errno(sqlite3 *db, int rc)
{
	int e;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_IOERR:
		if (rc == SQLITE_IOERR_NOMEM)
			return -ENOMEM;
		if (db && sqlite3_system_errno(db) == ENOSPC)
			return -ENOSPC;
		return -EIO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		e = db ? sqlite3_system_errno(db) : 0;
		return e > 0 ? -e : -EIO;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		return -EINVAL;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_RANGE:
	case SQLITE_MISMATCH:
	case SQLITE_MISUSE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

const char *store_advice(int err)
{
	switch (err) {
	case -ENOSPC:
		return "free disk space or raise storage.max_mb; events keep going out from memory";
	case -EBADMSG:
		return "the database is corrupt: firegw moves it aside and starts a new one";
	case -EROFS:
	case -EACCES:
	case -EPERM:
		return "check the permissions of the file and of its directory";
	case -EBUSY:
		return "another process holds the database: stop it";
	case -ENOMEM:
		return "the system is out of memory";
	case -EEXIST:
	case -EINVAL:
		return "a firegw bug: please report it with this line";
	default:
		return "check the disk and the kernel log (dmesg)";
	}
}

/* Translates and logs a SQLite failure. A failure that repeats the last one
 * logged goes to debug only, so a full disk does not flood the journal. */
int store_fail(store *s, int rc, const char *what)
{
	int r = sql_errno(s->db, rc);

	if (r == 0)
		r = -EIO;
	if (r != s->logged_err) {
		log_error("storage '%s': %s failed: %s: %s", s->path, what,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), store_advice(r));
		s->logged_err = r;
	} else {
		log_debug("storage '%s': %s failed again: %s", s->path, what,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	}
	return r;
}

/* After a storage fault (not after a rejected bad call), say it is over. */
void store_succeeded(store *s)
{
	if (s->logged_err && s->logged_err != -EINVAL && s->logged_err != -EEXIST)
		log_notice("storage '%s': writing again", s->path);
	s->logged_err = 0;
}

/* ---- statement helpers ---------------------------------------------- */

int store_stmt_get(store *s, enum stmt_id id, sqlite3_stmt **ret)
{
	int rc;

	if (!s->st[id]) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&s->st[id], NULL);
		if (rc != SQLITE_OK)
			return store_fail(s, rc, "preparing a statement");
	}
	*ret = s->st[id];
	return 0;
}


void store_b_int(struct binder *b, int i, int64_t v)
{
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->st, i, v);
}

void store_b_double(struct binder *b, int i, double v)
{
	if (b->rc == SQLITE_OK)
		b->rc = isnan(v) ? sqlite3_bind_null(b->st, i) : sqlite3_bind_double(b->st, i, v);
}

void store_b_text(struct binder *b, int i, const char *v)
{
	if (b->rc == SQLITE_OK)
		b->rc = v ? sqlite3_bind_text(b->st, i, v, -1, SQLITE_STATIC)
			  : sqlite3_bind_null(b->st, i);
}

/* A zero-length blob must not bind as NULL (the columns are NOT NULL). */
void store_b_blob(struct binder *b, int i, const void *p, size_t len)
{
	if (b->rc != SQLITE_OK)
		return;
	if (len == 0)
		b->rc = sqlite3_bind_zeroblob(b->st, i, 0);
	else
		b->rc = sqlite3_bind_blob64(b->st, i, p, len, SQLITE_STATIC);
}

void store_b_null(struct binder *b, int i)
{
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_null(b->st, i);
}

/* Steps a write statement to completion and resets it for the next use. */
int store_step_done(store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int r = 0;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_fail(s, rc, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int store_bind_check(store *s, struct binder *b, const char *what)
{
	if (b->rc == SQLITE_OK)
		return 0;
	sqlite3_reset(b->st);
	sqlite3_clear_bindings(b->st);
	return store_fail(s, b->rc, what);
}

int store_exec(store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what);
}

/* Runs a one-row statement and returns its first column as an integer. */
int store_query_int(store *s, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	*ret = 0; /* defined on failure too */
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		*ret = 0;
	else
		r = store_fail(s, rc, sql);
	sqlite3_finalize(st);
	return r;
}

int store_tx_begin(store *s)
{
	sqlite3_stmt *st = NULL;
	int r = store_stmt_get(s, ST_BEGIN, &st);

	return r < 0 ? r : store_step_done(s, st, "starting a transaction");
}

int store_tx_commit(store *s)
{
	sqlite3_stmt *st = NULL;
	int r = store_stmt_get(s, ST_COMMIT, &st);

	return r < 0 ? r : store_step_done(s, st, "committing");
}

/* SQLite may already have rolled back by itself (SQLITE_FULL, I/O errors). */
void store_tx_rollback(store *s)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_get_autocommit(s->db))
		return;
	if (store_stmt_get(s, ST_ROLLBACK, &st) == 0 && sqlite3_step(st) != SQLITE_DONE)
		log_warning("storage '%s': rollback failed: %s", s->path, sqlite3_errmsg(s->db));
	if (st)
		sqlite3_reset(st);
}

/* synchronous=FULL fsyncs the WAL at each commit; NORMAL only at
 * checkpoints. Events (and point state) need FULL; readings, telemetry and
 * outbox deletions do not. The WAL is append-only, so the next FULL commit
 * also makes every earlier NORMAL commit durable. Must run outside a
 * transaction. */
int store_set_sync(store *s, bool full)
{
	int r;

	if (s->sync_full == full)
		return 0;
	r = store_exec(s, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		 "setting PRAGMA synchronous");
	if (r == 0)
		s->sync_full = full;
	return r;
}

/* ---- open ------------------------------------------------------------ */

static int mkdir_parents(const char *path)
{
	char *buf = strdup(path);
	char *p;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST) {
			r = -errno;
			log_error("storage: cannot create directory '%s': %s: "
				  "create it or fix storage.path", buf, strerror(errno));
			break;
		}
		*p = '/';
	}
	free(buf);
	return r;
}

static int draw_epoch(char ret[9])
{
	uint8_t b[4];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(b))
		return -EIO;
	snprintf(ret, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
	return 0;
}

static int migrate_v1_meta(store *s)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	char epoch[9];
	int rc, r;

	r = draw_epoch(epoch);
	if (r < 0) {
		log_error("storage '%s': getrandom() failed: %s", s->path, strerror(-r));
		return r;
	}
	rc = sqlite3_prepare_v2(s->db,
				"INSERT INTO meta(id, epoch, last_seq, created_ms, schema_version) "
				"VALUES(1, ?1, 0, ?2, 1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "creating the meta row");
	b = (struct binder){ st, SQLITE_OK };
	store_b_text(&b, 1, epoch);
	store_b_int(&b, 2, util_wall_ms());
	r = store_bind_check(s, &b, "creating the meta row");
	if (r == 0)
		r = store_step_done(s, st, "creating the meta row");
	sqlite3_finalize(st);
	return r;
}

static int migrate(store *s)
{
	char sql[128];
	int64_t v;
	size_t i;
	int r;

	r = store_query_int(s, "PRAGMA user_version", &v);
	if (r < 0)
		return r;
	if (v > SCHEMA_VERSION) {
		log_error("storage '%s': schema version %lld is newer than this firegw's (%d): "
			  "install the newer firegw, or move the file aside",
			  s->path, (long long)v, SCHEMA_VERSION);
		return -EPROTO;
	}
	for (i = 0; i < ARRAY_SIZE(migrations); i++) {
		const struct migration *m = &migrations[i];

		if (m->version <= v)
			continue;
		r = store_tx_begin(s);
		if (r < 0)
			return r;
		r = store_exec(s, m->sql, "migrating the schema");
		if (r == 0 && m->post)
			r = m->post(s);
		if (r == 0) {
			snprintf(sql, sizeof(sql),
				 "PRAGMA user_version = %d; UPDATE meta SET schema_version = %d",
				 m->version, m->version);
			r = store_exec(s, sql, "migrating the schema");
		}
		if (r == 0)
			r = store_tx_commit(s);
		if (r < 0) {
			store_tx_rollback(s);
			return r;
		}
		log_info("storage '%s': schema at version %d", s->path, m->version);
	}
	return 0;
}

static bool is_epoch(const char *e)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (!((e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f')))
			return false;
	return e[8] == '\0';
}

static int load_meta(store *s)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *e;
	int64_t seq;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT epoch, last_seq FROM meta WHERE id = 1", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading the meta row");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = store_fail(s, rc, "reading the meta row");
		goto out_finalize;
	}
	e = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : -1;
	if (!e || strlen((const char *)e) != 8 || !is_epoch((const char *)e) || seq < 0) {
		log_error("storage '%s': the meta row is missing or invalid: %s", s->path,
			  store_advice(-EBADMSG));
		r = -EBADMSG;
		goto out_finalize;
	}
	memcpy(s->epoch, e, 9);
	s->last_seq = (uint64_t)seq;
out_finalize:
	sqlite3_finalize(st);
	return r;
}

static int configure(store *s)
{
	char sql[96];
	char mode[16] = "";
	sqlite3_stmt *st = NULL;
	int rc, r;

	/* The first statement reads the header: NOTADB shows here. */
	if (!s->readonly) {
		rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *m = sqlite3_column_text(st, 0);

			if (m)
				util_strlcpy(mode, (const char *)m, sizeof(mode));
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_OK)
			return store_fail(s, rc, "opening");
		if (strcmp(mode, "wal") != 0)
			log_warning("storage '%s': journal mode is '%s', not 'wal': "
				    "check that the directory is writable", s->path, mode);
	}
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d; PRAGMA journal_size_limit=%d",
		 CACHE_KIB, JOURNAL_LIMIT_BYTES);
	r = store_exec(s, sql, "opening");
	if (r < 0)
		return r;
	if (!s->readonly) {
		r = store_exec(s, "PRAGMA synchronous=FULL", "opening");
		if (r < 0)
			return r;
		s->sync_full = true;
	}
	return 0;
}

static int apply_max_size(store *s)
{
	char sql[64];
	int64_t pages, got;
	int r;

	r = store_query_int(s, "PRAGMA page_size", &s->page_size);
	if (r < 0)
		return r;
	if (s->page_size <= 0)
		return -EBADMSG;
	if (s->max_mb == 0 || s->readonly)
		return 0;
	pages = (int64_t)s->max_mb * 1024 * 1024 / s->page_size;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", (long long)pages);
	r = store_query_int(s, sql, &got);
	if (r < 0)
		return r;
	/* SQLite never sets the limit below the current size. */
	if (got > pages)
		log_warning("storage '%s' is already larger than storage.max_mb (%d MB): "
			    "it will not grow; raise max_mb or let pruning make room",
			    s->path, s->max_mb);
	return 0;
}

static bool wal_has_data(const char *path)
{
	char wal[PATH_MAX];
	struct stat stw;

	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal))
		return false;
	return stat(wal, &stw) == 0 && stw.st_size > 0;
}

int store_open(const struct store_opts *o, store **ret)
{
	struct stat stp;
	store *s;
	int64_t v;
	int flags, rc, r;

	if (!ret)
		return -EINVAL;
	*ret = NULL;
	if (!o || !o->path || !*o->path || o->max_mb < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = strdup(o->path);
	if (!s->path) {
		r = -ENOMEM;
		goto out_free;
	}
	s->readonly = o->readonly;
	s->max_mb = o->max_mb;

	if (stat(o->path, &stp) < 0) {
		r = -errno;
		if (r != -ENOENT) {
			log_error("storage '%s': %s: check storage.path and its permissions",
				  o->path, strerror(-r));
			goto out_free;
		}
		/* The caller decides what a missing database means. */
		if (o->readonly || !o->create)
			goto out_free;
		r = mkdir_parents(o->path);
		if (r < 0)
			goto out_free;
	} else if (!o->readonly) {
		s->unclean = wal_has_data(o->path);
	}

	flags = SQLITE_OPEN_NOMUTEX;
	if (o->readonly)
		flags |= SQLITE_OPEN_READONLY;
	else
		flags |= SQLITE_OPEN_READWRITE | (o->create ? SQLITE_OPEN_CREATE : 0);
	rc = sqlite3_open_v2(o->path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		r = store_fail(s, rc, "opening");
		goto out_free;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, o->readonly ? BUSY_MS_READER : BUSY_MS_WRITER);

	r = configure(s);
	if (r < 0)
		goto out_free;
	if (o->readonly) {
		r = store_query_int(s, "PRAGMA user_version", &v);
		if (r < 0)
			goto out_free;
		if (v == 0) {
			/* An empty file: the daemon has not created the schema yet. */
			r = -ENOENT;
			goto out_free;
		}
		if (v > SCHEMA_VERSION) {
			log_error("storage '%s': schema version %lld is newer than this firegw's "
				  "(%d): use the firegw that wrote it", o->path, (long long)v,
				  SCHEMA_VERSION);
			r = -EPROTO;
			goto out_free;
		}
	} else {
		r = migrate(s);
		if (r < 0)
			goto out_free;
	}
	r = load_meta(s);
	if (r < 0)
		goto out_free;
	r = store_chain_load(s);
	if (r < 0)
		goto out_free;
	r = apply_max_size(s);
	if (r < 0)
		goto out_free;
	if (!o->readonly) {
		s->readings = calloc(READINGS_MAX, sizeof(*s->readings));
		if (!s->readings) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	*ret = s;
	return 0;

out_free:
	store_free(s);
	return r;
}

/* ---- readings buffer --------------------------------------------------- */

static int readings_flush(store *s)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	size_t i;
	int r;

	if (s->n_readings == 0)
		return 0;
	r = store_stmt_get(s, ST_READING_INSERT, &st);
	if (r < 0)
		return r;
	r = store_set_sync(s, false);
	if (r < 0)
		return r;
	r = store_tx_begin(s);
	if (r < 0)
		return r;
	for (i = 0; i < s->n_readings; i++) {
		const struct buffered_reading *br = &s->readings[i];

		b = (struct binder){ st, SQLITE_OK };
		store_b_int(&b, 1, br->ts_ms);
		store_b_text(&b, 2, br->device);
		store_b_text(&b, 3, br->name);
		store_b_double(&b, 4, br->value);
		store_b_int(&b, 5, br->quality);
		r = store_bind_check(s, &b, "writing readings");
		if (r == 0)
			r = store_step_done(s, st, "writing readings");
		if (r < 0)
			goto out_rollback;
	}
	r = store_tx_commit(s);
	if (r < 0)
		goto out_rollback;
	s->n_readings = 0;
	store_succeeded(s);
	return 0;

out_rollback:
	/* The buffer is kept and retried at the next tick. */
	store_tx_rollback(s);
	return r;
}

void store_free(store *s)
{
	size_t i;

	if (!s)
		return;
	if (s->db && s->n_readings > 0 && readings_flush(s) < 0)
		log_warning("storage '%s': %zu readings could not be written and are dropped",
			    s->path, s->n_readings);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->st[i]);
	for (i = 0; i < ARRAY_SIZE(s->page_st); i++)
		sqlite3_finalize(s->page_st[i]);
	/* Closing the last connection checkpoints and removes the WAL. */
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_warning("storage '%s': close failed: %s", s->path, sqlite3_errmsg(s->db));
	free(s->readings);
	free(s->path);
	free(s);
}

const char *store_epoch(const store *s)
{
	return s->epoch;
}

uint64_t store_last_seq(const store *s)
{
	return s->last_seq;
}

bool store_unclean(const store *s)
{
	return s->unclean;
}

/* ---- events ------------------------------------------------------------ */

static bool prio_ok(int prio)
{
	return prio >= PRIO_MIN && prio <= PRIO_MAX;
}

static bool key_ok(const char *key)
{
	return memchr(key, '\0', STORE_KEY_MAX) != NULL;
}

static int bind_pstate(struct binder *b, const struct store_point_state *ps)
{
	int i;

	store_b_text(b, 1, ps->key);
	store_b_int(b, 2, ps->conditions);
	store_b_int(b, 3, ps->latched ? 1 : 0);
	store_b_int(b, 4, ps->alarm_causes);
	store_b_int(b, 5, ps->prealarm_causes);
	for (i = 0; i < 8; i++)
		store_b_int(b, 6 + i, ps->fault_causes[i]);
	store_b_int(b, 14, ps->since_ms);
	store_b_int(b, 15, (int64_t)ps->last_seq);
	store_b_text(b, 16, ps->mode);
	store_b_int(b, 17, util_wall_ms());
	return b->rc;
}

static void batch_undo(store *s);

int store_commit_event(store *s, const struct store_event *ev, int64_t *ret_outbox_id)
{
	sqlite3_stmt *st_meta = NULL, *st_ev = NULL, *st_ob = NULL, *st_ps = NULL;
	uint8_t link[STORE_HASH_LEN];
	int64_t outbox_id = 0;
	struct binder b;
	int r;

	if (ret_outbox_id)
		*ret_outbox_id = 0;
	if (!s || !ev)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	/* SQLite may have rolled the batch's transaction back by itself (a
	 * full disk in a point state save): the batch is undone */
	if (s->in_batch && sqlite3_get_autocommit(s->db)) {
		batch_undo(s);
		return -ENOSPC;
	}
	/* seqs only grow; a gap is allowed: seqs published from memory before
	 * a stop that SQLite never took are skipped, never reused */
	if (ev->seq <= s->last_seq) {
		log_error("storage '%s': event seq %llu reused (last stored %llu): %s", s->path,
			  (unsigned long long)ev->seq, (unsigned long long)s->last_seq,
			  store_advice(-EINVAL));
		return -EINVAL;
	}
	if (ev->seq > INT64_MAX || !ev->event_id || !ev->cls || !ev->type || !ev->state ||
	    !ev->device || (!ev->payload && ev->payload_len > 0))
		return -EINVAL;
	if (ev->topic && (!prio_ok(ev->prio) || ev->qos < 0 || ev->qos > 2))
		return -EINVAL;
	if (ev->pstate && !key_ok(ev->pstate->key))
		return -EINVAL;

	if ((r = store_stmt_get(s, ST_META_SEQ, &st_meta)) < 0 ||
	    (r = store_stmt_get(s, ST_EVENT_INSERT, &st_ev)) < 0 ||
	    (r = store_stmt_get(s, ST_OUTBOX_INSERT, &st_ob)) < 0 ||
	    (r = store_stmt_get(s, ST_PSTATE_UPSERT, &st_ps)) < 0)
		return r;
	/* in a batch the transaction is already open (store_batch_begin) */
	if (!s->in_batch) {
		r = store_set_sync(s, true);
		if (r < 0)
			return r;
		r = store_tx_begin(s);
		if (r < 0)
			return r;
	}

	b = (struct binder){ st_meta, SQLITE_OK };
	store_b_int(&b, 1, (int64_t)ev->seq);
	store_b_int(&b, 2, (int64_t)s->last_seq);
	r = store_bind_check(s, &b, "committing an event");
	if (r == 0)
		r = store_step_done(s, st_meta, "committing an event");
	if (r < 0)
		goto out_rollback;
	if (sqlite3_changes(s->db) != 1) {
		log_error("storage '%s': last_seq on disk differs from memory: another process "
			  "writes this database; stop it", s->path);
		r = -ESTALE;
		goto out_rollback;
	}

	b = (struct binder){ st_ev, SQLITE_OK };
	store_b_int(&b, 1, (int64_t)ev->seq);
	store_b_text(&b, 2, ev->event_id);
	store_b_int(&b, 3, ev->ts_ms);
	store_b_text(&b, 4, ev->cls);
	store_b_text(&b, 5, ev->type);
	store_b_text(&b, 6, ev->state);
	store_b_text(&b, 7, ev->cid ? ev->cid : ""); /* "": no Contact ID code (records) */
	store_b_text(&b, 8, ev->device);
	store_b_text(&b, 9, ev->point);
	store_b_blob(&b, 10, ev->payload, ev->payload_len);
	/* the next link of the chain: it moves only once COMMIT succeeded */
	store_chain_link(s->head, ev->seq, ev->payload, ev->payload_len, link);
	store_b_blob(&b, 11, link, sizeof(link));
	store_b_text(&b, 12, ev->ref);
	r = store_bind_check(s, &b, "committing an event");
	if (r == 0)
		r = store_step_done(s, st_ev, "committing an event");
	if (r < 0)
		goto out_rollback;

	if (ev->topic) {
		b = (struct binder){ st_ob, SQLITE_OK };
		store_b_text(&b, 1, ev->dest ? ev->dest : STORE_DEST_MQTT);
		store_b_int(&b, 2, (int64_t)ev->seq);
		store_b_text(&b, 3, ev->topic);
		store_b_blob(&b, 4, ev->payload, ev->payload_len);
		store_b_int(&b, 5, ev->qos);
		store_b_int(&b, 6, ev->retain ? 1 : 0);
		store_b_int(&b, 7, ev->prio);
		store_b_text(&b, 8, ev->order_key ? ev->order_key : "");
		store_b_int(&b, 9, util_wall_ms());
		r = store_bind_check(s, &b, "committing an event's outbox row");
		if (r == 0)
			r = store_step_done(s, st_ob, "committing an event's outbox row");
		if (r < 0)
			goto out_rollback;
		outbox_id = sqlite3_last_insert_rowid(s->db);
	}

	if (ev->pstate) {
		b = (struct binder){ st_ps, SQLITE_OK };
		bind_pstate(&b, ev->pstate);
		r = store_bind_check(s, &b, "committing a point state");
		if (r == 0)
			r = store_step_done(s, st_ps, "committing a point state");
		if (r < 0)
			goto out_rollback;
	}

	if (!s->in_batch) {
		r = store_tx_commit(s);
		if (r < 0)
			goto out_rollback;
	}
	/* Only a committed seq advances the counter (and the chain); in a
	 * batch, until store_batch_end says otherwise. */
	s->last_seq = ev->seq;
	memcpy(s->head, link, sizeof(link));
	s->head_seq = ev->seq;
	if (!s->in_batch)
		store_succeeded(s);
	if (ret_outbox_id)
		*ret_outbox_id = outbox_id;
	return 0;

out_rollback:
	store_tx_rollback(s);
	if (s->in_batch)
		batch_undo(s);
	return r;
}

/* The batch's transaction is gone: the counter and the chain go back to
 * where they were before it. */
static void batch_undo(store *s)
{
	s->in_batch = false;
	s->last_seq = s->batch_seq0;
	memcpy(s->head, s->batch_head0, sizeof(s->head));
	s->head_seq = s->batch_head_seq0;
}

int store_batch_begin(store *s)
{
	int r;

	if (!s)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	if (s->in_batch)
		return -EALREADY;
	r = store_set_sync(s, true);
	if (r == 0)
		r = store_tx_begin(s);
	if (r < 0)
		return r;
	s->in_batch = true;
	s->batch_seq0 = s->last_seq;
	memcpy(s->batch_head0, s->head, sizeof(s->head));
	s->batch_head_seq0 = s->head_seq;
	return 0;
}

void store_batch_abort(store *s)
{
	if (!s || !s->in_batch)
		return;
	store_tx_rollback(s);
	batch_undo(s);
}

int store_batch_end(store *s)
{
	int r;

	if (!s)
		return -EINVAL;
	if (!s->in_batch)
		return -ECANCELED; /* a commit failed and undid the batch */
	r = store_tx_commit(s);
	if (r < 0) {
		store_tx_rollback(s);
		batch_undo(s);
		return r;
	}
	s->in_batch = false;
	store_succeeded(s);
	return 0;
}

/* ---- outbox ------------------------------------------------------------ */

int store_outbox_add(store *s, const char *dest, const char *topic, const void *payload,
		     size_t len, int qos, bool retain, int prio, const char *order_key,
		     int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	int r;

	if (ret_id)
		*ret_id = 0;
	if (!s || !topic || (!payload && len > 0) || qos < 0 || qos > 2 || !prio_ok(prio))
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	r = store_stmt_get(s, ST_OUTBOX_INSERT, &st);
	if (r < 0)
		return r;
	r = store_set_sync(s, false);
	if (r < 0)
		return r;
	b = (struct binder){ st, SQLITE_OK };
	store_b_text(&b, 1, dest ? dest : STORE_DEST_MQTT);
	store_b_null(&b, 2);
	store_b_text(&b, 3, topic);
	store_b_blob(&b, 4, payload, len);
	store_b_int(&b, 5, qos);
	store_b_int(&b, 6, retain ? 1 : 0);
	store_b_int(&b, 7, prio);
	store_b_text(&b, 8, order_key ? order_key : "");
	store_b_int(&b, 9, util_wall_ms());
	r = store_bind_check(s, &b, "adding to the outbox");
	if (r == 0)
		r = store_step_done(s, st, "adding to the outbox");
	if (r < 0)
		return r;
	store_succeeded(s);
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int page_stmt(store *s, int prio, sqlite3_stmt **ret)
{
	int rc;

	if (!s->page_st[prio]) {
		rc = sqlite3_prepare_v3(s->db, outbox_page_sql, -1, SQLITE_PREPARE_PERSISTENT,
					&s->page_st[prio], NULL);
		if (rc != SQLITE_OK)
			return store_fail(s, rc, "reading the outbox");
	}
	*ret = s->page_st[prio];
	return 0;
}

static void outbox_row_read(sqlite3_stmt *st, struct store_outbox_row *row)
{
	const unsigned char *k;

	row->id = sqlite3_column_int64(st, 0);
	row->seq = (uint64_t)sqlite3_column_int64(st, 1); /* NULL reads as 0 */
	row->prio = sqlite3_column_int(st, 2);
	row->qos = sqlite3_column_int(st, 3);
	row->retain = sqlite3_column_int(st, 4) != 0;
	row->created_ms = sqlite3_column_int64(st, 5);
	k = sqlite3_column_text(st, 6);
	util_strlcpy(row->order_key, k ? (const char *)k : "", sizeof(row->order_key));
}

/* Reads up to max rows with id > after_id into rows, in id order, by merging
 * one index-ordered stream per priority. Statements are reset on return, so
 * the callbacks that follow may call anything in this module. */
static int outbox_chunk(store *s, int lo, int hi, int64_t after_id, size_t max,
			struct store_outbox_row *rows, size_t *ret_n)
{
	sqlite3_stmt *sts[PRIO_MAX + 1] = { NULL };
	bool live[PRIO_MAX + 1] = { false };
	size_t n = 0;
	int p, best, rc, r = 0;

	for (p = lo; p <= hi; p++) {
		struct binder b;

		r = page_stmt(s, p, &sts[p]);
		if (r < 0)
			goto out_reset;
		b = (struct binder){ sts[p], SQLITE_OK };
		store_b_int(&b, 1, p);
		store_b_int(&b, 2, after_id);
		store_b_int(&b, 3, (int64_t)max);
		r = store_bind_check(s, &b, "reading the outbox");
		if (r < 0)
			goto out_reset;
		rc = sqlite3_step(sts[p]);
		if (rc == SQLITE_ROW) {
			live[p] = true;
		} else if (rc != SQLITE_DONE) {
			r = store_fail(s, rc, "reading the outbox");
			goto out_reset;
		}
	}
	while (n < max) {
		best = -1;
		for (p = lo; p <= hi; p++)
			if (live[p] && (best < 0 || sqlite3_column_int64(sts[p], 0) <
							   sqlite3_column_int64(sts[best], 0)))
				best = p;
		if (best < 0)
			break;
		outbox_row_read(sts[best], &rows[n++]);
		rc = sqlite3_step(sts[best]);
		if (rc != SQLITE_ROW) {
			live[best] = false;
			if (rc != SQLITE_DONE) {
				r = store_fail(s, rc, "reading the outbox");
				goto out_reset;
			}
		}
	}
out_reset:
	for (p = lo; p <= hi; p++)
		if (sts[p])
			sqlite3_reset(sts[p]);
	*ret_n = n;
	return r;
}

int store_outbox_foreach(store *s, int min_prio, int max_prio, int64_t after_id, size_t limit,
			 int (*cb)(void *ud, const struct store_outbox_row *row), void *ud)
{
	struct store_outbox_row rows[FOREACH_CHUNK];
	size_t done = 0, n, i, want;
	int r;

	if (!s || !cb)
		return -EINVAL;
	if (min_prio < PRIO_MIN)
		min_prio = PRIO_MIN;
	if (max_prio > PRIO_MAX)
		max_prio = PRIO_MAX;
	if (min_prio > max_prio)
		return 0;
	for (;;) {
		want = FOREACH_CHUNK;
		if (limit > 0 && limit - done < want)
			want = limit - done;
		if (want == 0)
			return 0;
		r = outbox_chunk(s, min_prio, max_prio, after_id, want, rows, &n);
		if (r < 0)
			return r;
		for (i = 0; i < n; i++) {
			r = cb(ud, &rows[i]);
			if (r != 0)
				return r;
		}
		done += n;
		if (n < want)
			return 0;
		after_id = rows[n - 1].id;
	}
}

int store_outbox_get(store *s, int64_t id, char **ret_topic, void **ret_payload, size_t *ret_len)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	const unsigned char *t;
	const void *p;
	char *topic = NULL;
	void *payload = NULL;
	int rc, r, n;

	if (!s || !ret_topic || !ret_payload || !ret_len)
		return -EINVAL;
	r = store_stmt_get(s, ST_OUTBOX_GET, &st);
	if (r < 0)
		return r;
	b = (struct binder){ st, SQLITE_OK };
	store_b_int(&b, 1, id);
	r = store_bind_check(s, &b, "reading the outbox");
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out_reset;
	}
	if (rc != SQLITE_ROW) {
		r = store_fail(s, rc, "reading the outbox");
		goto out_reset;
	}
	t = sqlite3_column_text(st, 0);
	topic = strdup(t ? (const char *)t : "");
	p = sqlite3_column_blob(st, 1);
	n = sqlite3_column_bytes(st, 1);
	/* One byte more so an empty payload is still a pointer to free. */
	payload = malloc((size_t)n + 1);
	if (!topic || !payload) {
		free(topic);
		free(payload);
		r = -ENOMEM;
		goto out_reset;
	}
	if (n > 0)
		memcpy(payload, p, (size_t)n);
	*ret_topic = topic;
	*ret_payload = payload;
	*ret_len = (size_t)n;
out_reset:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int store_outbox_delete(store *s, const int64_t *ids, size_t n)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	size_t i;
	int r;

	if (!s || (!ids && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	if (s->readonly)
		return -EROFS;
	r = store_stmt_get(s, ST_OUTBOX_DELETE, &st);
	if (r < 0)
		return r;
	/* A lost deletion only means one more resend, deduplicated by event_id. */
	r = store_set_sync(s, false);
	if (r < 0)
		return r;
	r = store_tx_begin(s);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		b = (struct binder){ st, SQLITE_OK };
		store_b_int(&b, 1, ids[i]);
		r = store_bind_check(s, &b, "deleting from the outbox");
		if (r == 0)
			r = store_step_done(s, st, "deleting from the outbox");
		if (r < 0)
			goto out_rollback;
	}
	r = store_tx_commit(s);
	if (r < 0)
		goto out_rollback;
	store_succeeded(s);
	return 0;

out_rollback:
	store_tx_rollback(s);
	return r;
}

int store_outbox_stats(store *s, int64_t *ret_events, int64_t *ret_telemetry, int64_t *ret_oldest_ms)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	int rc, r = 0;

	if (!s)
		return -EINVAL;
	/* the events count only when asked: the daemon has it from its
	 * scheduler; telemetry counts through the (prio, id) index; the oldest
	 * waiting event is the first by id */
	rc = sqlite3_prepare_v2(s->db,
				ret_events
					? "SELECT (SELECT count(*) FROM outbox WHERE prio < ?1),"
					  " (SELECT count(*) FROM outbox WHERE prio >= ?1),"
					  " (SELECT created_ms FROM outbox WHERE prio < ?1 ORDER BY id"
					  " LIMIT 1)"
					: "SELECT 0, (SELECT count(*) FROM outbox WHERE prio >= ?1),"
					  " (SELECT created_ms FROM outbox WHERE prio < ?1 ORDER BY id"
					  " LIMIT 1)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "counting the outbox");
	b = (struct binder){ st, SQLITE_OK };
	store_b_int(&b, 1, STORE_PRIO_TELEMETRY);
	r = store_bind_check(s, &b, "counting the outbox");
	if (r < 0)
		goto out_finalize;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_fail(s, rc, "counting the outbox");
		goto out_finalize;
	}
	if (ret_events)
		*ret_events = sqlite3_column_int64(st, 0);
	if (ret_telemetry)
		*ret_telemetry = sqlite3_column_int64(st, 1);
	if (ret_oldest_ms)
		*ret_oldest_ms = sqlite3_column_int64(st, 2); /* NULL (none) reads as 0 */
out_finalize:
	sqlite3_finalize(st);
	return r;
}

/* ---- point state ------------------------------------------------------- */

int store_point_state_foreach(store *s, int (*cb)(void *ud, const struct store_point_state *ps),
			      void *ud)
{
	struct store_point_state ps;
	sqlite3_stmt *st = NULL;
	const unsigned char *k;
	int rc, r = 0, i;

	if (!s || !cb)
		return -EINVAL;
	rc = sqlite3_prepare_v2(s->db,
				"SELECT key, conditions, latched, alarm_causes, prealarm_causes, "
				"fault_causes_0, fault_causes_1, fault_causes_2, fault_causes_3, "
				"fault_causes_4, fault_causes_5, fault_causes_6, fault_causes_7, "
				"since_ms, last_seq, mode FROM point_state ORDER BY key",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading point states");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&ps, 0, sizeof(ps));
		k = sqlite3_column_text(st, 0);
		util_strlcpy(ps.key, k ? (const char *)k : "", sizeof(ps.key));
		ps.conditions = (uint32_t)sqlite3_column_int64(st, 1);
		ps.latched = sqlite3_column_int(st, 2) != 0;
		ps.alarm_causes = (uint32_t)sqlite3_column_int64(st, 3);
		ps.prealarm_causes = (uint32_t)sqlite3_column_int64(st, 4);
		for (i = 0; i < 8; i++)
			ps.fault_causes[i] = (uint32_t)sqlite3_column_int64(st, 5 + i);
		ps.since_ms = sqlite3_column_int64(st, 13);
		ps.last_seq = (uint64_t)sqlite3_column_int64(st, 14);
		k = sqlite3_column_text(st, 15);
		util_strlcpy(ps.mode, k ? (const char *)k : "", sizeof(ps.mode));
		r = cb(ud, &ps);
		if (r != 0)
			goto out_finalize;
	}
	if (rc != SQLITE_DONE)
		r = store_fail(s, rc, "reading point states");
out_finalize:
	sqlite3_finalize(st);
	return r;
}

int store_point_state_save(store *s, const struct store_point_state *ps)
{
	sqlite3_stmt *st = NULL;
	struct binder b;
	int r;

	if (!s || !ps || !key_ok(ps->key))
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	r = store_stmt_get(s, ST_PSTATE_UPSERT, &st);
	if (r < 0)
		return r;
	/* Latches, tests and disables must survive a power cut. */
	r = store_set_sync(s, true);
	if (r < 0)
		return r;
	b = (struct binder){ st, SQLITE_OK };
	bind_pstate(&b, ps);
	r = store_bind_check(s, &b, "saving a point state");
	if (r == 0)
		r = store_step_done(s, st, "saving a point state");
	if (r == 0)
		store_succeeded(s);
	return r;
}

int store_probe(store *s)
{
	int r;

	if (!s)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	r = store_set_sync(s, true);
	if (r < 0)
		return r;
	/* rewrites the meta row with itself: a real, fsynced WAL write */
	r = store_exec(s, "UPDATE meta SET last_seq = last_seq WHERE id = 1", "probing the database");
	if (r == 0)
		store_succeeded(s);
	return r;
}

/* ---- readings ---------------------------------------------------------- */

int store_readings_add(store *s, const struct store_reading *r)
{
	struct buffered_reading *br;

	if (!s || !r || !r->device || !r->name || !*r->device || !*r->name)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	if (strlen(r->device) >= READING_STR_MAX || strlen(r->name) >= READING_STR_MAX)
		return -EINVAL;
	if (s->n_readings >= READINGS_MAX)
		return -ENOBUFS;
	br = &s->readings[s->n_readings++];
	br->ts_ms = r->ts_ms;
	br->value = r->value;
	br->quality = r->quality;
	memcpy(br->device, r->device, strlen(r->device) + 1);
	memcpy(br->name, r->name, strlen(r->name) + 1);
	return 0;
}

int store_tick(store *s, uint64_t now_mono_ms)
{
	int r;

	if (!s)
		return -EINVAL;
	if (s->readonly)
		return 0;
	/* The first tick starts the clock; a flush waits a full period. */
	if (!s->tick_started) {
		s->tick_started = true;
		s->last_flush_ms = now_mono_ms;
		return 0;
	}
	if (now_mono_ms - s->last_flush_ms < FLUSH_PERIOD_MS &&
	    s->n_readings < FLUSH_EARLY_READINGS)
		return 0;
	/* A failed flush is retried one period later, not at every tick. */
	s->last_flush_ms = now_mono_ms;
	r = readings_flush(s);
	return r;
}

int store_prepare_once(store *s, const char *sql, sqlite3_stmt **ret, const char *what)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	if (rc != SQLITE_OK)
		return store_fail(s, rc, what);
	return 0;
}

