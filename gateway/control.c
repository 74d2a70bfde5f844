/* control.c - the daemon's control socket and its CLI client. Line-framed
 * JSON over a Unix stream socket. The server side is driven by the main
 * loop's poll(); it never blocks: replies that do not fit the socket buffer
 * drop the client (the CLI then reports the daemon went away).
 *
 * A client is named by a handle, generation << 8 | slot: a slot is reused
 * by the next connection, the generation never (until it wraps after 2^23
 * connections of one slot), so a late reply meant for a client that went
 * away is refused, not sent to whoever took its slot. The owner learns of
 * every client that goes away through the gone callback, at once, so it
 * can let go of what it keeps for that client (a probe or scan job).
 *
 * Who may connect (docs/security.md, "The service and the control
 * socket"): the socket is mode 0660, its group the runtime directory's
 * (firegw under the unit). Each peer is checked again with SO_PEERCRED, so
 * that a socket or directory whose mode was widened by hand lets in no one
 * else: root, the daemon's own user, and members of the socket's group
 * (primary or supplementary, as the kernel saw them when it connected:
 * SO_PEERGROUPS). Others get one refusal line and are closed at once.
 *
 * No client can hold a slot for nothing: a connection without a complete
 * request for CONTROL_IDLE_MS is closed, and when every slot is taken a new
 * connection closes the longest idle one (never one waiting for its
 * answer), so idle connections cannot lock an operator out. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define SLOT_BITS 8
#define SLOT_MASK ((1 << SLOT_BITS) - 1)
#define GEN_MAX (INT_MAX >> SLOT_BITS)

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif
#define PEER_GROUPS_MAX 256

struct client {
	int fd;
	int gen;    /* of the connection in this slot; 0: never used */
	char *buf;
	size_t len;
	uint64_t since_ms; /* accepted, or its last request answered */
	int pending;       /* requests not answered with "done" yet */
	struct control_peer peer;
};

struct control {
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t gid; /* the socket's group: its members may connect */
	uint64_t idle_ms;
	struct client clients[CONTROL_MAX_CLIENTS];
	void (*gone)(void *ud, int client);
	void *gone_ud;
	struct log_ratelimit refused_rl, full_rl;
};

_Static_assert(CONTROL_MAX_CLIENTS <= SLOT_MASK + 1, "slot must fit in a handle");

static int handle_of(const control *c, int slot)
{
	return c->clients[slot].gen << SLOT_BITS | slot;
}

/* The client a handle names while that connection lasts, else NULL. */
static struct client *client_of(control *c, int handle)
{
	struct client *cl;

	if (handle < 0 || (handle & SLOT_MASK) >= CONTROL_MAX_CLIENTS)
		return NULL;
	cl = &c->clients[handle & SLOT_MASK];
	if (cl->fd < 0 || cl->gen != handle >> SLOT_BITS)
		return NULL;
	return cl;
}

static int socket_path(const char *dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir,
			     CONTROL_SOCKET_NAME) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* Does a daemon listen on sa? 1: it accepted, or its backlog is full (a
 * stuck loop is still alive); 0: no socket, or a stale one nobody listens
 * on; -errno: cannot tell (then it is not ours to remove either). */
static int socket_live(const struct sockaddr_un *sa)
{
	int fd, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN)
		r = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		r = 0;
	else
		r = -errno;
	close(fd);
	return r;
}

/* The socket's group is the runtime directory's: who may enter the
 * directory (0750) may use the socket. Under the unit both are firegw's
 * already; a directory made by the package or an administrator for
 * another group gives the socket that group, when the daemon may (it is
 * root, or a member). Else the socket keeps the daemon's group. */
static void socket_group(control *c, const char *dir)
{
	struct stat st;

	c->gid = getegid();
	if (stat(dir, &st) < 0 || st.st_gid == c->gid)
		return;
	if (chown(c->path, (uid_t)-1, st.st_gid) < 0) {
		log_warning("control socket '%s': cannot give it group %u of '%s' (%s); it keeps "
			    "group %u", c->path, (unsigned)st.st_gid, dir, strerror(errno),
			    (unsigned)c->gid);
		return;
	}
	c->gid = st.st_gid;
}

int control_open(const char *dir, control **ret)
{
	struct sockaddr_un sa;
	control *c;
	int r, i;

	r = socket_path(dir, &sa);
	if (r < 0)
		return r;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0) {
		r = -errno;
		goto out_free;
	}
	/* only a stale socket (a killed daemon's) is replaced: one that still
	 * accepts belongs to a running daemon, whose CLI path we must not take */
	r = socket_live(&sa);
	if (r != 0) {
		r = r > 0 ? -EADDRINUSE : r;
		goto out_close;
	}
	unlink(sa.sun_path);
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0660) < 0 || listen(c->listen_fd, 8) < 0) {
		r = -errno;
		goto out_close;
	}
	util_strlcpy(c->path, sa.sun_path, sizeof(c->path));
	c->idle_ms = CONTROL_IDLE_MS;
	socket_group(c, dir);
	*ret = c;
	return 0;

