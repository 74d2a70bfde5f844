/* report_html.c - the report (report.h) as one self-contained HTML page a
 * person reads on screen and prints on A4: inline CSS, inline SVG timelines
 * (each device's worst state over the period, the compliance status), no
 * script and no external resource, so it renders the same offline. Every
 * text that comes from outside (names, locations, notes) is HTML-escaped.
 * Long lists are cut in the page (the JSON and CSV keep everything) so a
 * year prints on a bounded number of pages. Dates in the site's time zone
 * (selected by report_build through sitetime.h). */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sitetime.h"
#include "util.h"

#define MAX_ROWS_ALARMS 200
#define MAX_ROWS_FAULTS 60
#define MAX_ROWS_RECORDS 200
#define MAX_ROWS_POINTS 300
#define MAX_TIMELINE_DEVICES 60

/* SVG geometry (user units) */
#define SVG_W 1000
#define SVG_LABEL 170
#define SVG_ROW 17

struct html {
	struct report_buf b;
	const char *lang;
	int64_t from, to;
};

static const char *L(const struct html *h, const char *key)
{
	return report_label(h->lang, key);
}

static const char *S(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static long long I(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static int64_t ms_of(const json_t *o, const char *key)
{
	int64_t ms = 0;

	if (util_parse_rfc3339(S(o, key), &ms) < 0)
		return 0;
	return ms;
}

static void esc(struct html *h, const char *s)
{
	report_buf_html(&h->b, s);
}

static void put(struct html *h, const char *s)
{
	report_buf_puts(&h->b, s);
}

/* A time of the data (UTC) as people read it (local). */
static void local_time(struct html *h, const json_t *o, const char *key, bool with_time)
{
	char buf[40];
	int64_t ms = ms_of(o, key);

	if (!ms) {
		put(h, "&ndash;");
		return;
	}
	put(h, sitetime_format(ms, with_time ? "%d/%m/%Y %H:%M" : "%d/%m/%Y", buf, sizeof(buf)));
}

static void duration(struct html *h, long long s)
{
	bool vi = strcmp(h->lang, "en") != 0;

	if (s >= 86400)
		report_buf_printf(&h->b, vi ? "%lld ngày %lld giờ" : "%lld d %lld h", s / 86400,
				  (s % 86400) / 3600);
	else if (s >= 3600)
		report_buf_printf(&h->b, vi ? "%lld giờ %lld phút" : "%lld h %lld min", s / 3600,
				  (s % 3600) / 60);
	else
		report_buf_printf(&h->b, vi ? "%lld phút %lld giây" : "%lld min %lld s", s / 60,
				  s % 60);
}

static const char *state_color(const char *st)
{
	if (strcmp(st, "alarm") == 0)
		return "#c62828";
	if (strcmp(st, "prealarm") == 0)
		return "#ef6c00";
	if (strcmp(st, "fault") == 0)
		return "#f9a825";
	if (strcmp(st, "test") == 0)
		return "#1565c0";
	if (strcmp(st, "disabled") == 0)
		return "#616161";
	if (strcmp(st, "non_compliant") == 0)
		return "#c62828";
	if (strcmp(st, "due_soon") == 0 || strcmp(st, "overdue") == 0)
		return "#f9a825";
	return "#2e7d32"; /* normal, compliant, ok */
}

static const char *status_label(const struct html *h, const char *st)
{
	char key[32];

	if (strcmp(st, "alarm") == 0 || strcmp(st, "prealarm") == 0 || strcmp(st, "fault") == 0 ||
	    strcmp(st, "test") == 0 || strcmp(st, "disabled") == 0 || strcmp(st, "normal") == 0) {
		snprintf(key, sizeof(key), "st_%s", st);
		return report_label(h->lang, key[3] ? key : st);
	}
	return report_label(h->lang, st);
}

static double x_of(const struct html *h, int64_t ms)
{
	double span = (double)(h->to - h->from);

	if (ms < h->from)
		ms = h->from;
	if (ms > h->to)
		ms = h->to;
	return SVG_LABEL + (SVG_W - SVG_LABEL - 4) * (double)(ms - h->from) / (span > 0 ? span : 1);
}

/* Month (or week, for a short period) ticks under a timeline. */
static void svg_ticks(struct html *h, int y0, int y1)
{
	int y, m, d, i;
	int64_t t;
	char buf[16];
	bool weeks = h->to - h->from < 62 * 86400000LL;

	sitetime_date(h->from, &y, &m, &d);
	for (i = 0; i < 60; i++) {
		if (weeks) {
			t = h->from + (int64_t)i * 7 * 86400000LL;
		} else {
			if (sitetime_local_ms(y, m, 1, &t) < 0)
				break;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		if (t >= h->to)
			break;
		if (t < h->from)
			continue;
		report_buf_printf(
		    &h->b,
		    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"tick\"/>"
		    "<text x=\"%.1f\" y=\"%d\" class=\"tl\">%s</text>\n",
		    x_of(h, t), y0, x_of(h, t), y1, x_of(h, t) + 2, y1 + 11,
		    sitetime_format(t, weeks ? "%d/%m" : "%m/%Y", buf, sizeof(buf)));
	}
}

static void svg_segments(struct html *h, const json_t *segs, const char *key, int y, int hgt)
{
	size_t i;

	for (i = 0; i < json_array_size(segs); i++) {
		const json_t *s = json_array_get(segs, i);
		const char *st = S(s, key);
		double a = x_of(h, ms_of(s, "from")), z = x_of(h, ms_of(s, "to"));

		/* an alarm of minutes in a year still shows: at least 2.5 units */
		double min = strcmp(st, "alarm") == 0 || strcmp(st, "prealarm") == 0 ? 2.5 : 0.8;

		if (strcmp(st, "normal") == 0 || strcmp(st, "compliant") == 0)
			continue; /* the background */
		report_buf_printf(&h->b,
				  "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
				  "fill=\"%s\"><title>%s</title></rect>",
				  a, y, z - a < min ? min : z - a, hgt, state_color(st),
				  status_label(h, st));
	}
	put(h, "\n");
}

static void svg_legend(struct html *h, const char *const *states, size_t n, int y)
{
	double x = SVG_LABEL;
	size_t i;

	for (i = 0; i < n; i++) {
		report_buf_printf(&h->b,
				  "<rect x=\"%.0f\" y=\"%d\" width=\"10\" height=\"10\" "
				  "fill=\"%s\"/><text x=\"%.0f\" y=\"%d\" class=\"tl\">",
				  x, y, state_color(states[i]), x + 14, y + 10);
		esc(h, status_label(h, states[i]));
		put(h, "</text>");
		x += 120;
	}
	put(h, "\n");
}

static void more_rows(struct html *h, size_t n, size_t shown);

static void device_timeline(struct html *h, const json_t *rep)
{
	static const char *const states[] = {"normal", "alarm", "prealarm",
					     "fault",  "test",	"disabled"};
	const json_t *devs = json_object_get(rep, "timeline");
	size_t n = json_array_size(devs), i,
	       shown = n < MAX_TIMELINE_DEVICES ? n : MAX_TIMELINE_DEVICES;
	int height = (int)shown * SVG_ROW + 40;

	put(h, "<h2>");
	esc(h, L(h, "device_timeline"));
	put(h, "</h2>\n");
	report_buf_printf(
	    &h->b,
	    "<svg class=\"tlsvg\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "role=\"img\">\n",
	    SVG_W, height + 4);
	for (i = 0; i < shown; i++) {
		const json_t *d = json_array_get(devs, i);
		int y = (int)i * SVG_ROW;

		report_buf_printf(&h->b, "<text x=\"0\" y=\"%d\" class=\"dl\">", y + 12);
		esc(h, S(d, "device"));
		report_buf_printf(&h->b,
				  "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				  "fill=\"%s\"/>",
				  SVG_LABEL, y + 1, SVG_W - SVG_LABEL - 4, SVG_ROW - 3,
				  state_color("normal"));
		svg_segments(h, json_object_get(d, "segments"), "state", y + 1, SVG_ROW - 3);
	}
	svg_ticks(h, 0, (int)shown * SVG_ROW);
	svg_legend(h, states, ARRAY_SIZE(states), (int)shown * SVG_ROW + 24);
	put(h, "</svg>\n");
	if (n > shown) {
		more_rows(h, n, shown);
	}
}

static void compliance_timeline(struct html *h, const json_t *tl)
{
	static const char *const states[] = {"compliant", "due_soon", "non_compliant"};
	json_t *segs = json_array();
	size_t i;

	for (i = 0; i < json_array_size(tl); i++) {
		const json_t *e = json_array_get(tl, i), *nx = json_array_get(tl, i + 1);
		char to[UTIL_TS_LEN];

		util_rfc3339(nx ? ms_of(nx, "ts") : h->to, to);
		json_array_append_new(segs, json_pack("{s:s, s:s, s:s}", "from", S(e, "ts"), "to",
						      to, "overall", S(e, "overall")));
	}
	put(h, "<h2>");
	esc(h, L(h, "compliance_timeline"));
	put(h, "</h2>\n");
	report_buf_printf(
	    &h->b,
	    "<svg class=\"tlsvg\" viewBox=\"0 0 %d 62\" xmlns=\"http://www.w3.org/2000/svg\" "

	    "role=\"img\">\n<text x=\"0\" y=\"14\" class=\"dl\">",
	    SVG_W);
	esc(h, L(h, "overall"));
	report_buf_printf(&h->b,
			  "</text><rect x=\"%d\" y=\"2\" width=\"%d\" height=\"16\" "
			  "fill=\"%s\"/>",
			  SVG_LABEL, SVG_W - SVG_LABEL - 4,
			  json_array_size(tl) ? state_color("compliant") : "#bdbdbd");
	if (json_array_size(tl)) {
		/* before the first status published in the period: grey */
		int64_t first = ms_of(json_array_get(tl, 0), "ts");

		if (first > h->from)
			report_buf_printf(&h->b,
					  "<rect x=\"%d\" y=\"2\" width=\"%.2f\" height=\"16\" "
					  "fill=\"#bdbdbd\"/>",
					  SVG_LABEL, x_of(h, first) - SVG_LABEL);
	}
	svg_segments(h, segs, "overall", 2, 16);
	svg_ticks(h, 0, 20);
	svg_legend(h, states, ARRAY_SIZE(states), 42);
	put(h, "</svg>\n");
	if (!json_array_size(tl)) {
		put(h, "<p class=\"more\">");
		esc(h, L(h, "no_status"));
		put(h, "</p>\n");
	}
	json_decref(segs);
}

static void th(struct html *h, const char *const *keys, size_t n)
{
	size_t i;

	put(h, "<thead><tr>");
	for (i = 0; i < n; i++) {
		put(h, "<th>");
		esc(h, L(h, keys[i]));
		put(h, "</th>");
	}
	put(h, "</tr></thead>\n<tbody>\n");
}

static void more_rows(struct html *h, size_t n, size_t shown)
{
	if (n <= shown)
		return;
	report_buf_printf(&h->b, "<p class=\"more\">&hellip; %zu ", n - shown);
	esc(h, L(h, "and_more"));
	put(h, "</p>\n");
}

static void section(struct html *h, const char *key)
{
	put(h, "<h2>");
	esc(h, L(h, key));
	put(h, "</h2>\n");
}

static void none_p(struct html *h)
{
	put(h, "<p class=\"more\">");
	esc(h, L(h, "none"));
	put(h, "</p>\n");
}

static void point_id(struct html *h, const json_t *e)
{
	esc(h, S(e, "device"));
	if (S(e, "point")[0]) {
		put(h, ".");
		esc(h, S(e, "point"));
	}
}

static void alarms_table(struct html *h, const json_t *al)
{
	static const char *const cols[] = {"time",    "point", "zone",	 "location",
					   "cleared", "acked", "verdict"};
	const json_t *list = json_object_get(al, "list");
	size_t i, n = json_array_size(list);

	section(h, "alarms");
	if (!n) {
		none_p(h);
		return;
	}
	put(h, "<table>");
	th(h, cols, ARRAY_SIZE(cols));
	for (i = 0; i < n && i < MAX_ROWS_ALARMS; i++) {
		const json_t *a = json_array_get(list, i);
		const char *v = S(a, "verdict");

		put(h, "<tr><td>");
		local_time(h, a, "ts", true);
		put(h, "</td><td>");
		point_id(h, a);
		put(h, "</td><td>");
		esc(h, S(a, "zone"));
		if (I(a, "zone_no"))
			report_buf_printf(&h->b, " (%lld)", I(a, "zone_no"));
		put(h, "</td><td>");
		esc(h, S(a, "location"));
		put(h, "</td><td>");
		local_time(h, a, "cleared", true);
		put(h, "</td><td>");
		local_time(h, a, "acked", true);
		put(h, "</td><td>");
		esc(h, !v[0]			? L(h, "unverified")
		       : strcmp(v, "test") == 0 ? L(h, "test_verdict")
						: L(h, v));
		put(h, "</td></tr>\n");
	}
	put(h, "</tbody></table>\n");
	more_rows(h, n, MAX_ROWS_ALARMS);
}

static void spans_table(struct html *h, const char *key, const json_t *list, size_t max)
{
	static const char *const cols[] = {"point", "fault_type", "from", "to", "duration"};
	size_t i, n = json_array_size(list);

	section(h, key);
	if (!n) {
		none_p(h);
		return;
	}
	put(h, "<table>");
	th(h, cols, ARRAY_SIZE(cols));
	for (i = 0; i < n && i < max; i++) {
		const json_t *f = json_array_get(list, i);

		put(h, "<tr><td>");
		point_id(h, f);
		put(h, "</td><td>");
		esc(h, S(f, "type"));
		put(h, "</td><td>");
		local_time(h, f, "from", true);
		put(h, "</td><td>");
		if (json_is_true(json_object_get(f, "open")))
			esc(h, L(h, "open"));
		else
			local_time(h, f, "to", true);
		put(h, "</td><td>");
		duration(h, I(f, "duration_s"));
		put(h, "</td></tr>\n");
	}
	put(h, "</tbody></table>\n");
	more_rows(h, n, max);
}

static void compliance_table(struct html *h, const json_t *c)
{
	static const char *const cols[] = {"item", "status", "last", "due", "detail"};
	static const char *const items[] = {
	    "system_test", "maintenance", "self_inspection", "police_inspection",
	    "device_test", "faults",	  "disablements",    "uplink",
	    "clock",	   "storage"};
	const json_t *it = json_object_get(c, "items");
	size_t i;

	section(h, "compliance_end");
	if (!it) {
		none_p(h);
		return;
	}
	put(h, "<table>");
	th(h, cols, ARRAY_SIZE(cols));
	for (i = 0; i < ARRAY_SIZE(items); i++) {
		const json_t *e = json_object_get(it, items[i]);
		const char *st = S(e, "status");

		report_buf_printf(&h->b, "<tr><td>");
		esc(h, L(h, strcmp(items[i], "faults") == 0 ? "faults_item" : items[i]));
		report_buf_printf(&h->b, "</td><td><span class=\"st\" style=\"background:%s\">",
				  state_color(st));
		esc(h, status_label(h, st));
		put(h, "</span></td><td>");
		local_time(h, e, "last", false);
		put(h, "</td><td>");
		local_time(h, e, "due", false);
		put(h, "</td><td class=\"small\">");
		{
			char detail[300];

			esc(h, report_item_detail(h->lang, items[i], e, detail, sizeof(detail)));
		}
		put(h, "</td></tr>\n");
	}
	put(h, "</tbody></table>\n");
}

static void records_table(struct html *h, const json_t *list)
{
	static const char *const cols[] = {"item", "date", "entered", "by", "result", "note"};
	size_t i, n = json_array_size(list);

	section(h, "records");
	if (!n) {
		none_p(h);
		return;
	}
	put(h, "<table>");
	th(h, cols, ARRAY_SIZE(cols));
	for (i = 0; i < n && i < MAX_ROWS_RECORDS; i++) {
		const json_t *r = json_array_get(list, i);
		int64_t d = 0;
		char buf[16];

		put(h, "<tr><td>");
		esc(h, L(h, S(r, "kind")));
		put(h, "</td><td>");
		if (sitetime_parse_date(S(r, "date"), &d) == 0)
			put(h, sitetime_format(d, "%d/%m/%Y", buf, sizeof(buf)));
		put(h, "</td><td>");
		local_time(h, r, "entered", true);
		if (json_is_true(json_object_get(r, "entered_later"))) {
			put(h, " <em>(");
			esc(h, L(h, "entered_later"));
			put(h, ")</em>");
		}
		put(h, "</td><td>");
		esc(h, S(r, "by"));
		put(h, "</td><td>");
		esc(h, L(h, S(r, "result")));
		put(h, "</td><td>");
		esc(h, S(r, "note"));
		if (S(r, "corrects")[0]) {
			put(h, " <em>");
			esc(h, L(h, "corrects"));
			put(h, " ");
			esc(h, S(r, "corrects"));
			put(h, "</em>");
		}
		if (S(r, "corrected_by")[0]) {
			put(h, " <em>(");
			esc(h, L(h, "corrected"));
			put(h, ")</em>");
		}
		put(h, "</td></tr>\n");
	}
	put(h, "</tbody></table>\n");
	more_rows(h, n, MAX_ROWS_RECORDS);
}

static void points_table(struct html *h, const json_t *av, const json_t *te)
{
	static const char *const cols[] = {"point",	   "zone",   "location",
					   "availability", "tested", "last"};
	const json_t *pts = json_object_get(av, "points"), *un = json_object_get(te, "untested");
	size_t i, n = json_array_size(pts);

	section(h, "tests");
	report_buf_printf(&h->b,
			  "<p>%s: %lld &middot; %s: %lld &middot; %s: %lld &middot; %s: "
			  "%lld</p>\n",
			  L(h, "tested"), I(te, "tested"), L(h, "not_tested"), I(te, "not_tested"),
			  L(h, "test_sessions"), I(te, "sessions"), L(h, "periodic_tests"),
			  I(te, "periodic_ok") + I(te, "periodic_trouble"));
	put(h, "<p><b>");
	esc(h, L(h, "untested"));
	report_buf_printf(&h->b, " (%zu):</b> ", json_array_size(un));
	for (i = 0; i < json_array_size(un) && i < MAX_ROWS_POINTS; i++) {
		if (i)
			put(h, ", ");
		esc(h, json_string_value(json_array_get(un, i)));
	}
	if (!json_array_size(un))
		esc(h, L(h, "none"));
	put(h, "</p>\n<table>");
	th(h, cols, ARRAY_SIZE(cols));
	for (i = 0; i < n && i < MAX_ROWS_POINTS; i++) {
		const json_t *p = json_array_get(pts, i);

		put(h, "<tr><td>");
		point_id(h, p);
		put(h, "</td><td>");
		esc(h, S(p, "zone"));
		put(h, "</td><td>");
		esc(h, S(p, "location"));
		report_buf_printf(&h->b, "</td><td>%.2f %%</td><td>%lld</td><td>",
				  json_real_value(json_object_get(p, "available_pct")),
				  I(p, "tested"));
		local_time(h, p, "last_tested", false);
		put(h, "</td></tr>\n");
	}
	put(h, "</tbody></table>\n");
	more_rows(h, n, MAX_ROWS_POINTS);
}

static const char css[] =
    "@page { size: A4; margin: 14mm 12mm; }\n"
    "body { font-family: 'DejaVu Sans', sans-serif; font-size: 10pt; color: #212121; "
    "margin: 0 auto; max-width: 190mm; }\n"
    "h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt; "
    "border-bottom: 1px solid #9e9e9e; break-after: avoid; page-break-after: avoid; }\n"
    "table { border-collapse: collapse; width: 100%; page-break-inside: auto; }\n"
    "thead { display: table-header-group; } tr { page-break-inside: avoid; break-inside: avoid; }\n"
    "th, td { border: 1px solid #bdbdbd; padding: 2pt 4pt; text-align: left; vertical-align: top; "
    "}\n"
    "th { background: #eeeeee; } td.small { font-size: 8pt; }\n"
    ".id td:first-child { width: 34%; font-weight: bold; }\n"
    ".cards { display: flex; flex-wrap: wrap; gap: 6pt; margin: 8pt 0; }\n"
    ".card { border: 1px solid #bdbdbd; border-radius: 4pt; padding: 4pt 8pt; min-width: 28mm; }\n"
    ".card b { font-size: 13pt; }\n"
    ".overall { color: #fff; padding: 6pt 10pt; border-radius: 4pt; font-size: 13pt; "
    "font-weight: bold; display: inline-block; }\n"
    ".st { color: #fff; padding: 0 4pt; border-radius: 3pt; white-space: nowrap; }\n"
    ".more { color: #616161; font-style: italic; }\n"
    ".tlsvg { width: 100%; height: auto; } .tlsvg text { font-family: 'DejaVu Sans', sans-serif; "
    "}\n"
    ".dl { font-size: 11px; } .tl { font-size: 10px; fill: #424242; } .tick { stroke: #9e9e9e; "
    "stroke-width: 0.5; }\n"
    "footer { margin-top: 14pt; font-size: 8pt; color: #616161; word-break: break-all; }\n";

char *report_html(const json_t *rep, size_t *ret_len)
{
	const json_t *site = json_object_get(rep, "site"), *per = json_object_get(rep, "period");
	const json_t *al = json_object_get(rep, "alarms"),
		     *av = json_object_get(rep, "availability");
	const json_t *co = json_object_get(rep, "compliance"), *end = json_object_get(co, "at_end");
	const json_t *bv = json_object_get(al, "by_verdict"), *ch = json_object_get(rep, "chain");
	struct html h = {.lang = S(rep, "lang")};
	const char *overall = S(end, "overall");
	char d1[16], d2[16];

	if (!h.lang[0])
		h.lang = "vi";
	h.from = ms_of(per, "from");
	h.to = ms_of(per, "to");
	sitetime_use(S(site, "timezone"));

	put(&h, "<!DOCTYPE html>\n<html lang=\"");
	put(&h, strcmp(h.lang, "en") == 0 ? "en" : "vi");
	put(&h, "\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	esc(&h, L(&h, "title"));
	put(&h, " &mdash; ");
	esc(&h, S(site, "name"));
	put(&h, "</title>\n<style>\n");
	put(&h, css);
	put(&h, "</style>\n</head>\n<body>\n<h1>");
	esc(&h, L(&h, "title"));
	put(&h, "</h1>\n<table class=\"id\">\n");
	{
		const char *rows[][2] = {{"site", S(site, "name")},
					 {"address", S(site, "address")},
					 {"facility_id", S(site, "facility_id")},
					 {"site_id", S(site, "id")},
					 {"timezone", S(site, "timezone")}};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(rows); i++) {
			put(&h, "<tr><td>");
			esc(&h, L(&h, rows[i][0]));
			put(&h, "</td><td>");
			esc(&h, rows[i][1]);
			put(&h, "</td></tr>\n");
		}
	}
	put(&h, "<tr><td>");
	esc(&h, L(&h, "period"));
	report_buf_printf(&h.b, "</td><td>%s &ndash; %s</td></tr>\n",
			  sitetime_format(h.from, "%d/%m/%Y", d1, sizeof(d1)),
			  sitetime_format(h.to - 1, "%d/%m/%Y", d2, sizeof(d2)));
	put(&h, "<tr><td>");
	esc(&h, L(&h, "generated"));
	put(&h, "</td><td>");
	local_time(&h, rep, "generated", true);
	put(&h, "</td></tr>\n</table>\n");

	section(&h, "summary");
	put(&h, "<p>");
	esc(&h, L(&h, "overall"));
	report_buf_printf(&h.b, ": <span class=\"overall\" style=\"background:%s\">",
			  state_color(overall));
	esc(&h, overall[0] ? L(&h, overall) : "?");
	put(&h, "</span></p>\n<div class=\"cards\">\n");
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n", L(&h, "alarm_count"),
			  I(al, "count"));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n", L(&h, "real"),
			  I(bv, "real"));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n", L(&h, "unwanted"),
			  I(bv, "unwanted"));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n", L(&h, "test_alarms"),
			  I(al, "in_test_mode"));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n", L(&h, "prealarms"),
			  I(al, "prealarms"));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n", L(&h, "fault_count"),
			  I(json_object_get(rep, "faults"), "count"));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%.2f %%</b></div>\n",
			  L(&h, "points_avail"),
			  json_real_value(json_object_get(av, "points_pct")));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%.2f %%</b></div>\n",
			  L(&h, "gateway_avail"),
			  json_real_value(json_object_get(av, "gateway_pct")));
	report_buf_printf(&h.b, "<div class=\"card\">%s: <b>%lld</b></div>\n",
			  L(&h, "unwanted_12m"), I(al, "unwanted_12_months"));
	put(&h, "</div>\n<p>");
	esc(&h, L(&h, "longest_outage"));
	put(&h, ": ");
	duration(&h, I(av, "longest_outage_s"));
	put(&h, "</p>\n");

	compliance_table(&h, end);
	compliance_timeline(&h, json_object_get(co, "timeline"));
	device_timeline(&h, rep);
	alarms_table(&h, al);
	spans_table(&h, "faults", json_object_get(json_object_get(rep, "faults"), "list"),
		    MAX_ROWS_FAULTS);
	spans_table(&h, "disablements",
		    json_object_get(json_object_get(rep, "disablements"), "list"), MAX_ROWS_FAULTS);
	records_table(&h, json_object_get(rep, "records"));
	points_table(&h, av, json_object_get(rep, "tests"));

	section(&h, "chain");
	report_buf_printf(&h.b, "<p>%s: <code>%lld:%s</code><br>", L(&h, "chain_head"),
			  I(ch, "seq"), S(ch, "sha256"));
	esc(&h, L(&h, "chain_hint"));
	put(&h, "</p>\n<footer>firegw &middot; ");
	esc(&h, S(rep, "schema"));
	put(&h, "</footer>\n</body>\n</html>\n");
	return report_buf_take(&h.b, ret_len);
}
