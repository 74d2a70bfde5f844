/* queue.c - bounded MPSC queue with an eventfd. Producers are poller
 * threads and paho callback threads; the one consumer is the main loop.
 * A mutex guards the ring: hand-offs are rare enough (hundreds per second)
 * that a lock-free ring would buy nothing measurable. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t room;
	size_t capacity, item_size, head, len;
	bool closed;
	int efd;
	unsigned char *items;
};

int queue_new(size_t capacity, size_t item_size, queue **ret)
{
	pthread_condattr_t ca;
	queue *q;

	if (capacity == 0 || item_size == 0)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->items = calloc(capacity, item_size);
	if (!q->items)
		goto out_free;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		goto out_free_items;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->room, &ca);
	pthread_condattr_destroy(&ca);
	q->capacity = capacity;
	q->item_size = item_size;
	*ret = q;
	return 0;

out_free_items:
	free(q->items);
out_free:
	free(q);
	return -ENOMEM;
}

void queue_free(queue *q)
{
	if (!q)
		return;
	close(q->efd);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->lock);
	free(q->items);
	free(q);
}

static void signal_locked(queue *q)
{
	uint64_t one = 1;

	if (write(q->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN only if the counter is saturated: still readable */
	}
}

static void queue_put_locked(queue *q, const void *item, bool quiet)
{
	size_t tail = (q->head + q->len) % q->capacity;

	memcpy(q->items + tail * q->item_size, item, q->item_size);
	q->len++;
	/* a full queue always wakes the consumer, quiet or not */
	if ((q->len == 1 && !quiet) || q->len == q->capacity)
		signal_locked(q);
}

void queue_signal(queue *q)
{
	pthread_mutex_lock(&q->lock);
	if (q->len > 0)
		signal_locked(q);
	pthread_mutex_unlock(&q->lock);
}

int queue_push(queue *q, const void *item)
{
	int r = 0;

	pthread_mutex_lock(&q->lock);
	if (q->closed)
		r = -ECANCELED;
	else if (q->len == q->capacity)
		r = -EAGAIN;
	else
		queue_put_locked(q, item, false);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int push_wait(queue *q, const void *item, int timeout_ms, bool quiet)
{
	struct timespec dl;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->lock);
	while (!q->closed && q->len == q->capacity && r == 0)
		r = -pthread_cond_timedwait(&q->room, &q->lock, &dl);
	if (q->closed)
		r = -ECANCELED;
	else if (q->len < q->capacity) {
		queue_put_locked(q, item, quiet);
		r = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int queue_push_wait(queue *q, const void *item, int timeout_ms)
{
	return push_wait(q, item, timeout_ms, false);
}

int queue_push_wait_quiet(queue *q, const void *item, int timeout_ms)
{
	return push_wait(q, item, timeout_ms, true);
}

bool queue_pop(queue *q, void *ret_item)
{
	bool got = false;
	uint64_t v;

	pthread_mutex_lock(&q->lock);
	if (q->len > 0) {
		memcpy(ret_item, q->items + q->head * q->item_size, q->item_size);
		q->head = (q->head + 1) % q->capacity;
		q->len--;
		got = true;
		pthread_cond_signal(&q->room);
	}
	if (q->len == 0 && read(q->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

int queue_fd(const queue *q)
{
	return q->efd;
}

size_t queue_len(queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void queue_close(queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
}