out_close:
	close(c->listen_fd);
out_free:
	free(c);
	return r;
}

static void slot_clear(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->buf);
	cl->fd = -1;
	cl->buf = NULL;
	cl->len = 0;
	cl->pending = 0;
	memset(&cl->peer, 0, sizeof(cl->peer));
}

/* The connection of slot is over: closed, and the owner told (last, so
 * that whatever it does from its callback sees the client gone). */
static void client_drop(control *c, int slot)
{
	struct client *cl = &c->clients[slot];
	int handle;

	if (cl->fd < 0)
		return;
	handle = handle_of(c, slot);
	slot_clear(cl);
	if (c->gone)
		c->gone(c->gone_ud, handle);
}

void control_set_gone(control *c, void (*gone)(void *ud, int client), void *ud)
{
	c->gone = gone;
	c->gone_ud = ud;
}

void control_free(control *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		slot_clear(&c->clients[i]);
	close(c->listen_fd);
	unlink(c->path);
	free(c);
}

size_t control_pollfds(control *c, struct pollfd *fds)
{
	size_t n = 0;
	int i;

	fds[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			fds[n++] = (struct pollfd){ .fd = c->clients[i].fd, .events = POLLIN };
	return n;
}

static struct client *client_by_fd(control *c, int fd, int *ret_id)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd == fd) {
			*ret_id = i;
			return &c->clients[i];
		}
	return NULL;
}

/* Is gid among the peer's groups, as the kernel saw them at connect
 * (SO_PEERGROUPS)? On a kernel without it, the user database's groups of
 * the peer's user (getgrouplist), which a process may have dropped. */
static bool peer_in_group(int fd, const struct control_peer *p, gid_t gid)
{
	gid_t groups[PEER_GROUPS_MAX];
	socklen_t len = sizeof(groups);
	int i, n;

	if (p->gid == gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (i = 0; i < (int)(len / sizeof(gid_t)); i++)
			if (groups[i] == gid)
				return true;
		return false;
	}
	if (!p->user[0] || errno == ERANGE)
		return false; /* more groups than we look at: not proven */
	n = PEER_GROUPS_MAX;
	if (getgrouplist(p->user, p->gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static void peer_names(struct control_peer *p)
{
	char buf[4096];
	struct passwd pw, *pwp = NULL;

	p->user[0] = '\0';
	if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp &&
	    strlen(pwp->pw_name) < sizeof(p->user))
		util_strlcpy(p->user, pwp->pw_name, sizeof(p->user));
}

/* The group's name for messages, or its number. */
static const char *group_name(gid_t gid, char *out, size_t len)
{
	char buf[4096];
	struct group gr, *grp = NULL;

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &grp) == 0 && grp)
		util_strlcpy(out, grp->gr_name, len);
	else
		snprintf(out, len, "%u", (unsigned)gid);
	return out;
}

/* One line to a connection that gets no slot, then closed. Best effort:
 * the socket is new and its buffer empty, so the line fits. */
