/* test_ytree.c - unit tests of gateway/ytree.c: hostile and malformed
 * YAML first (each bad input with its exact return and message, the
 * mosquitto config-parse-error style), then the tree, its line:col
 * positions, the quoted flag and ynode_get. */
#include <errno.h>
#include <fcntl.h>
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

#include "util.h"
#include "ytree.h"

/* Loads text (len: strlen when 0) as "t.yaml". */
static int load(const char *text, size_t len, struct errlist *e, struct ytree **t)
{
	*t = NULL;
	return ytree_load_buffer("t.yaml", text, len ? len : strlen(text), e, t);
}

/* The input is refused with ret, exactly one error, and that error is msg. */
static void assert_refused(const char *text, size_t len, int ret, const char *msg)
{
	struct errlist e = {0};
	struct ytree *t = NULL;
	int r = load(text, len, &e, &t);

	if (r != ret)
		fail_msg("load(\"%s\") = %d, want %d", text, r, ret);
	if (e.n_errors != 1 || e.n != 1)
		fail_msg("load(\"%s\"): %zu errors, want 1", text, e.n_errors);
	if (strcmp(e.lines[0], msg) != 0)
		fail_msg("load(\"%s\"): got \"%s\"\n want \"%s\"", text, e.lines[0], msg);
	ytree_free(t); /* NULL unless the loader leaked a half tree out */
	assert_null(t);
	errlist_clear(&e);
}

/* ---- refused input ---- */

