/* test_ack.c - the acknowledgements of gateway/health.c (health_ack) with their real
 * collaborators (a config from a small YAML file, the site, a store on a
 * temporary file, the outbox, the journal): an ack's "by" is bounded to 64
 * bytes of text; a longer one, one with a control character or one that
 * is not a string is ignored and makes no record; 64 bytes make one. */
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
#include "health.h"
#include "journal.h"
#include "outbox.h"
#include "publish.h"
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
	health *h;
	char fault_id[160];
};

static int setup(void **state)
{
	struct store_opts so = {.create = true};
	struct journal_event e = {0};
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist el = {0};
	char path[PATH_MAX + 16], yaml[PATH_MAX + 512];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ack.XXXXXX");
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
	if (config_load(path, config_builtin_profile_dir(), &el, &f->c) < 0)
		errlist_print(&el, stderr);
	errlist_clear(&el);
	assert_non_null(f->c);
	assert_int_equal(site_init(&f->s, f->c, util_wall_ms()), 0);
	assert_int_equal(outbox_new(&f->ob), 0);
	assert_int_equal(journal_new(f->c, &f->s, f->ob, NULL, NULL, &f->j), 0);
	so.path = f->c->storage.path;
	so.max_mb = f->c->storage.max_mb;
	assert_int_equal(store_open(&so, &f->st), 0);
	journal_set_store(f->j, f->st);
	journal_load_marks(f->j, NULL);
	assert_int_equal(health_new(f->c, f->j, f->st, &f->h), 0);
	health_set_site(f->h, &f->s);

	/* a fault of a point: what the center acknowledges */
	e.cls = EVCLASS_FAULT;
	e.type = "sensor_fault";
	e.active = true;
	e.cid = "1380";
	e.dev = 0;
	e.pt = 0;
	e.threshold = NAN;
	e.prio = STORE_PRIO_FAULT;
	e.topic_kind = "fault";
	assert_int_equal(journal_emit(f->j, &e), 0);
	journal_last_event_id(f->j, f->fault_id, sizeof(f->fault_id));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	health_free(f->h);
	journal_free(f->j);
	store_free(f->st);
	outbox_free(f->ob);
	site_clear(&f->s);
	config_free(f->c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Feeds one ack payload; returns how many events it made (0 or 1). */
static uint64_t ack(struct fx *f, const char *payload)
{
	struct publish_note n = {.kind = PNOTE_MESSAGE};
	uint64_t before = journal_last_seq(f->j);

	n.payload = (void *)payload;
	n.len = strlen(payload);
	health_ack(f->h, &n);
	return journal_last_seq(f->j) - before;
}

static void test_ack_by_bounded(void **state)
{
	struct fx *f = *state;
	char by[80], payload[400];

	/* refused first: 65 bytes, a newline, not a string, empty, absent */
	memset(by, 'x', 65);
	by[65] = '\0';
	snprintf(payload, sizeof(payload), "{\"event_id\": \"%s\", \"by\": \"%s\"}", f->fault_id,
		 by);
	assert_int_equal(ack(f, payload), 0);
	snprintf(payload, sizeof(payload),
		 "{\"event_id\": \"%s\", \"by\": \"PC07\\nfiregw: crit: forged\"}", f->fault_id);
	assert_int_equal(ack(f, payload), 0);
	snprintf(payload, sizeof(payload), "{\"event_id\": \"%s\", \"by\": 7}", f->fault_id);
	assert_int_equal(ack(f, payload), 0);
	snprintf(payload, sizeof(payload), "{\"event_id\": \"%s\", \"by\": \"\"}", f->fault_id);
	assert_int_equal(ack(f, payload), 0);
	snprintf(payload, sizeof(payload), "{\"event_id\": \"%s\"}", f->fault_id);
	assert_int_equal(ack(f, payload), 0);
	/* exactly 64 bytes make a record */
	memset(by, 'x', 64);
	by[64] = '\0';
	snprintf(payload, sizeof(payload), "{\"event_id\": \"%s\", \"by\": \"%s\"}", f->fault_id,
		 by);
	assert_int_equal(ack(f, payload), 1);
	/* 22 x U+1EA0 (3 bytes each) = 66 bytes: refused, though 22 characters */
	{
		char *p = by;

		for (int i = 0; i < 22; i++) {
			memcpy(p, "\xe1\xba\xa0", 3);
			p += 3;
		}
		*p = '\0';
	}
	snprintf(payload, sizeof(payload), "{\"event_id\": \"%s\", \"by\": \"%s\"}", f->fault_id,
		 by);
	assert_int_equal(ack(f, payload), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ack_by_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
