/* queue.h - bounded multi-producer / single-consumer queue of fixed-size
 * items, with an eventfd that is readable while items wait. The hand-off
 * between poller threads, paho callbacks and the main loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct queue queue;

/* capacity items of item_size bytes each. 0 or -ENOMEM / -errno. */
int queue_new(size_t capacity, size_t item_size, queue **ret);
void queue_free(queue *q);
/* Copies item in. -EAGAIN when full (never blocks). */
int queue_push(queue *q, const void *item);
/* Like queue_push but waits up to timeout_ms for room; -ETIMEDOUT, or
 * -ECANCELED once queue_close() was called. */
int queue_push_wait(queue *q, const void *item, int timeout_ms);
/* Like queue_push_wait, but leaves the eventfd alone: a producer pushing a
 * burst signals once, with queue_signal(), when the burst is over. */
int queue_push_wait_quiet(queue *q, const void *item, int timeout_ms);
/* Makes the eventfd readable if items wait (after quiet pushes). */
void queue_signal(queue *q);
/* Copies the oldest item out. Returns true if one was taken. */
bool queue_pop(queue *q, void *ret_item);
/* Readable while the queue is not empty; the consumer polls it, then
 * calls queue_pop until it returns false. */
int queue_fd(const queue *q);
size_t queue_len(queue *q);
/* Wakes every waiting producer with -ECANCELED. */
void queue_close(queue *q);
