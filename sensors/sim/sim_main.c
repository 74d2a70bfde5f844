/* sim_main.c - firegw-sim entry point: the command line, loading the
 * gateway's own config (same devices, units and profiles), opening every
 * bus endpoint, and the single poll loop that serves Modbus, the control
 * socket, ramps and scenarios. Also the "ctl" client mode that sends one
 * control command. Everything runs on the main thread; SIGINT/SIGTERM go
 * through a signalfd. Usage: docs/simulator.md. */
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_POLLFDS 520
#define CTL_CLIENT_TIMEOUT_MS 10000

struct endpoint {
	int bus;
	char where[256]; /* TTY path or HOST:PORT */
};

struct options {
	const char *config;
	const char *ctl;
	const char *scenario;
	bool pace, verbose;
	struct endpoint rtu[CONFIG_MAX_BUSES], tcp[CONFIG_MAX_BUSES];
	size_t n_rtu, n_tcp;
	/* raw BUS=... arguments, resolved once the config is loaded */
	const char *rtu_arg[CONFIG_MAX_BUSES], *tcp_arg[CONFIG_MAX_BUSES];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: firegw-sim -c CONFIG.yaml --ctl SOCKET_PATH [--rtu BUS_ID=TTY_PATH]...\n"
		"                  [--tcp BUS_ID=HOST:PORT]... [--scenario FILE] [--pace] [-v]\n"
		"       firegw-sim ctl SOCKET_PATH COMMAND [ARGS...]\n"
		"\n"
		"Simulates the Modbus devices of a firegw config: TCP buses listen on their\n"
		"configured host:port (or --tcp), RTU buses are served on the tty given by --rtu\n"
		"(one end of a socat pty pair). Prints 'firegw-sim: ready' when serving.\n"
		"\n"
		"  -c, --config FILE      the gateway's config file\n"
		"      --ctl PATH         control socket (Unix stream, mode 0600)\n"
		"      --rtu BUS=TTY      serve RTU bus BUS on TTY\n"
		"      --tcp BUS=HOST:PORT  serve TCP bus BUS on HOST:PORT instead of its config\n"
		"      --scenario FILE    play FILE ('at SECONDS COMMAND ...' lines) from the start\n"
		"      --pace             write RTU replies at the bus's baud rate\n"
		"  -v, --verbose          log every request\n"
		"  -h, --help             this text\n"
		"\n"
		"Control commands: set, ramp, flag, input, raw, mode, stats, reset-stats, list,\n"
		"play, echo, quit. See docs/simulator.md.\n");
}

