/* recovery.c - start-up after a stop of any kind (SPEC §5): the database
 * opened, or moved aside when corrupt and replaced by a new one (a new
 * epoch); after an unclean stop the integrity check, and the salvage of the
 * events a corrupt database still had to send, byte for byte; the points'
 * stored states restored; the outbox loaded into the scheduler. Main loop,
 * at start-up (the integrity check runs while the buses are already
 * polled). */
#include "recovery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Renames the database and its -wal/-shm aside, so a new one can start;
 * the old file stays for the record (and for a forensic look). */
static int move_aside(const char *path, char *aside, size_t len)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	char from[600], to[600];
	size_t i;

	snprintf(aside, len, "%s.corrupt-%" PRId64, path, util_wall_ms());
	if (rename(path, aside) < 0)
		return -errno;
	for (i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(from, sizeof(from), "%s%s", path, suffixes[i]);
		snprintf(to, sizeof(to), "%s%s", aside, suffixes[i]);
		if (rename(from, to) < 0 && errno != ENOENT)
			log_warning("cannot move '%s' aside: %s", from, strerror(errno));
	}
	return 0;
}

struct salvage {
	int64_t id;
	int prio;
	char key[STORE_KEY_MAX];
};

struct salvage_list {
	struct salvage *v;
	size_t n, cap;
};

static int salvage_cb(void *ud, const struct store_outbox_row *row)
{
	struct salvage_list *l = ud;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct salvage *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n].id = row->id;
	l->v[l->n].prio = row->prio;
	util_strlcpy(l->v[l->n].key, row->order_key, sizeof(l->v[0].key));
	l->n++;
	return 0;
}


int recovery_open(const struct config *c, store **ret, char *note, size_t len)
{
	struct store_opts so = {
		.path = c->storage.path,
		.max_mb = c->storage.max_mb,
		.create = true,
	};
	char aside[600];
	int r;

	note[0] = '\0';
	r = store_open(&so, ret);
	if (r == -EBADMSG) {
		r = move_aside(so.path, aside, sizeof(aside));
		if (r < 0) {
			log_error("database '%s' is corrupt and cannot be moved aside: %s; "
				  "move or delete it by hand",
				  so.path, strerror(-r));
			return r;
		}
		log_error("database '%s' is corrupt; moved aside to '%s', starting a new one",
			  so.path, aside);
		r = store_open(&so, ret);
		if (r == 0)
			snprintf(note, len,
				 "corrupt database moved aside to '%s'; new database, new epoch %s",
				 aside, store_epoch(*ret));
	}
	if (r < 0)
		log_error("cannot open database '%s': %s; check storage.path and its directory",
			  so.path, strerror(-r));
	return r;
}

struct restore_ctx {
	struct site *site;
	void (*removed)(void *ud, const char *dev);
	void *ud;
};

static int restore_cb(void *ud, const struct store_point_state *ps)
{
	struct restore_ctx *rc = ud;
	char dev[CONFIG_ID_MAX + 1];

	if (site_restore(rc->site, ps, dev, sizeof(dev)) == -ENODEV && rc->removed)
		rc->removed(rc->ud, dev);
	return 0;
}

int recovery_restore(store *st, struct site *s, void (*removed)(void *ud, const char *dev),
		     void *ud)
{
	struct restore_ctx rc = { .site = s, .removed = removed, .ud = ud };
	size_t i, j;
	int r;

	r = store_point_state_foreach(st, restore_cb, &rc);
	if (r < 0)
		log_error("cannot read the stored point states: %s; points start unknown",
			  strerror(-r));
	/* every configured point gets its row at once: that is also how a
	 * device removed from the configuration later is recognised */
	for (i = 0; i < s->cfg->n_devices; i++)
		for (j = 0; j < s->cfg->devices[i].n_points; j++)
			if (!s->devs[i].points[j].stored)
				site_point_save(s, st, (int)i, (int)j);
	for (i = 0; i < s->cfg->n_devices; i++)
		site_update_device(s, (int)i, util_wall_ms());
	return r;
}

struct load_ctx {
	outbox *ob;
	int r;
};

static int load_outbox_cb(void *ud, const struct store_outbox_row *row)
{
	struct load_ctx *lc = ud;
	struct outbox_item it = {
		.seq = row->seq, .prio = row->prio, .row_id = row->id, .tag = (uint64_t)row->id
	};

	it.key = outbox_key(lc->ob, row->order_key[0] ? row->order_key : "gateway");
	if (it.key < 0 || outbox_add(lc->ob, &it) < 0) {
		lc->r = -ENOMEM;
		return 1;
	}
	return 0;
}

int recovery_load_outbox(store *st, outbox *ob)
{
	struct load_ctx lc = { .ob = ob };
	int r;

	r = store_outbox_foreach(st, 0, STORE_PRIO_TELEMETRY - 1, 0, 0, load_outbox_cb, &lc);
	return r < 0 ? r : lc.r;
}

int recovery_after_unclean(const struct config *c, store **st, outbox *ob, char *note,
			   size_t len)
{
	struct store_opts so = {
		.path = c->storage.path,
		.max_mb = c->storage.max_mb,
		.create = true,
	};
	struct salvage_list l = { 0 };
	struct store_chain_head old_head;
	char aside[600], origin[200] = "", old_hex[2 * STORE_HASH_LEN + 1];
	size_t i, saved = 0;
	store *fresh;
	int r;

	note[0] = '\0';
	log_notice("previous stop was unclean; checking database '%s'", so.path);
	r = store_integrity_check(*st);
	if (r != -EBADMSG) {
		if (r == 0)
			log_notice("database '%s' passed its integrity check", so.path);
		return 0;
	}
	store_outbox_foreach(*st, 0, STORE_PRIO_TELEMETRY - 1, 0, 0, salvage_cb, &l);
	r = move_aside(so.path, aside, sizeof(aside));
	if (r < 0) {
		log_error("database '%s' is corrupt and cannot be moved aside (%s); going on with it",
			  so.path, strerror(-r));
		free(l.v);
		return 0;
	}
	r = store_open(&so, &fresh);
	if (r < 0) {
		log_error("cannot create a new database at '%s': %s", so.path, strerror(-r));
		free(l.v);
		return r;
	}
	/* the new chain names where the old one ended, as far as it could be
	 * read (SPEC §5 tamper evidence) */
	if (store_chain_head(*st, &old_head) == 0 &&
	    store_chain_set_origin(fresh, store_epoch(*st), &old_head) == 0) {
		store_hash_hex(old_head.hash, old_hex);
		snprintf(origin, sizeof(origin), "; the new chain starts from epoch %s head %" PRIu64
			 ":%s", store_epoch(*st), old_head.seq, old_hex);
	}
	for (i = 0; i < l.n; i++) {
		char *topic = NULL;
		void *payload = NULL;
		size_t plen;

		if (store_outbox_get(*st, l.v[i].id, &topic, &payload, &plen) == 0 &&
		    store_outbox_add(fresh, STORE_DEST_MQTT, topic, payload, plen, 1, false,
				     l.v[i].prio, l.v[i].key, NULL) == 0)
			saved++;
		free(topic);
		free(payload);
	}
	free(l.v);
	store_free(*st);
	*st = fresh;
	/* the scheduler now follows the new database's outbox */
	outbox_clear(ob);
	r = recovery_load_outbox(fresh, ob);
	if (r < 0)
		return r;
	snprintf(note, len,
		 "corrupt database moved aside to '%s' (%zu of %zu unsent events carried over); "
		 "new epoch %s%s",
		 aside, saved, l.n, store_epoch(fresh), origin);
	log_error("%s", note);
	return 1;
}
