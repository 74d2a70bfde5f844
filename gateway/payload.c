/* payload.c - the state, status, will and telemetry payloads (payload.h).
 * Pure functions of their arguments; any thread. */
#include "payload.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "util.h"

static json_t *conditions_json(uint32_t conds)
{
	json_t *a = json_array();
	uint32_t bit;

	for (bit = 1; bit && bit <= COND_CHATTERING; bit <<= 1)
		if (conds & bit)
			json_array_append_new(a, json_string(cond_name(bit)));
	return a;
}

json_t *payload_value(const struct site *s, int dev, int vi, uint64_t now_mono)
{
	const struct profile_value *pv = &s->cfg->devices[dev].profile->values[vi];
	const struct value_rt *v = &s->devs[dev].values[vi];
	char ts[UTIL_TS_LEN];
	json_t *o = json_object();

	if (v->good_mono)
		json_object_set_new(o, "value", json_real(round(v->r.value * 1e6) / 1e6));
	else
		json_object_set_new(o, "value", json_null());
	json_object_set_new(o, "unit", json_string(pv->unit));
	json_object_set_new(o, "quality", json_string(site_quality(s, dev, vi, now_mono)));
	if (v->good_mono)
		json_object_set_new(o, "ts", json_string(util_rfc3339(v->ts_ms, ts)));
	return o;
}

char *payload_device_state(const struct site *s, int dev, uint64_t now_mono, int64_t now_wall,
			   bool time_synced, size_t *ret_len)
{
	const struct cfg_device *d = &s->cfg->devices[dev];
	const struct device_rt *rt = &s->devs[dev];
	char ts[UTIL_TS_LEN];
	json_t *o = json_object(), *pts = json_object(), *vals = json_object();
	size_t i;

	json_object_set_new(o, "schema", json_string(STATE_SCHEMA));
	json_object_set_new(o, "site", json_string(s->cfg->site.id));
	json_object_set_new(o, "device", json_string(d->id));
	json_object_set_new(o, "state", json_string(point_state_name(rt->state)));
	json_object_set_new(o, "profile", json_string(d->profile_name));
	json_object_set_new(o, "bus", json_string(s->cfg->buses[d->bus].id));
	json_object_set_new(o, "unit", json_integer(d->unit));
	if (d->zone[0])
		json_object_set_new(o, "zone", json_string(d->zone));
	if (d->location[0])
		json_object_set_new(o, "location", json_string(d->location));
	for (i = 0; i < d->n_points; i++) {
		const struct cfg_point *cp = &d->points[i];
		const struct point_rt *p = &rt->points[i];
		json_t *po = json_object();

		json_object_set_new(po, "state", json_string(point_state_name(p->state)));
		/* "conditions" lists what holds now: a latched alarm whose fire
		 * condition went away shows as latched, not as a condition */
		json_object_set_new(po, "conditions",
				    conditions_json(p->det.conditions &
						    ~(p->det.latched ? (uint32_t)COND_ALARM : 0u)));
		json_object_set_new(po, "latched", json_boolean(p->det.latched));
		json_object_set_new(po, "since", json_string(util_rfc3339(p->since_ms, ts)));
		if (cp->zone[0])
			json_object_set_new(po, "zone", json_string(cp->zone));
		if (cp->zone_no)
			json_object_set_new(po, "zone_no", json_integer(cp->zone_no));
		if (cp->location[0])
			json_object_set_new(po, "location", json_string(cp->location));
		if (cp->value >= 0)
			json_object_set_new(po, "value", payload_value(s, dev, cp->value, now_mono));
		if (point_in_test(&p->mode))
			json_object_set_new(po, "test_until",
					    json_string(util_rfc3339(p->mode.test_until_ms, ts)));
		if (p->mode.disabled)
			json_object_set_new(po, "disabled",
					    json_pack("{s:s, s:s, s:s}", "reason", p->mode.reason,
						      "by", p->mode.by, "since",
						      util_rfc3339(p->mode.dis_since_ms, ts)));
		json_object_set_new(pts, cp->name, po);
	}
	json_object_set_new(o, "points", pts);
	for (i = 0; i < d->profile->n_values; i++)
		json_object_set_new(vals, d->profile->values[i].name,
				    payload_value(s, dev, (int)i, now_mono));
	json_object_set_new(o, "values", vals);
	json_object_set_new(o, "ts", json_string(util_rfc3339(now_wall, ts)));
	json_object_set_new(o, "time_synced", json_boolean(time_synced));
	return event_dump(o, ret_len);
}

