/* poller.c - the bus poller (SPEC §2, §4 comm loss, §8): one thread per
 * Modbus bus. The thread owns the bus's modbus_t (libmodbus says a context
 * is not thread-safe), the port's exclusive lock, the schedule of the
 * bus's devices and a small job queue (probe, scan). Results go to the main
 * loop's bounded queue with back-pressure.
 *
 * Threads: poller_start, poller_stop, poller_submit, poller_cancel and
 * poller_progress_ms are called by the main thread; everything else runs on
 * the bus thread, except poller_run_job, which the CLI calls on its own
 * thread with a port of its own (no daemon running).
 *
 * Schedule: a healthy device (no failure pending) is polled when due, and
 * devices due soon join it in a burst (poll_slack_ms). Everything else is
 * background work that runs one transaction at a time, and only where that
 * transaction's whole timeout fits before the next due poll of a healthy
 * device: the tries of a failing device after its first, the retries of a
 * device in comm loss, every step of a job (one scan unit, one probe try).
 * So a dead, slow or garbling unit, or a scan, costs its neighbours at most
 * the one timeout of the first failing try, never a period. Two limits:
 * a failing device (not yet in comm loss) waits for a gap at most
 * 500 ms / fault_after per poll, then goes anyway, so comm_loss still
 * comes within the SPEC §8 bound on a bus that has no gap; a device in
 * comm loss or a job waits for a gap as long as it takes (on a bus that
 * never leaves a gap of a dead unit's timeout, that unit stays in comm loss
 * until one opens: shorten its timeout_ms). A result with news (a change,
 * a failure) is handed over at once with everything pushed before it;
 * unchanged results wait for the burst's end (cost at rest), but never
 * for a background transaction: those are handed over before it starts.
 *
 * Wire discipline: the port is flushed before every RTU request and after
 * any failed transaction (after a quiet of max(byte timeout,
 * inter_frame_ms, 5 ms)), so a reply arriving outside its request's window
 * is dropped. A late reply that lands inside a later window of the same
 * unit cannot be told from an answer on RTU (no transaction id): so on RTU
 * a good read of a device with a failed try since its last confirmed read
 * (a failing device, or one in comm loss) counts only when the unit also
 * answers confirmation reads sent at once after it, with a timeout bounded
 * by the time left before the next due poll. A unit answering later than
 * its timeout cannot answer those in time, unless the gateway sent it the
 * same requests exactly one delay earlier: a unit whose replies are late
 * by one retry spacing would mirror the gateway's last retry and its
 * confirmation, so each failed confirmation of a comm loss asks one more
 * confirmation read the next time (up to CONFIRM_MAX), which the mirror
 * lacks. A healthy unit pays one extra read, at recovery only.
 *
 * Modbus TCP framing is checked here, not by libmodbus: libmodbus 3.1.x
 * (Debian 12 ships 3.1.6) checks a reply's transaction id but neither its
 * unit id nor its MBAP length (it frames by the PDU's byte count), so a
 * reply from the wrong unit behind a TCP gateway, or a frame whose header
 * disagrees with its body, would be taken as an answer. The bus thread
 * builds each request itself with its own transaction id, sends it on the
 * context's socket and reads the reply with modbus_receive_confirmation
 * (libmodbus's framing and response timeout, no checks), then
 * poller_tcp_check_reply checks every header field and the body's size
 * against the request before a value is taken. A refused reply is a failed
 * try (-EBADMSG: retried, counted, comm loss after fault_after), followed by
 * the quiet flush that drops whatever the frame left behind. The
 * transaction id rejects a late reply. */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
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
#define WAIT_MAX_MS 1000   /* the thread shows progress at least this often when idle */
#define JOB_TIMEOUT_MAX_MS 1000 /* a job's transaction: a stop is obeyed within a second */
#define SCAN_TIMEOUT_MIN_MS 10
#define JOB_WAIT_LOG_MS 10000 /* a job waiting this long for a gap is logged */
#define CONFIRM_MAX 4	      /* confirmation reads of an RTU recovery, at most */
#define FORCE_BUDGET_MS 500   /* a failing device's wait for gaps, over its fault_after polls */
/* Modbus exceptions 0x0A/0x0B come from a gateway saying the target unit is
 * not there (Modbus Application Protocol v1.1b3 §7). */
