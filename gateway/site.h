/* site.h - the live state of the premises: every configured device and
 * alarm point as the daemon knows it now (detection state, operating mode,
 * last values with their quality, derived state). Owned by the main loop;
 * the journal (events), the modes (test, disable), the payload builders and
 * the request layer read and change it through this contract. The derived
 * state of a point comes from point.c's one derivation. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "detect.h"
#include "point.h"
#include "profile.h"
#include "store.h"

struct point_rt {
	struct detect_state det;
	enum point_state state; /* as last derived (site_update_device) */
	int64_t since_ms;       /* wall time of the last change of state */
	int key;                /* outbox order key */
	uint64_t last_seq;      /* seq of its last event */
	bool stored;            /* has a row in point_state */
	/* operating mode (SPEC §4), persisted as JSON in point_state.mode */
	struct point_mode mode;
	uint64_t test_end_mono;   /* the test's end as a monotonic deadline */
	uint64_t dis_remind_mono; /* next daily 1571 reminder */
};

struct value_rt {
	struct value_reading r;
	int64_t ts_ms;      /* wall time of the last good read */
	uint64_t good_mono; /* mono time of the last good read, 0 never */
	bool last_ok;
};

struct device_rt {
	struct point_rt *points; /* cfg n_points, sized per device (memory budget) */
	struct value_rt *values; /* profile n_values */
	uint32_t polls;
	int last_rc;
	enum point_state state;  /* worst of its points */
	bool state_dirty;        /* its retained state must go out again */
};

struct site {
	const struct config *cfg;
	struct device_rt *devs; /* cfg->n_devices */
	char topic_root[300];   /* <mqtt.topic_prefix>/<site.id> */
};

/* Every point unknown since started_ms, in normal service. 0, -ENOMEM. */
int site_init(struct site *s, const struct config *c, int64_t started_ms);
void site_clear(struct site *s);

static inline struct point_rt *site_point(struct site *s, int dev, int pt)
{
	return &s->devs[dev].points[pt];
}

/* <root>/<kind>/<dev>, or <root>/<kind> when dev is NULL. */
void site_topic(const struct site *s, const char *kind, const char *dev, char *buf, size_t len);
/* "device.point", the device id (pt < 0) or "gateway" (dev < 0). */
void site_point_key(const struct site *s, int dev, int pt, char *buf, size_t len);
/* Index of point name in d, or -1. */
int site_find_point(const struct cfg_device *d, const char *name);
/* Resolves "DEVICE" or "DEVICE.POINT" (the one parser of targets, for the
 * control socket and MQTT alike) into dev and pt (-1: every point).
 * 0, or -ENOENT with the reason in why. */
int site_resolve_target(const struct site *s, const char *target, int *ret_dev, int *ret_pt,
			char *why, size_t len);

/* The point's state now: detection with its mode laid over (point.c). */
enum point_state site_point_state(const struct point_rt *p);
/* Re-derives the states of dev's points and the device's worst; a change
 * dates the point (since) and marks the device's retained state dirty. */
void site_update_device(struct site *s, int dev, int64_t now_wall_ms);
/* good | bad | stale (no good read for 2 x poll_ms) of value vi. */
const char *site_quality(const struct site *s, int dev, int vi, uint64_t now_mono);

/* The point's state as stored. -ENOBUFS when its mode does not fit (the
 * caller must not store it: a mode cut short would be lost at the next
 * start). */
int site_pstate_fill(const struct site *s, int dev, int pt, struct store_point_state *ret);
/* Saves a point's state outside an event (a latch taking hold, a mode
 * change, start-up); marks the device dirty. A failure is logged here.
 * 0 or -errno. */
int site_point_save(struct site *s, store *st, int dev, int pt);
/* Restores a stored state (start-up): detection, since, last seq, mode.
 * 0, -ENODEV (its device is no longer configured: the device id is in
 * ret_dev_id), -ENOENT (no such point, or a key that is not "device.point"). */
int site_restore(struct site *s, const struct store_point_state *ps, char *ret_dev_id,
		 size_t len);
