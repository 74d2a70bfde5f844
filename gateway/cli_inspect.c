/* cli_inspect.c - the inspectors' commands (SPEC §6, §7): compliance (now,
 * as published at a date, or recomputed as of a date), verify (the tamper
 * evidence chain, and a head published earlier), report (a period as JSON,
 * CSV or HTML). All read-only: they open the database read-only and work
 * with or without the daemon. People read local time (site.timezone) and
 * Vietnamese by default (--lang en). Main thread of the calling process. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance_data.h"
#include "config.h"
#include "report.h"
#include "sitetime.h"
#include "store.h"
#include "util.h"

static int lang_ok(const char *cmd, const char *v)
{
	if (strcmp(v, "vi") == 0 || strcmp(v, "en") == 0)
		return 0;
	cli_usage_error(cmd, "--lang takes vi or en");
	return -EINVAL;
}

/* --at: a day (YYYY-MM-DD, its end in the site's time) or an RFC 3339
 * UTC time. */
static int parse_at(const char *s, int64_t *ret)
{
	int64_t d;

	if (strlen(s) == 10 && sitetime_parse_date(s, &d) == 0) {
		int y, m, dd;

		sitetime_date(d + 36 * 3600 * 1000, &y, &m, &dd);
		if (sitetime_local_ms(y, m, dd, &d) < 0)
			return -EINVAL;
		*ret = d - 1;
		return 0;
	}
	return util_parse_rfc3339(s, ret);
}

/* ------------------------------------------------------- compliance */

static const char *item_label_key(const char *item)
{
	return strcmp(item, "faults") == 0 ? "faults_item" : item;
}

static void local_day(const json_t *o, const char *key, char *buf, size_t len)
{
	int64_t ms;

	if (util_parse_rfc3339(json_string_value(json_object_get(o, key)), &ms) < 0) {
		snprintf(buf, len, "-");
		return;
	}
	sitetime_format(ms, "%Y-%m-%d", buf, len);
}

/* Prints s padded to width characters (UTF-8 aware: Vietnamese labels). */
static void padded(const char *s, int width)
{
	int n = 0;
	const char *p;

	for (p = s; *p; p++)
		n += ((unsigned char)*p & 0xc0) != 0x80;
	fputs(s, stdout);
	for (; n < width; n++)
		putchar(' ');
	putchar(' ');
}

/* One table from the published form, whichever way it was obtained. */
static void print_compliance(const json_t *st, const char *lang, const char *how)
{
	static const char *const items[] = {
	    "system_test", "maintenance", "self_inspection", "police_inspection",
	    "device_test", "faults",	  "disablements",    "uplink",
	    "clock",	   "storage"};
	const json_t *it = json_object_get(st, "items"), *ch = json_object_get(st, "chain");
	const char *overall = json_string_value(json_object_get(st, "overall"));
	char ts[40], last[16], due[16], detail[300];
	int64_t ms = 0;
	size_t i;

	util_parse_rfc3339(json_string_value(json_object_get(st, "ts")), &ms);
	printf("%s: %s   (%s %s, %s)\n", report_label(lang, "overall"),
	       report_label(lang, overall ? overall : "?"),
	       sitetime_format(ms, "%Y-%m-%d %H:%M %Z", ts, sizeof(ts)), how,
	       json_is_false(json_object_get(st, "time_synced")) ? "time_synced: false"
								 : "time_synced: true");
	padded(report_label(lang, "item"), 28);
	padded(report_label(lang, "status"), 14);
	padded(report_label(lang, "last"), 12);
	padded(report_label(lang, "due"), 10);
	printf("%s\n", report_label(lang, "detail"));
	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		const json_t *e = json_object_get(it, items[i]);
		const char *s = json_string_value(json_object_get(e, "status"));

		local_day(e, "last", last, sizeof(last));
		local_day(e, "due", due, sizeof(due));
		padded(report_label(lang, item_label_key(items[i])), 28);
		padded(report_label(lang, s ? s : "?"), 14);
		padded(last, 12);
		padded(due, 10);
		printf("%s\n", report_item_detail(lang, items[i], e, detail, sizeof(detail)));
	}
	if (ch)
		printf("%s: %" JSON_INTEGER_FORMAT ":%s\n", report_label(lang, "chain_head"),
		       json_integer_value(json_object_get(ch, "seq")),
		       json_string_value(json_object_get(ch, "sha256")) ?: "");
}

