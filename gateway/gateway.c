/* gateway.c - the daemon (`firegw run`): composition, the main loop,
 * signals, reload and the systemd protocol. It decides nothing itself; each
 * concern is a module that owns its state:
 *
 *   poller.c   one thread per bus: polls, probes, scans    -> results queue
 *   intake.c   a result: decoded, detected                 -> journal
 *   journal.c  seq, payload, commit-or-hold, marks         -> outbox.c
 *   uplink.c   link, in-flight window, send order, PUBACK  <- publish.c
 *   request.c  MQTT requests and control-socket commands   -> modes.c ...
 *   modes.c    reset, test mode, disablement               -> journal
 *   health.c   storage size, clock, center acks            -> journal
 *   recovery.c start-up: open, move aside, salvage, restore
 *   inspector.c its own thread, read-only: compliance, reports -> here
 *   site.c     the live state of devices and points, read by all
 *
 * One thread, this one, runs all of them except the pollers and paho's
 * callbacks (which only enqueue). Every timer is a CLOCK_MONOTONIC
 * deadline; signals arrive through a signalfd. */
#include "gateway.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "event.h"
#include "health.h"
#include "inspector.h"
#include "instance.h"
#include "intake.h"
#include "journal.h"
#include "log.h"
#include "modes.h"
#include "outbox.h"
#include "payload.h"
#include "poller.h"
#include "publish.h"
#include "queue.h"
#include "recovery.h"
#include "request.h"
#include "site.h"
#include "store.h"
#include "uplink.h"
#include "util.h"

#define RESULTS_QUEUE_LEN 256
#define NOTES_PER_PASS 4096
#define BATCH_RESULTS 64 /* poll results whose events share one commit */

struct gw {
	struct config *cfg;
	struct site site;
	store *st;
	outbox *ob;
	publisher *pub;
	queue *results;
	poller *pollers[CONFIG_MAX_BUSES];
	control *ctl;
	journal *j;
	uplink *u;
	health *h;
	modes *m;
	request *rq;
	inspector *insp;
	readings *rd; /* which readings are stored */
	int sfd;
	/* the compliance status last published (SPEC §6): its signature
	 * (overall and each item's status) and when */
	char comp_sig[512];
	int64_t comp_ms;
	bool comp_have;
	char *comp_last; /* its payload */
	size_t comp_last_len;
	int64_t started_ms;
	uint64_t next_heartbeat, next_telemetry, next_tick;
	/* systemd watchdog: half its interval (0: off), next ping */
	uint64_t wd_half_ms, next_wd;
	struct log_ratelimit wd_rl;
	bool stop;
	bool reload; /* stop, then re-exec with the new configuration */
};

/* ------------------------------------------------------------- wiring */

/* The status as of now (SPEC §3): the scheduler's own count of waiting
 * events, no table scan for them. */
static json_t *status_now(void *ud, const char *state, const char *reason)
{
	struct gw *g = ud;
	struct status_info si = {
		.cfg = g->cfg,
		.state = state,
		.reason = reason,
		.version = FIREGW_VERSION,
		.epoch = store_epoch(g->st),
		.broker = uplink_broker(g->u),
		.started_ms = g->started_ms,
		.now_ms = util_wall_ms(),
		.last_seq = journal_last_seq(g->j),
		.backlog_events = (int64_t)outbox_count(g->ob),
		.time_synced = health_time_synced(g->h),
	};
	store_outbox_stats(g->st, NULL, &si.backlog_telemetry, &si.oldest_unsent_ms);
	payload_count_points(&g->site, &si);
	return payload_status(&si);
}

static void on_alarm(void *ud, const char *event_id)
{
	health_alarm_sent(((struct gw *)ud)->h, event_id);
}

/* What counts for compliance happened: evaluate soon. */
static void on_event(void *ud, enum event_class cls)
{
	struct gw *g = ud;

	if (cls == EVCLASS_RECORD || cls == EVCLASS_TEST || cls == EVCLASS_FAULT)
		inspector_kick(g->insp);
}

