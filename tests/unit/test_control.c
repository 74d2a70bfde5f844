/* test_control.c - unit tests of gateway/control.c: the daemon's control
 * socket and control_call(), server and client in one process. The server
 * runs its poll loop in a thread that owns the control handle; the test
 * thread is the CLI, through control_call() or a raw socket. Error paths
 * first: no daemon, a stale socket, a daemon that never answers or goes
 * away, malformed and over-long requests. Every wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "control.h"
#include "log.h"
#include "util.h"

struct server {
	char base[64]; /* the temp dir */
	char dir[96];  /* the runtime dir given to control_open (created by it) */
	char sock[128];
	control *c;
	int stop[2]; /* pipe: the test thread asks the loop to end */
	pthread_t thread;
	bool running;
	_Atomic int requests; /* callbacks made */
	_Atomic bool halted;  /* the loop ended and freed c ("partial" op) */
	_Atomic int errors;   /* failed checks in the server thread */
	char last_arg[128];   /* "arg" of the latest request, as seen by the server */
	int gone[2];          /* pipe: the handle of each client that went away */
};

/* ---- the daemon side ---- */

static void on_request(void *ud, int client, json_t *req)
{
	struct server *s = ud;
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *arg = json_string_value(json_object_get(req, "arg"));
	int i;

	atomic_fetch_add(&s->requests, 1);
	util_strlcpy(s->last_arg, arg ? arg : "", sizeof(s->last_arg));
	if (!op) {
		control_error(s->c, client, "bad_request", "no op");
	} else if (strcmp(op, "echo") == 0) {
		json_t *r = json_pack("{s:b, s:O?}", "ok", 1, "arg", json_object_get(req, "arg"));

		if (control_reply(s->c, client, r, true) != 0)
			atomic_fetch_add(&s->errors, 1);
	} else if (strcmp(op, "multi") == 0) {
		for (i = 0; i < 3; i++)
			if (control_reply(s->c, client, json_pack("{s:i}", "i", i), i == 2) != 0)
				atomic_fetch_add(&s->errors, 1);
	} else if (strcmp(op, "whoami") == 0) {
		if (control_reply(s->c, client, json_pack("{s:i}", "client", client), true) != 0)
			atomic_fetch_add(&s->errors, 1);
	} else if (strcmp(op, "reply_to") == 0) {
		/* a late reply to another (maybe gone) client, then ours with
		 * what control_reply said about it */
		int other = (int)json_integer_value(json_object_get(req, "handle"));
		int r = control_reply(s->c, other, json_pack("{s:s}", "stale", "yes"), true);

		if (control_reply(s->c, client, json_pack("{s:i}", "ret", r), true) != 0)
			atomic_fetch_add(&s->errors, 1);
	} else if (strcmp(op, "peer") == 0) {
		struct control_peer p;
		json_t *r;

		if (control_peer(s->c, client, &p) != 0) {
			atomic_fetch_add(&s->errors, 1);
			return;
		}
		r = json_pack("{s:b, s:I, s:I, s:I, s:s}", "ok", 1, "uid", (json_int_t)p.uid, "gid",
			      (json_int_t)p.gid, "pid", (json_int_t)p.pid, "user", p.user);
		if (control_reply(s->c, client, r, true) != 0)
			atomic_fetch_add(&s->errors, 1);
	} else if (strcmp(op, "silent") == 0) {
		/* never answers */
	} else if (strcmp(op, "partial") == 0) {
		/* one line without "done", then the daemon goes away */
		if (control_reply(s->c, client, json_pack("{s:i}", "i", 0), false) != 0)
			atomic_fetch_add(&s->errors, 1);
		atomic_store(&s->halted, true);
	} else {
		control_error(s->c, client, "bad_request", "unknown op '%s'", op);
	}
}

static void on_gone(void *ud, int client)
{
	struct server *s = ud;

	/* non-blocking pipe: the server thread never waits on the test */
	if (write(s->gone[1], &client, sizeof(client)) != (ssize_t)sizeof(client))
		atomic_fetch_add(&s->errors, 1);
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	uint64_t deadline = util_mono_ms() + 20000; /* a stuck test ends anyway */

	while (util_mono_ms() < deadline && !atomic_load(&s->halted)) {
		struct pollfd fds[2 + CONTROL_MAX_CLIENTS];
		size_t n = control_pollfds(s->c, fds);
		int r;

		fds[n] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
		r = poll(fds, n + 1, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r < 0)
			continue;
		if (fds[n].revents)
			break;
		/* also when nothing happened: idle connections are closed there */
		control_dispatch(s->c, fds, n, on_request, s);
	}
	if (atomic_load(&s->halted)) {
		control_free(s->c);
		s->c = NULL;
	}
	return NULL;
}

