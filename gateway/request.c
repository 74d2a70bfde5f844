/* request.c - the request layer (request.h): one table of operations for
 * the MQTT request topic and the control socket. Each operation parses its
 * own arguments (the same fields whichever channel they came from) and
 * returns its answer; the channel adds what it needs (the request id and
 * topic for MQTT, "done" for the socket). Owns the table of probe and scan
 * jobs with the control client that waits for each. Main loop only. */
#include "request.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compliance.h"
#include "event.h"
#include "log.h"
#include "payload.h"
#include "util.h"

#define JOBS_MAX 8

enum { CH_MQTT = 1, CH_CONTROL = 2 };

struct job_client {
	uint64_t tag;
	int client; /* control handle (control.h): stale once the client is gone */
	int bus;
	bool active;
};

struct request {
	struct request_deps d;
	control *ctl;
	struct job_client jobs[JOBS_MAX];
	uint64_t next_job_tag;
	struct log_ratelimit bad_rl, bad_response_rl, answer_rl;
};

/* One call of an operation. */
struct call {
	int channel;
	int client;                     /* control handle, -1 over MQTT */
	const struct publish_note *note; /* MQTT: the request message, else NULL */
	const char *id;                 /* MQTT: the request id */
};

json_t *request_error(const char *code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", msg);
}

/* ------------------------------------------------------------ queries */

static json_t *op_status(request *rq, json_t *args, const struct call *c)
{
	(void)args;
	(void)c;
	return json_pack("{s:b, s:o}", "ok", 1, "status", rq->d.status(rq->d.ud, "online", NULL));
}

static json_t *op_ping(request *rq, json_t *args, const struct call *c)
{
	(void)args;
	(void)c;
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "epoch", store_epoch(rq->d.st), "last_seq",
			 (json_int_t)journal_last_seq(rq->d.j));
}

struct history_acc {
	json_t *arr;
	size_t n, limit;
	uint64_t last_seq;
	bool more;
};

static int history_cb(void *ud, const struct store_event_row *row)
{
	struct history_acc *h = ud;
	json_t *ev;

	if (h->n == h->limit) {
		h->more = true;
		return 1;
	}
	ev = json_loadb(row->payload, row->payload_len, 0, NULL);
	if (ev)
		json_array_append_new(h->arr, ev);
	h->n++;
	h->last_seq = row->seq;
	return 0;
}

static bool class_known(const char *name)
{
	int k;

	for (k = 0; k < EVCLASS_MAX; k++)
		if (strcmp(event_class_name((enum event_class)k), name) == 0)
			return true;
	return false;
}

static json_t *op_history(request *rq, json_t *req, const struct call *c)
{
	struct store_query q = { 0 };
	struct history_acc h = { 0 };
	const char *classes[EVCLASS_MAX];
	json_t *from = json_object_get(req, "from"), *to = json_object_get(req, "to");
	json_t *cls = json_object_get(req, "class"), *lim = json_object_get(req, "limit");
	json_t *cur = json_object_get(req, "cursor"), *dev = json_object_get(req, "device");
	json_t *resp;
	size_t i;
	long v;

	(void)c;
	if ((from && (!json_is_string(from) ||
		      util_parse_rfc3339(json_string_value(from), &q.from_ms) < 0)) ||
	    (to && (!json_is_string(to) || util_parse_rfc3339(json_string_value(to), &q.to_ms) < 0)))
		return request_error("bad_request",
				     "\"from\"/\"to\" must be RFC 3339 times, e.g. 2026-11-28T02:11:46Z");
	if (dev && !json_is_string(dev))
		return request_error("bad_request", "\"device\" must be a device id");
	q.device = json_string_value(dev);
	if (cls) {
		if (!json_is_array(cls) || json_array_size(cls) > EVCLASS_MAX)
			return request_error("bad_request", "\"class\" must be a list of alarm, "
							    "prealarm, fault, test, record, system");
		for (i = 0; i < json_array_size(cls); i++) {
			classes[i] = json_string_value(json_array_get(cls, i));
			if (!classes[i])
				return request_error("bad_request", "\"class\" entries must be strings");
			/* a misspelt class would match nothing: "no alarms" */
			if (!class_known(classes[i])) {
				char esc[80];

				return request_error(
					"bad_request",
					"unknown class '%s'; one of alarm, prealarm, fault, test, "
					"record, system",
					util_escape(classes[i], strlen(classes[i]), esc, sizeof(esc)));
			}
		}
		q.classes = classes;
		q.n_classes = json_array_size(cls);
	}
	h.limit = 500;
	if (lim) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		    json_integer_value(lim) > 1000)
			return request_error("bad_request", "\"limit\" must be 1..1000");
		h.limit = (size_t)json_integer_value(lim);
	}
	if (cur) {
		if (!json_is_string(cur) ||
		    util_parse_long(json_string_value(cur), 0, LONG_MAX, &v) < 0)
			return request_error("bad_request",
					     "\"cursor\" must be the \"next\" of an answer");
		q.after_seq = (uint64_t)v;
	}
	q.limit = h.limit + 1;
	h.arr = json_array();
	if (store_events_query(rq->d.st, &q, history_cb, &h) < 0) {
		json_decref(h.arr);
		return request_error("unavailable", "the event store cannot be read now; retry");
	}
	resp = json_pack("{s:b, s:o}", "ok", 1, "events", h.arr);
	if (h.more) {
		char next[32];

		snprintf(next, sizeof(next), "%" PRIu64, h.last_seq);
		json_object_set_new(resp, "next", json_string(next));
	}
	return resp;
}

