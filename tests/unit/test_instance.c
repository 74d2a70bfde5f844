/* test_instance.c - unit tests of gateway/instance.c, the one-daemon-per-
 * database lock. The other process is a forked child (this test runs no
 * threads, so fork is safe) or, for the SIGHUP re-exec, this binary
 * re-executed with --exec-child. Every wait is bounded; every child is
 * stopped and reaped by its pid. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "instance.h"
#include "log.h"
#include "util.h"

#define WAIT_MS 5000

struct tmp {
	char dir[64];
	char db[128];
	char lock[160];
};

static void tmp_make(struct tmp *t)
{
	strcpy(t->dir, "/tmp/test_instance.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof(t->db), "%s/firegw.db", t->dir);
	snprintf(t->lock, sizeof(t->lock), "%s%s", t->db, INSTANCE_LOCK_SUFFIX);
}

static void tmp_remove(struct tmp *t)
{
	unlink(t->lock);
	assert_int_equal(rmdir(t->dir), 0);
}

/* Reads exactly len bytes within WAIT_MS; false on EOF or timeout. */
static bool read_within(int fd, void *buf, size_t len)
{
	uint64_t deadline = util_mono_ms() + WAIT_MS;
	size_t off = 0;

	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = util_mono_ms();
		ssize_t got;

		if (now >= deadline)
			return false;
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		got = read(fd, (char *)buf + off, len - off);
		if (got <= 0)
			return false;
		off += (size_t)got;
	}
	return true;
}

