/* report.c - the period report as data (report.h), its period parser, its
 * CSV rendering and the label tables. Called on the thread that owns the
 * store handle (the CLI, later the daemon's request handler).
 *
 * Cost: one walk of events_class_ts per class (alarm, prealarm and test
 * from 12 months before the end, records from the start, faults from the
 * first event, as open faults and disablements need their beginning),
 * payloads read for alarms and records only; never the readings. A year of
 * a 250-point site (100 000 events, 10 million readings) builds in well
 * under a second (tests/bench/bench_report.c). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance_data.h"
#include "sitetime.h"
#include "util.h"

#define KEY_MAX 200
#define YEAR_MS (365 * COMPLIANCE_DAY_MS)

/* ---- buffers ------------------------------------------------------------ */

void report_buf_add(struct report_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void report_buf_puts(struct report_buf *b, const char *s)
{
	report_buf_add(b, s, strlen(s));
}

void report_buf_printf(struct report_buf *b, const char *fmt, ...)
{
	char small[512], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		report_buf_add(b, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		b->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	report_buf_add(b, big, (size_t)n);
	free(big);
}

void report_buf_csv(struct report_buf *b, const char *s)
{
	const char *p;

	if (!s)
		s = "";
	if (!strpbrk(s, ",\"\r\n")) {
		report_buf_puts(b, s);
		return;
	}
	report_buf_add(b, "\"", 1);
	for (p = s; *p; p++) {
		if (*p == '"')
			report_buf_add(b, "\"", 1);
		report_buf_add(b, p, 1);
	}
	report_buf_add(b, "\"", 1);
}

void report_buf_html(struct report_buf *b, const char *s)
{
	const char *p, *run;

	if (!s)
		return;
	for (run = p = s; *p; p++) {
		const char *rep = NULL;

		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		report_buf_add(b, run, (size_t)(p - run));
		report_buf_puts(b, rep);
		run = p + 1;
	}
	report_buf_add(b, run, (size_t)(p - run));
}

char *report_buf_take(struct report_buf *b, size_t *ret_len)
{
	char *p;

	if (b->err || !b->p) {
		if (!b->err && !b->p) {
			p = strdup("");
			if (p && ret_len)
				*ret_len = 0;
			return p;
		}
		free(b->p);
		*b = (struct report_buf){0};
		return NULL;
	}
	p = b->p;
	if (ret_len)
		*ret_len = b->len;
	*b = (struct report_buf){0};
	return p;
}

/* ---- labels ------------------------------------------------------------- */

static const struct label {
	const char *key, *vi, *en;
} labels[] = {
    {"title", "Báo cáo giám sát an toàn phòng cháy chữa cháy", "Fire-safety monitoring report"},
    {"site", "Cơ sở", "Premises"},
    {"site_id", "Mã gateway", "Gateway site id"},
    {"address", "Địa chỉ", "Address"},
    {"facility_id", "Mã cơ sở (CSDL quốc gia về PCCC)", "Facility id (national fire database)"},
    {"period", "Kỳ báo cáo", "Period"},
    {"generated", "Lập lúc", "Generated"},
    {"timezone", "Múi giờ", "Time zone"},
    {"summary", "Tóm tắt", "Summary"},
    {"overall", "Tình trạng tuân thủ", "Compliance status"},
    {"compliant", "Đạt", "Compliant"},
    {"due_soon", "Sắp đến hạn", "Due soon"},
    {"non_compliant", "Không đạt", "Non-compliant"},
    {"ok", "Đạt", "OK"},
    {"overdue", "Quá hạn", "Overdue"},
    {"alarms", "Báo cháy", "Fire alarms"},
    {"alarm_count", "Số lần báo cháy", "Fire alarms"},
    {"prealarms", "Tiền báo cháy", "Pre-alarms"},
    {"real", "Cháy thật", "Real fire"},
    {"unwanted", "Báo giả", "Unwanted"},
    {"test_verdict", "Thử nghiệm", "Test"},
    {"unverified", "Chưa có kết luận", "No verdict"},
    {"test_alarms", "Báo cháy trong chế độ thử", "Alarms in test mode"},
    {"unwanted_12m", "Báo giả trong 12 tháng", "Unwanted alarms, last 12 months"},
    {"faults", "Sự cố", "Faults"},
    {"fault_count", "Số sự cố", "Faults"},
    {"fault_type", "Loại sự cố", "Fault"},
    {"duration", "Thời gian", "Duration"},
    {"open", "đang mở", "open"},
    {"availability", "Độ sẵn sàng", "Availability"},
    {"points_avail", "Điểm báo cháy (trung bình)", "Alarm points (mean)"},
    {"gateway_avail", "Đường truyền tới trung tâm", "Uplink to the command center"},
    {"longest_outage", "Mất kết nối lâu nhất", "Longest outage"},
    {"tests", "Thử đầu báo", "Point tests"},
    {"tested", "Đã thử đạt", "Tested OK"},
    {"not_tested", "Không đạt khi thử", "Not tested in a test"},
    {"untested", "Điểm chưa được thử trong kỳ", "Points not tested in the period"},
    {"test_sessions", "Số lần chế độ thử", "Test mode sessions"},
    {"periodic_tests", "Bản tin kiểm tra định kỳ (1602/1608)", "Periodic tests (1602/1608)"},
    {"records", "Hồ sơ bảo dưỡng và kiểm tra", "Maintenance and inspection records"},
    {"system_test", "Thử toàn hệ thống", "System test"},
    {"maintenance", "Bảo dưỡng", "Maintenance"},
    {"self_inspection", "Tự kiểm tra", "Self-inspection"},
    {"police_inspection", "Kiểm tra của cảnh sát PCCC", "Fire-police inspection"},
    {"device_test", "Thử từng đầu báo", "Each detector tested"},
    {"faults_item", "Sự cố tồn đọng", "Open faults"},
    {"disablements", "Vô hiệu hóa", "Disablements"},
    {"uplink", "Đường truyền", "Uplink"},
    {"clock", "Đồng hồ", "Clock"},
    {"storage", "Lưu trữ", "Storage"},
    {"entered_later", "nhập sau", "entered later"},
    {"by", "Người thực hiện", "By"},
    {"result", "Kết quả", "Result"},
    {"pass", "Đạt", "Pass"},
    {"fail", "Không đạt", "Fail"},
    {"date", "Ngày", "Date"},
    {"entered", "Ngày nhập", "Entered"},
    {"note", "Ghi chú", "Note"},
    {"corrects", "Đính chính cho", "Corrects"},
    {"corrected", "đã được đính chính", "corrected"},
    {"device", "Thiết bị", "Device"},
    {"point", "Điểm", "Point"},
    {"zone", "Vùng", "Zone"},
    {"location", "Vị trí", "Location"},
    {"time", "Thời điểm", "Time"},
    {"from", "Từ", "From"},
    {"to", "Đến", "To"},
    {"cleared", "Hết báo", "Cleared"},
    {"acked", "Trung tâm xác nhận", "Acknowledged"},
    {"verdict", "Kết luận", "Verdict"},
    {"st_alarm", "Báo cháy", "Alarm"},
    {"st_prealarm", "Tiền báo", "Pre-alarm"},
    {"st_fault", "Sự cố", "Fault"},
    {"st_test", "Thử", "Test"},
    {"st_disabled", "Vô hiệu", "Disabled"},
    {"st_normal", "Bình thường", "Normal"},
    {"chain", "Chuỗi chống sửa đổi dữ liệu", "Tamper-evidence chain"},
    {"chain_head", "Đầu chuỗi", "Chain head"},
    {"chain_hint", "Kiểm tra bằng: firegw verify --head SEQ:HASH",
     "Check with: firegw verify --head SEQ:HASH"},
    {"device_timeline", "Diễn biến trạng thái thiết bị", "Device states over the period"},
    {"compliance_timeline", "Diễn biến tình trạng tuân thủ", "Compliance status over the period"},
    {"compliance_end", "Tình trạng tuân thủ cuối kỳ", "Compliance at the end of the period"},
    {"item", "Hạng mục", "Item"},
    {"status", "Trạng thái", "Status"},
    {"last", "Lần gần nhất", "Last"},
    {"due", "Hạn", "Due"},
    {"detail", "Chi tiết", "Detail"},
    {"count", "Số lượng", "Count"},
    {"none", "Không có", "None"},
    {"and_more", "mục khác: xem bản JSON hoặc CSV", "more: see the JSON or CSV"},
    {"no_status", "chưa có tình trạng công bố", "no status published"},
    {"resets", "Giải trừ báo cháy", "Resets"},
    {"percent_time", "% thời gian", "% of time"},
};

const char *report_label(const char *lang, const char *key)
{
	bool vi = !lang || strcmp(lang, "en") != 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(labels); i++)
		if (strcmp(labels[i].key, key) == 0)
			return vi ? labels[i].vi : labels[i].en;
	return key;
}

/* ---- item details -------------------------------------------------------- */

static const char *local_day_of(const json_t *e, const char *key, char *buf, size_t len)
{
	int64_t ms = 0;

	if (util_parse_rfc3339(json_string_value(json_object_get(e, key)), &ms) < 0 || !ms)
		return NULL;
	return sitetime_format(ms, "%d/%m/%Y", buf, len);
}

char *report_item_detail(const char *lang, const char *item, const json_t *e, char *buf, size_t len)
{
	const char *st = json_string_value(json_object_get(e, "status"));
	long long n = (long long)json_integer_value(json_object_get(e, "count"));
	char d1[16], d2[16];
	const char *last, *due;

	if (!st)
		st = "";
	if (lang && strcmp(lang, "en") == 0) {
		snprintf(buf, len, "%s", json_string_value(json_object_get(e, "reason")) ?: "");
		return buf;
	}
	last = local_day_of(e, "last", d1, sizeof(d1));
	due = local_day_of(e, "due", d2, sizeof(d2));
	if (compliance_record_kind(item) != COMP_REC_INVALID) {
		if (strcmp(st, "non_compliant") == 0)
			snprintf(buf, len, "Lần gần nhất không đạt; cần một lần đạt sau đó");
		else if (last)
			snprintf(buf, len, "Lần đạt gần nhất %s; hạn tiếp theo %s", last,
				 due ? due : "?");
		else
			snprintf(buf, len, "Chưa có hồ sơ; hạn %s (tính từ khi bắt đầu giám sát)",
				 due ? due : "?");
	} else if (strcmp(item, "device_test") == 0) {
		if (n)
			snprintf(buf, len, "%lld điểm quá hạn thử", n);
		else
			snprintf(buf, len, "Không điểm nào quá hạn thử; hạn sớm nhất %s",
				 due ? due : "?");
	} else if (strcmp(item, "faults") == 0 || strcmp(item, "disablements") == 0) {
		bool f = item[0] == 'f';

		if (!n)
			snprintf(buf, len, "Không có %s đang mở",
				 f ? "sự cố" : "điểm bị vô hiệu hóa");
		else
			snprintf(buf, len, "%lld %s đang mở; hạn xử lý %s", n,
				 f ? "sự cố" : "điểm bị vô hiệu hóa", due ? due : "?");
	} else if (strcmp(item, "uplink") == 0) {
		if (strcmp(st, "ok") == 0)
			snprintf(buf, len,
				 "Đang kết nối; mất kết nối lâu nhất trong 12 tháng: %lld giây", n);
		else
			snprintf(buf, len, "Mất kết nối tới trung tâm chỉ huy");
	} else if (strcmp(item, "clock") == 0) {
		snprintf(buf, len, "%s",
			 strcmp(st, "ok") == 0
			     ? "Đồng hồ đã đồng bộ"
			     : "Đồng hồ chưa đồng bộ: thời điểm ghi nhận chưa làm bằng chứng được");
	} else if (strcmp(item, "storage") == 0) {
		snprintf(buf, len, "%s",
			 strcmp(st, "ok") == 0 ? "Dữ liệu được lưu giữ"
			 : strcmp(st, "due_soon") == 0
			     ? "Cơ sở dữ liệu đã dùng trên 90 % dung lượng"
			     : "Lỗi lưu trữ: hồ sơ có thể không được lưu");
	} else {
		snprintf(buf, len, "%s", json_string_value(json_object_get(e, "reason")) ?: "");
	}
	return buf;
}

/* ---- periods ------------------------------------------------------------ */

static int num(const char *s, size_t n, long min, long max, long *ret)
{
	char buf[8];
	size_t i;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return util_parse_long(buf, min, max, ret);
}

static int next_month(long y, long m, int64_t *ret)
{
	return sitetime_local_ms((int)(m == 12 ? y + 1 : y), (int)(m == 12 ? 1 : m + 1), 1, ret);
}

int report_period_parse(const char *s, int64_t *ret_from_ms, int64_t *ret_to_ms, char *err,
			size_t errlen)
{
	static const char forms[] = "use 2026, 2026-H1, 2026-H2, 2026-11 or 2026-01-01..2026-03-31";
	const char *dots;
	long y, m;
	int64_t from, to;
	size_t n;

	if (!s || !s[0]) {
		snprintf(err, errlen, "--period: empty; %s", forms);
		return -EINVAL;
	}
	n = strlen(s);
	dots = strstr(s, "..");
	if (dots) {
		char a[16], b[16];
		size_t na = (size_t)(dots - s), nb = n - na - 2;

		if (na >= sizeof(a) || nb >= sizeof(b)) {
			snprintf(err, errlen,
				 "--period '%.40s': FROM..TO takes two days, "
				 "2026-01-01..2026-03-31",
				 s);
			return -EINVAL;
		}
		memcpy(a, s, na);
		a[na] = '\0';
		memcpy(b, dots + 2, nb);
		b[nb] = '\0';
		if (sitetime_parse_date(a, &from) < 0) {
			snprintf(err, errlen, "--period: FROM '%s' is not a day YYYY-MM-DD", a);
			return -EINVAL;
		}
		if (sitetime_parse_date(b, &to) < 0) {
			snprintf(err, errlen, "--period: TO '%s' is not a day YYYY-MM-DD", b);
			return -EINVAL;
		}
		if (to < from) {
			snprintf(err, errlen, "--period: TO %s is before FROM %s", b, a);
			return -EINVAL;
		}
		/* TO is included: the period ends at the next local midnight
		 * (noon of the next day names it, whatever the zone's DST) */
		{
			int yy, mm, dd;

			sitetime_date(to + 36 * 3600 * 1000, &yy, &mm, &dd);
			if (sitetime_local_ms(yy, mm, dd, &to) < 0)
				return -EINVAL;
		}
		*ret_from_ms = from;
		*ret_to_ms = to;
		return 0;
	}
	if (n < 4 || num(s, 4, 1970, 9998, &y) < 0) {
		snprintf(err, errlen, "--period '%.40s': not a period; %s", s, forms);
		return -EINVAL;
	}
	if (n == 4) {
		sitetime_local_ms((int)y, 1, 1, &from);
		sitetime_local_ms((int)y + 1, 1, 1, &to);
	} else if (n == 7 && s[4] == '-' && (s[5] == 'H' || s[5] == 'h')) {
		if (s[6] != '1' && s[6] != '2') {
			snprintf(err, errlen, "--period '%s': a half-year is H1 or H2", s);
			return -EINVAL;
		}
		if (s[6] == '1') {
			sitetime_local_ms((int)y, 1, 1, &from);
			sitetime_local_ms((int)y, 7, 1, &to);
		} else {
			sitetime_local_ms((int)y, 7, 1, &from);
			sitetime_local_ms((int)y + 1, 1, 1, &to);
		}
	} else if (n == 7 && s[4] == '-') {
		if (num(s + 5, 2, 1, 12, &m) < 0) {
			snprintf(err, errlen, "--period '%s': the month must be 01..12", s);
			return -EINVAL;
		}
		sitetime_local_ms((int)y, (int)m, 1, &from);
		next_month(y, m, &to);
	} else {
		snprintf(err, errlen, "--period '%.40s': not a period; %s", s, forms);
		return -EINVAL;
	}
	*ret_from_ms = from;
	*ret_to_ms = to;
	return 0;
}

/* ---- building ----------------------------------------------------------- */

/* An interval of a key (device.point:type), open or closed. */
struct span {
	char key[KEY_MAX];
	char device[64];
	char point[40];
	char type[40];
	int64_t from, to; /* to 0: still open */
	int sev;	  /* state severity on the device timeline */
};

enum { SEV_NORMAL, SEV_DISABLED, SEV_TEST, SEV_FAULT, SEV_PREALARM, SEV_ALARM };
static const char *const sev_names[] = {"normal", "disabled", "test", "fault", "prealarm", "alarm"};

struct spans {
	struct span *v;
	size_t n, cap;
	size_t *open; /* indexes of open spans */
	size_t n_open, cap_open;
};

struct ack {
	char ref[128];
	char verdict[16];
	char by[80];
	int64_t first_ms; /* first ack: the center's response time */
};

struct build {
	const struct config *c;
	int64_t from, to, now, created;
	const char *lang;
	struct spans faults, states;
	struct ack *acks;
	size_t n_acks, cap_acks;
	json_t *alarms, *records, *year_alarms;
	json_int_t n_alarms, n_unwanted_12m, n_prealarms, n_test_alarms, n_tested, n_not_tested,
	    n_sessions, n_periodic_ok, n_periodic_trouble, n_resets;
	json_int_t verdicts[4]; /* real, unwanted, test, none */
	json_t *point_tests;	/* key -> {tested, not_tested, last} */
	json_t *record_index;	/* event_id -> record object */
	int err;
};

static int spans_grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Replays one active/cleared event on a key: opens a span (unless one is
 * open: a repeat), or closes the open one. */
static int spans_event(struct spans *sp, const char *key, const char *device, const char *point,
		       const char *type, bool active, int64_t ts, int sev)
{
	size_t i;

	for (i = 0; i < sp->n_open; i++)
		if (strcmp(sp->v[sp->open[i]].key, key) == 0)
			break;
	if (!active) {
		if (i < sp->n_open) {
			sp->v[sp->open[i]].to = ts;
			sp->open[i] = sp->open[--sp->n_open];
		}
		return 0;
	}
	if (i < sp->n_open)
		return 0;
	if (spans_grow((void **)&sp->v, &sp->cap, sp->n, sizeof(*sp->v)) < 0 ||
	    spans_grow((void **)&sp->open, &sp->cap_open, sp->n_open, sizeof(*sp->open)) < 0)
		return -ENOMEM;
	memset(&sp->v[sp->n], 0, sizeof(sp->v[sp->n]));
	util_strlcpy(sp->v[sp->n].key, key, KEY_MAX);
	util_strlcpy(sp->v[sp->n].device, device, sizeof(sp->v[sp->n].device));
	util_strlcpy(sp->v[sp->n].point, point ? point : "", sizeof(sp->v[sp->n].point));
	util_strlcpy(sp->v[sp->n].type, type, sizeof(sp->v[sp->n].type));
	sp->v[sp->n].from = ts;
	sp->v[sp->n].sev = sev;
	sp->open[sp->n_open++] = sp->n;
	sp->n++;
	return 0;
}

static void spans_free(struct spans *sp)
{
	free(sp->v);
	free(sp->open);
}

static json_t *ts_json(int64_t ms)
{
	char ts[UTIL_TS_LEN];

	return ms ? json_string(util_rfc3339(ms, ts)) : json_null();
}

static struct ack *find_ack(struct build *b, const char *ref)
{
	size_t i;

	for (i = 0; i < b->n_acks; i++)
		if (strcmp(b->acks[i].ref, ref) == 0)
			return &b->acks[i];
	return NULL;
}

static int record_cb(void *ud, const struct store_class_row *row)
{
	struct build *b = ud;
	const char *result, *date, *ref, *by, *note, *verdict;
	json_t *o, *r;
	int64_t date_ms;
	bool in_period;

	o = json_loadb(row->payload, row->payload_len, 0, NULL);
	if (!o)
		return 0;
	ref = json_string_value(json_object_get(o, "ref"));
	if (!ref)
		ref = row->ref;
	by = json_string_value(json_object_get(o, "by"));
	if (strcmp(row->type, "ack") == 0 && ref) {
		struct ack *a = find_ack(b, ref);

		verdict = json_string_value(json_object_get(o, "verdict"));
		if (!a) {
			if (spans_grow((void **)&b->acks, &b->cap_acks, b->n_acks,
				       sizeof(*b->acks)) < 0) {
				json_decref(o);
				return -ENOMEM;
			}
			a = &b->acks[b->n_acks++];
			memset(a, 0, sizeof(*a));
			util_strlcpy(a->ref, ref, sizeof(a->ref));
			a->first_ms = row->ts_ms;
			util_strlcpy(a->by, by ? by : "", sizeof(a->by));
		}
		/* a later verdict supersedes the earlier one (both stay chained) */
		if (verdict && (strcmp(verdict, "real") == 0 || strcmp(verdict, "unwanted") == 0 ||
				strcmp(verdict, "test") == 0))
			util_strlcpy(a->verdict, verdict, sizeof(a->verdict));
		json_decref(o);
		return 0;
	}
	if (strcmp(row->type, "reset") == 0) {
		if (row->ts_ms >= b->from && row->ts_ms < b->to)
			b->n_resets++;
		json_decref(o);
		return 0;
	}
	if (compliance_record_kind(row->type) == COMP_REC_INVALID) {
		json_decref(o);
		return 0;
	}
	result = json_string_value(json_object_get(o, "result"));
	date = json_string_value(json_object_get(o, "date"));
	note = json_string_value(json_object_get(o, "note"));
	if (!date || sitetime_parse_date(date, &date_ms) < 0)
		date_ms = row->ts_ms;
	in_period = (date_ms >= b->from && date_ms < b->to) ||
		    (row->ts_ms >= b->from && row->ts_ms < b->to);
	if (in_period) {
		/* entered on a later local day than the day it was done */
		int y1, m1, d1, y2, m2, d2;

		sitetime_date(date_ms, &y1, &m1, &d1);
		sitetime_date(row->ts_ms, &y2, &m2, &d2);
		r = json_object();
		json_object_set_new(r, "event_id", json_string(row->event_id));
		json_object_set_new(r, "kind", json_string(row->type));
		json_object_set_new(r, "date", json_string(date ? date : ""));
		json_object_set_new(r, "entered", ts_json(row->ts_ms));
		json_object_set_new(
		    r, "entered_later",
		    json_boolean(y2 * 10000 + m2 * 100 + d2 > y1 * 10000 + m1 * 100 + d1));
		json_object_set_new(r, "by", json_string(by ? by : ""));
		json_object_set_new(r, "result", json_string(result ? result : ""));
		if (note)
			json_object_set_new(r, "note", json_string(note));
		if (ref)
			json_object_set_new(r, "corrects", json_string(ref));
		json_object_set_new(r, "corrected_by", json_null());
		json_array_append_new(b->records, r);
		json_object_set(b->record_index, row->event_id, r);
	}
	if (ref) {
		json_t *old = json_object_get(b->record_index, ref);

		if (old)
			json_object_set_new(old, "corrected_by", json_string(row->event_id));
	}
	json_decref(o);
	return 0;
}

static const char *str_or(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static int alarm_add(struct build *b, const struct store_class_row *row)
{
	json_t *o = json_loadb(row->payload, row->payload_len, 0, NULL), *a;

	a = json_object();
	if (!a) {
		json_decref(o);
		return -ENOMEM;
	}
	json_object_set_new(a, "event_id", json_string(row->event_id));
	json_object_set_new(a, "ts", ts_json(row->ts_ms));
	json_object_set_new(a, "type", json_string(row->type));
	json_object_set_new(a, "device", json_string(row->device));
	json_object_set_new(a, "point", json_string(row->point ? row->point : ""));
	json_object_set_new(a, "zone", json_string(str_or(o, "zone")));
	json_object_set_new(a, "zone_no",
			    json_integer(json_integer_value(json_object_get(o, "zone_no"))));
	json_object_set_new(a, "location", json_string(str_or(o, "location")));
	json_object_set_new(a, "cleared", json_null());
	json_object_set_new(a, "acked", json_null());
	json_object_set_new(a, "acked_by", json_null());
	json_object_set_new(a, "verdict", json_null());
	json_array_append_new(b->alarms, a);
	b->n_alarms++;
	json_decref(o);
	return 0;
}

struct alarm_scan {
	struct build *b;
	const char *cls;
};

static int alarm_scan_cb(void *ud, const struct store_class_row *row)
{
	struct alarm_scan *as = ud;
	struct build *b = as->b;
	char key[KEY_MAX];
	bool active = strcmp(row->state, "active") == 0;
	bool in = row->ts_ms >= b->from && row->ts_ms < b->to;
	bool alarm = strcmp(as->cls, "alarm") == 0;
	int r;

	if (config_device_index(b->c, row->device) < 0)
		return 0;
	if (active && alarm && row->ts_ms < b->to)
		json_array_append_new(b->year_alarms, json_string(row->event_id));
	if (active && in) {
		if (!alarm)
			b->n_prealarms++;
		else if ((r = alarm_add(b, row)) < 0)
			return r;
	}
	if (!active && in && alarm && row->point) {
		/* a clear: the last alarm listed for this point gets its time */
		size_t i = json_array_size(b->alarms);

		while (i-- > 0) {
			json_t *a = json_array_get(b->alarms, i);

			if (strcmp(str_or(a, "device"), row->device) == 0 &&
			    strcmp(str_or(a, "point"), row->point) == 0) {
				if (json_is_null(json_object_get(a, "cleared")))
					json_object_set_new(a, "cleared", ts_json(row->ts_ms));
				break;
			}
		}
	}
	snprintf(key, sizeof(key), "%s.%s:%s", row->device, row->point ? row->point : "*", as->cls);
	return spans_event(&b->states, key, row->device, row->point, as->cls, active, row->ts_ms,
			   alarm ? SEV_ALARM : SEV_PREALARM);
}

static int test_cb(void *ud, const struct store_class_row *row)
{
	struct build *b = ud;
	bool active = strcmp(row->state, "active") == 0;
	bool in = row->ts_ms >= b->from && row->ts_ms < b->to;
	char key[KEY_MAX];
	json_t *pt;

	if (config_device_index(b->c, row->device) < 0)
		return 0;
	if (strcmp(row->type, "test_mode") == 0) {
		if (active && in)
			b->n_sessions++;
		snprintf(key, sizeof(key), "%s:test_mode", row->device);
		return spans_event(&b->states, key, row->device, NULL, "test", active, row->ts_ms,
				   SEV_TEST);
	}
	if (strcmp(row->type, "point_tested") == 0 || strcmp(row->type, "point_not_tested") == 0) {
		bool ok = row->type[6] == 't';

		if (!row->point)
			return 0;
		snprintf(key, sizeof(key), "%s.%s", row->device, row->point);
		pt = json_object_get(b->point_tests, key);
		if (!pt)
			return 0; /* not a configured point */
		if (ok)
			json_object_set_new(pt, "last_tested", ts_json(row->ts_ms));
		if (in) {
			const char *f = ok ? "tested" : "not_tested";

			json_object_set_new(
			    pt, f, json_integer(json_integer_value(json_object_get(pt, f)) + 1));
			if (ok)
				b->n_tested++;
			else
				b->n_not_tested++;
		}
		return 0;
	}
	/* a fire or pre-alarm of a point in test mode */
	if (active && in)
		b->n_test_alarms++;
	return 0;
}

static int fault_cb(void *ud, const struct store_class_row *row)
{
	struct build *b = ud;
	bool active = strcmp(row->state, "active") == 0;
	bool gw = strcmp(row->device, "gateway") == 0 && !row->point;
	char key[KEY_MAX];
	int r;

	if (!gw && config_device_index(b->c, row->device) < 0)
		return 0;
	snprintf(key, sizeof(key), "%s.%s:%s", row->device, row->point ? row->point : "*",
		 row->type);
	r = spans_event(&b->faults, key, row->device, row->point, row->type, active, row->ts_ms,
			strcmp(row->type, "disabled") == 0 ? SEV_DISABLED : SEV_FAULT);
	if (r < 0 || gw)
		return r;
	return spans_event(&b->states, key, row->device, row->point, row->type, active, row->ts_ms,
			   strcmp(row->type, "disabled") == 0 ? SEV_DISABLED : SEV_FAULT);
}

static int system_cb(void *ud, const struct store_class_row *row)
{
	struct build *b = ud;

	if (strcmp(row->type, "periodic_test") != 0)
		return 0;
	if (row->cid && strcmp(row->cid, "1608") == 0)
		b->n_periodic_trouble++;
	else
		b->n_periodic_ok++;
	return 0;
}

/* The part of [a, z) inside [lo, hi). */
static int64_t overlap(int64_t a, int64_t z, int64_t lo, int64_t hi)
{
	int64_t x = a > lo ? a : lo, y = z < hi ? z : hi;

	return y > x ? y - x : 0;
}

static int span_cmp(const void *x, const void *y)
{
	const struct span *a = x, *b = y;

	return a->from < b->from ? -1 : a->from > b->from;
}

/* Unavailable time of one point in [lo, hi): the union of its fault and
 * disablement spans (any condition makes the point unable to report). */
static int64_t down_time(const struct spans *sp, const char *device, const char *point, int64_t lo,
			 int64_t hi, int64_t end)
{
	int64_t total = 0, cur_a = 0, cur_z = 0;
	bool have = false;
	size_t i;

	/* spans were sorted by start */
	for (i = 0; i < sp->n; i++) {
		const struct span *s = &sp->v[i];
		int64_t z = s->to ? s->to : end;

		if (strcmp(s->device, device) != 0 || strcmp(s->point, point) != 0)
			continue;
		if (have && s->from <= cur_z) {
			if (z > cur_z)
				cur_z = z;
			continue;
		}
		if (have)
			total += overlap(cur_a, cur_z, lo, hi);
		cur_a = s->from;
		cur_z = z;
		have = true;
	}
	if (have)
		total += overlap(cur_a, cur_z, lo, hi);
	return total;
}

/* Faults and disablements overlapping the period, with their durations
 * inside it; the uplink's outages. */
static void build_faults(struct build *b, int64_t lo, int64_t hi, int64_t end, json_t *faults,
			 json_t *dis, int64_t *ret_uplink_down, int64_t *ret_longest)
{
	size_t i;

	*ret_uplink_down = 0;
	*ret_longest = 0;
	for (i = 0; i < b->faults.n; i++) {
		const struct span *s = &b->faults.v[i];
		int64_t z = s->to ? s->to : end;
		bool open = !s->to || s->to > end;

		if (z <= b->from || s->from >= end)
			continue;
		if (strcmp(s->device, "gateway") == 0 && strcmp(s->type, "uplink_lost") == 0) {
			int64_t d = overlap(s->from, z, lo, hi);

			*ret_uplink_down += d;
			if (d > *ret_longest)
				*ret_longest = d;
		}
		json_array_append_new(
		    s->sev == SEV_DISABLED ? dis : faults,
		    json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:I}", "device", s->device, "point",
			      s->point, "type", s->type, "from", ts_json(s->from), "to",
			      ts_json(open ? 0 : s->to), "open", open, "duration_s",
			      (json_int_t)(overlap(s->from, z, b->from, end) / 1000)));
	}
}

