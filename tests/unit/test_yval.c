/* test_yval.c - the YAML validation layer (gateway/yval.c, gateway/yrules.c):
 * every typed getter and field-table mistake with its exact message and
 * line:col, the rules parser in both modes, the checks of merged rules, the
 * EN 54-5 class limits at both edges of every class, and the proof that one
 * mistake reads the same in a profile and in a config. Error paths first,
 * then what parses. Runs from the repository root; files go to a private
 * directory under /tmp that the tests remove. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "errlist.h"
#include "profile.h"
#include "yrules.h"
#include "ytree.h"
#include "yval.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Parses a snippet named "t.yaml" (it must parse). */
static struct ytree *tree_of(const char *yaml)
{
	struct errlist e = {0};
	struct ytree *t = NULL;

	if (ytree_load_buffer("t.yaml", yaml, strlen(yaml), &e, &t) < 0) {
		errlist_print(&e, stderr);
		fail_msg("snippet does not parse: %s", yaml);
	}
	errlist_clear(&e);
	return t;
}

/* e holds exactly one line, equal to "t.yaml:<line>:<col>: error: <msg>". */
static bool one_error(const struct errlist *e, int line, int col, const char *msg)
{
	char want[1024];

	snprintf(want, sizeof(want), "t.yaml:%d:%d: error: %s", line, col, msg);
	return e->n == 1 && e->n_errors == 1 && strcmp(e->lines[0], want) == 0;
}

static void report(const char *name, const struct errlist *e, int line, int col, const char *msg)
{
	print_error("case '%s': expected\n  t.yaml:%d:%d: error: %s\ngot %zu:\n", name, line, col,
		    msg, e->n);
	errlist_print(e, stderr);
}

/* ---- field tables and getters: one wording per mistake ---- */

struct thing {
	int count;
	double ratio, level;
	bool on;
	char label[8], id[8], name[8];
	int colour;
};

static const struct yval_enum colours[] = {
    {"red", 1, NULL},
    {"green", 2, NULL},
    {"blue", 3, "blue (the sky)"},
};

static const struct yval_field thing_fields[] = {
    {.name = "count",
     .type = YV_INT,
     .off = offsetof(struct thing, count),
     .min = 1,
     .max = 10,
     .required = true,
     .hint = " (how many)"},
    {.name = "ratio",
     .type = YV_DOUBLE,
     .off = offsetof(struct thing, ratio),
     .dmin = 0,
     .dmax = 1},
    {.name = "level",
     .type = YV_DOUBLE,
     .off = offsetof(struct thing, level),
     .dmin = 0,
     .dmax = HUGE_VAL,
     .nullable = true},
    YV_F_BOOL(struct thing, on),
    YV_F_STR(struct thing, label),
    YV_F_SLUG(struct thing, id),
    {.name = "name",
     .type = YV_ID,
     .off = offsetof(struct thing, name),
     .size = sizeof(((struct thing *)0)->name)},
    {.name = "colour",
     .type = YV_ENUM,
     .off = offsetof(struct thing, colour),
     .names = colours,
     .n_names = ARRAY_LEN(colours)},
};

struct bad_case {
	const char *name;
	const char *yaml;
	int line, col;
	const char *msg;
};

#define C1 "count: 1\n"

