/* compliance.h - the inspection-compliance evaluation of a premises (SPEC
 * §6): from the obligations of the configuration, the records
 * (system tests, maintenance, inspections), the points' test results, the
 * open faults and disablements, and the gateway's own health, the status of
 * each item and of the whole. Pure: no I/O, no clock read, no globals; the
 * time and every input are arguments, so a year of calendar can be checked
 * in a unit test and `--at DATE --recompute` evaluates the past the same
 * way the daemon evaluated it then. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define COMPLIANCE_DAY_MS (86400 * (int64_t)1000)

enum comp_item {
	COMP_ITEM_INVALID = -1,
	COMP_SYSTEM_TEST,       /* whole system tested (system_test_days) */
	COMP_MAINTENANCE,       /* full maintenance (maintenance_days) */
	COMP_SELF_INSPECTION,   /* the establishment's own inspection */
	COMP_POLICE_INSPECTION, /* periodic inspection by the fire police */
	COMP_DEVICE_TEST,       /* each detector tested (device_test_days) */
	COMP_FAULTS,            /* no open fault older than max_fault_days */
	COMP_DISABLEMENTS,      /* disabled points (counted like open faults) */
	COMP_UPLINK,            /* the transmission path to the center */
	COMP_CLOCK,             /* a synchronised clock: timestamps are evidence */
	COMP_STORAGE,           /* the records can be kept */
	COMP_ITEM_MAX
};

/* In order of severity. */
enum comp_status {
	COMP_STATUS_INVALID = -1,
	COMP_OK,
	COMP_DUE_SOON,
	COMP_OVERDUE,
	COMP_NON_COMPLIANT,
	COMP_STATUS_MAX
};

enum comp_overall {
	COMP_OVERALL_INVALID = -1,
	COMP_COMPLIANT,
	COMP_OVERALL_DUE_SOON,
	COMP_OVERALL_NON_COMPLIANT,
	COMP_OVERALL_MAX
};

/* The four kinds of record (`firegw record KIND`), in the order of the
 * first four items. */
enum comp_record_kind {
	COMP_REC_INVALID = -1,
	COMP_REC_SYSTEM_TEST,
	COMP_REC_MAINTENANCE,
	COMP_REC_SELF_INSPECTION,
	COMP_REC_POLICE_INSPECTION,
	COMP_REC_MAX
};

struct comp_record {
	enum comp_record_kind kind;
	int64_t date_ms;       /* the day it was done (may be before it was entered) */
	int64_t entered_ms;    /* when it was entered: not counted before (0: date_ms) */
	bool pass;
	uint64_t seq;          /* its event seq */
	uint64_t corrects_seq; /* the record this one corrects (its --ref), 0: none */
};

struct comp_point {
	const char *key;        /* "device.point" */
	int64_t first_seen_ms;  /* its first stored state: untested counts from here */
	int64_t last_tested_ms; /* last 1611 (tested OK), 0: never */
};

/* An open fault or a disablement of a point. */
struct comp_open {
	const char *key;
	int64_t since_ms;
};

struct comp_input {
	const struct cfg_compliance *ob;
	int64_t now_ms;
	int64_t since_ms; /* monitoring began (database created): an obligation
			     never recorded counts from here */
	const struct comp_record *records;
	size_t n_records;
	const struct comp_point *points;
	size_t n_points;
	const struct comp_open *faults;
	size_t n_faults;
	const struct comp_open *disabled;
	size_t n_disabled;
	bool uplink_up;
	int64_t uplink_down_since_ms;  /* when !uplink_up */
	int64_t longest_outage_ms;     /* in the period looked at */
	bool clock_synced;
	bool storage_fault, storage_full;
	int32_t utc_offset_s; /* the site's UTC offset, only for the dates written in
				 reasons (0: UTC); statuses do not depend on it */
};

struct comp_item_result {
	enum comp_status status;
	int64_t last_ms;  /* last time the obligation was met, 0: never / not a date */
	int64_t due_ms;   /* when it falls (or fell) due, 0: no due date */
	int count;        /* points, faults or disablements concerned */
	char reason[240]; /* in words, English; the report translates the labels */
};

struct comp_result {
	struct comp_item_result items[COMP_ITEM_MAX];
	enum comp_overall overall;
};

/* Evaluates in into ret. 0, -EINVAL (missing obligations, a record of an
 * unknown kind). */
int compliance_evaluate(const struct comp_input *in, struct comp_result *ret);

const char *compliance_item_name(enum comp_item i);       /* "system_test", ... */
const char *compliance_status_name(enum comp_status s);   /* "ok", "due_soon", ... */
const char *compliance_overall_name(enum comp_overall o); /* "compliant", ... */
enum comp_record_kind compliance_record_kind(const char *name); /* or COMP_REC_INVALID */
const char *compliance_record_kind_name(enum comp_record_kind k);