static void refuse(int fd, const char *code, const char *msg)
{
	json_t *o = json_pack("{s:b, s:{s:s, s:s}, s:b}", "ok", 0, "error", "code", code,
			      "message", msg, "done", 1);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (s) {
		size_t len = strlen(s);

		s[len] = '\n';
		if (send(fd, s, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("control socket: refusal not sent: %s", strerror(errno));
	}
	free(s);
	json_decref(o);
	close(fd);
}

/* Root, the daemon's own user, or a member of the socket's group. 0, or
 * -EPERM (refused, with the line sent), -errno. */
static int peer_check(control *c, int fd, struct control_peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	char msg[400], gname[64];
	unsigned suppressed = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	p->uid = uc.uid;
	p->gid = uc.gid;
	p->pid = uc.pid;
	peer_names(p);
	if (uc.uid == 0 || uc.uid == geteuid() || peer_in_group(fd, p, c->gid))
		return 0;
	group_name(c->gid, gname, sizeof(gname));
	snprintf(msg, sizeof(msg),
		 "permission denied: uid %u%s%s%s is not root, not the daemon's user and not in "
		 "group '%s'; add the user to the group (usermod -aG %s USER) and log in again",
		 (unsigned)uc.uid, p->user[0] ? " (" : "", p->user, p->user[0] ? ")" : "", gname,
		 gname);
	if (log_ratelimit_ok(&c->refused_rl, util_mono_ms(), 10000, &suppressed))
		log_warning("control socket: refused pid %d, uid %u%s%s%s: not in group '%s' (%u "
			    "more refused since the last line)",
			    (int)uc.pid, (unsigned)uc.uid, p->user[0] ? " (" : "", p->user,
			    p->user[0] ? ")" : "", gname, suppressed);
	refuse(fd, "forbidden", msg);
	return -EPERM;
}

/* The slot for a new connection: a free one, else the one idle longest
 * (connected, nothing asked, or its last answer sent), which is closed.
 * A client waiting for an answer (a scan) keeps its slot. -1: none. */
static int slot_for_new(control *c)
{
	int i, best = -1;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct client *cl = &c->clients[i];

		if (cl->fd < 0)
			return i;
		if (cl->pending == 0 &&
		    (best < 0 || cl->since_ms < c->clients[best].since_ms))
			best = i;
	}
	if (best >= 0) {
		log_info("control socket: %d clients; closing the one idle longest (pid %d) for a "
			 "new one", CONTROL_MAX_CLIENTS, (int)c->clients[best].peer.pid);
		client_drop(c, best);
	}
	return best;
}

/* Accepts one connection: 0 (taken, or refused), -EAGAIN when none waits. */
static int control_accept(control *c)
{
	struct control_peer peer = { 0 };
	unsigned suppressed = 0;
	int fd, i, r;

	fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == EINTR || errno == ECONNABORTED ? 0 : -EAGAIN;
	r = peer_check(c, fd, &peer);
	if (r < 0) {
		if (r != -EPERM) { /* refused ones are closed already */
			log_warning("control socket: cannot tell who connected (%s); closed",
				    strerror(-r));
			close(fd);
		}
		return 0;
	}
	i = slot_for_new(c);
	if (i < 0) {
		if (log_ratelimit_ok(&c->full_rl, util_mono_ms(), 10000, &suppressed))
			log_warning("control socket: all %d clients wait for answers, refusing one "
				    "(%u more since the last line)", CONTROL_MAX_CLIENTS, suppressed);
		refuse(fd, "busy", "every control connection waits for an answer; retry shortly");
		return 0;
	}
	c->clients[i].fd = fd;
	c->clients[i].gen = c->clients[i].gen >= GEN_MAX ? 1 : c->clients[i].gen + 1;
	c->clients[i].since_ms = util_mono_ms();
	c->clients[i].pending = 0;
	c->clients[i].peer = peer;
	return 0;
}

static void client_read(control *c, int slot, void (*cb)(void *ud, int client, json_t *req),
			void *ud)
{
	struct client *cl = &c->clients[slot];
	int id = handle_of(c, slot);
	char chunk[4096], *nl;
	ssize_t got;

	got = read(cl->fd, chunk, sizeof(chunk));
	if (got <= 0) {
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_drop(c, slot);
		return;
	}
	if (cl->len + (size_t)got > CONTROL_MAX_LINE) {
		control_error(c, id, "bad_request", "request longer than %d bytes", CONTROL_MAX_LINE);
		client_drop(c, slot);
		return;
	}
	{
		char *b = realloc(cl->buf, cl->len + (size_t)got + 1);

		if (!b) {
			client_drop(c, slot);
			return;
		}
		cl->buf = b;
	}
	memcpy(cl->buf + cl->len, chunk, (size_t)got);
	cl->len += (size_t)got;
	cl->buf[cl->len] = '\0';
	/* the callback may reply, and a failed reply drops the client: the
	 * handle check sees that, and a new connection in the slot too */
	while (client_of(c, id) && (nl = memchr(cl->buf, '\n', cl->len))) {
		size_t line_len = (size_t)(nl - cl->buf);
		json_error_t jerr;
		json_t *req;

		*nl = '\0';
		cl->pending++; /* until its answer with "done" */
		req = json_loadb(cl->buf, line_len, 0, &jerr);
		if (!req || !json_is_object(req))
			control_error(c, id, "bad_request", "not a JSON object: %s",
				      req ? "wrong type" : jerr.text);
		else
			cb(ud, id, req);
		json_decref(req);
		if (!client_of(c, id))
			return;
		memmove(cl->buf, nl + 1, cl->len - line_len - 1);
		cl->len -= line_len + 1;
	}
}

/* Closes the connections that sent no complete request for idle_ms: a
 * silent client, or one whose line never ends. One waiting for an answer
 * is not idle (a scan of a whole bus takes minutes). */
static void sweep_idle(control *c, uint64_t now)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct client *cl = &c->clients[i];

		if (cl->fd < 0 || cl->pending > 0 || now - cl->since_ms < c->idle_ms)
			continue;
		log_debug("control socket: closing pid %d, idle for %" PRIu64 " ms%s",
			  (int)cl->peer.pid, now - cl->since_ms,
			  cl->len ? " in the middle of a request" : "");
		client_drop(c, i);
	}
}

