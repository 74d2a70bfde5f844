/* modes.c - resets, test mode and disablement of alarm points (SPEC §4):
 * what each does to a point's detection state and mode, and the events it
 * makes (records, 1607/3607, 1611/1612, 1571/3571, the real alarm of a fire
 * that outlives a test or a disablement). The arguments are checked by the
 * request layer (request.c). Main loop only. */
#include "modes.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

struct modes {
	const struct config *cfg;
	struct site *site;
	journal *j;
	store *st;
};

int modes_new(const struct config *c, struct site *site, journal *j, store *st, modes **ret)
{
	modes *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->cfg = c;
	m->site = site;
	m->j = j;
	m->st = st;
	*ret = m;
	return 0;
}

void modes_free(modes *m)
{
	free(m);
}

void modes_set_store(modes *m, store *st)
{
	m->st = st;
}

/* Clears the latches of device dev's points (or only point pt >= 0), as
 * `by` asked (SPEC §4): the reset is recorded as an event; a point whose
 * fire condition still holds stays in alarm. */
int modes_reset(modes *m, int dev, int pt, const char *by, int *ret_cleared,
			int *ret_held)
{
	const struct cfg_device *d = &m->cfg->devices[dev];
	size_t i;

	*ret_cleared = *ret_held = 0;
	for (i = 0; i < d->n_points; i++) {
		struct detect_event evs[DETECT_EVENTS_MAX];
		struct point_rt *p = site_point(m->site, dev, (int)i);
		struct journal_event rec = { 0 };
		int n, k;

		if (pt >= 0 && (int)i != pt)
			continue;
		if (!p->det.latched && !(p->det.conditions & COND_ALARM))
			continue;
		n = detect_reset(&d->points[i].rules, &p->det, evs, DETECT_EVENTS_MAX);
		/* the reset itself is an event (a record, kept with the history) */
		rec.type = "reset";
		rec.dev = dev;
		rec.pt = (int)i;
		rec.by = by;
		journal_record(m->j, &rec);
		for (k = 0; k < n; k++)
			journal_point_event(m->j, dev, (int)i, &evs[k], by);
		if (n > 0)
			(*ret_cleared)++;
		else
			(*ret_held)++;
	}
	site_update_device(m->site, dev, util_wall_ms());
	return 0;
}

/* An alarm active event for a fire condition that holds while its own
 * activation was not published (made in test mode or while disabled). */
static void emit_real_alarm(modes *m, int dev, int pt, const char *by)
{
	struct detect_event real = {
		.cls = EVCLASS_ALARM,
		.cond = COND_ALARM,
		.active = true,
		.causes = (*site_point(m->site, dev, pt)).det.alarm_causes,
		.threshold = NAN,
	};

	journal_point_event(m->j, dev, pt, &real, by);
}

/* Starts (or extends) a test of dev's points (pt < 0: all) for seconds.
 * Returns the number of points put in test. */
int modes_test_start(modes *m, int dev, int pt, const char *by, int seconds)
{
	const struct cfg_device *d = &m->cfg->devices[dev];
	int64_t until = util_wall_ms() + (int64_t)seconds * 1000;
	char note[96];
	size_t i;
	int n = 0;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = site_point(m->site, dev, (int)i);

		if (pt >= 0 && (int)i != pt)
			continue;
		if (!point_in_test(&p->mode))
			p->mode.tested = false;
		p->mode.test_until_ms = until;
		p->test_end_mono = util_mono_ms() + (uint64_t)seconds * 1000u;
		util_strlcpy(p->mode.by, by, sizeof(p->mode.by));
		n++;
	}
	snprintf(note, sizeof(note), "%d point(s) in test for %d min", n, (seconds + 59) / 60);
	journal_mode_event(m->j, dev, -1, "test_mode", true, 607, by, note);
	for (i = 0; i < d->n_points; i++)
		if (pt < 0 || (int)i == pt)
			site_point_save(m->site, m->st, dev, (int)i);
	site_update_device(m->site, dev, util_wall_ms());
	return n;
}

/* Ends the test of dev's points in test (pt < 0: all): latches left by
 * test alarms are reset (their events still go to test/), a point that did
 * not alarm is reported not tested (1612), then the end (3607). */