static void server_open(struct server *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->base, "/tmp/test_control.XXXXXX");
	assert_non_null(mkdtemp(s->base));
	snprintf(s->dir, sizeof(s->dir), "%s/run", s->base);
	snprintf(s->sock, sizeof(s->sock), "%s/%s", s->dir, CONTROL_SOCKET_NAME);
	assert_int_equal(control_open(s->dir, &s->c), 0);
	assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(s->gone, O_CLOEXEC | O_NONBLOCK), 0);
	control_set_gone(s->c, on_gone, s);
}

static void server_start(struct server *s)
{
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	s->running = true;
}

static void join_within(pthread_t t, int timeout_ms)
{
	struct timespec dl;
	int r;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000 + 1;
	r = pthread_timedjoin_np(t, NULL, &dl);
	if (r != 0)
		fail_msg("server thread did not end (%s)", strerror(r));
}

static void server_stop(struct server *s)
{
	if (s->running) {
		assert_int_equal(write(s->stop[1], "x", 1), 1);
		join_within(s->thread, 3000);
		s->running = false;
	}
	control_free(s->c);
	s->c = NULL;
	assert_int_equal(atomic_load(&s->errors), 0);
	close(s->stop[0]);
	close(s->stop[1]);
	close(s->gone[0]);
	close(s->gone[1]);
	/* control_free removed the socket; the dir is ours to remove */
	assert_int_equal(access(s->sock, F_OK), -1);
	assert_int_equal(rmdir(s->dir), 0);
	assert_int_equal(rmdir(s->base), 0);
}

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	server_open(s);
	server_start(s);
	*state = s;
	return 0;
}

/* The server with a short idle bound (300 ms instead of 30 s). */
static int setup_idle(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	server_open(s);
	control_set_idle_ms(s->c, 300);
	server_start(s);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	server_stop(*state);
	free(*state);
	return 0;
}

/* ---- the CLI side ---- */

struct replies {
	json_t *all; /* array of the replies, in order */
};

static void collect(void *ud, json_t *reply)
{
	struct replies *r = ud;

	/* the reply is borrowed: keep our own reference */
	json_array_append(r->all, reply);
}

static int call(const char *dir, const char *req_text, int timeout_ms, struct replies *out)
{
	json_t *req = json_loads(req_text, 0, NULL);
	int r;

	assert_non_null(req);
	out->all = json_array();
	r = control_call(dir, req, timeout_ms, collect, out);
	json_decref(req);
	return r;
}

static char pending[1 << 17]; /* bytes read past the last line */
static size_t npending;

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	npending = 0;
	return fd;
}

static void raw_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		assert_true(w > 0);
		p += w;
		len -= (size_t)w;
	}
}

static void raw_send_str(int fd, const char *s)
{
	raw_send(fd, s, strlen(s));
}

/* Reads one line (without '\n') of the latest raw_connect()ed socket within 3 s. Returns a malloc'd
 * string, or NULL on EOF / error (errno set, 0 for EOF). */
static char *raw_read_line(int fd)
{
	uint64_t deadline = util_mono_ms() + 3000;

	for (;;) {
		char *nl = memchr(pending, '\n', npending);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now;
		ssize_t got;

		if (nl) {
			size_t l = (size_t)(nl - pending);
			char *line = strndup(pending, l);

			memmove(pending, nl + 1, npending - l - 1);
			npending -= l + 1;
			return line;
		}
		now = util_mono_ms();
		if (now >= deadline)
			fail_msg("no line from the daemon within 3 s");
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		assert_true(npending < sizeof(pending));
		got = read(fd, pending + npending, sizeof(pending) - npending);
		if (got <= 0) {
			errno = got == 0 ? 0 : errno;
			return NULL;
		}
		npending += (size_t)got;
	}
}

/* The connection is closed by the daemon: EOF or a reset, within 3 s. */
static void assert_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	ssize_t got;

	assert_int_equal(poll(&p, 1, 3000), 1);
	got = read(fd, &c, 1);
	if (!(got == 0 || (got < 0 && errno == ECONNRESET)))
		fail_msg("connection still open (read %zd, %s)", got, strerror(errno));
}

static json_t *parse(const char *line)
{
	json_t *o = json_loads(line, 0, NULL);

	if (!o)
		fail_msg("not JSON: %s", line);
	return o;
}

