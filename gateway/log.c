/* log.c - the logging sink: stderr, with journald priority prefixes when
 * stderr is connected to the journal. Callable from any thread (one
 * fprintf per line, stdio locks the stream). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int log_level = LOG_INFO;
static bool log_journal;

void log_init(int level)
{
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(int level)
{
	log_level = level;
}

void log_msg(int prio, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };
	char line[1024];
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "firegw: %s: %s\n", names[prio & 7], line);
}

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms, uint64_t interval_ms,
		      unsigned *ret_suppressed)
{
	if (now_ms < rl->next_ms) {
		rl->suppressed++;
		return false;
	}
	*ret_suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->next_ms = now_ms + interval_ms;
	return true;
}

unsigned log_ratelimit_due(struct log_ratelimit *rl, uint64_t now_ms, uint64_t interval_ms)
{
	unsigned n = rl->suppressed;

	if (n == 0 || now_ms < rl->next_ms)
		return 0;
	rl->suppressed = 0;
	rl->next_ms = now_ms + interval_ms;
	return n;
}
