/* site.c - the live state of the premises (site.h): the devices' and
 * points' runtime records, their derived states, and their stored form.
 * Main loop only. */
#include "site.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int site_init(struct site *s, const struct config *c, int64_t started_ms)
{
	size_t i, j;

	memset(s, 0, sizeof(*s));
	s->cfg = c;
	snprintf(s->topic_root, sizeof(s->topic_root), "%s/%s", c->mqtt.topic_prefix, c->site.id);
	s->devs = calloc(c->n_devices ? c->n_devices : 1, sizeof(*s->devs));
	if (!s->devs)
		return -ENOMEM;
	for (i = 0; i < c->n_devices; i++) {
		const struct cfg_device *d = &c->devices[i];
		struct device_rt *rt = &s->devs[i];

		rt->points = calloc(d->n_points ? d->n_points : 1, sizeof(*rt->points));
		rt->values = calloc(d->profile->n_values ? d->profile->n_values : 1,
				    sizeof(*rt->values));
		if (!rt->points || !rt->values)
			return -ENOMEM;
		rt->state = PSTATE_UNKNOWN;
		rt->state_dirty = true;
		for (j = 0; j < d->n_points; j++) {
			detect_state_init(&rt->points[j].det);
			rt->points[j].state = PSTATE_UNKNOWN;
			rt->points[j].since_ms = started_ms;
		}
	}
	return 0;
}

void site_clear(struct site *s)
{
	size_t i;

	for (i = 0; s->devs && i < s->cfg->n_devices; i++) {
		free(s->devs[i].points);
		free(s->devs[i].values);
	}
	free(s->devs);
	s->devs = NULL;
}

void site_topic(const struct site *s, const char *kind, const char *dev, char *buf, size_t len)
{
	if (dev)
		snprintf(buf, len, "%s/%s/%s", s->topic_root, kind, dev);
	else
		snprintf(buf, len, "%s/%s", s->topic_root, kind);
}

void site_point_key(const struct site *s, int dev, int pt, char *buf, size_t len)
{
	if (dev < 0)
		snprintf(buf, len, "gateway");
	else if (pt < 0)
		snprintf(buf, len, "%s", s->cfg->devices[dev].id); /* device-level events */
	else
		snprintf(buf, len, "%s.%s", s->cfg->devices[dev].id,
			 s->cfg->devices[dev].points[pt].name);
}

int site_find_point(const struct cfg_device *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_points; i++)
		if (strcmp(d->points[i].name, name) == 0)
			return (int)i;
	return -1;
}

int site_resolve_target(const struct site *s, const char *target, int *ret_dev, int *ret_pt,
			char *why, size_t len)
{
	char devname[CONFIG_ID_MAX];
	const char *dot;
	size_t n;

	if (!target || !target[0]) {
		snprintf(why, len, "a target is DEVICE or DEVICE.POINT");
		return -ENOENT;
	}
	/* the point is read from the target itself, never from a copy cut to
	 * the device buffer: "D.fireXYZ" must not name D.fire */
	dot = strchr(target, '.');
	n = dot ? (size_t)(dot - target) : strlen(target);
	*ret_dev = -1;
	if (n < sizeof(devname)) {
		memcpy(devname, target, n);
		devname[n] = '\0';
		*ret_dev = config_device_index(s->cfg, devname);
	}
	if (*ret_dev < 0) {
		char esc[96];

		util_escape(target, n, esc, sizeof(esc));
		snprintf(why, len, "no device '%s' in the configuration", esc);
		return -ENOENT;
	}
	*ret_pt = -1;
	if (dot) {
		*ret_pt = site_find_point(&s->cfg->devices[*ret_dev], dot + 1);
		if (*ret_pt < 0) {
			char esc[96];

			util_escape(dot + 1, strlen(dot + 1), esc, sizeof(esc));
			snprintf(why, len, "device '%s' has no point '%s'", devname, esc);
			return -ENOENT;
		}
	}
	return 0;
}

enum point_state site_point_state(const struct point_rt *p)
{
	return point_state_derive(detect_point_state(&p->det), &p->mode);
}