static const struct bad_case bad_fields[] = {
    {"unknown key", C1 "color: red\n", 2, 1,
     "unknown key 'color' in thing; allowed: count, ratio, level, on, label, id, name, "
     "colour"},
    {"missing required key", "ratio: 0.5\n", 1, 1, "thing: 'count' is required (how many)"},
    {"int not a number", "count: many\n", 1, 8,
     "thing: count: expected a whole number in 1..10, got 'many'"},
    {"int out of range", "count: 11\n", 1, 8,
     "thing: count 11 is out of range 1..10; use a whole number in that range"},
    {"int below range", "count: 0\n", 1, 8,
     "thing: count 0 is out of range 1..10; use a whole number in that range"},
    {"int huge", "count: 99999999999999999999\n", 1, 8,
     "thing: count 99999999999999999999 is out of range 1..10; use a whole number in that "
     "range"},
    {"int a fraction", "count: 2.5\n", 1, 8,
     "thing: count: expected a whole number in 1..10, got '2.5'"},
    {"int quoted", "count: \"5\"\n", 1, 8,
     "thing: count: expected a number, got the string \"5\"; write the number without "
     "quotes"},
    {"int a mapping", "count: {a: 1}\n", 1, 8, "thing: count: expected a number, got a mapping"},
    {"int a list", "count: [1]\n", 1, 8, "thing: count: expected a number, got a sequence"},
    {"double not a number", C1 "ratio: x\n", 2, 8, "thing: ratio: expected a number, got 'x'"},
    {"double out of range", C1 "ratio: 1.5\n", 2, 8, "thing: ratio 1.5 is out of range 0..1"},
    {"double below a minimum", C1 "level: -1\n", 2, 8, "thing: level -1 must be 0 or more"},
    {"null where no null is allowed", C1 "ratio: null\n", 2, 8,
     "thing: ratio: expected a number, got 'null'"},
    {"nullable not a number", C1 "level: high\n", 2, 8,
     "thing: level: expected a number (or null to remove it), got 'high'"},
    {"double infinite", C1 "ratio: .inf\n", 2, 8, "thing: ratio: expected a number, got '.inf'"},
    {"double quoted", C1 "ratio: \"0.5\"\n", 2, 8,
     "thing: ratio: expected a number, got the string \"0.5\"; write the number without "
     "quotes"},
    {"bool yes", C1 "on: yes\n", 2, 5, "thing: on: expected true or false, got 'yes'"},
    {"bool quoted", C1 "on: \"true\"\n", 2, 5, "thing: on: expected true or false, got 'true'"},
    {"bool a list", C1 "on: [true]\n", 2, 5, "thing: on: expected true or false, got a sequence"},
    {"string too long", C1 "label: abcdefghij\n", 2, 8,
     "thing: label is too long (10 bytes, at most 7); shorten it"},
    {"string a mapping", C1 "label: {a: b}\n", 2, 8,
     "thing: label: expected a string, got a mapping"},
    {"slug with capitals", C1 "id: Big_1\n", 2, 5,
     "thing: id 'Big_1' is not a valid id; use lowercase letters, digits and '-', starting "
     "with a letter or digit, at most 7 characters"},
    {"slug too long", C1 "id: abcdefgh\n", 2, 5,
     "thing: id 'abcdefgh' is not a valid id; use lowercase letters, digits and '-', starting "
     "with a letter or digit, at most 7 characters"},
    {"plain id with a dot", C1 "name: a.b\n", 2, 7,
     "thing: name 'a.b' is not a valid name; use 1 to 7 of A-Z a-z 0-9 _ -"},
    {"enum unknown", C1 "colour: pink\n", 2, 9,
     "thing: colour: expected red, green or blue (the sky), got 'pink'"},
    {"enum a mapping", C1 "colour: {r: 1}\n", 2, 9,
     "thing: colour: expected red, green or blue (the sky), got a mapping"},
};

static void test_bad_fields(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_fields); i++) {
		const struct bad_case *t = &bad_fields[i];
		const struct ynode *found[YVAL_FIELD_MAX];
		struct thing th = {.count = -1};
		struct ytree *tree = tree_of(t->yaml);
		struct errlist e = {0};
		struct yval y;

		yval_init(&y, "t.yaml", &e);
		yval_map(&y, "thing", tree->root, thing_fields, ARRAY_LEN(thing_fields), &th,
			 found);
		if (!one_error(&e, t->line, t->col, t->msg) || y.n_errors != 1) {
			report(t->name, &e, t->line, t->col, t->msg);
			failed++;
		}
		errlist_clear(&e);
		ytree_free(tree);
	}
	assert_int_equal(failed, 0);
}

/* Every mistake of a mapping at once, in document order. */
static void test_all_at_once(void **state)
{
	const struct ynode *found[YVAL_FIELD_MAX];
	struct ytree *t = tree_of("ratio: 2\non: no\nshade: 3\n");
	struct errlist e = {0};
	struct thing th = {0};
	struct yval y;

	(void)state;
	yval_init(&y, "t.yaml", &e);
	yval_map(&y, "thing", t->root, thing_fields, ARRAY_LEN(thing_fields), &th, found);
	assert_int_equal(e.n_errors, 4);
	assert_int_equal(y.n_errors, 4);
	assert_string_equal(e.lines[0], "t.yaml:1:8: error: thing: ratio 2 is out of range 0..1");
	assert_string_equal(e.lines[1],
			    "t.yaml:2:5: error: thing: on: expected true or false, got 'no'");
	assert_string_equal(e.lines[2], "t.yaml:3:1: error: unknown key 'shade' in thing; allowed: "
					"count, ratio, level, on, label, id, name, colour");
	assert_string_equal(e.lines[3], "t.yaml:1:1: error: thing: 'count' is required (how many)");
	/* the key is present even though its value was wrong */
	assert_non_null(found[1]);
	assert_null(found[0]);
	errlist_clear(&e);
	ytree_free(t);
}

