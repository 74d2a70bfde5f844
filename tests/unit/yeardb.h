/* yeardb.h - a synthetic year of a small premises in a real SQLite file,
 * written with store_commit_event() and event_payload() exactly as the
 * daemon writes events, for test_compliance_data.c and test_report.c.
 * Three alarm points smoke-a1.fire, smoke-a2.fire, heat-b1.heat; site time
 * Asia/Ho_Chi_Minh; monitoring from 2026-01-01 (local). The calendar:
 * - system tests passed 01-15 and 07-10;
 * - maintenance dated 2024-06-01 entered 01-05 (paper logbook), none after;
 * - self-inspections on the 10th of every month but May;
 * - police inspection 03-20 entered as failed, corrected 03-22 (pass);
 * - test mode 02-12: smoke-a1 and heat-b1 tested (1611), smoke-a2 not (1612);
 * - smoke-a1 comm_loss open from 04-01 08:00 to 04-10 08:00 (nine days);
 * - heat-b1 disabled 09-01 07:00 (1571 repeated daily) until 09-12 07:00;
 * - alarms 03-05 (acked, verdict real, then a later ack says unwanted) and
 *   06-12 (acked, verdict unwanted); one in test mode 02-12;
 * - uplink lost 05-03 01:00..03:00. */
#pragma once
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "sitetime.h"
#include "store.h"
#include "util.h"

#define YD_SITE "cho-test"

struct yeardb {
	char dir[64];
	char path[128];
	struct config cfg;
	struct cfg_device devs[2];
	struct cfg_point pts_a[2], pts_b[1];
	char police_fail_id[128];
	char alarm1_id[128];
	store *s;
};

/* Local day and time of 2026 as UTC ms. */
static int64_t yd_at(int m, int d, int h, int mi)
{
	int64_t ms = 0;

	sitetime_use("Asia/Ho_Chi_Minh");
	if (sitetime_local_ms(2026, m, d, &ms) < 0)
		abort();
	return ms + ((int64_t)h * 3600 + mi * 60) * 1000;
}

struct yd_ev {
	int64_t ts;
	enum event_class cls;
	const char *type;
	bool active;
	const char *cid, *device, *point;
	const char *by, *note, *result, *date, *ref, *verdict;
	const char *zone, *location;
	int zone_no;
};

/* Commits one event; its event_id into ret_id when given. */
static void yd_commit(struct yeardb *y, const struct yd_ev *v, char *ret_id, size_t id_len)
{
	struct event_info e = {0};
	struct store_event se = {0};
	char eid[160];
	size_t len;
	char *payload;

	e.site = YD_SITE;
	e.epoch = store_epoch(y->s);
	e.seq = store_last_seq(y->s) + 1;
	e.cls = v->cls;
	e.type = v->type;
	e.active = v->active;
	e.cid = v->cid;
	e.device = v->device;
	e.point = v->point;
	e.zone = v->zone;
	e.zone_no = v->zone_no;
	e.location = v->location;
	e.threshold = NAN;
	e.ts_ms = v->ts;
	e.time_synced = true;
	e.by = v->by;
	e.note = v->note;
	e.result = v->result;
	e.date = v->date;
	e.ref = v->ref;
	e.verdict = v->verdict;
	payload = event_payload(&e, &len);
	if (!payload)
		abort();
	se.seq = e.seq;
	se.event_id = event_id(YD_SITE, store_epoch(y->s), e.seq, eid, sizeof(eid));
	se.ts_ms = v->ts;
	se.cls = event_class_name(v->cls);
	se.type = v->type;
	se.state = v->active ? "active" : "cleared";
	se.cid = v->cid;
	se.device = v->device;
	se.point = v->point;
	se.payload = payload;
	se.payload_len = len;
	se.prio = STORE_PRIO_OTHER;
	se.ref = v->ref;
	if (store_commit_event(y->s, &se, NULL) != 0)
		abort();
	free(payload);
	if (ret_id)
		util_strlcpy(ret_id, eid, id_len);
}

static void yd_record(struct yeardb *y, int64_t entered, const char *kind, const char *date,
		      const char *result, const char *ref, char *ret_id, size_t id_len)
{
	struct yd_ev v = {.ts = entered,
			  .cls = EVCLASS_RECORD,
			  .type = kind,
			  .active = true,
			  .device = "gateway",
			  .by = "Nguyễn Văn An",
			  .result = result,
			  .date = date,
			  .ref = ref};

	yd_commit(y, &v, ret_id, id_len);
}

static void yd_point(struct yeardb *y, int64_t ts, enum event_class cls, const char *type,
		     bool active, const char *cid, const char *device, const char *point)
{
	struct yd_ev v = {.ts = ts,
			  .cls = cls,
			  .type = type,
			  .active = active,
			  .cid = cid,
			  .device = device,
			  .point = point,
			  .zone = "khu-a",
			  .zone_no = 11,
			  .location = "Khu A, lô 11"};

	yd_commit(y, &v, NULL, 0);
}