int modes_test_end(modes *m, int dev, int pt, const char *by, bool only_expired)
{
	const struct cfg_device *d = &m->cfg->devices[dev];
	int n = 0, untested = 0;
	char note[96];
	size_t i;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = site_point(m->site, dev, (int)i);
		struct detect_event evs[DETECT_EVENTS_MAX];
		int k, nev;

		if ((pt >= 0 && (int)i != pt) || !point_in_test(&p->mode))
			continue;
		if (only_expired && util_mono_ms() < p->test_end_mono)
			continue;
		nev = detect_reset(&d->points[i].rules, &p->det, evs, DETECT_EVENTS_MAX);
		for (k = 0; k < nev; k++)
			journal_point_event(m->j, dev, (int)i, &evs[k], by);
		if (!p->mode.tested) {
			journal_mode_event(m->j, dev, (int)i, "point_not_tested", true, 612, by, NULL);
			untested++;
		}
		p->mode.test_until_ms = 0;
		p->mode.tested = false;
		n++;
		/* the fire condition outlived the test: from now on it is a
		 * real alarm, and the center must hear of it */
		if (p->det.conditions & COND_ALARM && !p->det.latched)
			emit_real_alarm(m, dev, (int)i, NULL);
	}
	if (!n)
		return 0;
	snprintf(note, sizeof(note), "%d point(s) tested, %d not tested", n - untested, untested);
	journal_mode_event(m->j, dev, -1, "test_mode", false, 607, by, note);
	for (i = 0; i < d->n_points; i++)
		if (pt < 0 || (int)i == pt)
			site_point_save(m->site, m->st, dev, (int)i);
	site_update_device(m->site, dev, util_wall_ms());
	return n;
}

int modes_set_disabled(modes *m, int dev, int pt, bool disable, const char *by,
			const char *reason)
{
	const struct cfg_device *d = &m->cfg->devices[dev];
	size_t i;
	int n = 0;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = site_point(m->site, dev, (int)i);

		if ((pt >= 0 && (int)i != pt) || p->mode.disabled == disable)
			continue;
		if (disable) {
			p->mode.disabled = true;
			p->mode.dis_since_ms = util_wall_ms();
			p->dis_remind_mono = util_mono_ms() + 24ull * 3600 * 1000;
			util_strlcpy(p->mode.reason, reason ? reason : "", sizeof(p->mode.reason));
			util_strlcpy(p->mode.by, by, sizeof(p->mode.by));
			journal_mode_event(m->j, dev, (int)i, "disabled", true, 571, by, reason);
		} else {
			p->mode.disabled = false;
			p->mode.reason[0] = '\0';
			journal_mode_event(m->j, dev, (int)i, "disabled", false, 571, by, NULL);
			/* an alarm made while disabled was stored, not published:
			 * back in service, the center hears of it */
			if (p->det.conditions & COND_ALARM)
				emit_real_alarm(m, dev, (int)i, by);
		}
		site_point_save(m->site, m->st, dev, (int)i);
		n++;
	}
	site_update_device(m->site, dev, util_wall_ms());
	return n;
}

/* Every second: tests that ran out end by themselves; disabled points are
 * announced again daily (SPEC §4). */
void modes_tick(modes *m, uint64_t now)
{
	size_t i, j;

	for (i = 0; i < m->cfg->n_devices; i++) {
		bool expired = false;

		for (j = 0; j < m->cfg->devices[i].n_points; j++) {
			const struct point_rt *p = site_point(m->site, (int)i, (int)j);

			expired |= point_in_test(&p->mode) && now >= p->test_end_mono;
		}
		if (expired)
			modes_test_end(m, (int)i, -1, NULL, true); /* the time is over */
		for (j = 0; j < m->cfg->devices[i].n_points; j++) {
			struct point_rt *p = site_point(m->site, (int)i, (int)j);

			if (p->mode.disabled && now >= p->dis_remind_mono) {
				char note[256];

				p->dis_remind_mono = now + 24ull * 3600 * 1000;
				snprintf(note, sizeof(note), "still disabled: %s", p->mode.reason);
				journal_mode_event(m->j, (int)i, (int)j, "disabled", true, 571, p->mode.by,
						note);
			}
		}
	}
}

