/* test_publish.c - the MQTT uplink against a real mosquitto on a free
 * 127.0.0.1 port, started and killed (by PID) by this file. A second
 * publisher handle plays the command center. Every wait is bounded by a
 * deadline; no test asserts a timing.
 *
 * The binary re-executes itself with --will-child to get a process that
 * connects with a last will and can be SIGKILLed (forking a process that
 * already runs paho's threads would copy their locks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "publish.h"
#include "secret.h"
#include "util.h"

#define WAIT_MS 5000

struct broker {
	pid_t pid;
	int port;
	char dir[64];
};

static struct broker shared;    /* for most tests */
static struct broker private_b; /* test_broker_killed's own, killed at teardown too */
/* Keeps paho's threads alive between tests, and wakes paho's receive
 * thread: it sleeps up to 1 s in poll() on the sockets it had, so a
 * second client's new connection waits for that poll to end (a quirk that
 * only shows with several clients in one process; the daemon has one). */
static publisher *keeper;
static unsigned id_seq;

/* ---- processes ------------------------------------------------------ */

/* A free port below the kernel's ephemeral range (32768 and up), so that
 * a port we free while a broker restarts is not handed to someone else's
 * bind(0) or outgoing connection in the meantime. */
static int free_port(void)
{
	static unsigned seed;
	struct sockaddr_in a = { .sin_family = AF_INET };

	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)util_mono_ms();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 100; tries++) {
		int port = 20000 + (int)(rand_r(&seed) % 12000), fd, ok;

		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		a.sin_port = htons((uint16_t)port);
		ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return port;
	}
	return -1;
}

static bool port_accepts(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* fork+exec with stdio to /dev/null; the child dies with us */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Waits for pid to exit, bounded; returns its exit status or -1. */
static int reap(pid_t pid, int timeout_ms)
{
	uint64_t end = util_mono_ms() + (uint64_t)timeout_ms;
	int st;

	while (util_mono_ms() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		poll(NULL, 0, 10); /* no pidfd in glibc 2.36 headers: poll the exit */
	}
	return -1;
}

static void broker_stop_pid(struct broker *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGCONT);
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
}

static void broker_stop(struct broker *b)
{
	char path[128];

	broker_stop_pid(b);
	if (b->dir[0]) {
		snprintf(path, sizeof(path), "%s/mosquitto.conf", b->dir);
		unlink(path);
		rmdir(b->dir);
		b->dir[0] = '\0';
	}
}

/* Starts mosquitto on port and waits until it accepts. */
static int broker_start_on(struct broker *b, int port, const char *extra)
{
	char conf[128], text[256];
	uint64_t end;
	FILE *f;

	if (!b->dir[0]) {
		snprintf(b->dir, sizeof(b->dir), "/tmp/firegw-test-publish-XXXXXX");
		if (!mkdtemp(b->dir))
			return -errno;
	}
	b->port = port;
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", b->dir);
	snprintf(text, sizeof(text),
		 "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n%s%s", b->port,
		 /* as root mosquitto would switch to its own user, which clears
		  * the parent-death signal that kills it if we crash */
		 geteuid() == 0 ? "user root\n" : "", extra ? extra : "");
	f = fopen(conf, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	b->pid = spawn((char *const[]){ "mosquitto", "-c", conf, NULL });
	if (b->pid < 0)
		return -errno;
	end = util_mono_ms() + WAIT_MS;
	while (util_mono_ms() < end) {
		/* the port must accept and our broker be the one listening */
		if (port_accepts(b->port))
			return waitpid(b->pid, NULL, WNOHANG) == 0 ? 0 : -EADDRINUSE;
		if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
			b->pid = 0;
			return -ECHILD;
		}
		poll(NULL, 0, 20); /* next connect attempt */
	}
	return -ETIMEDOUT;
}

/* Starts mosquitto on port, or on a free one (0): another process may take
 * a free port before mosquitto binds it, so a few are tried. */
static int broker_start(struct broker *b, int port, const char *extra)
{
	int r = -EADDRINUSE;

	for (int tries = 0; tries < 5 && r == -EADDRINUSE; tries++) {
		r = broker_start_on(b, port ? port : free_port(), extra);
		if (r == -EADDRINUSE || r == -ECHILD) {
			broker_stop_pid(b);
			r = port ? r : -EADDRINUSE;
		}
	}
	return r;
}

/* ---- publisher helpers ---------------------------------------------- */

static char uri_buf[64];

static const char *uri_of(int port)
{
	snprintf(uri_buf, sizeof(uri_buf), "tcp://127.0.0.1:%d", port);
	return uri_buf;
}

static struct publish_opts base_opts(int port, const char *client_id)
{
	struct publish_opts o = {
		.uri = uri_of(port), .client_id = client_id, .version = 3, .keepalive_s = 10,
		.connect_timeout_s = 5, .inflight = 16,
	};
	return o;
}

static void keeper_tick(void)
{
	struct publish_note n;

	if (!keeper || !publish_is_connected(keeper))
		return;
	publish_send(keeper, "keeper/tick", "t", 1, 0, false, 0, NULL, 0);
	while (publish_next(keeper, &n))
		publish_note_clear(&n);
}

/* Messages skipped while waiting for something else, kept for a later
 * wait (a retained message can overtake the probe). */
static struct {
	publisher *p;
	struct publish_note n;
} stash[32];

static bool note_matches(const struct publish_note *n, enum publish_note_kind kind,
			 const char *topic)
{
	return n->kind == kind && (!topic || (n->topic && strcmp(n->topic, topic) == 0));
}

static void stash_put(publisher *p, struct publish_note *n)
{
	for (size_t i = 0; i < ARRAY_SIZE(stash); i++)
		if (!stash[i].p) {
			stash[i].p = p;
			stash[i].n = *n;
			return;
		}
	publish_note_clear(n);
}

static void stash_drop(publisher *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(stash); i++)
		if (stash[i].p == p) {
			publish_note_clear(&stash[i].n);
			stash[i].p = NULL;
		}
}

