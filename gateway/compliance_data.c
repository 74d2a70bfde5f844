/* compliance_data.c - gathers the compliance evaluation's input from the
 * store (compliance_data.h) and writes a result as the published JSON.
 * Runs on whichever thread owns the store handle it is given; it selects
 * the site's time zone (sitetime.h) to read record dates.
 *
 * Cost, bounded by the history and never by the readings: three walks of
 * events_class_ts (class record with payloads, class test and class fault
 * without), each up to at_ms. A year of a 250-point site (100 000 events)
 * gathers in tens of milliseconds (tests/bench, docs/compliance.md). */
#include "compliance_data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sitetime.h"
#include "util.h"

#define KEY_MAX 200

struct gather {
	struct comp_gathered *g;
	const struct config *c;
	const char *epoch;
	size_t cap_records, cap_faults, cap_disabled, cap_strs;
	/* faults and disablements open during the replay */
	struct open_run {
		char key[KEY_MAX];
		int64_t since_ms;
	} * open;
	size_t n_open, cap_open;
	/* the uplink */
	bool up;
	int64_t down_since, window_from, longest;
	bool clock_fault, storage_fault, storage_full;
	int err;
};

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static const char *keep_str(struct gather *ga, const char *s)
{
	char *d;

	if (grow((void **)&ga->g->strs, &ga->cap_strs, ga->g->n_strs, sizeof(char *)) < 0)
		return NULL;
	d = strdup(s);
	if (!d)
		return NULL;
	ga->g->strs[ga->g->n_strs++] = d;
	return d;
}

/* "<site>:<epoch>:<seq>" of this database: its seq, else 0. */
static uint64_t ref_seq(const struct gather *ga, const char *ref)
{
	size_t n = strlen(ga->c->site.id);
	long v;

	if (!ref || strncmp(ref, ga->c->site.id, n) != 0 || ref[n] != ':' ||
	    strncmp(ref + n + 1, ga->epoch, 8) != 0 || ref[n + 9] != ':')
		return 0;
	if (util_parse_long(ref + n + 10, 1, INT64_MAX > LONG_MAX ? LONG_MAX : (long)INT64_MAX,
			    &v) < 0)
		return 0;
	return (uint64_t)v;
}