static void test_kinds_and_root(void **state)
{
	struct ytree *t = tree_of("- a\n- b\n");
	struct errlist e = {0};
	struct yval y;

	(void)state;
	yval_init(&y, "t.yaml", &e);
	assert_false(yval_is_root_map(&y, t->root, "a:, b:"));
	assert_true(one_error(&e, 1, 1,
			      "the top level must be a mapping of sections (a:, b:), not a "
			      "sequence"));
	errlist_clear(&e);
	assert_false(yval_is_map(&y, "x", "list", t->root));
	assert_true(one_error(&e, 1, 1,
			      "x: list: expected a mapping (key: value lines), got a "
			      "sequence"));
	errlist_clear(&e);
	assert_false(yval_is_seq(&y, "x", "item", t->root->values[0]));
	assert_true(one_error(&e, 1, 3,
			      "x: item: expected a list ('- item' lines or [a, b]), got "
			      "'a'"));
	errlist_clear(&e);
	assert_true(yval_is_seq(&y, "x", "list", t->root));
	assert_int_equal(e.n, 0);
	ytree_free(t);
}

/* Register addresses take hex too, with the same messages. */
static void test_hex(void **state)
{
	static const struct bad_case cases[] = {
	    {"0x alone", "a: 0x\n", 1, 4,
	     "v: address: expected a whole number in 0..65535, got '0x'"},
	    {"0x-1", "a: 0x-1\n", 1, 4,
	     "v: address: expected a whole number in 0..65535, got '0x-1'"},
	    {"0x 1", "a: \"0x 1\"\n", 1, 4,
	     "v: address: expected a number, got the string \"0x 1\"; write the number without "
	     "quotes"},
	    {"0xg", "a: 0xg\n", 1, 4, "v: address: expected a whole number in 0..65535, got '0xg'"},
	    {"0x10000", "a: 0x10000\n", 1, 4,
	     "v: address 0x10000 is out of range 0..65535; use a whole number in that range"},
	};
	struct errlist e = {0};
	size_t i, failed = 0;
	struct yval y;
	long l;

	(void)state;
	yval_init(&y, "t.yaml", &e);
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct ytree *t = tree_of(cases[i].yaml);

		if (yval_long(&y, "v", "address", t->root->values[0], 0, 65535, true, &l) ||
		    !one_error(&e, cases[i].line, cases[i].col, cases[i].msg)) {
			report(cases[i].name, &e, cases[i].line, cases[i].col, cases[i].msg);
			failed++;
		}
		errlist_clear(&e);
		ytree_free(t);
	}
	assert_int_equal(failed, 0);
	{
		struct ytree *t = tree_of("a: 0x1F\nb: 0x1f\n");

		assert_true(yval_long(&y, "v", "a", t->root->values[0], 0, 65535, true, &l));
		assert_int_equal(l, 31);
		/* without hex, 0x is not a number */
		assert_false(yval_long(&y, "v", "b", t->root->values[1], 0, 65535, false, &l));
		assert_true(
		    one_error(&e, 2, 4, "v: b: expected a whole number in 0..65535, got '0x1f'"));
		errlist_clear(&e);
		ytree_free(t);
	}
}

/* The sink config.c uses: messages come back with their node. */
struct sink {
	int n;
	bool warning;
	int line;
	char msg[256];
};

