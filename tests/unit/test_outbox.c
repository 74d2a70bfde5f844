/* test_outbox.c - unit tests of gateway/outbox.c, the delivery scheduler
 * (SPEC §3 "Delivery order", §5). Error paths first, then the order rules
 * (prio, then seq, then row; one order key never reordered), unsend, acks,
 * requeue after a connection loss, the in-memory entries (set_row,
 * foreach_unstored, ownership), and last a randomized run against a small
 * reference model with a fixed seed. Run under valgrind or ASan to check
 * the ownership of in-memory topics and payloads. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outbox.h"
#include "store.h"
#include "util.h"

static int setup(void **state)
{
	outbox *o = NULL;

	if (outbox_new(&o) < 0)
		return -1;
	*state = o;
	return 0;
}

static int teardown(void **state)
{
	outbox_free(*state);
	return 0;
}

/* Adds a stored entry (row_id != 0, no memory copy). */
static void add_row(outbox *o, int key, uint64_t tag, uint64_t seq, int prio, int64_t row)
{
	struct outbox_item it = {
	    .tag = tag,
	    .seq = seq,
	    .prio = prio,
	    .key = key,
	    .row_id = row,
	};

	assert_int_equal(outbox_add(o, &it), 0);
}

/* Adds an in-memory entry (row_id 0) with its own topic and payload. */
static void add_mem(outbox *o, int key, uint64_t tag, uint64_t seq, int prio)
{
	struct outbox_item it = {.tag = tag, .seq = seq, .prio = prio, .key = key};
	char topic[64], payload[64];

	snprintf(topic, sizeof(topic), "firegw/site/alarm/dev-%d", key);
	snprintf(payload, sizeof(payload), "{\"seq\":%llu}", (unsigned long long)seq);
	it.topic = strdup(topic);
	it.payload = strdup(payload);
	assert_non_null(it.topic);
	assert_non_null(it.payload);
	it.len = strlen(payload);
	assert_int_equal(outbox_add(o, &it), 0);
}

static uint64_t next_tag(outbox *o)
{
	const struct outbox_item *it = outbox_next(o);

	assert_non_null(it);
	return it->tag;
}

static void assert_counts(const outbox *o, size_t pending, size_t inflight)
{
	if (outbox_pending(o) != pending || outbox_inflight(o) != inflight ||
	    outbox_count(o) != pending + inflight)
		fail_msg("pending %zu inflight %zu count %zu, want %zu %zu %zu", outbox_pending(o),
			 outbox_inflight(o), outbox_count(o), pending, inflight,
			 pending + inflight);
}

/* ---- error paths ---- */

static void test_empty(void **state)
{
	outbox *o = *state;
	int64_t row = -5;
	uint64_t seq = 55;

	assert_null(outbox_next(o));
	assert_int_equal(outbox_best_prio(o), INT_MAX);
	assert_counts(o, 0, 0);
	assert_int_equal(outbox_acked(o, 1, &row, &seq), -ENOENT);
	assert_true(row == -5 && seq == 55); /* untouched */
	assert_int_equal(outbox_set_row(o, 1, 10), -ENOENT);
	outbox_unsend(o, 1); /* harmless */
	outbox_requeue_all(o);
	assert_counts(o, 0, 0);
	outbox_free(NULL);
}

static void test_add_refuses_unknown_key(void **state)
{
	outbox *o = *state;
	struct outbox_item it = {.tag = 1, .seq = 1, .prio = 0, .row_id = 1};
	int k;

	it.key = -1;
	assert_int_equal(outbox_add(o, &it), -EINVAL);
	it.key = 0; /* no key registered yet */
	assert_int_equal(outbox_add(o, &it), -EINVAL);
	k = outbox_key(o, "smoke-a1/fire");
	assert_int_equal(k, 0);
	it.key = k + 1;
	assert_int_equal(outbox_add(o, &it), -EINVAL);
	assert_counts(o, 0, 0);
	assert_null(outbox_next(o));
}

