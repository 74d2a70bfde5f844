/* health.c - storage, clock and acknowledgement health (health.h). Owns
 * the size and pruning timers, the clock offset, and the alarms waiting
 * for the center's acknowledgement. Main loop only. */
#include "health.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>

#include "log.h"
#include "util.h"

#define ACKS_MAX 256       /* fire alarms waiting for the center's acknowledgement */
#define ACKS_SEEN 64       /* acknowledgements remembered to drop identical repeats */
#define SIZE_CHECK_MS 60000
#define PRUNE_MS 3600000
#define CLOCK_STEP_MS 2000 /* a wall-clock jump larger than this is a step */

struct pending_ack {
	char event_id[160];
	uint64_t deadline;
};

struct health {
	const struct config *cfg;
	journal *j;
	store *st;
	const struct site *site;
	bool time_synced;
	uint64_t next_size_check, next_prune, next_held_retry;
	int64_t clock_offset; /* wall - mono, to see steps */
	uint64_t clock_step_mono;
	struct pending_ack acks[ACKS_MAX];
	size_t n_acks;
	struct log_ratelimit bad_ack_rl;
	struct log_ratelimit unknown_ack_rl; /* acks of events not in the store */
	/* the last acknowledgements recorded: an identical one again (QoS 1
	 * redelivery, a center that repeats itself) makes no new record */
	struct {
		char event_id[160], by[72], verdict[12];
	} seen[ACKS_SEEN];
	size_t seen_next;
};

bool health_clock_synced(void)
{
	struct timex tx = { 0 };
	int r = adjtimex(&tx);

	/* -1 (the call refused, e.g. by a system call filter) is not
	 * TIME_ERROR, yet says nothing of the clock: not synchronised */
	return r >= 0 && r != TIME_ERROR;
}

int health_new(const struct config *c, journal *j, store *st, health **ret)
{
	health *h = calloc(1, sizeof(*h));
	uint64_t now = util_mono_ms();

	if (!h)
		return -ENOMEM;
	h->cfg = c;
	h->j = j;
	h->st = st;
	h->time_synced = health_clock_synced();
	journal_set_time_synced(j, h->time_synced);
	h->next_size_check = now + 10000;
	h->next_prune = now + 10000;
	h->clock_offset = util_wall_ms() - (int64_t)now;
	*ret = h;
	return 0;
}

void health_free(health *h)
{
	free(h);
}

void health_set_store(health *h, store *st)
{
	h->st = st;
}

bool health_time_synced(const health *h)
{
	return h->time_synced;
}

/* Every minute: size (1623 at 90 %), pruning from 80 %, and the end of a
 * storage fault once the store takes writes and nothing is held. */
static void storage_check(health *h, uint64_t now)
{
	int pct = 0;

	if (journal_n_held(h->j) && now >= h->next_held_retry) {
		journal_flush_held(h->j);
		if (journal_n_held(h->j))
			store_prune(h->st, h->cfg->storage.readings_days,
				    h->cfg->storage.records_days, h->time_synced, util_wall_ms());
		h->next_held_retry = now + 1000;
	}
	if (now < h->next_size_check)
		return;
	h->next_size_check = now + SIZE_CHECK_MS;
	if (store_size_percent(h->st, &pct) == 0) {
		if (pct >= 80 || now >= h->next_prune) {
			int r = store_prune(h->st, h->cfg->storage.readings_days,
					    h->cfg->storage.records_days, h->time_synced,
					    util_wall_ms());

			if (r < 0)
				log_warning("pruning '%s' failed (%s); tried again in an hour or at "
					    "the next size check", h->cfg->storage.path, strerror(-r));
			h->next_prune = now + PRUNE_MS;
			store_size_percent(h->st, &pct);
		}
		if (pct >= 90 && !journal_fault_open(h->j, GWEV_STORAGE_FULL)) {
			char note[128];

			snprintf(note, sizeof(note), "database at %d %% of storage.max_mb (%d MB)", pct,
				 h->cfg->storage.max_mb);
			log_warning("%s", note);
			journal_fault_set(h->j, GWEV_STORAGE_FULL, true, 0, note);
		} else if (pct < 85) {
			journal_fault_set(h->j, GWEV_STORAGE_FULL, false, 0, NULL);
		}
	}
	/* over once nothing is held and the database took a write since the
	 * fault (after a restart too: the fault was restored open) */
	if (journal_fault_open(h->j, GWEV_STORAGE_FAULT) && journal_store_healthy(h->j)) {
		log_notice("database '%s' healthy again", h->cfg->storage.path);
		journal_fault_set(h->j, GWEV_STORAGE_FAULT, false, 0, NULL);
	}
}

