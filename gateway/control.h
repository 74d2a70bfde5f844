/* control.h - the daemon's local control socket (SPEC §7): a Unix stream
 * socket, mode 0660, in the runtime directory, of the directory's group.
 * Only root, the daemon's user and members of that group are served
 * (SO_PEERCRED). One JSON object per line in each direction; every request
 * gets one or more reply lines, the last with "done": true. Owned by the
 * main loop; control_call() is the CLI side. */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

typedef struct control control;

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_LINE 65536
/* a connection without a complete request this long is closed */
#define CONTROL_IDLE_MS 30000

/* Who is at the other end of a connection, as the kernel told at connect
 * (SO_PEERCRED). user: the uid's name, "" when it has none. */
struct control_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char user[64];
};

/* Creates dir (0750) if needed and listens on dir/control.sock. A socket
 * already there is first connected to: one that accepts (or whose backlog
 * is full) belongs to a running daemon and is left alone (-EADDRINUSE);
 * only a stale one, that refuses, is replaced. 0, -EADDRINUSE, -errno. */
int control_open(const char *dir, control **ret);
void control_free(control *c);
/* Tests: another idle bound than CONTROL_IDLE_MS. */
void control_set_idle_ms(control *c, uint64_t ms);
/* The peer of client while its connection lasts: 0, or -ENOTCONN. */
int control_peer(control *c, int client, struct control_peer *ret);
/* Client handles: control_dispatch() names each connection by a handle
 * (an int >= 0, generation << 8 | slot) that is never valid again once the
 * connection is over, even when the next connection takes its slot. The
 * gone callback is called once per connection that ends (the client
 * closed, sent too much, or a reply could not be sent), from inside
 * control_dispatch(), control_reply() or control_error(), after the
 * handle stopped being valid; not by control_free(). NULL: none. */
void control_set_gone(control *c, void (*gone)(void *ud, int client), void *ud);
/* Fills fds (room for 1 + CONTROL_MAX_CLIENTS) and returns how many. */
size_t control_pollfds(control *c, struct pollfd *fds);
/* Handles readiness reported in fds (as filled by control_pollfds): accepts,
 * reads, and calls cb once per complete request line with the client's
 * handle and the parsed object (borrowed). Malformed lines get an error reply.
 * Closes idle connections: call it at least every second or so, with
 * revents all 0 when nothing happened. A new connection when every slot is
 * taken closes the longest idle one; refused and surplus connections get
 * one error line ("forbidden", "busy") and are closed. */
void control_dispatch(control *c, const struct pollfd *fds, size_t n,
		      void (*cb)(void *ud, int client, json_t *req), void *ud);
/* Sends one reply line to client (steals resp). done: adds "done": true and
 * the request is over. Returns -ENOTCONN, and sends nothing, if that
 * client went away (its handle is stale, whoever has its slot now). */
int control_reply(control *c, int client, json_t *resp, bool done);
/* Replies {"ok": false, "error": {"code": code, "message": msg}, "done": true}. */
int control_error(control *c, int client, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* CLI: connects to dir/control.sock, sends req (borrowed), calls cb for each
 * reply line until one has "done": true; waits at most timeout_ms in all.
 * 0, -ENOENT/-ECONNREFUSED (no daemon), -ETIMEDOUT, -EPROTO. */
int control_call(const char *dir, json_t *req, int timeout_ms,
		 void (*cb)(void *ud, json_t *reply), void *ud);