static void child_stop(pid_t pid, int release_fd)
{
	close(release_fd); /* EOF: the child exits */
	for (int i = 0; i < WAIT_MS / 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		poll(NULL, 0, 10); /* no pidfd in glibc 2.36 headers: poll the exit */
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A child that takes the lock, reports instance_lock's result on report,
 * and holds it until release is closed. */
static pid_t child_holding(const char *db, int *ret_release)
{
	int rep[2], rel[2];
	pid_t pid;
	int r;

	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rel, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rep[0]);
		close(rel[1]);
		r = instance_lock(db, NULL);
		if (write(rep[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		while (read(rel[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(rep[1]);
	close(rel[0]);
	assert_true(read_within(rep[0], &r, sizeof(r)));
	close(rep[0]);
	assert_int_equal(r, 0);
	*ret_release = rel[1];
	return pid;
}

static void test_bad_path(void **state)
{
	char longp[PATH_MAX + 8];
	pid_t h = -1;

	(void)state;
	assert_int_equal(instance_lock("", &h), -EINVAL);
	assert_int_equal(instance_lock(NULL, &h), -EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(instance_lock(longp, &h), -ENAMETOOLONG);
	assert_int_equal(instance_lock("/proc/nonexistent/firegw.db", &h) < 0, 1);
	assert_int_equal(instance_keep_on_exec(), -ENOENT); /* nothing held */
	instance_unlock();                                  /* nothing held: no-op */
}

/* The issue-7 guard: a second daemon on the database learns who holds it. */
static void test_held_by_child_names_its_pid(void **state)
{
	struct tmp t;
	pid_t child, h = 0;
	int release;
	char text[32] = "";
	FILE *f;

	(void)state;
	tmp_make(&t);
	child = child_holding(t.db, &release);
	assert_int_equal(instance_lock(t.db, &h), -EBUSY);
	assert_int_equal(h, child);
	/* the lock is on the lock file, never on the database */
	assert_int_equal(access(t.db, F_OK), -1);
	f = fopen(t.lock, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_int_equal(strtol(text, NULL, 10), child);
	/* the refusal changed nothing: still the child's */
	assert_int_equal(instance_lock(t.db, &h), -EBUSY);
	assert_int_equal(h, child);

	/* once the holder is gone (a kill would do the same), the file left
	 * behind is no obstacle */
	child_stop(child, release);
	assert_int_equal(instance_lock(t.db, &h), 0);
	assert_int_equal(h, getpid());
	assert_int_equal(instance_lock(t.db, &h), 0); /* again: still ours */
	instance_unlock();
	instance_unlock();
	tmp_remove(&t);
}

static void test_creates_missing_directories(void **state)
{
	struct tmp t;
	char db[200], sub[160], lock[220];

	(void)state;
	tmp_make(&t);
	snprintf(sub, sizeof(sub), "%s/var", t.dir);
	snprintf(db, sizeof(db), "%s/firegw.db", sub);
	snprintf(lock, sizeof(lock), "%s%s", db, INSTANCE_LOCK_SUFFIX);
	assert_int_equal(instance_lock(db, NULL), 0);
	assert_int_equal(access(lock, F_OK), 0);
	instance_unlock();
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(rmdir(sub), 0);
	tmp_remove(&t);
}

/* Descriptors of this process open on path. */
static int fds_on(const char *path)
{
	char link[64], target[PATH_MAX];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t l;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		l = readlink(link, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = '\0';
		if (strcmp(target, path) == 0)
			n++;
	}
	return n;
}

/* The re-executed image (argv: --exec-child DB REPORT_FD RELEASE_FD):
 * takes the lock again, reports {result, descriptors on the lock file,
 * whether INSTANCE_FD_ENV is still set}, holds until released. */
static int exec_child(const char *db, const char *rep_s, const char *rel_s)
{
	char lock[PATH_MAX], c;
	long rep, rel;
	int out[3];

	if (util_parse_long(rep_s, 0, INT_MAX, &rep) < 0 || util_parse_long(rel_s, 0, INT_MAX, &rel) < 0)
		return 2;

	snprintf(lock, sizeof(lock), "%s%s", db, INSTANCE_LOCK_SUFFIX);
	out[0] = instance_lock(db, NULL);
	out[1] = fds_on(lock);
	out[2] = getenv(INSTANCE_FD_ENV) != NULL;
	if (write((int)rep, out, sizeof(out)) != (ssize_t)sizeof(out))
		return 1;
	while (read((int)rel, &c, 1) > 0)
		;
	return 0;
}

/* SIGHUP reload: the daemon re-executes itself; the new image must not
 * refuse on its own lock, and the lock never leaves the process. */
static void test_lock_kept_across_exec(void **state)
{
	struct tmp t;
	int rep[2], rel[2], go[2], out[3];
	pid_t pid, h = 0;

	(void)state;
	tmp_make(&t);
	assert_int_equal(pipe(rep), 0); /* inherited by the new image */
	assert_int_equal(pipe(rel), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char rep_s[16], rel_s[16], c;
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rep[0]);
		close(rel[1]);
		close(go[1]);
		r = instance_lock(t.db, NULL);
		if (r < 0 || write(rep[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		/* the parent checks who holds it, then lets us exec */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (instance_keep_on_exec() < 0)
			_exit(1);
		snprintf(rep_s, sizeof(rep_s), "%d", rep[1]);
		snprintf(rel_s, sizeof(rel_s), "%d", rel[0]);
		execl("/proc/self/exe", "test_instance", "--exec-child", t.db, rep_s, rel_s,
		      (char *)NULL);
		_exit(127);
	}
	close(rep[1]);
	close(rel[0]);
	close(go[0]);
	assert_true(read_within(rep[0], out, sizeof(int)));
	assert_int_equal(out[0], 0);
	assert_int_equal(instance_lock(t.db, &h), -EBUSY);
	assert_int_equal(h, pid);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);

	assert_true(read_within(rep[0], out, sizeof(out)));
	assert_int_equal(out[0], 0); /* the new image did not refuse itself */
	assert_int_equal(out[1], 1); /* it adopted the descriptor, no second one */
	assert_int_equal(out[2], 0); /* and cleared the hand-over variable */
	assert_int_equal(instance_lock(t.db, &h), -EBUSY);
	assert_int_equal(h, pid); /* held by the same process all along */
	close(rep[0]);
	child_stop(pid, rel[1]);
	tmp_remove(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_path),
		cmocka_unit_test(test_held_by_child_names_its_pid),
		cmocka_unit_test(test_creates_missing_directories),
		cmocka_unit_test(test_lock_kept_across_exec),
	};

	if (argc == 5 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child(argv[2], argv[3], argv[4]);
	log_init(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