/* {"ok":false,"error":{"code":code,"message":<starts with msg>},"done":true} */
static void assert_error_line(const char *line, const char *code, const char *msg)
{
	json_t *o = parse(line);
	json_t *err = json_object_get(o, "error");

	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_true(json_is_true(json_object_get(o, "done")));
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "code")), code);
	if (strncmp(json_string_value(json_object_get(err, "message")), msg, strlen(msg)) != 0)
		fail_msg("message \"%s\", want it to start with \"%s\"",
			 json_string_value(json_object_get(err, "message")), msg);
	json_decref(o);
}

/* ---- error paths ---- */

static void test_call_no_daemon(void **state)
{
	char base[] = "/tmp/test_control.XXXXXX", path[128];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct replies out;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	/* no socket at all */
	assert_int_equal(call(base, "{\"op\":\"echo\"}", 1000, &out), -ENOENT);
	assert_int_equal(json_array_size(out.all), 0);
	json_decref(out.all);
	snprintf(path, sizeof(path), "%s/nonexistent", base);
	assert_int_equal(call(path, "{\"op\":\"echo\"}", 1000, &out), -ENOENT);
	json_decref(out.all);

	/* a stale socket file left by a killed daemon: nobody listens */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", base, CONTROL_SOCKET_NAME);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(call(base, "{\"op\":\"echo\"}", 1000, &out), -ECONNREFUSED);
	assert_int_equal(json_array_size(out.all), 0);
	json_decref(out.all);
	assert_int_equal(unlink(sa.sun_path), 0);
	assert_int_equal(rmdir(base), 0);
}

static void test_path_too_long(void **state)
{
	char dir[200];
	struct replies out;
	control *c = NULL;

	(void)state;
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(control_open(dir, &c), -ENAMETOOLONG);
	assert_null(c);
	assert_int_equal(call(dir, "{}", 100, &out), -ENAMETOOLONG);
	json_decref(out.all);
}

static void test_open_on_a_file_fails(void **state)
{
	char base[] = "/tmp/test_control.XXXXXX", path[128];
	control *c = NULL;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/file", base);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(control_open(path, &c) < 0);
	assert_null(c);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(base), 0);
}

static void test_call_times_out_unserved(void **state)
{
	struct server s;
	struct replies out;
	uint64_t t0;

	(void)state;
	/* the daemon listens but its loop never runs */
	server_open(&s);
	t0 = util_mono_ms();
	assert_int_equal(call(s.dir, "{\"op\":\"echo\"}", 200, &out), -ETIMEDOUT);
	assert_true(util_mono_ms() - t0 >= 199); /* waited; an upper bound is not asserted */
	assert_int_equal(json_array_size(out.all), 0);
	json_decref(out.all);
	server_stop(&s);
}

struct caller {
	const char *dir;
	int timeout_ms;
	int ret;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	json_t *req = json_pack("{s:s}", "op", "echo");

	c->ret = control_call(c->dir, req, c->timeout_ms, NULL, NULL);
	json_decref(req);
	return NULL;
}

/* Regression test (a bug found by this suite, now fixed): control_call() connects and sends on a
 * blocking socket, so its timeout only covers the wait for replies. When
 * the daemon's main loop is stuck, its listen backlog (8) fills with the
 * CLI calls that timed out (their connections stay queued until accepted),
 * and from then on every `firegw status` blocks in connect() forever
 * instead of failing after timeout_ms. Fix: a non-blocking connect (a
 * Unix socket says EAGAIN when the backlog is full) and send, retried
 * with poll() until the same deadline. */
static void test_call_timeout_covers_connect(void **state)
{
	struct caller cl = {.timeout_ms = 200, .ret = 1};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timespec dl;
	struct server s;
	pthread_t t;
	int fds[64], n, i, jr;

	(void)state;
	server_open(&s); /* listening, never accepting: a stuck daemon */
	strcpy(sa.sun_path, s.sock);
	for (n = 0; n < 64; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fds[n] >= 0);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			assert_int_equal(errno, EAGAIN); /* the backlog is full */
			close(fds[n]);
			break;
		}
	}
	assert_true(n < 64);
	cl.dir = s.dir;
	assert_int_equal(pthread_create(&t, NULL, caller_main, &cl), 0);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	jr = pthread_timedjoin_np(t, NULL, &dl);
	if (jr != 0) {
		/* closing the listener wakes the blocked connect() */
		control_free(s.c);
		s.c = NULL;
		pthread_join(t, NULL);
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	server_stop(&s);
	if (jr != 0)
		fail_msg("control_call(timeout 200 ms) still blocked after 3 s");
	assert_int_equal(cl.ret, -ETIMEDOUT);
}

