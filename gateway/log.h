/* log.h - one logging sink for the daemon and the commands.
 * Lines go to stderr; under systemd (JOURNAL_STREAM set) each line carries
 * the "<N>" priority prefix that journald understands. Thread-safe. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* level: highest priority printed (LOG_DEBUG prints everything). */
void log_init(int level);
void log_set_level(int level);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* One source of repeated errors (bad requests, bad acks): at most one line
 * per interval, the rest counted. Zero-initialised; one owner thread. */
struct log_ratelimit {
	uint64_t next_ms;
	unsigned suppressed;
};
/* True when a line may be logged at now_ms; then *ret_suppressed is the
 * number of lines refused since the last one allowed (say so in the line). */
bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms, uint64_t interval_ms,
		      unsigned *ret_suppressed);
/* For the owner's periodic tick, so that the end of a flood is counted
 * too: once the interval of the last line allowed is over, the number of
 * lines refused since (then reset, the interval restarted: log it as one
 * "N more ..." line); 0 when there is nothing to say yet. */
unsigned log_ratelimit_due(struct log_ratelimit *rl, uint64_t now_ms, uint64_t interval_ms);
