/* test_errlist.c - unit tests of gateway/errlist.c: the "file:line:col:"
 * format with and without a position, error and warning counts, the
 * ERRLIST_MAX bound (kept vs dropped) and errlist_clear. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "errlist.h"

/* errlist_print output, read back from a temporary file. Caller frees. */
static char *print_to_string(const struct errlist *e)
{
	FILE *f = tmpfile();
	char *buf;
	long len;

	assert_non_null(f);
	errlist_print(e, f);
	assert_int_equal(fflush(f), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	assert_int_equal(fclose(f), 0);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_overflow_counted_in_dropped(void **state)
{
	struct errlist e = {0};
	char *out, *last;
	int i;

	(void)state;
	for (i = 0; i < ERRLIST_MAX + 5; i++)
		errlist_add(&e, "f.yaml", i + 1, 1, "error number %d", i);
	errlist_warn(&e, "f.yaml", 1000, 2, "a late warning");
	assert_int_equal(e.n, ERRLIST_MAX);
	assert_int_equal(e.dropped, 6);
	assert_int_equal(e.n_errors, ERRLIST_MAX + 5);
	assert_int_equal(e.n_warnings, 1);
	/* the first ones are kept, in order */
	assert_string_equal(e.lines[0], "f.yaml:1:1: error: error number 0");
	assert_string_equal(e.lines[ERRLIST_MAX - 1], "f.yaml:200:1: error: error number 199");

	out = print_to_string(&e);
	/* every kept line, then one summary line */
	assert_int_equal(count_lines(out), ERRLIST_MAX + 1);
	last = strstr(out, "(6 more not shown) 205 errors, 1 warnings\n");
	assert_non_null(last);
	assert_int_equal(strlen(last), strlen("(6 more not shown) 205 errors, 1 warnings\n"));
	free(out);
	errlist_clear(&e);
}

static void test_long_message_truncated_not_overflowed(void **state)
{
	struct errlist e = {0};
	char big[4000];

	(void)state;
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errlist_add(&e, "f.yaml", 3, 4, "%s", big);
	assert_int_equal(e.n, 1);
	assert_true(strncmp(e.lines[0], "f.yaml:3:4: error: mmm", 22) == 0);
	assert_true(strlen(e.lines[0]) < sizeof(big));
	errlist_clear(&e);
}

static void test_format_with_position(void **state)
{
	struct errlist e = {0};

	(void)state;
	errlist_add(&e, "/etc/firegw/firegw.yaml", 12, 7, "unknown key '%s'", "adress");
	errlist_warn(&e, "sensors/smoke.yaml", 3, 1, "bus '%s' is %d %% loaded", "rs485-1", 80);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.lines[0],
			    "/etc/firegw/firegw.yaml:12:7: error: unknown key 'adress'");
	assert_string_equal(e.lines[1],
			    "sensors/smoke.yaml:3:1: warning: bus 'rs485-1' is 80 % loaded");
	assert_false(e.warning[0]);
	assert_true(e.warning[1]);
	errlist_clear(&e);
}

static void test_format_without_position(void **state)
{
	struct errlist e = {0};

	(void)state;
	errlist_add(&e, "firegw.yaml", 0, 0, "cannot open: %s", "No such file or directory");
	errlist_warn(&e, "firegw.yaml", 0, 5, "no devices");
	assert_string_equal(e.lines[0],
			    "firegw.yaml: error: cannot open: No such file or directory");
	/* line 0 means no position even when a column is given */
	assert_string_equal(e.lines[1], "firegw.yaml: warning: no devices");
	errlist_clear(&e);
}

static void test_counts_and_print(void **state)
{
	struct errlist e = {0};
	char *out;

	(void)state;
	errlist_warn(&e, "a", 1, 1, "w1");
	errlist_add(&e, "a", 2, 1, "e1");
	errlist_warn(&e, "a", 3, 1, "w2");
	errlist_add(&e, "a", 4, 1, "e2");
	errlist_add(&e, "a", 5, 1, "e3");
	assert_int_equal(e.n, 5);
	assert_int_equal(e.n_errors, 3);
	assert_int_equal(e.n_warnings, 2);
	assert_int_equal(e.dropped, 0);

	out = print_to_string(&e);
	/* no summary line while nothing was dropped */
	assert_string_equal(out, "a:1:1: warning: w1\n"
				 "a:2:1: error: e1\n"
				 "a:3:1: warning: w2\n"
				 "a:4:1: error: e2\n"
				 "a:5:1: error: e3\n");
	free(out);
	errlist_clear(&e);
}

static void test_print_empty(void **state)
{
	struct errlist e = {0};
	char *out;

	(void)state;
	out = print_to_string(&e);
	assert_string_equal(out, "");
	free(out);
}

static void test_clear(void **state)
{
	struct errlist e = {0};
	int i;

	(void)state;
	for (i = 0; i < ERRLIST_MAX + 3; i++)
		errlist_add(&e, "f", 1, 1, "x");
	errlist_warn(&e, "f", 1, 1, "w");
	errlist_clear(&e);
	assert_int_equal(e.n, 0);
	assert_int_equal(e.dropped, 0);
	assert_int_equal(e.n_errors, 0);
	assert_int_equal(e.n_warnings, 0);
	assert_null(e.lines[0]);
	assert_false(e.warning[0]);
	/* usable again after a clear, and clearing twice is harmless */
	errlist_add(&e, "g", 2, 3, "again");
	assert_int_equal(e.n, 1);
	assert_string_equal(e.lines[0], "g:2:3: error: again");
	errlist_clear(&e);
	errlist_clear(&e);
	assert_int_equal(e.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_overflow_counted_in_dropped),
	    cmocka_unit_test(test_long_message_truncated_not_overflowed),
	    cmocka_unit_test(test_format_with_position),
	    cmocka_unit_test(test_format_without_position),
	    cmocka_unit_test(test_counts_and_print),
	    cmocka_unit_test(test_print_empty),
	    cmocka_unit_test(test_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
