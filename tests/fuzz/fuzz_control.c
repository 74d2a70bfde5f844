/* fuzz_control.c - libFuzzer target for the control socket's reader
 * (control.c, framing: lines of JSON objects, CONTROL_MAX_LINE) and the
 * request layer behind it: the input is written by a real client to a real
 * control socket in a temporary directory, in pieces of at most 256 bytes
 * with the replies read in between (a client that never reads is another
 * matter: the daemon's), then the client closes. Every line gets an answer
 * or the connection ends; never a crash or a leak. probe and scan are
 * answered by the target itself (no bus here). Seeds:
 * tests/fuzz/corpus/control. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIECE 256

static control *ctl;
static struct sockaddr_un sa;

static void on_request(void *ud, int client, json_t *req)
{
	struct fuzz_fx *f = ud;
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *resp;

	if (op && (!strcmp(op, "probe") || !strcmp(op, "scan")))
		resp = json_pack("{s:b}", "ok", 0);
	else
		resp = request_call(f->rq, false, client, req);
	if (resp)
		control_reply(ctl, client, resp, true);
}

/* One round of the daemon's loop: what is ready, without waiting. */
static size_t pump(struct fuzz_fx *f)
{
	struct pollfd fds[1 + CONTROL_MAX_CLIENTS];
	size_t n = control_pollfds(ctl, fds);

	if (poll(fds, n, 0) > 0)
		control_dispatch(ctl, fds, n, on_request, f);
	return n;
}

static void drain(int fd)
{
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fx *f = fuzz_fx_get();
	size_t off = 0, i;
	int fd;

	if (!ctl) {
		if (control_open(f->dir, &ctl) < 0)
			abort();
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", f->dir, CONTROL_SOCKET_NAME);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return 0;
	}
	pump(f); /* accept */
	while (off < size) {
		size_t len = size - off < PIECE ? size - off : PIECE;
		ssize_t w = send(fd, data + off, len, MSG_NOSIGNAL);

		if (w <= 0)
			break; /* the daemon dropped us (a line too long) */
		off += (size_t)w;
		pump(f);
		drain(fd);
	}
	shutdown(fd, SHUT_WR);
	/* bounded: until the daemon saw the close (only its listener left) */
	for (i = 0; i < 64 && pump(f) > 1; i++)
		drain(fd);
	close(fd);
	if (i == 64)
		__builtin_trap(); /* a closed client never dropped */
	return 0;
}