/* "overall item=status ..." of a published compliance message. */
static void comp_signature(const char *payload, size_t len, char *buf, size_t size)
{
	json_t *o = json_loadb(payload, len, 0, NULL), *items, *v;
	const char *k;
	size_t off;

	off = (size_t)snprintf(buf, size, "%s",
			       json_string_value(json_object_get(o, "overall")) ?: "?");
	items = json_object_get(o, "items");
	json_object_foreach(items, k, v)
		if (off < size)
			off += (size_t)snprintf(buf + off, size - off, " %s=%s", k,
						json_string_value(json_object_get(v, "status")) ?: "?");
	json_decref(o);
}

/* A compliance evaluation from the inspector (SPEC §6): published
 * retained, and kept as history, on every change of an item's status and
 * at least daily. While the clock is not synchronised no change is
 * published (the last one stands; the first one goes out, marked
 * time_synced: false), except the daily one. */
static void comp_publish(struct gw *g, const char *payload, size_t len, const char *overall,
			 bool synced, int64_t ts_ms)
{
	char *copy;
	int err;

	uplink_keep_retained(g->u, "compliance", payload, len);
	err = store_compliance_append(g->st, ts_ms, overall, synced, payload, len);
	if (err < 0)
		log_warning("compliance status not kept in the history: %s; it is published",
			    strerror(-err));
	comp_signature(payload, len, g->comp_sig, sizeof(g->comp_sig));
	copy = malloc(len ? len : 1);
	if (copy) {
		memcpy(copy, payload, len);
		free(g->comp_last);
		g->comp_last = copy;
		g->comp_last_len = len;
	}
	g->comp_ms = ts_ms;
	g->comp_have = true;
	log_info("compliance: %s%s", g->comp_sig, synced ? "" : " (clock not synchronised)");
}

/* The clock is not synchronised: the last status stands, published again
 * marked time_synced false (when the clock is lost, and daily). */
static void comp_republish_unsynced(struct gw *g, int64_t ts_ms)
{
	json_t *o = g->comp_have ? json_loadb(g->comp_last, g->comp_last_len, 0, NULL) : NULL;
	char *payload, overall[24];
	size_t len;

	if (!o)
		return;
	util_strlcpy(overall, json_string_value(json_object_get(o, "overall")) ?: "?",
		     sizeof(overall));
	json_object_set_new(o, "time_synced", json_false());
	payload = event_dump(o, &len);
	if (payload)
		comp_publish(g, payload, len, overall, false, ts_ms);
	free(payload);
}

static void comp_status(struct gw *g, const struct insp_result *r)
{
	char sig[512];
	bool changed, daily;

	comp_signature(r->json, r->len, sig, sizeof(sig));
	changed = !g->comp_have || strcmp(sig, g->comp_sig) != 0;
	daily = r->ts_ms - g->comp_ms >= 24 * 3600 * (int64_t)1000;
	if (!r->time_synced && g->comp_have) {
		/* no change is published without a synchronised clock */
		if (daily)
			comp_republish_unsynced(g, r->ts_ms);
		return;
	}
	if (changed || daily)
		comp_publish(g, r->json, r->len, r->overall, r->time_synced, r->ts_ms);
}

static int comp_last_cb(void *ud, const struct store_compliance_row *row)
{
	struct gw *g = ud;

	comp_signature(row->payload, row->payload_len, g->comp_sig, sizeof(g->comp_sig));
	g->comp_ms = row->ts_ms;
	g->comp_have = true;
	free(g->comp_last);
	g->comp_last = malloc(row->payload_len ? row->payload_len : 1);
	if (g->comp_last)
		memcpy(g->comp_last, row->payload, row->payload_len);
	g->comp_last_len = g->comp_last ? row->payload_len : 0;
	if (!g->comp_last)
		g->comp_have = false;
	uplink_keep_retained(g->u, "compliance", row->payload, row->payload_len);
	return 0;
}

static void drain_inspector(struct gw *g)
{
	struct insp_result r;
	int budget = 16;

	while (budget-- > 0 && inspector_next(g->insp, &r)) {
		if (r.kind == INSP_STATUS)
			comp_status(g, &r);
		else
			request_inspector_answer(g->rq, &r);
		insp_result_clear(&r);
	}
}

static void on_urgent(void *ud)
{
	struct gw *g = ud;

	if (g->u)
		uplink_kick(g->u);
}