struct published {
	json_t *st;
};

static int published_cb(void *ud, const struct store_compliance_row *row)
{
	struct published *p = ud;

	p->st = json_loadb(row->payload, row->payload_len, 0, NULL);
	return 0;
}

int cli_compliance(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"at", required_argument, NULL, 'a'},
					     {"recompute", no_argument, NULL, 'r'},
					     {"format", required_argument, NULL, 'f'},
					     {"lang", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *path = CONFIG_DEFAULT_PATH, *lang = "vi", *at_s = NULL;
	bool json = false, recompute = false;
	struct comp_gathered *g = NULL;
	struct comp_result res;
	struct config *c;
	json_t *st = NULL;
	int64_t at = 0;
	store *s;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'a':
			at_s = optarg;
			break;
		case 'r':
			recompute = true;
			break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
				cli_usage_error("compliance", "--format takes table or json");
				return 2;
			}
			json = strcmp(optarg, "json") == 0;
			break;
		case 'l':
			if (lang_ok("compliance", optarg) < 0)
				return 2;
			lang = optarg;
			break;
		case 'h':
			printf(
			    "Usage: firegw compliance [-c FILE] [--at DATE [--recompute]]\n"
			    "                         [--format table|json] [--lang vi|en]\n"
			    "Shows the inspection-compliance status (SPEC §6), read-only:\n"
			    "  no --at          evaluated now from the stored history\n"
			    "  --at DATE        as published then (the last status at or before\n"
			    "                   DATE: YYYY-MM-DD is the end of that day, site "
			    "time,\n"
			    "                   or 2026-06-01T10:00:00Z)\n"
			    "  --at DATE --recompute  the stored history evaluated as of DATE\n"
			    "Exit 0 compliant or due soon, 1 non-compliant or nothing "
			    "published.\n");
			return 0;
		default:
			cli_usage_error("compliance", "unknown option");
			return 2;
		}
	}
	if (optind < argc) {
		cli_usage_error("compliance", "unexpected argument");
		return 2;
	}
	if (recompute && !at_s) {
		cli_usage_error("compliance",
				"--recompute needs --at DATE (without --at the status "
				"is evaluated now)");
		return 2;
	}
	r = cli_open_readonly(path, &c, &s);
	if (r)
		return r;
	sitetime_use(c->site.timezone);
	if (at_s && parse_at(at_s, &at) < 0) {
		cli_usage_error("compliance",
				"--at takes a day YYYY-MM-DD or 2026-06-01T10:00:00Z");
		r = 2;
		goto out;
	}
	if (at_s && !recompute) {
		struct published p = {NULL};

		r = store_compliance_at(s, at, published_cb, &p);
		if (r == -ENOENT) {
			fprintf(stderr,
				"firegw compliance: no status was published at or before %s "
				"(try --recompute)\n",
				at_s);
			r = 1;
			goto out;
		}
		if (r < 0 || !p.st) {
			fprintf(stderr,
				"firegw compliance: cannot read the compliance history: %s\n",
				strerror(r < 0 ? -r : EBADMSG));
			json_decref(p.st);
			r = 2;
			goto out;
		}
		st = p.st;
	} else {
		if (!at_s)
			at = util_wall_ms();
		r = compliance_gather(s, c, at, 0, &g);
		if (r == 0)
			r = compliance_evaluate(&g->in, &res);
		if (r < 0) {
			fprintf(stderr, "firegw compliance: cannot evaluate: %s\n", strerror(-r));
			r = 2;
			goto out;
		}
		st = compliance_to_json(c, g, &res, g->in.clock_synced);
	}
	if (!st) {
		r = 2;
		goto out;
	}
	if (json) {
		char *txt = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", txt ? txt : "null");
		free(txt);
	} else {
		print_compliance(st, lang,
				 !at_s ? (strcmp(lang, "en") ? "đánh giá lúc này" : "evaluated now")
				 : recompute
				     ? (strcmp(lang, "en") ? "tính lại" : "recomputed")
				     : (strcmp(lang, "en") ? "đã công bố" : "as published"));
	}
	{
		const char *ov = json_string_value(json_object_get(st, "overall"));

		r = ov && strcmp(ov, "non_compliant") == 0 ? 1 : 0;
	}