static json_t *op_readings(request *rq, json_t *req, const struct call *c)
{
	const struct config *cfg = rq->d.cfg;
	const char *dev = json_string_value(json_object_get(req, "device"));
	uint64_t now = util_mono_ms();
	json_t *devs;
	size_t i, j;

	(void)c;
	if (json_object_get(req, "device") && (!dev || config_device_index(cfg, dev) < 0))
		return request_error("not_found", "no such device");
	devs = json_object();
	for (i = 0; i < cfg->n_devices; i++) {
		const struct cfg_device *d = &cfg->devices[i];
		json_t *vals;

		if (dev && strcmp(dev, d->id) != 0)
			continue;
		vals = json_object();
		for (j = 0; j < d->profile->n_values; j++)
			json_object_set_new(vals, d->profile->values[j].name,
					    payload_value(rq->d.site, (int)i, (int)j, now));
		json_object_set_new(devs, d->id, vals);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "devices", devs);
}

/* compliance and report: built on the inspector's thread (reports of a
 * year take a while; the polls and alarms never wait for them), answered
 * when done. */
static json_t *op_inspect(request *rq, const char *op, json_t *req, const struct call *c)
{
	int r;

	if (!c->note || !rq->d.insp)
		return request_error("unavailable", "%s is answered over MQTT by the running "
						    "daemon; on site use firegw %s", op, op);
	r = inspector_request(rq->d.insp, op, req, c->id, c->note->response_topic,
			      c->note->correlation, c->note->correlation_len);
	if (r == -EAGAIN)
		return request_error("busy", "other compliance or report requests are being "
					     "answered; retry in a few seconds");
	if (r < 0)
		return request_error("unavailable", "%s: %s; retry", op, strerror(-r));
	return NULL; /* request_inspector_answer() */
}

static json_t *op_compliance(request *rq, json_t *req, const struct call *c)
{
	return op_inspect(rq, "compliance", req, c);
}

static json_t *op_report(request *rq, json_t *req, const struct call *c)
{
	return op_inspect(rq, "report", req, c);
}

/* ------------------------------------------------------ state changes */

/* "by": who does it, stored and shown on site and at the center: bounded,
 * printable UTF-8, never cut. NULL when valid, else the error answer. */
static json_t *check_by(const char *by)
{
	if (!by || !by[0])
		return request_error("bad_request", "\"by\" (who does it) is required");
	if (!util_text_ok(by, POINT_BY_MAX - 1))
		return request_error("bad_request", "\"by\" must be 1..64 bytes of UTF-8 text "
						    "without control characters");
	return NULL;
}

/* {"device": D, "point": P?} (MQTT's fields) or {"target": "D[.P]"} (the
 * control socket's, kept as an alias), "by". */