/* Messages on the subscriptions: <p>/<site>/ack and <p>/<site>/request. */
static void on_message(void *ud, const struct publish_note *n)
{
	struct gw *g = ud;
	const char *root = g->site.topic_root;
	size_t len = strlen(root);

	if (strncmp(n->topic, root, len) != 0)
		return;
	if (strcmp(n->topic + len, "/ack") == 0)
		health_ack(g->h, n);
	else if (strcmp(n->topic + len, "/request") == 0)
		request_mqtt(g->rq, n);
}

static void on_control(void *ud, int client, json_t *req)
{
	request_control(((struct gw *)ud)->rq, client, req);
}

static void on_client_gone(void *ud, int client)
{
	request_client_gone(((struct gw *)ud)->rq, client);
}

static void on_removed(void *ud, const char *dev)
{
	uplink_removed_add(((struct gw *)ud)->u, dev);
}

/* The database every module writes to (start-up may replace it). */
static void use_store(struct gw *g, store *st)
{
	g->st = st;
	journal_set_store(g->j, st);
	if (g->u)
		uplink_set_store(g->u, st);
	if (g->h)
		health_set_store(g->h, st);
	if (g->m)
		modes_set_store(g->m, st);
	if (g->rq)
		request_set_store(g->rq, st);
}

/* Results of the bus threads, detection first: a fresh alarm is committed
 * before the scheduler picks what to send next. */
static void drain_results(struct gw *g)
{
	struct poll_result res;
	int budget = RESULTS_QUEUE_LEN, in_batch = 0;

	while (budget-- > 0 && queue_pop(g->results, &res)) {
		/* the events of up to BATCH_RESULTS results share one commit */
		if (in_batch == 0)
			journal_batch_begin(g->j);
		if (res.kind == POLL_RESULT_READ)
			intake_read(&g->site, g->j, g->st, g->rd, &res);
		else
			request_job_result(g->rq, &res);
		if (++in_batch == BATCH_RESULTS) {
			journal_batch_end(g->j);
			in_batch = 0;
		}
	}
	if (in_batch)
		journal_batch_end(g->j);
}

/* Every telemetry_s: a batch of readings goes out; device states carry
 * their values at most this often. (The readings kept in the database are
 * chosen at each poll: readings.c.) */
static void telemetry_tick(struct gw *g)
{
	int64_t now_ms = util_wall_ms();
	uint64_t now = util_mono_ms();
	char topic[400], *payload;
	size_t i, len;

	for (i = 0; i < g->cfg->n_devices; i++)
		g->site.devs[i].state_dirty = true;
	if (!g->cfg->mqtt.telemetry_s)
		return; /* telemetry off */
	payload = payload_telemetry(&g->site, now, now_ms, &len);
	if (!payload)
		return;
	site_topic(&g->site, "telemetry", NULL, topic, sizeof(topic));
	/* QoS 0 with the link up and no backlog: handed to the client, never
	 * written (SPEC §5: it counts as sent); else it waits in the outbox */
	if (uplink_telemetry_send(g->u, topic, payload, len, g->cfg->mqtt.telemetry_qos) != 0 &&
	    store_outbox_add(g->st, STORE_DEST_MQTT, topic, payload, len,
			     g->cfg->mqtt.telemetry_qos, false, STORE_PRIO_TELEMETRY, "telemetry",
			     NULL) == 0)
		uplink_telemetry_added(g->u);
	free(payload);
}

/* ------------------------------------------------------------ start-up */

/* One daemon per database (SPEC §7): before anything is opened. */
static int lock_instance(struct gw *g)
{
	pid_t holder = 0;
	int r = instance_lock(g->cfg->storage.path, &holder);

	if (r == -EBUSY) {
		if (holder > 0)
			log_error("database '%s' is in use by firegw pid %ld (lock '%s%s'); not "
				  "starting a second daemon on it",
				  g->cfg->storage.path, (long)holder, g->cfg->storage.path,
				  INSTANCE_LOCK_SUFFIX);
		else
			log_error("database '%s' is in use by another firegw (lock '%s%s'); not "
				  "starting a second daemon on it",
				  g->cfg->storage.path, g->cfg->storage.path, INSTANCE_LOCK_SUFFIX);
	} else if (r < 0) {
		log_error("cannot lock '%s%s': %s; check storage.path and its directory",
			  g->cfg->storage.path, INSTANCE_LOCK_SUFFIX, strerror(-r));
	}
	return r;
}

