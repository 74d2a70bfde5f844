/* test_queue.c - unit tests of gateway/queue.c: the bounded MPSC hand-off
 * with its eventfd. Error paths first (bad sizes, full, timeout, close),
 * then FIFO order, the eventfd contract and a multi-producer stress run.
 * Every wait is bounded: threads are joined with a deadline, and a thread
 * is known to be blocked by its state in /proc, not by a fixed sleep. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue.h"
#include "util.h"

struct item {
	uint32_t producer;
	uint32_t n;
};

static bool fd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, 0);

	assert_true(r >= 0);
	return r == 1 && (p.revents & POLLIN);
}

/* Joins t within timeout_ms, else fails the test (the thread is then left
 * behind blocked; the process exits at the end of the run). */
static void join_within(pthread_t t, int timeout_ms, void **ret)
{
	struct timespec dl;
	int r;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	r = pthread_timedjoin_np(t, ret, &dl);
	if (r != 0)
		fail_msg("thread not finished within %d ms (%s)", timeout_ms, strerror(r));
}

/* Waits (bounded) until thread tid is asleep in the kernel, i.e. blocked
 * in pthread_cond_timedwait: state 'S' in /proc/self/task/<tid>/stat. */
static void wait_thread_sleeping(pid_t tid)
{
	uint64_t deadline = util_mono_ms() + 3000;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	while (util_mono_ms() < deadline) {
		char buf[512], *p;
		FILE *f = fopen(path, "r");
		size_t n;

		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')'); /* "tid (comm) S ..." */
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		sched_yield();
	}
	fail_msg("thread %d never blocked", (int)tid);
}

struct waiter {
	queue *q;
	int timeout_ms;
	struct item it;
	_Atomic pid_t tid;
	int ret;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->tid, gettid());
	w->ret = queue_push_wait(w->q, &w->it, w->timeout_ms);
	return NULL;
}

static pid_t waiter_tid(struct waiter *w)
{
	uint64_t deadline = util_mono_ms() + 3000;
	pid_t t;

	while ((t = atomic_load(&w->tid)) == 0 && util_mono_ms() < deadline)
		sched_yield();
	assert_true(t != 0);
	return t;
}

static queue *new_full_queue(size_t cap)
{
	queue *q = NULL;
	size_t i;

	assert_int_equal(queue_new(cap, sizeof(struct item), &q), 0);
	for (i = 0; i < cap; i++) {
		struct item it = {0, (uint32_t)i};

		assert_int_equal(queue_push(q, &it), 0);
	}
	return q;
}

/* ---- error paths ---- */

static void test_new_refuses_zero_sizes(void **state)
{
	queue *q = (queue *)(uintptr_t)1;

	(void)state;
	assert_int_equal(queue_new(0, sizeof(struct item), &q), -EINVAL);
	assert_int_equal(queue_new(4, 0, &q), -EINVAL);
	assert_ptr_equal(q, (queue *)(uintptr_t)1); /* untouched on failure */
	queue_free(NULL);			    /* accepts NULL */
}

static void test_full_returns_eagain(void **state)
{
	struct item it = {9, 99}, out;
	queue *q = new_full_queue(3);

	(void)state;
	assert_int_equal(queue_len(q), 3);
	assert_int_equal(queue_push(q, &it), -EAGAIN);
	assert_int_equal(queue_push(q, &it), -EAGAIN);
	assert_int_equal(queue_len(q), 3);
	/* room again after one pop, and the refused item did not sneak in */
	assert_true(queue_pop(q, &out));
	assert_int_equal(out.n, 0);
	assert_int_equal(queue_push(q, &it), 0);
	assert_int_equal(queue_push(q, &it), -EAGAIN);
	assert_true(queue_pop(q, &out));
	assert_int_equal(out.n, 1);
	assert_true(queue_pop(q, &out));
	assert_int_equal(out.n, 2);
	assert_true(queue_pop(q, &out));
	assert_int_equal(out.n, 99);
	assert_false(queue_pop(q, &out));
	queue_free(q);
}

static void test_pop_empty(void **state)
{
	struct item out = {7, 7};
	queue *q = NULL;

	(void)state;
	assert_int_equal(queue_new(2, sizeof(struct item), &q), 0);
	assert_int_equal(queue_len(q), 0);
	assert_false(queue_pop(q, &out));
	assert_int_equal(out.producer, 7); /* untouched */
	assert_int_equal(out.n, 7);
	assert_false(fd_readable(queue_fd(q)));
	queue_free(q);
}

