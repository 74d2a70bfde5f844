/* poller.c - the bus poller (SPEC §2, §4 comm loss, §8): one thread per
 * Modbus bus. The thread owns the bus's modbus_t (libmodbus says a context
 * is not thread-safe), the port's exclusive lock, the schedule of the
 * bus's devices and a small job queue (probe, scan). Results go to the main
 * loop's bounded queue with back-pressure.
 *
 * Threads: poller_start, poller_stop and poller_submit are called by the
 * main thread; everything else runs on the bus thread, except
 * poller_run_job, which the CLI calls on its own thread with a port of its
 * own (no daemon running).
 *
 * Wire discipline: after any failed transaction the thread stays quiet for
 * max(byte timeout, inter_frame_ms, 5 ms) and flushes the port, so that a
 * late reply is never taken as the answer to the next request (on RTU
 * nothing else would catch it; on TCP the transaction id would, but as an
 * error of the next, healthy, device). */
#include "poller.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define POLLER_STACK_SIZE (256 * 1024)
#define POLLER_JOBS_MAX 8
#define SCAN_TIMEOUT_MS 100 /* a unit on a healthy line answers well within */
#define QUIET_MIN_MS 5
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define PUSH_WAIT_MS 1000
#define BURST_SIGNAL_MS 20 /* results of a long burst reach the main loop at least this often */
/* Modbus exceptions 0x0A/0x0B come from a gateway saying the target unit is
 * not there (Modbus Application Protocol v1.1b3 §7). */
#define EXC_GATEWAY_PATH 0x0A
#define EXC_GATEWAY_TARGET 0x0B

/* One open (or openable) bus port: the modbus_t and its lock. Used by one
 * thread only: the bus thread, or the CLI thread in poller_run_job. */
struct port {
	const struct config *cfg;
	const struct cfg_bus *bus;
	modbus_t *mb;
	bool connected;
	int tty_lock_fd;      /* RTU: our own fd on the tty holding the flock */
	int file_lock_fd;     /* TCP: <runtime_dir>/bus-<id>.lock, held for life */
	bool lock_file_off;   /* runtime_dir unusable: run without, logged once */
	int cur_timeout_ms;   /* response timeout set on mb, -1 unknown */
	uint64_t last_end_ms; /* end of the last transaction (inter_frame_ms) */
	uint64_t retry_at_ms; /* no reconnect attempt before this */
	int backoff_ms;
	int down_rc; /* what reads get while the port is down */
	bool down_logged;
	const atomic_bool *stop; /* NULL on the CLI path */
};

/* Schedule and comm state of one device of the bus. */
struct dev_sched {
	int index;	   /* into config.devices */
	uint64_t next_due; /* CLOCK_MONOTONIC ms */
	uint32_t polls;	   /* scheduled polls so far */
	uint32_t failures; /* consecutive */
	bool dead;	   /* failures reached fault_after: dead_retry_s pacing */
	uint64_t last_sig; /* signature of the last result: what changed goes at once */
};

/* Where results of a job go: the out queue (daemon) or a callback (CLI). */
struct emitter {
	void (*fn)(void *ud, const struct poll_result *r);
	void *ud;
};

struct poller {
	const struct config *cfg;
	int bus_index;
	queue *out;
	struct port port;
	struct dev_sched *devs;
	size_t n_devs;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards jobs, job_head, job_len and the wake-up */
	pthread_cond_t wake;  /* on CLOCK_MONOTONIC */
	atomic_bool stop;
	struct poller_job jobs[POLLER_JOBS_MAX];
	size_t job_head, job_len;
	bool full_logged, closed_logged;
	uint64_t unsignaled_since; /* first quiet push not yet signalled, 0: none */
	struct poll_result res; /* scratch of the bus thread: ~1 KB off its stack */
};

static const char *errstr(int rc, char *buf, size_t len)
{
	/* GNU strerror_r: thread-safe, returns the message */
	return strerror_r(rc < 0 ? -rc : rc, buf, len);
}