void health_alarm_sent(health *h, const char *event_id)
{
	if (h->cfg->mqtt.ack_timeout_s <= 0)
		return;
	if (h->n_acks == ACKS_MAX) {
		/* the oldest is overdue long since: its fault is already raised */
		memmove(h->acks, h->acks + 1, (ACKS_MAX - 1) * sizeof(h->acks[0]));
		h->n_acks--;
	}
	util_strlcpy(h->acks[h->n_acks].event_id, event_id, sizeof(h->acks[0].event_id));
	h->acks[h->n_acks].deadline = util_mono_ms() + (uint64_t)h->cfg->mqtt.ack_timeout_s * 1000u;
	h->n_acks++;
}

static void ack_check(health *h, uint64_t now)
{
	size_t i;

	for (i = 0; i < h->n_acks; i++)
		if (now >= h->acks[i].deadline && !journal_fault_open(h->j, GWEV_ACK_TIMEOUT)) {
			char note[256];

			snprintf(note, sizeof(note), "alarm %s not acknowledged within %d s",
				 h->acks[i].event_id, h->cfg->mqtt.ack_timeout_s);
			log_warning("%s", note);
			journal_fault_set(h->j, GWEV_ACK_TIMEOUT, true, 0, note);
		}
}

/* {"event_id", "by", "verdict"?} on <p>/<site>/ack: the acknowledgement is
 * appended as a record (type ack, chained like every event, nothing stored
 * is rewritten); a later one on the same event supersedes its verdict. */
