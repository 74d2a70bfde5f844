/* intake.c - from a poll result to values, detection and events (intake.h).
 * Main loop only. */
#include "intake.h"

#include <string.h>

#include "detect.h"
#include "util.h"

/* A change of what is persisted (a latch taking hold, a second cause) that
 * made no event is saved on its own, so a restart restores it (SPEC §4). */
static void persist_if_changed(struct site *s, store *st, int dev, int pt,
			       const struct detect_state *before)
{
	const struct detect_state *now = &site_point(s, dev, pt)->det;

	if (before->conditions == now->conditions && before->latched == now->latched &&
	    before->alarm_causes == now->alarm_causes &&
	    before->prealarm_causes == now->prealarm_causes &&
	    memcmp(before->fault_causes, now->fault_causes, sizeof(now->fault_causes)) == 0 &&
	    before->known == now->known)
		return;
	/* conditions or latch changed: the retained state says so */
	site_point_save(s, st, dev, pt);
}

void intake_read(struct site *s, journal *j, store *st, readings *rd,
		 const struct poll_result *res)
{
	const struct cfg_device *d = &s->cfg->devices[res->device];
	struct device_rt *rt = &s->devs[res->device];
	struct value_reading vals[PROFILE_MAX_VALUES];
	bool ok = res->rc == 0;
	size_t i;

	rt->polls = res->polls;
	rt->last_rc = res->rc;
	if (ok) {
		profile_decode(d->profile, &res->raw, vals);
		for (i = 0; i < d->profile->n_values; i++) {
			struct value_rt *v = &rt->values[i];

			v->last_ok = vals[i].ok;
			if (vals[i].ok) {
				v->r = vals[i];
				v->ts_ms = res->wall_ms;
				v->good_mono = res->mono_ms;
			}
		}
	} else {
		for (i = 0; i < d->profile->n_values; i++)
			rt->values[i].last_ok = false;
	}
	for (i = 0; i < d->n_points; i++) {
		const struct cfg_point *cp = &d->points[i];
		struct detect_event evs[DETECT_EVENTS_MAX];
		struct detect_sample smp = { .mono_ms = res->mono_ms, .ok = ok };
		struct detect_state before;
		int n, k, f;

		if (ok) {
			for (f = 0; f < FLAG_MAX; f++)
				if (cp->flags[f].value >= 0 &&
				    profile_flag_active(&cp->flags[f], vals))
					smp.flags |= 1u << f;
			if (cp->value >= 0 && vals[cp->value].ok) {
				smp.has_value = true;
				smp.value = vals[cp->value].value;
			}
		}
		before = rt->points[i].det;
		n = detect_step(&cp->rules, &rt->points[i].det, &smp, evs, DETECT_EVENTS_MAX);
		for (k = 0; k < n; k++)
			journal_point_event(j, res->device, (int)i, &evs[k], NULL);
		if (n > 0)
			rt->state_dirty = true;
		else
			persist_if_changed(s, st, res->device, (int)i, &before);
	}
	site_update_device(s, res->device, util_wall_ms());
	/* after the device's state is derived: a change of it is a sample */
	readings_offer(rd, s, st, res->device, res->mono_ms);
}