static void sleep_until_ms(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000), .tv_nsec = (long)(t % 1000) * 1000000L};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int mkdir_p(const char *dir)
{
	char buf[256];
	size_t i;

	if (util_strlcpy(buf, dir, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (i = 1; buf[i]; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* libmodbus -1/errno to our codes (STYLE.md: translate at the wrapper). */
static int map_errno(int e, int *ret_exc)
{
	*ret_exc = 0;
	if (e >= EMBXILFUN && e <= EMBXGTAR) {
		*ret_exc = e - MODBUS_ENOBASE;
		return -EPROTO;
	}
	switch (e) {
	case ETIMEDOUT:
		return -ETIMEDOUT;
	case EMBBADCRC:
	case EMBBADDATA:
	case EMBBADEXC:
	case EMBUNKEXC:
	case EMBMDATA:
	case EMBBADSLAVE:
		return -EBADMSG;
	case ECONNREFUSED:
		return -ECONNREFUSED;
	case EINVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* True when e says the link itself is gone (reset, closed, unplugged):
 * the port must be closed and reopened. */
static bool is_link_error(int e)
{
	return e != ETIMEDOUT && e != EINVAL && e < MODBUS_ENOBASE;
}

static void port_set_timeout(struct port *pt, int ms)
{
	if (ms <= 0)
		ms = pt->bus->timeout_ms > 0 ? pt->bus->timeout_ms : 500;
	if (ms == pt->cur_timeout_ms)
		return;
	modbus_set_response_timeout(pt->mb, (uint32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000u);
	pt->cur_timeout_ms = ms;
}

static int port_init(struct port *pt, const struct config *cfg, int bus_index,
		     const atomic_bool *stop)
{
	const struct cfg_bus *b = &cfg->buses[bus_index];
	char port_s[16];
	int bt = b->byte_timeout_ms;

	memset(pt, 0, sizeof(*pt));
	pt->cfg = cfg;
	pt->bus = b;
	pt->tty_lock_fd = -1;
	pt->file_lock_fd = -1;
	pt->cur_timeout_ms = -1;
	pt->backoff_ms = BACKOFF_MIN_MS;
	pt->down_rc = -EIO;
	pt->stop = stop;
	if (b->kind == BUS_TCP) {
		snprintf(port_s, sizeof(port_s), "%d", b->port > 0 ? b->port : 502);
		/* _pi: host names and IPv6 as well as dotted IPv4 */
		pt->mb = modbus_new_tcp_pi(b->host, port_s);
	} else if (b->kind == BUS_RTU) {
		pt->mb = modbus_new_rtu(
		    b->device, b->baud > 0 ? b->baud : 9600, b->parity ? b->parity : 'N',
		    b->data_bits > 0 ? b->data_bits : 8, b->stop_bits > 0 ? b->stop_bits : 1);
	} else {
		return -EINVAL;
	}
	if (!pt->mb)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	/* 0 (or both fields 0) turns libmodbus's byte timeout off */
	if (bt < 0)
		bt = 0;
	modbus_set_byte_timeout(pt->mb, (uint32_t)(bt / 1000), (uint32_t)(bt % 1000) * 1000u);
	port_set_timeout(pt, b->timeout_ms);
	return 0;
}

/* TCP: the lock file that tells a CLI probe/scan the daemon owns this bus.
 * 0 (held, or running without a lock because runtime_dir is unusable),
 * -EBUSY (someone else holds it). */
static int port_lock_file(struct port *pt)
{
	char path[512];
	int fd = -1, r;

	if (pt->file_lock_fd >= 0 || pt->lock_file_off)
		return 0;
	r = pt->cfg->runtime_dir[0] ? mkdir_p(pt->cfg->runtime_dir) : -ENOENT;
	if (r == 0 && snprintf(path, sizeof(path), "%s/bus-%s.lock", pt->cfg->runtime_dir,
			       pt->bus->id) >= (int)sizeof(path))
		r = -ENAMETOOLONG;
	if (r == 0) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			r = -errno;
	}
	if (r < 0) {
		char eb[128];

		log_warning("bus '%s': cannot use runtime directory '%s' for its lock: %s; "
			    "running without the lock",
			    pt->bus->id, pt->cfg->runtime_dir, errstr(r, eb, sizeof(eb)));
		pt->lock_file_off = true;
		return 0;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	pt->file_lock_fd = fd;
	return 0;
}

/* RTU: the flock is taken on an fd of our own on the tty before libmodbus
 * opens it. flock conflicts are per inode, so it excludes exactly as a lock
 * on libmodbus's fd would, and a CLI that finds the bus busy never touches
 * the line's termios under the daemon's feet. 0, -EBUSY, -errno. */
static int port_lock_tty(struct port *pt)
{
	int fd, r;

	fd = open(pt->bus->device, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	pt->tty_lock_fd = fd;
	return 0;
}

/* Opens the port with its lock. 0, -EBUSY (locked by another process),
 * -errno of the lock or the connect. */
static int port_open(struct port *pt)
{
	int r, want;

	if (pt->connected)
		return 0;
	if (pt->bus->kind == BUS_TCP)
		r = port_lock_file(pt);
	else
		r = port_lock_tty(pt);
	if (r < 0)
		return r;
	/* TCP connect waits at most the response timeout: the bus's, then
	 * back to what the caller (device or scan) asked for */
	want = pt->cur_timeout_ms;
	port_set_timeout(pt, pt->bus->timeout_ms);
	r = modbus_connect(pt->mb) < 0 ? (errno > 0 ? -errno : -EIO) : 0;
	port_set_timeout(pt, want);
	if (r < 0) {
		if (pt->tty_lock_fd >= 0) {
			close(pt->tty_lock_fd);
			pt->tty_lock_fd = -1;
		}
		return r;
	}
	pt->connected = true;
	pt->last_end_ms = util_mono_ms();
	return 0;
}

/* Closes the connection (and the tty lock); the TCP lock file stays held
 * while the poller lives so a CLI cannot slip in during a reconnect. */
static void port_close(struct port *pt)
{
	if (pt->connected) {
		modbus_close(pt->mb);
		pt->connected = false;
	}
	if (pt->tty_lock_fd >= 0) {
		close(pt->tty_lock_fd);
		pt->tty_lock_fd = -1;
	}
}

static void port_free(struct port *pt)
{
	port_close(pt);
	if (pt->file_lock_fd >= 0) {
		close(pt->file_lock_fd);
		pt->file_lock_fd = -1;
	}
	if (pt->mb) {
		modbus_free(pt->mb);
		pt->mb = NULL;
	}
}

static void port_describe(const struct port *pt, char *buf, size_t len)
{
	if (pt->bus->kind == BUS_TCP)
		snprintf(buf, len, "%s:%d", pt->bus->host, pt->bus->port);
	else
		snprintf(buf, len, "%s", pt->bus->device);
}

/* Makes sure the port is open, reconnecting with a bounded back-off
 * (BACKOFF_MIN_MS doubling to BACKOFF_MAX_MS): between attempts every read
 * fails at once with down_rc, so a dead bus costs no busy loop. */
static int port_ensure(struct port *pt)
{
	char eb[128], where[300];
	uint64_t now;
	int r;

	if (pt->connected)
		return 0;
	now = util_mono_ms();
	if (now < pt->retry_at_ms)
		return pt->down_rc;
	r = port_open(pt);
	if (r == 0) {
		if (pt->down_logged)
			log_notice("bus '%s' is open again", pt->bus->id);
		pt->down_logged = false;
		pt->backoff_ms = BACKOFF_MIN_MS;
		return 0;
	}
	if (!pt->down_logged) {
		port_describe(pt, where, sizeof(where));
		if (r == -EBUSY)
			log_warning("bus '%s' (%s) is locked by another process; retrying",
				    pt->bus->id, where);
		else
			log_warning(
			    "cannot open bus '%s' (%s): %s; retrying with back-off up to %d s",
			    pt->bus->id, where, errstr(r, eb, sizeof(eb)), BACKOFF_MAX_MS / 1000);
		pt->down_logged = true;
	}
	pt->down_rc = r == -EBUSY || r == -ECONNREFUSED ? r : -EIO;
	pt->retry_at_ms = now + (uint64_t)pt->backoff_ms;
	pt->backoff_ms = pt->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : pt->backoff_ms * 2;
	return pt->down_rc;
}

/* After a failed transaction: let a late reply arrive, then drop it. */
static void port_quiet_flush(struct port *pt)
{
	int ms = pt->bus->byte_timeout_ms;

	if (pt->bus->inter_frame_ms > ms)
		ms = pt->bus->inter_frame_ms;
	if (ms < QUIET_MIN_MS)
		ms = QUIET_MIN_MS;
	sleep_until_ms(util_mono_ms() + (uint64_t)ms);
	modbus_flush(pt->mb);
	pt->last_end_ms = util_mono_ms();
}

/* One request for block b of unit, one attempt. 0 or a poll_result rc. */
static int port_transact(struct port *pt, int unit, const struct profile_block *b,
			 struct profile_raw *raw, int *ret_exc)
{
	uint8_t bits[MODBUS_MAX_READ_BITS];
	uint16_t *dst;
	int n = -1, e, r, i;

	*ret_exc = 0;
	if ((size_t)b->words_offset + b->count > PROFILE_MAX_WORDS || b->count == 0)
		return -EINVAL;
	if ((b->table == TABLE_HOLDING || b->table == TABLE_INPUT) &&
	    b->count > MODBUS_MAX_READ_REGISTERS)
		return -EINVAL;
	if (b->count > MODBUS_MAX_READ_BITS)
		return -EINVAL;
	r = port_ensure(pt);
	if (r < 0)
		return r;
	if (pt->bus->inter_frame_ms > 0)
		sleep_until_ms(pt->last_end_ms + (uint64_t)pt->bus->inter_frame_ms);
	if (pt->bus->kind == BUS_RTU) {
		int pending = 0;

		/* bytes on an idle RTU line are a late reply to an earlier
		 * request: gone before this request, never read as its answer */
		if (ioctl(modbus_get_socket(pt->mb), FIONREAD, &pending) == 0 && pending > 0)
			modbus_flush(pt->mb);
	}
	modbus_set_slave(pt->mb, unit);
	dst = raw->words + b->words_offset;
	errno = 0;
	switch (b->table) {
	case TABLE_HOLDING:
		n = modbus_read_registers(pt->mb, b->address, b->count, dst);
		break;
	case TABLE_INPUT:
		n = modbus_read_input_registers(pt->mb, b->address, b->count, dst);
		break;
	case TABLE_COIL:
		n = modbus_read_bits(pt->mb, b->address, b->count, bits);
		break;
	case TABLE_DISCRETE:
		n = modbus_read_input_bits(pt->mb, b->address, b->count, bits);
		break;
	default:
		return -EINVAL;
	}
	e = errno;
	pt->last_end_ms = util_mono_ms();
	if (n == b->count) {
		if (b->table == TABLE_COIL || b->table == TABLE_DISCRETE)
			for (i = 0; i < n; i++)
				dst[i] = bits[i] ? 1 : 0;
		return 0;
	}
	if (n >= 0) {
		r = -EBADMSG; /* a reply of the wrong size */
	} else {
		r = map_errno(e, ret_exc);
		if (is_link_error(e)) {
			/* reconnect at the next request, then back off */
			port_close(pt);
			pt->retry_at_ms = 0;
			pt->down_rc = r;
			return r;
		}
	}
	port_quiet_flush(pt);
	return r;
}

static bool is_retryable(int rc)
{
	return rc == -ETIMEDOUT || rc == -EBADMSG;
}

/* Reads every block of a device: each block at most tries times (only
 * timeouts and bad replies are retried; an exception is an answer). The
 * first failure ends the read with its rc. */
static int read_blocks(struct port *pt, int unit, const struct profile *prof, int tries,
		       int timeout_ms, struct profile_raw *raw, int *ret_exc)
{
	size_t i;
	int r = 0, t;

	*ret_exc = 0;
	memset(raw, 0, sizeof(*raw));
	if (!prof)
		return -EINVAL;
	port_set_timeout(pt, timeout_ms);
	for (i = 0; i < prof->n_blocks && i < PROFILE_MAX_BLOCKS; i++) {
		for (t = 0; t < tries; t++) {
			/* a long timeout times many tries must not hold up a stop */
			if (pt->stop && atomic_load(pt->stop))
				return -ECANCELED;
			r = port_transact(pt, unit, &prof->blocks[i], raw, ret_exc);
			if (r == 0 || !is_retryable(r))
				break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int dev_timeout_ms(const struct cfg_bus *b, const struct cfg_device *d)
{
	return d->timeout_ms > 0 ? d->timeout_ms : b->timeout_ms;
}

static int dev_tries(const struct cfg_bus *b, const struct cfg_device *d)
{
	int retries = d->retries >= 0 ? d->retries : b->retries;

	return 1 + (retries > 0 ? retries : 0);
}

static void result_init(struct poll_result *r, enum poll_result_kind kind, int bus, int device,
			int unit, uint64_t tag, int rc, int exc)
{
	r->kind = kind;
	r->bus = bus;
	r->device = device;
	r->unit = unit;
	r->tag = tag;
	r->rc = rc;
	r->exception = exc;
	r->mono_ms = util_mono_ms();
	r->wall_ms = util_wall_ms();
	r->polls = 0;
	r->failures = 0;
}

static int job_check(const struct config *c, int bus_index, const struct poller_job *job)
{
	if (!job)
		return -EINVAL;
	switch (job->kind) {
	case POLLER_JOB_PROBE:
		if (job->device < 0 || (size_t)job->device >= c->n_devices ||
		    c->devices[job->device].bus != bus_index)
			return -EINVAL;
		return 0;
	case POLLER_JOB_SCAN:
		if (job->unit_from < 1 || job->unit_to > 247 || job->unit_from > job->unit_to ||
		    job->timeout_ms < 0)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Runs one job on an open (or openable) port. Emits PROBE or SCAN results,
 * then JOB_DONE. res is scratch space. Returns the JOB_DONE rc. */
static int job_run(struct port *pt, int bus_index, const struct poller_job *job,
		   const struct emitter *em, struct poll_result *res)
{
	const struct config *c = pt->cfg;
	const struct cfg_device *d;
	struct profile_block reg0 = {.table = TABLE_HOLDING, .address = 0, .count = 1};
	int rc, r, exc = 0, unit;

	rc = job_check(c, bus_index, job);
	if (rc < 0)
		goto out_done;
	if (job->kind == POLLER_JOB_PROBE) {
		d = &c->devices[job->device];
		rc = read_blocks(pt, d->unit, d->profile, dev_tries(pt->bus, d),
				 dev_timeout_ms(pt->bus, d), &res->raw, &exc);
		result_init(res, POLL_RESULT_PROBE, bus_index, job->device, d->unit, job->tag, rc,
			    exc);
		em->fn(em->ud, res);
		goto out_done;
	}
	/* SCAN: one short try per unit; scheduled polls wait meanwhile */
	port_set_timeout(pt, job->timeout_ms > 0 ? job->timeout_ms : SCAN_TIMEOUT_MS);
	for (unit = job->unit_from; unit <= job->unit_to; unit++) {
		if (pt->stop && atomic_load(pt->stop)) {
			rc = -ECANCELED;
			break;
		}
		memset(&res->raw, 0, sizeof(res->raw));
		r = port_transact(pt, unit, &reg0, &res->raw, &exc);
		if (r == 0 ||
		    (r == -EPROTO && exc != EXC_GATEWAY_PATH && exc != EXC_GATEWAY_TARGET)) {
			/* it answered: present, even if it has no register 0 */
			result_init(res, POLL_RESULT_SCAN, bus_index, -1, unit, job->tag, 0,
				    r == 0 ? 0 : exc);
			em->fn(em->ud, res);
		} else if (r != -ETIMEDOUT && r != -EBADMSG && r != -EPROTO) {
			rc = r; /* the port is gone: no use going on */
			break;
		}
	}

out_done:
	result_init(res, POLL_RESULT_JOB_DONE, bus_index,
		    job && job->kind == POLLER_JOB_PROBE ? job->device : -1, 0, job ? job->tag : 0,
		    rc, 0);
	em->fn(em->ud, res);
	return rc;
}

/* Back-pressure: wait for room, never drop silently. Only a closed queue or
 * a stop with a full queue drops, and says so. */
/* FNV-1a over a result's outcome and data: equal signatures, nothing new
 * for detection. */
static uint64_t result_sig(const struct poll_result *r, size_t n_words)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	h = (h ^ (uint64_t)(uint32_t)r->rc) * 1099511628211ull;
	for (i = 0; r->rc == 0 && i < n_words; i++)
		h = (h ^ r->raw.words[i]) * 1099511628211ull;
	return h;
}

static void push_result_quiet(poller *p, const struct poll_result *r, bool quiet);

static void push_result(void *ud, const struct poll_result *r)
{
	push_result_quiet(ud, r, false);
}

static void push_result_quiet(poller *p, const struct poll_result *r, bool quiet)
{
	bool waited = false;
	int rc;

	for (;;) {
		/* an unchanged scheduled read waits for the burst's end (one
		 * wake-up of the main loop for the burst, poller_main); anything
		 * new (a flag, a value, a failure) goes at once */
		if (quiet) {
			rc = queue_push_wait_quiet(p->out, r, PUSH_WAIT_MS);
			if (rc == 0 && !p->unsignaled_since)
				p->unsignaled_since = util_mono_ms();
		} else {
			rc = queue_push_wait(p->out, r, PUSH_WAIT_MS);
		}
		if (rc == 0)
			break;
		if (rc == -ECANCELED) {
			if (!p->closed_logged)
				log_info("bus '%s': result queue closed, dropping results",
					 p->port.bus->id);
			p->closed_logged = true;
			return;
		}
		if (atomic_load(&p->stop)) {
			log_warning(
			    "bus '%s': stopping with a full result queue, one result dropped",
			    p->port.bus->id);
			return;
		}
		if (!p->full_logged)
			log_warning("bus '%s': result queue full for %d ms, polling waits for the "
				    "main loop",
				    p->port.bus->id, PUSH_WAIT_MS);
		p->full_logged = true;
		waited = true;
	}
	if (waited) {
		log_notice("bus '%s': result queue has room again", p->port.bus->id);
		p->full_logged = false;
	}
}

static void log_dead(const struct poller *p, const struct cfg_device *d, int rc, int exc)
{
	char eb[128], what[64];
	const char *lead;

	switch (rc) {
	case -ETIMEDOUT:
		lead = "no answer from";
		break;
	case -EBADMSG:
		lead = "bad replies from";
		break;
	case -EPROTO:
		lead = "Modbus exception from";
		break;
	default:
		lead = "cannot read";
		break;
	}
	if (rc == -EPROTO)
		snprintf(what, sizeof(what), "exception 0x%02x", exc);
	else
		snprintf(what, sizeof(what), "%s", errstr(rc, eb, sizeof(eb)));
	log_warning("%s '%s' (unit %d on '%s'): %s; retrying every %d s", lead, d->id, d->unit,
		    p->port.bus->id, what, d->dead_retry_s > 0 ? d->dead_retry_s : 10);
}

static uint64_t dev_period_ms(const struct cfg_device *d, bool dead)
{
	if (dead)
		return (uint64_t)(d->dead_retry_s > 0 ? d->dead_retry_s : 10) * 1000u;
	return (uint64_t)(d->poll_ms > 0 ? d->poll_ms : 1000);
}

/* How early a device may be polled to join a burst: half its period, at
 * most 500 ms. A device keeps its period (next_due advances by it), so
 * joining early once never lengthens the wait of a fire. */
static uint64_t poll_slack_ms(const struct cfg_device *d)
{
	uint64_t slack = dev_period_ms(d, false) / 2;

	return slack > 500 ? 500 : slack;
}

/* One scheduled poll of s: read, count, reschedule, log transitions, push. */
static void poll_device(poller *p, struct dev_sched *s)
{
	const struct cfg_device *d = &p->cfg->devices[s->index];
	int fault_after = d->fault_after > 0 ? d->fault_after : 3;
	struct poll_result *res = &p->res;
	bool was_dead = s->dead;
	uint64_t start, now, period;
	int rc, exc;

	start = util_mono_ms();
	/* a device in comm loss gets one try per dead retry, not 1 + retries */
	rc = read_blocks(&p->port, d->unit, d->profile, s->dead ? 1 : dev_tries(p->port.bus, d),
			 dev_timeout_ms(p->port.bus, d), &res->raw, &exc);
	if (rc == -ECANCELED)
		return; /* stopping: not a poll of the device */
	s->polls++;
	if (rc == 0) {
		if (s->dead)
			log_notice("'%s' (unit %d on '%s') answers again after %u failed polls",
				   d->id, d->unit, p->port.bus->id, s->failures);
		s->failures = 0;
		s->dead = false;
	} else {
		s->failures++;
		if (!s->dead && s->failures >= (uint32_t)fault_after) {
			s->dead = true;
			log_dead(p, d, rc, exc);
		}
	}
	now = util_mono_ms();
	period = dev_period_ms(d, s->dead);
	if (s->dead != was_dead) {
		s->next_due = now + period;
	} else {
		/* early (it joined a burst): from the start of this poll, so
		 * two reads are never more than a period apart (the fire
		 * latency bound) and devices polled together stay together;
		 * late (the bus was busy): from when it was due, so a slow
		 * neighbour costs no poll rate; more than a period late: afresh,
		 * no burst of catch-up polls */
		s->next_due = (start < s->next_due ? start : s->next_due) + period;
		if (s->next_due + period < now)
			s->next_due = now + period;
	}
	if (rc == -ETIMEDOUT && p->port.bus->kind == BUS_RTU) {
		/* an RTU reply has no transaction id: a slave answering after
		 * the timeout would answer this unit's next request if it came
		 * soon. Its next request waits 4 timeouts, so a late reply finds
		 * the line idle and is flushed, and a slow slave stays failed. */
		uint64_t quiet = now + 4u * (uint64_t)dev_timeout_ms(p->port.bus, d);

		if (s->next_due < quiet)
			s->next_due = quiet;
	}
	result_init(res, POLL_RESULT_READ, p->bus_index, s->index, d->unit, 0, rc, exc);
	res->polls = s->polls;
	res->failures = s->failures;
	{
		uint64_t sig = result_sig(res, d->profile->n_words);

		push_result_quiet(p, res, sig == s->last_sig);
		s->last_sig = sig;
	}
}

static struct timespec mono_ts(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	return ts;
}

/* The bus thread: jobs first, then whichever device is due; otherwise
 * sleep until the earliest deadline or a wake-up. Finding the earliest is a
 * linear scan: 250 devices polled each second cost ~60 000 comparisons a
 * second, far below the cost of one Modbus read. */
static void *poller_main(void *arg)
{
	poller *p = arg;
	struct emitter em = {.fn = push_result, .ud = p};
	struct poller_job job;
	struct dev_sched *next;
	struct timespec ts;
	uint64_t now;
	size_t i;

	pthread_mutex_lock(&p->lock);
	while (!atomic_load(&p->stop)) {
		if (p->job_len > 0) {
			job = p->jobs[p->job_head];
			p->job_head = (p->job_head + 1) % POLLER_JOBS_MAX;
			p->job_len--;
			pthread_mutex_unlock(&p->lock);
			job_run(&p->port, p->bus_index, &job, &em, &p->res);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		next = NULL;
		for (i = 0; i < p->n_devs; i++)
			if (!next || p->devs[i].next_due < next->next_due)
				next = &p->devs[i];
		now = util_mono_ms();
		/* a device due within the slack is polled now, with the one
		 * that woke the thread: results come in bursts, and the thread
		 * and the main loop wake a few times a second instead of once
		 * per device (the cost at rest of SPEC §8). Polling a little
		 * early never lengthens the interval a fire waits for. */
		if (next && next->next_due <= now + poll_slack_ms(&p->cfg->devices[next->index])) {
			pthread_mutex_unlock(&p->lock);
			poll_device(p, next);
			/* a long burst (slow or dead devices) still hands its
			 * results over every BURST_SIGNAL_MS */
			if (p->unsignaled_since &&
			    util_mono_ms() - p->unsignaled_since >= BURST_SIGNAL_MS) {
				queue_signal(p->out);
				p->unsignaled_since = 0;
			}
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->unsignaled_since) {
			/* the burst is over: one wake-up of the main loop for all */
			queue_signal(p->out);
			p->unsignaled_since = 0;
		}
		if (next) {
			ts = mono_ts(next->next_due);
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		} else {
			pthread_cond_wait(&p->wake, &p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void poller_free(poller *p)
{
	if (!p)
		return;
	port_free(&p->port);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->devs);
	free(p);
}

int poller_start(const struct config *c, int bus_index, queue *out, poller **ret)
{
	pthread_condattr_t ca;
	pthread_attr_t ta;
	uint64_t start;
	size_t i, n = 0;
	poller *p;
	int r;

	if (!c || !out || !ret || bus_index < 0 || (size_t)bus_index >= c->n_buses)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = c;
	p->bus_index = bus_index;
	p->out = out;
	atomic_init(&p->stop, false);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = port_init(&p->port, c, bus_index, &p->stop);
	if (r < 0)
		goto out_free;

	for (i = 0; i < c->n_devices; i++)
		if (c->devices[i].bus == bus_index)
			n++;
	if (n > 0) {
		p->devs = calloc(n, sizeof(*p->devs));
		if (!p->devs) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	/* first polls spread evenly over the period: no burst at start-up */
	start = util_mono_ms();
	for (i = 0; i < c->n_devices; i++) {
		const struct cfg_device *d = &c->devices[i];
		struct dev_sched *s;

		if (d->bus != bus_index)
			continue;
		s = &p->devs[p->n_devs];
		s->index = (int)i;
		s->next_due = start + dev_period_ms(d, false) * p->n_devs / n;
		p->n_devs++;
	}

	/* take the TCP lock file now, so no CLI slips in before the first
	 * poll; if a CLI holds it, the thread retries at each reconnect */
	if (c->buses[bus_index].kind == BUS_TCP)
		(void)port_lock_file(&p->port);

	pthread_attr_init(&ta);
	pthread_attr_setstacksize(&ta, POLLER_STACK_SIZE);
	r = -pthread_create(&p->thread, &ta, poller_main, p);
	pthread_attr_destroy(&ta);
	if (r < 0)
		goto out_free;
	p->started = true;
	*ret = p;
	return 0;

out_free:
	poller_free(p);
	return r;
}

void poller_stop(poller *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		atomic_store(&p->stop, true);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	poller_free(p);
}

int poller_submit(poller *p, const struct poller_job *job)
{
	int r;

	if (!p || !job)
		return -EINVAL;
	r = job_check(p->cfg, p->bus_index, job);
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->stop)) {
		r = -ECANCELED;
	} else if (p->job_len == POLLER_JOBS_MAX) {
		r = -EAGAIN;
	} else {
		p->jobs[(p->job_head + p->job_len) % POLLER_JOBS_MAX] = *job;
		p->job_len++;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int poller_run_job(const struct config *c, int bus_index, const struct poller_job *job,
		   void (*cb)(void *ud, const struct poll_result *r), void *ud)
{
	struct emitter em = {.fn = cb, .ud = ud};
	struct poll_result *res;
	char eb[128], where[300];
	struct port pt;
	int r;

	if (!c || !cb || bus_index < 0 || (size_t)bus_index >= c->n_buses)
		return -EINVAL;
	r = job_check(c, bus_index, job);
	if (r < 0)
		return r;
	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	r = port_init(&pt, c, bus_index, NULL);
	if (r < 0)
		goto out_free;
	r = port_open(&pt);
	if (r == -EBUSY) {
		log_error("bus '%s' is in use by a running firegw; use the daemon's control socket",
			  pt.bus->id);
		goto out_close;
	}
	if (r < 0) {
		port_describe(&pt, where, sizeof(where));
		log_error("cannot open bus '%s' (%s): %s", pt.bus->id, where,
			  errstr(r, eb, sizeof(eb)));
		goto out_close;
	}
	r = job_run(&pt, bus_index, job, &em, res);

out_close:
	port_free(&pt);
out_free:
	free(res);
	return r;
}