static void test_acked_needs_in_flight_tag(void **state)
{
	outbox *o = *state;
	int k = outbox_key(o, "a");
	int64_t row = -1;
	uint64_t seq = 0;

	add_row(o, k, 100, 1, STORE_PRIO_ALARM, 11);
	add_row(o, k, 101, 2, STORE_PRIO_ALARM, 12);
	/* not sent yet: no PUBACK can be for it */
	assert_int_equal(outbox_acked(o, 100, &row, &seq), -ENOENT);
	assert_int_equal(outbox_acked(o, 999, NULL, NULL), -ENOENT);
	assert_int_equal(next_tag(o), 100);
	/* tags are the caller's, not seqs nor rows */
	assert_int_equal(outbox_acked(o, 1, NULL, NULL), -ENOENT);
	assert_int_equal(outbox_acked(o, 11, NULL, NULL), -ENOENT);
	assert_int_equal(outbox_acked(o, 101, NULL, NULL), -ENOENT); /* still pending */
	assert_int_equal(outbox_acked(o, 100, &row, &seq), 0);
	assert_true(row == 11);
	assert_true(seq == 1);
	assert_int_equal(outbox_acked(o, 100, &row, &seq), -ENOENT); /* only once */
	assert_counts(o, 1, 0);
}

static void test_set_row_errors(void **state)
{
	outbox *o = *state;
	int k = outbox_key(o, "a");

	add_row(o, k, 1, 5, STORE_PRIO_FAULT, 50);
	add_mem(o, k, 2, 6, STORE_PRIO_FAULT);
	assert_int_equal(outbox_set_row(o, 5, 99), -ENOENT); /* already stored */
	assert_int_equal(outbox_set_row(o, 7, 99), -ENOENT); /* no such seq */
	assert_int_equal(outbox_set_row(o, 6, 60), 0);
	assert_int_equal(outbox_set_row(o, 6, 61), -ENOENT); /* stored now */
}

/* ---- keys ---- */

static void test_keys(void **state)
{
	outbox *o = *state;
	char name[32];
	int i;

	assert_int_equal(outbox_key(o, "smoke-a1/fire"), 0);
	assert_int_equal(outbox_key(o, "panel-1/in1"), 1);
	assert_int_equal(outbox_key(o, "smoke-a1/fire"), 0);
	assert_int_equal(outbox_key(o, "Smoke-a1/fire"), 2); /* exact names */
	/* many keys: the key table grows and old indexes stay */
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "dev-%d/p", i);
		assert_int_equal(outbox_key(o, name), 3 + i);
	}
	assert_int_equal(outbox_key(o, "panel-1/in1"), 1);
	assert_int_equal(outbox_key(o, "dev-299/p"), 302);
}

/* ---- order ---- */

static void test_priority_order(void **state)
{
	outbox *o = *state;
	int k[4], i;
	static const char *const names[] = {"other", "fault", "pre", "alarm"};

	for (i = 0; i < 4; i++)
		k[i] = outbox_key(o, names[i]);
	/* made in the worst order: other first, alarm last */
	add_row(o, k[0], 10, 1, STORE_PRIO_OTHER, 1);
	add_row(o, k[1], 11, 2, STORE_PRIO_FAULT, 2);
	add_row(o, k[2], 12, 3, STORE_PRIO_PREALARM, 3);
	add_row(o, k[3], 13, 4, STORE_PRIO_ALARM, 4);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_ALARM);
	assert_int_equal(next_tag(o), 13);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_PREALARM);
	assert_int_equal(next_tag(o), 12);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_FAULT);
	assert_int_equal(next_tag(o), 11);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_OTHER);
	assert_int_equal(next_tag(o), 10);
	assert_int_equal(outbox_best_prio(o), INT_MAX);
	assert_null(outbox_next(o));
	assert_counts(o, 0, 4);
}

