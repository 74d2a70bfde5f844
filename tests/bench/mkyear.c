/* mkyear.c - writes a year of a premises into a firegw database, exactly
 * as the daemon writes it (store_commit_event with event_payload payloads,
 * stored only: no outbox rows), for the inspectors' commands' tests, the
 * example report and the bench. The devices and points are those of the
 * configuration given (its storage.path is the database).
 *
 * The year (site time zone, year Y):
 * - monitoring began Y-01-01; a daily periodic test (1602);
 * - system tests passed Y-01-15 and Y-07-10; the last maintenance, dated
 *   (Y-2)-06-01 from a paper logbook, entered Y-01-05 ("entered later"),
 *   none after: overdue from Y-06-01;
 * - a self-inspection on the 10th of every month but May;
 * - a police inspection Y-03-20 entered as failed, corrected Y-03-22 by a
 *   record naming it (--ref) that says pass;
 * - test mode on every device Y-02-12 and Y-08-12: each point tested
 *   (1611), except the second configured point, never tested (1612);
 * - the first point's comm_loss left open nine days (Y-04-01..Y-04-10);
 * - the third point disabled Y-09-01..Y-09-05 (1571 repeated daily);
 * - three fire alarms (Y-03-05 real, Y-06-12 unwanted, Y-10-20 no verdict)
 *   with acks, two pre-alarms, one uplink outage of two hours (Y-05-03);
 * - --events N: comm_loss flaps of 30 s spread over the year until the
 *   database holds N events; --readings N: readings rows (1 per minute per
 *   device, cycling), written in bulk;
 * - compliance_history: the status evaluated every --every-days days
 *   (default 1) at local noon, as the daemon publishes it at least daily.
 *
 * Usage: mkyear -c CONFIG [--year Y] [--events N] [--readings N]
 *        [--every-days D]. Prints "mkyear: events=N readings=M ms=T".
 * Single-threaded; the daemon must not run on that database. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance_data.h"
#include "config.h"
#include "event.h"
#include "sitetime.h"
#include "store.h"
#include "util.h"

struct gen {
	int64_t ts;
	enum event_class cls;
	const char *type;
	bool active;
	char cid[5];
	int dev, pt; /* -1: gateway / device-level */
	const char *by, *note, *result, *verdict;
	char date[24];
	int id;	     /* the order it was generated in */
	int ref_idx; /* id of the generated event it refers to, -1 */
	uint64_t seq;
	uint32_t causes;
};

static struct gen *gens;
static size_t n_gens, cap_gens;
static int year = 2026;

static struct gen *add(int64_t ts, enum event_class cls, const char *type, bool active,
		       const char *cid, int dev, int pt)
{
	struct gen *g;

	if (n_gens == cap_gens) {
		cap_gens = cap_gens ? cap_gens * 2 : 1024;
		gens = realloc(gens, cap_gens * sizeof(*gens));
		if (!gens) {
			fprintf(stderr, "mkyear: out of memory\n");
			exit(1);
		}
	}
	g = &gens[n_gens++];
	memset(g, 0, sizeof(*g));
	g->ts = ts;
	g->cls = cls;
	g->type = type;
	g->active = active;
	if (cid)
		util_strlcpy(g->cid, cid, sizeof(g->cid));
	g->dev = dev;
	g->pt = pt;
	g->ref_idx = -1;
	g->id = (int)(n_gens - 1);
	return g;
}

/* Local y-m-d at h:mi. */
static int64_t at(int m, int d, int h, int mi)
{
	int64_t ms = 0;

	if (sitetime_local_ms(year, m, d, &ms) < 0)
		abort();
	return ms + ((int64_t)h * 3600 + mi * 60) * 1000;
}

static struct gen *record(int64_t entered, const char *kind, const char *date, const char *result,
			  const char *by, const char *note)
{
	struct gen *g = add(entered, EVCLASS_RECORD, kind, true, NULL, -1, -1);

	util_strlcpy(g->date, date, sizeof(g->date));
	g->result = result;
	g->by = by;
	g->note = note;
	return g;
}

static int gen_cmp(const void *a, const void *b)
{
	const struct gen *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->id - y->id;
}

struct pt {
	int dev, pt;
};

/* The status as the daemon publishes it at t: evaluated from the history
 * stored by then, with the chain head of then. */
