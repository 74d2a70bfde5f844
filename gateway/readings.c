/* readings.c - which readings reach the database (readings.h). Owns the
 * last stored sample of every configured value and its deadband; the
 * buffer and the writing are the store's (store.c). Main loop only.
 *
 * Cost: one comparison per value per poll, in memory; a row only when the
 * rule says so. At rest (nothing moves) no row at all, whatever the number
 * of devices: the figures are in docs/storage.md. */
#include "readings.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "util.h"

struct readings {
	const struct config *cfg;
	size_t *first;		      /* cfg->n_devices + 1: device i's slots start at first[i] */
	struct readings_sample *last; /* first[n_devices] slots */
	double *deadband;
	uint64_t interval_ms;
	uint64_t stored;
};

bool readings_should_store(const struct readings_sample *prev, const struct readings_sample *now,
			   double deadband, uint64_t interval_ms)
{
	bool prev_nan, now_nan;

	if (!prev || !prev->set)
		return true;
	/* a change of state is an event: its sample goes with it */
	if (now->cls != prev->cls)
		return true;
	/* a clock that did not move forward is no time passed */
	if (now->mono_ms < prev->mono_ms || now->mono_ms - prev->mono_ms < interval_ms)
		return false;
	if (now->quality != prev->quality)
		return true;
	prev_nan = isnan(prev->value);
	now_nan = isnan(now->value);
	if (prev_nan || now_nan)
		return prev_nan != now_nan;
	/* against the last stored value, not the last read one: a slow drift
	 * of less than the deadband per poll is still stored once it adds up */
	return fabs(now->value - prev->value) > deadband;
}

double readings_deadband(const struct profile_value *v, double pct)
{
	double span;

	if (!(pct > 0) || !isfinite(v->valid_min) || !isfinite(v->valid_max))
		return 0;
	span = v->valid_max - v->valid_min;
	return span > 0 ? span * pct / 100.0 : 0;
}

int readings_new(const struct config *cfg, readings **ret)
{
	readings *rd;
	size_t i, j, n = 0;

	if (!cfg || !ret)
		return -EINVAL;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->cfg = cfg;
	rd->interval_ms = (uint64_t)cfg->storage.readings_s * 1000u;
	rd->first = calloc(cfg->n_devices + 1, sizeof(*rd->first));
	if (!rd->first)
		goto out_free;
	for (i = 0; i < cfg->n_devices; i++) {
		rd->first[i] = n;
		n += cfg->devices[i].profile->n_values;
	}
	rd->first[cfg->n_devices] = n;
	/* calloc: every slot unset */
	rd->last = calloc(n ? n : 1, sizeof(*rd->last));
	rd->deadband = calloc(n ? n : 1, sizeof(*rd->deadband));
	if (!rd->last || !rd->deadband)
		goto out_free;
	for (i = 0; i < cfg->n_devices; i++) {
		const struct profile *p = cfg->devices[i].profile;

		for (j = 0; j < p->n_values; j++)
			rd->deadband[rd->first[i] + j] =
			    readings_deadband(&p->values[j], cfg->storage.readings_deadband_pct);
	}
	*ret = rd;
	return 0;

out_free:
	readings_free(rd);
	return -ENOMEM;
}

void readings_free(readings *rd)
{
	if (!rd)
		return;
	free(rd->first);
	free(rd->last);
	free(rd->deadband);
	free(rd);
}

int readings_offer(readings *rd, const struct site *s, store *st, int dev, uint64_t now_mono)
{
	const struct cfg_device *d;
	const struct device_rt *rt;
	int n = 0, err = 0;
	size_t j;

	if (!rd || !s || dev < 0 || (size_t)dev >= rd->cfg->n_devices)
		return -EINVAL;
	d = &rd->cfg->devices[dev];
	rt = &s->devs[dev];
	for (j = 0; j < d->profile->n_values; j++) {
		const struct value_rt *v = &rt->values[j];
		struct readings_sample *last = &rd->last[rd->first[dev] + j];
		struct readings_sample now;
		const char *q;
		int r;

		if (!v->good_mono)
			continue; /* never read: nothing to say */
		q = site_quality(s, dev, (int)j, now_mono);
		now = (struct readings_sample){
		    .set = true,
		    .mono_ms = now_mono,
		    .value = v->r.value,
		    .quality = q[0] == 'g'   ? 0
			       : q[0] == 'b' ? 1
					     : 2,
		    .cls = (int)rt->state,
		};
		if (!readings_should_store(last, &now, rd->deadband[rd->first[dev] + j],
					   rd->interval_ms))
			continue;
		/* a good sample is dated by its read; a bad or stale one by
		 * when that was seen (it carries the last good value) */
		r = store_readings_add(st,
				       &(struct store_reading){
					   .ts_ms = now.quality == 0 ? v->ts_ms : util_wall_ms(),
					   .device = d->id,
					   .name = d->profile->values[j].name,
					   .value = v->r.value,
					   .quality = now.quality,
				       });
		if (r < 0) {
			if (!err)
				err = r;
			continue;
		}
		*last = now;
		n++;
	}
	rd->stored += (uint64_t)n;
	return err ? err : n;
}

uint64_t readings_stored(const readings *rd)
{
	return rd ? rd->stored : 0;
}
