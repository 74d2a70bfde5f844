/* request.h - one request layer for both channels (SPEC §3 requests on
 * <p>/<site>/request, SPEC §7 commands through the control socket): one
 * table of operations, one argument format per operation, one parser of
 * DEVICE[.POINT] targets. Queries change nothing; operations that change
 * state are refused over MQTT unless the configuration allows them
 * (remote.allow_*). Probe and scan run on the bus's own thread and answer
 * line by line as their results come (control socket only). Main loop only. */
#pragma once
#include <stdbool.h>

#include <jansson.h>

#include "control.h"
#include "inspector.h"
#include "journal.h"
#include "modes.h"
#include "poller.h"
#include "publish.h"
#include "site.h"
#include "store.h"
#include "uplink.h"

typedef struct request request;

struct request_deps {
	const struct config *cfg;
	struct site *site;
	store *st;
	journal *j;
	modes *m;
	uplink *u;
	poller *const *pollers; /* cfg->n_buses */
	inspector *insp;        /* compliance and report answers; NULL: none */
	/* the status object as of now (new reference) */
	json_t *(*status)(void *ud, const char *state, const char *reason);
	void *ud;
};

int request_new(const struct request_deps *d, request **ret);
void request_free(request *rq);
void request_set_store(request *rq, store *st);
/* Who answers compliance and report requests (NULL: nobody yet). */
void request_set_inspector(request *rq, inspector *in);
/* The control socket answers go to (NULL: none). */
void request_set_control(request *rq, control *ctl);

/* Runs one request and returns its answer without the channel's framing
 * (no "id", no "done"): {"ok": true, ...} or request_error()'s object; NULL
 * when the answer comes later, line by line (probe, scan: control client
 * `client`). remote: it came over MQTT (remote.allow_* apply, socket-only
 * operations are unknown). The seam the unit tests use. New reference. */
json_t *request_call(request *rq, bool remote, int client, json_t *req);
/* Every second (main loop): the counts of refused requests and answers
 * not logged one by one, once their interval is over. */
void request_tick(request *rq, uint64_t now_ms);
/* A message on <p>/<site>/request. */
void request_mqtt(request *rq, const struct publish_note *n);
/* A request line from control client (control_dispatch's callback). */
void request_control(request *rq, int client, json_t *req);
/* The control client went away: its jobs end (poller_cancel). */
void request_client_gone(request *rq, int client);
/* A result of a probe or scan job (poll_result kinds other than READ). */
void request_job_result(request *rq, const struct poll_result *res);

/* An answer the inspector built for an MQTT request (INSP_ANSWER): sent
 * like every answer, its id first. */
void request_inspector_answer(request *rq, const struct insp_result *r);

/* {"ok": false, "error": {"code": code, "message": ...}}; new reference. */
json_t *request_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
