/* inspector.c - the inspectors' thread (inspector.h). Owns its read-only
 * store connection, the request queue (a small list under a mutex) and the
 * result queue (queue.c, polled by the main loop). Evaluating compliance
 * on a year of a 250-point site takes about 10 ms, a year's report under a
 * second: here they cost the main loop nothing but the hand-over. */
#include "inspector.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compliance.h"
#include "compliance_data.h"
#include "event.h"
#include "health.h"
#include "log.h"
#include "queue.h"
#include "report.h"
#include "store.h"
#include "util.h"

#define EVAL_PERIOD_MS 60000  /* compliance evaluated every minute */
#define KICK_DELAY_MS 2000    /* and this soon after a kick */
#define REQUESTS_MAX 4        /* requests waiting; more: -EAGAIN */
#define RESULTS_MAX 16
#define REPORT_PAGE_BYTES (200 * 1024) /* answers stay under 256 KiB */
#define STACK_SIZE (512 * 1024)

struct job {
	char op[16];
	json_t *req;
	char *id, *response_topic;
	void *correlation;
	size_t correlation_len;
};

struct inspector {
	const struct config *cfg;
	store *st;
	queue *results;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* CLOCK_MONOTONIC */
	bool stop;
	uint64_t next_eval;
	struct job jobs[REQUESTS_MAX];
	size_t n_jobs;
	/* the last report built, for its next pages; its number is in the
	 * cursor, so pages of two builds are never joined */
	char report_key[96];
	char *report_text;
	size_t report_len;
	unsigned report_build;
};

static void job_clear(struct job *j)
{
	json_decref(j->req);
	free(j->id);
	free(j->response_topic);
	free(j->correlation);
	memset(j, 0, sizeof(*j));
}

void insp_result_clear(struct insp_result *r)
{
	free(r->json);
	free(r->id);
	free(r->response_topic);
	free(r->correlation);
	memset(r, 0, sizeof(*r));
}

/* Opens the read-only connection once the daemon has made the file. */
static store *ro_store(inspector *in)
{
	struct store_opts so = { .path = in->cfg->storage.path, .readonly = true };

	if (!in->st && store_open(&so, &in->st) < 0)
		in->st = NULL;
	return in->st;
}

static void push(inspector *in, struct insp_result *r)
{
	if (queue_push(in->results, r) < 0) {
		/* the main loop is far behind: this one is dropped (a status
		 * comes again in a minute, a request is asked again) */
		log_warning("inspector: result queue full, one result dropped");
		insp_result_clear(r);
	}
}

/* Evaluates compliance at at_ms: the published message, and its
 * signature. NULL when the store cannot be read now. */
static json_t *evaluate(inspector *in, int64_t at_ms, bool synced, struct comp_result *res)
{
	struct comp_gathered *gd = NULL;
	json_t *o;

	if (!ro_store(in) || compliance_gather(in->st, in->cfg, at_ms, 0, &gd) < 0)
		return NULL;
	if (compliance_evaluate(&gd->in, res) < 0) {
		compliance_gathered_free(gd);
		return NULL;
	}
	o = compliance_to_json(in->cfg, gd, res, synced);
	compliance_gathered_free(gd);
	return o;
}

static void status_now(inspector *in)
{
	struct insp_result r = { .kind = INSP_STATUS };
	struct comp_result res;
	bool synced = health_clock_synced();
	json_t *o;

	r.ts_ms = util_wall_ms();
	o = evaluate(in, r.ts_ms, synced, &res);
	if (!o)
		return;
	r.json = event_dump(o, &r.len);
	if (!r.json)
		return;
	util_strlcpy(r.overall, compliance_overall_name(res.overall), sizeof(r.overall));
	r.time_synced = synced;
	push(in, &r);
}

static int history_cb(void *ud, const struct store_compliance_row *row)
{
	*(json_t **)ud = json_loadb(row->payload, row->payload_len, 0, NULL);
	return 0;
}

/* {"at"?: RFC 3339, "recompute"?: bool}: now (evaluated), the status as
 * published at "at", or "at" recomputed from the stored history. */
static json_t *answer_compliance(inspector *in, json_t *req)
{
	json_t *at = json_object_get(req, "at"), *rec = json_object_get(req, "recompute");
	struct comp_result res;
	json_t *o = NULL;
	int64_t at_ms = util_wall_ms();
	int r;

	if (at && (!json_is_string(at) || util_parse_rfc3339(json_string_value(at), &at_ms) < 0))
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"at\" must be an RFC 3339 time or a day, e.g. "
					    "2026-11-28T02:11:46Z or 2026-11-28");
	if (rec && !json_is_boolean(rec))
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"recompute\" must be true or false");
	if (!ro_store(in))
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "unavailable",
				 "message", "the database cannot be read now; retry");
	if (at && !json_is_true(rec)) {
		r = store_compliance_at(in->st, at_ms, history_cb, &o);
		if (r == -ENOENT)
			return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
					 "not_found", "message",
					 "no compliance status was published by \"at\"; ask with "
					 "\"recompute\": true to evaluate the history as of then");
	} else {
		o = evaluate(in, at_ms, health_clock_synced(), &res);
	}
	if (!o)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "unavailable",
				 "message", "the compliance status cannot be evaluated now; retry");
	return json_pack("{s:b, s:o}", "ok", 1, "compliance", o);
}

