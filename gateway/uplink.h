/* uplink.h - the MQTT uplink to the command center (SPEC §3, §5): the link
 * state machine (connect attempts with jittered back-off, keepalive and
 * ack-stall detection), the resync after each connect (retained status and
 * every device state first), the in-flight window, the order of sending
 * (events alarm-first from the scheduler, device states, telemetry backfill
 * at a bounded rate in half the window), deletion of delivered outbox rows
 * in batches, and the clearing of removed devices' retained states. It
 * drives publish.c (paho) and hands incoming messages to its owner. Main
 * loop only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "journal.h"
#include "outbox.h"
#include "publish.h"
#include "site.h"
#include "store.h"

typedef struct uplink uplink;

struct uplink_hooks {
	/* the status object (firegw.status.v1) as of now; new reference */
	json_t *(*status)(void *ud, const char *state, const char *reason);
	/* an incoming message on a subscription (ack, request) */
	void (*message)(void *ud, const struct publish_note *n);
};

/* pub is owned by the caller and must outlive the uplink. */
int uplink_new(const struct config *c, struct site *site, store *st, outbox *ob, journal *j,
	       publisher *pub, const struct uplink_hooks *hooks, void *ud, uplink **ret);
/* Writes pending deletions; does not disconnect (uplink_offline does).
 * Accepts NULL. */
void uplink_free(uplink *u);
void uplink_set_store(uplink *u, store *st);

/* A new alarm waits: connect now if the link is down. */
void uplink_kick(uplink *u);
/* Timers: a due connect attempt, the ack-stall check, due deletions. */
void uplink_tick(uplink *u, uint64_t now_mono);
/* Sends what may go now within the in-flight window. */
void uplink_pump(uplink *u);
/* Handles the publisher's notes (connects, deliveries, messages), at most
 * budget of them. */
void uplink_drain_notes(uplink *u, int budget);
/* The poll() timeout (ms) the uplink needs, at most cur. */
int uplink_timeout(const uplink *u, uint64_t now_mono, int cur);

/* The status goes out again (heartbeat, a change the center must see). */
void uplink_status_dirty(uplink *u);
/* A telemetry row was added to the outbox: backfill looks again. */
void uplink_telemetry_added(uplink *u);
/* A device in the database but not in the configuration: its retained
 * state is cleared at the next connect (SPEC §3). */
void uplink_removed_add(uplink *u, const char *dev);
/* A retained message of the site (kind: "compliance") the uplink keeps: sent
 * now and again after every connect, after the status. 0, -ENOMEM. */
int uplink_keep_retained(uplink *u, const char *kind, const char *payload, size_t len);
/* Publishes an answer (not stored; QoS 1). 0 or -errno. */
int uplink_answer(uplink *u, const char *topic, const void *payload, size_t len,
		  const void *correlation, size_t correlation_len);
bool uplink_is_up(const uplink *u);
size_t uplink_inflight(const uplink *u);
/* The node in use, or of the last attempt (SPEC §3 status "broker"). */
const char *uplink_broker(const uplink *u);
/* The delay (ms) before the next connect attempt, from the back-off in
 * *backoff_ms (0 after a connection that was up; doubled from 500 up to
 * max_ms, and updated) and rnd (random bits): jittered over the upper half
 * of the back-off, which is capped at 1 s while an event waits. Pure. */
int uplink_retry_delay_ms(int *backoff_ms, int max_ms, bool event_waiting, uint32_t rnd);
/* Clean stop: the explicit offline status, retained, then disconnect. */
void uplink_offline(uplink *u, const char *reason);
