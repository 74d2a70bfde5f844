/* event.c - event payloads and Contact ID codes (SPEC §3). Pure functions
 * over jansson; no state. The mapping table is also in docs/mqtt.md. */
#include "event.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

const char *gw_event_type(enum gw_event e)
{
	static const char *const names[GWEV_MAX] = {
		[GWEV_UPLINK_LOST] = "uplink_lost",     [GWEV_ACK_TIMEOUT] = "ack_timeout",
		[GWEV_STORAGE_FULL] = "storage_full",   [GWEV_STORAGE_FAULT] = "storage_fault",
		[GWEV_CLOCK] = "clock",
	};

	return e >= 0 && e < GWEV_MAX ? names[e] : "invalid";
}

/* Event codes, SIA DC-05 (Contact ID): 1xx alarms, 3xx troubles, 6xx
 * system/test. The qualifier digit (1 new, 3 restore) is prefixed. */
static int cid_code_point(enum event_class cls, uint32_t cond, enum point_kind kind)
{
	if (cls == EVCLASS_ALARM || (cls == EVCLASS_TEST && cond == COND_ALARM)) {
		switch (kind) {
		case PKIND_SMOKE:
			return 111; /* smoke */
		case PKIND_HEAT:
		case PKIND_TEMPERATURE:
			return 114; /* heat */
		default:
			return 110; /* fire, unknown kind or panel fire input */
		}
	}
	if (cls == EVCLASS_PREALARM || (cls == EVCLASS_TEST && cond == COND_PREALARM))
		return 118; /* near alarm */
	if (cls != EVCLASS_FAULT)
		return -1;
	switch (cond) {
	case COND_SENSOR_FAULT:
	case COND_CHATTERING:
		return 380; /* sensor trouble */
	case COND_COMM_LOSS:
		return 381; /* loss of supervision, RF/bus */
	case COND_TAMPER:
		return 383; /* sensor tamper */
	case COND_PANEL_FAULT:
		return 373; /* fire trouble */
	case COND_POWER_FAULT:
		return 301; /* AC loss */
	default:
		return -1;
	}
}

static char *cid_format(int code, bool active, char buf[5])
{
	if (code < 0)
		return NULL;
	snprintf(buf, 5, "%c%03d", active ? '1' : '3', code % 1000);
	return buf;
}

char *event_cid_point(enum event_class cls, uint32_t cond, enum point_kind kind, bool active,
		      char buf[5])
{
	return cid_format(cid_code_point(cls, cond, kind), active, buf);
}

char *event_cid_gateway(enum gw_event e, bool active, char buf[5])
{
	static const int codes[GWEV_MAX] = {
		[GWEV_UPLINK_LOST] = 350,  /* communication trouble */
		[GWEV_ACK_TIMEOUT] = 354,  /* failure to communicate event */
		[GWEV_STORAGE_FULL] = 623, /* event log 90 % full */
		[GWEV_STORAGE_FAULT] = 624, /* event log overflow */
		[GWEV_CLOCK] = 626,        /* time/date inaccurate */
	};

	return e >= 0 && e < GWEV_MAX ? cid_format(codes[e], active, buf) : NULL;
}

const char *event_type_point(enum event_class cls, uint32_t cond, enum point_kind kind)
{
	if (cls == EVCLASS_FAULT)
		return cond_name(cond);
	if (kind == PKIND_INPUT)
		return "fire";
	return point_kind_name(kind);
}

char *event_id(const char *site, const char *epoch, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s:%llu", site, epoch, (unsigned long long)seq);
	return buf;
}

char *event_dump(struct json_t *obj, size_t *ret_len)
{
	char *s;

	if (!obj)
		return NULL;
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(obj);
	if (s && ret_len)
		*ret_len = strlen(s);
	return s;
}

/* Rounds to 6 significant decimals so 4.8 does not print as 4.7999999. */
static json_t *json_number(double v)
{
	return json_real(round(v * 1e6) / 1e6);
}

char *event_payload(const struct event_info *e, size_t *ret_len)
{
	char idbuf[160], ts[UTIL_TS_LEN];
	json_t *o = json_object(), *causes;
	uint32_t bit;

	if (!o)
		return NULL;
	event_id(e->site, e->epoch, e->seq, idbuf, sizeof(idbuf));
	json_object_set_new(o, "schema", json_string(EVENT_SCHEMA));
	json_object_set_new(o, "event_id", json_string(idbuf));
	json_object_set_new(o, "site", json_string(e->site));
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "class", json_string(event_class_name(e->cls)));
	if (e->type)
		json_object_set_new(o, "type", json_string(e->type));
	json_object_set_new(o, "state", json_string(e->active ? "active" : "cleared"));
	if (e->cid)
		json_object_set_new(o, "cid", json_string(e->cid));
	if (e->device)
		json_object_set_new(o, "device", json_string(e->device));
	if (e->point)
		json_object_set_new(o, "point", json_string(e->point));
	if (e->zone && e->zone[0])
		json_object_set_new(o, "zone", json_string(e->zone));
	if (e->zone_no > 0)
		json_object_set_new(o, "zone_no", json_integer(e->zone_no));
	if (e->location && e->location[0])
		json_object_set_new(o, "location", json_string(e->location));
	causes = json_array();
	for (bit = 1; bit && bit <= CAUSE_MANUAL; bit <<= 1)
		if (e->causes & bit)
			json_array_append_new(causes, json_string(cause_name(bit)));
	json_object_set_new(o, "causes", causes);
	if (e->has_value && isfinite(e->value)) {
		json_object_set_new(o, "value", json_number(e->value));
		if (e->unit && e->unit[0])
			json_object_set_new(o, "unit", json_string(e->unit));
	}
	if (isfinite(e->threshold))
		json_object_set_new(o, "threshold", json_number(e->threshold));
	if (e->by)
		json_object_set_new(o, "by", json_string(e->by));
	if (e->account)
		json_object_set_new(o, "account", json_string(e->account));
	if (e->note)
		json_object_set_new(o, "note", json_string(e->note));
	if (e->result)
		json_object_set_new(o, "result", json_string(e->result));
	if (e->date)
		json_object_set_new(o, "date", json_string(e->date));
	if (e->ref)
		json_object_set_new(o, "ref", json_string(e->ref));
	if (e->verdict)
		json_object_set_new(o, "verdict", json_string(e->verdict));
	if (e->has_counts) {
		json_object_set_new(o, "open_faults", json_integer(e->open_faults));
		json_object_set_new(o, "disablements", json_integer(e->disablements));
	}
	json_object_set_new(o, "ts", json_string(util_rfc3339(e->ts_ms, ts)));
	json_object_set_new(o, "time_synced", json_boolean(e->time_synced));
	return event_dump(o, ret_len);
}
