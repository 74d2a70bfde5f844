/* outbox.c - in-memory delivery scheduler over the SQLite outbox.
 *
 * Each order key (an alarm point) has a FIFO of entries in seq order, of
 * which the first `sent` are in flight. A key competes with the priority of
 * the most urgent entry it has waiting (a count per priority makes that
 * O(1)), but always sends its entries in order: a new alarm queued behind
 * its own point's cleared event pulls that event ahead of every other
 * point's faults, and both go before them, in order (SPEC §3: alarm first,
 * the events of one point never reordered). Among keys, the lowest
 * (priority, seq of the next entry, row) goes first: a linear scan over the
 * keys, cheap for the few hundred points of a site.
 *
 * Owned and called by the main loop only. */
#include "outbox.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PRIOS 16 /* priorities counted; larger ones count as the last */

struct okey {
	char *name;
	struct outbox_item *items; /* ring of cap entries from head */
	size_t head, n, cap;
	size_t sent;               /* items[0..sent) are in flight */
	size_t waiting[PRIOS];     /* unsent entries per priority */
};

struct outbox {
	struct okey *keys;
	size_t n_keys, cap_keys;
	size_t pending, inflight;
};

static struct outbox_item *okey_at(struct okey *k, size_t i)
{
	return &k->items[(k->head + i) % k->cap];
}

static int prio_slot(int prio)
{
	return prio < 0 ? 0 : prio >= PRIOS ? PRIOS - 1 : prio;
}

/* The priority a key competes with: its most urgent waiting entry. */
static int okey_prio(const struct okey *k)
{
	int p;

	for (p = 0; p < PRIOS; p++)
		if (k->waiting[p])
			return p;
	return INT_MAX;
}