static void test_ties_by_seq_then_row(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a"), b = outbox_key(o, "b"), c = outbox_key(o, "c");
	int d = outbox_key(o, "d"), e = outbox_key(o, "e"), f = outbox_key(o, "f");
	int g = outbox_key(o, "g"), h = outbox_key(o, "h");

	/* same prio: lower seq first, whichever key was added first */
	add_row(o, a, 1, 30, STORE_PRIO_FAULT, 3);
	add_row(o, b, 2, 10, STORE_PRIO_FAULT, 9);
	add_row(o, c, 3, 20, STORE_PRIO_FAULT, 1);
	assert_int_equal(next_tag(o), 2);
	assert_int_equal(next_tag(o), 3);
	assert_int_equal(next_tag(o), 1);
	/* same prio and seq (rows without a seq: seq 0): lower row first */
	add_row(o, d, 4, 0, STORE_PRIO_OTHER, 70);
	add_row(o, e, 5, 0, STORE_PRIO_OTHER, 60);
	add_row(o, f, 6, 0, STORE_PRIO_OTHER, 80);
	assert_int_equal(next_tag(o), 5);
	assert_int_equal(next_tag(o), 4);
	assert_int_equal(next_tag(o), 6);
	/* seq 0 comes before every numbered entry of the same prio */
	add_row(o, g, 7, 40, STORE_PRIO_OTHER, 2);
	add_row(o, h, 8, 0, STORE_PRIO_OTHER, 200);
	assert_int_equal(next_tag(o), 8);
	assert_int_equal(next_tag(o), 7);
	/* but prio first: a better prio beats a lower seq and a lower row */
	add_row(o, a, 9, 50, STORE_PRIO_OTHER, 1);
	add_row(o, b, 10, 60, STORE_PRIO_PREALARM, 900);
	assert_int_equal(next_tag(o), 10);
	assert_int_equal(next_tag(o), 9);
}

static void test_key_never_reordered(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "smoke-a1/fire"), b = outbox_key(o, "heat-b/fire");

	/* point a: its alarm cleared (waiting), then a new alarm. The new
	 * alarm has the better prio but must not overtake its own cleared
	 * event, else the center would see "active" then "cleared". */
	add_row(o, a, 1, 1, STORE_PRIO_OTHER, 1);
	add_row(o, a, 2, 2, STORE_PRIO_ALARM, 2);
	add_row(o, a, 3, 3, STORE_PRIO_OTHER, 3);
	add_row(o, b, 4, 4, STORE_PRIO_OTHER, 4);
	assert_int_equal(next_tag(o), 1);
	assert_int_equal(next_tag(o), 2);
	/* a's last cleared is seq 3, b's is seq 4: same prio, seq decides */
	assert_int_equal(next_tag(o), 3);
	assert_int_equal(next_tag(o), 4);
	assert_null(outbox_next(o));
}

static void test_key_waits_for_its_head(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a"), b = outbox_key(o, "b");
	int pos_cleared = -1, pos_alarm = -1, i;

	/* key a: cleared (3) then alarm (0); key b: a fault (2). However the
	 * keys are interleaved, a's alarm is never sent before a's cleared. */
	add_row(o, a, 1, 1, STORE_PRIO_OTHER, 1);
	add_row(o, a, 2, 3, STORE_PRIO_ALARM, 3);
	add_row(o, b, 3, 2, STORE_PRIO_FAULT, 2);
	for (i = 0; i < 3; i++) {
		uint64_t t = next_tag(o);

		if (t == 1)
			pos_cleared = i;
		if (t == 2)
			pos_alarm = i;
	}
	assert_null(outbox_next(o));
	assert_true(pos_cleared >= 0 && pos_alarm >= 0);
	assert_true(pos_cleared < pos_alarm);
}

/* Regression test (a bug found by this suite, now fixed): priority inversion across keys. A key's
 * first unsent entry decides its place, so a new fire alarm queued behind
 * its own point's cleared event (prio OTHER) waits behind every fault and
 * pre-alarm of every other point: with a backlog of faults after an
 * outage, the alarm is the last event out, against SPEC §3 ("alarm
 * first"), §5 ("A new alarm jumps any backlog") and §8. The fix keeps the
 * per-key order and lets a key take the best prio among its unsent
 * entries (priority inheritance): a's cleared then a's alarm, then the
 * faults. outbox_best_prio() shows the same flaw (next test). */