static void sink_emit(void *arg, bool warning, const struct ynode *at, const char *msg)
{
	struct sink *s = arg;

	s->n++;
	s->warning = warning;
	s->line = at ? at->line : 0;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

static void test_emit_sink(void **state)
{
	struct ytree *t = tree_of("a: 1\nb: x\n");
	struct sink s = {0};
	struct yval y;
	bool b;

	(void)state;
	yval_init_emit(&y, "t.yaml", sink_emit, &s);
	assert_false(yval_bool(&y, "w", "b", t->root->values[1], &b));
	assert_int_equal(s.n, 1);
	assert_false(s.warning);
	assert_int_equal(s.line, 2);
	assert_string_equal(s.msg, "w: b: expected true or false, got 'x'");
	yval_warn(&y, t->root->values[0], "careful");
	assert_int_equal(s.n, 2);
	assert_true(s.warning);
	assert_int_equal(y.n_errors, 1); /* warnings are not errors */
	ytree_free(t);
}

/* ---- the rules parser ---- */

struct rules_case {
	const char *name;
	enum yrules_mode mode;
	const char *yaml;
	int line, col;
	const char *msg;
};

#define ALLOWED_RULES                                                                              \
	"alarm_above, prealarm_above, hysteresis, confirm, rate_of_rise, ror_window_s, "           \
	"valid_min, valid_max, latch, chatter_max, en54_class"

static const struct rules_case bad_rules[] = {
    {"unknown rule", YRULES_DEFAULTS, "alarm_abov: 3\n", 1, 1,
     "unknown key 'alarm_abov' in r; allowed: " ALLOWED_RULES},
    {"unknown rule, override", YRULES_OVERRIDE, "alarm_abov: 3\n", 1, 1,
     "unknown key 'alarm_abov' in r; allowed: " ALLOWED_RULES},
    {"not a mapping", YRULES_DEFAULTS, "[alarm_above]\n", 1, 1,
     "r: rules: expected a mapping (key: value lines), got a sequence"},
    {"null in defaults", YRULES_DEFAULTS, "alarm_above: null\n", 1, 14,
     "r: alarm_above: expected a number, got 'null'"},
    {"not a number, override", YRULES_OVERRIDE, "alarm_above: high\n", 1, 14,
     "r: alarm_above: expected a number (or null to remove it), got 'high'"},
    {"prealarm quoted", YRULES_DEFAULTS, "prealarm_above: \"2\"\n", 1, 17,
     "r: prealarm_above: expected a number, got the string \"2\"; write the number without "
     "quotes"},
    {"hysteresis negative", YRULES_DEFAULTS, "hysteresis: -1\n", 1, 13,
     "r: hysteresis -1 must be 0 or more"},
    {"hysteresis null", YRULES_OVERRIDE, "hysteresis: null\n", 1, 13,
     "r: hysteresis: expected a number, got 'null'"},
    {"confirm 0", YRULES_DEFAULTS, "confirm: 0\n", 1, 10,
     "r: confirm 0 is out of range 1..100; use a whole number in that range"},
    {"confirm 101", YRULES_OVERRIDE, "confirm: 101\n", 1, 10,
     "r: confirm 101 is out of range 1..100; use a whole number in that range"},
    {"ror_window_s 3601", YRULES_DEFAULTS, "ror_window_s: 3601\n", 1, 15,
     "r: ror_window_s 3601 is out of range 1..3600; use a whole number in that range"},
    {"chatter_max 65", YRULES_DEFAULTS, "chatter_max: 65\n", 1, 14,
     "r: chatter_max 65 is out of range 1..64; use a whole number in that range"},
    {"rate_of_rise 0", YRULES_DEFAULTS, "rate_of_rise: 0\n", 1, 15,
     "r: rate_of_rise 0 must be above 0 (per minute)"},
    {"rate_of_rise -1, override", YRULES_OVERRIDE, "rate_of_rise: -1\n", 1, 15,
     "r: rate_of_rise -1 must be above 0 (per minute), or null to remove it"},
    {"latch on", YRULES_DEFAULTS, "latch: on\n", 1, 8,
     "r: latch: expected true or false, got 'on'"},
    {"class none in defaults", YRULES_DEFAULTS, "en54_class: none\n", 1, 13,
     "r: en54_class: expected A1, A2, B, C, D, E, F or G, got 'none'"},
    {"class H, override", YRULES_OVERRIDE, "en54_class: H\n", 1, 13,
     "r: en54_class: expected A1, A2, B, C, D, E, F, G or none, got 'H'"},
    {"class a1 (case)", YRULES_DEFAULTS, "en54_class: a1\n", 1, 13,
     "r: en54_class: expected A1, A2, B, C, D, E, F or G, got 'a1'"},
};

static void test_bad_rules(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_rules); i++) {
		const struct rules_case *t = &bad_rules[i];
		struct ytree *tree = tree_of(t->yaml);
		struct errlist e = {0};
		struct yrules rs;
		struct yval y;
		int k, n_set = 0;

		yval_init(&y, "t.yaml", &e);
		yrules_parse(&y, "r", "rules", tree->root, t->mode, &rs);
		for (k = 0; k < YRULE_MAX; k++)
			n_set += rs.set[k];
		if (!one_error(&e, t->line, t->col, t->msg) || n_set != 0) {
			report(t->name, &e, t->line, t->col, t->msg);
			failed++;
		}
		errlist_clear(&e);
		ytree_free(tree);
	}
	assert_int_equal(failed, 0);
}