static int dev_span_cmp(const void *x, const void *y)
{
	const struct span *a = x, *b = y;
	int c = strcmp(a->device, b->device);

	if (c)
		return c;
	return a->from < b->from ? -1 : a->from > b->from;
}

struct edge {
	int64_t t;
	int sev;
	int delta;
};

static int edge_cmp(const void *x, const void *y)
{
	const struct edge *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->delta - b->delta; /* ends before starts at one instant */
}

/* The worst state of each device over the period, as consecutive
 * segments: a sweep over the start and end edges of its spans. */
static json_t *build_timeline(struct build *b, int64_t end)
{
	json_t *devs = json_array();
	struct edge *e = NULL;
	size_t cap = 0, d, i = 0;

	if (!devs)
		return NULL;
	qsort(b->states.v, b->states.n, sizeof(*b->states.v), dev_span_cmp);
	for (d = 0; d < b->c->n_devices; d++) {
		const char *dev = b->c->devices[d].id;
		json_t *segs = json_array();
		int count[6] = {0}, prev = -1, sev, k;
		size_t n = 0, j, lo;
		int64_t seg_from = b->from;

		/* the device's spans are contiguous after the sort */
		lo = 0;
		while (lo < b->states.n && strcmp(b->states.v[lo].device, dev) < 0)
			lo++;
		for (j = lo; j < b->states.n && strcmp(b->states.v[j].device, dev) == 0; j++) {
			const struct span *s = &b->states.v[j];
			int64_t a = s->from > b->from ? s->from : b->from;
			int64_t z = s->to ? (s->to < end ? s->to : end) : end;

			if (z <= a)
				continue;
			if (spans_grow((void **)&e, &cap, n + 1, sizeof(*e)) < 0) {
				free(e);
				json_decref(segs);
				json_decref(devs);
				return NULL;
			}
			e[n++] = (struct edge){a, s->sev, 1};
			e[n++] = (struct edge){z, s->sev, -1};
		}
		if (n > 0) /* e is NULL when no span was added */
			qsort(e, n, sizeof(*e), edge_cmp);
		prev = SEV_NORMAL;
		for (j = 0; j <= n; j++) {
			int64_t t = j < n ? e[j].t : end;

			if (j < n)
				count[e[j].sev] += e[j].delta;
			if (j + 1 < n && e[j + 1].t == t)
				continue; /* every edge of one instant first */
			for (sev = SEV_NORMAL, k = SEV_ALARM; k > SEV_NORMAL; k--)
				if (count[k] > 0) {
					sev = k;
					break;
				}
			if (sev != prev || j == n) {
				if (t > seg_from)
					json_array_append_new(
					    segs,
					    json_pack("{s:o, s:o, s:s}", "from", ts_json(seg_from),
						      "to", ts_json(t), "state", sev_names[prev]));
				seg_from = t;
				prev = sev;
			}
		}
		i++;
		json_array_append_new(devs, json_pack("{s:s, s:s, s:o}", "device", dev, "location",
						      b->c->devices[d].location, "segments", segs));
	}
	free(e);
	return devs;
}