static json_t *op_reset(request *rq, json_t *req, const struct call *c)
{
	const char *dev = json_string_value(json_object_get(req, "device"));
	const char *pt = json_string_value(json_object_get(req, "point"));
	const char *target = json_string_value(json_object_get(req, "target"));
	const char *by = json_string_value(json_object_get(req, "by"));
	char buf[2 * CONFIG_ID_MAX + 2], why[200];
	int d, p, cleared = 0, held = 0;
	json_t *err;

	(void)c;
	if (!target && dev) {
		snprintf(buf, sizeof(buf), "%s%s%s", dev, pt ? "." : "", pt ? pt : "");
		target = buf;
	}
	if (!target)
		return request_error("bad_request", "reset needs \"device\" (and \"point\"), or "
						    "\"target\" DEVICE[.POINT], and \"by\"");
	err = check_by(by);
	if (err)
		return err;
	if (site_resolve_target(rq->d.site, target, &d, &p, why, sizeof(why)) < 0)
		return request_error("not_found", "%s", why);
	modes_reset(rq->d.m, d, p, by, &cleared, &held);
	return json_pack("{s:b, s:s, s:i, s:i}", "ok", 1, "target", target, "cleared", cleared,
			 "still_alarm", held);
}

/* {"op": "test", "action": "start"|"end", "targets": [...], "by", "minutes"}
 * {"op": "disable"|"enable", "targets": [...], "by", "reason"} */
static json_t *op_mode(request *rq, const char *op, json_t *req, const struct call *c)
{
	const char *by = json_string_value(json_object_get(req, "by"));
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	json_t *targets = json_object_get(req, "targets");
	json_int_t minutes = json_integer_value(json_object_get(req, "minutes"));
	/* "seconds" (control socket only, for commissioning checks and tests)
	 * overrides "minutes" with a finer grain, same 240 min bound */
	json_int_t seconds =
		c->channel == CH_CONTROL ? json_integer_value(json_object_get(req, "seconds")) : 0;
	bool all = json_is_true(json_object_get(req, "all"));
	bool is_test = strcmp(op, "test") == 0;
	char why[200];
	json_t *err;
	int n = 0;
	size_t i;

	err = check_by(by);
	if (err)
		return err;
	if (reason && !util_text_ok(reason, POINT_REASON_MAX - 1))
		return request_error("bad_request", "\"reason\" must be 1..159 bytes of UTF-8 text "
						    "without control characters");
	if (is_test && (!action || (strcmp(action, "start") && strcmp(action, "end"))))
		return request_error("bad_request", "\"action\" must be start or end");
	if (seconds > 0 && seconds <= MODES_TEST_MAX_MINUTES * 60)
		minutes = 0;
	else if (is_test && !strcmp(action, "start") &&
		 (minutes < 1 || minutes > MODES_TEST_MAX_MINUTES))
		return request_error("bad_request", "\"minutes\" must be 1..240");
	else
		seconds = minutes * 60;
	if (!strcmp(op, "disable") && (!reason || !reason[0]))
		return request_error("bad_request", "\"reason\" is required to disable a point");
	if (all && is_test && !strcmp(action, "end")) {
		for (i = 0; i < rq->d.cfg->n_devices; i++)
			n += modes_test_end(rq->d.m, (int)i, -1, by, false);
		return json_pack("{s:b, s:i}", "ok", 1, "points", n);
	}
	if (!json_is_array(targets) || json_array_size(targets) == 0)
		return request_error("bad_request",
				     "\"targets\" must list DEVICE or DEVICE.POINT names");
	/* all targets must exist before anything changes */
	for (i = 0; i < json_array_size(targets); i++) {
		const char *t = json_string_value(json_array_get(targets, i));
		int dev, pt;

		if (!t)
			return request_error("bad_request",
					     "\"targets\" must list DEVICE or DEVICE.POINT names");
		if (site_resolve_target(rq->d.site, t, &dev, &pt, why, sizeof(why)) < 0)
			return request_error("not_found", "%s", why);
	}
	for (i = 0; i < json_array_size(targets); i++) {
		int dev, pt;

		site_resolve_target(rq->d.site, json_string_value(json_array_get(targets, i)), &dev,
				    &pt, why, sizeof(why));
		if (is_test && !strcmp(action, "start"))
			n += modes_test_start(rq->d.m, dev, pt, by, (int)seconds);
		else if (is_test)
			n += modes_test_end(rq->d.m, dev, pt, by, false);
		else
			n += modes_set_disabled(rq->d.m, dev, pt, !strcmp(op, "disable"), by, reason);
	}
	return json_pack("{s:b, s:i}", "ok", 1, "points", n);
}

