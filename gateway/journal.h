/* journal.h - the event journal (SPEC §5): gives each event its seq,
 * serialises it once, commits it to SQLite with its outbox row and its
 * point's state before any publish, or holds it in memory (with its seq,
 * published from there) while SQLite refuses writes, and writes the held
 * ones in seq order once it takes them again. It owns the marks file beside
 * the database: the seq high-water mark (no seq is ever given to other
 * bytes) and the open gateway faults (raised once, restored once, across
 * restarts). Hands every publishable event to the delivery scheduler
 * (outbox.c). Main loop only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "event.h"
#include "outbox.h"
#include "site.h"
#include "store.h"

typedef struct journal journal;

/* The publish tag of an event held in memory (no outbox row yet):
 * JOURNAL_TAG_MEM | seq. Events with a row are tagged by their row id. */
#define JOURNAL_TAG_MEM (1ull << 61)

/* What the journal tells its owner. Each may be NULL. */
struct journal_hooks {
	void (*alarm)(void *ud, const char *event_id); /* an active fire alarm went out */
	void (*urgent)(void *ud);                      /* an alarm waits: connect now */
	void (*event)(void *ud, enum event_class cls); /* an event was made */
};

/* One event to make. Strings are borrowed. */
struct journal_event {
	enum event_class cls;
	const char *type;
	bool active;
	const char *cid;         /* NULL: none (records) */
	int dev, pt;             /* -1: the gateway / the device */
	uint32_t causes;
	bool has_value;
	double value;
	const char *unit;
	double threshold;        /* NAN: none */
	const char *by, *note;
	const char *result, *date, *ref, *verdict; /* records, acknowledgements */
	bool has_counts;         /* the periodic test */
	int open_faults, disablements;
	int prio;                /* STORE_PRIO_* */
	bool suppressed;         /* stored, not published */
	const char *topic_kind;  /* "alarm", "fault", "test", "record", "system"; NULL: stored only */
	int64_t ts_ms;           /* 0: now */
};

int journal_new(const struct config *c, struct site *site, outbox *ob,
		const struct journal_hooks *hooks, void *ud, journal **ret);
/* Writes what is held if it can (and logs what it cannot), the exact
 * high-water mark, and frees. Accepts NULL. */
void journal_free(journal *j);
/* The database events go to (after start-up recovery it may be a new
 * one). Numbering goes on from its last seq. */
void journal_set_store(journal *j, store *st);
/* Reads the marks file beside the database: numbering goes on above
 * every seq that may have been published; open gateway faults stay open.
 * replaced: a note when start-up replaced a corrupt database, else NULL. */
void journal_load_marks(journal *j, const char *replaced);

/* Makes one event: its seq, payload, commit (or hold), scheduling. 0, or
 * -errno when it could neither be stored nor held (it is still published;
 * logged). */
int journal_emit(journal *j, const struct journal_event *e);
/* A detection event of a point, routed by the point's mode: disabled:
 * stored only; in test: fire and pre-alarm go to test/ (and a first alarm
 * in the test is 1611). by: who caused it (a reset), or NULL. */
void journal_point_event(journal *j, int dev, int pt, const struct detect_event *de,
			 const char *by);
/* A test-mode or disablement event (SPEC §3: 1607/3607, 1611/1612,
 * 1571/3571). pt < 0: the device. */
void journal_mode_event(journal *j, int dev, int pt, const char *type, bool active, int code,
			const char *by, const char *note);

/* The events made between these two are committed in one transaction
 * (one fsync: points that alarm together), each with its own seq, and
 * handed to the scheduler only once durable. When the batch fails they are
 * held in memory and published from there, as single events would be. */
void journal_batch_begin(journal *j);
/* 0 (the batch is durable and scheduled, or there was none), or -errno
 * (it was undone: its events are held). */
int journal_batch_end(journal *j);

/* A record of the site (class record on <p>/<site>/record): e carries
 * type, by and the record's own fields (result, date, note, ref, verdict);
 * the rest is filled here. 0 or journal_emit()'s error. */
int journal_record(journal *j, struct journal_event *e);

/* Gateway faults (1350, 1354, 1623, 1624, 1626): one event per change,
 * kept open across restarts. */
bool journal_fault_open(const journal *j, enum gw_event e);
void journal_fault_set(journal *j, enum gw_event e, bool active, int64_t ts_ms, const char *note);
/* A new database (new epoch) replaced a corrupt one: its storage fault is
 * raised in the new epoch's stream. */
void journal_db_replaced(journal *j, const char *note);
/* When the next periodic test report is due (wall ms, kept in the marks
 * file so a restart does not push it back); 0: not set yet. */
int64_t journal_next_periodic(const journal *j);
void journal_set_next_periodic(journal *j, int64_t wall_ms);
/* Gateway faults open now. */
int journal_faults_open(const journal *j);
/* When the uplink was lost (restored from the marks across a restart). */
int64_t journal_uplink_lost_ms(const journal *j);

/* Held events: written in seq order while the store takes them. */
void journal_flush_held(journal *j);
size_t journal_n_held(const journal *j);
/* A held event was delivered: it is written without an outbox row. */
void journal_held_delivered(journal *j, uint64_t seq);
/* Nothing held and the database took a write since the storage fault. */
bool journal_store_healthy(const journal *j);

uint64_t journal_last_seq(const journal *j);
/* "<site>:<epoch>:<seq>" of the last event made. Returns buf. */
char *journal_last_event_id(const journal *j, char *buf, size_t len);
/* The local account (user name) whose control-socket command makes the
 * events from now on: they carry "account". NULL: none (the default); set
 * around one command, main loop only. Longer than 63 bytes: cut. */
void journal_set_account(journal *j, const char *account);
/* Events carry "time_synced" (SPEC §5). */
void journal_set_time_synced(journal *j, bool synced);
bool journal_time_synced(const journal *j);
/* Outbox priority of an event (SPEC §3 delivery order). */
int journal_prio(enum event_class cls, bool active);
