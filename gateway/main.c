/* main.c - the `firegw` command: dispatches to the daemon (`run`) or to one
 * of the commissioning and operating commands (cli.c). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "gateway.h"
#include "instance.h"
#include "log.h"
#include "util.h"

static int cmd_run(int argc, char **argv);

/* The binary's path as resolved at start-up: a reload executes it again.
 * Not /proc/self/exe, which after a package upgrade is the deleted old
 * binary; the path names the new one. */
static char exe_path[PATH_MAX];

static void resolve_exe(const char *argv0)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);

	if (n > 0 && (size_t)n < sizeof(exe_path) - 1) {
		exe_path[n] = '\0';
		return;
	}
	/* no /proc: the name we were started by, when it is a path */
	util_strlcpy(exe_path, strchr(argv0, '/') ? argv0 : "/proc/self/exe", sizeof(exe_path));
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "run", cmd_run, "run the gateway daemon" },
	{ "check", cli_check, "check the configuration and profiles (file:line:col errors)" },
	{ "probe", cli_probe, "read each configured device once and show decoded values" },
	{ "scan", cli_scan, "find which unit ids answer on a bus" },
	{ "status", cli_status, "show points and their states from the database" },
	{ "watch", cli_watch, "subscribe like the command center and print events and states" },
	{ "reset", cli_reset, "reset latched alarms of a device or point (through the daemon)" },
	{ "history", cli_history, "list stored events" },
	{ "compliance", cli_compliance, "show the inspection-compliance status (now, or at a date)" },
	{ "report", cli_report, "period report for inspectors (json, csv, html)" },
	{ "verify", cli_verify, "check the tamper-evidence chain of the database" },
	{ "test", cli_test, "start or end test mode of points (through the daemon)" },
	{ "disable", cli_disable, "take points out of service, with a reason (through the daemon)" },
	{ "enable", cli_enable, "return disabled points to service (through the daemon)" },
	{ "record", cli_record, "record a system test, maintenance or inspection (through the daemon)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: firegw COMMAND [OPTIONS]   (firegw COMMAND --help for each)\n\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nEvery command takes -c FILE (default %s).\n", CONFIG_DEFAULT_PATH);
}

static int cmd_run(int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_PATH;
	int i, r;

	for (i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			log_set_level(LOG_DEBUG);
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("Usage: firegw run [-c FILE] [-v]\n"
			       "Runs the gateway: polls the buses, detects alarms and faults, stores\n"
			       "everything in SQLite and publishes over MQTT. Stops on SIGTERM.\n");
			return 0;
		} else {
			fprintf(stderr, "firegw run: unexpected argument '%s'\nTry 'firegw run --help'.\n",
				argv[i]);
			return 2;
		}
	}
	r = gateway_run(path);
	if (r == GATEWAY_RELOAD) {
		/* a fresh process image reads the new configuration; the
		 * signal mask is reset so the new daemon sets its own */
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* the database lock stays held: no second daemon slips in */
		r = instance_keep_on_exec();
		if (r < 0)
			log_warning("cannot keep the database lock across the reload: %s",
				    strerror(-r));
		execv(exe_path, argv - 1); /* argv - 1: main's argv */
		log_error("cannot restart '%s' for the reload: %s; exiting so the service manager "
			  "restarts firegw",
			  exe_path, strerror(errno));
		return 2;
	}
	return r;
}

int main(int argc, char **argv)
{
	size_t i;

	log_init(LOG_INFO);
	resolve_exe(argv[0]);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("firegw %s\n", FIREGW_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "firegw: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