static void pub_free(publisher *p)
{
	stash_drop(p);
	publish_free(p);
}

/* Pops notes until one of kind (and topic, for messages) shows up; other
 * messages are stashed, other notes dropped. Bounded by timeout_ms. */
static bool wait_note(publisher *p, enum publish_note_kind kind, const char *topic,
		      int timeout_ms, struct publish_note *ret)
{
	uint64_t end = util_mono_ms() + (uint64_t)timeout_ms;
	struct publish_note n;

	for (size_t i = 0; i < ARRAY_SIZE(stash); i++)
		if (stash[i].p == p && note_matches(&stash[i].n, kind, topic)) {
			*ret = stash[i].n;
			stash[i].p = NULL;
			return true;
		}
	for (;;) {
		while (publish_next(p, &n)) {
			if (note_matches(&n, kind, topic)) {
				*ret = n;
				return true;
			}
			if (getenv("FIREGW_TEST_DEBUG"))
				fprintf(stderr, "skipped note %d rc %d '%s' waiting for %d\n",
					(int)n.kind, n.rc, n.text, (int)kind);
			if (n.kind == PNOTE_MESSAGE)
				stash_put(p, &n);
			else
				publish_note_clear(&n);
		}
		uint64_t now = util_mono_ms();
		if (now >= end)
			return false;
		keeper_tick();
		struct pollfd pfd = { .fd = publish_fd(p), .events = POLLIN };
		poll(&pfd, 1, end - now < 50 ? (int)(end - now) : 50);
	}
}

/* a macro, so that a failure names the caller's line */
#define expect_note(p, kind)                                                     \
	do {                                                                     \
		struct publish_note n_;                                          \
		assert_true(wait_note((p), (kind), NULL, WAIT_MS, &n_));         \
		publish_note_clear(&n_);                                         \
	} while (0)

static const char *next_id(const char *prefix)
{
	static char buf[8][48];
	char *b = buf[id_seq % 8];

	snprintf(b, 48, "%s-%d-%u", prefix, (int)getpid(), id_seq++);
	return b;
}

static bool wait_link(publisher *p);

/* publish_connect() as the owner does it: while the previous client is
 * still torn down (-EBUSY), wait for PNOTE_READY and start then. */
static int connect_now(publisher *p)
{
	struct publish_note n;
	int r = publish_connect(p);

	if (r != -EBUSY)
		return r;
	if (!wait_note(p, PNOTE_READY, NULL, WAIT_MS, &n))
		return -ETIMEDOUT;
	publish_note_clear(&n);
	return publish_connect(p);
}

/* One connect as the owner does it: a failed attempt is tried again (at
 * most 3). paho 1.3.12 sometimes fails the first attempt after another
 * socket of the process closed ("TCP connect completion failure" towards
 * a listening broker: a stale poll result for a reused socket number). */
static bool connect_retry(publisher *p)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (connect_now(p) < 0)
			return false;
		if (wait_link(p))
			return true;
	}
	return false;
}

/* Connects and waits until the subscriptions are active: a probe sent on
 * our own subscribed topic comes back only after the broker has processed
 * the SUBSCRIBE that paho queued before it on the same connection. */
static publisher *connect_ready(struct publish_opts *o, const char *probe_topic)
{
	struct publish_note n;
	publisher *p = NULL;

	assert_int_equal(publish_new(o, &p), 0);
	assert_true(connect_retry(p));
	assert_true(publish_is_connected(p));
	if (probe_topic) {
		assert_int_equal(publish_send(p, probe_topic, "probe", 5, 1, false, 1, NULL, 0), 0);
		assert_true(wait_note(p, PNOTE_MESSAGE, probe_topic, WAIT_MS, &n));
		publish_note_clear(&n);
	}
	return p;
}

/* A command-center stand-in subscribed to topics (plus its probe). */
static publisher *peer_new(int port, int version, const char *topic)
{
	static const char *subs[2];
	struct publish_opts o = base_opts(port, next_id("peer"));
	static char probe[64];

	snprintf(probe, sizeof(probe), "probe/%s", o.client_id);
	subs[0] = probe;
	subs[1] = topic;
	o.version = version;
	o.subscriptions = subs;
	o.n_subscriptions = topic ? 2 : 1;
	return connect_ready(&o, probe);
}

/* ---- error paths ---------------------------------------------------- */

static void test_new_rejects_bad_options(void **state)
{
	static const char *bad_subs[] = { "" };
	static const char *const bad_uris[] = {
		"", "localhost:1883", "http://127.0.0.1:1883", "tcp://", "tcp://:1883",
		"tcp://127.0.0.1:0", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:12ab",
		"tcp://127.0.0.1:1883/path", "tcp://[::1", "ws://127.0.0.1:80",
	};
	struct publish_opts o;
	publisher *p = NULL;

	(void)state;
	assert_int_equal(publish_new(NULL, &p), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_uris); i++) {
		o = base_opts(1883, "gw");
		o.uri = bad_uris[i];
		assert_int_equal(publish_new(&o, &p), -EINVAL);
		assert_null(p);
	}
	o = base_opts(1883, "gw");
	o.uri = NULL;
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "");
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.version = 4;
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.inflight = 0;
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.password = "secret"; /* MQTT 3.1.1 forbids a password alone */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.will_topic = "site/+/status";
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.will_topic = "site/status";
	o.will_len = 3; /* and no payload */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.n_subscriptions = 1; /* and no list */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o.subscriptions = bad_subs;
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.ca_file = "/etc/hostname"; /* TLS file on a plain uri */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.uri = "ssl://127.0.0.1:8883";
	o.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	assert_null(p);
	o = base_opts(1883, "gw");
	o.uri = "ssl://127.0.0.1:8883";
	o.key_password_file = "/etc/hostname"; /* a pass phrase without a key */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.key_password_file = "/etc/hostname"; /* on a plain uri */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.password_file = "/etc/hostname"; /* without a user name */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o = base_opts(1883, "gw");
	o.max_packet = 4096; /* MQTT 3.1.1 has no Maximum Packet Size */
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	o.version = 5;
	o.max_packet = 1023;
	assert_int_equal(publish_new(&o, &p), -EINVAL);
	assert_null(p);

	/* the good forms are accepted */
	o = base_opts(1883, "gw");
	o.uri = "mqtts://[::1]:8883";
	assert_int_equal(publish_new(&o, &p), 0);
	publish_free(p);
	p = NULL;
	o.uri = "tcp://localhost";
	assert_int_equal(publish_new(&o, &p), 0);
	publish_free(p);
	publish_free(NULL);
}