static void test_call_times_out_silent(void **state)
{
	struct server *s = *state;
	struct replies out;

	assert_int_equal(call(s->dir, "{\"op\":\"silent\"}", 200, &out), -ETIMEDOUT);
	assert_int_equal(json_array_size(out.all), 0);
	assert_int_equal(atomic_load(&s->requests), 1); /* it did arrive */
	json_decref(out.all);
}

static void test_call_daemon_goes_away(void **state)
{
	struct server *s = *state;
	struct replies out;

	/* one line without "done", then the socket closes */
	assert_int_equal(call(s->dir, "{\"op\":\"partial\"}", 3000, &out), -EPROTO);
	assert_int_equal(json_array_size(out.all), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out.all, 0), "i")), 0);
	json_decref(out.all);
	join_within(s->thread, 3000);
	s->running = false;
	assert_null(s->c);
}

static void test_malformed_json(void **state)
{
	struct server *s = *state;
	static const struct {
		const char *line;
		const char *msg;
	} bad[] = {
	    {"not json\n", "not a JSON object: "},
	    {"{\"op\": \"echo\"\n", "not a JSON object: "},
	    {"[1, 2]\n", "not a JSON object: wrong type"},
	    {"\"op\"\n", "not a JSON object: "},
	    {"42\n", "not a JSON object: "},
	    {"\n", "not a JSON object: "},
	    {"{\"op\":\"echo\"} {}\n", "not a JSON object: "}, /* two values on one line */
	};
	size_t i;
	int fd = raw_connect(s->sock);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char *line;

		raw_send_str(fd, bad[i].line);
		line = raw_read_line(fd);
		if (!line)
			fail_msg("no reply to \"%s\"", bad[i].line);
		assert_error_line(line, "bad_request", bad[i].msg);
		free(line);
	}
	assert_int_equal(atomic_load(&s->requests), 0); /* the callback never saw them */

	/* the connection stays usable after a malformed line */
	{
		char *line;
		json_t *o;

		raw_send_str(fd, "{\"op\":\"echo\",\"arg\":\"still here\"}\n");
		line = raw_read_line(fd);
		assert_non_null(line);
		o = parse(line);
		assert_string_equal(json_string_value(json_object_get(o, "arg")), "still here");
		assert_true(json_is_true(json_object_get(o, "done")));
		json_decref(o);
		free(line);
	}
	close(fd);
}

static void test_overlong_line_rejected(void **state)
{
	struct server *s = *state;
	size_t len = CONTROL_MAX_LINE + 4000;
	char *big = malloc(len);
	char *line;
	int fd;

	assert_non_null(big);
	memset(big, 'a', len); /* no newline at all */
	fd = raw_connect(s->sock);
	raw_send(fd, big, len);
	line = raw_read_line(fd);
	assert_non_null(line);
	assert_error_line(line, "bad_request", "request longer than 65536 bytes");
	free(line);
	assert_closed(fd); /* and the client is dropped */
	close(fd);
	assert_int_equal(atomic_load(&s->requests), 0);
	free(big);

	/* the daemon serves others on */
	{
		struct replies out;

		assert_int_equal(call(s->dir, "{\"op\":\"echo\",\"arg\":\"x\"}", 3000, &out), 0);
		assert_int_equal(json_array_size(out.all), 1);
		json_decref(out.all);
	}
}

static void test_long_line_under_limit_accepted(void **state)
{
	struct server *s = *state;
	/* {"op":"echo","arg":"aaa...a"} plus '\n' is exactly CONTROL_MAX_LINE */
	size_t overhead = strlen("{\"op\":\"echo\",\"arg\":\"\"}") + 1;
	size_t n = CONTROL_MAX_LINE - overhead;
	char *arg = malloc(n + 1);
	json_t *req;
	struct replies out = {json_array()};

	assert_non_null(arg);
	memset(arg, 'a', n);
	arg[n] = '\0';
	req = json_pack("{s:s, s:s}", "op", "echo", "arg", arg);
	{
		char *text = json_dumps(req, JSON_COMPACT);

		assert_non_null(text);
		assert_int_equal(strlen(text) + 1, CONTROL_MAX_LINE);
		free(text);
	}
	assert_int_equal(control_call(s->dir, req, 3000, collect, &out), 0);
	assert_int_equal(json_array_size(out.all), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(out.all, 0), "arg")),
			    arg);
	json_decref(out.all);
	json_decref(req);
	free(arg);
}