/* A report cursor, "BUILD.PAGE" as made below: both plain decimal numbers
 * (never sscanf: an overflowing number would be taken silently). */
static int parse_cursor(const char *s, unsigned *ret_build, long *ret_page)
{
	char buf[32], *dot;
	long b;

	if (!s || util_strlcpy(buf, s, sizeof(buf)) < 0)
		return -EINVAL;
	dot = strchr(buf, '.');
	if (!dot)
		return -EINVAL;
	*dot = '\0';
	if (util_parse_long(buf, 0, LONG_MAX, &b) < 0 || (unsigned long)b > UINT_MAX ||
	    util_parse_long(dot + 1, 1, 100000, ret_page) < 0)
		return -EINVAL;
	*ret_build = (unsigned)b;
	return 0;
}

/* {"period": ..., "lang"?: vi|en, "format"?: json, "cursor"?: "N"}: the
 * report as JSON; one larger than a page goes as text in pages, the
 * cursor naming the next. */
static json_t *answer_report(inspector *in, json_t *req)
{
	const char *period = json_string_value(json_object_get(req, "period"));
	const char *lang = json_string_value(json_object_get(req, "lang"));
	const char *format = json_string_value(json_object_get(req, "format"));
	json_t *cur = json_object_get(req, "cursor"), *rep = NULL, *resp;
	char err[200], key[96];
	unsigned build = 0;
	int64_t from, to;
	long page = 0, pages;
	size_t off, n;



	if (!period)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"period\" is required: 2026, 2026-H1, 2026-11 or "
					    "2026-01-01..2026-03-31");
	if (json_object_get(req, "lang") &&
	    (!lang || (strcmp(lang, "vi") && strcmp(lang, "en"))))
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"lang\" must be vi or en");
	if (json_object_get(req, "format") && (!format || strcmp(format, "json")))
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"format\": over MQTT the report is json (csv and html "
					    "with firegw report on site)");
	if (cur && parse_cursor(json_string_value(cur), &build, &page) < 0)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"cursor\" must be the \"next\" of an answer");
	if (report_period_parse(period, &from, &to, err, sizeof(err)) < 0)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", err);
	if (!lang)
		lang = "vi";
	snprintf(key, sizeof(key), "%s|%s", period, lang);
	if (page > 0 && (!in->report_text || strcmp(key, in->report_key) != 0 ||
			 build != in->report_build))
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"cursor\": the report was built again since; ask again "
					    "without a cursor");
	if (page == 0) {
		free(in->report_text);
		in->report_text = NULL;
		if (!ro_store(in) || report_build(in->st, in->cfg, from, to, lang, 0, &rep) < 0)
			return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
					 "unavailable", "message", "the report cannot be built now; retry");
		/* pages are cut at any byte: ASCII text (\\u escapes) never
		 * splits a character */
		in->report_text = json_dumps(rep, JSON_COMPACT | JSON_PRESERVE_ORDER |
						  JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
		in->report_len = in->report_text ? strlen(in->report_text) : 0;
		if (!in->report_text) {
			json_decref(rep);
			return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
					 "unavailable", "message", "out of memory; retry");
		}
		if (in->report_len <= REPORT_PAGE_BYTES && page == 0) {
			free(in->report_text);
			in->report_text = NULL;
			return json_pack("{s:b, s:o}", "ok", 1, "report", rep);
		}
		json_decref(rep);
		util_strlcpy(in->report_key, key, sizeof(in->report_key));
		in->report_build++;
	}
	pages = (long)((in->report_len + REPORT_PAGE_BYTES - 1) / REPORT_PAGE_BYTES);
	if (page >= pages)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "bad_request",
				 "message", "\"cursor\" is past the last page");
	off = (size_t)page * REPORT_PAGE_BYTES;
	n = in->report_len - off < REPORT_PAGE_BYTES ? in->report_len - off : REPORT_PAGE_BYTES;
	/* pages of the report's JSON text: concatenated in order they are it */
	resp = json_pack("{s:b, s:s%, s:i, s:i}", "ok", 1, "report_part", in->report_text + off, n,
			 "page", (int)page, "pages", (int)pages);
	if (!resp)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "unavailable",
				 "message", "out of memory; retry");
	if (page + 1 < pages) {
		char next[40];

		snprintf(next, sizeof(next), "%u.%ld", in->report_build, page + 1);
		json_object_set_new(resp, "next", json_string(next));
	}
	return resp;
}