static void test_not_connected(void **state)
{
	struct publish_opts o = base_opts(shared.port, next_id("idle"));
	struct publish_note n;
	publisher *p = NULL;

	(void)state;
	assert_int_equal(publish_new(&o, &p), 0);
	assert_false(publish_is_connected(p));
	assert_false(publish_next(p, &n));
	assert_int_equal(publish_send(p, "a/b", "x", 1, 1, false, 1, NULL, 0), -ENOTCONN);
	assert_int_equal(publish_disconnect(p, "a/b", "x", 1, 100), -ENOTCONN);
	publish_abort(p); /* nothing to drop: no note */
	assert_false(publish_next(p, &n));
	/* bad arguments are refused before the link state is looked at */
	assert_int_equal(publish_send(p, "a/#", "x", 1, 1, false, 1, NULL, 0), -EINVAL);
	assert_int_equal(publish_send(p, "a/+/b", "x", 1, 1, false, 1, NULL, 0), -EINVAL);
	assert_int_equal(publish_send(p, "", "x", 1, 1, false, 1, NULL, 0), -EINVAL);
	assert_int_equal(publish_send(p, NULL, "x", 1, 1, false, 1, NULL, 0), -EINVAL);
	assert_int_equal(publish_send(p, "a/b", NULL, 1, 1, false, 1, NULL, 0), -EINVAL);
	assert_int_equal(publish_send(p, "a/b", "x", 1, 3, false, 1, NULL, 0), -EINVAL);
	/* correlation data is MQTT 5 only */
	assert_int_equal(publish_send(p, "a/b", "x", 1, 1, false, 1, "c", 1), -EINVAL);
	publish_free(p);
}

static void test_connect_refused(void **state)
{
	struct publish_opts o = base_opts(free_port(), next_id("refused"));
	struct publish_note n;
	publisher *p = NULL;

	(void)state;
	assert_int_equal(publish_new(&o, &p), 0);
	assert_int_equal(publish_connect(p), 0);
	assert_true(wait_note(p, PNOTE_CONNECT_FAILED, NULL, WAIT_MS, &n));
	assert_true(n.rc < 0);
	assert_true(n.text[0] != '\0');
	publish_note_clear(&n);
	assert_false(publish_is_connected(p));
	assert_int_equal(publish_send(p, "a/b", "x", 1, 1, false, 1, NULL, 0), -ENOTCONN);
	/* the owner may try again once the failed attempt's client is gone */
	assert_int_equal(connect_now(p), 0);
	expect_note(p, PNOTE_CONNECT_FAILED);
	publish_free(p);
}

/* ---- delivery ------------------------------------------------------- */

static void test_publish_delivered(void **state)
{
	static const unsigned char bin[] = { '{', 0, 1, 2, 0xff, 0xfe, '}', 0 };
	struct publish_opts o = base_opts(shared.port, next_id("gw"));
	publisher *peer = peer_new(shared.port, 3, "site/alarm/#");
	struct publish_note n;
	publisher *gw;

	(void)state;
	gw = connect_ready(&o, NULL);
	assert_int_equal(publish_connect(gw), -EALREADY);

	assert_int_equal(publish_send(gw, "site/alarm/smoke-a1", bin, sizeof(bin), 1, false,
				      0x1234567890ULL, NULL, 0), 0);
	assert_true(wait_note(gw, PNOTE_DELIVERED, NULL, WAIT_MS, &n));
	assert_int_equal(n.tag, 0x1234567890ULL);
	publish_note_clear(&n);
	assert_true(wait_note(peer, PNOTE_MESSAGE, "site/alarm/smoke-a1", WAIT_MS, &n));
	assert_int_equal(n.len, sizeof(bin));
	assert_memory_equal(n.payload, bin, sizeof(bin));
	assert_int_equal(((char *)n.payload)[n.len], '\0');
	assert_null(n.response_topic);
	assert_null(n.correlation);
	publish_note_clear(&n);

	/* QoS 0 is reported once written */
	assert_int_equal(publish_send(gw, "site/alarm/t0", "q0", 2, 0, false, 7, NULL, 0), 0);
	assert_true(wait_note(gw, PNOTE_DELIVERED, NULL, WAIT_MS, &n));
	assert_int_equal(n.tag, 7);
	publish_note_clear(&n);
	assert_true(wait_note(peer, PNOTE_MESSAGE, "site/alarm/t0", WAIT_MS, &n));
	assert_memory_equal(n.payload, "q0", 2);
	publish_note_clear(&n);

	/* a window of sends, each answered once with its own tag */
	for (uint64_t t = 100; t < 116; t++)
		assert_int_equal(publish_send(gw, "site/alarm/w", &t, sizeof(t), 1, false, t, NULL,
					      0), 0);
	unsigned seen = 0;
	for (int i = 0; i < 16; i++) {
		assert_true(wait_note(gw, PNOTE_DELIVERED, NULL, WAIT_MS, &n));
		assert_true(n.tag >= 100 && n.tag < 116);
		assert_false(seen & (1u << (n.tag - 100)));
		seen |= 1u << (n.tag - 100);
		publish_note_clear(&n);
	}
	assert_int_equal(seen, 0xffff);
	pub_free(gw);
	pub_free(peer);
}

