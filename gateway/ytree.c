/* ytree.c - a YAML document read into a tree with line:col marks.
 * Owns the tree it returns; called from whichever thread loads config or
 * profiles (start-up, SIGHUP, CLI). The libyaml event parser is used so
 * that hostile input is bounded as it streams: node count, depth and
 * scalar size are checked per event, and anchors and aliases are refused
 * outright, which makes alias bombs impossible. */
#include "ytree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct builder {
	struct ytree *t;
	struct errlist *errs;
	const char *name;
	struct ynode *stack[YTREE_MAX_DEPTH + 1];
	int depth;
	bool limit_hit; /* node limit reached: hostile input, not ENOMEM */
};

static void ynode_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys)
			ynode_free(n->keys[i]);
		ynode_free(n->values[i]);
	}
	ynode_free(n->pending_key_);
	free(n->keys);
	free(n->values);
	free(n->scalar);
	free(n);
}

void ytree_free(struct ytree *t)
{
	if (!t)
		return;
	ynode_free(t->root);
	free(t->file);
	free(t);
}

const char *ynode_kind_name(enum ynode_kind k)
{
	switch (k) {
	case YNODE_SCALAR:
		return "scalar";
	case YNODE_MAP:
		return "mapping";
	case YNODE_SEQ:
		return "sequence";
	default:
		return "invalid";
	}
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->scalar, key) == 0)
			return map->values[i];
	return NULL;
}