static json_t *op_test(request *rq, json_t *req, const struct call *c)
{
	return op_mode(rq, "test", req, c);
}

static json_t *op_disable(request *rq, json_t *req, const struct call *c)
{
	return op_mode(rq, "disable", req, c);
}

static json_t *op_enable(request *rq, json_t *req, const struct call *c)
{
	return op_mode(rq, "enable", req, c);
}

/* {"op": "record", "kind": "system_test"|"maintenance"|"self_inspection"|
 * "police_inspection", "by", "result": "pass"|"fail", "date"?, "note"?,
 * "ref"?} (SPEC §6): an append-only record, an event of class record on
 * <p>/<site>/record. A correction is a new record whose ref names the
 * record it corrects. */
static json_t *op_record(request *rq, json_t *req, const struct call *c)
{
	const char *kind = json_string_value(json_object_get(req, "kind"));
	const char *by = json_string_value(json_object_get(req, "by"));
	const char *result = json_string_value(json_object_get(req, "result"));
	const char *date = json_string_value(json_object_get(req, "date"));
	const char *note = json_string_value(json_object_get(req, "note"));
	const char *ref = json_string_value(json_object_get(req, "ref"));
	struct journal_event e = { 0 };
	struct store_event_brief brief;
	char today[16], oldest[16], id[160], esc[200];
	time_t now = time(NULL), then = now - 730 * 86400;
	struct tm tm;
	int64_t day_ms;
	int r;

	(void)c;
	if (compliance_record_kind(kind) == COMP_REC_INVALID)
		return request_error("bad_request", "\"kind\" must be system_test, maintenance, "
						    "self_inspection or police_inspection");
	if (!by || !util_text_ok(by, 64))
		return request_error("bad_request", "\"by\" (who did it) must be 1..64 bytes of "
						    "UTF-8 text without control characters");
	if (!result || (strcmp(result, "pass") && strcmp(result, "fail")))
		return request_error("bad_request", "\"result\" must be pass or fail");
	if (json_object_get(req, "note") && (!note || !util_text_ok(note, 1000)))
		return request_error("bad_request", "\"note\" must be 1..1000 bytes of UTF-8 text "
						    "without control characters");
	/* the site's calendar (TZ is site.timezone in the daemon) */
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	localtime_r(&then, &tm);
	strftime(oldest, sizeof(oldest), "%Y-%m-%d", &tm);
	if (json_object_get(req, "date")) {
		if (!date || strlen(date) != 10 || util_parse_rfc3339(date, &day_ms) < 0)
			return request_error("bad_request",
					     "\"date\" must be a day YYYY-MM-DD, e.g. %s", today);
		if (strcmp(date, today) > 0)
			return request_error("bad_request",
					     "\"date\" %s is in the future (today is %s)", date, today);
		if (strcmp(date, oldest) < 0)
			return request_error("bad_request",
					     "\"date\" %s is more than 730 days back (the oldest "
					     "accepted is %s)", date, oldest);
	} else {
		date = today;
	}
	if (json_object_get(req, "ref")) {
		if (!ref || strlen(ref) > 150)
			return request_error("bad_request", "\"ref\" must be the event_id of the "
							    "record this one corrects");
		r = store_event_find(rq->d.st, ref, &brief);
		/* a correction names a record of its own kind: a maintenance
		 * cannot "correct" a failed police inspection away */
		if (r == -ENOENT || (r == 0 && (strcmp(brief.cls, "record") != 0 ||
						strcmp(brief.type, kind) != 0)))
			return request_error("not_found", "no %s record with event_id '%s' to correct",
					     kind, util_escape(ref, strlen(ref), esc, sizeof(esc)));
		if (r < 0)
			return request_error("unavailable", "the event store cannot be read now; "
							     "retry");
	}
	e.type = kind;
	e.dev = -1;
	e.pt = -1;
	e.by = by;
	e.note = note;
	e.result = result;
	e.date = date;
	e.ref = ref;
	r = journal_record(rq->d.j, &e);
	if (r < 0)
		return request_error("unavailable", "the record could not be made: %s; retry",
				     strerror(-r));
	journal_last_event_id(rq->d.j, id, sizeof(id));
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "event_id", id, "seq",
			 (json_int_t)journal_last_seq(rq->d.j));
}