#define EXC_GATEWAY_PATH 0x0A
#define EXC_GATEWAY_TARGET 0x0B
#define MBAP_HEADER_LEN 7 /* transaction, protocol, length, unit id */
#define MBAP_ADU_MAX MODBUS_TCP_MAX_ADU_LENGTH

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
	uint64_t ok_ms;	      /* recent duration of a good transaction (a decaying max) */
	uint64_t retry_at_ms; /* no reconnect attempt before this */
	int backoff_ms;
	int down_rc; /* what reads get while the port is down */
	bool down_logged;
	uint16_t tid;	     /* TCP: transaction id of the last request */
	struct log_ratelimit bad_rl; /* TCP: refused replies of this bus */
	const atomic_bool *stop; /* NULL on the CLI path */
};

/* Schedule and comm state of one device of the bus. */
struct dev_sched {
	int index;	       /* into config.devices */
	uint64_t next_due;     /* CLOCK_MONOTONIC ms */
	uint64_t poll_due;     /* when the poll in progress was due */
	uint32_t polls;	       /* scheduled polls so far */
	uint32_t failures;     /* consecutive */
	int tries_done;	       /* failed tries of the poll in progress; 0: none in progress */
	int last_rc, last_exc; /* of the last failed try */
	bool dead;	       /* failures reached fault_after: dead_retry_s pacing */
	bool suspect;	       /* RTU: a try failed since the last confirmed good read */
	uint32_t bad_confirms; /* RTU: failed confirmations in this comm loss */
	uint64_t last_sig;     /* signature of the last result: what changed goes at once */
};

