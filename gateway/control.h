/* control.h - the daemon's local control socket (SPEC §7): a Unix stream
 * socket, mode 0660, in the runtime directory. One JSON object per line in
 * each direction; every request gets one or more reply lines, the last
 * with "done": true. Owned by the main loop; control_call() is the CLI
 * side. */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct control control;

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_LINE 65536

/* Creates dir (0750) if needed and listens on dir/control.sock. A socket
 * already there is first connected to: one that accepts (or whose backlog
 * is full) belongs to a running daemon and is left alone (-EADDRINUSE);
 * only a stale one, that refuses, is replaced. 0, -EADDRINUSE, -errno. */
int control_open(const char *dir, control **ret);
void control_free(control *c);
/* Fills fds (room for 1 + CONTROL_MAX_CLIENTS) and returns how many. */
size_t control_pollfds(control *c, struct pollfd *fds);
/* Handles readiness reported in fds (as filled by control_pollfds): accepts,
 * reads, and calls cb once per complete request line with the client's id
 * and the parsed object (borrowed). Malformed lines get an error reply. */
void control_dispatch(control *c, const struct pollfd *fds, size_t n,
		      void (*cb)(void *ud, int client, json_t *req), void *ud);
/* Sends one reply line to client (steals resp). done: adds "done": true and
 * the request is over. Returns -ENOTCONN if the client went away. */
int control_reply(control *c, int client, json_t *resp, bool done);
/* Replies {"ok": false, "error": {"code": code, "message": msg}, "done": true}. */
int control_error(control *c, int client, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* CLI: connects to dir/control.sock, sends req (borrowed), calls cb for each
 * reply line until one has "done": true; waits at most timeout_ms in all.
 * 0, -ENOENT/-ECONNREFUSED (no daemon), -ETIMEDOUT, -EPROTO. */
int control_call(const char *dir, json_t *req, int timeout_ms,
		 void (*cb)(void *ud, json_t *reply), void *ud);