/* ----------------------------------------------------- probe and scan */

static struct job_client *job_find(request *rq, uint64_t tag)
{
	size_t i;

	for (i = 0; i < JOBS_MAX; i++)
		if (rq->jobs[i].active && rq->jobs[i].tag == tag)
			return &rq->jobs[i];
	return NULL;
}

/* Starts a probe or scan on its bus's thread; the answers follow as the
 * results come (request_job_result). NULL when started, else the error. */
static json_t *start_job(request *rq, json_t *req, const struct call *c,
			 enum poller_job_kind kind)
{
	const struct config *cfg = rq->d.cfg;
	struct poller_job job = { .kind = kind };
	struct job_client *slot = NULL;
	int bus = -1, r;
	size_t i;

	for (i = 0; i < JOBS_MAX; i++)
		if (!rq->jobs[i].active) {
			slot = &rq->jobs[i];
			break;
		}
	if (!slot)
		return request_error("busy", "too many probe/scan jobs running; retry later");
	if (kind == POLLER_JOB_PROBE) {
		const char *dev = json_string_value(json_object_get(req, "device"));
		char esc[96];

		job.device = dev ? config_device_index(cfg, dev) : -1;
		if (job.device < 0)
			return request_error("not_found", "no device '%s'",
					     dev ? util_escape(dev, strlen(dev), esc, sizeof(esc)) : "");
		bus = cfg->devices[job.device].bus;
	} else {
		const char *b = json_string_value(json_object_get(req, "bus"));
		json_t *from = json_object_get(req, "from"), *to = json_object_get(req, "to");
		json_t *tmo = json_object_get(req, "timeout_ms");
		char esc[96];

		bus = b ? config_bus_index(cfg, b) : -1;
		if (bus < 0)
			return request_error("not_found", "no bus '%s'",
					     b ? util_escape(b, strlen(b), esc, sizeof(esc)) : "");
		/* every argument bounded: a scan shares the bus with the polls
		 * one transaction at a time, never longer than 1 s each */
		if (!json_is_integer(from) || json_integer_value(from) < 1 ||
		    json_integer_value(from) > 247)
			return request_error("bad_request", "\"from\" must be a unit 1..247");
		if (!json_is_integer(to) || json_integer_value(to) < json_integer_value(from) ||
		    json_integer_value(to) > 247)
			return request_error("bad_request", "\"to\" must be a unit \"from\"..247");
		if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < 10 ||
			    json_integer_value(tmo) > 1000))
			return request_error("bad_request",
					     "\"timeout_ms\" must be 10..1000 (omit it for 100)");
		job.unit_from = (int)json_integer_value(from);
		job.unit_to = (int)json_integer_value(to);
		job.timeout_ms = tmo ? (int)json_integer_value(tmo) : 0;
	}
	job.tag = ++rq->next_job_tag;
	r = poller_submit(rq->d.pollers[bus], &job);
	if (r < 0)
		return request_error("busy", "bus '%s' is busy: %s", cfg->buses[bus].id,
				     strerror(-r));
	*slot = (struct job_client){ .tag = job.tag, .client = c->client, .bus = bus, .active = true };
	return NULL;
}

static json_t *op_probe(request *rq, json_t *req, const struct call *c)
{
	return start_job(rq, req, c, POLLER_JOB_PROBE);
}

static json_t *op_scan(request *rq, json_t *req, const struct call *c)
{
	return start_job(rq, req, c, POLLER_JOB_SCAN);
}

