/* intake.h - the first step of a reading's life: a scheduled poll result of
 * a device is decoded with its profile (profile.c), its values kept with
 * their quality (site.c), each alarm point's sample goes through detection
 * (detect.c), and every event detection yields is made by the journal.
 * A change of what is persisted that made no event (a latch taking hold, a
 * second cause) is saved on its own, and the values that have something
 * to say go to the readings (readings.c: by change, not every poll).
 * Main loop only. */
#pragma once

#include "journal.h"
#include "poller.h"
#include "readings.h"
#include "site.h"
#include "store.h"

void intake_read(struct site *s, journal *j, store *st, readings *rd,
		 const struct poll_result *res);
