/* point.c - the derived state of an alarm point and its stored operating
 * mode (point.h). Pure functions, callable from any thread. */
#include "point.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum point_state point_state_derive(enum point_state detected, const struct point_mode *m)
{
	if (m && m->disabled)
		return PSTATE_DISABLED;
	if (m && point_in_test(m))
		return detected == PSTATE_FAULT ? PSTATE_FAULT : PSTATE_TEST;
	return detected;
}

enum point_state point_state_worst(enum point_state a, enum point_state b)
{
	/* the enum is declared in order of severity */
	return a > b ? a : b;
}

int point_mode_format(const struct point_mode *m, char *buf, size_t len)
{
	json_t *o;
	char *str;
	int r = 0;

	if (!m || !buf || len == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (!point_in_test(m) && !m->disabled)
		return 0;
	o = json_object();
	if (!o)
		return -ENOMEM;
	if (point_in_test(m)) {
		json_object_set_new(o, "test_until", json_integer(m->test_until_ms));
		json_object_set_new(o, "tested", json_boolean(m->tested));
	}
	if (m->disabled) {
		json_object_set_new(o, "disabled", json_true());
		json_object_set_new(o, "reason", json_string(m->reason));
		json_object_set_new(o, "since", json_integer(m->dis_since_ms));
	}
	json_object_set_new(o, "by", json_string(m->by));
	str = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!str)
		return -ENOMEM;
	if (util_strlcpy(buf, str, len) < 0) {
		buf[0] = '\0';
		r = -ENOBUFS;
	}
	free(str);
	return r;
}

int point_mode_parse(const char *text, struct point_mode *ret)
{
	json_t *o;
	const char *v;

	if (!ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (!text || !text[0])
		return 0;
	o = json_loads(text, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	ret->test_until_ms = json_integer_value(json_object_get(o, "test_until"));
	if (ret->test_until_ms < 0)
		ret->test_until_ms = 0;
	ret->tested = point_in_test(ret) && json_is_true(json_object_get(o, "tested"));
	ret->disabled = json_is_true(json_object_get(o, "disabled"));
	if (ret->disabled) {
		v = json_string_value(json_object_get(o, "reason"));
		util_strlcpy(ret->reason, v ? v : "", sizeof(ret->reason));
		ret->dis_since_ms = json_integer_value(json_object_get(o, "since"));
	}
	v = json_string_value(json_object_get(o, "by"));
	util_strlcpy(ret->by, v ? v : "", sizeof(ret->by));
	json_decref(o);
	return 0;
}
