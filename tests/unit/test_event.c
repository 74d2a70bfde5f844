/* test_event.c - unit tests of gateway/event.c: the Contact ID table
 * (SPEC §3, every class / condition / kind, qualifiers 1 and 3), event
 * types, event_id, and the event payload: exact bytes for the SPEC
 * example, then parsed back with jansson for field order, presence of the
 * optional fields, number rounding, UTF-8 and the timestamp. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "event.h"
#include "util.h"

/* ---- Contact ID ---- */

static void test_cid_none(void **state)
{
	static const struct {
		enum event_class cls;
		uint32_t cond;
		enum point_kind kind;
	} none[] = {
	    {EVCLASS_RECORD, COND_ALARM, PKIND_SMOKE},
	    {EVCLASS_SYSTEM, COND_ALARM, PKIND_SMOKE},
	    {EVCLASS_SYSTEM, 0, PKIND_INVALID},
	    {EVCLASS_INVALID, COND_ALARM, PKIND_SMOKE},
	    {EVCLASS_MAX, COND_ALARM, PKIND_SMOKE},
	    {EVCLASS_FAULT, 0, PKIND_SMOKE},	      /* no condition */
	    {EVCLASS_FAULT, COND_ALARM, PKIND_SMOKE}, /* not a fault */
	    {EVCLASS_FAULT, COND_PREALARM, PKIND_SMOKE},
	    {EVCLASS_FAULT, COND_COMM_LOSS | COND_TAMPER, PKIND_SMOKE}, /* not one bit */
	    {EVCLASS_FAULT, 1u << 20, PKIND_SMOKE},
	    {EVCLASS_TEST, COND_COMM_LOSS, PKIND_SMOKE}, /* test: only fire/pre */
	    {EVCLASS_TEST, 0, PKIND_SMOKE},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(none); i++) {
		char buf[5] = "xxxx";
		int active;

		for (active = 0; active < 2; active++)
			if (event_cid_point(none[i].cls, none[i].cond, none[i].kind, active, buf))
				fail_msg("case %zu (class %d cond 0x%x kind %d) has code \"%s\"", i,
					 none[i].cls, none[i].cond, none[i].kind, buf);
	}
	{
		char buf[5];

		assert_null(event_cid_gateway(GWEV_INVALID, true, buf));
		assert_null(event_cid_gateway(GWEV_MAX, true, buf));
		assert_null(event_cid_gateway(GWEV_MAX, false, buf));
	}
}

