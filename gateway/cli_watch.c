/* cli_watch.c - `firegw watch`: subscribes to a site like the command
 * center and prints one line per event and a table of device states when
 * they change. Needs only the broker: no database, no daemon. Runs in the
 * calling process's main thread; paho's callbacks only enqueue (publish.c).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "config.h"
#include "publish.h"
#include "util.h"

static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

struct watch_dev {
	char topic[256];
	json_t *state;
};

/* Every text in the table came from a message: escaped (cli_text). */
static void print_state_table(FILE *f, struct watch_dev *devs, size_t n)
{
	char b1[200], b2[64];
	size_t i;

	fprintf(f, "  +-- states ---------------------------------------------------------\n");
	for (i = 0; i < n; i++) {
		json_t *s = devs[i].state, *pts = json_object_get(s, "points"), *p;
		const char *name;

		fprintf(f, "  | %-16s", cli_json_text(s, "device", "?", b1, sizeof(b1)));
		fprintf(f, " %-9s", cli_json_text(s, "state", "?", b2, sizeof(b2)));
		json_object_foreach(pts, name, p) {
			json_t *conds = json_object_get(p, "conditions");
			json_t *v = json_object_get(json_object_get(p, "value"), "value");
			const char *state = json_string_value(json_object_get(p, "state"));
			size_t k;

			fprintf(f, " %s", cli_text(name, "?", b1, sizeof(b1)));
			fprintf(f, "=%s", cli_text(state, "?", b2, sizeof(b2)));
			if (json_is_number(v))
				fprintf(f, "(%.2f)", json_number_value(v));
			for (k = 0; k < json_array_size(conds); k++) {
				const char *cond = json_string_value(json_array_get(conds, k));

				if (cond && strcmp(cond, state ? state : "") != 0)
					fprintf(f, "+%s", cli_text(cond, "?", b2, sizeof(b2)));
			}
			if (json_is_true(json_object_get(p, "latched")))
				fprintf(f, "[latched]");
		}
		fprintf(f, "\n");
	}
	fprintf(f, "  +-------------------------------------------------------------------\n");
}