/* Checks of merged rules: each at the key that set the value. */
struct check_case {
	const char *name;
	const char *yaml;
	enum point_kind kind;
	int line, col;
	const char *msg;
};

static const struct check_case bad_checks[] = {
    {"prealarm not below alarm", "alarm_above: 50\nprealarm_above: 60\n", PKIND_SMOKE, 2, 1,
     "p: prealarm_above 60 must be below alarm_above 50"},
    {"prealarm equal to alarm", "alarm_above: 50\nprealarm_above: 50\n", PKIND_SMOKE, 2, 1,
     "p: prealarm_above 50 must be below alarm_above 50"},
    {"valid range empty", "valid_min: 5\nvalid_max: 5\n", PKIND_SMOKE, 1, 1,
     "p: valid_min 5 must be below valid_max 5"},
    {"alarm above valid_max", "valid_max: 20\nalarm_above: 30\n", PKIND_SMOKE, 2, 1,
     "p: alarm_above 30 is above valid_max 20 and could never be reached; lower the "
     "threshold"},
    {"class on a smoke point", "en54_class: A1\n", PKIND_SMOKE, 1, 1,
     "p: en54_class is only for heat points, and this is a smoke point; remove it"},
    {"class on a temperature point", "en54_class: B\n", PKIND_TEMPERATURE, 1, 1,
     "p: en54_class is only for heat points, and this is a temperature point; remove it"},
    {"alarm outside the class", "en54_class: A1\nalarm_above: 70\n", PKIND_HEAT, 2, 1,
     "p: alarm_above 70 is outside EN 54-5 class A1 (54..65 °C); use a threshold within the "
     "class or change the class"},
    {"class change leaves the alarm outside", "en54_class: G\n", PKIND_HEAT, 1, 1,
     "p: alarm_above 58 is outside EN 54-5 class G (144..160 °C); use a threshold within the "
     "class or change the class"},
};

static void test_bad_checks(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_checks); i++) {
		const struct check_case *t = &bad_checks[i];
		struct ytree *tree = tree_of(t->yaml);
		struct yrules_pos pos = {{NULL}};
		enum en54_class c = EN54_NONE;
		struct detect_rules r;
		struct errlist e = {0};
		struct yrules rs;
		struct yval y;

		detect_rules_default(&r);
		/* a heat point's default threshold, from its profile: no position */
		if (t->kind == PKIND_HEAT)
			r.alarm_above = 58;
		yval_init(&y, "t.yaml", &e);
		yrules_parse(&y, "r", "rules", tree->root, YRULES_OVERRIDE, &rs);
		yrules_apply(&rs, &r, &c, &pos);
		yrules_check(&y, "p", &r, c, t->kind, &pos);
		if (!one_error(&e, t->line, t->col, t->msg)) {
			report(t->name, &e, t->line, t->col, t->msg);
			failed++;
		}
		errlist_clear(&e);
		ytree_free(tree);
	}
	assert_int_equal(failed, 0);
}

/* A mistake no key made (the profile's own, already reported) stays quiet;
 * rules on a point without a value name each key that cannot apply. */
static void test_check_fit_and_quiet(void **state)
{
	struct ytree *t = tree_of("latch: false\nalarm_above: 3\nchatter_max: 5\nconfirm: 2\n");
	struct yrules_pos pos = {{NULL}};
	struct detect_rules r;
	struct errlist e = {0};
	struct yrules rs;
	struct yval y;

	(void)state;
	yval_init(&y, "t.yaml", &e);
	detect_rules_default(&r);
	r.alarm_above = 1;
	r.prealarm_above = 2;
	yrules_check(&y, "p", &r, EN54_A1, PKIND_HEAT, &pos);
	assert_int_equal(e.n, 0);

	yrules_parse(&y, "p rules", "rules", t->root, YRULES_DEFAULTS, &rs);
	assert_int_equal(e.n, 0);
	yrules_check_fit(&y, "p rules", &rs, "p", true);
	assert_int_equal(e.n, 0);
	yrules_check_fit(&y, "p rules", &rs, "p", false);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.lines[0], "t.yaml:2:1: error: p rules: alarm_above does not apply: "
					"point 'p' has no analog value (only latch and chatter_max "
					"do); remove it");
	assert_string_equal(e.lines[1], "t.yaml:4:1: error: p rules: confirm does not apply: point "
					"'p' has no analog value (only latch and chatter_max do); "
					"remove it");
	errlist_clear(&e);
	ytree_free(t);
}