void health_ack(health *h, const struct publish_note *n)
{
	json_error_t jerr;
	json_t *o = json_loadb(n->payload, n->len, 0, &jerr);
	const char *eid = json_string_value(json_object_get(o, "event_id"));
	const char *by = json_string_value(json_object_get(o, "by"));
	json_t *vj = json_object_get(o, "verdict");
	const char *verdict = json_string_value(vj);
	struct journal_event e = { 0 };
	struct store_event_brief brief;
	char esc_id[200], esc_by[100], esc_v[64];
	unsigned suppressed = 0;
	size_t i;
	int r;

	if (!o || !eid || !by || !util_text_ok(by, 64) || strlen(eid) > 150) {
		if (log_ratelimit_ok(&h->bad_ack_rl, util_mono_ms(), 10000, &suppressed))
			log_warning("acknowledgement ignored: %s; expected {\"event_id\": \"...\", "
				    "\"by\": \"...\" (1..64 bytes of text)} (%u more since the last "
				    "line)",
				    !o	   ? "not JSON"
				    : !eid ? "no \"event_id\" string"
				    : !by  ? "no \"by\" string"
					   : "\"by\" or \"event_id\" too long or not text",
				    suppressed);
		json_decref(o);
		return;
	}
	util_escape(eid, strlen(eid), esc_id, sizeof(esc_id));
	util_escape(by, strlen(by), esc_by, sizeof(esc_by));
	if (vj && (!verdict || (strcmp(verdict, "real") && strcmp(verdict, "unwanted") &&
				strcmp(verdict, "test")))) {
		/* the acknowledgement still counts (no false 1354) */
		if (log_ratelimit_ok(&h->bad_ack_rl, util_mono_ms(), 10000, &suppressed))
			log_warning("acknowledgement of %s by '%s': verdict '%s' ignored (real, "
				    "unwanted or test) (%u more since the last line)",
				    esc_id, esc_by,
				    verdict ? util_escape(verdict, strlen(verdict), esc_v, sizeof(esc_v))
					    : "not a string",
				    suppressed);
		verdict = NULL;
	}
	r = store_event_find(h->st, eid, &brief);
	if (r == -ENOENT) {
		if (log_ratelimit_ok(&h->unknown_ack_rl, util_mono_ms(), 10000, &suppressed))
			log_warning("acknowledgement of unknown event '%s' by '%s' ignored (%u more "
				    "since the last line)",
				    esc_id, esc_by, suppressed);
		json_decref(o);
		return;
	}
	/* the center acknowledges what it was told of: alarms, pre-alarms,
	 * faults; never a record (an ack of an ack would loop) */
	if (r == 0 && strcmp(brief.cls, "alarm") && strcmp(brief.cls, "prealarm") &&
	    strcmp(brief.cls, "fault")) {
		if (log_ratelimit_ok(&h->bad_ack_rl, util_mono_ms(), 10000, &suppressed))
			log_warning("acknowledgement of %s (class %s) by '%s' ignored: only alarms, "
				    "pre-alarms and faults are acknowledged (%u more since the last "
				    "line)",
				    esc_id, brief.cls, esc_by, suppressed);
		json_decref(o);
		return;
	}
	for (i = 0; i < ACKS_SEEN; i++)
		if (strcmp(h->seen[i].event_id, eid) == 0 && strcmp(h->seen[i].by, by) == 0 &&
		    strcmp(h->seen[i].verdict, verdict ? verdict : "") == 0) {
			log_debug("acknowledgement of %s by '%s' repeated; already recorded", esc_id,
				  esc_by);
			json_decref(o);
			return;
		}
	e.type = "ack";
	e.dev = -1;
	e.pt = -1;
	e.by = by;
	e.ref = eid;
	e.verdict = verdict;
	if (journal_record(h->j, &e) == 0) {
		util_strlcpy(h->seen[h->seen_next].event_id, eid, sizeof(h->seen[0].event_id));
		util_strlcpy(h->seen[h->seen_next].by, by, sizeof(h->seen[0].by));
		util_strlcpy(h->seen[h->seen_next].verdict, verdict ? verdict : "",
			     sizeof(h->seen[0].verdict));
		h->seen_next = (h->seen_next + 1) % ACKS_SEEN;
	}
	log_info("event %s acknowledged by '%s'%s%s", esc_id, esc_by, verdict ? ", verdict " : "",
		 verdict ? verdict : "");
	for (i = 0; i < h->n_acks; i++)
		if (strcmp(h->acks[i].event_id, eid) == 0) {
			h->acks[i] = h->acks[--h->n_acks];
			break;
		}
	if (journal_fault_open(h->j, GWEV_ACK_TIMEOUT)) {
		uint64_t now = util_mono_ms();
		bool overdue = false;

		for (i = 0; i < h->n_acks; i++)
			overdue |= now >= h->acks[i].deadline;
		/* after a restart the alarms waiting were not kept: the first
		 * acknowledgement shows the center answers again */
		if (!overdue)
			journal_fault_set(h->j, GWEV_ACK_TIMEOUT, false, 0, NULL);
	}
	json_decref(o);
}

/* A wall-clock step (SPEC §5): timers are monotonic and do not care, but
 * timestamps around it are not comparable, so the center is told (1626);
 * the restore follows once the clock is synchronised and steady a minute.
 * Returns true when the synchronisation changed. */