int cli_watch(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "uri", required_argument, NULL, 'u' },
					      { "prefix", required_argument, NULL, 'p' },
					      { "site", required_argument, NULL, 's' },
					      { "count", required_argument, NULL, 'n' },
					      { "timeout", required_argument, NULL, 't' },
					      { "no-table", no_argument, NULL, 'T' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *path = NULL, *uri = NULL, *prefix = NULL, *site = NULL;
	long count = 0, timeout_s = 0, seen = 0;
	bool table = true;
	struct config *c = NULL;
	struct publish_opts po = { 0 };
	struct watch_dev devs[256];
	size_t n_devs = 0, i;
	char sub[512], client_id[64];
	const char *subs[1] = { sub };
	publisher *p = NULL;
	uint64_t deadline;
	int o, r, status = 0;
	bool table_dirty = false;
	uint64_t last_msg = 0, last_table = 0;
	long seen_at_table = -1;

	while ((o = getopt_long(argc, argv, "c:u:p:s:n:t:Th", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'u':
			uri = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 's':
			site = optarg;
			break;
		case 'n':
			if (util_parse_long(optarg, 1, 1000000000, &count) < 0) {
				cli_usage_error("watch", "--count takes a whole number from 1");
				return 2;
			}
			break;
		case 't':
			if (util_parse_long(optarg, 1, 86400 * 365, &timeout_s) < 0) {
				cli_usage_error("watch", "--timeout takes seconds from 1");
				return 2;
			}
			break;
		case 'T':
			table = false;
			break;
		case 'h':
			printf("Usage: firegw watch [-c FILE] [--uri URI] [--prefix P] [--site S|+]\n"
			       "                    [--count N] [--timeout S] [--no-table]\n"
			       "Subscribes like the command center: one line per event (alarm,\n"
			       "fault, test, gateway) and a table of device states when they change.\n"
			       "Broker, prefix and site come from the configuration unless given.\n");
			return 0;
		default:
			cli_usage_error("watch", "unknown option");
			return 2;
		}
	}
	if (!uri || !prefix || !site) {
		c = cli_load_config(path ? path : CONFIG_DEFAULT_PATH);
		if (!c)
			return 2;
		uri = uri ? uri : c->mqtt.uri;
		prefix = prefix ? prefix : c->mqtt.topic_prefix;
		site = site ? site : c->site.id;
	}
	snprintf(sub, sizeof(sub), "%s/%s/#", prefix, site);
	snprintf(client_id, sizeof(client_id), "firegw-watch-%d", (int)getpid());
	po.uri = uri;
	po.client_id = client_id;
	po.version = 3;
	po.keepalive_s = 20;
	po.inflight = 16;
	po.subscriptions = subs;
	po.n_subscriptions = 1;
	r = publish_new(&po, &p);
	if (r < 0) {
		fprintf(stderr, "firegw watch: cannot create an MQTT client for '%s'\n", uri);
		config_free(c);
		return 2;
	}
	signal(SIGINT, watch_signal);
	signal(SIGTERM, watch_signal);
	publish_connect(p);
	deadline = timeout_s ? util_mono_ms() + (uint64_t)timeout_s * 1000u : UINT64_MAX;
	fprintf(stderr, "watching %s on %s (Ctrl-C to stop)\n", sub, uri);
	while (!watch_stop && util_mono_ms() < deadline && (!count || seen < count)) {
		struct pollfd pfd = { .fd = publish_fd(p), .events = POLLIN };
		struct publish_note n;

		if (poll(&pfd, 1, 500) < 0 && errno != EINTR)
			break;
		while (publish_next(p, &n)) {
			if (n.kind == PNOTE_CONNECT_FAILED || n.kind == PNOTE_CONNECTION_LOST) {
				fprintf(stderr, "firegw watch: '%s': %s; retrying\n", uri, n.text);
				sleep(1); /* interactive tool: a plain pause between attempts */
				publish_connect(p);
			} else if (n.kind == PNOTE_READY) {
				publish_connect(p); /* -EBUSY above: the old client is gone now */
			} else if (n.kind == PNOTE_MESSAGE) {
				const char *t = n.topic + strlen(prefix) + 1;

				last_msg = util_mono_ms();
				json_t *js = n.len ? json_loadb(n.payload, n.len, 0, NULL) : NULL;

				t = strchr(t, '/') ? strchr(t, '/') + 1 : t;
				if (strncmp(t, "state/", 6) == 0 && js) {
					for (i = 0; i < n_devs; i++)
						if (strcmp(devs[i].topic, n.topic) == 0)
							break;
					if (i == n_devs && n_devs < ARRAY_SIZE(devs)) {
						util_strlcpy(devs[i].topic, n.topic, sizeof(devs[i].topic));
						devs[i].state = NULL;
						n_devs++;
					}
					if (i < n_devs) {
						json_decref(devs[i].state);
						devs[i].state = json_incref(js);
						table_dirty = true;
					}
				} else if (js && json_object_get(js, "event_id")) {
					cli_print_event_line(stdout, n.topic, js);
					seen++;
				} else if (strncmp(t, "status", 6) == 0 && js) {
					char ts[64], st[64];

					printf("%s  STATUS   %s  last_seq %" JSON_INTEGER_FORMAT
					       "  backlog %" JSON_INTEGER_FORMAT "\n",
					       cli_json_text(js, "ts", "-", ts, sizeof(ts)),
					       cli_json_text(js, "state", "?", st, sizeof(st)),
					       json_integer_value(json_object_get(js, "last_seq")),
					       json_integer_value(json_object_get(
						       json_object_get(js, "backlog"), "events")));
				}
				json_decref(js);
				fflush(stdout);
			}
			publish_note_clear(&n);
		}
		/* the table after a burst settles (1 s quiet), at most every 10 s
		 * unless an event came: a person reads it, not a parser */
		if (table && table_dirty && util_mono_ms() - last_msg >= 1000 &&
		    (seen != seen_at_table || util_mono_ms() - last_table >= 10000)) {
			print_state_table(stdout, devs, n_devs);
			fflush(stdout);
			table_dirty = false;
			last_table = util_mono_ms();
			seen_at_table = seen;
		}
	}
	if (count && seen < count)
		status = 1;
	for (i = 0; i < n_devs; i++)
		json_decref(devs[i].state);
	publish_free(p);
	config_free(c);
	return status;
}