static int start_publisher(struct gw *g)
{
	static const char *const subs_kinds[] = { "ack", "request" };
	char will_topic[400], sub_topics[2][400];
	const char *subs[2], *nodes[CONFIG_MQTT_URIS_MAX];
	struct publish_opts po = { 0 };
	size_t will_len, i;
	char *will;
	int r;

	site_topic(&g->site, "status", NULL, will_topic, sizeof(will_topic));
	will = payload_will(g->cfg->site.id, &will_len);
	if (!will)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(subs_kinds); i++) {
		site_topic(&g->site, subs_kinds[i], NULL, sub_topics[i], sizeof(sub_topics[i]));
		subs[i] = sub_topics[i];
	}
	for (i = 0; i < g->cfg->mqtt.n_uris; i++)
		nodes[i] = g->cfg->mqtt.uris[i];
	po.uri = g->cfg->mqtt.uri;
	po.uris = nodes;
	po.n_uris = g->cfg->mqtt.n_uris;
	po.connect_timeout_s = g->cfg->mqtt.connect_timeout_s;
	po.client_id = g->cfg->mqtt.client_id;
	po.version = g->cfg->mqtt.version;
	po.keepalive_s = g->cfg->mqtt.keepalive_s;
	po.username = g->cfg->mqtt.username[0] ? g->cfg->mqtt.username : NULL;
	po.ca_file = g->cfg->mqtt.ca_file[0] ? g->cfg->mqtt.ca_file : NULL;
	po.cert_file = g->cfg->mqtt.cert_file[0] ? g->cfg->mqtt.cert_file : NULL;
	po.key_file = g->cfg->mqtt.key_file[0] ? g->cfg->mqtt.key_file : NULL;
	po.will_topic = will_topic;
	po.will_payload = will;
	po.will_len = will_len;
	po.inflight = g->cfg->mqtt.inflight + 8;
	po.subscriptions = subs;
	po.n_subscriptions = ARRAY_SIZE(subs);
	/* the secrets are read by the publisher (secret_read) */
	po.password_file = g->cfg->mqtt.password_file[0] ? g->cfg->mqtt.password_file : NULL;
	po.key_password_file =
		g->cfg->mqtt.key_password_file[0] ? g->cfg->mqtt.key_password_file : NULL;
	po.max_packet = g->cfg->mqtt.version == 5 ? (unsigned)g->cfg->mqtt.max_packet_kb * 1024u : 0;
	r = publish_new(&po, &g->pub);
	free(will);
	if (r < 0)
		log_error("cannot create the MQTT client for '%s': %s", g->cfg->mqtt.uri,
			  strerror(-r));
	return r;
}