static void test_retained_seen_by_later_subscriber(void **state)
{
	struct publish_opts o = base_opts(shared.port, next_id("gw"));
	struct publish_note n;
	publisher *gw, *late;

	(void)state;
	gw = connect_ready(&o, NULL);
	assert_int_equal(publish_send(gw, "ret/state/dev1", "state-1", 7, 1, true, 5, NULL, 0), 0);
	assert_true(wait_note(gw, PNOTE_DELIVERED, NULL, WAIT_MS, &n));
	assert_int_equal(n.tag, 5);
	publish_note_clear(&n);

	late = peer_new(shared.port, 3, "ret/state/#");
	assert_true(wait_note(late, PNOTE_MESSAGE, "ret/state/dev1", WAIT_MS, &n));
	assert_int_equal(n.len, 7);
	assert_memory_equal(n.payload, "state-1", 7);
	publish_note_clear(&n);

	/* an empty retained message clears it (SPEC §3, removed device) */
	assert_int_equal(publish_send(gw, "ret/state/dev1", NULL, 0, 1, true, 6, NULL, 0), 0);
	expect_note(gw, PNOTE_DELIVERED);
	pub_free(late);
	pub_free(gw);
}

static void test_incoming_messages(void **state)
{
	static char big[PUBLISH_MAX_PAYLOAD + 1];
	const char *subs[] = { "in/site/request", "in/site/ack" };
	struct publish_opts o = base_opts(shared.port, next_id("gw"));
	publisher *peer = peer_new(shared.port, 3, NULL);
	struct publish_note n;
	publisher *gw;

	(void)state;
	o.subscriptions = subs;
	o.n_subscriptions = 2;
	gw = connect_ready(&o, "in/site/ack");

	/* too large: dropped and counted, the next one still arrives */
	memset(big, 'x', sizeof(big));
	assert_int_equal(publish_send(peer, "in/site/request", big, sizeof(big), 1, false, 1,
				      NULL, 0), 0);
	assert_int_equal(publish_send(peer, "in/site/request", "{\"id\":\"r-1\"}", 12, 1, false,
				      2, NULL, 0), 0);
	assert_true(wait_note(gw, PNOTE_MESSAGE, "in/site/request", WAIT_MS, &n));
	assert_int_equal(n.len, 12);
	assert_memory_equal(n.payload, "{\"id\":\"r-1\"}", 12);
	assert_null(n.response_topic);
	publish_note_clear(&n);
	assert_int_equal(publish_dropped(gw), 1); /* the large one, before it */

	assert_int_equal(publish_send(peer, "in/site/ack", "{\"event_id\":\"a:1:2\"}", 20, 1,
				      false, 3, NULL, 0), 0);
	assert_true(wait_note(gw, PNOTE_MESSAGE, "in/site/ack", WAIT_MS, &n));
	assert_int_equal(n.len, 20);
	publish_note_clear(&n);

	/* notes still queued are freed by publish_free (checked under ASan) */
	assert_int_equal(publish_send(peer, "in/site/ack", "left", 4, 1, false, 4, NULL, 0), 0);
	expect_note(peer, PNOTE_DELIVERED);
	pub_free(peer);
	pub_free(gw);
}

static void write_secret(const char *path, const char *content, size_t len, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A secret file: one trailing newline stripped; others' read or write
 * bits, empty files, NUL bytes, directories, FIFOs (without hanging) and
 * missing files refused, with what to run; publish_new refuses them too. */
static void test_read_secret(void **state)
{
	char dir[] = "/tmp/firegw-test-secret-XXXXXX", path[64], fifo[64], buf[16], why[512];
	struct publish_opts o = base_opts(1883, "gw");
	publisher *p = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pass", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);

	write_secret(path, "s3cret\n", 7, 0644);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "is readable or writable by others, or writable by its group "
				    "(mode 0644); run: chmod 0640 "));
	assert_non_null(strstr(why, "; chown root:firegw "));
	assert_null(strstr(why, "s3cret"));
	assert_string_equal(buf, "");
	o.username = "gw";
	o.password_file = path;
	assert_int_equal(publish_new(&o, &p), -EPERM);
	assert_null(p);
	write_secret(path, "s3cret\n", 7, 0606);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -EPERM);
	write_secret(path, "", 0, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -ENODATA);
	assert_non_null(strstr(why, "is empty"));
	write_secret(path, "\n", 1, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -ENODATA);
	write_secret(path, "a\0b\n", 4, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -EINVAL);
	write_secret(path, "0123456789abcdefXYZ", 19, 0640); /* longer than buf */
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -EFBIG);
	write_secret(path, "0123456789abcdeX", 16, 0640); /* one more than fits */
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, "holds more than 15 bytes"));
	/* exactly what fits, with and without its line end */
	write_secret(path, "0123456789abcde\n", 16, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), 0);
	assert_string_equal(buf, "0123456789abcde");
	write_secret(path, "0123456789abcde\r\n", 17, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), 0);
	assert_string_equal(buf, "0123456789abcde");
	write_secret(path, "0123456789abcd\n", 15, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), 0);
	assert_string_equal(buf, "0123456789abcd");
	assert_int_equal(secret_read(dir, buf, sizeof(buf), why, sizeof(why)), -EINVAL);
	assert_int_equal(mkfifo(fifo, 0640), 0);
	assert_int_equal(secret_read(fifo, buf, sizeof(buf), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	unlink(fifo);
	assert_int_equal(secret_read(fifo, buf, sizeof(buf), why, sizeof(why)), -ENOENT);

	/* good: group-readable, one newline stripped (only one) */
	write_secret(path, "s3cret\n", 7, 0640);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), 0);
	assert_string_equal(buf, "s3cret");
	write_secret(path, "two \n\n", 6, 0600);
	assert_int_equal(secret_read(path, buf, sizeof(buf), why, sizeof(why)), 0);
	assert_string_equal(buf, "two \n");
	write_secret(path, "s3cret", 6, 0600);
	assert_int_equal(publish_new(&o, &p), 0);
	publish_free(p);
	unlink(path);
	rmdir(dir);
}

