/* cli.h - the firegw commands other than `run` (SPEC §7). Each takes the
 * command's own argv (argv[0] is the command name) and returns the exit
 * status: 0 success, 1 the thing checked is bad / not found, 2 usage or
 * system error. */
#pragma once

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
