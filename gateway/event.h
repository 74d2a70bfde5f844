/* event.h - the MQTT payloads of firegw (SPEC §3): events, with their
 * Contact ID code, status, device state and telemetry, built with jansson.
 * Pure: no I/O, no globals; callable from any thread. The exact bytes it
 * returns are what the outbox stores and every resend repeats. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "profile.h"

#define EVENT_SCHEMA "firegw.event.v1"
#define STATUS_SCHEMA "firegw.status.v1"
#define STATE_SCHEMA "firegw.state.v1"
#define TELEMETRY_SCHEMA "firegw.telemetry.v1"

/* Gateway-level event types (class system or fault on fault/gateway). */
enum gw_event {
	GWEV_INVALID = -1,
	GWEV_UPLINK_LOST,     /* 1350 / 3350 */
	GWEV_ACK_TIMEOUT,     /* 1354 / 3354 */
	GWEV_STORAGE_FULL,    /* 1623 / 3623: 90 % of max_mb */
	GWEV_STORAGE_FAULT,   /* 1624 / 3624: over limit, I/O error, corrupt db moved aside */
	GWEV_CLOCK,           /* 1626 / 3626 */
	GWEV_MAX
};
const char *gw_event_type(enum gw_event e); /* "uplink_lost", ... */

/* Everything an event payload says. Strings may be NULL (omitted). */
struct event_info {
	const char *site, *epoch;
	uint64_t seq;
	enum event_class cls;
	const char *type;       /* smoke|heat|fire|temperature, a fault condition, ... */
	bool active;
	const char *cid;        /* 4 digits, or NULL when the event has no Contact ID code */
	const char *device, *point, *zone, *location;
	int zone_no;            /* 0: omitted */
	uint32_t causes;        /* CAUSE_* */
	bool has_value;
	double value;
	const char *unit;
	double threshold;       /* NAN: omitted */
	int64_t ts_ms;
	bool time_synced;
	const char *by;         /* who did it (reset, records); NULL: omitted */
	const char *account;    /* the local account that ran the command through the
				   control socket (SO_PEERCRED); NULL: omitted */
	const char *note;       /* free text; NULL: omitted */
	/* records (class record, SPEC §6) and acknowledgements; NULL: omitted */
	const char *result;     /* "pass" | "fail" */
	const char *date;       /* the day it was done, "2026-11-20" (ts is the entry time) */
	const char *ref;        /* event_id this one refers to: the record it corrects, the
				   event acknowledged */
	const char *verdict;    /* the center's word on an alarm: real | unwanted | test */
	bool has_counts;        /* the periodic test: open faults and disablements */
	int open_faults, disablements;
};

/* Contact ID (SIA DC-05) code with qualifier, "1111", "3381", into buf[5].
 * Returns buf, or NULL when the event has no code. */
char *event_cid_point(enum event_class cls, uint32_t cond, enum point_kind kind, bool active,
		      char buf[5]);
char *event_cid_gateway(enum gw_event e, bool active, char buf[5]);
/* Event type word for a point event. */
const char *event_type_point(enum event_class cls, uint32_t cond, enum point_kind kind);

/* Builds "<site>:<epoch>:<seq>" into buf (size >= 96). */
char *event_id(const char *site, const char *epoch, uint64_t seq, char *buf, size_t len);

/* Serialises the event (compact JSON, keys in a fixed order). Returns a
 * malloc'd NUL-terminated string (length in *ret_len), NULL on ENOMEM. */
char *event_payload(const struct event_info *e, size_t *ret_len);

/* Serialises any jansson object compactly with keys in insertion order;
 * steals the reference. malloc'd, NULL on ENOMEM. */
struct json_t;
char *event_dump(struct json_t *obj, size_t *ret_len);
