/* readings.h - which readings reach the database (docs/storage.md,
 * "Readings by change"). A gateway lives on an SD card or eMMC: a value is
 * written when it has something to say, not at every poll or batch.
 *
 * A value's sample is stored
 *   - the first time it is read after the start;
 *   - at once when its device's state changes (normal, pre-alarm, alarm,
 *     fault, test...: each such change is an event too, so these samples
 *     are as rare as the events);
 *   - otherwise, when storage.readings_s has passed since its last stored
 *     sample, and its quality changed (good, bad, stale) or its value moved
 *     more than its deadband (storage.readings_deadband_pct of its
 *     valid_min..valid_max; any change when it has no range).
 * An unchanged value is not written again: the stored readings are a step
 * function, a sample stands until the next one of its value.
 *
 * readings_should_store() and readings_deadband() are pure. A readings
 * object holds each configured value's last stored sample; it belongs to
 * the main loop. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "profile.h"
#include "site.h"
#include "store.h"

struct readings_sample {
	bool set;	  /* false: nothing stored yet */
	uint64_t mono_ms; /* when it was read (CLOCK_MONOTONIC) */
	double value;	  /* NAN: no value */
	int quality;	  /* 0 good, 1 bad, 2 stale (as struct store_reading) */
	int cls;	  /* the state class: its device's state (enum point_state) */
};

/* True when now must be stored, given the last stored sample of the same
 * value (prev; NULL or !prev->set: none), the value's deadband (>= 0, in
 * its units) and the least time between two stored samples of a value
 * that did not change class. Pure. */
bool readings_should_store(const struct readings_sample *prev, const struct readings_sample *now,
			   double deadband, uint64_t interval_ms);

/* The deadband of profile value v: pct % of valid_max - valid_min, 0 (any
 * change counts) when v has no finite range or pct <= 0. Pure. */
double readings_deadband(const struct profile_value *v, double pct);

typedef struct readings readings;

/* One slot per value of every configured device, none stored yet.
 * 0, -EINVAL, -ENOMEM. */
int readings_new(const struct config *cfg, readings **ret);
/* Accepts NULL. */
void readings_free(readings *rd);

/* Offers device dev's values as the site holds them after a poll: each one
 * the rule passes goes to st's readings buffer (store_readings_add) and
 * becomes that value's last stored sample. Values never read are skipped.
 * Returns how many were stored, or the store's first error (-ENOBUFS when
 * its buffer is full): a sample the store refused is not remembered, so
 * the next poll offers it again. */
int readings_offer(readings *rd, const struct site *s, store *st, int dev, uint64_t now_mono);

/* Samples handed to the store since readings_new (for the tests). */
uint64_t readings_stored(const readings *rd);