static void yd_config(struct yeardb *y)
{
	struct config *c = &y->cfg;

	memset(c, 0, sizeof(*c));
	snprintf(c->site.id, sizeof(c->site.id), YD_SITE);
	snprintf(c->site.name, sizeof(c->site.name), "Chợ \"Thử\" <A>, Khu A");
	snprintf(c->site.address, sizeof(c->site.address), "Đường 1, Mỹ Tho");
	snprintf(c->site.facility_id, sizeof(c->site.facility_id), "TG-1");
	snprintf(c->site.timezone, sizeof(c->site.timezone), "Asia/Ho_Chi_Minh");
	snprintf(c->storage.path, sizeof(c->storage.path), "%s", y->path);
	c->compliance = (struct cfg_compliance){182, 730, 31, 365, 365, 7, 14};
	snprintf(y->pts_a[0].name, sizeof(y->pts_a[0].name), "fire");
	snprintf(y->pts_a[0].zone, sizeof(y->pts_a[0].zone), "khu-a");
	y->pts_a[0].zone_no = 11;
	snprintf(y->pts_a[0].location, sizeof(y->pts_a[0].location), "Khu A, lô 11");
	y->pts_a[0].enabled = true;
	y->pts_a[1] = y->pts_a[0];
	snprintf(y->pts_b[0].name, sizeof(y->pts_b[0].name), "heat");
	y->pts_b[0].enabled = true;
	snprintf(y->devs[0].id, sizeof(y->devs[0].id), "smoke-a1");
	y->devs[0].points = &y->pts_a[0];
	y->devs[0].n_points = 1;
	/* smoke-a2 is a second device with one point named fire */
	snprintf(y->devs[1].id, sizeof(y->devs[1].id), "smoke-a2");
	y->devs[1].points = &y->pts_a[1];
	y->devs[1].n_points = 1;
	c->devices = y->devs;
	c->n_devices = 2;
}

/* heat-b1 is the third device: it needs its own slot */
static struct cfg_device yd_devs3[3];