void site_update_device(struct site *s, int dev, int64_t now_wall_ms)
{
	const struct cfg_device *d = &s->cfg->devices[dev];
	struct device_rt *rt = &s->devs[dev];
	enum point_state worst = PSTATE_NORMAL;
	size_t i;

	for (i = 0; i < d->n_points; i++) {
		struct point_rt *p = &rt->points[i];
		enum point_state st = site_point_state(p);

		if (st != p->state) {
			p->state = st;
			p->since_ms = now_wall_ms;
			rt->state_dirty = true;
		}
		worst = point_state_worst(worst, st);
	}
	if (worst != rt->state) {
		rt->state = worst;
		rt->state_dirty = true;
	}
}

const char *site_quality(const struct site *s, int dev, int vi, uint64_t now_mono)
{
	const struct value_rt *v = &s->devs[dev].values[vi];
	uint64_t stale_after = (uint64_t)s->cfg->devices[dev].poll_ms * 2u;

	if (!v->good_mono || now_mono - v->good_mono > stale_after)
		return v->good_mono && !v->last_ok ? "bad" : "stale";
	return v->last_ok ? "good" : "bad";
}

int site_pstate_fill(const struct site *s, int dev, int pt, struct store_point_state *ps)
{
	const struct point_rt *p = &s->devs[dev].points[pt];

	memset(ps, 0, sizeof(*ps));
	site_point_key(s, dev, pt, ps->key, sizeof(ps->key));
	ps->conditions = p->det.conditions;
	ps->latched = p->det.latched;
	ps->alarm_causes = p->det.alarm_causes;
	ps->prealarm_causes = p->det.prealarm_causes;
	memcpy(ps->fault_causes, p->det.fault_causes, sizeof(ps->fault_causes));
	ps->since_ms = p->since_ms;
	ps->last_seq = p->last_seq;
	return point_mode_format(&p->mode, ps->mode, sizeof(ps->mode));
}

int site_point_save(struct site *s, store *st, int dev, int pt)
{
	struct store_point_state ps;
	int r;

	s->devs[dev].state_dirty = true;
	r = site_pstate_fill(s, dev, pt, &ps);
	if (r == 0)
		r = store_point_state_save(st, &ps);
	if (r < 0)
		log_error("cannot save the state of '%s.%s': %s; it is saved with its next change",
			  s->cfg->devices[dev].id, s->cfg->devices[dev].points[pt].name,
			  strerror(-r));
	else
		s->devs[dev].points[pt].stored = true;
	return r;
}

/* The stored mode is restored as it was; the deadlines start again from
 * now: a test that ended while the gateway was down ends at once. */
static void mode_restore(struct point_rt *p, const char *mode)
{
	int64_t left;

	if (point_mode_parse(mode, &p->mode) < 0) {
		char esc[80];

		log_warning("stored operating mode '%s' is not readable; the point is back in "
			    "normal service", util_escape(mode, strlen(mode), esc, sizeof(esc)));
		return;
	}
	left = p->mode.test_until_ms - util_wall_ms();
	if (point_in_test(&p->mode))
		p->test_end_mono = util_mono_ms() + (uint64_t)(left > 0 ? left : 0);
	if (p->mode.disabled)
		p->dis_remind_mono = util_mono_ms() + 24ull * 3600 * 1000;
}

int site_restore(struct site *s, const struct store_point_state *ps, char *ret_dev_id,
		 size_t len)
{
	const char *dot = strchr(ps->key, '.');
	struct point_rt *p;
	int d, pt;

	if (!dot || (size_t)(dot - ps->key) >= len)
		return -ENOENT;
	memcpy(ret_dev_id, ps->key, (size_t)(dot - ps->key));
	ret_dev_id[dot - ps->key] = '\0';
	d = config_device_index(s->cfg, ret_dev_id);
	if (d < 0)
		return -ENODEV;
	pt = site_find_point(&s->cfg->devices[d], dot + 1);
	if (pt < 0)
		return -ENOENT;
	p = site_point(s, d, pt);
	detect_restore(&p->det, ps->conditions, ps->latched, ps->alarm_causes,
		       ps->prealarm_causes, ps->fault_causes);
	p->since_ms = ps->since_ms;
	p->last_seq = ps->last_seq;
	p->stored = true;
	mode_restore(p, ps->mode);
	return 0;
}