struct timeline_ctx {
	json_t *list;
};

static int compliance_row_cb(void *ud, const struct store_compliance_row *row)
{
	struct timeline_ctx *t = ud;

	json_array_append_new(t->list,
			      json_pack("{s:o, s:s, s:b}", "ts", ts_json(row->ts_ms), "overall",
					row->overall, "time_synced", row->time_synced));
	return 0;
}

/* The compliance status at the end of the period, evaluated from the
 * history as of then. */
static json_t *compliance_at(store *s, const struct config *c, int64_t at)
{
	struct comp_gathered *g = NULL;
	struct comp_result res;
	json_t *o;

	if (compliance_gather(s, c, at, 0, &g) < 0)
		return json_null();
	if (compliance_evaluate(&g->in, &res) < 0) {
		compliance_gathered_free(g);
		return json_null();
	}
	o = compliance_to_json(c, g, &res, g->in.clock_synced);
	compliance_gathered_free(g);
	return o ? o : json_null();
}

static double pct(int64_t down, int64_t span)
{
	if (span <= 0)
		return 100.0;
	return round(10000.0 * (double)(span - down) / (double)span) / 100.0;
}

int report_build(store *s, const struct config *c, int64_t from_ms, int64_t to_ms, const char *lang,
		 int64_t now_ms, json_t **ret)
{
	struct build b = {0};
	struct alarm_scan as = {&b, NULL};
	struct timeline_ctx tl;
	char hex[2 * STORE_HASH_LEN + 1], lbl[64], d1[16], d2[16];
	struct store_chain_head head;
	json_t *rep = NULL, *o, *pts, *untested, *faults, *dis, *timeline;
	int64_t end, lo, uplink_down = 0, longest = 0, points_down_sum = 0;
	double points_pct_sum = 0;
	size_t d, p, i, n_points = 0;
	int r;

	if (!s || !c || !ret || to_ms <= from_ms)
		return -EINVAL;
	if (!lang || (strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0))
		return -EINVAL;
	sitetime_use(c->site.timezone);
	b.c = c;
	b.from = from_ms;
	b.to = to_ms;
	b.now = now_ms ? now_ms : util_wall_ms();
	b.lang = lang;
	r = store_created_ms(s, &b.created);
	if (r < 0)
		return r;
	/* what is measured: from monitoring start (or the period's) to the
	 * period's end or now, whichever is first */
	end = to_ms < b.now ? to_ms : b.now;
	if (end < from_ms)
		end = from_ms;
	lo = b.created > from_ms ? b.created : from_ms;
	if (lo > end)
		lo = end;

	b.alarms = json_array();
	b.records = json_array();
	b.year_alarms = json_array();
	b.point_tests = json_object();
	b.record_index = json_object();
	faults = json_array();
	dis = json_array();
	if (!b.alarms || !b.records || !b.year_alarms || !b.point_tests || !b.record_index ||
	    !faults || !dis) {
		r = -ENOMEM;
		goto out;
	}
	for (d = 0; d < c->n_devices; d++)
		for (p = 0; p < c->devices[d].n_points; p++) {
			char key[KEY_MAX];

			if (!c->devices[d].points[p].enabled)
				continue;
			snprintf(key, sizeof(key), "%s.%s", c->devices[d].id,
				 c->devices[d].points[p].name);
			json_object_set_new(b.point_tests, key,
					    json_pack("{s:i, s:i, s:n}", "tested", 0, "not_tested",
						      0, "last_tested"));
		}

	as.cls = "alarm";
	r = store_class_scan(s, "alarm", from_ms < to_ms - YEAR_MS ? from_ms : to_ms - YEAR_MS,
			     to_ms, true, alarm_scan_cb, &as);
	if (r < 0)
		goto out;
	as.cls = "prealarm";
	r = store_class_scan(s, "prealarm", from_ms, to_ms, false, alarm_scan_cb, &as);
	if (r < 0)
		goto out;
	r = store_class_scan(s, "test", 0, to_ms, false, test_cb, &b);
	if (r < 0)
		goto out;
	r = store_class_scan(s, "fault", 0, to_ms, false, fault_cb, &b);
	if (r < 0)
		goto out;
	r = store_class_scan(s, "system", from_ms, to_ms, false, system_cb, &b);
	if (r < 0)
		goto out;
	/* records dated in the period may be entered up to 730 days later,
	 * acks come after their alarm: read records from 12 months back on */
	r = store_class_scan(s, "record", to_ms - YEAR_MS < from_ms ? to_ms - YEAR_MS : from_ms, 0,
			     true, record_cb, &b);
	if (r < 0)
		goto out;

	/* verdicts and ack times */
	for (i = 0; i < json_array_size(b.alarms); i++) {
		json_t *a = json_array_get(b.alarms, i);
		struct ack *k = find_ack(&b, str_or(a, "event_id"));
		int v = 3;

		if (k) {
			json_object_set_new(a, "acked", ts_json(k->first_ms));
			json_object_set_new(a, "acked_by", json_string(k->by));
			if (k->verdict[0])
				json_object_set_new(a, "verdict", json_string(k->verdict));
			v = strcmp(k->verdict, "real") == 0	  ? 0
			    : strcmp(k->verdict, "unwanted") == 0 ? 1
			    : strcmp(k->verdict, "test") == 0	  ? 2
								  : 3;
		}
		b.verdicts[v]++;
	}
	for (i = 0; i < json_array_size(b.year_alarms); i++) {
		struct ack *k = find_ack(&b, json_string_value(json_array_get(b.year_alarms, i)));

		if (k && strcmp(k->verdict, "unwanted") == 0)
			b.n_unwanted_12m++;
	}

	qsort(b.faults.v, b.faults.n, sizeof(*b.faults.v), span_cmp);
	build_faults(&b, lo, end, end, faults, dis, &uplink_down, &longest);

	/* availability of each configured point */
	pts = json_array();
	untested = json_array();
	for (d = 0; d < c->n_devices; d++)
		for (p = 0; p < c->devices[d].n_points; p++) {
			const struct cfg_device *dv = &c->devices[d];
			char key[KEY_MAX];
			int64_t down;
			json_t *t;

			if (!dv->points[p].enabled)
				continue;
			snprintf(key, sizeof(key), "%s.%s", dv->id, dv->points[p].name);
			down = down_time(&b.faults, dv->id, dv->points[p].name, lo, end, end);
			points_down_sum += down;
			points_pct_sum += pct(down, end - lo);
			n_points++;
			t = json_object_get(b.point_tests, key);
			json_array_append_new(
			    pts, json_pack("{s:s, s:s, s:s, s:i, s:s, s:f, s:I, s:O, s:O, s:O}",
					   "device", dv->id, "point", dv->points[p].name, "zone",
					   dv->points[p].zone, "zone_no", dv->points[p].zone_no,
					   "location", dv->points[p].location, "available_pct",
					   pct(down, end - lo), "unavailable_s",
					   (json_int_t)(down / 1000), "tested",
					   json_object_get(t, "tested"), "not_tested",
					   json_object_get(t, "not_tested"), "last_tested",
					   json_object_get(t, "last_tested")));
			if (json_integer_value(json_object_get(t, "tested")) == 0)
				json_array_append_new(untested, json_string(key));
		}
	(void)points_down_sum;

	timeline = build_timeline(&b, end);
	tl.list = json_array();
	{
		/* the status in force when the period began, then every change */
		struct timeline_ctx first = {json_array()};

		store_compliance_at(s, from_ms, compliance_row_cb, &first);
		if (json_array_size(first.list) == 1) {
			json_t *f = json_array_get(first.list, 0);

			json_object_set_new(f, "ts", ts_json(from_ms));
			json_array_append(tl.list, f);
		}
		json_decref(first.list);
	}
	r = store_compliance_range(s, from_ms, to_ms, 0, compliance_row_cb, &tl);
	if (r < 0) {
		json_decref(tl.list);
		json_decref(timeline);
		json_decref(pts);
		json_decref(untested);
		goto out;
	}
	if (store_chain_head(s, &head) < 0)
		memset(&head, 0, sizeof(head));

	sitetime_format(from_ms, "%Y-%m-%d", d1, sizeof(d1));
	sitetime_format(to_ms - 1, "%Y-%m-%d", d2, sizeof(d2));
	snprintf(lbl, sizeof(lbl), "%s..%s", d1, d2);
	rep = json_object();
	json_object_set_new(rep, "schema", json_string(REPORT_SCHEMA));
	json_object_set_new(rep, "lang", json_string(lang));
	json_object_set_new(rep, "generated", ts_json(b.now));
	json_object_set_new(rep, "site",
			    json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", c->site.id, "name",
				      c->site.name, "address", c->site.address, "facility_id",
				      c->site.facility_id, "timezone",
				      c->site.timezone[0] ? c->site.timezone : "UTC"));
	json_object_set_new(rep, "period",
			    json_pack("{s:o, s:o, s:s, s:o, s:o}", "from", ts_json(from_ms), "to",
				      ts_json(to_ms), "days", lbl, "measured_from", ts_json(lo),
				      "measured_to", ts_json(end)));
	o = json_pack("{s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:o}", "count",
		      (json_int_t)b.n_alarms, "by_verdict", "real", (json_int_t)b.verdicts[0],
		      "unwanted", (json_int_t)b.verdicts[1], "test", (json_int_t)b.verdicts[2],
		      "none", (json_int_t)b.verdicts[3], "unwanted_12_months",
		      (json_int_t)b.n_unwanted_12m, "prealarms", (json_int_t)b.n_prealarms,
		      "in_test_mode", (json_int_t)b.n_test_alarms, "list", b.alarms);
	b.alarms = NULL;
	json_object_set_new(rep, "alarms", o);
	json_object_set_new(
	    rep, "faults",
	    json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(faults), "list", faults));
	faults = NULL;
	json_object_set_new(
	    rep, "availability",
	    json_pack("{s:f, s:f, s:I, s:I, s:o}", "points_pct",
		      n_points ? round(100.0 * points_pct_sum / (double)n_points) / 100.0 : 100.0,
		      "gateway_pct", pct(uplink_down, end - lo), "uplink_down_s",
		      (json_int_t)(uplink_down / 1000), "longest_outage_s",
		      (json_int_t)(longest / 1000), "points", pts));
	json_object_set_new(
	    rep, "tests",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "tested", (json_int_t)b.n_tested,
		      "not_tested", (json_int_t)b.n_not_tested, "sessions",
		      (json_int_t)b.n_sessions, "periodic_ok", (json_int_t)b.n_periodic_ok,
		      "periodic_trouble", (json_int_t)b.n_periodic_trouble, "resets",
		      (json_int_t)b.n_resets, "untested", untested));
	json_object_set_new(rep, "records", b.records);
	b.records = NULL;
	json_object_set_new(
	    rep, "disablements",
	    json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(dis), "list", dis));
	dis = NULL;
	json_object_set_new(rep, "timeline", timeline ? timeline : json_array());
	json_object_set_new(
	    rep, "compliance",
	    json_pack("{s:o, s:o}", "at_end", compliance_at(s, c, end - 1), "timeline", tl.list));
	json_object_set_new(rep, "chain",
			    json_pack("{s:I, s:s}", "seq", (json_int_t)head.seq, "sha256",
				      store_hash_hex(head.hash, hex)));
	*ret = rep;
	r = 0;
