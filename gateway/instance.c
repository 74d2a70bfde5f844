/* instance.c - the single-instance guard of `firegw run` (SPEC §7: one
 * daemon per database). Owns one descriptor of "<storage.path>.lock" and
 * the POSIX write lock on it, for the life of the process (across the
 * SIGHUP re-exec too). Main thread only; the state is per process because
 * fcntl locks are.
 *
 * Why fcntl and not flock: F_GETLK names the holder's pid, which the
 * refusal message must show. The cost of fcntl locks: closing any
 * descriptor of the lock file in this process drops the lock, so this
 * module is the only code that ever opens that file. */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOCK_TRIES 3 /* the holder may let go between F_SETLK and F_GETLK */

static struct {
	int fd;
	char path[PATH_MAX];
} held = { .fd = -1 };

static int lock_path(const char *db_path, char *buf, size_t len)
{
	if (!db_path || !*db_path)
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "%s%s", db_path, INSTANCE_LOCK_SUFFIX) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* 0 locked, -EAGAIN held by another process, -errno */
static int try_lock(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	return errno == EACCES ? -EAGAIN : -errno;
}

static pid_t holder_of(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid;
}

static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX], *p;

	if (util_strlcpy(buf, path, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static void write_pid(int fd)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());

	/* for people reading the file; F_GETLK is what decides */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n)
		log_debug("cannot write the pid into '%s': %s", held.path, strerror(errno));
}

/* A descriptor handed over by our previous image (instance_keep_on_exec):
 * adopted when it is the lock file of path. One of another lock file (the
 * reload changed storage.path) is closed, which releases that database;
 * anything else is left alone: the variable may come from elsewhere. */
static int adopt_inherited(const char *path)
{
	const char *v = getenv(INSTANCE_FD_ENV);
	struct stat a, b;
	char link[64], target[PATH_MAX];
	ssize_t n;
	long fd;
	int r;

	if (!v)
		return -ENOENT;
	r = util_parse_long(v, 0, INT_MAX, &fd);
	unsetenv(INSTANCE_FD_ENV);
	if (r < 0 || fstat((int)fd, &a) < 0 || !S_ISREG(a.st_mode))
		return -ENOENT;
	if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		/* still ours (the pid did not change): succeeds at once */
		if (try_lock((int)fd) == 0)
			return (int)fd;
		close((int)fd);
		return -ENOENT;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		size_t sl = strlen(INSTANCE_LOCK_SUFFIX);

		target[n] = '\0';
		if ((size_t)n > sl && strcmp(target + n - (ssize_t)sl, INSTANCE_LOCK_SUFFIX) == 0)
			close((int)fd);
	}
	return -ENOENT;
}

int instance_lock(const char *db_path, pid_t *ret_holder)
{
	char path[PATH_MAX];
	pid_t holder = 0;
	int fd, r, i;

	r = lock_path(db_path, path, sizeof(path));
	if (r < 0)
		return r;
	if (held.fd >= 0) {
		if (strcmp(held.path, path) == 0)
			goto out_ours;
		instance_unlock(); /* another database than before */
	}
	fd = adopt_inherited(path);
	if (fd >= 0) {
		held.fd = fd;
		util_strlcpy(held.path, path, sizeof(held.path));
		goto out_ours;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0 && errno == ENOENT) {
		r = mkdir_parents(path);
		if (r < 0)
			return r;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	}
	if (fd < 0)
		return -errno;
	for (i = 0; i < LOCK_TRIES; i++) {
		r = try_lock(fd);
		if (r != -EAGAIN)
			break;
		holder = holder_of(fd);
		if (holder > 0)
			break;
	}
	if (r < 0) {
		close(fd);
		if (ret_holder)
			*ret_holder = holder;
		return r == -EAGAIN ? -EBUSY : r;
	}
	held.fd = fd;
	util_strlcpy(held.path, path, sizeof(held.path));
	write_pid(fd);
out_ours:
	if (ret_holder)
		*ret_holder = getpid();
	return 0;
}

void instance_unlock(void)
{
	if (held.fd < 0)
		return;
	/* emptied while still locked: a newcomer's pid is never erased */
	if (ftruncate(held.fd, 0) < 0)
		log_debug("cannot empty '%s': %s", held.path, strerror(errno));
	close(held.fd);
	held.fd = -1;
	held.path[0] = '\0';
}

int instance_keep_on_exec(void)
{
	char num[16];
	int flags;

	if (held.fd < 0)
		return -ENOENT;
	flags = fcntl(held.fd, F_GETFD);
	if (flags < 0 || fcntl(held.fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		return -errno;
	snprintf(num, sizeof(num), "%d", held.fd);
	if (setenv(INSTANCE_FD_ENV, num, 1) < 0)
		return -errno;
	return 0;
}
