/* outbox.c - in-memory delivery scheduler over the SQLite outbox. Each
 * order key (alarm point) has a FIFO of entries in seq order, of which the
 * first `sent` are in flight. The next entry to send is the best (prio,
 * seq) among the keys' first unsent entries: a linear scan over the keys
 * that have unsent entries, cheap for the few hundred points of a site.
 * Owned and called by the main loop only. */
#include "outbox.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct okey {
	char *name;
	struct outbox_item *items; /* ring of cap entries from head */
	size_t head, n, cap;
	size_t sent;               /* items[0..sent) are in flight */
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
	o->pending++;
	return 0;
}

static bool better(const struct outbox_item *a, const struct outbox_item *b)
{
	if (!b || a->prio != b->prio)
		return !b || a->prio < b->prio;
	if (a->seq != b->seq)
		return a->seq < b->seq;
	return a->row_id < b->row_id;
}

const struct outbox_item *outbox_next(outbox *o)
{
	struct okey *best_key = NULL;
	struct outbox_item *best = NULL;
	size_t i;

	if (o->pending == 0)
		return NULL;
	for (i = 0; i < o->n_keys; i++) {
		struct okey *k = &o->keys[i];
		struct outbox_item *cand;

		if (k->sent == k->n)
			continue;
		cand = okey_at(k, k->sent);
		if (better(cand, best)) {
			best = cand;
			best_key = k;
		}
	}
	if (!best)
		return NULL;
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

		if (k->sent > 0 && okey_at(k, k->sent - 1)->tag == tag) {
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
			/* PUBACKs of one key come in order, so j is almost always 0 */
			for (; j + 1 < k->n; j++)
				*okey_at(k, j) = *okey_at(k, j + 1);
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
	size_t i;

	for (i = 0; i < o->n_keys; i++) {
		o->pending += o->keys[i].sent;
		o->inflight -= o->keys[i].sent;
		o->keys[i].sent = 0;
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
	uint64_t last = 0;

	/* few entries are ever unstored (only while the disk is full): a
	 * repeated scan for the next seq keeps this simple */
	for (;;) {
		const struct outbox_item *next = NULL;
		size_t i, j;
		int r;

		for (i = 0; i < o->n_keys; i++)
			for (j = 0; j < o->keys[i].n; j++) {
				const struct outbox_item *it = okey_at(&o->keys[i], j);

				if (it->row_id == 0 && it->seq > last && (!next || it->seq < next->seq))
					next = it;
			}
		if (!next)
			return 0;
		last = next->seq;
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
		const struct okey *k = &o->keys[i];

		if (k->sent < k->n) {
			int p = k->items[(k->head + k->sent) % k->cap].prio;

			if (p < best)
				best = p;
		}
	}
	return best;
}
