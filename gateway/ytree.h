/* ytree.h - a YAML file read into a small tree of mappings, sequences and
 * scalars, each node with its line:col (1-based, from libyaml marks), so
 * config.c and profile.c can report "file:line:col: message". Hostile input
 * is bounded: file size, node count, nesting depth, scalar length; anchors
 * and aliases are refused (no alias bombs). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "errlist.h"

#define YTREE_MAX_NODES 100000
#define YTREE_MAX_DEPTH 32
#define YTREE_MAX_SCALAR 4096
#define YTREE_MAX_FILE (4 * 1024 * 1024)

enum ynode_kind { YNODE_INVALID = -1, YNODE_SCALAR, YNODE_MAP, YNODE_SEQ, YNODE_MAX };

struct ynode {
	enum ynode_kind kind;
	int line, col;
	char *scalar;          /* YNODE_SCALAR: the text (NUL-terminated) */
	bool quoted;           /* scalar was quoted ('...' or "...") */
	/* YNODE_MAP: keys[i] (scalar nodes) -> values[i]; YNODE_SEQ: values[i] */
	struct ynode **keys;
	struct ynode **values;
	size_t n;
	size_t cap_;                /* private to ytree.c */
	struct ynode *pending_key_; /* private: a key waiting for its value */
};

struct ytree {
	char *file;            /* the path, as given */
	struct ynode *root;    /* NULL for an empty document */
	size_t n_nodes;
};

/* Reads and parses path. Errors (I/O, syntax, limits, duplicate keys,
 * non-scalar keys, anchors/aliases, multiple documents) go to errs with
 * their position. 0, -EINVAL (errors added), -ENOENT/-EACCES/-EFBIG (added
 * too), -ENOMEM. */
int ytree_load(const char *path, struct errlist *errs, struct ytree **ret);
/* Same from a memory buffer; name is used in messages (fuzzing, tests). */
int ytree_load_buffer(const char *name, const void *buf, size_t len, struct errlist *errs,
		      struct ytree **ret);
void ytree_free(struct ytree *t);
/* Reads a whole regular file of at most YTREE_MAX_FILE bytes into a
 * malloc'd, NUL-terminated buffer (errors added to errs). 0, -ENOENT,
 * -EACCES, -EINVAL (not a regular file), -EFBIG, -EIO, -ENOMEM. */
int ytree_read_file(const char *path, struct errlist *errs, char **ret_buf, size_t *ret_len);

/* Map lookup: the value node for key, or NULL. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
/* The key node for a map entry (for positions of unknown keys). */
const char *ynode_kind_name(enum ynode_kind k); /* "scalar", "mapping", "sequence" */