out:
	json_decref(st);
	compliance_gathered_free(g);
	store_free(s);
	config_free(c);
	return r;
}

/* ------------------------------------------------------------- verify */

int cli_verify(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"head", required_argument, NULL, 'H'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *path = CONFIG_DEFAULT_PATH, *head_s = NULL;
	struct store_chain_head claim = {0};
	struct store_verify v;
	char hex[2 * STORE_HASH_LEN + 1];
	struct config *c;
	store *s;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'H':
			head_s = optarg;
			break;
		case 'h':
			printf(
			    "Usage: firegw verify [-c FILE] [--head SEQ:HASH]\n"
			    "Walks the tamper-evidence chain of the database (SPEC §5): every\n"
			    "event's hash = SHA-256(previous hash || seq || payload). Names the\n"
			    "first broken link. --head SEQ:HASH (from the retained compliance\n"
			    "message the command center holds, field chain) also proves that\n"
			    "head is still a link of today's chain.\n"
			    "Exit 0 intact, 1 broken or the head does not match, 2 usage.\n");
			return 0;
		default:
			cli_usage_error("verify", "unknown option");
			return 2;
		}
	}
	if (optind < argc) {
		cli_usage_error("verify", "unexpected argument");
		return 2;
	}
	if (head_s) {
		const char *colon = strchr(head_s, ':');
		char num[24];
		long seq;

		if (!colon || (size_t)(colon - head_s) >= sizeof(num)) {
			cli_usage_error("verify",
					"--head takes SEQ:HASH, e.g. 1042:9f86d081...(64 hex "
					"digits)");
			return 2;
		}
		memcpy(num, head_s, (size_t)(colon - head_s));
		num[colon - head_s] = '\0';
		if (util_parse_long(num, 1, LONG_MAX, &seq) < 0) {
			cli_usage_error("verify", "--head: SEQ must be a whole number from 1");
			return 2;
		}
		if (store_hash_parse(colon + 1, claim.hash) < 0) {
			cli_usage_error("verify", "--head: HASH must be 64 hexadecimal digits");
			return 2;
		}
		claim.seq = (uint64_t)seq;
	}
	r = cli_open_readonly(path, &c, &s);
	if (r)
		return r;
	r = store_chain_verify(s, head_s ? &claim : NULL, &v);
	if (r < 0) {
		fprintf(stderr, "firegw verify: cannot verify '%s': %s%s\n", c->storage.path,
			strerror(-r),
			r == -EPROTO ? " (a database older than the chain: start the daemon once "
				       "to upgrade it)"
				     : "");
		r = 2;
		goto out;
	}
	printf("database: %s (epoch %s)\n", c->storage.path, store_epoch(s));
	printf("checked: %" PRIu64 " link(s) from seq %" PRIu64 "\n", v.checked, v.first_seq);
	printf("head: %" PRIu64 ":%s\n", v.head.seq, store_hash_hex(v.head.hash, hex));
	r = 0;
	if (v.bad_seq) {
		printf("BROKEN: first broken link at seq %" PRIu64 ": %s\n", v.bad_seq, v.why);
		r = 1;
	} else {
		printf("chain: intact\n");
	}
	if (head_s) {
		if (v.head_checked && v.head_ok) {
			printf("claimed head %" PRIu64 ": matches (a link of today's chain)\n",
			       claim.seq);
		} else {
			printf("claimed head %" PRIu64 ": DOES NOT MATCH%s%s\n", claim.seq,
			       v.why[0] && !v.bad_seq ? ": " : "", !v.bad_seq ? v.why : "");
			r = 1;
		}
	}