static void test_alarm_not_delayed_by_other_keys(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "smoke-a1/fire"), i;

	/* 50 faults of other points waiting from the outage */
	for (i = 0; i < 50; i++) {
		char name[16];

		snprintf(name, sizeof(name), "dev-%d", i);
		add_row(o, outbox_key(o, name), 100 + (uint64_t)i, 10 + (uint64_t)i,
			STORE_PRIO_FAULT, 10 + i);
	}
	add_row(o, a, 1, 1, STORE_PRIO_OTHER, 1);     /* a's earlier alarm, cleared */
	add_row(o, a, 2, 100, STORE_PRIO_ALARM, 100); /* a new fire */
	assert_int_equal(next_tag(o), 1);
	assert_int_equal(next_tag(o), 2);
}

/* Regression test (a bug found by this suite, now fixed): outbox.h says outbox_best_prio() is the
 * "smallest prio among unsent entries"; outbox.c looks only at the first
 * unsent entry of each key, so an alarm waiting behind a cleared event of
 * its point is not seen (INT_MAX-free, but 3 instead of 0). */
static void test_best_prio_sees_every_unsent_entry(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a");

	add_row(o, a, 1, 1, STORE_PRIO_OTHER, 1);
	add_row(o, a, 2, 2, STORE_PRIO_ALARM, 2);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_ALARM);
}

/* ---- unsend, acks, requeue ---- */

static void test_unsend_restores(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a"), b = outbox_key(o, "b");
	const struct outbox_item *it;

	add_row(o, a, 1, 1, STORE_PRIO_ALARM, 1);
	add_row(o, a, 2, 2, STORE_PRIO_ALARM, 2);
	add_row(o, b, 3, 3, STORE_PRIO_FAULT, 3);
	assert_int_equal(next_tag(o), 1);
	assert_int_equal(next_tag(o), 2);
	assert_counts(o, 1, 2);
	outbox_unsend(o, 2); /* the client refused the send */
	assert_counts(o, 2, 1);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_ALARM);
	it = outbox_next(o);
	assert_non_null(it);
	assert_int_equal(it->tag, 2); /* the same entry again, before b */
	assert_int_equal(it->seq, 2);
	assert_int_equal(it->row_id, 2);
	outbox_unsend(o, 2);
	outbox_unsend(o, 1);
	assert_counts(o, 3, 0);
	assert_int_equal(next_tag(o), 1);
	assert_int_equal(next_tag(o), 2);
	assert_int_equal(next_tag(o), 3);
	/* an unknown tag changes nothing */
	outbox_unsend(o, 77);
	assert_counts(o, 0, 3);
}

static void test_acked_removes_and_reports(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a"), b = outbox_key(o, "b");
	int64_t row = 0;
	uint64_t seq = 0;

	add_row(o, a, 1000, 7, STORE_PRIO_ALARM, 70);
	add_row(o, a, 1001, 8, STORE_PRIO_ALARM, 80);
	add_row(o, a, 1002, 9, STORE_PRIO_ALARM, 90);
	add_row(o, b, 1003, 10, STORE_PRIO_FAULT, 100);
	assert_int_equal(next_tag(o), 1000);
	assert_int_equal(next_tag(o), 1001);
	assert_int_equal(next_tag(o), 1002);
	assert_counts(o, 1, 3);
	/* a PUBACK out of order within the key */
	assert_int_equal(outbox_acked(o, 1001, &row, &seq), 0);
	assert_true(row == 80 && seq == 8);
	assert_counts(o, 1, 2);
	assert_int_equal(outbox_acked(o, 1000, NULL, &seq), 0);
	assert_true(seq == 7);
	assert_int_equal(outbox_acked(o, 1002, &row, NULL), 0);
	assert_true(row == 90);
	assert_counts(o, 1, 0);
	/* the key works on after being emptied */
	add_row(o, a, 1004, 11, STORE_PRIO_OTHER, 110);
	assert_int_equal(next_tag(o), 1003);
	assert_int_equal(next_tag(o), 1004);
	assert_int_equal(outbox_acked(o, 1004, &row, &seq), 0);
	assert_true(row == 110 && seq == 11);
	assert_int_equal(outbox_acked(o, 1003, &row, &seq), 0);
	assert_true(row == 100 && seq == 10);
	assert_counts(o, 0, 0);
	assert_null(outbox_next(o));
}