static void test_reply_to_absent_client(void **state)
{
	struct server s;

	(void)state;
	server_open(&s); /* no loop: this thread owns the handle */
	/* the reply object is taken (freed) even when refused: valgrind/ASan */
	assert_int_equal(control_reply(s.c, -1, json_object(), true), -ENOTCONN);
	assert_int_equal(control_reply(s.c, CONTROL_MAX_CLIENTS, json_object(), false), -ENOTCONN);
	assert_int_equal(control_reply(s.c, 0, json_pack("{s:i}", "a", 1), true), -ENOTCONN);
	assert_int_equal(control_error(s.c, 3, "bad_request", "x %d", 1), -ENOTCONN);
	server_stop(&s);
}

/* Sixteen idle clients cannot lock an operator out (issue 10): with every
 * slot taken by connections that asked nothing (or were answered), a new
 * one is served and the one idle longest is closed. */
static void test_idle_clients_do_not_lock_out(void **state)
{
	struct server *s = *state;
	int fds[CONTROL_MAX_CLIENTS], extra, i;
	char *line;

	/* fill every slot; a request on each proves the daemon took it */
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = raw_connect(s->sock);
		raw_send_str(fds[i], "{\"op\":\"echo\",\"arg\":\"x\"}\n");
		line = raw_read_line(fds[i]);
		assert_non_null(line);
		free(line);
	}
	/* one more is served ... */
	extra = raw_connect(s->sock);
	raw_send_str(extra, "{\"op\":\"echo\",\"arg\":\"operator\"}\n");
	line = raw_read_line(extra);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"arg\":\"operator\""));
	free(line);
	/* ... and the first (idle longest) was closed for it; the others work */
	assert_closed(fds[0]);
	raw_send_str(fds[1], "{\"op\":\"echo\",\"arg\":\"y\"}\n");
	line = raw_read_line(fds[1]);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"arg\":\"y\""));
	free(line);
	close(extra);
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
}

/* Clients that all wait for an answer keep their slots: the new one gets
 * one "busy" line and is closed. */
static void test_busy_clients_keep_their_slots(void **state)
{
	struct server *s = *state;
	int fds[CONTROL_MAX_CLIENTS], extra, i;
	char *line;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = raw_connect(s->sock);
		raw_send_str(fds[i], "{\"op\":\"silent\"}\n");
	}
	/* every request reached the server before the 17th connects */
	for (i = 0; i < 300 && atomic_load(&s->requests) < CONTROL_MAX_CLIENTS; i++)
		poll(NULL, 0, 10);
	assert_int_equal(atomic_load(&s->requests), CONTROL_MAX_CLIENTS);
	extra = raw_connect(s->sock);
	line = raw_read_line(extra);
	assert_non_null(line);
	assert_error_line(line, "busy", "every control connection waits");
	free(line);
	assert_closed(extra);
	close(extra);
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};

		assert_int_equal(poll(&p, 1, 0), 0); /* still open, nothing sent */
		close(fds[i]);
	}
}

/* A connection that sends nothing, or never ends its line, is closed
 * after the idle bound; one waiting for its answer is not. */
static void test_idle_connection_closed(void **state)
{
	struct server *s = *state;
	int quiet, partial, waiting;
	struct pollfd p;

	quiet = raw_connect(s->sock);
	partial = raw_connect(s->sock);
	raw_send_str(partial, "{\"op\":\"echo\",");
	waiting = raw_connect(s->sock);
	raw_send_str(waiting, "{\"op\":\"silent\"}\n");
	assert_closed(quiet);
	assert_closed(partial);
	/* three idle bounds later the waiting one is still open */
	poll(NULL, 0, 900);
	p = (struct pollfd){.fd = waiting, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0);
	close(quiet);
	close(partial);
	close(waiting);
}

/* The owner learns who asked: the peer's uid, gid, pid and user name. */
static void test_peer_credentials(void **state)
{
	struct server *s = *state;
	struct replies out;
	json_t *r;

	assert_int_equal(call(s->dir, "{\"op\":\"peer\"}", 3000, &out), 0);
	assert_int_equal(json_array_size(out.all), 1);
	r = json_array_get(out.all, 0);
	assert_int_equal(json_integer_value(json_object_get(r, "uid")), (json_int_t)getuid());
	assert_int_equal(json_integer_value(json_object_get(r, "gid")), (json_int_t)getgid());
	assert_int_equal(json_integer_value(json_object_get(r, "pid")), (json_int_t)getpid());
	if (getuid() == 0)
		assert_string_equal(json_string_value(json_object_get(r, "user")), "root");
	json_decref(out.all);
}