out:
	store_free(s);
	config_free(c);
	return r;
}

/* ------------------------------------------------------------- report */

int cli_report(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"period", required_argument, NULL, 'p'},
					     {"format", required_argument, NULL, 'f'},
					     {"output", required_argument, NULL, 'o'},
					     {"lang", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *path = CONFIG_DEFAULT_PATH, *period = NULL, *fmt = "json", *out = NULL;
	const char *lang = "vi";
	char err[200], *txt = NULL;
	int64_t from = 0, to = 0;
	size_t len = 0;
	struct config *c;
	json_t *rep = NULL;
	FILE *f;
	store *s;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:p:f:o:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'p':
			period = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "csv") != 0 &&
			    strcmp(optarg, "html") != 0) {
				cli_usage_error("report", "--format takes json, csv or html");
				return 2;
			}
			fmt = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			if (lang_ok("report", optarg) < 0)
				return 2;
			lang = optarg;
			break;
		case 'h':
			printf(
			    "Usage: firegw report [-c FILE] --period P [--format json|csv|html]\n"
			    "                     [-o FILE] [--lang vi|en]\n"
			    "The period report for inspectors (SPEC §6), read-only. P is 2026,\n"
			    "2026-H1, 2026-H2, 2026-11 or 2026-01-01..2026-03-31 (days in the\n"
			    "site's time zone, both included). JSON (the default) is the data,\n"
			    "in UTC; CSV (RFC 4180, times local with their offset) and HTML (one\n"
			    "self-contained page, A4) show local times. -o writes FILE instead of\n"
			    "standard output.\n");
			return 0;
		default:
			cli_usage_error("report", "unknown option");
			return 2;
		}
	}
	if (optind < argc) {
		cli_usage_error("report", "unexpected argument");
		return 2;
	}
	if (!period) {
		cli_usage_error("report", "--period is required (2026, 2026-H1, 2026-11 or "
					  "2026-01-01..2026-03-31)");
		return 2;
	}
	r = cli_open_readonly(path, &c, &s);
	if (r)
		return r;
	sitetime_use(c->site.timezone);
	if (report_period_parse(period, &from, &to, err, sizeof(err)) < 0) {
		cli_usage_error("report", err);
		r = 2;
		goto out_close;
	}
	r = report_build(s, c, from, to, lang, 0, &rep);
	if (r < 0) {
		fprintf(stderr, "firegw report: cannot build the report: %s\n", strerror(-r));
		r = 2;
		goto out_close;
	}
	if (strcmp(fmt, "csv") == 0)
		txt = report_csv(rep, &len);
	else if (strcmp(fmt, "html") == 0)
		txt = report_html(rep, &len);
	else {
		txt = json_dumps(rep, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		len = txt ? strlen(txt) : 0;
	}
	if (!txt) {
		fprintf(stderr, "firegw report: out of memory\n");
		r = 2;
		goto out_free;
	}
	f = out ? fopen(out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "firegw report: cannot write '%s': %s\n", out, strerror(errno));
		r = 2;
		goto out_free;
	}
	if (fwrite(txt, 1, len, f) != len || (strcmp(fmt, "json") == 0 && fputc('\n', f) == EOF) ||
	    (out && fclose(f) != 0)) {
		fprintf(stderr, "firegw report: cannot write '%s': %s\n", out ? out : "stdout",
			strerror(errno));
		r = 2;
		goto out_free;
	}
	r = 0;
out_free:
	free(txt);
	json_decref(rep);
out_close:
	store_free(s);
	config_free(c);
	return r;
}
