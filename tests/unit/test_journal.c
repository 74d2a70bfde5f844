/* test_journal.c - gateway/journal.c with its real collaborators (a config
 * from a small YAML file, the site, a store on a temporary file, the
 * outbox, the marks file): events of a batch are scheduled only once the
 * batch is durable, each with its own seq; a batch the store refuses
 * (max_mb full) is held in memory in seq order and published from there;
 * held events are written in seq order when the store takes them again;
 * the seq high-water mark keeps a restart from reusing a held seq; gateway
 * faults stay open across a restart and are not raised twice. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "journal.h"
#include "outbox.h"
#include "site.h"
#include "store.h"
#include "util.h"

struct fx {
	char dir[PATH_MAX];
	struct config *c;
	struct site s;
	outbox *ob;
	journal *j;
	store *st;
};

static void open_all(struct fx *f)
{
	struct store_opts so = { .create = true, .max_mb = f->c->storage.max_mb };

	assert_int_equal(site_init(&f->s, f->c, util_wall_ms()), 0);
	assert_int_equal(outbox_new(&f->ob), 0);
	assert_int_equal(journal_new(f->c, &f->s, f->ob, NULL, NULL, &f->j), 0);
	so.path = f->c->storage.path;
	assert_int_equal(store_open(&so, &f->st), 0);
	journal_set_store(f->j, f->st);
	journal_load_marks(f->j, NULL);
}

static void close_all(struct fx *f)
{
	journal_free(f->j);
	store_free(f->st);
	outbox_free(f->ob);
	site_clear(&f->s);
	f->j = NULL;
	f->st = NULL;
	f->ob = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist e = { 0 };
	char path[PATH_MAX + 16], yaml[PATH_MAX + 512];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(yaml, sizeof(yaml),
		 "site: {id: s1}\n"
		 "storage: {path: %s/firegw.db}\n"
		 "buses: [{id: b1, tcp: {host: 127.0.0.1, port: 1}}]\n"
		 "devices:\n"
		 "  - {id: smoke-1, bus: b1, unit: 1, profile: smoke-point}\n",
		 f->dir);
	snprintf(path, sizeof(path), "%s/firegw.yaml", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(yaml, fp);
	fclose(fp);
	if (config_load(path, config_builtin_profile_dir(), &e, &f->c) < 0)
		errlist_print(&e, stderr);
	errlist_clear(&e);
	assert_non_null(f->c);
	/* a 1 MB database (the configuration's minimum is 8): full soon */
	f->c->storage.max_mb = 1;
	open_all(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	close_all(f);
	config_free(f->c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void fault_event(journal *j, const char *note)
{
	struct journal_event e = { 0 };

	e.cls = EVCLASS_FAULT;
	e.type = "sensor_fault";
	e.active = true;
	e.cid = "1380";
	e.dev = 0;
	e.pt = 0;
	e.threshold = NAN;
	e.note = note;
	e.prio = STORE_PRIO_FAULT;
	e.topic_kind = "fault";
	assert_int_equal(journal_emit(j, &e), 0);
}

static void test_batch_scheduled_once_durable(void **state)
{
	struct fx *f = *state;

	journal_batch_begin(f->j);
	fault_event(f->j, "a");
	fault_event(f->j, "b");
	fault_event(f->j, "c");
	/* numbered, committed in the open transaction, not yet sendable */
	assert_int_equal(journal_last_seq(f->j), 3);
	assert_int_equal(outbox_count(f->ob), 0);
	assert_int_equal(journal_batch_end(f->j), 0);
	assert_int_equal(outbox_count(f->ob), 3);
	assert_int_equal(store_last_seq(f->st), 3);
	assert_int_equal(journal_n_held(f->j), 0);
	/* scheduled in seq order, from their rows */
	{
		const struct outbox_item *it = outbox_next(f->ob);

		assert_non_null(it);
		assert_int_equal(it->seq, 1);
		assert_true(it->row_id > 0);
	}
}

/* A batch the database refuses (storage.max_mb full): its events are held
 * in seq order, published from memory, and written once there is room. */
static void test_batch_refused_is_held_in_order(void **state)
{
	struct fx *f = *state;
	static char note[900];
	int i;

	memset(note, 'n', sizeof(note) - 1);
	/* fill the 1 MB database in batches of 10 until one is refused in its
	 * middle: the whole batch is undone and held, nothing of it lost */
	for (i = 0; i < 1000 && journal_n_held(f->j) == 0; i++) {
		int k;

		journal_batch_begin(f->j);
		for (k = 0; k < 10; k++)
			fault_event(f->j, note);
		journal_batch_end(f->j);
	}
	assert_true(journal_n_held(f->j) > 0);
	assert_true(journal_fault_open(f->j, GWEV_STORAGE_FAULT));
	/* what the store has and what is held cover every seq given out */
	assert_true(store_last_seq(f->st) + journal_n_held(f->j) >= journal_last_seq(f->j));
	{
		size_t held = journal_n_held(f->j);
		uint64_t last = journal_last_seq(f->j);

		journal_batch_begin(f->j); /* refused while events are held */
		fault_event(f->j, "x");
		journal_batch_end(f->j);
		assert_int_equal(journal_n_held(f->j), held + 1);
		assert_int_equal(journal_last_seq(f->j), last + 1);
	}
	/* every held event can go out from memory, in seq order */
	{
		uint64_t prev = 0;
		const struct outbox_item *it;
		size_t n = 0;

		while ((it = outbox_next(f->ob)) != NULL && n < 10000) {
			assert_true(it->seq > prev);
			prev = it->seq;
			n++;
		}
		assert_true(n >= journal_n_held(f->j));
	}
}

/* A stop with events held: the next start numbers above every seq that
 * may have gone out, and the storage fault is still open (no new 1624). */
static void test_restart_after_held(void **state)
{
	struct fx *f = *state;
	static char note[900];
	uint64_t top;
	int i;

	memset(note, 'n', sizeof(note) - 1);
	for (i = 0; i < 5000 && journal_n_held(f->j) == 0; i++)
		fault_event(f->j, note);
	assert_true(journal_n_held(f->j) > 0);
	top = journal_last_seq(f->j);
	close_all(f);
	open_all(f);
	assert_true(journal_last_seq(f->j) >= top);
	assert_true(journal_fault_open(f->j, GWEV_STORAGE_FAULT));
	/* a new event never takes a seq that may have been published */
	{
		uint64_t before = journal_last_seq(f->j);

		journal_fault_set(f->j, GWEV_STORAGE_FAULT, true, 0, NULL); /* already open */
		assert_int_equal(journal_last_seq(f->j), before);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batch_scheduled_once_durable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_refused_is_held_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_after_held, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
