/* compliance.c - the compliance evaluation (compliance.h). Pure: callable
 * from any thread, time and inputs given by the caller.
 *
 * The rules, with SPEC §6's defaults (docs/compliance.md says where each
 * comes from):
 * - a record item is met by its latest effective record (a record named by
 *   a later record's --ref is corrected and no longer counts). A failed
 *   latest record makes the item non_compliant until a later pass; else the
 *   item falls due <days> after the last pass (after monitoring began when
 *   there never was one), is due_soon within due_soon_days of that and
 *   overdue after it;
 * - each point is due device_test_days after its last good test (1611), or
 *   after its first stored state when never tested; the item is the worst
 *   of its points;
 * - an open fault, and likewise a disablement, is due_soon while younger
 *   than max_fault_days and non_compliant after;
 * - the uplink down now is non_compliant (the premises is not watched); a
 *   clock not synchronised is due_soon (timestamps are not evidence); a
 *   storage fault is non_compliant, a database 90 % full due_soon.
 * Overall: non_compliant if any item is overdue or non_compliant, else
 * due_soon if any is, else compliant. */
#include "compliance.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const item_names[COMP_ITEM_MAX] = {
	[COMP_SYSTEM_TEST] = "system_test",
	[COMP_MAINTENANCE] = "maintenance",
	[COMP_SELF_INSPECTION] = "self_inspection",
	[COMP_POLICE_INSPECTION] = "police_inspection",
	[COMP_DEVICE_TEST] = "device_test",
	[COMP_FAULTS] = "faults",
	[COMP_DISABLEMENTS] = "disablements",
	[COMP_UPLINK] = "uplink",
	[COMP_CLOCK] = "clock",
	[COMP_STORAGE] = "storage",
};

static const char *const status_names[COMP_STATUS_MAX] = {
	[COMP_OK] = "ok",
	[COMP_DUE_SOON] = "due_soon",
	[COMP_OVERDUE] = "overdue",
	[COMP_NON_COMPLIANT] = "non_compliant",
};

static const char *const overall_names[COMP_OVERALL_MAX] = {
	[COMP_COMPLIANT] = "compliant",
	[COMP_OVERALL_DUE_SOON] = "due_soon",
	[COMP_OVERALL_NON_COMPLIANT] = "non_compliant",
};

static const char *const record_names[COMP_REC_MAX] = {
	[COMP_REC_SYSTEM_TEST] = "system_test",
	[COMP_REC_MAINTENANCE] = "maintenance",
	[COMP_REC_SELF_INSPECTION] = "self_inspection",
	[COMP_REC_POLICE_INSPECTION] = "police_inspection",
};

const char *compliance_item_name(enum comp_item i)
{
	return i >= 0 && i < COMP_ITEM_MAX ? item_names[i] : "invalid";
}

const char *compliance_status_name(enum comp_status s)
{
	return s >= 0 && s < COMP_STATUS_MAX ? status_names[s] : "invalid";
}

const char *compliance_overall_name(enum comp_overall o)
{
	return o >= 0 && o < COMP_OVERALL_MAX ? overall_names[o] : "invalid";
}

const char *compliance_record_kind_name(enum comp_record_kind k)
{
	return k >= 0 && k < COMP_REC_MAX ? record_names[k] : "invalid";
}

enum comp_record_kind compliance_record_kind(const char *name)
{
	int k;

	for (k = 0; name && k < COMP_REC_MAX; k++)
		if (strcmp(name, record_names[k]) == 0)
			return (enum comp_record_kind)k;
	return COMP_REC_INVALID;
}

/* "2026-11-28" for reasons, in the site's time (offset): a record dated
 * 2026-03-01 is stored as that local midnight, which in UTC is the day
 * before east of Greenwich. */
static const char *day_str(const struct comp_input *in, int64_t ms, char buf[16])
{
	time_t t = (time_t)(ms / 1000) + in->utc_offset_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, 16, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, 16, "?");
	return buf;
}

static enum comp_status by_due(int64_t now, int64_t due, int due_soon_days)
{
	if (now > due)
		return COMP_OVERDUE;
	if (now > due - due_soon_days * COMPLIANCE_DAY_MS)
		return COMP_DUE_SOON;
	return COMP_OK;
}