static void test_cid_point_table(void **state)
{
	static const struct {
		enum event_class cls;
		uint32_t cond;
		enum point_kind kind;
		const char *code; /* new; restore has the same with '3' */
	} table[] = {
	    /* fire: smoke / heat / panel fire input or unknown kind */
	    {EVCLASS_ALARM, COND_ALARM, PKIND_SMOKE, "1111"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_HEAT, "1114"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_TEMPERATURE, "1114"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_FIRE, "1110"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_INPUT, "1110"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_INVALID, "1110"},
	    /* pre-alarm, whatever the kind */
	    {EVCLASS_PREALARM, COND_PREALARM, PKIND_SMOKE, "1118"},
	    {EVCLASS_PREALARM, COND_PREALARM, PKIND_HEAT, "1118"},
	    {EVCLASS_PREALARM, COND_PREALARM, PKIND_INPUT, "1118"},
	    /* faults */
	    {EVCLASS_FAULT, COND_SENSOR_FAULT, PKIND_SMOKE, "1380"}, /* also out of range */
	    {EVCLASS_FAULT, COND_CHATTERING, PKIND_HEAT, "1380"},
	    {EVCLASS_FAULT, COND_COMM_LOSS, PKIND_SMOKE, "1381"},
	    {EVCLASS_FAULT, COND_COMM_LOSS, PKIND_INPUT, "1381"},
	    {EVCLASS_FAULT, COND_TAMPER, PKIND_SMOKE, "1383"},
	    {EVCLASS_FAULT, COND_PANEL_FAULT, PKIND_INPUT, "1373"},
	    {EVCLASS_FAULT, COND_POWER_FAULT, PKIND_INPUT, "1301"},
	    /* points in test keep the code of what they reported */
	    {EVCLASS_TEST, COND_ALARM, PKIND_SMOKE, "1111"},
	    {EVCLASS_TEST, COND_ALARM, PKIND_HEAT, "1114"},
	    {EVCLASS_TEST, COND_ALARM, PKIND_INPUT, "1110"},
	    {EVCLASS_TEST, COND_PREALARM, PKIND_SMOKE, "1118"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(table); i++) {
		char buf[5], restore[5];
		char *r;

		memset(buf, 'x', sizeof(buf));
		r = event_cid_point(table[i].cls, table[i].cond, table[i].kind, true, buf);
		if (!r || r != buf || strcmp(buf, table[i].code) != 0)
			fail_msg("case %zu: new code \"%s\", want \"%s\"", i, r ? r : "(null)",
				 table[i].code);
		memcpy(restore, table[i].code, sizeof(restore));
		restore[0] = '3';
		memset(buf, 'x', sizeof(buf));
		r = event_cid_point(table[i].cls, table[i].cond, table[i].kind, false, buf);
		if (!r || strcmp(buf, restore) != 0)
			fail_msg("case %zu: restore code \"%s\", want \"%s\"", i, r ? r : "(null)",
				 restore);
	}
}

static void test_cid_gateway_table(void **state)
{
	static const struct {
		enum gw_event e;
		const char *code;
		const char *type;
	} table[] = {
	    {GWEV_UPLINK_LOST, "1350", "uplink_lost"},
	    {GWEV_ACK_TIMEOUT, "1354", "ack_timeout"},
	    {GWEV_STORAGE_FULL, "1623", "storage_full"},
	    {GWEV_STORAGE_FAULT, "1624", "storage_fault"},
	    {GWEV_CLOCK, "1626", "clock"},
	};
	size_t i;

	(void)state;
	assert_int_equal(ARRAY_SIZE(table), GWEV_MAX); /* every gateway event has a code */
	for (i = 0; i < ARRAY_SIZE(table); i++) {
		char buf[5], restore[5];

		assert_ptr_equal(event_cid_gateway(table[i].e, true, buf), buf);
		assert_string_equal(buf, table[i].code);
		memcpy(restore, table[i].code, sizeof(restore));
		restore[0] = '3';
		assert_non_null(event_cid_gateway(table[i].e, false, buf));
		assert_string_equal(buf, restore);
		assert_string_equal(gw_event_type(table[i].e), table[i].type);
	}
	assert_string_equal(gw_event_type(GWEV_INVALID), "invalid");
	assert_string_equal(gw_event_type(GWEV_MAX), "invalid");
}

static void test_type_point(void **state)
{
	static const struct {
		enum event_class cls;
		uint32_t cond;
		enum point_kind kind;
		const char *type;
	} table[] = {
	    {EVCLASS_ALARM, COND_ALARM, PKIND_SMOKE, "smoke"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_HEAT, "heat"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_FIRE, "fire"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_TEMPERATURE, "temperature"},
	    {EVCLASS_ALARM, COND_ALARM, PKIND_INPUT, "fire"}, /* a panel's fire output */
	    {EVCLASS_PREALARM, COND_PREALARM, PKIND_SMOKE, "smoke"},
	    {EVCLASS_TEST, COND_ALARM, PKIND_HEAT, "heat"},
	    {EVCLASS_FAULT, COND_COMM_LOSS, PKIND_SMOKE, "comm_loss"},
	    {EVCLASS_FAULT, COND_SENSOR_FAULT, PKIND_HEAT, "sensor_fault"},
	    {EVCLASS_FAULT, COND_TAMPER, PKIND_SMOKE, "tamper"},
	    {EVCLASS_FAULT, COND_PANEL_FAULT, PKIND_INPUT, "panel_fault"},
	    {EVCLASS_FAULT, COND_POWER_FAULT, PKIND_INPUT, "power_fault"},
	    {EVCLASS_FAULT, COND_CHATTERING, PKIND_SMOKE, "chattering"},
	};
	size_t i;

	(void)state;
	/* no name for a fault that is not one condition */
	assert_null(event_type_point(EVCLASS_FAULT, COND_TAMPER | COND_COMM_LOSS, PKIND_SMOKE));
	assert_null(event_type_point(EVCLASS_FAULT, 0, PKIND_SMOKE));
	for (i = 0; i < ARRAY_SIZE(table); i++) {
		const char *t = event_type_point(table[i].cls, table[i].cond, table[i].kind);

		if (!t || strcmp(t, table[i].type) != 0)
			fail_msg("case %zu: type \"%s\", want \"%s\"", i, t ? t : "(null)",
				 table[i].type);
	}
}

static void test_event_id(void **state)
{
	char buf[96], small[12];

	(void)state;
	/* too small a buffer: cut, still terminated, nothing written past it */
	memset(small, 'x', sizeof(small));
	assert_ptr_equal(event_id("cho-my-tho-a", "7f3a9c01", 1042, small, 10), small);
	assert_string_equal(small, "cho-my-th");
	assert_int_equal(small[10], 'x');

	assert_string_equal(event_id("cho-my-tho-a", "7f3a9c01", 1042, buf, sizeof(buf)),
			    "cho-my-tho-a:7f3a9c01:1042");
	assert_string_equal(event_id("s", "00000000", 0, buf, sizeof(buf)), "s:00000000:0");
	assert_string_equal(event_id("s", "ffffffff", UINT64_MAX, buf, sizeof(buf)),
			    "s:ffffffff:18446744073709551615");
}

/* ---- payload ---- */

static struct event_info spec_example(void)
{
	/* SPEC §3, the example event */
	struct event_info e = {
	    .site = "cho-my-tho-a",
	    .epoch = "7f3a9c01",
	    .seq = 1042,
	    .cls = EVCLASS_ALARM,
	    .type = "smoke",
	    .active = true,
	    .cid = "1111",
	    .device = "smoke-a1",
	    .point = "fire",
	    .zone = "khu-a",
	    .zone_no = 12,
	    .location = "Khu A, l\xc3\xb4 12",
	    .causes = CAUSE_THRESHOLD,
	    .has_value = true,
	    .value = 4.8,
	    .unit = "%/m",
	    .threshold = 4.0,
	    .ts_ms = 1795831906123,
	    .time_synced = true,
	};

	return e;
}

/* The minimum: every optional field absent. */
static struct event_info bare_event(void)
{
	struct event_info e = {
	    .site = "s1",
	    .epoch = "00c0ffee",
	    .seq = 7,
	    .cls = EVCLASS_SYSTEM,
	    .active = false,
	    .threshold = NAN,
	    .ts_ms = 0,
	};

	return e;
}

static json_t *payload_json(const struct event_info *e, char **ret_text)
{
	json_error_t err;
	size_t len = 0;
	char *s = event_payload(e, &len);
	json_t *o;

	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	o = json_loads(s, JSON_REJECT_DUPLICATES, &err);
	if (!o)
		fail_msg("payload is not JSON (%s): %s", err.text, s);
	assert_true(json_is_object(o));
	if (ret_text)
		*ret_text = s;
	else
		free(s);
	return o;
}

/* The keys of o, in document order, joined by ','. */
static void key_order(json_t *o, char *buf, size_t len)
{
	const char *k;
	json_t *v;
	size_t off = 0;

	buf[0] = '\0';
	json_object_foreach(o, k, v)
	{
		(void)v;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", k);
		assert_true(off < len);
	}
}

static void test_payload_spec_example_bytes(void **state)
{
	struct event_info e = spec_example();
	size_t len = 0, len2 = 0;
	char *s, *s2;

	(void)state;
	s = event_payload(&e, &len);
	assert_non_null(s);
	assert_string_equal(
	    s, "{\"schema\":\"firegw.event.v1\",\"event_id\":\"cho-my-tho-a:7f3a9c01:1042\","
	       "\"site\":\"cho-my-tho-a\",\"seq\":1042,\"class\":\"alarm\",\"type\":\"smoke\","
	       "\"state\":\"active\",\"cid\":\"1111\",\"device\":\"smoke-a1\",\"point\":\"fire\","
	       "\"zone\":\"khu-a\",\"zone_no\":12,\"location\":\"Khu A, l\xc3\xb4 12\","
	       "\"causes\":[\"threshold\"],\"value\":4.8,\"unit\":\"%/m\",\"threshold\":4.0,"
	       "\"ts\":\"2026-11-28T02:11:46.123Z\",\"time_synced\":true}");
	assert_int_equal(len, strlen(s));
	/* the same event always gives the same bytes */
	s2 = event_payload(&e, &len2);
	assert_non_null(s2);
	assert_int_equal(len, len2);
	assert_memory_equal(s, s2, len);
	free(s);
	free(s2);
}

static void test_payload_field_order_full(void **state)
{
	struct event_info e = spec_example();
	char order[512];
	json_t *o;

	(void)state;
	e.by = "Nguyen Van A";
	e.note = "kiểm tra";
	e.causes = CAUSE_DEVICE_FLAG | CAUSE_THRESHOLD | CAUSE_RATE_OF_RISE | CAUSE_INPUT |
		   CAUSE_COMM | CAUSE_RANGE | CAUSE_MANUAL;
	o = payload_json(&e, NULL);
	key_order(o, order, sizeof(order));
	assert_string_equal(order, "schema,event_id,site,seq,class,type,state,cid,device,point,"
				   "zone,zone_no,location,causes,value,unit,threshold,by,note,ts,"
				   "time_synced");
	/* every cause, low bit first */
	{
		static const char *const causes[] = {
		    "device_flag", "threshold", "rate_of_rise", "input", "comm", "range", "manual"};
		json_t *a = json_object_get(o, "causes");
		size_t i;

		assert_true(json_is_array(a));
		assert_int_equal(json_array_size(a), ARRAY_SIZE(causes));
		for (i = 0; i < ARRAY_SIZE(causes); i++)
			assert_string_equal(json_string_value(json_array_get(a, i)), causes[i]);
	}
	assert_string_equal(json_string_value(json_object_get(o, "by")), "Nguyen Van A");
	assert_string_equal(json_string_value(json_object_get(o, "note")), "kiểm tra");
	json_decref(o);
}

static void test_payload_optional_fields_omitted(void **state)
{
	struct event_info e = bare_event();
	char order[512];
	json_t *o;

	(void)state;
	o = payload_json(&e, NULL);
	key_order(o, order, sizeof(order));
	/* causes is always there, if empty */
	assert_string_equal(order, "schema,event_id,site,seq,class,state,causes,ts,time_synced");
	assert_int_equal(json_array_size(json_object_get(o, "causes")), 0);
	assert_string_equal(json_string_value(json_object_get(o, "class")), "system");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "cleared");
	assert_string_equal(json_string_value(json_object_get(o, "event_id")), "s1:00c0ffee:7");
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 7);
	assert_string_equal(json_string_value(json_object_get(o, "ts")),
			    "1970-01-01T00:00:00.000Z");
	assert_true(json_is_false(json_object_get(o, "time_synced")));
	json_decref(o);

	/* empty strings and zone_no 0 count as absent; a unit without a value,
	 * a value that is not finite and a NAN threshold are left out too */
	e.zone = "";
	e.location = "";
	e.zone_no = 0;
	e.unit = "%/m";
	e.has_value = false;
	e.value = 3.0;
	o = payload_json(&e, NULL);
	key_order(o, order, sizeof(order));
	assert_string_equal(order, "schema,event_id,site,seq,class,state,causes,ts,time_synced");
	json_decref(o);

	e.has_value = true;
	e.value = NAN;
	o = payload_json(&e, NULL);
	assert_null(json_object_get(o, "value"));
	assert_null(json_object_get(o, "unit"));
	json_decref(o);
	e.value = INFINITY;
	o = payload_json(&e, NULL);
	assert_null(json_object_get(o, "value"));
	json_decref(o);

	e.zone_no = -3; /* not a zone number */
	o = payload_json(&e, NULL);
	assert_null(json_object_get(o, "zone_no"));
	json_decref(o);

	/* a value without a unit */
	e.value = 21.5;
	e.unit = NULL;
	o = payload_json(&e, NULL);
	key_order(o, order, sizeof(order));
	assert_string_equal(order,
			    "schema,event_id,site,seq,class,state,causes,value,ts,time_synced");
	json_decref(o);
	e.unit = "";
	o = payload_json(&e, NULL);
	assert_null(json_object_get(o, "unit"));
	json_decref(o);
}