/* firegw-sim ctl SOCKET COMMAND...: exit 0 iff the reply starts with "ok". */
static int ctl_client(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[SIM_LINE_MAX + 1], rep[4096];
	size_t len = 0, got = 0;
	struct pollfd pfd;
	uint64_t deadline;
	int fd, i, r;

	if (argc < 4) {
		fprintf(stderr, "firegw-sim ctl: usage: firegw-sim ctl SOCKET_PATH COMMAND [ARGS...]\n");
		return 2;
	}
	if (util_strlcpy(sa.sun_path, argv[2], sizeof(sa.sun_path)) < 0) {
		fprintf(stderr, "firegw-sim ctl: socket path '%s' is too long\n", argv[2]);
		return 2;
	}
	for (i = 3; i < argc; i++) {
		r = snprintf(line + len, sizeof(line) - len, "%s%s", i > 3 ? " " : "", argv[i]);
		if (r < 0 || (size_t)r >= sizeof(line) - len - 1) {
			fprintf(stderr, "firegw-sim ctl: command longer than %d bytes\n", SIM_LINE_MAX - 1);
			return 2;
		}
		len += (size_t)r;
	}
	line[len++] = '\n';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "firegw-sim ctl: cannot connect to '%s': %s (is the simulator running with --ctl %s?)\n",
			argv[2], strerror(errno), argv[2]);
		if (fd >= 0)
			close(fd);
		return 2;
	}
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "firegw-sim ctl: send: %s\n", strerror(errno));
		close(fd);
		return 2;
	}
	deadline = util_mono_ms() + CTL_CLIENT_TIMEOUT_MS;
	while (got < sizeof(rep) - 1 && !memchr(rep, '\n', got)) {
		uint64_t now = util_mono_ms();
		ssize_t n;

		if (now >= deadline) {
			fprintf(stderr, "firegw-sim ctl: no reply within %d s\n",
				CTL_CLIENT_TIMEOUT_MS / 1000);
			close(fd);
			return 2;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(fd, rep + got, sizeof(rep) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	rep[got] = '\0';
	rep[strcspn(rep, "\n")] = '\0';
	if (!got) {
		fprintf(stderr, "firegw-sim ctl: connection closed without a reply\n");
		return 2;
	}
	printf("%s\n", rep);
	return strncmp(rep, "ok", 2) == 0 ? 0 : 1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CTL = 256, OPT_RTU, OPT_TCP, OPT_SCENARIO, OPT_PACE };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ctl", required_argument, NULL, OPT_CTL },
		{ "rtu", required_argument, NULL, OPT_RTU },
		{ "tcp", required_argument, NULL, OPT_TCP },
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "pace", no_argument, NULL, OPT_PACE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_CTL:
			o->ctl = optarg;
			break;
		case OPT_RTU:
		case OPT_TCP:
			if ((c == OPT_RTU ? o->n_rtu : o->n_tcp) == CONFIG_MAX_BUSES) {
				fprintf(stderr, "firegw-sim: at most %d --%s options\n", CONFIG_MAX_BUSES,
					c == OPT_RTU ? "rtu" : "tcp");
				return 2;
			}
			if (c == OPT_RTU)
				o->rtu_arg[o->n_rtu++] = optarg;
			else
				o->tcp_arg[o->n_tcp++] = optarg;
			break;
		case OPT_SCENARIO:
			o->scenario = optarg;
			break;
		case OPT_PACE:
			o->pace = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "firegw-sim: see 'firegw-sim --help'\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "firegw-sim: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (!o->config) {
		fprintf(stderr, "firegw-sim: missing -c CONFIG.yaml: give the gateway's config file\n");
		return 2;
	}
	if (!o->ctl) {
		fprintf(stderr, "firegw-sim: missing --ctl SOCKET_PATH: where to put the control socket\n");
		return 2;
	}
	return 0;
}

/* Resolves "BUS=WHERE" against the config. */
static int resolve_endpoint(const struct config *cfg, const char *opt, const char *arg,
			    enum bus_kind kind, struct endpoint *ep)
{
	const char *eq = strchr(arg, '=');
	char id[CONFIG_ID_MAX];
	size_t i, idlen;

	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "firegw-sim: --%s '%s': expected BUS_ID=%s\n", opt, arg,
			kind == BUS_RTU ? "TTY_PATH" : "HOST:PORT");
		return -EINVAL;
	}
	idlen = (size_t)(eq - arg);
	if (idlen >= sizeof(id)) {
		fprintf(stderr, "firegw-sim: --%s '%s': bus id too long\n", opt, arg);
		return -EINVAL;
	}
	memcpy(id, arg, idlen);
	id[idlen] = '\0';
	ep->bus = config_bus_index(cfg, id);
	if (ep->bus < 0) {
		fprintf(stderr, "firegw-sim: --%s '%s': no bus '%s' in %s; buses:", opt, arg, id,
			cfg->path);
		for (i = 0; i < cfg->n_buses; i++)
			fprintf(stderr, " %s", cfg->buses[i].id);
		fprintf(stderr, "\n");
		return -EINVAL;
	}
	if (cfg->buses[ep->bus].kind != kind) {
		fprintf(stderr, "firegw-sim: --%s '%s': bus '%s' is a Modbus %s bus, use --%s\n", opt,
			arg, id, kind == BUS_RTU ? "TCP" : "RTU", kind == BUS_RTU ? "tcp" : "rtu");
		return -EINVAL;
	}
	if (util_strlcpy(ep->where, eq + 1, sizeof(ep->where)) < 0) {
		fprintf(stderr, "firegw-sim: --%s '%s': too long\n", opt, arg);
		return -EINVAL;
	}
	return 0;
}

static const struct endpoint *find_ep(const struct endpoint *eps, size_t n, int bus)
{
	size_t i;

	/* the last one given wins, as with most tools */
	for (i = n; i > 0; i--)
		if (eps[i - 1].bus == bus)
			return &eps[i - 1];
	return NULL;
}