static void run_job(inspector *in, struct job *j)
{
	struct insp_result r = { .kind = INSP_ANSWER };
	json_t *ans = strcmp(j->op, "report") == 0 ? answer_report(in, j->req)
						   : answer_compliance(in, j->req);

	r.json = event_dump(ans, &r.len);
	if (!r.json)
		return;
	r.id = j->id;
	r.response_topic = j->response_topic;
	r.correlation = j->correlation;
	r.correlation_len = j->correlation_len;
	j->id = j->response_topic = NULL;
	j->correlation = NULL;
	push(in, &r);
}

static void *inspector_main(void *arg)
{
	inspector *in = arg;
	struct job job;

	pthread_mutex_lock(&in->lock);
	while (!in->stop) {
		uint64_t now = util_mono_ms();

		if (in->n_jobs) {
			job = in->jobs[0];
			memmove(in->jobs, in->jobs + 1, (in->n_jobs - 1) * sizeof(in->jobs[0]));
			in->n_jobs--;
			pthread_mutex_unlock(&in->lock);
			run_job(in, &job);
			job_clear(&job);
			pthread_mutex_lock(&in->lock);
			continue;
		}
		if (now >= in->next_eval) {
			in->next_eval = now + EVAL_PERIOD_MS;
			pthread_mutex_unlock(&in->lock);
			status_now(in);
			pthread_mutex_lock(&in->lock);
			continue;
		}
		{
			struct timespec ts = { .tv_sec = (time_t)(in->next_eval / 1000),
					       .tv_nsec = (long)(in->next_eval % 1000) * 1000000L };

			pthread_cond_timedwait(&in->wake, &in->lock, &ts);
		}
	}
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

int inspector_start(const struct config *c, inspector **ret)
{
	pthread_condattr_t ca;
	pthread_attr_t ta;
	inspector *in;
	int r;

	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->cfg = c;
	r = queue_new(RESULTS_MAX, sizeof(struct insp_result), &in->results);
	if (r < 0) {
		free(in);
		return r;
	}
	pthread_mutex_init(&in->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&in->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* the first status a little after start: the database is open and
	 * the first reads are in by then */
	in->next_eval = util_mono_ms() + KICK_DELAY_MS;
	pthread_attr_init(&ta);
	pthread_attr_setstacksize(&ta, STACK_SIZE);
	r = -pthread_create(&in->thread, &ta, inspector_main, in);
	pthread_attr_destroy(&ta);
	if (r < 0) {
		inspector_stop(in);
		return r;
	}
	in->started = true;
	*ret = in;
	return 0;
}

void inspector_stop(inspector *in)
{
	struct insp_result r;
	size_t i;

	if (!in)
		return;
	if (in->started) {
		pthread_mutex_lock(&in->lock);
		in->stop = true;
		pthread_cond_broadcast(&in->wake);
		pthread_mutex_unlock(&in->lock);
		pthread_join(in->thread, NULL);
	}
	for (i = 0; i < in->n_jobs; i++)
		job_clear(&in->jobs[i]);
	while (queue_pop(in->results, &r))
		insp_result_clear(&r);
	queue_free(in->results);
	store_free(in->st);
	free(in->report_text);
	pthread_cond_destroy(&in->wake);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

int inspector_fd(const inspector *in)
{
	return queue_fd(in->results);
}

bool inspector_next(inspector *in, struct insp_result *ret)
{
	return queue_pop(in->results, ret);
}

int inspector_request(inspector *in, const char *op, json_t *req, const char *id,
		      const char *response_topic, const void *correlation, size_t correlation_len)
{
	struct job j = { 0 };
	int r = 0;

	util_strlcpy(j.op, op, sizeof(j.op));
	j.req = json_deep_copy(req);
	j.id = strdup(id);
	j.response_topic = response_topic ? strdup(response_topic) : NULL;
	if (correlation && correlation_len) {
		j.correlation = malloc(correlation_len);
		if (j.correlation) {
			memcpy(j.correlation, correlation, correlation_len);
			j.correlation_len = correlation_len;
		}
	}
	if (!j.req || !j.id || (response_topic && !j.response_topic) ||
	    (correlation_len && !j.correlation)) {
		job_clear(&j);
		return -ENOMEM;
	}
	pthread_mutex_lock(&in->lock);
	if (in->n_jobs == REQUESTS_MAX) {
		r = -EAGAIN;
	} else {
		in->jobs[in->n_jobs++] = j;
		pthread_cond_signal(&in->wake);
	}
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		job_clear(&j);
	return r;
}

void inspector_kick(inspector *in)
{
	uint64_t soon = util_mono_ms() + KICK_DELAY_MS;

	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	if (in->next_eval > soon) {
		in->next_eval = soon;
		pthread_cond_signal(&in->wake);
	}
	pthread_mutex_unlock(&in->lock);
}
