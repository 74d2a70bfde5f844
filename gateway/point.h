/* point.h - what an alarm point is in the eyes of its users: detection's
 * state with the operating mode (SPEC §4 test mode, disablement) laid over
 * it, and the stored form of that mode. Pure: no I/O, no clock, no globals.
 * The daemon (state messages, status counts) and every CLI command derive a
 * point's state through point_state_derive(), so the site and the center
 * never disagree. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

#define POINT_BY_MAX 65      /* who started the test / disabled the point: 64 bytes */
#define POINT_REASON_MAX 160 /* why it is disabled */

/* The operating mode of a point; all zero in normal service. */
struct point_mode {
	int64_t test_until_ms; /* wall time the test ends; 0: not in test */
	bool tested;           /* alarmed during the current test */
	bool disabled;
	int64_t dis_since_ms;
	char by[POINT_BY_MAX];
	char reason[POINT_REASON_MAX];
};

static inline bool point_in_test(const struct point_mode *m)
{
	return m->test_until_ms != 0;
}

/* A disabled point is "disabled" whatever detection says; a point in test
 * is "test" unless it has a fault; otherwise detection's state. */
enum point_state point_state_derive(enum point_state detected, const struct point_mode *m);
/* The worse of two states (alarm > prealarm > fault > test > disabled >
 * unknown > normal): a device's state is the worst of its points'. */
enum point_state point_state_worst(enum point_state a, enum point_state b);

/* The mode as stored with the point's state (JSON; "" in normal service)
 * into buf. 0, -ENOBUFS when it does not fit (nothing is cut: the caller
 * must not store a shortened mode), -ENOMEM. */
int point_mode_format(const struct point_mode *m, char *buf, size_t len);
/* Parses what point_mode_format() wrote ("" gives normal service).
 * 0, -EBADMSG (not such JSON: *ret is normal service). */
int point_mode_parse(const char *text, struct point_mode *ret);
