/* modes.h - resets, test mode and disablement of alarm points (SPEC §4).
 * Each change is an event (through the journal) and the point's mode is
 * saved with it, so a restart restores it. Main loop only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "journal.h"
#include "site.h"
#include "store.h"

#define MODES_TEST_MAX_MINUTES 240

typedef struct modes modes;

int modes_new(const struct config *c, struct site *site, journal *j, store *st, modes **ret);
void modes_free(modes *m);
void modes_set_store(modes *m, store *st);

/* Clears the latches of device dev's points (pt >= 0: that one), as by
 * asked: a reset record each; a point whose fire condition still holds
 * stays in alarm. Counts the points cleared and those still in alarm.
 * Returns 0. */
int modes_reset(modes *m, int dev, int pt, const char *by, int *ret_cleared, int *ret_held);
/* Starts (or extends) a test of dev's points (pt < 0: all) for seconds.
 * Returns the number of points put in test. */
int modes_test_start(modes *m, int dev, int pt, const char *by, int seconds);
/* Ends the test of dev's points in test (pt < 0: all; only_expired: only
 * those whose time is over): 1612 for those not tested, then 3607.
 * Returns the number of points whose test ended. */
int modes_test_end(modes *m, int dev, int pt, const char *by, bool only_expired);
/* Disables (with a reason) or re-enables dev's points (pt < 0: all).
 * Returns the number of points changed. */
int modes_set_disabled(modes *m, int dev, int pt, bool disable, const char *by,
		       const char *reason);
/* Every second: expired tests end; disabled points are announced daily. */
void modes_tick(modes *m, uint64_t now_mono);