static void test_bad_input_table(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    /* duplicate keys: the second one is pointed at, the first named */
	    {"a: 1\nb: 2\na: 3\n",
	     "t.yaml:3:1: error: duplicate key 'a' (first at line 1); remove one"},
	    {"a: 1\nb:\n  c: 1\n  d: 2\n  c: 2\n",
	     "t.yaml:5:3: error: duplicate key 'c' (first at line 3); remove one"},
	    {"{x: 1, y: 2, x: 3}\n",
	     "t.yaml:1:14: error: duplicate key 'x' (first at line 1); remove one"},
	    {"'a': 1\n\"a\": 2\n",
	     "t.yaml:2:1: error: duplicate key 'a' (first at line 1); remove one"},
	    /* anchors and aliases */
	    {"a: &x 1\nb: *x\n",
	     "t.yaml:1:4: error: anchors (&name) are not allowed; write the value out"},
	    {"a: 1\nb: *x\n",
	     "t.yaml:2:4: error: aliases (*name) are not allowed; write the value out"},
	    {"a: &m {k: 1}\n",
	     "t.yaml:1:4: error: anchors (&name) are not allowed; write the value out"},
	    {"a: &s [1]\n",
	     "t.yaml:1:4: error: anchors (&name) are not allowed; write the value out"},
	    {"base: {k: 1}\nother:\n  <<: *base\n",
	     "t.yaml:3:7: error: aliases (*name) are not allowed; write the value out"},
	    /* keys must be scalars */
	    {"{[a]: 1}\n",
	     "t.yaml:1:2: error: a sequence cannot be a mapping key; use a plain name"},
	    {"? {k: v}\n: 1\n",
	     "t.yaml:1:3: error: a mapping cannot be a mapping key; use a plain name"},
	    /* a second document */
	    {"a: 1\n---\nb: 2\n",
	     "t.yaml:2:1: error: a second YAML document ('---'); keep one document per file"},
	    {"--- 1\n--- 2\n",
	     "t.yaml:2:1: error: a second YAML document ('---'); keep one document per file"},
	    /* a NUL byte written as an escape */
	    {"name: \"x\\0y\"\n", "t.yaml:1:7: error: value contains a NUL byte"},
	    {"- a\n- \"\\0\"\n", "t.yaml:2:3: error: value contains a NUL byte"},
	    /* syntax errors carry the position libyaml reports */
	    {"a: 1\n b: 2\n",
	     "t.yaml:2:3: error: YAML syntax: mapping values are not allowed in this context"},
	    {"a: [1, 2\nb: 3\n",
	     "t.yaml:2:2: error: YAML syntax: did not find expected ',' or ']' while parsing a "
	     "flow sequence"},
	    {"a: 'x\n",
	     "t.yaml:2:1: error: YAML syntax: found unexpected end of stream while scanning a "
	     "quoted scalar"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_refused(cases[i].text, 0, -EINVAL, cases[i].msg);
}

static void test_alias_bomb_refused(void **state)
{
	/* "billion laughs": 9^9 strings if aliases were expanded */
	static const char bomb[] =
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	/* the same without the first anchor: the first alias stops it */
	static const char bomb2[] = "a: [\"lol\",\"lol\"]\n"
				    "b: [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
				    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";

	(void)state;
	assert_refused(bomb, 0, -EINVAL,
		       "t.yaml:1:4: error: anchors (&name) are not allowed; write the value out");
	assert_refused(bomb2, 0, -EINVAL,
		       "t.yaml:2:5: error: aliases (*name) are not allowed; write the value out");
}

/* "[[[...]]]" nested n deep. Caller frees. */
static char *nested_seqs(int n)
{
	char *s = malloc((size_t)n * 2 + 2);
	int i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		s[i] = '[';
		s[n + i] = ']';
	}
	s[2 * n] = '\n';
	s[2 * n + 1] = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	struct errlist e = {0};
	struct ytree *t;
	char *s, msg[128];
	const struct ynode *n;
	int depth;

	(void)state;
	s = nested_seqs(YTREE_MAX_DEPTH + 1);
	snprintf(msg, sizeof(msg), "t.yaml:1:%d: error: nested deeper than %d levels",
		 YTREE_MAX_DEPTH + 1, YTREE_MAX_DEPTH);
	assert_refused(s, 0, -EINVAL, msg);
	free(s);

	s = nested_seqs(1000); /* far deeper: refused the same way, no stack blow-up */
	assert_refused(s, 0, -EINVAL, msg);
	free(s);

	/* exactly the limit is fine */
	s = nested_seqs(YTREE_MAX_DEPTH);
	assert_int_equal(load(s, 0, &e, &t), 0);
	assert_int_equal(e.n, 0);
	for (n = t->root, depth = 0; n && n->kind == YNODE_SEQ; depth++)
		n = n->n ? n->values[0] : NULL;
	assert_int_equal(depth, YTREE_MAX_DEPTH);
	ytree_free(t);
	free(s);

	/* block mappings count the same way */
	{
		char buf[4096];
		size_t off = 0;
		int i;

		for (i = 0; i <= YTREE_MAX_DEPTH; i++)
			off +=
			    (size_t)snprintf(buf + off, sizeof(buf) - off, "%*sk%d:\n", i, "", i);
		snprintf(buf + off, sizeof(buf) - off, "%*sleaf: 1\n", YTREE_MAX_DEPTH + 1, "");
		snprintf(msg, sizeof(msg), "t.yaml:%d:%d: error: nested deeper than %d levels",
			 YTREE_MAX_DEPTH + 1, YTREE_MAX_DEPTH + 1, YTREE_MAX_DEPTH);
		assert_refused(buf, 0, -EINVAL, msg);
	}
}

/* "[0,0,...,0]" with n scalars: n + 1 nodes. Caller frees. */
static char *flat_seq(size_t n)
{
	char *s = malloc(n * 2 + 3);
	size_t i;

	assert_non_null(s);
	s[0] = '[';
	for (i = 0; i < n; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = ',';
	}
	s[2 * n] = ']'; /* replaces the last comma */
	s[2 * n + 1] = '\n';
	s[2 * n + 2] = '\0';
	return s;
}

static void test_node_limit_is_einval(void **state)
{
	struct errlist e = {0};
	struct ytree *t;
	char *s;

	(void)state;
	s = flat_seq(YTREE_MAX_NODES);		       /* one node too many */
	assert_int_equal(load(s, 0, &e, &t), -EINVAL); /* hostile input, not -ENOMEM */
	assert_null(t);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "t.yaml:1:"));
	assert_non_null(strstr(e.lines[0], "more than 100000 YAML nodes"));
	errlist_clear(&e);
	free(s);

	s = flat_seq(YTREE_MAX_NODES - 1); /* exactly the limit */
	assert_int_equal(load(s, 0, &e, &t), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(t->n_nodes, YTREE_MAX_NODES);
	assert_int_equal(t->root->n, YTREE_MAX_NODES - 1);
	ytree_free(t);
	free(s);
}