static int publish(store *s, const struct config *c, int64_t t)
{
	struct comp_gathered *g = NULL;
	struct comp_result res;
	json_t *o;
	char *txt;

	if (compliance_gather(s, c, t, 0, &g) < 0 || compliance_evaluate(&g->in, &res) < 0)
		return -1;
	o = compliance_to_json(c, g, &res, true);
	txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	store_compliance_append(s, t, compliance_overall_name(res.overall), true, txt, strlen(txt));
	free(txt);
	json_decref(o);
	compliance_gathered_free(g);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cfg_path = NULL;
	long events = 0, readings = 0, every = 1, v;
	struct errlist errs = {0};
	struct config *c = NULL;
	struct store_opts so = {.create = true};
	struct pt *pts = NULL;
	size_t n_pts = 0, i, d, p;
	uint64_t t0 = util_mono_ms();
	store *s = NULL;
	int k, r;
	char date[24];

	for (k = 1; k < argc; k++) {
		const char *a = argv[k], *val = k + 1 < argc ? argv[k + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			printf("usage: mkyear -c CONFIG [--year Y] [--events N] [--readings N] "
			       "[--every-days D]\n");
			return 0;
		}
		if (!val) {
			fprintf(stderr, "mkyear: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "-c") == 0)
			cfg_path = val;
		else if (strcmp(a, "--year") == 0 && util_parse_long(val, 2000, 2100, &v) == 0)
			year = (int)v;
		else if (strcmp(a, "--events") == 0 && util_parse_long(val, 0, 10000000, &v) == 0)
			events = v;
		else if (strcmp(a, "--readings") == 0 &&
			 util_parse_long(val, 0, 100000000, &v) == 0)
			readings = v;
		else if (strcmp(a, "--every-days") == 0 && util_parse_long(val, 1, 366, &v) == 0)
			every = v;
		else {
			fprintf(stderr, "mkyear: bad option '%s %s'\n", a, val);
			return 2;
		}
		k++;
	}
	if (!cfg_path) {
		fprintf(stderr, "mkyear: -c CONFIG is required\n");
		return 2;
	}
	r = config_load(cfg_path, config_builtin_profile_dir(), &errs, &c);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0)
		return 1;
	sitetime_use(c->site.timezone);
	for (d = 0; d < c->n_devices; d++)
		for (p = 0; p < c->devices[d].n_points; p++)
			if (c->devices[d].points[p].enabled) {
				pts = realloc(pts, (n_pts + 1) * sizeof(*pts));
				pts[n_pts++] = (struct pt){(int)d, (int)p};
			}
	if (n_pts < 3) {
		fprintf(stderr, "mkyear: the configuration needs at least 3 alarm points\n");
		return 1;
	}

	/* records */
	snprintf(date, sizeof(date), "%04d-01-15", year);
	record(at(1, 15, 16, 0), "system_test", date, "pass", "Nguyễn Văn An", "Thử toàn hệ thống");
	snprintf(date, sizeof(date), "%04d-07-10", year);
	record(at(7, 10, 15, 30), "system_test", date, "pass", "Nguyễn Văn An", NULL);
	snprintf(date, sizeof(date), "%04d-06-01", year - 2);
	record(at(1, 5, 9, 0), "maintenance", date, "pass", "Công ty PCCC Tiền Giang",
	       "Sổ bảo dưỡng giấy, nhập lại");
	for (k = 1; k <= 12; k++) {
		if (k == 5)
			continue; /* May: missed */
		snprintf(date, sizeof(date), "%04d-%02d-10", year, k);
		record(at(k, 10, 10, 0), "self_inspection", date, "pass", "Trần Thị Bình", NULL);
	}
	snprintf(date, sizeof(date), "%04d-03-20", year);
	{
		struct gen *bad = record(at(3, 20, 14, 0), "police_inspection", date, "fail",
					 "Đại úy Lê Văn Cường", "Nhập nhầm kết quả");
		size_t bad_idx = (size_t)(bad - gens);
		struct gen *fix = record(at(3, 22, 8, 0), "police_inspection", date, "pass",
					 "Đại úy Lê Văn Cường", "Đính chính: kết quả đạt");

		fix->ref_idx = (int)bad_idx;
	}
	/* periodic tests */
	for (k = 0; k < 365; k++)
		add(at(1, 1, 6, 0) + (int64_t)k * 86400000, EVCLASS_SYSTEM, "periodic_test", true,
		    "1602", -1, -1);
	/* test mode, twice a year, on every device */
	for (k = 0; k < 2; k++) {
		int m = k ? 8 : 2;

		for (d = 0; d < c->n_devices; d++) {
			int64_t t = at(m, 12, 9, 0) + (int64_t)d * 600000;

			add(t, EVCLASS_TEST, "test_mode", true, "1607", (int)d, -1)->by =
			    "Nguyễn Văn An";
			for (i = 0; i < n_pts; i++) {
				if (pts[i].dev != (int)d)
					continue;
				if (i == 1) {
					add(t + 300000, EVCLASS_TEST, "point_not_tested", true,
					    "1612", (int)d, pts[i].pt);
					continue;
				}
				add(t + 60000 + (int64_t)i * 1000, EVCLASS_TEST, "smoke", true,
				    "1111", (int)d, pts[i].pt);
				add(t + 90000 + (int64_t)i * 1000, EVCLASS_TEST, "smoke", false,
				    "3111", (int)d, pts[i].pt);
				add(t + 120000 + (int64_t)i * 1000, EVCLASS_TEST, "point_tested",
				    true, "1611", (int)d, pts[i].pt);
			}
			add(t + 300001, EVCLASS_TEST, "test_mode", false, "3607", (int)d, -1);
		}
	}
	/* a fault left open nine days */
	add(at(4, 1, 8, 0), EVCLASS_FAULT, "comm_loss", true, "1381", pts[0].dev, pts[0].pt);
	add(at(4, 10, 8, 0), EVCLASS_FAULT, "comm_loss", false, "3381", pts[0].dev, pts[0].pt);
	/* a disablement, announced daily */
	for (k = 1; k <= 5; k++) {
		struct gen *g = add(at(9, k, k == 1 ? 7 : 0, 0), EVCLASS_FAULT, "disabled", k < 5,
				    k < 5 ? "1571" : "3571", pts[2].dev, pts[2].pt);

		g->by = "Trần Thị Bình";
		if (k == 1)
			g->note = "Sửa mái khu A";
	}
	/* alarms and their acks */
	{
		static const struct {
			int m, d;
			const char *verdict;
		} al[] = {{3, 5, "real"}, {6, 12, "unwanted"}, {10, 20, NULL}};

		for (k = 0; k < 3; k++) {
			size_t idx;
			struct gen *g;

			g = add(at(al[k].m, al[k].d, 13, 7), EVCLASS_ALARM, "smoke", true, "1111",
				pts[(size_t)k % n_pts].dev, pts[(size_t)k % n_pts].pt);
			g->causes = CAUSE_THRESHOLD;
			idx = (size_t)(g - gens);
			g = add(at(al[k].m, al[k].d, 13, 8), EVCLASS_RECORD, "ack", true, NULL, -1,
				-1);
			g->by = "Trung tâm 114 Tiền Giang";
			g->verdict = al[k].verdict;
			g->ref_idx = (int)idx;
			add(at(al[k].m, al[k].d, 13, 40), EVCLASS_RECORD, "reset", true, NULL,
			    pts[(size_t)k % n_pts].dev, pts[(size_t)k % n_pts].pt)
			    ->by = "Bảo vệ";
			add(at(al[k].m, al[k].d, 13, 40), EVCLASS_ALARM, "smoke", false, "3111",
			    pts[(size_t)k % n_pts].dev, pts[(size_t)k % n_pts].pt);
		}
		add(at(11, 2, 12, 0), EVCLASS_PREALARM, "smoke", true, "1118", pts[0].dev,
		    pts[0].pt);
		add(at(11, 2, 12, 5), EVCLASS_PREALARM, "smoke", false, "3118", pts[0].dev,
		    pts[0].pt);
		add(at(12, 1, 2, 0), EVCLASS_PREALARM, "heat", true, "1118", pts[3 % n_pts].dev,
		    pts[3 % n_pts].pt);
		add(at(12, 1, 2, 9), EVCLASS_PREALARM, "heat", false, "3118", pts[3 % n_pts].dev,
		    pts[3 % n_pts].pt);
	}
	/* an uplink outage */
	add(at(5, 3, 1, 0), EVCLASS_FAULT, "uplink_lost", true, "1350", -1, -1);
	add(at(5, 3, 3, 0), EVCLASS_FAULT, "uplink_lost", false, "3350", -1, -1);
	/* filler: comm_loss flaps spread over the year */
	{
		size_t fill = events > (long)n_gens ? ((size_t)events - n_gens) / 2 : 0;
		int64_t start = at(1, 1, 0, 0), span = 364 * 86400000LL;

		for (i = 0; i < fill; i++) {
			const struct pt *q = &pts[(i * 7919) % n_pts];
			int64_t t =
			    start + (int64_t)((double)span * ((double)i + 0.5) / (double)fill);

			add(t, EVCLASS_FAULT, "comm_loss", true, "1381", q->dev, q->pt);
			add(t + 30000, EVCLASS_FAULT, "comm_loss", false, "3381", q->dev, q->pt);
		}
	}
	qsort(gens, n_gens, sizeof(*gens), gen_cmp);
	/* references by id, to the sorted positions */
	{
		size_t *pos = malloc(n_gens * sizeof(*pos));

		for (i = 0; i < n_gens; i++)
			pos[gens[i].id] = i;
		for (i = 0; i < n_gens; i++)
			if (gens[i].ref_idx >= 0)
				gens[i].ref_idx = (int)pos[gens[i].ref_idx];
		free(pos);
	}

	so.path = c->storage.path;
	r = store_open(&so, &s);
	if (r < 0) {
		fprintf(stderr, "mkyear: cannot open '%s': %s\n", so.path, strerror(-r));
		return 1;
	}
	/* monitoring began on the first of January (set before the statuses
	 * are evaluated: an obligation never met counts from it) */
	{
		sqlite3 *db;
		char sql[128];

		if (sqlite3_open(so.path, &db) != SQLITE_OK)
			return 1;
		snprintf(sql, sizeof(sql), "UPDATE meta SET created_ms = %" PRId64, at(1, 1, 0, 0));
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "mkyear: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_close(db);
	}
	k = 0; /* days published */
	for (i = 0; i < n_gens; i++) {
		struct gen *g = &gens[i];
		const struct cfg_device *dv = g->dev >= 0 ? &c->devices[g->dev] : NULL;
		const struct cfg_point *cp = dv && g->pt >= 0 ? &dv->points[g->pt] : NULL;
		char eid[160], ref[160];
		struct event_info e = {0};
		struct store_event se = {0};
		char *payload;
		size_t len;

		while (k < 365 && at(1, 1, 12, 0) + (int64_t)k * 86400000 <= g->ts) {
			if (publish(s, c, at(1, 1, 12, 0) + (int64_t)k * 86400000) < 0)
				return 1;
			k += (int)every;
		}
		g->seq = store_last_seq(s) + 1;
		ref[0] = '\0';
		if (g->ref_idx >= 0) {
			/* the referred event was committed earlier: it is older */
			event_id(c->site.id, store_epoch(s), gens[g->ref_idx].seq, ref,
				 sizeof(ref));
		}
		e.site = c->site.id;
		e.epoch = store_epoch(s);
		e.seq = g->seq;
		e.cls = g->cls;
		e.type = g->type;
		e.active = g->active;
		e.cid = g->cid[0] ? g->cid : NULL;
		e.device = dv ? dv->id : "gateway";
		e.point = cp ? cp->name : NULL;
		e.zone = cp ? cp->zone : NULL;
		e.zone_no = cp ? cp->zone_no : 0;
		e.location = cp ? cp->location : NULL;
		e.causes = g->causes ? g->causes
			   : g->cls == EVCLASS_FAULT && strcmp(g->type, "comm_loss") == 0
			       ? CAUSE_COMM
			       : 0;
		e.threshold = NAN;
		e.ts_ms = g->ts;
		e.time_synced = true;
		e.by = g->by;
		e.note = g->note;
		e.result = g->result;
		e.date = g->date[0] ? g->date : NULL;
		e.ref = ref[0] ? ref : NULL;
		e.verdict = g->verdict;
		payload = event_payload(&e, &len);
		if (!payload)
			return 1;
		se.seq = g->seq;
		se.event_id = event_id(c->site.id, store_epoch(s), g->seq, eid, sizeof(eid));
		se.ts_ms = g->ts;
		se.cls = event_class_name(g->cls);
		se.type = g->type;
		se.state = g->active ? "active" : "cleared";
		se.cid = e.cid;
		se.device = e.device;
		se.point = e.point;
		se.payload = payload;
		se.payload_len = len;
		se.prio = STORE_PRIO_OTHER;
		se.ref = e.ref;
		r = store_commit_event(s, &se, NULL);
		free(payload);
		if (r < 0) {
			fprintf(stderr, "mkyear: commit: %s\n", strerror(-r));
			return 1;
		}
	}
	/* the compliance status published along the rest of the year */
	for (; k < 365; k += (int)every)
		if (publish(s, c, at(1, 1, 12, 0) + (int64_t)k * 86400000) < 0)
			return 1;
	store_free(s);

	/* readings in bulk */
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		long j;

		if (sqlite3_open(so.path, &db) != SQLITE_OK)
			return 1;
		sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL);
		sqlite3_prepare_v2(db,
				   "INSERT INTO readings(ts_ms, device, name, value, quality) "
				   "VALUES(?1, ?2, 'value', ?3, 0)",
				   -1, &st, NULL);
		for (j = 0; j < readings; j++) {
			size_t dv = (size_t)j % c->n_devices;
			int64_t t = at(1, 1, 0, 0) + (j / (long)c->n_devices) * 60000LL;

			sqlite3_bind_int64(st, 1, t);
			sqlite3_bind_text(st, 2, c->devices[dv].id, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 3, (double)(j % 100) / 10.0);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "mkyear: readings: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_close(db);
	}
	printf("mkyear: events=%zu readings=%ld points=%zu ms=%" PRIu64 "\n", n_gens, readings,
	       n_pts, util_mono_ms() - t0);
	free(gens);
	free(pts);
	config_free(c);
	return 0;
}