static void test_requeue_all_same_order(void **state)
{
	outbox *o = *state;
	uint64_t first[12], again[12];
	int keys[4], i;
	static const int prio[12] = {3, 2, 0, 1, 3, 0, 2, 2, 1, 3, 0, 2};

	for (i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", i);
		keys[i] = outbox_key(o, name);
	}
	for (i = 0; i < 12; i++)
		add_row(o, keys[i % 4], 500 + (uint64_t)i, 1 + (uint64_t)i, prio[i], 1 + i);
	for (i = 0; i < 12; i++)
		first[i] = next_tag(o);
	assert_counts(o, 0, 12);
	outbox_requeue_all(o); /* connection lost: all unknown */
	assert_counts(o, 12, 0);
	for (i = 0; i < 12; i++)
		again[i] = next_tag(o);
	assert_memory_equal(first, again, sizeof(first));

	/* after some acks, only the rest goes again, still in that order */
	assert_int_equal(outbox_acked(o, first[0], NULL, NULL), 0);
	assert_int_equal(outbox_acked(o, first[5], NULL, NULL), 0);
	assert_int_equal(outbox_acked(o, first[11], NULL, NULL), 0);
	outbox_requeue_all(o);
	assert_counts(o, 9, 0);
	for (i = 0; i < 12; i++) {
		if (i == 0 || i == 5 || i == 11)
			continue;
		assert_int_equal(next_tag(o), first[i]);
	}
	assert_null(outbox_next(o));
	/* partly sent when the link drops */
	outbox_requeue_all(o);
	assert_int_equal(next_tag(o), first[1]);
	assert_int_equal(next_tag(o), first[2]);
	outbox_requeue_all(o);
	assert_counts(o, 9, 0);
	assert_int_equal(next_tag(o), first[1]);
}

/* ---- in-memory entries ---- */

static void test_set_row_drops_memory_copy(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a");
	const struct outbox_item *it;
	int64_t row = 0;

	add_mem(o, a, 0x8000000000000005ull, 5, STORE_PRIO_ALARM);
	it = outbox_next(o);
	assert_non_null(it);
	assert_int_equal(it->row_id, 0);
	assert_string_equal(it->topic, "firegw/site/alarm/dev-0");
	assert_int_equal(it->len, strlen("{\"seq\":5}"));
	assert_memory_equal(it->payload, "{\"seq\":5}", it->len);
	/* written to SQLite while in flight: the copy goes, the tag stays */
	assert_int_equal(outbox_set_row(o, 5, 42), 0);
	outbox_requeue_all(o);
	it = outbox_next(o);
	assert_non_null(it);
	assert_true(it->tag == 0x8000000000000005ull);
	assert_true(it->row_id == 42);
	assert_null(it->topic);
	assert_null(it->payload);
	assert_int_equal(outbox_acked(o, 0x8000000000000005ull, &row, NULL), 0);
	assert_true(row == 42);
}

struct visit {
	uint64_t seqs[16];
	int n;
	int stop_at; /* return non-zero on this visit (1-based), 0: never */
};

static int visit_cb(void *ud, const struct outbox_item *it)
{
	struct visit *v = ud;

	assert_true(v->n < 16);
	assert_int_equal(it->row_id, 0);
	assert_non_null(it->topic);
	assert_non_null(it->payload);
	v->seqs[v->n++] = it->seq;
	return v->n == v->stop_at ? 7 : 0;
}