/* A record is corrected by a later one entered by now that names it. */
static bool corrected(const struct comp_input *in, const struct comp_record *r)
{
	size_t i;

	for (i = 0; r->seq && i < in->n_records; i++) {
		const struct comp_record *c = &in->records[i];

		/* only a record of the same kind corrects one */
		if (c->corrects_seq == r->seq && c->kind == r->kind &&
		    (c->entered_ms ? c->entered_ms : c->date_ms) <= in->now_ms)
			return true;
	}
	return false;
}

/* Later date wins; on the same day the later entry (higher seq). */
static bool later(const struct comp_record *a, const struct comp_record *b)
{
	return !b || a->date_ms > b->date_ms || (a->date_ms == b->date_ms && a->seq > b->seq);
}

static void eval_record_item(const struct comp_input *in, enum comp_record_kind kind, int days,
			     struct comp_item_result *it)
{
	const struct comp_record *last = NULL, *last_pass = NULL;
	const char *what = record_names[kind];
	char d1[16], d2[16];
	size_t i;

	for (i = 0; i < in->n_records; i++) {
		const struct comp_record *r = &in->records[i];

		/* as of now_ms: what was done and entered by then (a past
		 * status is recomputed without later records) */
		if (r->kind != kind || r->date_ms > in->now_ms ||
		    (r->entered_ms ? r->entered_ms : r->date_ms) > in->now_ms || corrected(in, r))
			continue;
		if (later(r, last))
			last = r;
		if (r->pass && later(r, last_pass))
			last_pass = r;
	}
	it->last_ms = last_pass ? last_pass->date_ms : 0;
	it->due_ms = (last_pass ? last_pass->date_ms : in->since_ms) + days * COMPLIANCE_DAY_MS;
	if (last && !last->pass) {
		it->status = COMP_NON_COMPLIANT;
		snprintf(it->reason, sizeof(it->reason),
			 "the last %s, on %s, failed; a later pass is needed", what,
			 day_str(in, last->date_ms, d1));
		return;
	}
	it->status = by_due(in->now_ms, it->due_ms, in->ob->due_soon_days);
	if (!last_pass)
		snprintf(it->reason, sizeof(it->reason),
			 "no %s recorded; due every %d days, counted from %s: due %s", what, days,
			 day_str(in, in->since_ms, d1), day_str(in, it->due_ms, d2));
	else
		snprintf(it->reason, sizeof(it->reason), "last %s passed on %s; next due %s (every "
			 "%d days)", what, day_str(in, last_pass->date_ms, d1), day_str(in, it->due_ms, d2),
			 days);
}

static void eval_device_tests(const struct comp_input *in, struct comp_item_result *it)
{
	const char *worst_key = NULL;
	int64_t worst_due = 0;
	size_t i;
	int overdue = 0, never = 0;
	char d1[16];

	it->status = COMP_OK;
	for (i = 0; i < in->n_points; i++) {
		const struct comp_point *p = &in->points[i];
		int64_t base = p->last_tested_ms ? p->last_tested_ms : p->first_seen_ms;
		int64_t due = base + in->ob->device_test_days * COMPLIANCE_DAY_MS;
		enum comp_status s = by_due(in->now_ms, due, in->ob->due_soon_days);

		if (!p->last_tested_ms)
			never++;
		if (s == COMP_OVERDUE)
			overdue++;
		if (s > it->status)
			it->status = s;
		if (!worst_key || due < worst_due) {
			worst_key = p->key;
			worst_due = due;
		}
		if (p->last_tested_ms && (!it->last_ms || p->last_tested_ms < it->last_ms))
			it->last_ms = p->last_tested_ms;
	}
	it->due_ms = worst_due;
	it->count = overdue;
	if (!in->n_points)
		snprintf(it->reason, sizeof(it->reason), "no alarm points configured");
	else if (overdue)
		snprintf(it->reason, sizeof(it->reason),
			 "%d of %zu points not tested within %d days (%d never tested); first: '%s'",
			 overdue, in->n_points, in->ob->device_test_days, never, worst_key);
	else
		snprintf(it->reason, sizeof(it->reason),
			 "every point tested within %d days (%d never tested yet); next due: '%s' on %s",
			 in->ob->device_test_days, never, worst_key, day_str(in, worst_due, d1));
}