static int record_cb(void *ud, const struct store_class_row *row)
{
	struct gather *ga = ud;
	struct comp_gathered *g = ga->g;
	enum comp_record_kind k = compliance_record_kind(row->type);
	const char *result, *date, *ref;
	struct comp_record *r;
	json_t *o;
	int64_t date_ms;

	if (k == COMP_REC_INVALID)
		return 0; /* reset, ack: not an obligation */
	o = json_loadb(row->payload, row->payload_len, 0, NULL);
	if (!o)
		return 0; /* unreadable payload: it shows in `firegw verify` */
	result = json_string_value(json_object_get(o, "result"));
	date = json_string_value(json_object_get(o, "date"));
	ref = json_string_value(json_object_get(o, "ref"));
	if (!ref)
		ref = row->ref;
	if (!date || sitetime_parse_date(date, &date_ms) < 0)
		date_ms = row->ts_ms; /* no date: the day it was entered */
	if (grow((void **)&g->records, &ga->cap_records, g->n_records, sizeof(*g->records)) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	r = &g->records[g->n_records++];
	*r = (struct comp_record){
	    .kind = k,
	    .date_ms = date_ms,
	    .entered_ms = row->ts_ms,
	    .pass = result && strcmp(result, "pass") == 0,
	    .seq = row->seq,
	    .corrects_seq = ref_seq(ga, ref),
	};
	json_decref(o);
	return 0;
}

static int point_cmp(const void *a, const void *b)
{
	return strcmp(((const struct comp_point *)a)->key, ((const struct comp_point *)b)->key);
}

static struct comp_point *find_point(struct comp_gathered *g, const char *device, const char *point)
{
	char key[KEY_MAX];
	struct comp_point probe = {.key = key};

	if (!point)
		return NULL;
	snprintf(key, sizeof(key), "%s.%s", device, point);
	return bsearch(&probe, g->points, g->n_points, sizeof(*g->points), point_cmp);
}

static int created_cb(void *ud, const char *key, int64_t created_ms)
{
	struct gather *ga = ud;
	struct comp_point probe = {.key = key}, *p;

	p = bsearch(&probe, ga->g->points, ga->g->n_points, sizeof(*p), point_cmp);
	if (p && created_ms > 0)
		p->first_seen_ms = created_ms;
	return 0;
}

static int test_cb(void *ud, const struct store_class_row *row)
{
	struct gather *ga = ud;
	struct comp_point *p;

	if (strcmp(row->type, "point_tested") != 0)
		return 0;
	p = find_point(ga->g, row->device, row->point);
	if (p)
		p->last_tested_ms = row->ts_ms;
	return 0;
}

static void uplink_event(struct gather *ga, bool active, int64_t ts)
{
	int64_t from;

	if (active) {
		if (ga->up) {
			ga->up = false;
			ga->down_since = ts;
		}
		return;
	}
	if (ga->up)
		return;
	ga->up = true;
	from = ga->down_since > ga->window_from ? ga->down_since : ga->window_from;
	if (ts - from > ga->longest)
		ga->longest = ts - from;
}

/* One fault-class event of the replay (or an open run found by index
 * seeks, as its first active event): point NULL or "" for the gateway's. */
static int fault_event(struct gather *ga, const char *device, const char *point, const char *type,
		       bool active, int64_t ts, bool uplink)
{
	char key[KEY_MAX];
	size_t i;

	if (point && !point[0])
		point = NULL;

	if (strcmp(device, "gateway") == 0 && !point) {
		if (strcmp(type, "uplink_lost") == 0) {
			if (uplink)
				uplink_event(ga, active, ts);
			return 0;
		}
		if (strcmp(type, "clock") == 0) {
			ga->clock_fault = active;
			return 0;
		}
		if (strcmp(type, "storage_fault") == 0) {
			ga->storage_fault = active;
			return 0;
		}
		if (strcmp(type, "storage_full") == 0) {
			ga->storage_full = active;
			return 0;
		}
		snprintf(key, sizeof(key), "gateway:%s", type);
	} else {
		/* a device that left the configuration has no open faults */
		if (config_device_index(ga->c, device) < 0)
			return 0;
		if (strcmp(type, "disabled") == 0)
			snprintf(key, sizeof(key), "disabled|%s.%s", device, point ? point : "*");
		else
			snprintf(key, sizeof(key), "%s.%s:%s", device, point ? point : "*", type);
	}
	for (i = 0; i < ga->n_open; i++)
		if (strcmp(ga->open[i].key, key) == 0)
			break;
	if (active) {
		if (i < ga->n_open)
			return 0; /* still open (a daily repeat): since stays */
		if (grow((void **)&ga->open, &ga->cap_open, ga->n_open, sizeof(*ga->open)) < 0)
			return -ENOMEM;
		util_strlcpy(ga->open[ga->n_open].key, key, KEY_MAX);
		ga->open[ga->n_open].since_ms = ts;
		ga->n_open++;
	} else if (i < ga->n_open) {
		ga->open[i] = ga->open[--ga->n_open];
	}
	return 0;
}

static int fault_cb(void *ud, const struct store_class_row *row)
{
	return fault_event(ud, row->device, row->point, row->type,
			   strcmp(row->state, "active") == 0, row->ts_ms, true);
}

static int run_cb(void *ud, const char *device, const char *point, const char *type,
		  int64_t since_ms)
{
	return fault_event(ud, device, point, type, true, since_ms, false);
}

static int uplink_cb(void *ud, bool active, int64_t ts_ms)
{
	uplink_event(ud, active, ts_ms);
	return 0;
}

static int add_open(struct gather *ga, const struct open_run *o)
{
	struct comp_gathered *g = ga->g;
	bool dis = strncmp(o->key, "disabled|", 9) == 0;
	const char *k = keep_str(ga, dis ? o->key + 9 : o->key);

	if (!k)
		return -ENOMEM;
	if (dis) {
		if (grow((void **)&g->disabled, &ga->cap_disabled, g->n_disabled,
			 sizeof(*g->disabled)) < 0)
			return -ENOMEM;
		g->disabled[g->n_disabled++] = (struct comp_open){k, o->since_ms};
	} else {
		if (grow((void **)&g->faults, &ga->cap_faults, g->n_faults, sizeof(*g->faults)) < 0)
			return -ENOMEM;
		g->faults[g->n_faults++] = (struct comp_open){k, o->since_ms};
	}
	return 0;
}

static int open_cmp(const void *a, const void *b)
{
	const struct open_run *x = a, *y = b;

	if (x->since_ms != y->since_ms)
		return x->since_ms < y->since_ms ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int gather_points(struct gather *ga, int64_t created)
{
	const struct config *c = ga->c;
	struct comp_gathered *g = ga->g;
	size_t d, p, n = 0;
	char key[KEY_MAX];

	for (d = 0; d < c->n_devices; d++)
		for (p = 0; p < c->devices[d].n_points; p++)
			n += c->devices[d].points[p].enabled;
	g->points = calloc(n ? n : 1, sizeof(*g->points));
	if (!g->points)
		return -ENOMEM;
	for (d = 0; d < c->n_devices; d++)
		for (p = 0; p < c->devices[d].n_points; p++) {
			if (!c->devices[d].points[p].enabled)
				continue;
			snprintf(key, sizeof(key), "%s.%s", c->devices[d].id,
				 c->devices[d].points[p].name);
			g->points[g->n_points].key = keep_str(ga, key);
			if (!g->points[g->n_points].key)
				return -ENOMEM;
			g->points[g->n_points].first_seen_ms = created;
			g->n_points++;
		}
	qsort(g->points, g->n_points, sizeof(*g->points), point_cmp);
	return 0;
}

int compliance_gather(store *s, const struct config *c, int64_t at_ms, int64_t window_ms,
		      struct comp_gathered **ret)
{
	struct gather ga = {0};
	struct comp_gathered *g;
	int64_t created = 0;
	size_t i;
	int r;

	if (!s || !c || !ret)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	ga.g = g;
	ga.c = c;
	ga.epoch = store_epoch(s);
	ga.up = true;
	ga.window_from = at_ms - (window_ms > 0 ? window_ms : COMPLIANCE_OUTAGE_WINDOW_MS);
	g->at_ms = at_ms;
	sitetime_use(c->site.timezone);

	r = store_created_ms(s, &created);
	if (r < 0)
		goto out_free;
	r = gather_points(&ga, created);
	if (r < 0)
		goto out_free;
	r = store_point_created_foreach(s, created_cb, &ga);
	if (r < 0)
		goto out_free;
	r = store_class_scan(s, "record", 0, at_ms + 1, true, record_cb, &ga);
	if (r < 0)
		goto out_free;
	r = store_class_scan(s, "test", 0, at_ms + 1, false, test_cb, &ga);
	if (r < 0)
		goto out_free;
	/* the open runs by index seeks (schema v4), the uplink's events by its
	 * key; a database older than events_key opened read-only: one walk */
	r = store_open_runs_at(s, "fault", at_ms, run_cb, &ga);
	if (r == 0)
		r = store_key_events(s, "fault", "gateway", NULL, "uplink_lost", 0, at_ms + 1,
				     uplink_cb, &ga);
	if (r == -ENOTSUP) {
		ga.n_open = 0;
		ga.up = true;
		ga.longest = 0;
		ga.clock_fault = ga.storage_fault = ga.storage_full = false;
		r = store_class_scan(s, "fault", 0, at_ms + 1, false, fault_cb, &ga);
	}
	if (r < 0)
		goto out_free;
	/* oldest first: the reason names the oldest, and the order is stable */
	if (ga.n_open) /* qsort's base must not be NULL, even for 0 items */
		qsort(ga.open, ga.n_open, sizeof(*ga.open), open_cmp);
	for (i = 0; i < ga.n_open; i++) {
		r = add_open(&ga, &ga.open[i]);
		if (r < 0)
			goto out_free;
	}
	if (!ga.up) {
		/* down at at_ms: the outage so far counts in the window */
		int64_t from = ga.down_since > ga.window_from ? ga.down_since : ga.window_from;

		if (at_ms - from > ga.longest)
			ga.longest = at_ms - from;
	}
	r = store_chain_head(s, &g->head);
	if (r < 0)
		memset(&g->head, 0, sizeof(g->head)); /* a pre-chain database: no head */

	g->in = (struct comp_input){
	    .ob = &c->compliance,
	    .now_ms = at_ms,
	    .since_ms = created,
	    .records = g->records,
	    .n_records = g->n_records,
	    .points = g->points,
	    .n_points = g->n_points,
	    .faults = g->faults,
	    .n_faults = g->n_faults,
	    .disabled = g->disabled,
	    .n_disabled = g->n_disabled,
	    .uplink_up = ga.up,
	    .uplink_down_since_ms = ga.up ? 0 : ga.down_since,
	    .longest_outage_ms = ga.longest,
	    .clock_synced = !ga.clock_fault,
	    .storage_fault = ga.storage_fault,
	    .storage_full = ga.storage_full,
	    .utc_offset_s = sitetime_offset_s(at_ms),
	};
	free(ga.open);
	*ret = g;
	return 0;

out_free:
	free(ga.open);
	compliance_gathered_free(g);
	return r;
}

void compliance_gathered_free(struct comp_gathered *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->n_strs; i++)
		free(g->strs[i]);
	free(g->strs);
	free(g->records);
	free(g->points);
	free(g->faults);
	free(g->disabled);
	free(g);
}

static json_t *ts_or_null(int64_t ms)
{
	char ts[UTIL_TS_LEN];

	return ms ? json_string(util_rfc3339(ms, ts)) : json_null();
}

json_t *compliance_to_json(const struct config *c, const struct comp_gathered *g,
			   const struct comp_result *res, bool time_synced)
{
	char hex[2 * STORE_HASH_LEN + 1];
	json_t *o = json_object(), *items = json_object();
	int i;

	if (!o || !items) {
		json_decref(o);
		json_decref(items);
		return NULL;
	}
	json_object_set_new(o, "schema", json_string(COMPLIANCE_SCHEMA));
	json_object_set_new(o, "site", json_string(c->site.id));
	if (c->site.facility_id[0])
		json_object_set_new(o, "facility_id", json_string(c->site.facility_id));
	json_object_set_new(o, "ts", ts_or_null(g->at_ms));
	json_object_set_new(o, "time_synced", json_boolean(time_synced));
	json_object_set_new(o, "overall", json_string(compliance_overall_name(res->overall)));
	for (i = 0; i < COMP_ITEM_MAX; i++) {
		const struct comp_item_result *it = &res->items[i];

		json_object_set_new(items, compliance_item_name((enum comp_item)i),
				    json_pack("{s:s, s:o, s:o, s:i, s:s}", "status",
					      compliance_status_name(it->status), "last",
					      ts_or_null(it->last_ms), "due",
					      ts_or_null(it->due_ms), "count", it->count, "reason",
					      it->reason));
	}
	json_object_set_new(o, "items", items);
	json_object_set_new(o, "chain",
			    json_pack("{s:I, s:s}", "seq", (json_int_t)g->head.seq, "sha256",
				      store_hash_hex(g->head.hash, hex)));
	return o;
}
