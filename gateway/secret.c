/* secret.c - secrets kept in files (the broker password, a key's pass
 * phrase): read the way the daemon and `firegw check` both read them, with
 * the same refusals, so that check passes only what the connect will take.
 * No state, no threads; the caller owns the buffer and wipes it. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int secret_read(const char *path, char *buf, size_t size, char *why, size_t why_size)
{
	bool more_was_line_end = false;
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, r;

	if (!path || !buf || size < 2 || !why || !why_size)
		return -EINVAL;
	buf[0] = '\0';
	/* O_NONBLOCK: a FIFO in its place must not hang the check */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		snprintf(why, why_size, "cannot open it: %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, why_size, "cannot stat it: %s", strerror(-r));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(why, why_size, "is not a regular file; write the secret into a file");
		goto out_close;
	}
	/* others may not read or write it, the group (the operators of
	 * group firegw) may only read it */
	if (st.st_mode & 027) {
		char esc[1024];

		r = -EPERM;
		util_escape(path, strlen(path), esc, sizeof(esc));
		snprintf(why, why_size,
			 "is readable or writable by others, or writable by its group (mode %04o); "
			 "run: chmod 0640 %s; "
			 "chown root:firegw %s",
			 (unsigned)(st.st_mode & 07777), esc, esc);
		goto out_close;
	}
	if (st.st_size == 0) {
		r = -ENODATA;
		snprintf(why, why_size, "is empty; write the secret on its one line");
		goto out_close;
	}
	if (st.st_size > (off_t)(size - 1) + 2) {
		r = -EFBIG;
		snprintf(why, why_size, "holds more than %zu bytes; it holds one line, the secret",
			 size - 1);
		goto out_close;
	}
	n = read(fd, buf, size - 1);
	if (n < 0) {
		r = -errno;
		snprintf(why, why_size, "cannot read it: %s", strerror(-r));
		goto out_wipe;
	}
	len = (size_t)n;
	buf[len] = '\0';
	if (len == size - 1) {
		/* the buffer is full: only a line end may follow */
		char more[3];
		ssize_t m = read(fd, more, sizeof(more));

		if (m > 0 && !((m == 1 && more[0] == '\n') ||
			       (m == 2 && more[0] == '\r' && more[1] == '\n'))) {
			r = -EFBIG;
			snprintf(why, why_size, "holds more than %zu bytes; it holds one line, the "
						"secret",
				 size - 1);
			goto out_wipe;
		}
		if (m > 0)
			more_was_line_end = true;
	}
	/* one trailing line end (as `echo` writes it), no more */
	if (!more_was_line_end && len && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		if (len && buf[len - 1] == '\r')
			buf[--len] = '\0';
	}
	if (len == 0) {
		r = -ENODATA;
		snprintf(why, why_size, "is empty; write the secret on its one line");
		goto out_wipe;
	}
	if (strlen(buf) != len) {
		r = -EINVAL;
		snprintf(why, why_size, "holds a NUL byte; write the secret as text");
		goto out_wipe;
	}
	close(fd);
	return 0;

out_wipe:
	explicit_bzero(buf, size);
out_close:
	close(fd);
	return r;
}

void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}
