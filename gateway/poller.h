/* poller.h - one thread per bus, owning its modbus_t: every read, probe and
 * scan of the bus goes through it. Devices are polled on CLOCK_MONOTONIC
 * deadlines; contiguous registers are read in one request (profile blocks);
 * the port is flushed before every RTU request and after any error, so a
 * late reply is never taken for the next answer; a device in comm loss is
 * retried only every dead_retry_s, and on RTU declared answering again only
 * when it also answers a confirmation read at once. Retries, tries of a
 * failing device and every step of a probe or scan run only where their
 * whole timeout fits before the next due poll of the bus, so they never
 * delay the healthy devices' polls. Results go to a bounded queue owned by
 * the main loop. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "profile.h"
#include "queue.h"

typedef struct poller poller;

enum poll_result_kind {
	POLL_RESULT_INVALID = -1,
	POLL_RESULT_READ,     /* a scheduled poll of a device */
	POLL_RESULT_PROBE,    /* a probe job's read of a device */
	POLL_RESULT_SCAN,     /* a scan job: one unit answered */
	POLL_RESULT_JOB_DONE, /* a probe or scan job finished (rc says how) */
	POLL_RESULT_MAX
};

struct poll_result {
	enum poll_result_kind kind;
	int bus;
	int device;        /* index into config.devices; -1 for scan results */
	int unit;
	uint64_t tag;      /* job tag, 0 for scheduled polls */
	int rc;            /* 0; -ETIMEDOUT (no answer), -EBADMSG (bad CRC, garbage,
			      wrong unit id), -EPROTO (Modbus exception), -ECONNREFUSED,
			      -EIO, other -errno */
	int exception;     /* Modbus exception code when rc == -EPROTO */
	uint64_t mono_ms;  /* when the read finished */
	int64_t wall_ms;
	uint32_t polls;    /* scheduled polls of this device so far */
	uint32_t failures; /* consecutive failures of this device */
	struct profile_raw raw; /* valid when rc == 0 (READ, PROBE) */
};

/* Starts the thread of bus bus_index of c (c must outlive the poller).
 * Results are pushed to out (waiting when it is full: back-pressure, never
 * a silent drop). 0, -errno. */
int poller_start(const struct config *c, int bus_index, queue *out, poller **ret);
/* Stops and joins the thread, closes the port. Accepts NULL. */
void poller_stop(poller *p);

enum poller_job_kind { POLLER_JOB_INVALID = -1, POLLER_JOB_PROBE, POLLER_JOB_SCAN, POLLER_JOB_MAX };
struct poller_job {
	enum poller_job_kind kind;
	uint64_t tag;
	int device;              /* PROBE: device index (on this bus) */
	int unit_from, unit_to;  /* SCAN: inclusive range in 1..247 */
	int timeout_ms;          /* SCAN: per-unit response timeout, 10..1000, 0: 100 ms */
};
/* Hands a job to the bus thread, which runs it one transaction at a time
 * between scheduled polls (a probe's try waits at most 1000 ms). 0,
 * -EINVAL (units outside 1..247, from > to, timeout_ms outside 10..1000
 * and not 0, a device not on this bus), -EAGAIN when the job queue (8) is
 * full, -ECANCELED when stopping. */
int poller_submit(poller *p, const struct poller_job *job);

/* Ends the queued or running job with this tag at its next step (at most
 * one transaction, <= 1000 ms, later): its JOB_DONE result comes with rc
 * -ECANCELED, and the results it made so far stay. For a control client
 * that went away. Called by the thread that calls poller_submit. 0, or
 * -ENOENT when no such job is queued or running, -EINVAL for a NULL p. */
int poller_cancel(poller *p, uint64_t tag);

/* CLOCK_MONOTONIC ms (util_mono_ms) at which the bus thread last showed
 * progress: it stores it at the top of each step of its loop and before it
 * waits, and an idle thread wakes at least every 1000 ms, so a healthy
 * thread's value is never more than about 1 s plus one transaction (its
 * timeout) old. A thread stuck in a transaction longer than its timeout,
 * or blocked anywhere else, stops advancing it: for the systemd watchdog
 * (ping only while every poller's value is recent). Any thread may call
 * it (an atomic load). 0 for a NULL p. */
uint64_t poller_progress_ms(const poller *p);

/* Checks a Modbus TCP reply (rsp, len bytes: MBAP header and PDU) to a
 * read of count registers or bits with function (0x01..0x04) sent to unit
 * with transaction id tid: the transaction id, protocol id 0, the MBAP
 * length (the bytes after it), the unit id, the function and the byte
 * count must all match the request and the frame's size. Pure; any bytes.
 * 0 with dst[0..count) filled (registers, or bits as 0/1); -EPROTO with
 * *ret_exc the Modbus exception code (1..11) of an exception reply whose
 * header matches; -EBADMSG for any other reply; -EINVAL for a function or
 * count no request can have. */
int poller_tcp_check_reply(const uint8_t *rsp, size_t len, uint16_t tid, uint8_t unit,
			   uint8_t function, uint16_t count, uint16_t *dst, int *ret_exc);

/* For the CLI without a daemon: opens the bus's port itself, taking an
 * exclusive lock (flock on the tty, or a lock file in runtime_dir for TCP)
 * so it never fights a daemon. Runs one job synchronously, calling cb for
 * each result. 0, -EBUSY (locked by a daemon), -errno. */
int poller_run_job(const struct config *c, int bus_index, const struct poller_job *job,
		   void (*cb)(void *ud, const struct poll_result *r), void *ud);