/* ---- EN 54-5 (SPEC §4): both edges of every class ---- */

static void test_en54_edges(void **state)
{
	static const struct {
		enum en54_class c;
		const char *name;
		double lo, hi;
	} classes[] = {
	    {EN54_A1, "A1", 54, 65}, {EN54_A2, "A2", 54, 70}, {EN54_B, "B", 69, 85},
	    {EN54_C, "C", 84, 100},  {EN54_D, "D", 99, 115},  {EN54_E, "E", 114, 130},
	    {EN54_F, "F", 129, 145}, {EN54_G, "G", 144, 160},
	};
	struct ytree *t = tree_of("alarm_above: 1\n");
	const struct ynode *at = t->root->keys[0];
	struct errlist e = {0};
	char want[256];
	size_t i, failed = 0;
	struct yval y;

	(void)state;
	assert_int_equal(ARRAY_LEN(classes), EN54_MAX - 1);
	yval_init(&y, "t.yaml", &e);
	for (i = 0; i < ARRAY_LEN(classes); i++) {
		const double outside[2] = {classes[i].lo - 0.1, classes[i].hi + 0.1};
		double lo, hi;
		int k;

		assert_int_equal(en54_class_range(classes[i].c, &lo, &hi), 0);
		assert_true(lo == classes[i].lo && hi == classes[i].hi);
		assert_string_equal(en54_class_name(classes[i].c), classes[i].name);
		/* the edges themselves are inside */
		if (!yrules_check_en54(&y, at, "p", classes[i].c, classes[i].lo) ||
		    !yrules_check_en54(&y, at, "p", classes[i].c, classes[i].hi) || e.n != 0) {
			print_error("class %s: an edge was refused\n", classes[i].name);
			errlist_print(&e, stderr);
			failed++;
		}
		errlist_clear(&e);
		for (k = 0; k < 2; k++) {
			snprintf(want, sizeof(want),
				 "p: alarm_above %g is outside EN 54-5 class %s (%g..%g °C); use a "
				 "threshold within the class or change the class",
				 outside[k], classes[i].name, classes[i].lo, classes[i].hi);
			if (yrules_check_en54(&y, at, "p", classes[i].c, outside[k]) ||
			    !one_error(&e, 1, 1, want)) {
				report(classes[i].name, &e, 1, 1, want);
				failed++;
			}
			errlist_clear(&e);
		}
	}
	/* no class, or no threshold: nothing to check */
	assert_true(yrules_check_en54(&y, at, "p", EN54_NONE, 500));
	assert_true(yrules_check_en54(&y, at, "p", EN54_A1, NAN));
	assert_int_equal(e.n, 0);
	assert_int_equal(failed, 0);
	ytree_free(t);
}

/* ---- the same mistake, the same words, in a profile and in a config ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	char d[96];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_yval.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(d, sizeof(d), "%s/good", tmpdir);
	mkdir(d, 0700);
	snprintf(d, sizeof(d), "%s/bad", tmpdir);
	mkdir(d, 0700);
	unsetenv("FIREGW_SENSORS_DIR");
	return 0;
}

static void rm_files(void)
{
	static const char *const files[] = {"good/t-heat.yaml", "bad/t-heat.yaml", "c.yaml"};
	char path[128];
	size_t i;

	for (i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
}

static int teardown_dir(void **state)
{
	char d[96];

	(void)state;
	rm_files();
	snprintf(d, sizeof(d), "%s/good", tmpdir);
	rmdir(d);
	snprintf(d, sizeof(d), "%s/bad", tmpdir);
	rmdir(d);
	rmdir(tmpdir);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* The profile's rules are on line 11 from column 13; the config's device
 * rules for the same value on line 10 from column 21. */
#define PROFILE_FMT                                                                                \
	"profile: t-heat\n"                                                                        \
	"values:\n"                                                                                \
	"  - {name: status, table: input, address: 0}\n"                                           \
	"  - {name: temperature, table: input, address: 1, type: s16, scale: 0.1}\n"               \
	"points:\n"                                                                                \
	"  - name: heat\n"                                                                         \
	"    kind: heat\n"                                                                         \
	"    en54_class: A1\n"                                                                     \
	"    flags: {fire: {value: status, bit: 0}}\n"                                             \
	"    value: temperature\n"                                                                 \
	"    rules: {%s}\n"
