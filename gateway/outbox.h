/* outbox.h - the delivery scheduler over the outbox: decides which waiting
 * event goes out next (SPEC §3, §5): alarm first, then pre-alarm, then
 * fault, then the rest, by the priority fixed when the event was made
 * (only active events get a high one); the events of one alarm point (one
 * order key) never overtake each other. Pure, in memory, owned by the main
 * loop; the durable copy of every entry is the SQLite outbox row. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox outbox;

struct outbox_item {
	uint64_t tag;      /* the caller's publish tag: unique among entries */
	uint64_t seq;      /* orders entries (0: before every numbered entry) */
	int prio;          /* STORE_PRIO_* */
	int key;           /* order key index */
	int64_t row_id;    /* SQLite outbox row, 0 while only in memory */
	char *topic;       /* in-memory copy when row_id == 0 (store unavailable), else NULL */
	void *payload;
	size_t len;
};

int outbox_new(outbox **ret);
/* Frees every entry (and in-memory payloads). Accepts NULL. */
void outbox_free(outbox *o);
/* Drops every entry (and in-memory payloads); the keys stay. For a new
 * database replacing the one the entries came from. */
void outbox_clear(outbox *o);
/* Index of order key name, added if new. -ENOMEM. */
int outbox_key(outbox *o, const char *name);
/* Adds an entry; it takes ownership of it->topic/payload (may be NULL).
 * seq must be larger than every seq added before for the same key. */
int outbox_add(outbox *o, const struct outbox_item *it);
/* Picks the next entry to send and marks it in flight: each key offers its
 * first unsent entry with the priority of its most urgent unsent entry;
 * the lowest (priority, seq, row) wins. The returned item points at the
 * scheduler's copy: valid until the next call of any outbox function
 * (copy what you need at once). */
const struct outbox_item *outbox_next(outbox *o);
/* Undoes the last outbox_next() (the client refused the send). */
void outbox_unsend(outbox *o, uint64_t tag);
/* Delivered: removes the entry. Writes its row id and seq to the ret_
 * pointers (may be NULL). -ENOENT when no in-flight entry has tag. */
int outbox_acked(outbox *o, uint64_t tag, int64_t *ret_row_id, uint64_t *ret_seq);
/* Connection lost: every in-flight entry becomes unsent again (it will be
 * sent again, byte-identical). */
void outbox_requeue_all(outbox *o);
/* The entry (found by seq among those only in memory) has been written to
 * SQLite after all: record its row, drop the memory copy. Its tag stays. */
int outbox_set_row(outbox *o, uint64_t seq, int64_t row_id);
/* Calls cb for every in-memory entry not yet stored (row_id == 0), in seq
 * order; stops at the first non-zero return. */
int outbox_foreach_unstored(outbox *o, int (*cb)(void *ud, const struct outbox_item *it), void *ud);

size_t outbox_pending(const outbox *o);   /* unsent */
size_t outbox_inflight(const outbox *o);
size_t outbox_count(const outbox *o);     /* pending + in flight */
/* Smallest prio among all unsent entries, or INT_MAX when none. */
int outbox_best_prio(const outbox *o);
