/* marks.h - a small file beside the database (<storage.path>.marks) that
 * can be written when the database cannot: it is preallocated when made and
 * then only overwritten in place, so a full disk never refuses it. It holds
 * what must survive a stop that SQLite may not have taken (issue "safety
 * first"): the seq high-water mark, so that a seq once published from
 * memory is never given to other bytes after a restart, and the gateway
 * faults that are raised and not yet restored, so that a restart restores
 * them instead of raising them again. Owned by the main loop. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct marks marks;

struct marks_data {
	char epoch[9];          /* the database epoch the high-water mark belongs to */
	uint64_t seq_hwm;       /* no seq at or below it may be given out again */
	uint32_t gw_faults;     /* bit (1 << enum gw_event): raised, not yet restored */
	int64_t uplink_lost_ms; /* wall time the uplink was lost, when that fault is open */
	int64_t next_periodic_ms; /* wall time the next periodic test report is due, 0: none */
};

/* Opens (creating and preallocating) the marks file of the database at
 * db_path. 0, -errno (the caller runs without: logged there). */
int marks_open(const char *db_path, marks **ret);
void marks_free(marks *m);
/* The last data written. 0, -ENOENT (a new file: nothing written yet). */
int marks_get(const marks *m, struct marks_data *ret);
/* Writes d in place and waits for the device (fdatasync). Two slots are
 * written in turn, each with its own check sum, so a write torn by a power
 * cut leaves the previous one readable. 0, -errno. */
int marks_put(marks *m, const struct marks_data *d);