static int gw_start(struct gw *g)
{
	static const struct journal_hooks jh = { .alarm = on_alarm,
						 .urgent = on_urgent,
						 .event = on_event };
	static const struct uplink_hooks uh = { .status = status_now, .message = on_message };
	char note[1000];
	size_t i, j;
	int r;

	r = lock_instance(g);
	if (r < 0)
		return r;
	g->started_ms = util_wall_ms();
	r = site_init(&g->site, g->cfg, g->started_ms);
	if (r < 0)
		return r;
	r = outbox_new(&g->ob);
	if (r < 0)
		return r;
	outbox_key(g->ob, "gateway");
	for (i = 0; i < g->cfg->n_devices; i++)
		for (j = 0; j < g->cfg->devices[i].n_points; j++) {
			char key[STORE_KEY_MAX];

			site_point_key(&g->site, (int)i, (int)j, key, sizeof(key));
			g->site.devs[i].points[j].key = outbox_key(g->ob, key);
		}
	r = journal_new(g->cfg, &g->site, g->ob, &jh, g, &g->j);
	if (r < 0)
		return r;
	r = recovery_open(g->cfg, &g->st, note, sizeof(note));
	if (r < 0)
		return r;
	use_store(g, g->st);
	r = health_new(g->cfg, g->j, g->st, &g->h);
	if (r < 0)
		return r;
	health_set_site(g->h, &g->site);
	journal_load_marks(g->j, note[0] ? note : NULL);
	r = start_publisher(g);
	if (r < 0)
		return r;
	r = uplink_new(g->cfg, &g->site, g->st, g->ob, g->j, g->pub, &uh, g, &g->u);
	if (r < 0)
		return r;
	recovery_restore(g->st, &g->site, on_removed, g);
	r = recovery_load_outbox(g->st, g->ob);
	if (r < 0) {
		log_error("cannot load the outbox of '%s': %s", g->cfg->storage.path, strerror(-r));
		return r;
	}
	if (outbox_count(g->ob))
		log_notice("%zu events waiting in the outbox from before the start",
			   outbox_count(g->ob));
	r = modes_new(g->cfg, &g->site, g->j, g->st, &g->m);
	if (r < 0)
		return r;
	r = readings_new(g->cfg, &g->rd);
	if (r < 0)
		return r;

	{
		struct request_deps d = {
			.cfg = g->cfg, .site = &g->site, .st = g->st, .j = g->j, .m = g->m,
			.u = g->u, .pollers = g->pollers, .status = status_now, .ud = g,
		};

		r = request_new(&d, &g->rq);
		if (r < 0)
			return r;
	}
	r = queue_new(RESULTS_QUEUE_LEN, sizeof(struct poll_result), &g->results);
	if (r < 0)
		return r;
	for (i = 0; i < g->cfg->n_buses; i++) {
		r = poller_start(g->cfg, (int)i, g->results, &g->pollers[i]);
		if (r < 0) {
			log_error("cannot start bus '%s': %s", g->cfg->buses[i].id, strerror(-r));
			return r;
		}
	}
	/* the integrity check runs once the buses are polled (their results
	 * wait in the queue) */
	if (store_unclean(g->st)) {
		store *st = g->st;

		r = recovery_after_unclean(g->cfg, &st, g->ob, note, sizeof(note));
		if (r < 0)
			return r;
		if (r == 1) {
			use_store(g, st);
			journal_db_replaced(g->j, note);
			/* the points' states go into the new database too */
			for (i = 0; i < g->cfg->n_devices; i++)
				for (j = 0; j < g->cfg->devices[i].n_points; j++)
					site_point_save(&g->site, g->st, (int)i, (int)j);
		}
	}
	/* the inspector reads the database that recovery left (a corrupt one
	 * may just have been replaced); the last compliance status published
	 * stands until the next one */
	store_compliance_at(g->st, util_wall_ms(), comp_last_cb, g);
	r = inspector_start(g->cfg, &g->insp);
	if (r < 0) {
		log_error("cannot start the inspector thread: %s", strerror(-r));
		return r;
	}
	request_set_inspector(g->rq, g->insp);
	r = control_open(g->cfg->runtime_dir, &g->ctl);
	if (r == -EADDRINUSE)
		log_error("control socket '%s/%s' belongs to another running daemon (another "
			  "database, same runtime directory); left alone: reset, probe and scan "
			  "through this daemon are unavailable",
			  g->cfg->runtime_dir, CONTROL_SOCKET_NAME);
	else if (r < 0)
		log_warning("no control socket in '%s' (%s): reset, probe and scan through the "
			    "daemon are unavailable",
			    g->cfg->runtime_dir, strerror(-r));
	else {
		control_set_gone(g->ctl, on_client_gone, g);
		request_set_control(g->rq, g->ctl);
	}
	return 0;
}

static void gw_stop(struct gw *g)
{
	size_t i;

	for (i = 0; i < CONFIG_MAX_BUSES; i++)
		poller_stop(g->pollers[i]);
	inspector_stop(g->insp);
	if (g->results && g->j && g->rq)
		drain_results(g);
	if (g->u)
		uplink_offline(g->u, g->reload ? "reload" : "shutdown");
	uplink_free(g->u);
	publish_free(g->pub);
	request_free(g->rq);
	modes_free(g->m);
	health_free(g->h);
	journal_free(g->j); /* writes what it holds, and the exact high-water mark */
	store_free(g->st);
	readings_free(g->rd);
	control_free(g->ctl);
	queue_free(g->results);
	outbox_free(g->ob);
	if (g->cfg && g->site.devs)
		site_clear(&g->site);
	free(g->comp_last);
	if (!g->reload)
		instance_unlock();
}

/* ----------------------------------------------------------- main loop */

/* systemd's watchdog (WatchdogSec=): pinged from a timer of its own at half
 * the interval, independent of heartbeat_s (which may be up to an hour). */
static void watchdog_init(struct gw *g, uint64_t now)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		g->wd_half_ms = usec / 2000;
		g->next_wd = now;
		log_info("watchdog: pinging every %" PRIu64 " ms while every thread makes progress",
			 g->wd_half_ms);
	}
}