/* A child process under other credentials (root needed to take them)
 * connects, sends an echo, and reports the first line it got through a
 * pipe: what the daemon told a peer of uid/gid with these groups. */
static char *peer_exchange(const char *sock, uid_t uid, gid_t gid, const gid_t *groups,
			   size_t n_groups)
{
	int pfd[2], status;
	char buf[1024];
	size_t len = 0;
	pid_t pid;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		static const char req[] = "{\"op\":\"echo\",\"arg\":\"peer\"}\n";
		char line[1024];
		ssize_t got, total = 0;
		int fd;

		close(pfd[0]);
		if (setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(10);
		strcpy(sa.sun_path, sock);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			snprintf(line, sizeof(line), "connect: %s", strerror(errno));
			(void)!write(pfd[1], line, strlen(line));
			_exit(0);
		}
		/* refused, the daemon may have closed already: no SIGPIPE */
		(void)!send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
		while (total < (ssize_t)sizeof(line) - 1 &&
		       (got = read(fd, line + total, sizeof(line) - 1 - (size_t)total)) > 0) {
			total += got;
			if (memchr(line, '\n', (size_t)total))
				break;
		}
		(void)!write(pfd[1], line, (size_t)total);
		_exit(0);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t got = read(pfd[0], buf + len, sizeof(buf) - 1 - len);

		if (got <= 0 || (len += (size_t)got) >= sizeof(buf) - 1)
			break;
	}
	close(pfd[0]);
	buf[len] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return strdup(buf);
}

/* SO_PEERCRED: with the directory and socket opened to everyone (an
 * administrator's chmod), a stranger is still refused with a line saying
 * what to do; a member of the socket's group by a supplementary group, or
 * by its primary group, is served. */
static void test_peer_refused_unless_in_group(void **state)
{
	struct server *s = *state;
	const gid_t nogroups[1] = {65534}, member[2] = {65534, 0};
	struct stat st;
	char *line;

	if (geteuid() != 0)
		skip();
	assert_int_equal(stat(s->sock, &st), 0);
	assert_int_equal(st.st_gid, getegid()); /* the directory's group: ours */
	assert_int_equal(chmod(s->base, 0755), 0);
	assert_int_equal(chmod(s->dir, 0755), 0);
	assert_int_equal(chmod(s->sock, 0666), 0);

	line = peer_exchange(s->sock, 65534, 65534, nogroups, 1);
	assert_error_line(line, "forbidden", "permission denied: uid 65534");
	assert_non_null(strstr(line, "usermod -aG"));
	free(line);
	assert_int_equal(atomic_load(&s->requests), 0); /* it never reached the owner */

	line = peer_exchange(s->sock, 65534, 65534, member, 2);
	assert_non_null(strstr(line, "\"arg\":\"peer\""));
	free(line);
	line = peer_exchange(s->sock, 65534, st.st_gid, nogroups, 1);
	assert_non_null(strstr(line, "\"arg\":\"peer\""));
	free(line);
	assert_int_equal(atomic_load(&s->requests), 2);
}

/* The socket takes the runtime directory's group (as /run/firegw made by
 * the service manager for group firegw), and that group is who is let
 * in: the daemon's own group no longer is. */
