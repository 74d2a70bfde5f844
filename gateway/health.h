/* health.h - the gateway's own health (SPEC §4, §5): the database's size
 * (pruning from 80 %, 1623 at 90 %) and the end of a storage fault, the
 * wall clock (synchronised or not, steps: 1626), and the command center's
 * acknowledgements of fire alarms (1354 when one is late). Raises and
 * restores its faults through the journal. Main loop only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "journal.h"
#include "site.h"
#include "publish.h"
#include "store.h"

typedef struct health health;

int health_new(const struct config *c, journal *j, store *st, health **ret);
void health_free(health *h);
void health_set_store(health *h, store *st);
/* The site whose points the periodic test counts. */
void health_set_site(health *h, const struct site *s);

/* Every second. Returns true when what the status says changed (the clock
 * became synchronised or not). */
bool health_tick(health *h, uint64_t now_mono);
/* Whether the system clock is synchronised (adjtimex); a failing call is
 * "not synchronised", never "synchronised". */
bool health_clock_synced(void);
bool health_time_synced(const health *h);

/* An active fire alarm went out: the center must acknowledge it within
 * mqtt.ack_timeout_s (when set). */
void health_alarm_sent(health *h, const char *event_id);
/* {"event_id", "by", "verdict"?} on <p>/<site>/ack. */
void health_ack(health *h, const struct publish_note *n);
