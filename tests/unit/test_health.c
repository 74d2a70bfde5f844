/* test_health.c - unit tests of gateway/health.c's clock query under the
 * service's system call filter. firegw.service allows the read-only
 * adjtimex()/clock_adjtime(); should a filter deny it (ProtectClock=, or
 * ~@clock) with EPERM, as SystemCallErrorNumber=EPERM makes systemd do,
 * the clock must count as not synchronised (events say time_synced false),
 * never as synchronised. The filter here is a real seccomp filter with
 * SECCOMP_RET_ERRNO, installed in a child process. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "health.h"

/* Denies the clock queries with EPERM, allows everything else. */
static int deny_clock_queries(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_adjtimex, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_adjtime, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { .len = (unsigned short)(sizeof(f) / sizeof(f[0])), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

/* Without a filter: health_clock_synced() says what the kernel says. */
static void test_synced_matches_the_kernel(void **state)
{
	struct timex tx = { 0 };
	int r;

	(void)state;
	r = adjtimex(&tx);
	assert_true(r >= 0); /* modes 0: a read, allowed to anyone */
	assert_int_equal(health_clock_synced(), r != TIME_ERROR);
}

/* Under a filter that returns EPERM: not synchronised, no crash. The
 * child reports: 0 unsynced as it must, 1 said synced, 2 the filter did
 * not deny (the test would prove nothing), 3 no filter could be set. */
static void test_denied_query_is_unsynced(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timex tx = { 0 };

		if (deny_clock_queries() < 0)
			_exit(3);
		errno = 0;
		if (adjtimex(&tx) != -1 || errno != EPERM)
			_exit(2);
		_exit(health_clock_synced() ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_denied_query_is_unsynced),
		cmocka_unit_test(test_synced_matches_the_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