static json_t *probe_json(request *rq, const struct poll_result *res)
{
	const struct cfg_device *d = &rq->d.cfg->devices[res->device];
	struct value_reading vals[PROFILE_MAX_VALUES];
	json_t *o = json_object(), *vo = json_object();
	size_t i;

	json_object_set_new(o, "device", json_string(d->id));
	json_object_set_new(o, "unit", json_integer(d->unit));
	json_object_set_new(o, "rc", json_integer(res->rc));
	if (res->rc == 0) {
		profile_decode(d->profile, &res->raw, vals);
		for (i = 0; i < d->profile->n_values; i++) {
			json_t *v = json_object();

			json_object_set_new(v, "value", vals[i].ok ? json_real(vals[i].value)
								     : json_null());
			json_object_set_new(v, "raw", json_integer(vals[i].raw));
			json_object_set_new(v, "unit", json_string(d->profile->values[i].unit));
			json_object_set_new(vo, d->profile->values[i].name, v);
		}
	} else {
		json_object_set_new(o, "error", json_string(strerror(-res->rc)));
		if (res->rc == -EPROTO)
			json_object_set_new(o, "exception", json_integer(res->exception));
	}
	json_object_set_new(o, "values", vo);
	return o;
}

void request_job_result(request *rq, const struct poll_result *res)
{
	struct job_client *j = job_find(rq, res->tag);

	if (!j || !rq->ctl)
		return;
	switch (res->kind) {
	case POLL_RESULT_PROBE:
		control_reply(rq->ctl, j->client, probe_json(rq, res), false);
		break;
	case POLL_RESULT_SCAN:
		control_reply(rq->ctl, j->client,
			      json_pack("{s:i, s:i}", "unit", res->unit, "rc", res->rc), false);
		break;
	case POLL_RESULT_JOB_DONE:
		j->active = false;
		control_reply(rq->ctl, j->client, json_pack("{s:b, s:i}", "ok", 1, "rc", res->rc),
			      true);
		break;
	default:
		break;
	}
}

/* The control client went away (control_set_gone): its job slots are
 * free at once, so a late result of its job is dropped (job_find no longer
 * matches the tag) and never reaches a new client; the bus stops the job
 * at its next step, so a scan nobody waits for no longer takes its gaps. */
void request_client_gone(request *rq, int client)
{
	size_t i;

	for (i = 0; i < JOBS_MAX; i++) {
		struct job_client *j = &rq->jobs[i];

		if (!j->active || j->client != client)
			continue;
		j->active = false;
		poller_cancel(rq->d.pollers[j->bus], j->tag);
	}
}

/* --------------------------------------------------------------- table */

static bool allow_reset(const struct config *c)
{
	return c->remote.allow_reset;
}

static bool allow_test(const struct config *c)
{
	return c->remote.allow_test;
}

static bool allow_record(const struct config *c)
{
	return c->remote.allow_record;
}

static const struct op {
	const char *name;
	int channels;
	/* over MQTT a state change needs the configuration's word */
	bool (*allowed)(const struct config *c);
	const char *setting;
	json_t *(*fn)(request *rq, json_t *req, const struct call *c);
	/* it changes something (a state, a record, the bus's traffic): who
	 * ran it through the control socket is logged, and its events carry
	 * the account */
	bool audit;
} ops[] = {
	{ "status", CH_MQTT | CH_CONTROL, NULL, NULL, op_status, false },
	{ "history", CH_MQTT | CH_CONTROL, NULL, NULL, op_history, false },
	{ "readings", CH_MQTT | CH_CONTROL, NULL, NULL, op_readings, false },
	{ "compliance", CH_MQTT, NULL, NULL, op_compliance, false },
	{ "report", CH_MQTT, NULL, NULL, op_report, false },
	{ "reset", CH_MQTT | CH_CONTROL, allow_reset, "remote.allow_reset", op_reset, true },
	{ "test", CH_MQTT | CH_CONTROL, allow_test, "remote.allow_test", op_test, true },
	{ "record", CH_MQTT | CH_CONTROL, allow_record, "remote.allow_record", op_record, true },
	{ "disable", CH_CONTROL, NULL, NULL, op_disable, true },
	{ "enable", CH_CONTROL, NULL, NULL, op_enable, true },
	{ "probe", CH_CONTROL, NULL, NULL, op_probe, true },
	{ "scan", CH_CONTROL, NULL, NULL, op_scan, true },
	{ "ping", CH_CONTROL, NULL, NULL, op_ping, false },
};

static const struct op *op_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < ARRAY_SIZE(ops); i++)
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	return NULL;
}

/* "one of a, b, c" for the operations of a channel. */
static const char *op_list(int channel, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(ops) && off < len; i++)
		if (ops[i].channels & channel)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						ops[i].name);
	return buf;
}