#define CONFIG_FMT                                                                                 \
	"site: {id: s1}\n"                                                                         \
	"buses:\n"                                                                                 \
	"  - {id: b1, rtu: {device: /dev/null}}\n"                                                 \
	"devices:\n"                                                                               \
	"  - id: d1\n"                                                                             \
	"    bus: b1\n"                                                                            \
	"    unit: 1\n"                                                                            \
	"    profile: t-heat\n"                                                                    \
	"    rules:\n"                                                                             \
	"      temperature: {%s}\n"

struct same_case {
	const char *name;
	const char *rules; /* the same text in both files */
	int off;	   /* column of the message's node after the mapping's '{' */
	bool check;	   /* a check of the merged point, not of one key's value */
	const char *fmt;   /* the message, %s = where */
};

static const struct same_case same_cases[] = {
    {"unknown rule", "alarm_abov: 60", 0, false,
     "unknown key 'alarm_abov' in %s; allowed: " ALLOWED_RULES},
    {"out of range", "confirm: 0", 9, false,
     "%s: confirm 0 is out of range 1..100; use a whole number in that range"},
    {"quoted number", "confirm: \"2\"", 9, false,
     "%s: confirm: expected a number, got the string \"2\"; write the number without quotes"},
    {"boolean yes", "latch: yes", 7, false, "%s: latch: expected true or false, got 'yes'"},
    {"below a minimum", "hysteresis: -1", 12, false, "%s: hysteresis -1 must be 0 or more"},
    {"outside the EN 54-5 class", "alarm_above: 70", 0, true,
     "%s: alarm_above 70 is outside EN 54-5 class A1 (54..65 °C); use a threshold within the "
     "class or change the class"},
    {"prealarm not below alarm", "alarm_above: 60, prealarm_above: 60", 17, true,
     "%s: prealarm_above 60 must be below alarm_above 60"},
};

/* Appends fmt to buf with its one "%s" replaced by where (not printf: the
 * table's formats are data). */
static void append_where(char *buf, size_t size, const char *fmt, const char *where)
{
	const char *hole = strstr(fmt, "%s");
	size_t len = strlen(buf);

	assert_non_null(hole);
	snprintf(buf + len, size - len, "%.*s%s%s", (int)(hole - fmt), fmt, where, hole + 2);
}

static void test_same_wording(void **state)
{
	char ppath[128], gpath[128], cpath[128], text[1024], want[1024], want_cfg[1024];
	size_t i, j, failed = 0;

	(void)state;
	snprintf(gpath, sizeof(gpath), "%s/good/t-heat.yaml", tmpdir);
	snprintf(text, sizeof(text), PROFILE_FMT, "alarm_above: 58");
	write_file(gpath, text);
	snprintf(ppath, sizeof(ppath), "%s/bad/t-heat.yaml", tmpdir);
	snprintf(cpath, sizeof(cpath), "%s/c.yaml", tmpdir);
	for (i = 0; i < ARRAY_LEN(same_cases); i++) {
		const struct same_case *t = &same_cases[i];
		struct errlist pe = {0}, ce = {0};
		struct profile *p = NULL;
		struct config *c = NULL;
		char dir[96];
		bool found = false;

		/* in a profile's defaults */
		snprintf(text, sizeof(text), PROFILE_FMT, t->rules);
		write_file(ppath, text);
		snprintf(want, sizeof(want), "%s:11:%d: error: ", ppath, 13 + t->off);
		append_where(want, sizeof(want), t->fmt,
			     t->check ? "point 'heat'" : "point 'heat' rules");
		if (profile_load(ppath, &pe, &p) != -EINVAL || pe.n != 1 ||
		    strcmp(pe.lines[0], want) != 0) {
			print_error("case '%s' (profile): expected\n%s\ngot:\n", t->name, want);
			errlist_print(&pe, stderr);
			failed++;
		}
		profile_free(p);
		errlist_clear(&pe);

		/* in a config's override of the same rules */
		snprintf(text, sizeof(text), CONFIG_FMT, t->rules);
		write_file(cpath, text);
		snprintf(want_cfg, sizeof(want_cfg), "%s:10:%d: error: ", cpath, 21 + t->off);
		append_where(want_cfg, sizeof(want_cfg), t->fmt,
			     t->check ? "device 'd1' point 'heat'"
				      : "device 'd1' rules 'temperature'");
		snprintf(dir, sizeof(dir), "%s/good", tmpdir);
		if (config_load(cpath, dir, &ce, &c) == -EINVAL)
			for (j = 0; j < ce.n; j++)
				found |= strcmp(ce.lines[j], want_cfg) == 0;
		if (!found || ce.n_errors != 1) {
			print_error("case '%s' (config): expected\n%s\ngot:\n", t->name, want_cfg);
			errlist_print(&ce, stderr);
			failed++;
		}
		config_free(c);
		errlist_clear(&ce);
	}
	assert_int_equal(failed, 0);
}