static void test_payload_numbers(void **state)
{
	static const struct {
		double in;
		const char *text; /* as it must appear in the bytes */
	} values[] = {
	    {4.8, "4.8"},	  {4.0, "4.0"},	    {0.1 + 0.2, "0.3"}, /* no 0.30000000000000004 */
	    {57.3, "57.3"},	  {-40.0, "-40.0"}, {21.123456789, "21.123457"}, /* 6 decimals */
	    {65535.0, "65535.0"}, {0.0, "0.0"},	    {1e-7, "0.0"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(values); i++) {
		struct event_info e = bare_event();
		char want[64], *s;
		json_t *o;

		e.has_value = true;
		e.value = values[i].in;
		e.threshold = values[i].in;
		o = payload_json(&e, &s);
		snprintf(want, sizeof(want), "\"value\":%s,", values[i].text);
		if (!strstr(s, want))
			fail_msg("value %.17g: want %s in %s", values[i].in, want, s);
		snprintf(want, sizeof(want), "\"threshold\":%s,", values[i].text);
		if (!strstr(s, want))
			fail_msg("threshold %.17g: want %s in %s", values[i].in, want, s);
		assert_true(json_is_real(json_object_get(o, "value")));
		free(s);
		json_decref(o);
	}
}

static void test_payload_strings(void **state)
{
	struct event_info e = spec_example();
	json_t *o;
	char *s;

	(void)state;
	/* UTF-8 goes through as UTF-8, not as \u escapes */
	e.location = "T\xe1\xbb\xa7 trung t\xc3\xa2m, v\xc3\xb9ng 1 \xe2\x80\x94 Ch\xe1\xbb\xa3 "
		     "M\xe1\xbb\xb9 Tho";
	e.zone = "khu-b";
	o = payload_json(&e, &s);
	assert_string_equal(json_string_value(json_object_get(o, "location")), e.location);
	assert_non_null(strstr(s, e.location));
	free(s);
	json_decref(o);

	/* quotes, backslashes and control characters are escaped, never raw */
	e.note = "say \"hi\"\\\n\t";
	o = payload_json(&e, &s);
	assert_string_equal(json_string_value(json_object_get(o, "note")), e.note);
	assert_null(strchr(s, '\n'));
	assert_null(strchr(s, '\t'));
	free(s);
	json_decref(o);
}

static void test_payload_classes_and_ts(void **state)
{
	static const struct {
		enum event_class cls;
		const char *name;
	} classes[] = {
	    {EVCLASS_ALARM, "alarm"}, {EVCLASS_PREALARM, "prealarm"}, {EVCLASS_FAULT, "fault"},
	    {EVCLASS_TEST, "test"},   {EVCLASS_RECORD, "record"},     {EVCLASS_SYSTEM, "system"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(classes); i++) {
		struct event_info e = bare_event();
		json_t *o;

		e.cls = classes[i].cls;
		e.active = true;
		e.ts_ms = 1795831906000 + (int64_t)i;
		o = payload_json(&e, NULL);
		assert_string_equal(json_string_value(json_object_get(o, "class")),
				    classes[i].name);
		assert_string_equal(json_string_value(json_object_get(o, "state")), "active");
		{
			char want[UTIL_TS_LEN];
			int64_t back = 0;
			const char *ts = json_string_value(json_object_get(o, "ts"));

			snprintf(want, sizeof(want), "2026-11-28T02:11:46.00%zuZ", i);
			assert_string_equal(ts, want);
			assert_int_equal(util_parse_rfc3339(ts, &back), 0);
			assert_true(back == e.ts_ms);
		}
		json_decref(o);
	}
}

static void test_dump(void **state)
{
	size_t len = 99;
	json_t *o;
	char *s;

	(void)state;
	assert_null(event_dump(NULL, &len));
	assert_int_equal(len, 99);
	/* insertion order kept, compact, the reference taken */
	o = json_object();
	json_object_set_new(o, "z", json_integer(1));
	json_object_set_new(o, "a", json_real(2.5));
	json_object_set_new(o, "m", json_pack("[s,b]", "x", 1));
	s = event_dump(o, &len);
	assert_string_equal(s, "{\"z\":1,\"a\":2.5,\"m\":[\"x\",true]}");
	assert_int_equal(len, strlen(s));
	free(s);
	s = event_dump(json_object(), NULL);
	assert_string_equal(s, "{}");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cid_none),
	    cmocka_unit_test(test_cid_point_table),
	    cmocka_unit_test(test_cid_gateway_table),
	    cmocka_unit_test(test_type_point),
	    cmocka_unit_test(test_event_id),
	    cmocka_unit_test(test_payload_spec_example_bytes),
	    cmocka_unit_test(test_payload_field_order_full),
	    cmocka_unit_test(test_payload_optional_fields_omitted),
	    cmocka_unit_test(test_payload_numbers),
	    cmocka_unit_test(test_payload_strings),
	    cmocka_unit_test(test_payload_classes_and_ts),
	    cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