void payload_count_points(const struct site *s, struct status_info *si)
{
	size_t i, j;

	memset(si->counts, 0, sizeof(si->counts));
	si->total = 0;
	for (i = 0; i < s->cfg->n_devices; i++)
		for (j = 0; j < s->cfg->devices[i].n_points; j++) {
			si->counts[s->devs[i].points[j].state]++;
			si->total++;
		}
}

json_t *payload_status(const struct status_info *si)
{
	const struct config *c = si->cfg;
	char ts[UTIL_TS_LEN];
	json_t *o = json_object(), *pts, *backlog;
	size_t i;

	json_object_set_new(o, "schema", json_string(STATUS_SCHEMA));
	json_object_set_new(o, "site", json_string(c->site.id));
	json_object_set_new(o, "facility_id", json_string(c->site.facility_id));
	json_object_set_new(o, "state", json_string(si->state));
	if (si->reason)
		json_object_set_new(o, "reason", json_string(si->reason));
	json_object_set_new(o, "version", json_string(si->version));
	json_object_set_new(o, "epoch", json_string(si->epoch));
	json_object_set_new(o, "started", json_string(util_rfc3339(si->started_ms, ts)));
	json_object_set_new(o, "ts", json_string(util_rfc3339(si->now_ms, ts)));
	json_object_set_new(o, "next_heartbeat_s", json_integer(c->mqtt.heartbeat_s));
	json_object_set_new(o, "last_seq", json_integer((json_int_t)si->last_seq));
	backlog = json_object();
	json_object_set_new(backlog, "events", json_integer(si->backlog_events));
	json_object_set_new(backlog, "telemetry", json_integer(si->backlog_telemetry));
	json_object_set_new(o, "backlog", backlog);
	json_object_set_new(o, "oldest_unsent_s",
			    json_integer(si->oldest_unsent_ms && si->now_ms > si->oldest_unsent_ms
						 ? (si->now_ms - si->oldest_unsent_ms) / 1000
						 : 0));
	pts = json_object();
	json_object_set_new(pts, "total", json_integer((json_int_t)si->total));
	for (i = 0; i < PSTATE_MAX; i++)
		json_object_set_new(pts, point_state_name((enum point_state)i),
				    json_integer(si->counts[i]));
	json_object_set_new(o, "points", pts);
	json_object_set_new(o, "time_synced", json_boolean(si->time_synced));
	json_object_set_new(o, "config_sha256", json_string(c->sha256));
	if (si->broker)
		json_object_set_new(o, "broker", json_string(si->broker));
	return o;
}

char *payload_will(const char *site, size_t *ret_len)
{
	return event_dump(json_pack("{s:s, s:s, s:s, s:s}", "schema", STATUS_SCHEMA, "site", site,
				    "state", "offline", "reason", "connection lost"),
			  ret_len);
}

char *payload_telemetry(const struct site *s, uint64_t now_mono, int64_t now_wall,
			size_t *ret_len)
{
	char ts[UTIL_TS_LEN];
	json_t *o = json_object(), *arr = json_array();
	size_t i, j;

	json_object_set_new(o, "schema", json_string(TELEMETRY_SCHEMA));
	json_object_set_new(o, "site", json_string(s->cfg->site.id));
	json_object_set_new(o, "ts", json_string(util_rfc3339(now_wall, ts)));
	for (i = 0; i < s->cfg->n_devices; i++) {
		const struct cfg_device *d = &s->cfg->devices[i];

		for (j = 0; j < d->profile->n_values; j++) {
			const struct value_rt *v = &s->devs[i].values[j];
			json_t *r;

			if (!v->good_mono)
				continue;
			r = json_pack("{s:s, s:s, s:f, s:s, s:s}", "device", d->id, "name",
				      d->profile->values[j].name, "value",
				      round(v->r.value * 1e6) / 1e6, "unit",
				      d->profile->values[j].unit, "quality",
				      site_quality(s, (int)i, (int)j, now_mono));
			if (!r)
				continue;
			json_object_set_new(r, "ts", json_string(util_rfc3339(v->ts_ms, ts)));
			json_array_append_new(arr, r);
		}
	}
	json_object_set_new(o, "readings", arr);
	return event_dump(o, ret_len);
}
