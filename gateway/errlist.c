/* errlist.c - collected "file:line:col: message" diagnostics. */
#include "errlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void errlist_vadd(struct errlist *e, bool warning, const char *file, int line, int col,
			 const char *fmt, va_list ap)
{
	char msg[512], full[1024], safe[2048];

	if (warning)
		e->n_warnings++;
	else
		e->n_errors++;
	if (e->n >= ERRLIST_MAX) {
		e->dropped++;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d:%d: %s: %s", file, line, col,
			 warning ? "warning" : "error", msg);
	else
		snprintf(full, sizeof(full), "%s: %s: %s", file, warning ? "warning" : "error", msg);
	/* a message quotes what the file holds: control characters in it
	 * (an escape sequence, a newline that would forge a line) are shown
	 * as visible \xNN text on the terminal and in the journal */
	e->lines[e->n] = strdup(util_escape(full, strlen(full), safe, sizeof(safe)));
	if (!e->lines[e->n]) {
		e->dropped++;
		return;
	}
	e->warning[e->n] = warning;
	e->n++;
}

void errlist_add(struct errlist *e, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(e, false, file, line, col, fmt, ap);
	va_end(ap);
}

void errlist_warn(struct errlist *e, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(e, true, file, line, col, fmt, ap);
	va_end(ap);
}

void errlist_print(const struct errlist *e, FILE *f)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		fprintf(f, "%s\n", e->lines[i]);
	if (e->dropped)
		fprintf(f, "(%zu more not shown) %zu errors, %zu warnings\n", e->dropped,
			e->n_errors, e->n_warnings);
}

void errlist_clear(struct errlist *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->lines[i]);
	memset(e, 0, sizeof(*e));
}