static int open_buses(const struct config *cfg, const struct options *o, struct sim_net *net)
{
	char host[256], port[16];
	size_t i;
	int r, served = 0;

	for (i = 0; i < cfg->n_buses; i++) {
		const struct cfg_bus *b = &cfg->buses[i];
		const struct endpoint *ep;

		if (b->kind == BUS_TCP) {
			ep = find_ep(o->tcp, o->n_tcp, (int)i);
			if (ep) {
				const char *colon = strrchr(ep->where, ':');
				long pn;

				if (!colon || colon == ep->where ||
				    util_parse_long(colon + 1, 0, 65535, &pn) < 0) {
					fprintf(stderr, "firegw-sim: --tcp %s=%s: expected HOST:PORT with a port in 0..65535\n",
						b->id, ep->where);
					return -EINVAL;
				}
				snprintf(host, sizeof(host), "%.*s", (int)(colon - ep->where), ep->where);
				snprintf(port, sizeof(port), "%ld", pn);
			} else {
				util_strlcpy(host, b->host, sizeof(host));
				snprintf(port, sizeof(port), "%d", b->port);
			}
			r = sim_net_listen_tcp(net, (int)i, host, port);
		} else {
			ep = find_ep(o->rtu, o->n_rtu, (int)i);
			if (!ep) {
				log_warning("bus '%s' is skipped: give --rtu %s=TTY_PATH to serve it", b->id,
					    b->id);
				continue;
			}
			r = sim_net_open_rtu(net, (int)i, ep->where, o->pace);
		}
		if (r < 0)
			return r;
		served++;
	}
	if (!served)
		log_warning("no bus is served: only the control socket is open");
	return 0;
}

static int run_loop(struct sim *s, struct sim_net *net, int sfd)
{
	struct pollfd fds[MAX_POLLFDS];
	struct signalfd_siginfo si;
	uint64_t now, deadline;
	struct timespec ts;
	size_t nf;
	int r;

	while (!s->quit) {
		now = sim_now_us();
		sim_net_timers(net, now);
		deadline = sim_tick(s, now);
		if (s->quit)
			break;
		fds[0].fd = sfd;
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		nf = sim_net_pollfds(net, fds + 1, MAX_POLLFDS - 1, &deadline);
		now = sim_now_us();
		if (deadline == UINT64_MAX) {
			r = ppoll(fds, nf + 1, NULL, NULL);
		} else {
			uint64_t wait = deadline > now ? deadline - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000u);
			ts.tv_nsec = (long)(wait % 1000000u) * 1000;
			r = ppoll(fds, nf + 1, &ts, NULL);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return -errno;
		}
		if (fds[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				log_info("signal %u, stopping", si.ssi_signo);
				return 0;
			}
		}
		if (r > 0)
			sim_net_dispatch(net, fds + 1, nf);
	}
	sim_net_flush(net);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct errlist errs = { 0 };
	struct config *cfg = NULL;
	struct sim s = { 0 };
	struct sim_net *net = NULL;
	char err[SIM_LINE_MAX];
	sigset_t mask;
	size_t i;
	int r, sfd = -1, rc = 1;

	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return ctl_client(argc, argv);
	r = parse_args(argc, argv, &o);
	if (r == 1)
		return 0;
	if (r)
		return 2;
	log_init(o.verbose ? LOG_DEBUG : LOG_INFO);
	s.verbose = o.verbose;

	r = config_load(o.config, config_builtin_profile_dir(), &errs, &cfg);
	errlist_print(&errs, stderr);
	errlist_clear(&errs);
	if (r < 0) {
		fprintf(stderr, "firegw-sim: cannot load config '%s' (%s); check it with 'firegw check -c %s'\n",
			o.config, strerror(-r), o.config);
		return 2;
	}
	/* bad --rtu/--tcp arguments exit 2 like every usage error */
	rc = 2;
	for (i = 0; i < o.n_rtu; i++)
		if (resolve_endpoint(cfg, "rtu", o.rtu_arg[i], BUS_RTU, &o.rtu[i]) < 0)
			goto out_config;
	for (i = 0; i < o.n_tcp; i++)
		if (resolve_endpoint(cfg, "tcp", o.tcp_arg[i], BUS_TCP, &o.tcp[i]) < 0)
			goto out_config;
	rc = 1;

	s.cfg = cfg;
	r = sim_devs_create(cfg, &s.devs, &s.n_devs);
	if (r < 0) {
		log_error("cannot build the simulated devices: %s", strerror(-r));
		goto out_config;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		goto out_devs;
	}
	r = sim_net_create(&s, &net);
	if (r < 0)
		goto out_signal;
	if (sim_net_listen_ctl(net, o.ctl) < 0 || open_buses(cfg, &o, net) < 0)
		goto out_net;
	if (o.scenario && sim_scenario_start(&s, o.scenario, err, sizeof(err)) < 0) {
		fprintf(stderr, "firegw-sim: --scenario: %s\n", err);
		rc = 2;
		goto out_net;
	}
	printf("firegw-sim: ready\n");
	fflush(stdout);
	rc = run_loop(&s, net, sfd) < 0 ? 1 : 0;

out_net:
	sim_net_free(net);
	sim_scenarios_free(&s);
out_signal:
	close(sfd);
out_devs:
	sim_devs_free(s.devs, s.n_devs);
out_config:
	config_free(cfg);
	return rc;
}