static void test_scalar_limit(void **state)
{
	struct errlist e = {0};
	struct ytree *t;
	char *s = malloc(YTREE_MAX_SCALAR + 16);
	char msg[128];

	(void)state;
	assert_non_null(s);
	memcpy(s, "v: ", 3);
	memset(s + 3, 'x', YTREE_MAX_SCALAR + 1);
	strcpy(s + 3 + YTREE_MAX_SCALAR + 1, "\n");
	snprintf(msg, sizeof(msg), "t.yaml:1:4: error: value longer than %d bytes",
		 YTREE_MAX_SCALAR);
	assert_refused(s, 0, -EINVAL, msg);

	strcpy(s + 3 + YTREE_MAX_SCALAR, "\n"); /* exactly the limit */
	assert_int_equal(load(s, 0, &e, &t), 0);
	assert_int_equal(strlen(ynode_get(t->root, "v")->scalar), YTREE_MAX_SCALAR);
	ytree_free(t);
	free(s);
}

static void test_buffer_too_large(void **state)
{
	struct errlist e = {0};
	struct ytree *t = NULL;
	char *big = malloc(YTREE_MAX_FILE + 1);

	(void)state;
	assert_non_null(big);
	memset(big, '#', YTREE_MAX_FILE + 1); /* a comment: would parse if it were let in */
	assert_int_equal(ytree_load_buffer("big.yaml", big, YTREE_MAX_FILE + 1, &e, &t), -EFBIG);
	assert_null(t);
	assert_int_equal(e.n_errors, 1);
	assert_string_equal(e.lines[0], "big.yaml: error: file larger than 4194304 bytes");
	errlist_clear(&e);
	free(big);
}

/* A raw NUL byte (or a byte that is not UTF-8) is a libyaml "reader"
 * error. Refused, as it must be. */
static void test_raw_control_bytes_refused(void **state)
{
	static const char nul[] = "a: 1\nb: 2\nc: x\0y\n";
	static const char bad_utf8[] = "a: 1\nb: 2\nc: x\xff\n";
	struct errlist e = {0};
	struct ytree *t;

	(void)state;
	assert_int_equal(load(nul, sizeof(nul) - 1, &e, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "control characters are not allowed"));
	errlist_clear(&e);
	assert_int_equal(load(bad_utf8, 0, &e, &t), -EINVAL);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "UTF-8"));
	errlist_clear(&e);
}

/* Regression test (a bug found by this suite, now fixed): for libyaml reader errors (a raw NUL or
 * control byte, invalid UTF-8) parser.problem_mark is not set; libyaml
 * gives the byte offset in parser.problem_offset instead. ytree.c prints
 * problem_mark, so the error always says "t.yaml:1:1:" whatever line the
 * bad byte is on. */
static void test_raw_control_bytes_position(void **state)
{
	static const char nul[] = "a: 1\nb: 2\nc: x\0y\n";
	static const char bad_utf8[] = "a: 1\nb: 2\nc: x\xff\n";
	struct errlist e = {0};
	struct ytree *t;

	(void)state;
	assert_int_equal(load(nul, sizeof(nul) - 1, &e, &t), -EINVAL);
	assert_int_equal(e.n_errors, 1);
	if (!strstr(e.lines[0], "t.yaml:3:"))
		fail_msg("NUL byte on line 3 reported as \"%s\"", e.lines[0]);
	errlist_clear(&e);
	assert_int_equal(load(bad_utf8, 0, &e, &t), -EINVAL);
	if (!strstr(e.lines[0], "t.yaml:3:"))
		fail_msg("bad UTF-8 on line 3 reported as \"%s\"", e.lines[0]);
	errlist_clear(&e);
}

static void test_load_file_errors(void **state)
{
	char dir[] = "/tmp/test_ytree.XXXXXX", path[128];
	struct errlist e = {0};
	struct ytree *t = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_int_equal(ytree_load(path, &e, &t), -ENOENT);
	assert_null(t);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "missing.yaml: error: cannot open: "));
	errlist_clear(&e);

	/* a directory is not a configuration file */
	assert_int_equal(ytree_load(dir, &e, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "not a regular file"));
	errlist_clear(&e);
	assert_int_equal(rmdir(dir), 0);
}