/* Pings only when every part made progress within half the interval: the
 * main loop (it is running this) and each bus thread. A stuck bus thread
 * stops the pings, and systemd restarts the daemon. An uplink that is down
 * but keeps scheduling its connect attempts is progress: a long broker
 * outage never restarts the daemon. */
static bool watchdog_healthy(struct gw *g)
{
	uint64_t now = util_mono_ms();
	size_t i;

	for (i = 0; i < g->cfg->n_buses; i++) {
		uint64_t seen = poller_progress_ms(g->pollers[i]);
		unsigned suppressed = 0;

		if (seen && now - seen <= g->wd_half_ms)
			continue;
		if (log_ratelimit_ok(&g->wd_rl, now, 10000, &suppressed))
			log_error("bus '%s': its thread made no progress for %" PRIu64 " ms; not "
				  "pinging the watchdog, so the service manager restarts firegw "
				  "(%u more such checks since the last line)",
				  g->cfg->buses[i].id, now - seen, suppressed);
		return false;
	}
	return true;
}

static int timeout_until(uint64_t now, uint64_t due, int cur)
{
	int t;

	if (due <= now)
		return 0;
	t = due - now > INT_MAX ? INT_MAX : (int)(due - now);
	return t < cur ? t : cur;
}

/* SIGHUP (mosquitto's config_reload): the new file is parsed and checked
 * first; only a valid one replaces the running configuration, by a clean
 * stop and a re-exec of the daemon. Every state that matters (latches,
 * open faults, the outbox) is in SQLite, so nothing is lost and no event is
 * repeated; the center sees one offline/online pair with reason "reload". */
static void reload_request(struct gw *g)
{
	struct errlist errs = { 0 };
	struct config *next = NULL;
	int r;

	r = config_load(g->cfg->path, config_builtin_profile_dir(), &errs, &next);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0) {
		log_error("SIGHUP: '%s' is not valid; keeping the running configuration (fix it, "
			  "check with firegw check -c %s)",
			  g->cfg->path, g->cfg->path);
		return;
	}
	if (strcmp(next->sha256, g->cfg->sha256) == 0) {
		log_notice("SIGHUP: '%s' unchanged; nothing to reload", g->cfg->path);
		config_free(next);
		return;
	}
	config_free(next);
	/* events held in memory would not survive the exec: written first,
	 * or the reload waits */
	if (journal_n_held(g->j))
		journal_flush_held(g->j);
	if (journal_n_held(g->j)) {
		log_error("SIGHUP: '%s' changed and is valid, but %zu event(s) are held in memory "
			  "while database '%s' refuses writes; not reloading now, send SIGHUP again "
			  "once the storage fault is over",
			  g->cfg->path, journal_n_held(g->j), g->cfg->storage.path);
		return;
	}
	log_notice("SIGHUP: '%s' changed and is valid; restarting with it", g->cfg->path);
	g->reload = true;
	g->stop = true;
}

static void handle_signal(struct gw *g)
{
	struct signalfd_siginfo si;

	while (read(g->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_notice("stopping on signal %u", si.ssi_signo);
			g->stop = true;
			break;
		case SIGHUP:
			reload_request(g);
			break;
		default:
			break;
		}
	}
}

static uint64_t telemetry_period_ms(const struct gw *g)
{
	return (uint64_t)(g->cfg->mqtt.telemetry_s ? g->cfg->mqtt.telemetry_s : 60) * 1000u;
}