int outbox_new(outbox **ret)
{
	outbox *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

static void item_clear(struct outbox_item *it)
{
	free(it->topic);
	free(it->payload);
	it->topic = NULL;
	it->payload = NULL;
}

void outbox_free(outbox *o)
{
	size_t i, j;

	if (!o)
		return;
	for (i = 0; i < o->n_keys; i++) {
		for (j = 0; j < o->keys[i].n; j++)
			item_clear(okey_at(&o->keys[i], j));
		free(o->keys[i].items);
		free(o->keys[i].name);
	}
	free(o->keys);
	free(o);
}

void outbox_clear(outbox *o)
{
	size_t i, j;

	for (i = 0; i < o->n_keys; i++) {
		struct okey *k = &o->keys[i];

		for (j = 0; j < k->n; j++)
			item_clear(okey_at(k, j));
		k->head = k->n = k->sent = 0;
		memset(k->waiting, 0, sizeof(k->waiting));
	}
	o->pending = o->inflight = 0;
}

int outbox_key(outbox *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->n_keys; i++)
		if (strcmp(o->keys[i].name, name) == 0)
			return (int)i;
	if (o->n_keys == o->cap_keys) {
		size_t cap = o->cap_keys ? o->cap_keys * 2 : 64;
		struct okey *k = realloc(o->keys, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		o->keys = k;
		o->cap_keys = cap;
	}
	memset(&o->keys[o->n_keys], 0, sizeof(o->keys[0]));
	o->keys[o->n_keys].name = strdup(name);
	if (!o->keys[o->n_keys].name)
		return -ENOMEM;
	return (int)o->n_keys++;
}

int outbox_add(outbox *o, const struct outbox_item *it)
{
	struct okey *k;

	if (it->key < 0 || (size_t)it->key >= o->n_keys)
		return -EINVAL;
	k = &o->keys[it->key];
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8, i;
		struct outbox_item *items = malloc(cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		for (i = 0; i < k->n; i++)
			items[i] = *okey_at(k, i);
		free(k->items);
		k->items = items;
		k->head = 0;
		k->cap = cap;
	}
	*okey_at(k, k->n) = *it;
	k->n++;
	k->waiting[prio_slot(it->prio)]++;
	o->pending++;
	return 0;
}

const struct outbox_item *outbox_next(outbox *o)
{
	struct okey *best_key = NULL;
	struct outbox_item *best = NULL;
	int best_prio = INT_MAX;
	size_t i;

	if (o->pending == 0)
		return NULL;
	for (i = 0; i < o->n_keys; i++) {
		struct okey *k = &o->keys[i];
		struct outbox_item *cand;
		int p;

		if (k->sent == k->n)
			continue;
		p = okey_prio(k);
		cand = okey_at(k, k->sent);
		if (!best || p < best_prio ||
		    (p == best_prio && (cand->seq < best->seq ||
					(cand->seq == best->seq && cand->row_id < best->row_id)))) {
			best = cand;
			best_key = k;
			best_prio = p;
		}
	}
	if (!best)
		return NULL;
	best_key->waiting[prio_slot(best->prio)]--;
	best_key->sent++;
	o->pending--;
	o->inflight++;
	return best;
}

void outbox_unsend(outbox *o, uint64_t tag)
{
	size_t i;

	for (i = 0; i < o->n_keys; i++) {
		struct okey *k = &o->keys[i];
		struct outbox_item *it;

		if (k->sent == 0)
			continue;
		it = okey_at(k, k->sent - 1);
		if (it->tag == tag) {
			k->waiting[prio_slot(it->prio)]++;
			k->sent--;
			o->pending++;
			o->inflight--;
			return;
		}
	}
}

int outbox_acked(outbox *o, uint64_t tag, int64_t *ret_row_id, uint64_t *ret_seq)
{
	size_t i, j;

	for (i = 0; i < o->n_keys; i++) {
		struct okey *k = &o->keys[i];

		for (j = 0; j < k->sent; j++) {
			struct outbox_item *it = okey_at(k, j);

			if (it->tag != tag)
				continue;
			if (ret_row_id)
				*ret_row_id = it->row_id;
			if (ret_seq)
				*ret_seq = it->seq;
			item_clear(it);
			if (j == 0) {
				/* PUBACKs of one key come in order: the usual case
				 * costs nothing however long the backlog */
				k->head = (k->head + 1) % k->cap;
			} else {
				for (; j + 1 < k->n; j++)
					*okey_at(k, j) = *okey_at(k, j + 1);
			}
			k->n--;
			k->sent--;
			o->inflight--;
			if (k->n == 0)
				k->head = 0;
			return 0;
		}
	}
	return -ENOENT;
}

void outbox_requeue_all(outbox *o)
{
	size_t i, j;

	for (i = 0; i < o->n_keys; i++) {
		struct okey *k = &o->keys[i];

		for (j = 0; j < k->sent; j++)
			k->waiting[prio_slot(okey_at(k, j)->prio)]++;
		o->pending += k->sent;
		o->inflight -= k->sent;
		k->sent = 0;
	}
}

int outbox_set_row(outbox *o, uint64_t seq, int64_t row_id)
{
	size_t i, j;

	for (i = 0; i < o->n_keys; i++)
		for (j = 0; j < o->keys[i].n; j++) {
			struct outbox_item *it = okey_at(&o->keys[i], j);

			if (it->row_id == 0 && it->seq == seq) {
				it->row_id = row_id;
				item_clear(it);
				return 0;
			}
		}
	return -ENOENT;
}

int outbox_foreach_unstored(outbox *o, int (*cb)(void *ud, const struct outbox_item *it), void *ud)
{
	const struct outbox_item *prev = NULL;

	/* few entries are ever unstored (only while the disk is full): a
	 * repeated scan for the next in seq order keeps this simple */
	for (;;) {
		const struct outbox_item *next = NULL;
		size_t i, j;
		int r;

		for (i = 0; i < o->n_keys; i++)
			for (j = 0; j < o->keys[i].n; j++) {
				const struct outbox_item *it = okey_at(&o->keys[i], j);

				if (it->row_id != 0)
					continue;
				if (prev && (it->seq < prev->seq ||
					     (it->seq == prev->seq && it <= prev)))
					continue;
				if (!next || it->seq < next->seq ||
				    (it->seq == next->seq && it < next))
					next = it;
			}
		if (!next)
			return 0;
		prev = next;
		r = cb(ud, next);
		if (r)
			return r;
	}
}

size_t outbox_pending(const outbox *o)
{
	return o->pending;
}

size_t outbox_inflight(const outbox *o)
{
	return o->inflight;
}

size_t outbox_count(const outbox *o)
{
	return o->pending + o->inflight;
}

int outbox_best_prio(const outbox *o)
{
	int best = INT_MAX;
	size_t i;

	for (i = 0; i < o->n_keys; i++) {
		int p = okey_prio(&o->keys[i]);

		if (p < best)
			best = p;
	}
	return best;
}