/* MQTT 5: the Maximum Packet Size announced in CONNECT is honoured by the
 * broker: a larger message is never sent to us (so paho never reads it
 * into memory), a smaller one after it arrives. */
static void test_v5_max_packet(void **state)
{
	static char big[8192];
	const char *subs[] = { "mp/site/request" };
	struct publish_opts o = base_opts(shared.port, next_id("gwmp"));
	publisher *peer = peer_new(shared.port, 5, NULL);
	struct publish_note n;
	publisher *gw;

	(void)state;
	o.version = 5;
	o.max_packet = 4096;
	o.subscriptions = subs;
	o.n_subscriptions = 1;
	gw = connect_ready(&o, "mp/site/request");
	memset(big, 'x', sizeof(big));
	assert_int_equal(publish_send(peer, "mp/site/request", big, sizeof(big), 1, false, 1,
				      NULL, 0), 0);
	expect_note(peer, PNOTE_DELIVERED);
	assert_int_equal(publish_send(peer, "mp/site/request", big, 3000, 1, false, 2, NULL, 0),
			 0);
	assert_true(wait_note(gw, PNOTE_MESSAGE, "mp/site/request", WAIT_MS, &n));
	assert_int_equal(n.len, 3000); /* the 8 KiB one never came */
	publish_note_clear(&n);
	/* paho saw no oversized packet either: nothing was dropped by us */
	assert_int_equal(publish_dropped(gw), 0);
	pub_free(peer);
	pub_free(gw);
}

static void test_v5_request_response(void **state)
{
	const char *subs[] = { "v5/site/request" };
	struct publish_opts o = base_opts(shared.port, next_id("gw5"));
	publisher *center = peer_new(shared.port, 5, "v5/center/resp/#");
	char port[16];
	struct publish_note n;
	publisher *gw;
	pid_t pid;

	(void)state;
	o.version = 5;
	o.subscriptions = subs;
	o.n_subscriptions = 1;
	gw = connect_ready(&o, "v5/site/request");

	snprintf(port, sizeof(port), "%d", shared.port);
	pid = spawn((char *const[]){ "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V",
				     "mqttv5", "-q", "1", "-t", "v5/site/request", "-m",
				     "{\"id\":\"r-17\",\"op\":\"status\"}", "-D", "publish",
				     "response-topic", "v5/center/resp/r-17", "-D", "publish",
				     "correlation-data", "corr-xyz", NULL });
	assert_true(pid > 0);
	assert_int_equal(reap(pid, WAIT_MS), 0);

	assert_true(wait_note(gw, PNOTE_MESSAGE, "v5/site/request", WAIT_MS, &n));
	assert_string_equal(n.payload, "{\"id\":\"r-17\",\"op\":\"status\"}");
	assert_non_null(n.response_topic);
	assert_string_equal(n.response_topic, "v5/center/resp/r-17");
	assert_int_equal(n.correlation_len, 8);
	assert_memory_equal(n.correlation, "corr-xyz", 8);

	/* the answer carries the same correlation data back */
	assert_int_equal(publish_send(gw, n.response_topic, "{\"id\":\"r-17\",\"ok\":true}", 23, 1,
				      false, 77, n.correlation, n.correlation_len), 0);
	publish_note_clear(&n);
	assert_true(wait_note(gw, PNOTE_DELIVERED, NULL, WAIT_MS, &n));
	assert_int_equal(n.tag, 77);
	publish_note_clear(&n);
	assert_true(wait_note(center, PNOTE_MESSAGE, "v5/center/resp/r-17", WAIT_MS, &n));
	assert_int_equal(n.len, 23);
	assert_int_equal(n.correlation_len, 8);
	assert_memory_equal(n.correlation, "corr-xyz", 8);
	publish_note_clear(&n);
	pub_free(gw);
	pub_free(center);
}

/* ---- losses --------------------------------------------------------- */

static const unsigned char will_bytes[] = { 'o', 'f', 'f', 0, 'l', 'i', 'n', 'e' };

static int will_child(const char *port_s, const char *fd_s)
{
	struct publish_opts o;
	struct publish_note n;
	publisher *p = NULL;
	long port, fd;

	if (util_parse_long(port_s, 1, 65535, &port) < 0 || util_parse_long(fd_s, 0, 1024, &fd) < 0)
		return 2;
	o = base_opts((int)port, "will-child");
	o.will_topic = "will/site/status";
	o.will_payload = will_bytes;
	o.will_len = sizeof(will_bytes);
	if (publish_new(&o, &p) < 0 || publish_connect(p) < 0 ||
	    !wait_note(p, PNOTE_CONNECTED, NULL, WAIT_MS, &n))
		return 3;
	if (write((int)fd, "1", 1) != 1)
		return 4;
	poll(NULL, 0, 30000); /* the parent SIGKILLs us long before */
	pub_free(p);
	return 5;
}

