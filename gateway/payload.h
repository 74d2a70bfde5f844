/* payload.h - the non-event MQTT payloads of firegw (SPEC §3): a device's
 * retained state, the gateway's status (birth, heartbeat, offline), its
 * last will, and telemetry batches. Pure: the site's state, the times and
 * the counts are arguments; no clock read, no I/O. Returned strings are
 * malloc'd compact JSON with keys in a fixed order (NULL on ENOMEM). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "site.h"

/* One value of a device: value (null before a good read), unit, quality,
 * ts of the last good read. New reference. */
json_t *payload_value(const struct site *s, int dev, int vi, uint64_t now_mono);

/* The retained state of device dev (state, each point with its conditions,
 * latch, since, mode, values). */
char *payload_device_state(const struct site *s, int dev, uint64_t now_mono, int64_t now_wall,
			   bool time_synced, size_t *ret_len);

struct status_info {
	const struct config *cfg;
	const char *state;       /* online | offline */
	const char *reason;      /* NULL: omitted */
	const char *version, *epoch, *broker;
	int64_t started_ms, now_ms;
	uint64_t last_seq;
	int64_t backlog_events, backlog_telemetry;
	int64_t oldest_unsent_ms; /* created time of the oldest waiting event, 0: none */
	int counts[PSTATE_MAX];  /* points per derived state */
	size_t total;
	bool time_synced;
};
/* Counts the site's points by their derived state into si. */
void payload_count_points(const struct site *s, struct status_info *si);
/* The status object (firegw.status.v1). New reference. */
json_t *payload_status(const struct status_info *si);
/* The last will: offline, "connection lost". */
char *payload_will(const char *site, size_t *ret_len);

/* A telemetry batch of every value with a good read so far (possibly
 * none). NULL on ENOMEM. */
char *payload_telemetry(const struct site *s, uint64_t now_mono, int64_t now_wall,
			size_t *ret_len);