static void test_read_file(void **state)
{
	char dir[] = "/tmp/test_ytree.XXXXXX", path[128];
	struct errlist e = {0};
	char *buf = (char *)"untouched";
	size_t len = 77;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* errors first: missing, not a regular file, too large */
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_int_equal(ytree_read_file(path, &e, &buf, &len), -ENOENT);
	assert_int_equal(ytree_read_file(dir, &e, &buf, &len), -EINVAL);
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, YTREE_MAX_FILE + 1), 0); /* sparse: costs nothing */
	close(fd);
	assert_int_equal(ytree_read_file(path, &e, &buf, &len), -EFBIG);
	/* a FIFO with no writer: refused at once, the open does not wait
	 * for a writer (the alarm ends a test that would hang) */
	snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(ytree_read_file(path, &e, &buf, &len), -EINVAL);
	alarm(0);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	assert_int_equal(e.n_errors, 4); /* one message each */
	assert_non_null(strstr(e.lines[0], "missing.yaml: error: "));
	assert_non_null(strstr(e.lines[1], "not a regular file"));
	assert_non_null(strstr(e.lines[2], "big.yaml: error: file larger than 4194304 bytes"));
	assert_non_null(strstr(e.lines[3], "fifo.yaml: error: not a regular file"));
	assert_string_equal(buf, "untouched");
	assert_int_equal(len, 77);
	errlist_clear(&e);
	/* exactly the limit is read */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, YTREE_MAX_FILE), 0);
	close(fd);
	assert_int_equal(ytree_read_file(path, &e, &buf, &len), 0);
	assert_int_equal(len, YTREE_MAX_FILE);
	assert_int_equal(buf[len], '\0');
	free(buf);
	assert_int_equal(unlink(path), 0);

	/* the bytes, NUL-terminated, embedded NULs kept in the length */
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite("a: 1\n\0b", 1, 8, f), 8);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(ytree_read_file(path, &e, &buf, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "a: 1\n\0b", 9);
	free(buf);
	/* an empty file is an empty buffer, not an error */
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(ytree_read_file(path, &e, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	assert_int_equal(e.n, 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- accepted input ---- */

static void test_empty_documents(void **state)
{
	static const char *const empty[] = {"", "\n\n", "   \n", "# only a comment\n", "#\n#\n"};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(empty); i++) {
		struct errlist e = {0};
		struct ytree *t = NULL;

		if (load(empty[i], 0, &e, &t) != 0)
			fail_msg("empty document \"%s\" refused", empty[i]);
		assert_non_null(t);
		assert_null(t->root);
		assert_int_equal(t->n_nodes, 0);
		assert_int_equal(e.n, 0);
		assert_string_equal(t->file, "t.yaml");
		ytree_free(t);
	}
	/* a zero-length buffer at a NULL-free address too */
	{
		struct errlist e = {0};
		struct ytree *t = NULL;

		assert_int_equal(ytree_load_buffer("z.yaml", "", 0, &e, &t), 0);
		assert_null(t->root);
		ytree_free(t);
	}
}

static const char config_text[] = "site:\n"					   /* 1 */
				  "  id: cho-my-tho-a\n"			   /* 2 */
				  "  name: \"Ch\xe1\xbb\xa3 M\xe1\xbb\xb9 Tho\"\n" /* 3 */
				  "buses:\n"					   /* 4 */
				  "  - id: rs485-1\n"				   /* 5 */
				  "    tcp: {host: 1.2.3.4, port: 502}\n"	   /* 6 */
				  "  - 'single'\n"				   /* 7 */
				  "  - plain\n"					   /* 8 */
				  "note: |\n"					   /* 9 */
				  "  literal\n"					   /* 10 */
				  "empty:\n";					   /* 11 */

static void assert_pos(const struct ynode *n, enum ynode_kind kind, int line, int col)
{
	assert_non_null(n);
	if (n->kind != kind || n->line != line || n->col != col)
		fail_msg("node %s at %d:%d, want %s at %d:%d", ynode_kind_name(n->kind), n->line,
			 n->col, ynode_kind_name(kind), line, col);
}

static void test_tree_and_positions(void **state)
{
	struct errlist e = {0};
	struct ytree *t;
	const struct ynode *root, *site, *buses, *b0, *tcp, *n;

	(void)state;
	assert_int_equal(load(config_text, 0, &e, &t), 0);
	assert_int_equal(e.n, 0);
	root = t->root;
	assert_pos(root, YNODE_MAP, 1, 1);
	assert_int_equal(root->n, 4);
	/* keys keep file order and their own positions */
	assert_string_equal(root->keys[0]->scalar, "site");
	assert_pos(root->keys[0], YNODE_SCALAR, 1, 1);
	assert_string_equal(root->keys[1]->scalar, "buses");
	assert_pos(root->keys[1], YNODE_SCALAR, 4, 1);
	assert_string_equal(root->keys[2]->scalar, "note");
	assert_pos(root->keys[3], YNODE_SCALAR, 11, 1);

	site = ynode_get(root, "site");
	assert_pos(site, YNODE_MAP, 2, 3);
	assert_int_equal(site->n, 2);
	assert_pos(site->keys[0], YNODE_SCALAR, 2, 3);
	n = ynode_get(site, "id");
	assert_pos(n, YNODE_SCALAR, 2, 7);
	assert_string_equal(n->scalar, "cho-my-tho-a");
	assert_false(n->quoted);
	n = ynode_get(site, "name");
	assert_pos(n, YNODE_SCALAR, 3, 9);
	assert_string_equal(n->scalar, "Ch\xe1\xbb\xa3 M\xe1\xbb\xb9 Tho"); /* UTF-8 kept */
	assert_true(n->quoted);

	buses = ynode_get(root, "buses");
	assert_pos(buses, YNODE_SEQ, 5, 3);
	assert_int_equal(buses->n, 3);
	assert_null(buses->keys);
	b0 = buses->values[0];
	assert_pos(b0, YNODE_MAP, 5, 5);
	assert_pos(ynode_get(b0, "id"), YNODE_SCALAR, 5, 9);
	tcp = ynode_get(b0, "tcp");
	assert_pos(tcp, YNODE_MAP, 6, 10);
	assert_pos(tcp->keys[0], YNODE_SCALAR, 6, 11);
	assert_pos(ynode_get(tcp, "host"), YNODE_SCALAR, 6, 17);
	assert_pos(tcp->keys[1], YNODE_SCALAR, 6, 26);
	n = ynode_get(tcp, "port");
	assert_pos(n, YNODE_SCALAR, 6, 32);
	assert_string_equal(n->scalar, "502");
	assert_false(n->quoted);

	assert_pos(buses->values[1], YNODE_SCALAR, 7, 5);
	assert_string_equal(buses->values[1]->scalar, "single");
	assert_true(buses->values[1]->quoted);
	assert_pos(buses->values[2], YNODE_SCALAR, 8, 5);
	assert_false(buses->values[2]->quoted);

	n = ynode_get(root, "note");
	assert_string_equal(n->scalar, "literal\n");
	assert_false(n->quoted); /* a block scalar is not "quoted" */
	/* a key with no value is an empty plain scalar */
	n = ynode_get(root, "empty");
	assert_non_null(n);
	assert_int_equal(n->kind, YNODE_SCALAR);
	assert_string_equal(n->scalar, "");
	assert_false(n->quoted);

	/* root + 4 keys + site(map, 2 keys, 2 values) + buses(seq + bus0(map, id key
	 * and value, tcp key, tcp map with 2 keys and 2 values) + 2 scalars) + the
	 * values of note and empty */
	assert_int_equal(t->n_nodes, 1 + 4 + 5 + 1 + (3 + 1 + 5) + 2 + 1 + 1);
	ytree_free(t);
}

static void test_quoted_flag(void **state)
{
	static const struct {
		const char *text;
		const char *value;
		bool quoted;
	} cases[] = {
	    {"v: 1\n", "1", false},
	    {"v: '1'\n", "1", true},
	    {"v: \"1\"\n", "1", true},
	    {"v: ''\n", "", true},
	    {"v: \"\"\n", "", true},
	    {"v: true\n", "true", false},
	    {"v: 'it''s'\n", "it's", true},
	    {"v: \"a\\tb\"\n", "a\tb", true},
	    {"v: >\n  folded\n", "folded\n", false},
	    {"v: ~\n", "~", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct errlist e = {0};
		struct ytree *t;
		const struct ynode *v;

		assert_int_equal(load(cases[i].text, 0, &e, &t), 0);
		v = ynode_get(t->root, "v");
		assert_non_null(v);
		assert_string_equal(v->scalar, cases[i].value);
		if (v->quoted != cases[i].quoted)
			fail_msg("\"%s\": quoted %d, want %d", cases[i].text, v->quoted,
				 cases[i].quoted);
		ytree_free(t);
	}
}

static void test_ynode_get(void **state)
{
	struct errlist e = {0};
	struct ytree *t;
	const struct ynode *m;

	(void)state;
	assert_int_equal(load("a: 1\nb: [x, y]\nc: {d: 2}\n\"\": empty-key\n", 0, &e, &t), 0);
	m = t->root;
	/* lookups that find nothing */
	assert_null(ynode_get(NULL, "a"));
	assert_null(ynode_get(m, "z"));
	assert_null(ynode_get(m, "A")); /* case-sensitive */
	assert_null(ynode_get(m, "a "));
	assert_null(ynode_get(ynode_get(m, "b"), "x")); /* not a mapping */
	assert_null(ynode_get(ynode_get(m, "a"), "a"));
	assert_null(ynode_get(m, "d")); /* not searched recursively */
	/* and those that do */
	assert_string_equal(ynode_get(m, "a")->scalar, "1");
	assert_int_equal(ynode_get(m, "b")->kind, YNODE_SEQ);
	assert_int_equal(ynode_get(m, "b")->n, 2);
	assert_string_equal(ynode_get(m, "b")->values[1]->scalar, "y");
	assert_string_equal(ynode_get(ynode_get(m, "c"), "d")->scalar, "2");
	assert_string_equal(ynode_get(m, "")->scalar, "empty-key");
	ytree_free(t);

	assert_string_equal(ynode_kind_name(YNODE_SCALAR), "scalar");
	assert_string_equal(ynode_kind_name(YNODE_MAP), "mapping");
	assert_string_equal(ynode_kind_name(YNODE_SEQ), "sequence");
	assert_string_equal(ynode_kind_name(YNODE_INVALID), "invalid");
	assert_string_equal(ynode_kind_name(YNODE_MAX), "invalid");
	ytree_free(NULL);
}

static void test_single_document_markers(void **state)
{
	struct errlist e = {0};
	struct ytree *t;

	(void)state;
	/* one document with explicit start and end markers is fine */
	assert_int_equal(load("---\na: 1\n...\n", 0, &e, &t), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(ynode_get(t->root, "a")->scalar, "1");
	assert_pos(t->root, YNODE_MAP, 2, 1);
	ytree_free(t);
}

static void test_load_file_matches_buffer(void **state)
{
	char dir[] = "/tmp/test_ytree.XXXXXX", path[128];
	struct errlist e = {0};
	struct ytree *t;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/firegw.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(config_text, 1, sizeof(config_text) - 1, f),
			 sizeof(config_text) - 1);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(ytree_load(path, &e, &t), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(t->file, path);
	assert_pos(ynode_get(ynode_get(t->root, "site"), "name"), YNODE_SCALAR, 3, 9);
	ytree_free(t);

	/* errors from a file name the file */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("a: 1\na: 2\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(ytree_load(path, &e, &t), -EINVAL);
	assert_int_equal(e.n_errors, 1);
	assert_true(strncmp(e.lines[0], path, strlen(path)) == 0);
	assert_string_equal(e.lines[0] + strlen(path),
			    ":2:1: error: duplicate key 'a' (first at line 1); remove one");
	errlist_clear(&e);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_input_table),
	    cmocka_unit_test(test_alias_bomb_refused),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_node_limit_is_einval),
	    cmocka_unit_test(test_scalar_limit),
	    cmocka_unit_test(test_buffer_too_large),
	    cmocka_unit_test(test_raw_control_bytes_refused),
	    cmocka_unit_test(test_raw_control_bytes_position),
	    cmocka_unit_test(test_load_file_errors),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_empty_documents),
	    cmocka_unit_test(test_tree_and_positions),
	    cmocka_unit_test(test_quoted_flag),
	    cmocka_unit_test(test_ynode_get),
	    cmocka_unit_test(test_single_document_markers),
	    cmocka_unit_test(test_load_file_matches_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
