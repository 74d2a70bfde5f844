/* inspector.h - the inspectors' side of the daemon, off the main loop
 * (issue 9): a thread of its own with its own read-only database
 * connection evaluates the compliance status every minute (and soon after
 * a kick), and builds the answers to the `compliance` and `report`
 * requests, so that no evaluation or report ever delays a poll or an
 * alarm. Results come back through a queue whose fd the main loop polls;
 * the main loop publishes them and keeps the history (it owns the
 * read-write database and the uplink). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"

typedef struct inspector inspector;

enum insp_kind {
	INSP_INVALID = -1,
	INSP_STATUS, /* a compliance evaluation of now */
	INSP_ANSWER, /* the answer to a request */
	INSP_MAX
};

struct insp_result {
	enum insp_kind kind;
	char *json;           /* STATUS: the firegw.compliance.v1 message; ANSWER: the
				 answer object without its id. malloc'd */
	size_t len;
	char overall[24];     /* STATUS */
	bool time_synced;     /* STATUS */
	int64_t ts_ms;        /* STATUS: when evaluated */
	char *id;             /* ANSWER: request id, response topic (NULL: the default),
				 correlation data; malloc'd */
	char *response_topic;
	void *correlation;
	size_t correlation_len;
};

/* c must outlive the inspector. 0, -errno. */
int inspector_start(const struct config *c, inspector **ret);
/* Stops and joins the thread (a report being built is finished first).
 * Accepts NULL. */
void inspector_stop(inspector *in);
/* Readable while results wait. */
int inspector_fd(const inspector *in);
/* Pops the next result; false when none. Free it with insp_result_clear. */
bool inspector_next(inspector *in, struct insp_result *ret);
void insp_result_clear(struct insp_result *r);

/* Queues a compliance or report request (op "compliance" | "report", req
 * its arguments, borrowed: copied). The answer comes as an INSP_ANSWER.
 * -EAGAIN when requests wait already (the center asks again), -ENOMEM. */
int inspector_request(inspector *in, const char *op, json_t *req, const char *id,
		      const char *response_topic, const void *correlation, size_t correlation_len);
/* Something that counts for compliance happened (a record, a test, a
 * fault): evaluate soon. */
void inspector_kick(inspector *in);