static void test_foreach_unstored_seq_order(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a"), b = outbox_key(o, "b"), c = outbox_key(o, "c");
	struct visit v = {.n = 0};

	assert_int_equal(outbox_foreach_unstored(o, visit_cb, &v), 0);
	assert_int_equal(v.n, 0);

	add_mem(o, b, 105, 5, STORE_PRIO_OTHER);
	add_row(o, a, 103, 3, STORE_PRIO_ALARM, 30); /* stored: not visited */
	add_mem(o, a, 109, 9, STORE_PRIO_ALARM);
	add_mem(o, c, 102, 2, STORE_PRIO_FAULT);
	add_mem(o, b, 107, 7, STORE_PRIO_OTHER);
	assert_int_equal(next_tag(o), 103);
	assert_int_equal(next_tag(o), 109); /* in flight entries count too */

	assert_int_equal(outbox_foreach_unstored(o, visit_cb, &v), 0);
	assert_int_equal(v.n, 4);
	assert_true(v.seqs[0] == 2 && v.seqs[1] == 5 && v.seqs[2] == 7 && v.seqs[3] == 9);

	/* stops at the first non-zero return and passes it on */
	v = (struct visit){.stop_at = 2};
	assert_int_equal(outbox_foreach_unstored(o, visit_cb, &v), 7);
	assert_int_equal(v.n, 2);

	/* once stored, an entry is no longer visited */
	assert_int_equal(outbox_set_row(o, 5, 50), 0);
	v = (struct visit){.n = 0};
	assert_int_equal(outbox_foreach_unstored(o, visit_cb, &v), 0);
	assert_int_equal(v.n, 3);
	assert_true(v.seqs[0] == 2 && v.seqs[1] == 7 && v.seqs[2] == 9);
}

/* Regression test (a bug found by this suite, now fixed): outbox_foreach_unstored scans for "seq >
 * last" starting from last = 0, so an unstored entry with seq 0 (which
 * outbox.h allows: "0: before every numbered entry") is never visited and
 * would never be written to SQLite. */
static void test_foreach_unstored_includes_seq_zero(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a");
	struct visit v = {.n = 0};

	add_mem(o, a, 1, 0, STORE_PRIO_OTHER);
	add_mem(o, a, 2, 4, STORE_PRIO_OTHER);
	assert_int_equal(outbox_foreach_unstored(o, visit_cb, &v), 0);
	assert_int_equal(v.n, 2);
	assert_true(v.seqs[0] == 0 && v.seqs[1] == 4);
}

static void test_counts_through_a_session(void **state)
{
	outbox *o = *state;
	int a = outbox_key(o, "a"), b = outbox_key(o, "b");

	add_row(o, a, 1, 1, STORE_PRIO_FAULT, 1);
	add_mem(o, b, 2, 2, STORE_PRIO_ALARM);
	add_row(o, a, 3, 3, STORE_PRIO_OTHER, 3);
	assert_counts(o, 3, 0);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_ALARM);
	assert_int_equal(next_tag(o), 2);
	assert_counts(o, 2, 1);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_FAULT);
	assert_int_equal(next_tag(o), 1);
	assert_counts(o, 1, 2);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_OTHER);
	assert_int_equal(outbox_acked(o, 2, NULL, NULL), 0);
	assert_counts(o, 1, 1);
	outbox_requeue_all(o);
	assert_counts(o, 2, 0);
	assert_int_equal(outbox_best_prio(o), STORE_PRIO_FAULT);
	assert_int_equal(next_tag(o), 1);
	assert_int_equal(next_tag(o), 3);
	assert_int_equal(outbox_acked(o, 1, NULL, NULL), 0);
	assert_int_equal(outbox_acked(o, 3, NULL, NULL), 0);
	assert_counts(o, 0, 0);
	assert_int_equal(outbox_best_prio(o), INT_MAX);
}

/* Ownership: in-memory topics and payloads are freed on ack, on set_row
 * and by outbox_free, whatever state the entries are in. Nothing to
 * assert here beyond the calls succeeding: valgrind / ASan report a leak
 * or a double free. */
static void test_ownership(void **state)
{
	outbox *o = NULL;
	int a, b;
	uint64_t i;

	(void)state;
	assert_int_equal(outbox_new(&o), 0);
	a = outbox_key(o, "a");
	b = outbox_key(o, "b");
	for (i = 1; i <= 30; i++)
		add_mem(o, (i & 1) ? a : b, i, i, (int)(i % 4));
	for (i = 0; i < 10; i++)
		assert_non_null(outbox_next(o));
	assert_int_equal(outbox_acked(o, next_tag(o), NULL, NULL), 0); /* freed by ack */
	assert_int_equal(outbox_set_row(o, 30, 300), 0);	       /* freed by set_row */
	assert_int_equal(outbox_set_row(o, 29, 290), 0);
	assert_counts(o, 19, 10);
	outbox_free(o); /* the rest, in flight and pending */
}

