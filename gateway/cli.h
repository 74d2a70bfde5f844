/* cli.h - the firegw commands other than `run` (SPEC §7). Each takes the
 * command's own argv (argv[0] is the command name) and returns the exit
 * status: 0 success, 1 the thing checked is bad / not found, 2 usage or
 * system error. */
#pragma once

struct config;
typedef struct store store;

/* Prints "firegw CMD: MSG" and the --help hint on stderr. */
void cli_usage_error(const char *cmd, const char *msg);
/* Loads the configuration and opens its database read-only (works beside
 * a running daemon). 0, or the exit status to return (message printed). */
int cli_open_readonly(const char *path, struct config **ret_c, store **ret_st);

int cli_check(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_watch(int argc, char **argv);
int cli_reset(int argc, char **argv);
int cli_probe(int argc, char **argv);
int cli_scan(int argc, char **argv);
int cli_history(int argc, char **argv);
int cli_test(int argc, char **argv);
int cli_disable(int argc, char **argv);
int cli_enable(int argc, char **argv);
int cli_record(int argc, char **argv);
/* cli_inspect.c: the inspectors' commands (SPEC §6, §7). */
int cli_compliance(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_report(int argc, char **argv);