out:
	json_decref(b.alarms);
	json_decref(b.records);
	json_decref(b.year_alarms);
	json_decref(b.point_tests);
	json_decref(b.record_index);
	json_decref(faults);
	json_decref(dis);
	spans_free(&b.faults);
	spans_free(&b.states);
	free(b.acks);
	return r;
}

/* ---- CSV ---------------------------------------------------------------- */

static void csv_row(struct report_buf *o, const char *const *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			report_buf_add(o, ",", 1);
		report_buf_csv(o, f[i]);
	}
	report_buf_add(o, "\r\n", 2);
}

/* A time of the data (RFC 3339 UTC, "...Z") as the site's local time with
 * its offset, "2026-03-05T13:07:00+07:00": what a person reads in a
 * spreadsheet, still exact. Other strings as they are. */
static const char *csv_time(const char *v, char *buf, size_t len)
{
	int64_t ms;
	int32_t off;
	char local[32];

	if (strlen(v) != 24 || v[10] != 'T' || v[23] != 'Z' || util_parse_rfc3339(v, &ms) < 0)
		return v;
	off = sitetime_offset_s(ms);
	sitetime_format(ms, "%Y-%m-%dT%H:%M:%S", local, sizeof(local));
	snprintf(buf, len, "%s%c%02d:%02d", local, off < 0 ? '-' : '+', abs(off) / 3600,
		 abs(off) % 3600 / 60);
	return buf;
}