static bool clock_check(health *h, uint64_t now)
{
	int64_t offset = util_wall_ms() - (int64_t)now;
	int64_t delta = offset - h->clock_offset;
	bool synced = health_clock_synced(), changed = false;

	if (synced != h->time_synced) {
		h->time_synced = synced;
		journal_set_time_synced(h->j, synced);
		changed = true;
		log_notice("system clock %s", synced ? "synchronised" : "no longer synchronised");
	}
	if (delta > CLOCK_STEP_MS || delta < -CLOCK_STEP_MS) {
		char note[96];

		snprintf(note, sizeof(note), "wall clock stepped by %+.3f s", (double)delta / 1000.0);
		log_warning("%s", note);
		h->clock_offset = offset;
		h->clock_step_mono = now;
		journal_fault_set(h->j, GWEV_CLOCK, true, 0, note);
		return changed;
	}
	/* follow slow slewing, so only jumps count */
	h->clock_offset += delta / 8;
	if (synced && now - h->clock_step_mono >= 60000)
		journal_fault_set(h->j, GWEV_CLOCK, false, 0, NULL);
	return changed;
}

/* The periodic test report (SPEC §6; Contact ID 602, or 608 with a
 * trouble present; NFPA 72 asks for one at least every 24 h on a sole
 * path): every mqtt.periodic_test_h hours, momentary, with the counts of
 * open faults and disablements. Its due time is kept in the marks file, so
 * a restart never pushes it back; one missed while the gateway was down
 * goes out at once. */
static void periodic_check(health *h)
{
	int64_t period = (int64_t)h->cfg->mqtt.periodic_test_h * 3600 * 1000;
	int64_t now = util_wall_ms(), due = journal_next_periodic(h->j);
	struct journal_event e = { 0 };
	int faults, disabled = 0;
	size_t i, k;

	if (!h->site || period <= 0)
		return;
	if (!due || due - now > period) {
		/* first start, or a due time from a clock far ahead */
		log_debug("periodic test report due in %d h", h->cfg->mqtt.periodic_test_h);
		journal_set_next_periodic(h->j, now + period);
		return;
	}
	if (now < due)
		return;
	faults = journal_faults_open(h->j);
	for (i = 0; i < h->cfg->n_devices; i++)
		for (k = 0; k < h->cfg->devices[i].n_points; k++) {
			const struct point_rt *p = &h->site->devs[i].points[k];

			if (p->mode.disabled)
				disabled++;
			else if (detect_point_state(&p->det) == PSTATE_FAULT ||
				 (p->det.conditions & ~(uint32_t)(COND_ALARM | COND_PREALARM)))
				faults++;
		}
	e.cls = EVCLASS_SYSTEM;
	e.type = "periodic_test";
	e.active = true;
	e.cid = faults || disabled ? "1608" : "1602";
	e.dev = -1;
	e.pt = -1;
	e.threshold = NAN;
	e.has_counts = true;
	e.open_faults = faults;
	e.disablements = disabled;
	e.prio = STORE_PRIO_OTHER;
	e.topic_kind = "system";
	journal_emit(h->j, &e);
	/* the next from the schedule, not from now: no drift; after a long
	 * stop, a full period from now */
	due += period;
	if (due <= now)
		due = now + period;
	journal_set_next_periodic(h->j, due);
}

void health_set_site(health *h, const struct site *s)
{
	h->site = s;
}

bool health_tick(health *h, uint64_t now)
{
	bool changed = clock_check(h, now);
	unsigned more = log_ratelimit_due(&h->bad_ack_rl, now, 10000);

	if (more)
		log_warning("%u more acknowledgements ignored (not logged one by one)", more);
	more = log_ratelimit_due(&h->unknown_ack_rl, now, 10000);
	if (more)
		log_warning("%u more acknowledgements of unknown events ignored (not logged one by "
			    "one)",
			    more);

	periodic_check(h);
	storage_check(h, now);
	ack_check(h, now);
	return changed;
}
