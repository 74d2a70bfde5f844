/* errlist.h - a list of "file:line:col: message" diagnostics, collected so
 * that every mistake of a file is reported at once. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ERRLIST_MAX 200 /* further errors are counted, not kept */

struct errlist {
	char *lines[ERRLIST_MAX]; /* "file:line:col: error: message" */
	bool warning[ERRLIST_MAX];
	size_t n;       /* kept */
	size_t dropped; /* beyond ERRLIST_MAX */
	size_t n_errors, n_warnings;
};

/* line/col are 1-based; 0 line means "no position" (prints "file: ...") */
void errlist_add(struct errlist *e, const char *file, int line, int col,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void errlist_warn(struct errlist *e, const char *file, int line, int col,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Prints every line to f, then "N errors, M warnings" when dropped > 0. */
void errlist_print(const struct errlist *e, FILE *f);
void errlist_clear(struct errlist *e);