static struct ynode *node_new(struct builder *b, enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n;

	if (b->t->n_nodes >= YTREE_MAX_NODES) {
		b->limit_hit = true;
		errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
			    "more than %d YAML nodes; the file is too large to be a configuration",
			    YTREE_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		errlist_add(b->errs, b->name, 0, 0, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	b->t->n_nodes++;
	return n;
}

/* Appends child to the collection on top of the stack. For a mapping the
 * children alternate key, value; keys must be unique scalars. */
static int node_add(struct builder *b, struct ynode *child)
{
	struct ynode *parent;
	size_t i;

	if (b->depth == 0) {
		if (b->t->root) {
			ynode_free(child);
			return -EINVAL;
		}
		b->t->root = child;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	if (parent->kind == YNODE_MAP && !parent->pending_key_) {
		if (child->kind != YNODE_SCALAR) {
			errlist_add(b->errs, b->name, child->line, child->col,
				    "a %s cannot be a mapping key; use a plain name",
				    ynode_kind_name(child->kind));
			ynode_free(child);
			return -EINVAL;
		}
		for (i = 0; i < parent->n; i++)
			if (strcmp(parent->keys[i]->scalar, child->scalar) == 0) {
				errlist_add(b->errs, b->name, child->line, child->col,
					    "duplicate key '%s' (first at line %d); remove one",
					    child->scalar, parent->keys[i]->line);
				ynode_free(child);
				return -EINVAL;
			}
		parent->pending_key_ = child;
		return 0;
	}
	if (parent->n == parent->cap_) {
		size_t cap = parent->cap_ ? parent->cap_ * 2 : 4;
		struct ynode **v = realloc(parent->values, cap * sizeof(struct ynode *));

		if (!v)
			goto out_nomem;
		parent->values = v;
		if (parent->kind == YNODE_MAP) {
			struct ynode **k = realloc(parent->keys, cap * sizeof(struct ynode *));

			if (!k)
				goto out_nomem;
			parent->keys = k;
		}
		parent->cap_ = cap;
	}
	if (parent->kind == YNODE_MAP) {
		parent->keys[parent->n] = parent->pending_key_;
		parent->pending_key_ = NULL;
	}
	parent->values[parent->n++] = child;
	return 0;

out_nomem:
	errlist_add(b->errs, b->name, 0, 0, "out of memory");
	ynode_free(child);
	return -ENOMEM;
}

static int handle_event(struct builder *b, const yaml_event_t *ev)
{
	struct ynode *n;
	const yaml_mark_t *m = &ev->start_mark;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
			    "aliases (*name) are not allowed; write the value out");
		return -EINVAL;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor) {
			errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
				    "anchors (&name) are not allowed; write the value out");
			return -EINVAL;
		}
		if (ev->data.scalar.length > YTREE_MAX_SCALAR) {
			errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
				    "value longer than %d bytes", YTREE_MAX_SCALAR);
			return -EINVAL;
		}
		n = node_new(b, YNODE_SCALAR, m);
		if (!n)
			return b->limit_hit ? -EINVAL : -ENOMEM;
		n->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->scalar) {
			ynode_free(n);
			return -ENOMEM;
		}
		if (strlen(n->scalar) != ev->data.scalar.length) {
			errlist_add(b->errs, b->name, n->line, n->col,
				    "value contains a NUL byte");
			ynode_free(n);
			return -EINVAL;
		}
		n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
			    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		return node_add(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT
						    ? ev->data.sequence_start.anchor
						    : ev->data.mapping_start.anchor;
		int r;

		if (anchor) {
			errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
				    "anchors (&name) are not allowed; write the value out");
			return -EINVAL;
		}
		if (b->depth >= YTREE_MAX_DEPTH) {
			errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
				    "nested deeper than %d levels", YTREE_MAX_DEPTH);
			return -EINVAL;
		}
		n = node_new(b, ev->type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQ : YNODE_MAP, m);
		if (!n)
			return b->limit_hit ? -EINVAL : -ENOMEM;
		r = node_add(b, n);
		if (r < 0)
			return r;
		b->stack[b->depth++] = n;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (b->t->root) {
			errlist_add(b->errs, b->name, (int)m->line + 1, (int)m->column + 1,
				    "a second YAML document ('---'); keep one document per file");
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

/* 1-based line and column (in bytes) of byte offset off in buf. */
static void offset_position(const void *buf, size_t len, size_t off, int *ret_line, int *ret_col)
{
	const unsigned char *b = buf;
	int line = 1, col = 1;
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (b[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*ret_line = line;
	*ret_col = col;
}

int ytree_load_buffer(const char *name, const void *buf, size_t len, struct errlist *errs,
		      struct ytree **ret)
{
	struct builder b = { .errs = errs, .name = name };
	yaml_parser_t parser;
	yaml_event_t ev;
	int r = 0;
	bool done = false;

	if (len > YTREE_MAX_FILE) {
		errlist_add(errs, name, 0, 0, "file larger than %d bytes", YTREE_MAX_FILE);
		return -EFBIG;
	}
	b.t = calloc(1, sizeof(*b.t));
	if (!b.t)
		return -ENOMEM;
	b.t->file = strdup(name);
	if (!b.t->file) {
		free(b.t);
		return -ENOMEM;
	}
	if (!yaml_parser_initialize(&parser)) {
		ytree_free(b.t);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			const yaml_mark_t *pm = &parser.problem_mark;
			int line = (int)pm->line + 1, col = (int)pm->column + 1;

			/* the reader (bad bytes: NUL, control characters, invalid
			 * UTF-8) knows only a byte offset, not a mark */
			if (parser.error == YAML_READER_ERROR)
				offset_position(buf, len, parser.problem_offset, &line, &col);
			errlist_add(errs, name, line, col, "YAML syntax: %s%s%s",
				    parser.problem ? parser.problem : "error",
				    parser.context ? " " : "", parser.context ? parser.context : "");
			r = -EINVAL;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		r = handle_event(&b, &ev);
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (r < 0) {
		ytree_free(b.t);
		return r == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*ret = b.t;
	return 0;
}

int ytree_read_file(const char *path, struct errlist *errs, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	size_t len, cap;
	char *buf;
	FILE *f;
	int fd, r;

	/* O_NONBLOCK: a FIFO (or a tty) given by mistake must not block the
	 * open; it is refused below as not a regular file. On a regular file
	 * the flag changes nothing. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		errlist_add(errs, path, 0, 0, "cannot open: %s", strerror(-r));
		return r;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		r = -errno;
		close(fd);
		errlist_add(errs, path, 0, 0, "cannot open: %s", strerror(-r));
		return r;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		errlist_add(errs, path, 0, 0, "not a regular file; give the path of the YAML file");
		r = -EINVAL;
		goto out_close;
	}
	if (st.st_size > YTREE_MAX_FILE) {
		errlist_add(errs, path, 0, 0, "file larger than %d bytes; is this the right file?",
			    YTREE_MAX_FILE);
		r = -EFBIG;
		goto out_close;
	}
	/* room for one byte more than the size seen, to notice a file that
	 * grew meanwhile */
	cap = (size_t)st.st_size + 2;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out_close;
	}
	len = fread(buf, 1, cap - 1, f);
	if (ferror(f) || len > (size_t)st.st_size) {
		errlist_add(errs, path, 0, 0, ferror(f) ? "read error: %s" : "file changed while read: %s",
			    strerror(EIO));
		free(buf);
		r = -EIO;
		goto out_close;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	r = 0;
out_close:
	fclose(f);
	return r;
}

int ytree_load(const char *path, struct errlist *errs, struct ytree **ret)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = ytree_read_file(path, errs, &buf, &len);
	if (r < 0)
		return r;
	r = ytree_load_buffer(path, buf, len, errs, ret);
	free(buf);
	return r;
}