void control_set_idle_ms(control *c, uint64_t ms)
{
	c->idle_ms = ms;
}

int control_peer(control *c, int client, struct control_peer *ret)
{
	const struct client *cl = client_of(c, client);

	if (!cl)
		return -ENOTCONN;
	*ret = cl->peer;
	return 0;
}

void control_dispatch(control *c, const struct pollfd *fds, size_t n,
		      void (*cb)(void *ud, int client, json_t *req), void *ud)
{
	size_t i;
	int id;

	sweep_idle(c, util_mono_ms());

	for (i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == c->listen_fd) {
			int k;

			/* what the backlog holds, boundedly: a burst of
			 * connections does not fill it for the next comer */
			for (k = 0; k < 2 * CONTROL_MAX_CLIENTS; k++)
				if (control_accept(c) < 0)
					break;
			continue;
		}
		if (client_by_fd(c, fds[i].fd, &id))
			client_read(c, id, cb, ud);
	}
}

int control_reply(control *c, int client, json_t *resp, bool done)
{
	struct client *cl = client_of(c, client);
	char *s;
	size_t len, off = 0;

	if (!cl) {
		json_decref(resp);
		return -ENOTCONN;
	}
	if (done) {
		json_object_set_new(resp, "done", json_true());
		if (cl->pending > 0)
			cl->pending--;
		cl->since_ms = util_mono_ms();
	}
	s = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(resp);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\n'; /* json_dumps' terminator becomes the line end */
	while (off < len + 1) {
		ssize_t w = send(cl->fd, s + off, len + 1 - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			free(s);
			client_drop(c, client & SLOT_MASK);
			return -ENOTCONN;
		}
		off += (size_t)w;
	}
	free(s);
	return 0;
}

int control_error(control *c, int client, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", msg);
	return control_reply(c, client, o, true);
}

int control_call(const char *dir, json_t *req, int timeout_ms,
		 void (*cb)(void *ud, json_t *reply), void *ud)
{
	uint64_t deadline = util_mono_ms() + (uint64_t)timeout_ms;
	struct sockaddr_un sa;
	char *line, *buf = NULL;
	size_t len = 0;
	bool sent_all = true;
	int fd, r;

	r = socket_path(dir, &sa);
	if (r < 0)
		return r;
	/* non-blocking throughout: a daemon whose loop is stuck fills its
	 * listen backlog, and the CLI must still give up at the deadline */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
		if (util_mono_ms() >= deadline) {
			close(fd);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, 10); /* a Unix socket has no connect completion to wait on */
	}
	line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		close(fd);
		return -ENOMEM;
	}
	len = strlen(line);
	line[len] = '\n';
	{
		size_t off = 0;

		while (off < len + 1) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			uint64_t now = util_mono_ms();
			ssize_t w;

			if (now >= deadline) {
				free(line);
				close(fd);
				return -ETIMEDOUT;
			}
			if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
				continue;
			w = send(fd, line + off, len + 1 - off, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				/* a daemon that refused us closed at once: its
				 * reason may wait to be read */
				sent_all = false;
				break;
			}
			if (w > 0)
				off += (size_t)w;
		}
	}
	free(line);
	len = 0;
	r = sent_all ? -ETIMEDOUT : -EPIPE;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = util_mono_ms();
		char chunk[4096], *nl;
		ssize_t got;

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		got = read(fd, chunk, sizeof(chunk));
		if (got <= 0) {
			/* daemon closed before "done" */
			r = sent_all ? -EPROTO : -EPIPE;
			break;
		}
		{
			char *b = realloc(buf, len + (size_t)got + 1);

			if (!b) {
				r = -ENOMEM;
				break;
			}
			buf = b;
		}
		memcpy(buf + len, chunk, (size_t)got);
		len += (size_t)got;
		while ((nl = memchr(buf, '\n', len))) {
			size_t l = (size_t)(nl - buf);
			json_t *reply = json_loadb(buf, l, 0, NULL);
			bool done = false;

			if (reply) {
				done = json_is_true(json_object_get(reply, "done"));
				cb(ud, reply);
				json_decref(reply);
			}
			memmove(buf, nl + 1, len - l - 1);
			len -= l + 1;
			if (done) {
				r = 0;
				goto out;
			}
		}
	}
out:
	free(buf);
	close(fd);
	return r;
}