/* The job the bus thread is running, step by step. */
struct job_state {
	bool active;
	struct poller_job job;
	int unit;	     /* SCAN: next unit */
	int tries;	     /* PROBE: tries done */
	int rc;		     /* JOB_DONE rc so far */
	uint64_t wait_since; /* its next step has waited for a gap since, 0: not */
	bool wait_logged;
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
	bool job_cancelled[POLLER_JOBS_MAX]; /* parallel to jobs */
	size_t job_head, job_len;
	struct job_state cur; /* the running job (bus thread; cur_tag/cancel under lock) */
	uint64_t cur_tag;     /* tag of the running job, 0: none (under lock) */
	bool cur_cancel;      /* poller_cancel asked the running job to end (under lock) */
	bool in_burst;	      /* the last step was a scheduled poll: others may join early */
	_Atomic uint64_t progress_ms;
	bool full_logged, closed_logged;
	uint64_t unsignaled_since; /* first quiet push not yet signalled, 0: none */
	struct poll_result res;	   /* scratch of the bus thread: ~1 KB off its stack */
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
	/* the runtime directory itself as control.c makes it: 0750, since
	 * its control socket is for the daemon's group only */
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
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

static bool is_bit_function(uint8_t function)
{
	return function == MODBUS_FC_READ_COILS || function == MODBUS_FC_READ_DISCRETE_INPUTS;
}

int poller_tcp_check_reply(const uint8_t *rsp, size_t len, uint16_t tid, uint8_t unit,
			   uint8_t function, uint16_t count, uint16_t *dst, int *ret_exc)
{
	size_t body, i;
	uint8_t fn;

	*ret_exc = 0;
	if (!rsp || !dst || count == 0 || len < MBAP_HEADER_LEN + 2 || len > MBAP_ADU_MAX)
		return -EBADMSG;
	if (is_bit_function(function)) {
		if (count > MODBUS_MAX_READ_BITS)
			return -EINVAL;
		body = ((size_t)count + 7) / 8;
	} else if (function == MODBUS_FC_READ_HOLDING_REGISTERS ||
		   function == MODBUS_FC_READ_INPUT_REGISTERS) {
		if (count > MODBUS_MAX_READ_REGISTERS)
			return -EINVAL;
		body = (size_t)count * 2;
	} else {
		return -EINVAL;
	}
	/* MBAP (Modbus Messaging on TCP/IP v1.0b §3.1.3): transaction id
	 * echoed, protocol id 0, length = the bytes after it (unit id and
	 * PDU), unit id echoed */
	if ((uint16_t)(rsp[0] << 8 | rsp[1]) != tid || rsp[2] != 0 || rsp[3] != 0)
		return -EBADMSG;
	if ((size_t)(rsp[4] << 8 | rsp[5]) != len - 6 || rsp[6] != unit)
		return -EBADMSG;
	fn = rsp[7];
	if (fn == (function | 0x80)) {
		/* exception PDU: function | 0x80, one code (§7 of the
		 * application protocol); an unknown code is no answer */
		if (len != MBAP_HEADER_LEN + 2)
			return -EBADMSG;
		if (rsp[8] < MODBUS_EXCEPTION_ILLEGAL_FUNCTION ||
		    rsp[8] > MODBUS_EXCEPTION_GATEWAY_TARGET)
			return -EBADMSG;
		*ret_exc = rsp[8];
		return -EPROTO;
	}
	if (fn != function || rsp[8] != body || len != MBAP_HEADER_LEN + 2 + body)
		return -EBADMSG;
	for (i = 0; i < count; i++) {
		if (is_bit_function(function))
			dst[i] = (rsp[9 + i / 8] >> (i % 8)) & 1u;
		else
			dst[i] = (uint16_t)(rsp[9 + 2 * i] << 8 | rsp[10 + 2 * i]);
	}
	return 0;
}

static uint8_t table_function(enum reg_table t)
{
	switch (t) {
	case TABLE_HOLDING:
		return MODBUS_FC_READ_HOLDING_REGISTERS;
	case TABLE_INPUT:
		return MODBUS_FC_READ_INPUT_REGISTERS;
	case TABLE_COIL:
		return MODBUS_FC_READ_COILS;
	case TABLE_DISCRETE:
		return MODBUS_FC_READ_DISCRETE_INPUTS;
	default:
		return 0;
	}
}

/* One Modbus TCP read of block b of unit into dst: our request, libmodbus's
 * framing, our checks (see the top of this file). 0; a poll_result rc;
 * -1 with *ret_errno set when the socket or libmodbus failed (the caller
 * maps it as for libmodbus's own reads). */
static int tcp_read_block(struct port *pt, int unit, const struct profile_block *b, uint16_t *dst,
			  int *ret_exc, int *ret_errno)
{
	uint8_t req[MBAP_HEADER_LEN + 5], rsp[MBAP_ADU_MAX] = { 0 };
	uint8_t fn = table_function(b->table);
	unsigned suppressed;
	ssize_t w;
	int fd, n, r;

	*ret_errno = 0;
	fd = modbus_get_socket(pt->mb);
	if (fn == 0 || fd < 0)
		return -EINVAL;
	pt->tid++;
	req[0] = (uint8_t)(pt->tid >> 8);
	req[1] = (uint8_t)pt->tid;
	req[2] = 0;
	req[3] = 0;
	req[4] = 0;
	req[5] = 6; /* unit id + function + address + count */
	req[6] = (uint8_t)unit;
	req[7] = fn;
	req[8] = (uint8_t)(b->address >> 8);
	req[9] = (uint8_t)b->address;
	req[10] = (uint8_t)(b->count >> 8);
	req[11] = (uint8_t)b->count;
	do {
		w = send(fd, req, sizeof(req), MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(req)) {
		*ret_errno = w < 0 ? errno : EIO;
		return -1;
	}
	errno = 0;
	n = modbus_receive_confirmation(pt->mb, rsp);
	if (n < 0) {
		*ret_errno = errno > 0 ? errno : EIO;
		return -1;
	}
	r = poller_tcp_check_reply(rsp, (size_t)n, pt->tid, (uint8_t)unit, fn, b->count, dst,
				   ret_exc);
	if (r == -EBADMSG && log_ratelimit_ok(&pt->bad_rl, util_mono_ms(), 10000, &suppressed)) {
		char more[64] = "";

		if (suppressed > 0)
			snprintf(more, sizeof(more), "; %u more refused replies not logged", suppressed);
		/* numbers only: nothing of the reply reaches the log as text */
		log_warning("bus '%s': reply for unit %d refused (transaction %u: unit id %u, "
			    "MBAP length %u for %d bytes, function 0x%02x)%s",
			    pt->bus->id, unit, (unsigned)pt->tid, (unsigned)rsp[6],
			    (unsigned)(rsp[4] << 8 | rsp[5]), n, (unsigned)rsp[7], more);
	}
	return r;
}

/* One request for block b of unit, one attempt. 0 or a poll_result rc. */
static int port_transact(struct port *pt, int unit, const struct profile_block *b,
			 struct profile_raw *raw, int *ret_exc)
{
	uint8_t bits[MODBUS_MAX_READ_BITS];
	uint16_t *dst;
	uint64_t start;
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
	/* bytes on an idle RTU line are a late reply to an earlier request:
	 * gone before this request, never read as its answer (a tcflush, no
	 * wait) */
	if (pt->bus->kind == BUS_RTU)
		modbus_flush(pt->mb);
	modbus_set_slave(pt->mb, unit);
	dst = raw->words + b->words_offset;
	start = util_mono_ms(); /* for ok_ms */
	errno = 0;
	e = 0;
	if (pt->bus->kind == BUS_TCP) {
		r = tcp_read_block(pt, unit, b, dst, ret_exc, &e);
		n = r == 0 ? b->count : -1;
	} else {
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
		if (n == b->count && (b->table == TABLE_COIL || b->table == TABLE_DISCRETE))
			for (i = 0; i < n; i++)
				dst[i] = bits[i] ? 1 : 0;
		/* a reply of the wrong size, or a libmodbus failure */
		r = n == b->count ? 0 : n >= 0 ? -EBADMSG : -1;
	}
	pt->last_end_ms = util_mono_ms();
	if (r == 0) {
		uint64_t dur = pt->last_end_ms - start;

		/* what a good transaction costs on this line: the other
		 * blocks of a try that fails on one (try_cost_ms) */
		pt->ok_ms = dur > pt->ok_ms ? dur : (pt->ok_ms * 7 + dur) / 8;
		return 0;
	}
	if (r == -1) {
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

static int quiet_ms(const struct cfg_bus *b)
{
	int ms = b->byte_timeout_ms;

	if (b->inter_frame_ms > ms)
		ms = b->inter_frame_ms;
	return ms < QUIET_MIN_MS ? QUIET_MIN_MS : ms;
}

/* What one try of a device may cost: a try ends at its first failure, so
 * one block's whole timeout, the other blocks at what a good transaction
 * costs on this line (at least QUIET_MIN_MS), the gaps between frames and
 * the quiet after a failure. */
static uint64_t try_cost_ms(const struct port *pt, const struct profile *prof, int timeout_ms)
{
	const struct cfg_bus *b = pt->bus;
	uint64_t nb = prof && prof->n_blocks > 0 ? prof->n_blocks : 1;
	uint64_t ok = pt->ok_ms > QUIET_MIN_MS ? pt->ok_ms : QUIET_MIN_MS;

	return (uint64_t)timeout_ms + (nb - 1) * ok +
	       nb * (uint64_t)(b->inter_frame_ms > 0 ? b->inter_frame_ms : 0) +
	       (uint64_t)quiet_ms(b);
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
		if (job->unit_from < 1 || job->unit_to > 247 || job->unit_from > job->unit_to)
			return -EINVAL;
		/* a bounded transaction: the bus is shared with the polls */
		if (job->timeout_ms != 0 &&
		    (job->timeout_ms < SCAN_TIMEOUT_MIN_MS || job->timeout_ms > JOB_TIMEOUT_MAX_MS))
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

static int scan_timeout_ms(const struct poller_job *job)
{
	return job->timeout_ms > 0 ? job->timeout_ms : SCAN_TIMEOUT_MS;
}

static int probe_timeout_ms(const struct cfg_bus *b, const struct cfg_device *d)
{
	int t = dev_timeout_ms(b, d);

	return t > JOB_TIMEOUT_MAX_MS ? JOB_TIMEOUT_MAX_MS : t;
}

static void job_begin(struct job_state *js, const struct poller_job *job)
{
	memset(js, 0, sizeof(*js));
	js->active = true;
	js->job = *job;
	js->unit = job->unit_from;
}

static void job_finish(struct job_state *js, int bus_index, int rc, const struct emitter *em,
		       struct poll_result *res)
{
	const struct poller_job *job = &js->job;

	result_init(res, POLL_RESULT_JOB_DONE, bus_index,
		    job->kind == POLLER_JOB_PROBE ? job->device : -1, 0, job->tag, rc, 0);
	js->active = false;
	js->rc = rc;
	em->fn(em->ud, res);
}

enum step { STEP_WAIT, STEP_MORE, STEP_DONE };

/* One step of the running job: one scan unit or one probe try, only when
 * its whole cost fits before limit (the next due poll of the bus;
 * UINT64_MAX on the CLI path). Emits PROBE or SCAN results, and JOB_DONE
 * when the job is over. res is scratch space. */
static enum step job_step(struct port *pt, int bus_index, struct job_state *js, uint64_t limit,
			  const struct emitter *em, struct poll_result *res)
{
	const struct config *c = pt->cfg;
	const struct poller_job *job = &js->job;
	struct profile_block reg0 = {.table = TABLE_HOLDING, .address = 0, .count = 1};
	int r, exc = 0, t;

	r = job_check(c, bus_index, job);
	if (r < 0) {
		job_finish(js, bus_index, r, em, res);
		return STEP_DONE;
	}
	if (job->kind == POLLER_JOB_PROBE) {
		const struct cfg_device *d = &c->devices[job->device];

		t = probe_timeout_ms(pt->bus, d);
		if (limit != UINT64_MAX && util_mono_ms() + try_cost_ms(pt, d->profile, t) > limit)
			return STEP_WAIT;
		r = read_blocks(pt, d->unit, d->profile, 1, t, &res->raw, &exc);
		if (r == -ECANCELED)
			return STEP_MORE; /* stopping: the caller ends the job */
		js->tries++;
		if (r != 0 && is_retryable(r) && js->tries < dev_tries(pt->bus, d))
			return STEP_MORE;
		result_init(res, POLL_RESULT_PROBE, bus_index, job->device, d->unit, job->tag, r,
			    exc);
		em->fn(em->ud, res);
		job_finish(js, bus_index, r, em, res);
		return STEP_DONE;
	}
	/* SCAN: one short try per unit */
	t = scan_timeout_ms(job);
	if (limit != UINT64_MAX &&
	    util_mono_ms() + (uint64_t)t + (uint64_t)quiet_ms(pt->bus) +
		    (uint64_t)(pt->bus->inter_frame_ms > 0 ? pt->bus->inter_frame_ms : 0) >
		limit)
		return STEP_WAIT;
	port_set_timeout(pt, t);
	memset(&res->raw, 0, sizeof(res->raw));
	r = port_transact(pt, js->unit, &reg0, &res->raw, &exc);
	if (r == 0 || (r == -EPROTO && exc != EXC_GATEWAY_PATH && exc != EXC_GATEWAY_TARGET)) {
		/* it answered: present, even if it has no register 0 */
		result_init(res, POLL_RESULT_SCAN, bus_index, -1, js->unit, job->tag, 0,
			    r == 0 ? 0 : exc);
		em->fn(em->ud, res);
	} else if (r != -ETIMEDOUT && r != -EBADMSG && r != -EPROTO) {
		job_finish(js, bus_index, r, em, res); /* the port is gone: no use going on */
		return STEP_DONE;
	}
	if (++js->unit > job->unit_to) {
		job_finish(js, bus_index, 0, em, res);
		return STEP_DONE;
	}
	return STEP_MORE;
}

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
static void flush_signal(poller *p);

static void push_result(void *ud, const struct poll_result *r)
{
	push_result_quiet(ud, r, false);
}

/* Back-pressure: wait for room, never drop silently. Only a closed queue or
 * a stop with a full queue drops, and says so. */
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
			/* the queue signals a push only into an empty queue: news
			 * behind quiet results of this burst would wait for the
			 * burst's end, behind a timeout perhaps */
			if (rc == 0 && p->unsignaled_since)
				flush_signal(p);
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

/* Hands over every result pushed quietly so far: before a transaction that
 * may block for its whole timeout. */
static void flush_signal(poller *p)
{
	if (p->unsignaled_since) {
		queue_signal(p->out);
		p->unsignaled_since = 0;
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

/* How long a failing device (not in comm loss) waits for a gap per poll
 * before it goes anyway: FORCE_BUDGET_MS over its fault_after polls, so
 * comm_loss stays within the SPEC §8 bound (its + 1 s). */
static uint64_t force_after_ms(const struct cfg_device *d)
{
	int fault_after = d->fault_after > 0 ? d->fault_after : 3;

	return (uint64_t)(FORCE_BUDGET_MS / fault_after);
}

/* Healthy: polled when due, in bursts. Anything else is background work. */
static bool dev_healthy(const struct dev_sched *s)
{
	return !s->dead && s->failures == 0 && s->tries_done == 0;
}

/* When background work of s may start: a poll in progress at once, else
 * its next due time. */
static uint64_t bg_due(const struct dev_sched *s)
{
	return s->tries_done > 0 ? 0 : s->next_due;
}

/* RTU: confirmation reads after a good read of a suspect unit, each sent
 * at once, each with the time left before limit (at most the device's
 * timeout). 0 (confirmed, raw holds the last read), -EAGAIN (no time
 * left for one: nothing learnt), or the failed read's rc. */
static int confirm_read(poller *p, struct dev_sched *s, uint64_t limit, struct profile_raw *raw,
			int *ret_exc)
{
	const struct cfg_device *d = &p->cfg->devices[s->index];
	int timeout = dev_timeout_ms(p->port.bus, d), n, i, r, t;
	uint64_t now, cost;

	n = 1 + (int)(s->bad_confirms < CONFIRM_MAX - 1 ? s->bad_confirms : CONFIRM_MAX - 1);
	for (i = 0; i < n; i++) {
		t = timeout;
		now = util_mono_ms();
		if (limit != UINT64_MAX) {
			cost = try_cost_ms(&p->port, d->profile, 0);
			if (now + cost + SCAN_TIMEOUT_MIN_MS > limit)
				return -EAGAIN;
			if ((uint64_t)t > limit - now - cost)
				t = (int)(limit - now - cost);
		}
		r = read_blocks(&p->port, d->unit, d->profile, 1, t, raw, ret_exc);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Ends the poll in progress of s with rc: counts, logs transitions,
 * reschedules, pushes the result. */
static void poll_end(poller *p, struct dev_sched *s, int rc, int exc, uint64_t due)
{
	const struct cfg_device *d = &p->cfg->devices[s->index];
	int fault_after = d->fault_after > 0 ? d->fault_after : 3;
	struct poll_result *res = &p->res;
	bool was_dead = s->dead;
	uint64_t now, period;

	s->polls++;
	s->tries_done = 0;
	if (rc == 0) {
		if (s->dead)
			log_notice("'%s' (unit %d on '%s') answers again after %u failed polls",
				   d->id, d->unit, p->port.bus->id, s->failures);
		s->failures = 0;
		s->dead = false;
		s->suspect = false;
		s->bad_confirms = 0;
	} else {
		s->failures++;
		if (!s->dead && s->failures >= (uint32_t)fault_after) {
			s->dead = true;
			log_dead(p, d, rc, exc);
		}
	}
	now = util_mono_ms();
	period = dev_period_ms(d, s->dead);
	if (s->dead) {
		/* from the end of the retry: a unit whose replies come late by
		 * a multiple of dead_retry_s does not find its old replies
		 * waiting in each retry's window */
		s->next_due = now + period;
	} else if (s->dead != was_dead) {
		s->next_due = now + period;
	} else {
		/* early (it joined a burst): from the start of this poll, so
		 * two reads are never more than a period apart (the fire
		 * latency bound) and devices polled together stay together;
		 * late (the bus was busy): from when it was due, so a slow
		 * neighbour costs no poll rate; more than a period late: afresh,
		 * no burst of catch-up polls */
		s->next_due = due + period;
		if (s->next_due + period < now)
			s->next_due = now + period;
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

/* One try of s. Healthy devices come here when due (limit UINT64_MAX: the
 * first try is never held back); everything else only when it fits
 * before limit. false: stopping, nothing done. */
static bool poll_try(poller *p, struct dev_sched *s, uint64_t start, uint64_t limit)
{
	const struct cfg_device *d = &p->cfg->devices[s->index];
	struct poll_result *res = &p->res;
	bool rtu = p->port.bus->kind == BUS_RTU;
	int rc, exc = 0, tries;

	if (s->tries_done == 0)
		s->poll_due = start < s->next_due ? start : s->next_due;
	rc = read_blocks(&p->port, d->unit, d->profile, 1, dev_timeout_ms(p->port.bus, d),
			 &res->raw, &exc);
	if (rc == -ECANCELED)
		return false; /* stopping: not a poll of the device */
	if (rc == 0 && rtu && s->suspect) {
		/* a late reply to an earlier request would read as this one:
		 * the unit must also answer at once */
		rc = confirm_read(p, s, limit, &res->raw, &exc);
		if (rc == -ECANCELED)
			return false;
		if (rc == -EAGAIN) {
			rc = -ETIMEDOUT; /* no time to confirm: not an answer yet */
		} else if (rc < 0 && s->dead) {
			s->bad_confirms++;
			log_info("'%s' (unit %d on '%s'): a reply came but the confirmation "
				 "read failed; a late reply, the unit stays in comm loss",
				 d->id, d->unit, p->port.bus->id);
		}
	}
	if (rc == 0) {
		poll_end(p, s, 0, 0, s->poll_due);
		return true;
	}
	if (rtu)
		s->suspect = true;
	s->tries_done++;
	s->last_rc = rc;
	s->last_exc = exc;
	/* a device in comm loss gets one try per dead retry, not 1 + retries */
	tries = s->dead ? 1 : dev_tries(p->port.bus, d);
	if (is_retryable(rc) && s->tries_done < tries)
		return true; /* the next try waits for a gap */
	poll_end(p, s, rc, exc, s->poll_due);
	return true;
}

static struct timespec mono_ts(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	return ts;
}

/* Called with p->lock held: ends cancelled jobs (queued or running) and
 * takes the next queued job when none runs. Unlocks around pushes. */
static void jobs_update(poller *p, const struct emitter *em)
{
	struct poller_job job;
	bool cancelled;
	size_t n;

	if (p->cur.active && p->cur_cancel) {
		p->cur_tag = 0;
		p->cur_cancel = false;
		pthread_mutex_unlock(&p->lock);
		job_finish(&p->cur, p->bus_index, -ECANCELED, em, &p->res);
		pthread_mutex_lock(&p->lock);
	}
	/* bounded: each round takes one queued job out */
	for (n = 0; n < POLLER_JOBS_MAX && !p->cur.active && p->job_len > 0; n++) {
		job = p->jobs[p->job_head];
		cancelled = p->job_cancelled[p->job_head];
		p->job_cancelled[p->job_head] = false;
		p->job_head = (p->job_head + 1) % POLLER_JOBS_MAX;
		p->job_len--;
		job_begin(&p->cur, &job);
		if (!cancelled) {
			p->cur_tag = job.tag;
			p->cur_cancel = false;
			break;
		}
		pthread_mutex_unlock(&p->lock);
		job_finish(&p->cur, p->bus_index, -ECANCELED, em, &p->res);
		pthread_mutex_lock(&p->lock);
	}
}

static void store_progress(poller *p)
{
	atomic_store(&p->progress_ms, util_mono_ms());
}

/* Picks the background work to run now, if any fits before limit:
 * failing devices first (the comm_loss bound), then devices in comm loss.
 * Lowers *wake to when something not yet due becomes due. */
static struct dev_sched *pick_background(poller *p, uint64_t now, uint64_t limit, uint64_t *wake)
{
	struct dev_sched *best = NULL, *s;
	bool best_failing = false;
	uint64_t due, cost, force;
	size_t i;

	for (i = 0; i < p->n_devs; i++) {
		const struct cfg_device *d;
		bool failing;

		s = &p->devs[i];
		if (dev_healthy(s))
			continue;
		d = &p->cfg->devices[s->index];
		due = bg_due(s);
		if (due > now) {
			if (due < *wake)
				*wake = due;
			continue;
		}
		failing = !s->dead;
		cost = try_cost_ms(&p->port, d->profile, dev_timeout_ms(p->port.bus, d));
		if (limit != UINT64_MAX && now + cost > limit) {
			if (!failing)
				continue; /* comm loss: waits for a gap as long as it takes */
			force = (s->tries_done > 0 ? s->poll_due : s->next_due) + force_after_ms(d);
			if (now < force) {
				if (force < *wake)
					*wake = force;
				continue;
			}
			/* no gap in time: goes anyway, for the comm_loss bound */
		}
		if (!best || (failing && !best_failing) ||
		    (failing == best_failing && bg_due(s) < bg_due(best))) {
			best = s;
			best_failing = failing;
		}
	}
	return best;
}

/* The bus thread: ends cancelled jobs; polls a healthy device that is due
 * (and those due within their slack with it: a burst); else runs one
 * background transaction that fits before the next due poll; else hands
 * over what was pushed and sleeps until the earliest deadline, a wake-up,
 * or WAIT_MAX_MS. Finding the earliest is a linear scan: 250 devices
 * polled each second cost ~60 000 comparisons a second, far below the
 * cost of one Modbus read. */
static void *poller_main(void *arg)
{
	poller *p = arg;
	struct emitter em = {.fn = push_result, .ud = p};
	struct dev_sched *next, *bg;
	struct timespec ts;
	uint64_t now, limit, wake;
	enum step st;
	size_t i;

	pthread_mutex_lock(&p->lock);
	/* bounded by the stop flag; each round does one step or waits */
	while (!atomic_load(&p->stop)) {
		unsigned more;

		store_progress(p);
		more = log_ratelimit_due(&p->port.bad_rl, util_mono_ms(), 10000);
		if (more)
			log_warning("bus '%s': %u more replies refused (not logged one by one)",
				    p->port.bus->id, more);
		jobs_update(p, &em);
		next = NULL;
		for (i = 0; i < p->n_devs; i++)
			if (dev_healthy(&p->devs[i]) &&
			    (!next || p->devs[i].next_due < next->next_due))
				next = &p->devs[i];
		now = util_mono_ms();
		/* a device due within the slack is polled with the one that
		 * woke the thread: results come in bursts, and the thread and
		 * the main loop wake a few times a second instead of once per
		 * device (the cost at rest of SPEC §8). Polling a little early
		 * never lengthens the interval a fire waits for. */
		if (next &&
		    (next->next_due <= now ||
		     (p->in_burst &&
		      next->next_due <= now + poll_slack_ms(&p->cfg->devices[next->index])))) {
			pthread_mutex_unlock(&p->lock);
			p->in_burst = true;
			poll_try(p, next, now, UINT64_MAX);
			/* a long burst (slow or dead devices) still hands its
			 * results over every BURST_SIGNAL_MS */
			if (p->unsignaled_since &&
			    util_mono_ms() - p->unsignaled_since >= BURST_SIGNAL_MS)
				flush_signal(p);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		p->in_burst = false;
		limit = next ? next->next_due : UINT64_MAX;
		wake = now + WAIT_MAX_MS;
		bg = pick_background(p, now, limit, &wake);
		if (bg) {
			pthread_mutex_unlock(&p->lock);
			flush_signal(p); /* nothing waits behind a timeout */
			poll_try(p, bg, now, limit);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->cur.active) {
			pthread_mutex_unlock(&p->lock);
			flush_signal(p);
			st = job_step(&p->port, p->bus_index, &p->cur, limit, &em, &p->res);
			pthread_mutex_lock(&p->lock);
			if (st == STEP_DONE)
				p->cur_tag = 0;
			if (st != STEP_WAIT) {
				p->cur.wait_since = 0;
				continue;
			}
			if (!p->cur.wait_since) {
				p->cur.wait_since = now;
			} else if (now - p->cur.wait_since >= JOB_WAIT_LOG_MS &&
				   !p->cur.wait_logged) {
				/* said once: the polls come first, by design */
				log_warning(
				    "bus '%s': a %s waits for a gap between polls long "
				    "enough for its timeout; a shorter timeout_ms fits sooner",
				    p->port.bus->id,
				    p->cur.job.kind == POLLER_JOB_SCAN ? "scan" : "probe");
				p->cur.wait_logged = true;
			}
		}
		flush_signal(p); /* the burst is over: one wake-up of the main loop for all */
		if (next && next->next_due < wake)
			wake = next->next_due;
		store_progress(p);
		ts = mono_ts(wake);
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	if (p->cur.active) /* a stop mid-job: the job is over */
		job_finish(&p->cur, p->bus_index, -ECANCELED, &em, &p->res);
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
	atomic_init(&p->progress_ms, util_mono_ms());
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
	size_t at;
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
		at = (p->job_head + p->job_len) % POLLER_JOBS_MAX;
		p->jobs[at] = *job;
		p->job_cancelled[at] = false;
		p->job_len++;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int poller_cancel(poller *p, uint64_t tag)
{
	size_t i, at;
	int r = -ENOENT;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->cur_tag != 0 && p->cur_tag == tag) {
		p->cur_cancel = true;
		r = 0;
	}
	for (i = 0; r < 0 && i < p->job_len; i++) {
		at = (p->job_head + i) % POLLER_JOBS_MAX;
		if (p->jobs[at].tag == tag) {
			p->job_cancelled[at] = true;
			r = 0;
		}
	}
	if (r == 0)
		pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return r;
}

uint64_t poller_progress_ms(const poller *p)
{
	return p ? atomic_load(&((poller *)p)->progress_ms) : 0;
}

int poller_run_job(const struct config *c, int bus_index, const struct poller_job *job,
		   void (*cb)(void *ud, const struct poll_result *r), void *ud)
{
	struct emitter em = {.fn = cb, .ud = ud};
	struct job_state js;
	struct poll_result *res;
	char eb[128], where[300];
	struct port pt;
	int r, n;

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
	/* no scheduled polls here: every step runs at once; bounded by the
	 * job's size (247 units, or the probe's tries) */
	job_begin(&js, job);
	for (n = 0; n < 248 + 11 && js.active; n++)
		(void)job_step(&pt, bus_index, &js, UINT64_MAX, &em, res);
	r = js.active ? -EIO : js.rc;
	if (js.active)
		job_finish(&js, bus_index, r, &em, res);

out_close:
	port_free(&pt);
out_free:
	free(res);
	return r;
}