/* Runs op for a call; NULL when the answer comes later (a job). */
static json_t *run(request *rq, const char *name, json_t *req, const struct call *c)
{
	const struct op *op = op_find(name);
	char list[200], esc[80];

	if (!name)
		return request_error("bad_request", "missing \"op\"");
	if (!op || !(op->channels & c->channel))
		return request_error("bad_request", "unknown op '%s'; one of %s",
				     util_escape(name, strlen(name), esc, sizeof(esc)),
				     op_list(c->channel, list, sizeof(list)));
	if (c->channel == CH_MQTT && op->allowed && !op->allowed(rq->d.cfg))
		return request_error("forbidden", "remote %s is not allowed on this gateway (%s)",
				     op->name, op->setting);
	return op->fn(rq, req, c);
}

/* ------------------------------------------------------------ channels */

int request_new(const struct request_deps *d, request **ret)
{
	request *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	rq->d = *d;
	*ret = rq;
	return 0;
}

void request_free(request *rq)
{
	free(rq);
}

void request_set_store(request *rq, store *st)
{
	rq->d.st = st;
}

void request_set_control(request *rq, control *ctl)
{
	rq->ctl = ctl;
}

void request_set_inspector(request *rq, inspector *in)
{
	rq->d.insp = in;
}

json_t *request_call(request *rq, bool remote, int client, json_t *req)
{
	struct call c = { .channel = remote ? CH_MQTT : CH_CONTROL, .client = remote ? -1 : client };

	if (!json_is_object(req))
		return request_error("bad_request", "a request is a JSON object");
	return run(rq, json_string_value(json_object_get(req, "op")), req, &c);
}

/* A command that changes something, through the control socket: who ran
 * it (SO_PEERCRED) is logged, and its events carry the account. The
 * account is the user's name, or "uid N" for a uid without one. */
static bool audit_begin(request *rq, int client, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "op"));
	const char *by = json_string_value(json_object_get(req, "by"));
	const struct op *op = op_find(name);
	struct control_peer p;
	char account[64], esc[160];

	if (!op || !op->audit || !rq->ctl || control_peer(rq->ctl, client, &p) < 0)
		return false;
	if (p.user[0] && util_text_ok(p.user, sizeof(account) - 1))
		util_strlcpy(account, p.user, sizeof(account));
	else
		snprintf(account, sizeof(account), "uid %u", (unsigned)p.uid);
	log_notice("control socket: '%s' asked by account '%s' (uid %u, pid %d)%s%s%s", op->name,
		   account, (unsigned)p.uid, (int)p.pid, by ? ", by '" : "",
		   by ? util_escape(by, strlen(by), esc, sizeof(esc)) : "", by ? "'" : "");
	journal_set_account(rq->d.j, account);
	return true;
}

void request_control(request *rq, int client, json_t *req)
{
	bool audited = audit_begin(rq, client, req);
	json_t *resp = request_call(rq, false, client, req);

	if (audited)
		journal_set_account(rq->d.j, NULL);

	if (resp && rq->ctl)
		control_reply(rq->ctl, client, resp, true);
	else
		json_decref(resp);
}

/* SPEC §3: answers go only under <p>/<site>/response/, so that no client
 * allowed to publish a request can make the gateway publish on its own
 * alarm topics (or anyone else's). */
static bool response_topic_ok(const request *rq, const char *topic)
{
	const char *root = rq->d.site->topic_root;
	size_t n = strlen(root);

	return strncmp(topic, root, n) == 0 && strncmp(topic + n, "/response/", 10) == 0 &&
	       util_is_plain_id(topic + n + 10);
}

/* Sends an answer: to the MQTT 5 Response Topic (checked) with its
 * Correlation Data when the request had one, else to
 * <p>/<site>/response/<id>. Answers are not events: not stored, and a
 * lost one is asked again by the center. Steals result. */