/* ---- what parses ---- */

static void test_fields_parse(void **state)
{
	const struct ynode *found[YVAL_FIELD_MAX];
	struct ytree *t = tree_of("count: 10\nratio: 0.25\nlevel: null\non: true\nlabel: \"\"\n"
				  "id: a-1\nname: A_b-9\ncolour: blue\n");
	struct errlist e = {0};
	struct thing th = {.level = 7};
	struct yval y;

	(void)state;
	yval_init(&y, "t.yaml", &e);
	yval_map(&y, "thing", t->root, thing_fields, ARRAY_LEN(thing_fields), &th, found);
	assert_int_equal(e.n, 0);
	assert_int_equal(th.count, 10);
	assert_true(th.ratio == 0.25);
	assert_true(isnan(th.level));
	assert_true(th.on);
	assert_string_equal(th.label, "");
	assert_string_equal(th.id, "a-1");
	assert_string_equal(th.name, "A_b-9");
	assert_int_equal(th.colour, 3);
	assert_int_equal(yval_field_index(thing_fields, ARRAY_LEN(thing_fields), "colour"), 7);
	assert_int_equal(yval_field_index(thing_fields, ARRAY_LEN(thing_fields), "nope"), -1);
	assert_ptr_equal(yval_key(t->root, "on"), t->root->keys[3]);
	assert_null(yval_key(t->root, "off"));
	assert_true(yval_is_null(t->root->values[2]));
	assert_false(yval_is_null(t->root->values[4])); /* "" quoted is a string */
	ytree_free(t);
}

static void test_rules_parse(void **state)
{
	struct ytree *t =
	    tree_of("alarm_above: 4.5\nprealarm_above: null\nhysteresis: 0.5\n"
		    "confirm: 3\nrate_of_rise: 8\nror_window_s: 120\nvalid_min: -1\n"
		    "valid_max: 99\nlatch: false\nchatter_max: 20\nen54_class: none\n");
	struct yrules_pos pos = {{NULL}};
	enum en54_class c = EN54_A1;
	struct detect_rules r;
	struct errlist e = {0};
	struct yrules rs;
	struct yval y;
	int k;

	(void)state;
	yval_init(&y, "t.yaml", &e);
	yrules_parse(&y, "r", "rules", t->root, YRULES_OVERRIDE, &rs);
	assert_int_equal(e.n, 0);
	for (k = 0; k < YRULE_MAX; k++) {
		assert_true(rs.set[k]);
		assert_ptr_equal(rs.at[k], t->root->keys[k]);
		assert_string_equal(yrule_name((enum yrule)k), t->root->keys[k]->scalar);
	}
	detect_rules_default(&r);
	r.prealarm_above = 2;
	yrules_apply(&rs, &r, &c, &pos);
	assert_true(r.alarm_above == 4.5);
	assert_true(isnan(r.prealarm_above)); /* null removes it */
	assert_true(r.hysteresis == 0.5);
	assert_int_equal(r.confirm, 3);
	assert_true(r.rate_of_rise == 8);
	assert_int_equal(r.ror_window_s, 120);
	assert_true(r.valid_min == -1 && r.valid_max == 99);
	assert_false(r.latch);
	assert_int_equal(r.chatter_max, 20);
	assert_int_equal(c, EN54_NONE);
	assert_ptr_equal(pos.at[YRULE_ALARM], t->root->keys[0]);
	assert_string_equal(yrule_name(YRULE_INVALID), "invalid");
	ytree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_fields),		cmocka_unit_test(test_all_at_once),
	    cmocka_unit_test(test_kinds_and_root),	cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_bad_rules),		cmocka_unit_test(test_bad_checks),
	    cmocka_unit_test(test_check_fit_and_quiet), cmocka_unit_test(test_en54_edges),
	    cmocka_unit_test(test_same_wording),	cmocka_unit_test(test_emit_sink),
	    cmocka_unit_test(test_fields_parse),	cmocka_unit_test(test_rules_parse),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