static void test_push_wait_times_out(void **state)
{
	struct item it = {1, 1};
	queue *q = new_full_queue(2);
	uint64_t t0;

	(void)state;
	assert_int_equal(queue_push_wait(q, &it, 0), -ETIMEDOUT);
	t0 = util_mono_ms();
	assert_int_equal(queue_push_wait(q, &it, 50), -ETIMEDOUT);
	/* a lower bound only: it must have waited, not given up at once
	 * (the deadline is on CLOCK_MONOTONIC; -1 for ms truncation) */
	assert_true(util_mono_ms() - t0 >= 49);
	assert_int_equal(queue_len(q), 2);
	queue_free(q);
}

static void test_close_wakes_blocked_producer(void **state)
{
	struct waiter w = {.timeout_ms = 20000, .it = {5, 5}};
	struct item out;
	pthread_t t;

	(void)state;
	w.q = new_full_queue(2);
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_thread_sleeping(waiter_tid(&w));
	queue_close(w.q);
	/* far sooner than its 20 s timeout */
	join_within(t, 3000, NULL);
	assert_int_equal(w.ret, -ECANCELED);

	/* once closed: no more pushes, but what was queued can be drained */
	assert_int_equal(queue_push_wait(w.q, &w.it, 0), -ECANCELED);
	assert_int_not_equal(queue_push(w.q, &w.it), 0);
	assert_true(queue_pop(w.q, &out));
	assert_int_equal(out.n, 0);
	assert_true(queue_push_wait(w.q, &w.it, 10) == -ECANCELED);
	assert_true(queue_pop(w.q, &out));
	assert_int_equal(out.n, 1);
	assert_false(queue_pop(w.q, &out));
	queue_free(w.q);
}

static void test_close_wakes_every_producer(void **state)
{
	struct waiter w[3];
	pthread_t t[3];
	queue *q = new_full_queue(1);
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		w[i] = (struct waiter){.q = q, .timeout_ms = 20000, .it = {(uint32_t)i, 0}};
		assert_int_equal(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
	}
	for (i = 0; i < 3; i++)
		wait_thread_sleeping(waiter_tid(&w[i]));
	queue_close(q);
	for (i = 0; i < 3; i++) {
		join_within(t[i], 3000, NULL);
		assert_int_equal(w[i].ret, -ECANCELED);
	}
	assert_int_equal(queue_len(q), 1);
	queue_free(q);
}

/* ---- normal operation ---- */

static void test_push_wait_gets_room(void **state)
{
	struct waiter w = {.timeout_ms = 20000, .it = {3, 1000}};
	struct item out;
	pthread_t t;

	(void)state;
	w.q = new_full_queue(2);
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_thread_sleeping(waiter_tid(&w));
	assert_true(queue_pop(w.q, &out));
	assert_int_equal(out.n, 0);
	join_within(t, 3000, NULL);
	assert_int_equal(w.ret, 0);
	assert_true(queue_pop(w.q, &out));
	assert_int_equal(out.n, 1);
	assert_true(queue_pop(w.q, &out));
	assert_int_equal(out.producer, 3);
	assert_int_equal(out.n, 1000);
	queue_free(w.q);
}

static void test_fifo_order_across_wrap(void **state)
{
	queue *q = NULL;
	uint32_t next_in = 0, next_out = 0;
	int round;

	(void)state;
	assert_int_equal(queue_new(5, sizeof(struct item), &q), 0);
	/* uneven push/pop batches walk the ring's head around many times */
	for (round = 0; round < 200; round++) {
		int push = 1 + round % 5, pop = 1 + (round * 7) % 5, i;

		for (i = 0; i < push; i++) {
			struct item it = {0, next_in};
			int r = queue_push(q, &it);

			if (r == -EAGAIN)
				break;
			assert_int_equal(r, 0);
			next_in++;
		}
		for (i = 0; i < pop; i++) {
			struct item out;

			if (!queue_pop(q, &out))
				break;
			assert_int_equal(out.n, next_out);
			next_out++;
		}
		assert_int_equal(queue_len(q), next_in - next_out);
	}
	assert_true(next_out > 300);
	queue_free(q);
}