static const char *jstr(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return csv_time(json_string_value(v), buf, len);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.2f", json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, len, "true");
	else if (json_is_false(v))
		snprintf(buf, len, "false");
	else
		buf[0] = '\0';
	return buf;
}

/* One row per list element: section, then the named fields. */
static void csv_list(struct report_buf *o, const char *section, const json_t *list,
		     const char *const *fields, size_t n)
{
	char bufs[12][64];
	const char *f[13];
	size_t i, k;

	f[0] = "section";
	for (k = 0; k < n; k++)
		f[k + 1] = fields[k];
	csv_row(o, f, n + 1);
	for (i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);

		f[0] = section;
		for (k = 0; k < n; k++)
			f[k + 1] = jstr(e, fields[k], bufs[k], sizeof(bufs[k]));
		csv_row(o, f, n + 1);
	}
	report_buf_add(o, "\r\n", 2);
}

char *report_csv(const json_t *rep, size_t *ret_len)
{
	static const char *const alarm_f[] = {"event_id", "ts",	   "type",     "device",
					      "point",	  "zone",  "zone_no",  "location",
					      "cleared",  "acked", "acked_by", "verdict"};
	static const char *const fault_f[] = {"device", "point", "type",      "from",
					      "to",	"open",	 "duration_s"};
	static const char *const point_f[] = {
	    "device",	     "point",	      "zone",	"zone_no",    "location",
	    "available_pct", "unavailable_s", "tested", "not_tested", "last_tested"};
	static const char *const rec_f[] = {"event_id",	     "kind",	    "date",   "entered",
					    "entered_later", "by",	    "result", "note",
					    "corrects",	     "corrected_by"};
	static const char *const tl_f[] = {"ts", "overall", "time_synced"};
	const json_t *site = json_object_get(rep, "site"), *per = json_object_get(rep, "period");
	const json_t *al = json_object_get(rep, "alarms"),
		     *av = json_object_get(rep, "availability");
	const json_t *te = json_object_get(rep, "tests"), *ch = json_object_get(rep, "chain");
	const json_t *co = json_object_get(rep, "compliance");
	const json_t *bv = json_object_get(al, "by_verdict");
	struct report_buf o = {0};
	char b1[64], b2[64];
	size_t i;
	struct kv {
		const char *k;
		const json_t *obj;
		const char *field;
	} const summary[] = {
	    {"site_id", site, "id"},
	    {"site_name", site, "name"},
	    {"address", site, "address"},
	    {"facility_id", site, "facility_id"},
	    {"timezone", site, "timezone"},
	    {"period_from", per, "from"},
	    {"period_to", per, "to"},
	    {"generated", rep, "generated"},
	    {"alarms", al, "count"},
	    {"alarms_real", bv, "real"},
	    {"alarms_unwanted", bv, "unwanted"},
	    {"alarms_test", bv, "test"},
	    {"alarms_no_verdict", bv, "none"},
	    {"unwanted_12_months", al, "unwanted_12_months"},
	    {"prealarms", al, "prealarms"},
	    {"alarms_in_test_mode", al, "in_test_mode"},
	    {"faults", json_object_get(rep, "faults"), "count"},
	    {"disablements", json_object_get(rep, "disablements"), "count"},
	    {"points_available_pct", av, "points_pct"},
	    {"gateway_available_pct", av, "gateway_pct"},
	    {"uplink_down_s", av, "uplink_down_s"},
	    {"longest_outage_s", av, "longest_outage_s"},
	    {"points_tested", te, "tested"},
	    {"points_not_tested", te, "not_tested"},
	    {"test_sessions", te, "sessions"},
	    {"periodic_ok", te, "periodic_ok"},
	    {"periodic_trouble", te, "periodic_trouble"},
	    {"overall_at_end", json_object_get(co, "at_end"), "overall"},
	    {"chain_seq", ch, "seq"},
	    {"chain_sha256", ch, "sha256"},
	};

	sitetime_use(json_string_value(json_object_get(site, "timezone")));
	{
		const char *h[] = {"section", "key", "value"};

		csv_row(&o, h, 3);
	}
	for (i = 0; i < ARRAY_SIZE(summary); i++) {
		const char *f[3] = {"summary", summary[i].k,
				    jstr(summary[i].obj, summary[i].field, b1, sizeof(b1))};

		csv_row(&o, f, 3);
	}
	report_buf_add(&o, "\r\n", 2);
	csv_list(&o, "alarm", json_object_get(al, "list"), alarm_f, ARRAY_SIZE(alarm_f));
	csv_list(&o, "fault", json_object_get(json_object_get(rep, "faults"), "list"), fault_f,
		 ARRAY_SIZE(fault_f));
	csv_list(&o, "disablement", json_object_get(json_object_get(rep, "disablements"), "list"),
		 fault_f, ARRAY_SIZE(fault_f));
	csv_list(&o, "point", json_object_get(av, "points"), point_f, ARRAY_SIZE(point_f));
	csv_list(&o, "record", json_object_get(rep, "records"), rec_f, ARRAY_SIZE(rec_f));
	csv_list(&o, "compliance", json_object_get(co, "timeline"), tl_f, ARRAY_SIZE(tl_f));
	(void)b2;
	return report_buf_take(&o, ret_len);
}
