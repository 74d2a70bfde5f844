/* cli_int.h - what the command families (cli*.c) share; main.c sees only
 * cli.h. cli.c: a command's configuration, usage errors, the database
 * opened read-only, an event as a line. cli_daemon.c: a request through
 * the running daemon's control socket. Main thread of the calling process. */
#pragma once
#include <stdio.h>

#include <jansson.h>

#include "config.h"
#include "store.h"

/* Prints "firegw CMD: MSG" and the --help hint on stderr. */
void cli_usage_error(const char *cmd, const char *msg);
/* Loads the configuration at path, printing its errors and warnings;
 * NULL (with a pointer to `firegw check`) when it is not valid. The
 * caller frees it with config_free(). */
struct config *cli_load_config(const char *path);
/* Loads the configuration and opens its database read-only (works beside
 * a running daemon). 0, or the exit status to return (message printed). */
int cli_open_readonly(const char *path, struct config **ret_c, store **ret_st);
/* One readable line for a stored or published event (history, watch);
 * topic is where it came from ("db" for the database). Every text in it
 * is escaped (cli_text): what a publisher sent cannot drive the terminal. */
void cli_print_event_line(FILE *f, const char *topic, json_t *ev);
/* Text from outside (a message, the database) made safe for a terminal:
 * control characters, invalid UTF-8 and backslashes as visible \xNN
 * (util_escape), cut to len. NULL becomes dflt. Returns buf. */
const char *cli_text(const char *s, const char *dflt, char *buf, size_t len);
/* The same for a JSON string member of o. */
const char *cli_json_text(json_t *o, const char *key, const char *dflt, char *buf, size_t len);

/* Sends req (borrowed) to the daemon of c and waits at most timeout_ms for
 * all its replies. An error reply ({"error": {"code", "message"}}) is
 * printed as "firegw: CODE: MESSAGE" on stderr and sets *ret_failed to 1;
 * every other reply goes to print (NULL: none), which returns 1 when the
 * reply tells of a failure (a probe without a valid answer: *ret_failed is
 * set too), else 0. Returns control_call()'s result: 0, -ENOENT/
 * -ECONNREFUSED (no daemon), -ETIMEDOUT, -EPROTO; the caller words it. */
int cli_daemon_call(const struct config *c, json_t *req, int timeout_ms,
		    int (*print)(json_t *reply), int *ret_failed);