static void test_eventfd_readable_iff_not_empty(void **state)
{
	struct item it = {0, 0}, out;
	queue *q = NULL;
	int fd, i;

	(void)state;
	assert_int_equal(queue_new(4, sizeof(struct item), &q), 0);
	fd = queue_fd(q);
	assert_true(fd >= 0);
	assert_false(fd_readable(fd));
	for (i = 0; i < 3; i++) {
		assert_int_equal(queue_push(q, &it), 0);
		assert_true(fd_readable(fd));
	}
	assert_true(queue_pop(q, &out));
	assert_true(fd_readable(fd)); /* two still wait */
	assert_true(queue_pop(q, &out));
	assert_true(fd_readable(fd));
	assert_true(queue_pop(q, &out));
	assert_false(fd_readable(fd)); /* drained: not readable any more */
	assert_false(queue_pop(q, &out));
	assert_false(fd_readable(fd));
	/* and it comes back with the next item, several cycles over */
	for (i = 0; i < 10; i++) {
		assert_int_equal(queue_push(q, &it), 0);
		assert_true(fd_readable(fd));
		assert_true(queue_pop(q, &out));
		assert_false(fd_readable(fd));
	}
	/* a full queue stays readable */
	for (i = 0; i < 4; i++)
		assert_int_equal(queue_push(q, &it), 0);
	assert_int_equal(queue_push(q, &it), -EAGAIN);
	assert_true(fd_readable(fd));
	queue_free(q);
}

/* ---- multi-producer stress ---- */

#define STRESS_PRODUCERS 4
#define STRESS_ITEMS 20000 /* per producer */

struct producer {
	queue *q;
	uint32_t id;
	int ret;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint32_t i;

	for (i = 0; i < STRESS_ITEMS; i++) {
		struct item it = {p->id, i};
		int r;

		/* even items try the non-blocking push first; a stuck consumer
		 * ends the producer with -ETIMEDOUT instead of hanging it */
		r = (i & 1) ? -EAGAIN : queue_push(p->q, &it);
		if (r == -EAGAIN)
			r = queue_push_wait(p->q, &it, 5000);
		if (r < 0) {
			p->ret = r;
			return NULL;
		}
	}
	p->ret = 0;
	return NULL;
}

static void test_multi_producer_stress(void **state)
{
	struct producer prod[STRESS_PRODUCERS];
	pthread_t t[STRESS_PRODUCERS];
	uint32_t next[STRESS_PRODUCERS] = {0};
	size_t got = 0, total = (size_t)STRESS_PRODUCERS * STRESS_ITEMS;
	uint64_t deadline;
	queue *q = NULL;
	int i;

	(void)state;
	assert_int_equal(queue_new(64, sizeof(struct item), &q), 0);
	for (i = 0; i < STRESS_PRODUCERS; i++) {
		prod[i] = (struct producer){.q = q, .id = (uint32_t)i, .ret = 1};
		assert_int_equal(pthread_create(&t[i], NULL, producer_main, &prod[i]), 0);
	}
	deadline = util_mono_ms() + 10000;
	while (got < total) {
		struct pollfd p = {.fd = queue_fd(q), .events = POLLIN};
		struct item out;
		int r;

		if (util_mono_ms() > deadline)
			fail_msg("stress: only %zu of %zu items within the deadline", got, total);
		/* the consumer sleeps on the eventfd only: a lost wake-up
		 * shows as a poll timeout here */
		r = poll(&p, 1, 3000);
		if (r == 0)
			fail_msg("stress: eventfd not readable for 3 s with %zu of %zu items "
				 "received, %zu queued",
				 got, total, queue_len(q));
		assert_int_equal(r, 1);
		while (queue_pop(q, &out)) {
			assert_true(out.producer < STRESS_PRODUCERS);
			/* each producer's items arrive once, in its order */
			if (out.n != next[out.producer])
				fail_msg("producer %u: got item %u, expected %u", out.producer,
					 out.n, next[out.producer]);
			next[out.producer]++;
			got++;
		}
	}
	for (i = 0; i < STRESS_PRODUCERS; i++) {
		join_within(t[i], 3000, NULL);
		assert_int_equal(prod[i].ret, 0);
		assert_int_equal(next[i], STRESS_ITEMS);
	}
	assert_int_equal(queue_len(q), 0);
	assert_false(fd_readable(queue_fd(q)));
	queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_refuses_zero_sizes),
	    cmocka_unit_test(test_full_returns_eagain),
	    cmocka_unit_test(test_pop_empty),
	    cmocka_unit_test(test_push_wait_times_out),
	    cmocka_unit_test(test_close_wakes_blocked_producer),
	    cmocka_unit_test(test_close_wakes_every_producer),
	    cmocka_unit_test(test_push_wait_gets_room),
	    cmocka_unit_test(test_fifo_order_across_wrap),
	    cmocka_unit_test(test_eventfd_readable_iff_not_empty),
	    cmocka_unit_test(test_multi_producer_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