/* ---- randomized check against a reference model ---- */

#define MODEL_MAX 256
#define MODEL_KEYS 5

struct mentry {
	uint64_t tag, seq;
	int prio, key;
	int64_t row;
	bool inflight;
};

struct model {
	struct mentry e[MODEL_MAX]; /* in add order, which is seq order per key */
	int n;
};

/* The header's rule: each key offers its first unsent entry with the
 * priority of its most urgent unsent entry; the lowest (priority, seq, row)
 * wins. Entries of a key are in seq order in e[]. */
static int model_pick(const struct model *m)
{
	int first[MODEL_KEYS], prio[MODEL_KEYS];
	int best = -1, bp = 0, i, k;

	for (k = 0; k < MODEL_KEYS; k++) {
		first[k] = -1;
		prio[k] = 1 << 30;
	}
	for (i = 0; i < m->n; i++) {
		const struct mentry *x = &m->e[i];

		if (x->inflight)
			continue;
		if (first[x->key] < 0)
			first[x->key] = i;
		if (x->prio < prio[x->key])
			prio[x->key] = x->prio;
	}
	for (k = 0; k < MODEL_KEYS; k++) {
		const struct mentry *x;

		if (first[k] < 0)
			continue;
		x = &m->e[first[k]];
		if (best < 0 || prio[k] < bp ||
		    (prio[k] == bp && (x->seq < m->e[best].seq ||
				       (x->seq == m->e[best].seq && x->row < m->e[best].row)))) {
			best = first[k];
			bp = prio[k];
		}
	}
	return best;
}