static void test_socket_takes_the_directory_group(void **state)
{
	struct server s;
	const gid_t own[1] = {0}, other[1] = {20};
	struct stat st;
	char base[] = "/tmp/test_control.XXXXXX", dir[96], sock[128], *line;
	pthread_t t;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* server_open makes its own dir; build this one by hand first */
	memset(&s, 0, sizeof(s));
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/run", base);
	snprintf(sock, sizeof(sock), "%s/%s", dir, CONTROL_SOCKET_NAME);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chown(dir, (uid_t)-1, 20), 0);
	assert_int_equal(chmod(base, 0755), 0);
	util_strlcpy(s.base, base, sizeof(s.base));
	util_strlcpy(s.dir, dir, sizeof(s.dir));
	util_strlcpy(s.sock, sock, sizeof(s.sock));
	assert_int_equal(control_open(dir, &s.c), 0);
	assert_int_equal(pipe2(s.stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(s.gone, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(stat(sock, &st), 0);
	assert_int_equal(st.st_gid, 20);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(chmod(sock, 0666), 0);
	assert_int_equal(pthread_create(&t, NULL, server_main, &s), 0);
	s.thread = t;
	s.running = true;

	line = peer_exchange(sock, 65534, 65534, other, 1);
	assert_non_null(strstr(line, "\"arg\":\"peer\""));
	free(line);
	line = peer_exchange(sock, 65534, 65534, own, 1);
	assert_error_line(line, "forbidden", "permission denied: uid 65534");
	free(line);
	server_stop(&s);
}

/* ---- normal operation ---- */

static void test_socket_mode(void **state)
{
	struct server *s = *state;
	struct stat st;

	assert_int_equal(stat(s->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(stat(s->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750); /* umask 022 set in main() */
}

static void test_request_reaches_callback(void **state)
{
	struct server *s = *state;
	struct replies out;
	json_t *r;

	assert_int_equal(
	    call(s->dir, "{\"op\":\"echo\",\"arg\":\"Ch\xe1\xbb\xa3 M\xe1\xbb\xb9\"}", 3000, &out),
	    0);
	assert_int_equal(atomic_load(&s->requests), 1);
	assert_string_equal(s->last_arg, "Ch\xe1\xbb\xa3 M\xe1\xbb\xb9");
	assert_int_equal(json_array_size(out.all), 1);
	r = json_array_get(out.all, 0);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_true(json_is_true(json_object_get(r, "done")));
	assert_string_equal(json_string_value(json_object_get(r, "arg")),
			    "Ch\xe1\xbb\xa3 M\xe1\xbb\xb9");
	json_decref(out.all);

	/* an error reply ends the call too, and is passed to the callback */
	assert_int_equal(call(s->dir, "{\"op\":\"nope\"}", 3000, &out), 0);
	assert_int_equal(json_array_size(out.all), 1);
	{
		char *line = json_dumps(json_array_get(out.all, 0), JSON_COMPACT);

		assert_error_line(line, "bad_request", "unknown op 'nope'");
		free(line);
	}
	json_decref(out.all);
}

static void test_multi_line_reply(void **state)
{
	struct server *s = *state;
	struct replies out;
	size_t i;

	assert_int_equal(call(s->dir, "{\"op\":\"multi\"}", 3000, &out), 0);
	assert_int_equal(json_array_size(out.all), 3);
	for (i = 0; i < 3; i++) {
		json_t *r = json_array_get(out.all, i);

		assert_int_equal(json_integer_value(json_object_get(r, "i")), (json_int_t)i);
		/* only the last one says done */
		assert_true(i == 2 ? json_is_true(json_object_get(r, "done"))
				   : json_object_get(r, "done") == NULL);
	}
	json_decref(out.all);
}

static void test_pipelined_and_split_requests(void **state)
{
	struct server *s = *state;
	static const char two[] =
	    "{\"op\":\"echo\",\"arg\":\"one\"}\n{\"op\":\"echo\",\"arg\":\"two\"}\n";
	static const char split[] = "{\"op\":\"echo\",\"arg\":\"three\"}\n";
	int fd = raw_connect(s->sock);
	char *line;
	size_t i;

	/* two requests in one write: two answers, in order */
	raw_send(fd, two, sizeof(two) - 1);
	line = raw_read_line(fd);
	assert_non_null(strstr(line, "\"arg\":\"one\""));
	free(line);
	line = raw_read_line(fd);
	assert_non_null(strstr(line, "\"arg\":\"two\""));
	free(line);
	/* one request a byte at a time: one answer */
	for (i = 0; i < sizeof(split) - 1; i++)
		raw_send(fd, split + i, 1);
	line = raw_read_line(fd);
	assert_non_null(strstr(line, "\"arg\":\"three\""));
	assert_non_null(strstr(line, "\"done\":true"));
	free(line);
	close(fd);
	assert_int_equal(atomic_load(&s->requests), 3);
}

/* Regression test (issue 7): a second daemon's control_open() unlinked the
 * socket of the running one and took its path, so every CLI command went
 * to the wrong daemon. A socket that still accepts is left alone. */
static void test_open_refuses_live_socket(void **state)
{
	struct server *s = *state;
	control *again = NULL;
	struct stat before, after;
	struct replies out;

	assert_int_equal(stat(s->sock, &before), 0);
	assert_int_equal(control_open(s->dir, &again), -EADDRINUSE);
	assert_null(again);
	assert_int_equal(stat(s->sock, &after), 0);
	assert_true(before.st_ino == after.st_ino); /* the same socket, not replaced */
	/* and the running daemon still answers on it */
	assert_int_equal(call(s->dir, "{\"op\":\"echo\",\"arg\":\"first\"}", 3000, &out), 0);
	assert_int_equal(json_array_size(out.all), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(out.all, 0), "arg")),
			    "first");
	json_decref(out.all);
}

static void test_open_replaces_stale_socket(void **state)
{
	struct server s;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	control *again = NULL;
	struct stat st;
	int fd;

	(void)state;
	server_open(&s);
	control_free(s.c); /* unlinks its socket */
	s.c = NULL;
	/* what a killed daemon leaves: a socket file nobody listens on */
	strcpy(sa.sun_path, s.sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(control_open(s.dir, &again), 0);
	assert_int_equal(stat(s.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	s.c = again; /* freed (and unlinked) by server_stop */
	server_stop(&s);
}

/* Waits (bounded) until the server reports handle gone. */
static void wait_gone(struct server *s, int handle)
{
	uint64_t deadline = util_mono_ms() + 3000;

	for (;;) {
		struct pollfd p = {.fd = s->gone[0], .events = POLLIN};
		uint64_t now = util_mono_ms();
		int h;

		if (now >= deadline)
			fail_msg("no gone callback for client %d within 3 s", handle);
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		if (read(s->gone[0], &h, sizeof(h)) == (ssize_t)sizeof(h) && h == handle)
			return;
	}
}

static int whoami(int fd)
{
	char *line;
	json_t *o;
	int h;

	raw_send_str(fd, "{\"op\":\"whoami\"}\n");
	line = raw_read_line(fd);
	assert_non_null(line);
	o = parse(line);
	assert_true(json_is_integer(json_object_get(o, "client")));
	h = (int)json_integer_value(json_object_get(o, "client"));
	json_decref(o);
	free(line);
	return h;
}

/* Regression test (issue 7): a client was named by its slot index, so a
 * job result meant for a client that had gone away was sent to the next
 * client in the same slot. Handles carry a generation: the old one is
 * refused (-ENOTCONN) and the new client receives nothing of it; the owner
 * is told at once that the old client went away. */
static void test_stale_handle_after_slot_reuse(void **state)
{
	struct server *s = *state;
	int fd, old, cur;
	char req[96], *line;
	json_t *o;

	fd = raw_connect(s->sock);
	old = whoami(fd);
	assert_true(old >= 0);
	close(fd);
	wait_gone(s, old);

	fd = raw_connect(s->sock);
	cur = whoami(fd);
	assert_int_equal(cur & 0xff, old & 0xff); /* the same slot ... */
	assert_int_not_equal(cur, old);           /* ... under another handle */

	snprintf(req, sizeof(req), "{\"op\":\"reply_to\",\"handle\":%d}\n", old);
	raw_send_str(fd, req);
	/* the first line is our own answer, not the reply meant for old */
	line = raw_read_line(fd);
	assert_non_null(line);
	o = parse(line);
	assert_null(json_object_get(o, "stale"));
	assert_int_equal(json_integer_value(json_object_get(o, "ret")), -ENOTCONN);
	assert_true(json_is_true(json_object_get(o, "done")));
	json_decref(o);
	free(line);
	/* and nothing else came in between */
	assert_int_equal(whoami(fd), cur);
	close(fd);
	wait_gone(s, cur);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_call_no_daemon),
	    cmocka_unit_test(test_path_too_long),
	    cmocka_unit_test(test_open_on_a_file_fails),
	    cmocka_unit_test(test_call_times_out_unserved),
	    cmocka_unit_test(test_call_timeout_covers_connect),
	    T(test_call_times_out_silent),
	    T(test_call_daemon_goes_away),
	    T(test_malformed_json),
	    T(test_overlong_line_rejected),
	    T(test_long_line_under_limit_accepted),
	    cmocka_unit_test(test_reply_to_absent_client),
	    T(test_idle_clients_do_not_lock_out),
	    T(test_busy_clients_keep_their_slots),
	    cmocka_unit_test_setup_teardown(test_idle_connection_closed, setup_idle, teardown),
	    T(test_peer_credentials),
	    T(test_peer_refused_unless_in_group),
	    cmocka_unit_test(test_socket_takes_the_directory_group),
	    T(test_socket_mode),
	    T(test_request_reaches_callback),
	    T(test_multi_line_reply),
	    T(test_pipelined_and_split_requests),
	    T(test_open_refuses_live_socket),
	    cmocka_unit_test(test_open_replaces_stale_socket),
	    T(test_stale_handle_after_slot_reuse),
	};
#undef T

	umask(022);
	log_init(LOG_ERR); /* the refusals' warnings are expected */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