static void test_will_on_unclean_loss(void **state)
{
	publisher *center = peer_new(shared.port, 3, "will/site/status");
	char port[16], fd_s[16], exe[4096], c;
	struct pollfd pfd;
	struct publish_note n;
	int fds[2];
	ssize_t len;
	pid_t pid;

	(void)state;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(len > 0);
	exe[len] = '\0';
	assert_int_equal(pipe(fds), 0);
	snprintf(port, sizeof(port), "%d", shared.port);
	snprintf(fd_s, sizeof(fd_s), "%d", fds[1]);
	pid = spawn((char *const[]){ exe, "--will-child", port, fd_s, NULL });
	assert_true(pid > 0);
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	if (poll(&pfd, 1, WAIT_MS) != 1 || read(fds[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(fds[0]);
		fail_msg("will child did not connect");
	}
	close(fds[0]);
	kill(pid, SIGKILL);
	assert_int_equal(reap(pid, WAIT_MS), 128 + SIGKILL);

	assert_true(wait_note(center, PNOTE_MESSAGE, "will/site/status", WAIT_MS, &n));
	assert_int_equal(n.len, sizeof(will_bytes));
	assert_memory_equal(n.payload, will_bytes, sizeof(will_bytes));
	publish_note_clear(&n);
	pub_free(center);
}

/* Waits for the outcome of a connect attempt: true when connected. */
static bool wait_link(publisher *p)
{
	uint64_t end = util_mono_ms() + WAIT_MS;
	struct publish_note n;

	while (util_mono_ms() < end) {
		struct pollfd pfd = { .fd = publish_fd(p), .events = POLLIN };

		keeper_tick();
		poll(&pfd, 1, 50);
		while (publish_next(p, &n)) {
			enum publish_note_kind k = n.kind;

			publish_note_clear(&n);
			if (k == PNOTE_CONNECTED)
				return true;
			if (k == PNOTE_CONNECT_FAILED)
				return false;
		}
	}
	return false;
}

/* No note may name a send made before the CONNECTION_LOST note. */
static void assert_no_old_tags(publisher *p, uint64_t fresh_tag)
{
	struct publish_note n;
	uint64_t end = util_mono_ms() + WAIT_MS;

	for (;;) {
		assert_true(util_mono_ms() < end);
		if (!publish_next(p, &n)) {
			struct pollfd pfd = { .fd = publish_fd(p), .events = POLLIN };
			poll(&pfd, 1, 100);
			continue;
		}
		if (n.kind == PNOTE_DELIVERED || n.kind == PNOTE_SEND_FAILED)
			assert_int_equal(n.tag, fresh_tag);
		bool done = n.kind == PNOTE_DELIVERED;
		publish_note_clear(&n);
		if (done)
			return;
	}
}

static void test_broker_killed(void **state)
{
	struct broker *b = &private_b;
	struct publish_opts o;
	struct publish_note n;
	publisher *gw;

	(void)state;
	assert_int_equal(broker_start(b, 0, NULL), 0);
	o = base_opts(b->port, next_id("gw"));
	gw = connect_ready(&o, NULL);

	/* a frozen broker leaves these in flight, then it dies */
	kill(b->pid, SIGSTOP);
	for (uint64_t t = 1; t <= 5; t++)
		assert_int_equal(publish_send(gw, "kill/site/alarm", "x", 1, 1, false, t, NULL, 0),
				 0);
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	b->pid = 0;

	assert_true(wait_note(gw, PNOTE_CONNECTION_LOST, NULL, WAIT_MS, &n));
	assert_true(n.rc < 0);
	publish_note_clear(&n);
	assert_false(publish_is_connected(gw));
	assert_int_equal(publish_send(gw, "kill/site/alarm", "x", 1, 1, false, 6, NULL, 0),
			 -ENOTCONN);
	assert_int_equal(connect_now(gw), 0);
	expect_note(gw, PNOTE_CONNECT_FAILED);

	/* same handle, broker back (it forgot the session) */
	assert_int_equal(broker_start(b, b->port, NULL), 0);
	assert_true(connect_retry(gw));
	assert_int_equal(publish_send(gw, "kill/site/alarm", "y", 1, 1, false, 99, NULL, 0), 0);
	assert_no_old_tags(gw, 99);
	pub_free(gw);
	broker_stop(b);
}

static void test_abort_then_reconnect(void **state)
{
	struct publish_opts o = base_opts(shared.port, next_id("gw"));
	struct publish_note n;
	publisher *gw;

	(void)state;
	gw = connect_ready(&o, NULL);
	/* ack stall: the broker stops answering with one message in flight */
	kill(shared.pid, SIGSTOP);
	assert_int_equal(publish_send(gw, "abort/site/alarm", "x", 1, 1, false, 7, NULL, 0), 0);
	publish_abort(gw);
	kill(shared.pid, SIGCONT);
	assert_false(publish_is_connected(gw));
	/* the note is there at once: no waiting */
	assert_true(publish_next(gw, &n));
	assert_int_equal(n.kind, PNOTE_CONNECTION_LOST);
	publish_note_clear(&n);
	assert_int_equal(publish_send(gw, "abort/site/alarm", "x", 1, 1, false, 8, NULL, 0),
			 -ENOTCONN);

	/* paho has really closed: the reconnect is not ignored, and the old
	 * message (paho retransmits it in the kept session) stays silent */
	assert_true(connect_retry(gw));
	assert_int_equal(publish_send(gw, "abort/site/alarm", "z", 1, 1, false, 9, NULL, 0), 0);
	assert_no_old_tags(gw, 9);
	pub_free(gw);
}

/* Several nodes: an attempt to a node that accepts TCP and never answers
 * (a socket that listens and is never read: the kernel completes the
 * handshake) is abandoned by publish_abort at once, the client is torn
 * down (PNOTE_READY), and the next attempt goes to the node selected. */
static void test_nodes_abandon_hung_attempt(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	const char *nodes[2];
	char hung_uri[64], good_uri[64];
	struct publish_opts o;
	struct publish_note n;
	socklen_t alen = sizeof(a);
	publisher *p = NULL;
	int lfd;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	snprintf(hung_uri, sizeof(hung_uri), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(good_uri, sizeof(good_uri), "%s", uri_of(shared.port));
	nodes[0] = hung_uri;
	nodes[1] = good_uri;

	/* bad lists first */
	o = base_opts(shared.port, next_id("nodes"));
	o.uris = (const char *const[]){ good_uri, good_uri };
	o.n_uris = 2;
	assert_int_equal(publish_new(&o, &p), -EINVAL); /* a node twice */
	o.uris = (const char *const[]){ good_uri, "ssl://127.0.0.1:8883" };
	assert_int_equal(publish_new(&o, &p), -EINVAL); /* plain and TLS mixed */
	o.n_uris = 0;
	assert_int_equal(publish_new(&o, &p), -EINVAL); /* no node */

	o.uris = nodes;
	o.n_uris = 2;
	o.connect_timeout_s = 60; /* paho's own timeout must not end it */
	assert_int_equal(publish_new(&o, &p), 0);
	assert_int_equal(publish_nodes(p), 2);
	assert_string_equal(publish_node_uri(p, 1), good_uri);
	assert_null(publish_node_uri(p, 2));
	assert_int_equal(publish_connect_node(p, 2), -EINVAL);
	assert_int_equal(publish_connect_node(p, 0), 0);
	assert_int_equal(publish_connect_node(p, 1), -EALREADY);
	/* no answer comes from the hung node */
	assert_false(wait_note(p, PNOTE_CONNECTED, NULL, 500, &n));
	publish_abort(p);
	assert_true(publish_next(p, &n)); /* at once: no waiting for paho */
	assert_int_equal(n.kind, PNOTE_CONNECT_FAILED);
	assert_int_equal(n.rc, -ECANCELED);
	publish_note_clear(&n);
	expect_note(p, PNOTE_READY);
	assert_int_equal(publish_connect_node(p, 1), 0);
	assert_true(wait_link(p));
	assert_true(publish_is_connected(p));
	pub_free(p);
	close(lfd);
}

/* MQTT 5: a broker that closes the session sends DISCONNECT with a reason;
 * paho then calls only the disconnected callback, never connectionLost. */
static void test_v5_broker_disconnect(void **state)
{
	static char big[2048];
	struct broker *b = &private_b;
	struct publish_opts o;
	struct publish_note n;
	publisher *gw;

	(void)state;
	assert_int_equal(broker_start(b, 0, "max_packet_size 1024\n"), 0);
	o = base_opts(b->port, next_id("gw5"));
	o.version = 5;
	gw = connect_ready(&o, NULL);
	memset(big, 'x', sizeof(big));
	/* over the broker's limit: it answers DISCONNECT 0x95 */
	assert_int_equal(publish_send(gw, "v5/site/telemetry", big, sizeof(big), 1, false, 3, NULL,
				      0), 0);
	assert_true(wait_note(gw, PNOTE_CONNECTION_LOST, NULL, WAIT_MS, &n));
	assert_non_null(strstr(n.text, "Packet too large"));
	assert_true(n.rc < 0);
	publish_note_clear(&n);
	assert_false(publish_is_connected(gw));
	pub_free(gw);
	broker_stop(b);
}

static void test_v5_session_taken_over(void **state)
{
	struct publish_opts o = base_opts(shared.port, next_id("gw5"));
	struct publish_note n;
	publisher *gw, *twin;

	(void)state;
	o.version = 5;
	gw = connect_ready(&o, NULL);
	twin = connect_ready(&o, NULL);
	assert_true(wait_note(gw, PNOTE_CONNECTION_LOST, NULL, WAIT_MS, &n));
	assert_true(n.rc < 0);
	publish_note_clear(&n);
	assert_false(publish_is_connected(gw));
	/* the twin holds the session now */
	assert_true(publish_is_connected(twin));
	pub_free(twin);
	pub_free(gw);
}

static void test_disconnect_sends_offline(void **state)
{
	static const char offline[] = "{\"state\":\"offline\"}";
	struct publish_opts o = base_opts(shared.port, next_id("gw"));
	struct publish_note n;
	publisher *gw, *late;

	(void)state;
	o.will_topic = "off/site/status";
	o.will_payload = "will";
	o.will_len = 4;
	gw = connect_ready(&o, NULL);
	assert_int_equal(publish_disconnect(gw, "off/site/status", offline, strlen(offline), 5000),
			 0);
	assert_false(publish_is_connected(gw));
	assert_true(publish_next(gw, &n));
	assert_int_equal(n.kind, PNOTE_CONNECTION_LOST);
	publish_note_clear(&n);
	assert_int_equal(publish_disconnect(gw, "off/site/status", offline, strlen(offline), 100),
			 -ENOTCONN);

	/* retained offline, not the will (a clean disconnect discards it) */
	late = peer_new(shared.port, 3, "off/site/status");
	assert_true(wait_note(late, PNOTE_MESSAGE, "off/site/status", WAIT_MS, &n));
	assert_int_equal(n.len, strlen(offline));
	assert_memory_equal(n.payload, offline, strlen(offline));
	publish_note_clear(&n);

	/* and the handle connects again */
	assert_true(connect_retry(gw));
	pub_free(late);
	pub_free(gw);
}

/* ---- a flood of incoming messages (issue 7) -------------------------- */

#define FLOOD_N 400   /* incoming messages sent at the gateway */
#define FLOOD_MAX 25  /* the gateway's max_messages */
#define FLOOD_OWN 20  /* messages the gateway sends during the flood */

/* Sends one QoS 1 message from peer, draining the peer's own notes when
 * its window is full (bounded). */
static void peer_send(publisher *peer, const char *topic, uint64_t tag)
{
	uint64_t end = util_mono_ms() + WAIT_MS;
	struct publish_note n;
	int r;

	while ((r = publish_send(peer, topic, "{\"op\":\"status\"}", 15, 1, false, tag, NULL, 0)) ==
		       -EAGAIN &&
	       util_mono_ms() < end) {
		struct pollfd pfd = { .fd = publish_fd(peer), .events = POLLIN };

		poll(&pfd, 1, 50);
		while (publish_next(peer, &n))
			publish_note_clear(&n);
	}
	assert_int_equal(r, 0);
}

/* Regression test: paho's callbacks pushed notes with the publisher's lock
 * held and, with the queue full, waited up to 1 s for room (then lost the
 * note), while the owner waited for the same lock. Now: a flood of
 * incoming messages that the owner does not drain is bounded by
 * max_messages, the rest dropped and counted; every delivery note of the
 * owner's own sends is still there; the link never stalled. Counts only,
 * no timing. */
static void test_flood_never_loses_delivery_notes(void **state)
{
	char sub[64], req[64], probe[64], out[64];
	const char *subs[1] = { sub };
	struct publish_opts o = base_opts(shared.port, next_id("flood"));
	publisher *peer = peer_new(shared.port, 3, NULL);
	unsigned long messages = 0, delivered = 0, dropped;
	unsigned char seen[FLOOD_OWN] = { 0 };
	struct publish_note n;
	publisher *gw;
	uint64_t end;

	(void)state;
	snprintf(sub, sizeof(sub), "flood/%s/#", o.client_id);
	snprintf(req, sizeof(req), "flood/%s/request", o.client_id);
	snprintf(probe, sizeof(probe), "flood/%s/probe", o.client_id);
	snprintf(out, sizeof(out), "out/%s", o.client_id);
	o.subscriptions = subs;
	o.n_subscriptions = 1;
	o.max_messages = FLOOD_MAX;
	gw = connect_ready(&o, probe);
	assert_int_equal(publish_dropped(gw), 0);

	/* the flood; the gateway's owner sends its own messages meanwhile
	 * and pops nothing */
	for (int i = 0; i < FLOOD_N; i++) {
		peer_send(peer, req, (uint64_t)i + 1);
		if (i % (FLOOD_N / FLOOD_OWN) == 0) {
			uint64_t tag = 1000 + (uint64_t)(i / (FLOOD_N / FLOOD_OWN));

			/* never -EAGAIN: a full message queue does not take the
			 * window of the owner's sends */
			assert_int_equal(publish_send(gw, out, "own", 3, 1, false, tag, NULL, 0), 0);
		}
	}
	/* every message of the flood reaches the gateway's client: no fd says
	 * that one was dropped, so the counter is polled (bounded) */
	end = util_mono_ms() + WAIT_MS;
	while (publish_dropped(gw) < FLOOD_N - FLOOD_MAX && util_mono_ms() < end) {
		keeper_tick();
		poll(NULL, 0, 20);
	}
	dropped = publish_dropped(gw);
	assert_int_equal(dropped, FLOOD_N - FLOOD_MAX);

	/* now the owner drains: FLOOD_MAX messages, every delivery note once,
	 * and nothing about the link */
	end = util_mono_ms() + WAIT_MS;
	while ((delivered < FLOOD_OWN || messages < FLOOD_MAX) && util_mono_ms() < end) {
		struct pollfd pfd = { .fd = publish_fd(gw), .events = POLLIN };

		while (publish_next(gw, &n)) {
			switch (n.kind) {
			case PNOTE_MESSAGE:
				assert_string_equal(n.topic, req);
				messages++;
				break;
			case PNOTE_DELIVERED:
				if (n.tag >= 1000 && n.tag < 1000 + FLOOD_OWN) {
					assert_int_equal(seen[n.tag - 1000], 0);
					seen[n.tag - 1000] = 1;
					delivered++;
				}
				break;
			case PNOTE_SEND_FAILED:
			case PNOTE_CONNECTION_LOST:
			case PNOTE_CONNECT_FAILED:
				fail_msg("note %d (tag %llu, '%s') during the flood", (int)n.kind,
					 (unsigned long long)n.tag, n.text);
				break;
			default:
				break;
			}
			publish_note_clear(&n);
		}
		keeper_tick();
		poll(&pfd, 1, 50);
	}
	assert_int_equal(delivered, FLOOD_OWN);
	/* exactly what did not arrive was counted as dropped */
	assert_int_equal(messages + dropped, FLOOD_N);
	assert_int_equal(publish_dropped(gw), dropped);
	assert_true(publish_is_connected(gw));

	/* drained, it takes messages again */
	peer_send(peer, req, 9999);
	assert_true(wait_note(gw, PNOTE_MESSAGE, req, WAIT_MS, &n));
	publish_note_clear(&n);
	assert_int_equal(publish_dropped(gw), dropped);
	pub_free(gw);
	pub_free(peer);
}

/* ---- runner --------------------------------------------------------- */

static int group_setup(void **state)
{
	struct publish_opts o;

	int r;

	(void)state;
	r = broker_start(&shared, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "cannot start mosquitto on port %d: %s\n", shared.port, strerror(-r));
		return -1;
	}
	static const char *const subs[] = { "keeper/tick" };
	struct publish_note n;
	uint64_t end;

	o = base_opts(shared.port, next_id("keeper"));
	o.subscriptions = subs;
	o.n_subscriptions = 1;
	if (publish_new(&o, &keeper) < 0 || publish_connect(keeper) < 0) {
		broker_stop(&shared);
		return -1;
	}
	end = util_mono_ms() + WAIT_MS;
	while (util_mono_ms() < end) {
		struct pollfd pfd = { .fd = publish_fd(keeper), .events = POLLIN };

		poll(&pfd, 1, 100);
		if (publish_next(keeper, &n) && n.kind == PNOTE_CONNECTED)
			return 0;
	}
	fprintf(stderr, "keeper cannot connect to port %d\n", shared.port);
	publish_free(keeper);
	keeper = NULL;
	broker_stop(&shared);
	return -1;
}

static int group_teardown(void **state)
{
	(void)state;
	publish_free(keeper);
	broker_stop(&private_b);
	broker_stop(&shared);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_bad_options),
		cmocka_unit_test(test_not_connected),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_publish_delivered),
		cmocka_unit_test(test_retained_seen_by_later_subscriber),
		cmocka_unit_test(test_incoming_messages),
		cmocka_unit_test(test_v5_request_response),
		cmocka_unit_test(test_read_secret),
		cmocka_unit_test(test_v5_max_packet),
		cmocka_unit_test(test_will_on_unclean_loss),
		cmocka_unit_test(test_broker_killed),
		cmocka_unit_test(test_abort_then_reconnect),
		cmocka_unit_test(test_nodes_abandon_hung_attempt),
		cmocka_unit_test(test_v5_session_taken_over),
		cmocka_unit_test(test_v5_broker_disconnect),
		cmocka_unit_test(test_disconnect_sends_offline),
		cmocka_unit_test(test_flood_never_loses_delivery_notes),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "--will-child") == 0)
		return will_child(argv[2], argv[3]);
	log_init(getenv("FIREGW_TEST_DEBUG") ? LOG_DEBUG : LOG_CRIT);
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