static int yd_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static struct yeardb *yd_build(void)
{
	struct yeardb *y = calloc(1, sizeof(*y));
	struct store_opts o = {.create = true};
	char id[128], sql[160];
	sqlite3 *db;
	int k;

	if (!y)
		abort();
	snprintf(y->dir, sizeof(y->dir), "/tmp/test_yeardb.XXXXXX");
	if (!mkdtemp(y->dir))
		abort();
	snprintf(y->path, sizeof(y->path), "%s/firegw.db", y->dir);
	yd_config(y);
	yd_devs3[0] = y->devs[0];
	yd_devs3[1] = y->devs[1];
	memset(&yd_devs3[2], 0, sizeof(yd_devs3[2]));
	snprintf(yd_devs3[2].id, sizeof(yd_devs3[2].id), "heat-b1");
	yd_devs3[2].points = &y->pts_b[0];
	yd_devs3[2].n_points = 1;
	y->cfg.devices = yd_devs3;
	y->cfg.n_devices = 3;
	o.path = y->path;
	if (store_open(&o, &y->s) != 0)
		abort();

	yd_record(y, yd_at(1, 5, 9, 0), "maintenance", "2024-06-01", "pass", NULL, NULL, 0);
	for (k = 1; k <= 12; k++) {
		char date[16];

		if (k == 5)
			continue;
		snprintf(date, sizeof(date), "2026-%02d-10", k);
		if (k == 1) {
			yd_record(y, yd_at(1, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			yd_record(y, yd_at(1, 15, 16, 0), "system_test", "2026-01-15", "pass", NULL,
				  NULL, 0);
			continue;
		}
		if (k == 2) {
			yd_record(y, yd_at(2, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			/* test mode */
			yd_point(y, yd_at(2, 12, 9, 0), EVCLASS_TEST, "test_mode", true, "1607",
				 "smoke-a1", NULL);
			yd_point(y, yd_at(2, 12, 9, 1), EVCLASS_TEST, "smoke", true, "1111",
				 "smoke-a1", "fire");
			yd_point(y, yd_at(2, 12, 9, 2), EVCLASS_TEST, "point_tested", true, "1611",
				 "smoke-a1", "fire");
			yd_point(y, yd_at(2, 12, 9, 3), EVCLASS_TEST, "point_tested", true, "1611",
				 "heat-b1", "heat");
			yd_point(y, yd_at(2, 12, 9, 4), EVCLASS_TEST, "point_not_tested", true,
				 "1612", "smoke-a2", "fire");
			yd_point(y, yd_at(2, 12, 9, 5), EVCLASS_TEST, "test_mode", false, "3607",
				 "smoke-a1", NULL);
			continue;
		}
		if (k == 3) {
			yd_point(y, yd_at(3, 5, 13, 7), EVCLASS_ALARM, "smoke", true, "1111",
				 "smoke-a1", "fire");
			snprintf(y->alarm1_id, sizeof(y->alarm1_id), "%s:%s:%llu", YD_SITE,
				 store_epoch(y->s), (unsigned long long)store_last_seq(y->s));
			{
				struct yd_ev a = {.ts = yd_at(3, 5, 13, 8),
						  .cls = EVCLASS_RECORD,
						  .type = "ack",
						  .active = true,
						  .device = "gateway",
						  .by = "center",
						  .ref = y->alarm1_id,
						  .verdict = "real"};

				yd_commit(y, &a, NULL, 0);
				a.ts = yd_at(3, 6, 9, 0);
				a.verdict = "unwanted"; /* supersedes */
				yd_commit(y, &a, NULL, 0);
			}
			yd_point(y, yd_at(3, 5, 13, 40), EVCLASS_ALARM, "smoke", false, "3111",
				 "smoke-a1", "fire");
			yd_record(y, yd_at(3, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			yd_record(y, yd_at(3, 20, 14, 0), "police_inspection", "2026-03-20", "fail",
				  NULL, y->police_fail_id, sizeof(y->police_fail_id));
			yd_record(y, yd_at(3, 22, 8, 0), "police_inspection", "2026-03-20", "pass",
				  y->police_fail_id, NULL, 0);
			continue;
		}
		if (k == 4) {
			yd_point(y, yd_at(4, 1, 8, 0), EVCLASS_FAULT, "comm_loss", true, "1381",
				 "smoke-a1", "fire");
			yd_point(y, yd_at(4, 10, 8, 0), EVCLASS_FAULT, "comm_loss", false, "3381",
				 "smoke-a1", "fire");
			yd_record(y, yd_at(4, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			continue;
		}
		if (k == 6) {
			yd_point(y, yd_at(5, 3, 1, 0), EVCLASS_FAULT, "uplink_lost", true, "1350",
				 "gateway", NULL);
			yd_point(y, yd_at(5, 3, 3, 0), EVCLASS_FAULT, "uplink_lost", false, "3350",
				 "gateway", NULL);
			yd_record(y, yd_at(6, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			yd_point(y, yd_at(6, 12, 13, 7), EVCLASS_ALARM, "smoke", true, "1111",
				 "smoke-a2", "fire");
			snprintf(id, sizeof(id), "%s:%s:%llu", YD_SITE, store_epoch(y->s),
				 (unsigned long long)store_last_seq(y->s));
			{
				struct yd_ev a = {.ts = yd_at(6, 12, 13, 9),
						  .cls = EVCLASS_RECORD,
						  .type = "ack",
						  .active = true,
						  .device = "gateway",
						  .by = "center",
						  .ref = id,
						  .verdict = "unwanted"};

				yd_commit(y, &a, NULL, 0);
			}
			continue;
		}
		if (k == 7) {
			yd_record(y, yd_at(7, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			yd_record(y, yd_at(7, 10, 15, 0), "system_test", "2026-07-10", "pass", NULL,
				  NULL, 0);
			continue;
		}
		if (k == 9) {
			int dd;

			for (dd = 1; dd <= 11; dd++)
				yd_point(y, yd_at(9, dd, dd == 1 ? 7 : 0, 0), EVCLASS_FAULT,
					 "disabled", true, "1571", "heat-b1", "heat");
			yd_record(y, yd_at(9, 10, 10, 0), "self_inspection", date, "pass", NULL,
				  NULL, 0);
			yd_point(y, yd_at(9, 12, 7, 0), EVCLASS_FAULT, "disabled", false, "3571",
				 "heat-b1", "heat");
			continue;
		}
		yd_record(y, yd_at(k, 10, 10, 0), "self_inspection", date, "pass", NULL, NULL, 0);
	}
	store_free(y->s);
	y->s = NULL;
	/* monitoring began on the first of January */
	if (sqlite3_open(y->path, &db) != SQLITE_OK)
		abort();
	snprintf(sql, sizeof(sql), "UPDATE meta SET created_ms = %lld",
		 (long long)yd_at(1, 1, 0, 0));
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return y;
}

static store *yd_open_ro(struct yeardb *y)
{
	struct store_opts o = {.path = y->path, .readonly = true};
	store *s = NULL;

	if (store_open(&o, &s) != 0)
		abort();
	return s;
}

static void yd_free(struct yeardb *y)
{
	if (!y)
		return;
	store_free(y->s);
	nftw(y->dir, yd_rm, 8, FTW_DEPTH | FTW_PHYS);
	free(y);
}