static void model_counts(const struct model *m, size_t *pending, size_t *inflight)
{
	int i;

	*pending = *inflight = 0;
	for (i = 0; i < m->n; i++)
		if (m->e[i].inflight)
			(*inflight)++;
		else
			(*pending)++;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: fixed seed, same run every time */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static void test_random_against_model(void **state)
{
	outbox *o = *state;
	struct model m = {.n = 0};
	uint64_t next_seq = 1, next_tagv = 1;
	int keys[MODEL_KEYS], iter, i;
	uint64_t last_next = 0; /* tag of the latest outbox_next, 0 once invalid */
	size_t sent = 0, acked = 0;

	for (i = 0; i < MODEL_KEYS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		keys[i] = outbox_key(o, name);
	}
	for (iter = 0; iter < 20000; iter++) {
		uint32_t op = rnd(100);
		size_t mp, mi;

		if (op < 35 && m.n < MODEL_MAX) {
			/* add: in memory one time in four */
			struct mentry x = {
			    .tag = next_tagv++,
			    .seq = next_seq++,
			    .prio = (int)rnd(4),
			    .key = (int)rnd(MODEL_KEYS),
			};

			x.row = rnd(4) ? (int64_t)x.seq * 10 : 0;
			if (x.row)
				add_row(o, keys[x.key], x.tag, x.seq, x.prio, x.row);
			else
				add_mem(o, keys[x.key], x.tag, x.seq, x.prio);
			m.e[m.n++] = x;
			last_next = 0;
		} else if (op < 70) {
			/* next */
			const struct outbox_item *it = outbox_next(o);
			int want = model_pick(&m);

			if (want < 0) {
				assert_null(it);
				continue;
			}
			assert_non_null(it);
			if (it->tag != m.e[want].tag)
				fail_msg(
				    "iteration %d: next gave tag %llu (prio %d seq %llu), model "
				    "wants tag %llu (prio %d seq %llu)",
				    iter, (unsigned long long)it->tag, it->prio,
				    (unsigned long long)it->seq, (unsigned long long)m.e[want].tag,
				    m.e[want].prio, (unsigned long long)m.e[want].seq);
			assert_true(it->seq == m.e[want].seq);
			assert_int_equal(it->prio, m.e[want].prio);
			assert_true(it->row_id == m.e[want].row);
			assert_true((it->topic != NULL) == (m.e[want].row == 0));
			m.e[want].inflight = true;
			last_next = it->tag;
			sent++;
		} else if (op < 75 && last_next) {
			/* the client refused the last send */
			outbox_unsend(o, last_next);
			for (i = 0; i < m.n; i++)
				if (m.e[i].tag == last_next)
					m.e[i].inflight = false;
			last_next = 0;
		} else if (op < 93) {
			/* a PUBACK for a random in-flight entry */
			int cand[MODEL_MAX], nc = 0;
			int64_t row = -1;
			uint64_t seq = 0;

			for (i = 0; i < m.n; i++)
				if (m.e[i].inflight)
					cand[nc++] = i;
			if (nc == 0) {
				assert_int_equal(outbox_acked(o, next_tagv + 5, NULL, NULL),
						 -ENOENT);
				continue;
			}
			i = cand[rnd((uint32_t)nc)];
			assert_int_equal(outbox_acked(o, m.e[i].tag, &row, &seq), 0);
			assert_true(row == m.e[i].row);
			assert_true(seq == m.e[i].seq);
			memmove(&m.e[i], &m.e[i + 1], (size_t)(m.n - i - 1) * sizeof(m.e[0]));
			m.n--;
			last_next = 0;
			acked++;
		} else if (op < 96) {
			/* the store recovers: one unstored entry gets its row */
			int cand[MODEL_MAX], nc = 0;

			for (i = 0; i < m.n; i++)
				if (m.e[i].row == 0)
					cand[nc++] = i;
			if (nc == 0)
				continue;
			i = cand[rnd((uint32_t)nc)];
			m.e[i].row = (int64_t)m.e[i].seq * 10 + 1;
			assert_int_equal(outbox_set_row(o, m.e[i].seq, m.e[i].row), 0);
		} else {
			/* connection lost */
			outbox_requeue_all(o);
			for (i = 0; i < m.n; i++)
				m.e[i].inflight = false;
			last_next = 0;
		}
		model_counts(&m, &mp, &mi);
		if (outbox_pending(o) != mp || outbox_inflight(o) != mi ||
		    outbox_count(o) != (size_t)m.n)
			fail_msg("iteration %d: pending %zu inflight %zu, model %zu %zu", iter,
				 outbox_pending(o), outbox_inflight(o), mp, mi);
		/* best prio: INT_MAX iff nothing waits, never worse than what
		 * goes next */
		i = model_pick(&m);
		if (i < 0)
			assert_int_equal(outbox_best_prio(o), INT_MAX);
		else
			assert_true(outbox_best_prio(o) <= m.e[i].prio);
	}
	/* the run exercised every path */
	assert_true(sent > 3000);
	assert_true(acked > 1000);
	/* the unstored ones in seq order, as the model has them */
	{
		struct visit v = {.n = 0};
		int want = 0;

		for (i = 0; i < m.n; i++)
			want += m.e[i].row == 0;
		if (want <= 16) {
			assert_int_equal(outbox_foreach_unstored(o, visit_cb, &v), 0);
			assert_int_equal(v.n, want);
			for (i = 1; i < v.n; i++)
				assert_true(v.seqs[i - 1] < v.seqs[i]);
		}
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_empty),
	    T(test_add_refuses_unknown_key),
	    T(test_acked_needs_in_flight_tag),
	    T(test_set_row_errors),
	    T(test_keys),
	    T(test_priority_order),
	    T(test_ties_by_seq_then_row),
	    T(test_key_never_reordered),
	    T(test_key_waits_for_its_head),
	    T(test_alarm_not_delayed_by_other_keys),
	    T(test_best_prio_sees_every_unsent_entry),
	    T(test_unsend_restores),
	    T(test_acked_removes_and_reports),
	    T(test_requeue_all_same_order),
	    T(test_set_row_drops_memory_copy),
	    T(test_foreach_unstored_seq_order),
	    T(test_foreach_unstored_includes_seq_zero),
	    T(test_counts_through_a_session),
	    cmocka_unit_test(test_ownership),
	    T(test_random_against_model),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