static void answer(request *rq, const struct publish_note *n, const char *id, json_t *result)
{
	json_t *resp = json_object();
	char topic[400], *payload;
	size_t len;
	unsigned suppressed = 0;
	int r;

	/* the id first, as in every answer */
	if (id)
		json_object_set_new(resp, "id", json_string(id));
	json_object_update(resp, result);
	json_decref(result);
	if (n->response_topic)
		util_strlcpy(topic, n->response_topic, sizeof(topic));
	else
		snprintf(topic, sizeof(topic), "%s/response/%s", rq->d.site->topic_root, id);
	payload = event_dump(resp, &len);
	if (!payload)
		return;
	r = uplink_answer(rq->d.u, topic, payload, len, n->correlation, n->correlation_len);
	/* a flood of requests fills the uplink: one line per interval */
	if (r < 0 && log_ratelimit_ok(&rq->answer_rl, util_mono_ms(), 10000, &suppressed))
		log_warning("cannot send the answer to request '%s': %s (%u more since the last "
			    "line)",
			    id ? id : "invalid", strerror(-r), suppressed);
	free(payload);
}

void request_tick(request *rq, uint64_t now_ms)
{
	unsigned n;

	n = log_ratelimit_due(&rq->bad_rl, now_ms, 10000);
	if (n)
		log_warning("%u more requests on '%s' ignored (not logged one by one)", n,
			    rq->d.site->topic_root);
	n = log_ratelimit_due(&rq->bad_response_rl, now_ms, 10000);
	if (n)
		log_warning("%u more requests refused for their Response Topic (not logged one by "
			    "one)",
			    n);
	n = log_ratelimit_due(&rq->answer_rl, now_ms, 10000);
	if (n)
		log_warning("%u more answers could not be sent (not logged one by one)", n);
}

void request_mqtt(request *rq, const struct publish_note *n)
{
	json_error_t jerr;
	json_t *req = json_loadb(n->payload, n->len, 0, &jerr), *resp;
	const char *id = json_string_value(json_object_get(req, "id"));
	bool id_ok = id && util_is_plain_id(id);
	unsigned suppressed = 0;

	if (n->response_topic && !response_topic_ok(rq, n->response_topic)) {
		struct publish_note plain = *n;

		if (log_ratelimit_ok(&rq->bad_response_rl, util_mono_ms(), 10000, &suppressed)) {
			char esc[200];

			util_escape(n->response_topic, strlen(n->response_topic), esc, sizeof(esc));
			log_warning("request refused: its Response Topic '%s' is not under '%s/response/'"
				    "%s (%u more refused since the last line)",
				    esc, rq->d.site->topic_root, id_ok ? "" : "; no valid id to answer",
				    suppressed);
		}
		/* the refusal goes to response/<id>, never to the topic asked */
		plain.response_topic = NULL;
		plain.correlation = NULL;
		plain.correlation_len = 0;
		if (id_ok)
			answer(rq, &plain, id,
			       request_error("forbidden",
					     "the Response Topic must be <prefix>/<site>/response/<id>"));
		json_decref(req);
		return;
	}
	if (!id_ok) {
		/* no valid id: nowhere to answer unless MQTT 5 said where */
		if (log_ratelimit_ok(&rq->bad_rl, util_mono_ms(), 10000, &suppressed))
			log_warning("request on '%s' ignored: %s (%u more since the last line)",
				    rq->d.site->topic_root,
				    !req ? "not JSON" : "\"id\" must be a plain id [A-Za-z0-9_-]{1,64}",
				    suppressed);
		if (n->response_topic) {
			json_t *err = request_error("bad_request",
						    "\"id\" must be a plain id [A-Za-z0-9_-]{1,64}");

			json_object_set_new(err, "id", json_null());
			answer(rq, n, NULL, err);
		}
		json_decref(req);
		return;
	}
	{
		struct call c = { .channel = CH_MQTT, .client = -1, .note = n, .id = id };

		resp = json_is_object(req) ? run(rq, json_string_value(json_object_get(req, "op")),
						 req, &c)
					   : request_error("bad_request", "a request is a JSON object");
	}
	if (resp)
		answer(rq, n, id, resp);
	json_decref(req);
}

void request_inspector_answer(request *rq, const struct insp_result *r)
{
	struct publish_note n = { .response_topic = r->response_topic,
				  .correlation = r->correlation,
				  .correlation_len = r->correlation_len };
	json_t *result = json_loadb(r->json, r->len, 0, NULL);

	if (!result)
		result = request_error("unavailable", "the answer could not be made; retry");
	answer(rq, &n, r->id, result);
}