static void eval_open(const struct comp_input *in, const struct comp_open *v, size_t n,
		      const char *what, struct comp_item_result *it)
{
	int64_t limit = in->ob->max_fault_days * COMPLIANCE_DAY_MS;
	const char *oldest = NULL;
	int64_t oldest_since = 0;
	size_t i;
	int old = 0;
	char d1[16];

	it->status = COMP_OK;
	for (i = 0; i < n; i++) {
		if (!oldest || v[i].since_ms < oldest_since) {
			oldest = v[i].key;
			oldest_since = v[i].since_ms;
		}
		if (in->now_ms - v[i].since_ms > limit)
			old++;
	}
	it->count = (int)n;
	if (!n) {
		snprintf(it->reason, sizeof(it->reason), "no open %s", what);
		return;
	}
	it->due_ms = oldest_since + limit;
	it->status = old ? COMP_NON_COMPLIANT : COMP_DUE_SOON;
	snprintf(it->reason, sizeof(it->reason),
		 "%zu open %s, %d older than %d days; oldest '%s' since %s", n, what, old,
		 in->ob->max_fault_days, oldest, day_str(in, oldest_since, d1));
}

int compliance_evaluate(const struct comp_input *in, struct comp_result *ret)
{
	static const enum comp_record_kind kinds[] = { COMP_REC_SYSTEM_TEST, COMP_REC_MAINTENANCE,
						       COMP_REC_SELF_INSPECTION,
						       COMP_REC_POLICE_INSPECTION };
	struct comp_item_result *it;
	enum comp_status worst = COMP_OK;
	char d1[16];
	size_t i;
	int days[COMP_REC_MAX];

	if (!in || !ret || !in->ob || (in->n_records && !in->records) ||
	    (in->n_points && !in->points) || (in->n_faults && !in->faults) ||
	    (in->n_disabled && !in->disabled))
		return -EINVAL;
	for (i = 0; i < in->n_records; i++)
		if (in->records[i].kind < 0 || in->records[i].kind >= COMP_REC_MAX)
			return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	days[COMP_REC_SYSTEM_TEST] = in->ob->system_test_days;
	days[COMP_REC_MAINTENANCE] = in->ob->maintenance_days;
	days[COMP_REC_SELF_INSPECTION] = in->ob->self_inspection_days;
	days[COMP_REC_POLICE_INSPECTION] = in->ob->police_inspection_days;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		eval_record_item(in, kinds[i], days[kinds[i]], &ret->items[COMP_SYSTEM_TEST + i]);
	eval_device_tests(in, &ret->items[COMP_DEVICE_TEST]);
	eval_open(in, in->faults, in->n_faults, "fault(s)", &ret->items[COMP_FAULTS]);
	eval_open(in, in->disabled, in->n_disabled, "disablement(s)",
		  &ret->items[COMP_DISABLEMENTS]);

	it = &ret->items[COMP_UPLINK];
	it->status = in->uplink_up ? COMP_OK : COMP_NON_COMPLIANT;
	it->count = (int)(in->longest_outage_ms / 1000); /* longest outage, s */
	if (in->uplink_up)
		snprintf(it->reason, sizeof(it->reason),
			 "connected; longest outage in the period %lld s",
			 (long long)(in->longest_outage_ms / 1000));
	else
		snprintf(it->reason, sizeof(it->reason),
			 "the uplink to the command center is down since %s",
			 day_str(in, in->uplink_down_since_ms, d1));

	it = &ret->items[COMP_CLOCK];
	it->status = in->clock_synced ? COMP_OK : COMP_DUE_SOON;
	snprintf(it->reason, sizeof(it->reason), "%s",
		 in->clock_synced ? "clock synchronised"
				  : "clock not synchronised: timestamps are not evidence");

	it = &ret->items[COMP_STORAGE];
	it->status = in->storage_fault ? COMP_NON_COMPLIANT
				       : in->storage_full ? COMP_DUE_SOON : COMP_OK;
	snprintf(it->reason, sizeof(it->reason), "%s",
		 in->storage_fault  ? "storage fault: records may not be kept"
		 : in->storage_full ? "database over 90 % of storage.max_mb"
				    : "records kept");

	for (i = 0; i < COMP_ITEM_MAX; i++)
		if (ret->items[i].status > worst)
			worst = ret->items[i].status;
	ret->overall = worst >= COMP_OVERDUE	  ? COMP_OVERALL_NON_COMPLIANT
		       : worst == COMP_DUE_SOON ? COMP_OVERALL_DUE_SOON
						: COMP_COMPLIANT;
	return 0;
}