static void gw_loop(struct gw *g)
{
	struct pollfd fds[4 + 1 + CONTROL_MAX_CLIENTS];
	uint64_t now = util_mono_ms();

	g->next_heartbeat = now + (uint64_t)g->cfg->mqtt.heartbeat_s * 1000u;
	g->next_telemetry = now + telemetry_period_ms(g);
	g->next_tick = now + 1000;
	watchdog_init(g, now);
	while (!g->stop) {
		size_t n = 0, nctl = 0;
		int timeout = 1000;

		now = util_mono_ms();
		uplink_tick(g->u, now);
		uplink_pump(g->u);

		fds[n++] = (struct pollfd){ .fd = g->sfd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = queue_fd(g->results), .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = publish_fd(g->pub), .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = inspector_fd(g->insp), .events = POLLIN };
		if (g->ctl) {
			nctl = control_pollfds(g->ctl, &fds[n]);
			n += nctl;
		}
		timeout = uplink_timeout(g->u, now, timeout);
		timeout = timeout_until(now, g->next_heartbeat, timeout);
		timeout = timeout_until(now, g->next_telemetry, timeout);
		timeout = timeout_until(now, g->next_tick, timeout);
		if (g->wd_half_ms)
			timeout = timeout_until(now, g->next_wd, timeout);

		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			handle_signal(g);
		drain_results(g);
		uplink_drain_notes(g->u, NOTES_PER_PASS);
		drain_inspector(g);
		if (g->ctl && nctl)
			control_dispatch(g->ctl, &fds[4], nctl, on_control, g);

		now = util_mono_ms();
		if (now >= g->next_tick) {
			int r = store_tick(g->st, now);

			if (r < 0)
				log_debug("readings not written this second: %s", strerror(-r));
			if (health_tick(g->h, now)) {
				uplink_status_dirty(g->u);
				if (!health_time_synced(g->h))
					comp_republish_unsynced(g, util_wall_ms());
			}
			modes_tick(g->m, now);
			request_tick(g->rq, now);
			g->next_tick = now + 1000;
		}
		if (now >= g->next_heartbeat) {
			struct mallinfo2 mi = mallinfo2();

			/* for soak runs (-v): heap in use, to tell a leak from
			 * pages touched for the first time */
			log_debug("heap in use %zu KiB, %zu held, %zu waiting, %zu in flight",
				  mi.uordblks / 1024, journal_n_held(g->j), outbox_count(g->ob),
				  uplink_inflight(g->u));
			uplink_status_dirty(g->u);
			g->next_heartbeat = now + (uint64_t)g->cfg->mqtt.heartbeat_s * 1000u;
		}
		if (g->wd_half_ms && now >= g->next_wd) {
			if (watchdog_healthy(g))
				sd_notify(0, "WATCHDOG=1");
			g->next_wd = now + g->wd_half_ms;
		}
		if (now >= g->next_telemetry) {
			telemetry_tick(g);
			g->next_telemetry = now + telemetry_period_ms(g);
		}
	}
}

int gateway_run(const char *config_path)
{
	struct errlist errs = { 0 };
	struct gw g = { .sfd = -1 };
	sigset_t mask;
	int r, status = 0;

	r = config_load(config_path, config_builtin_profile_dir(), &errs, &g.cfg);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0) {
		log_error("configuration '%s' is not valid; fix the errors above (firegw check -c %s)",
			  config_path, config_path);
		return 1;
	}
	/* people read the site's local time (records' days, reports):
	 * set before any thread exists */
	setenv("TZ", g.cfg->site.timezone, 1);
	tzset();
	/* one malloc arena for every thread: the threads allocate little
	 * (paho per message, the main loop per event), and per-thread arenas
	 * would each keep their own free pages resident (SPEC §8 memory) */
	mallopt(M_ARENA_MAX, 1);
	/* before any thread exists (paho's, the pollers'): they inherit it */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	g.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (g.sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		config_free(g.cfg);
		return 2;
	}
	r = gw_start(&g);
	if (r < 0) {
		status = 2;
		goto out;
	}
	log_notice("firegw %s running: site '%s', %zu devices on %zu buses, epoch %s, last seq %" PRIu64,
		   FIREGW_VERSION, g.cfg->site.id, g.cfg->n_devices, g.cfg->n_buses,
		   store_epoch(g.st), journal_last_seq(g.j));
	/* systemd's notify protocol: ready once the database is open, the
	 * state restored and the configuration applied; a reload is a
	 * re-exec of this same PID, which says READY=1 again when done */
	sd_notifyf(0, "READY=1\nSTATUS=site '%s': %zu devices on %zu buses, epoch %s, last seq %" PRIu64,
		   g.cfg->site.id, g.cfg->n_devices, g.cfg->n_buses, store_epoch(g.st),
		   journal_last_seq(g.j));
	gw_loop(&g);
	sd_notify(0, g.reload ? "RELOADING=1\nSTATUS=reloading: the configuration changed"
			      : "STOPPING=1\nSTATUS=stopping");
	if (g.reload)
		status = GATEWAY_RELOAD;
out:
	gw_stop(&g);
	close(g.sfd);
	config_free(g.cfg);
	return status;
}
