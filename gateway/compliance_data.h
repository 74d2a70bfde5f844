/* compliance_data.h - the inputs of the compliance evaluation (compliance.h)
 * gathered from the stored history as of a moment, and the published form
 * of a result (schema firegw.compliance.v1). The daemon gathers on its own
 * handle (main loop), the CLI on a read-only one; both then call the pure
 * compliance_evaluate(). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "compliance.h"
#include "config.h"
#include "store.h"

#define COMPLIANCE_SCHEMA "firegw.compliance.v1"
/* Default window of the longest uplink outage: the last 12 months. */
#define COMPLIANCE_OUTAGE_WINDOW_MS (365 * COMPLIANCE_DAY_MS)

/* A comp_input and the arrays it points to, all owned. */
struct comp_gathered {
	struct comp_input in;
	struct comp_record *records;
	size_t n_records;
	struct comp_point *points;
	size_t n_points;
	struct comp_open *faults;
	size_t n_faults;
	struct comp_open *disabled;
	size_t n_disabled;
	char **strs; /* every key the arrays name */
	size_t n_strs;
	int64_t at_ms;
	struct store_chain_head head; /* of the whole stored chain (seq 0: none) */
};

/* Builds the evaluation's input from the history up to at_ms (inclusive):
 * the records of the four kinds with their corrections (--ref) and entry
 * times (dates read as local days of site.timezone), each configured alarm
 * point's first stored state and last point_tested, the faults and
 * disablements open at at_ms (active/cleared replayed per
 * device.point.type, since = the start of the open run), the uplink state at
 * at_ms and its longest outage in the window_ms before it (0: 12 months),
 * the clock and storage faults open. Obligations are c->compliance. Work:
 * one index walk per class (record, test, fault) up to at_ms, payloads read
 * for records only. 0, -ENOMEM, -errno of the store. *ret is freed with
 * compliance_gathered_free(). */
int compliance_gather(store *s, const struct config *c, int64_t at_ms, int64_t window_ms,
		      struct comp_gathered **ret);
void compliance_gathered_free(struct comp_gathered *g); /* accepts NULL */

/* The published status: {"schema", "site", "facility_id", "ts", "time_synced",
 * "overall", "items": {"system_test": {"status", "last", "due", "count",
 * "reason"}, ...}, "chain": {"seq", "sha256"}}; dates RFC 3339 UTC or null.
 * New reference, NULL on ENOMEM. */
json_t *compliance_to_json(const struct config *c, const struct comp_gathered *g,
			   const struct comp_result *res, bool time_synced);
