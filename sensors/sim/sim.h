/* sim.h - internal interfaces of firegw-sim, the Modbus field simulator.
 * Not a gateway contract: only the sources in sensors/sim/ (and tests/unit/test_sim.c,
 * which includes the sources) use it. Everything runs on one thread (the
 * poll loop in sim_main.c), so nothing here is locked. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "profile.h"

#define SIM_ADU_MAX 260      /* Modbus spec: TCP ADU 260 bytes, RTU 256 */
#define SIM_PDU_MAX 253
#define SIM_LINE_MAX 1024    /* control command line */
#define SIM_PENDING_MAX 8    /* delayed replies per port (mode slow) */
#define SIM_OUT_MAX 8192     /* bytes waiting to be written per port */
#define SIM_IN_MAX 4096
#define SIM_MAX_RAMPS 64
#define SIM_MAX_SCENARIOS 8
#define SIM_SCENARIO_MAX_STEPS 10000
#define SIM_RAMP_TICK_US 100000 /* ramps update 10 times a second */

/* Modbus exception codes (Modbus Application Protocol v1.1b3 §7). */
#define MB_EX_ILLEGAL_FUNCTION 0x01
#define MB_EX_ILLEGAL_ADDRESS 0x02
#define MB_EX_ILLEGAL_VALUE 0x03
#define MB_EX_GW_TARGET_FAILED 0x0B

enum sim_mode {
	SIM_MODE_INVALID = -1,
	SIM_MODE_NORMAL,
	SIM_MODE_SILENT,
	SIM_MODE_SLOW,
	SIM_MODE_EXCEPTION,
	SIM_MODE_BADCRC,
	SIM_MODE_GARBAGE,
	SIM_MODE_WRONGUNIT,
	SIM_MODE_BADLEN, /* TCP: MBAP length off by one; RTU: byte count off by one */
	SIM_MODE_MAX
};
const char *sim_mode_name(enum sim_mode m);

/* One Modbus table of a simulated device: a dense window [lo, lo + count)
 * covering every block and value the profile puts in that table. Bits are
 * stored one per uint16_t (0 or 1). */
struct sim_table {
	uint16_t lo;
	uint32_t count; /* 0: the device has nothing in this table */
	uint16_t *data;
};

struct sim_dev {
	const struct cfg_device *cfg;
	const struct profile *prof;
	int unit;
	int bus;
	struct sim_table tables[TABLE_MAX];
	enum sim_mode mode;
	int mode_arg;       /* slow: ms; exception: code */
	uint64_t requests;  /* frames addressed to this unit */
	uint64_t answered;  /* replies sent (exceptions and faulty replies too) */
	/* how evenly the master polls this unit, for the tests: the largest
	 * gap between two of its requests, and the largest number of requests
	 * to other units of its bus (any unit, simulated or not) between two
	 * of its requests (sim_dev_count_request) */
	bool seen;
	uint64_t last_req_us, last_frame;
	uint64_t max_gap_us, max_between;
};

/* Builds the tables of every device of cfg and sets normal values
 * (sim_dev.c). 0, -ENOMEM, -EINVAL (a profile that does not fit 16-bit
 * addresses; logged). */
int sim_devs_create(const struct config *cfg, struct sim_dev **ret, size_t *ret_n);
void sim_devs_free(struct sim_dev *devs, size_t n);
/* Normal values: flags and inputs inactive, analog values plausible. */
void sim_dev_reset_values(struct sim_dev *d);

/* Handles one request PDU (function code first) for d, unit already
 * matched. Writes the response PDU into rsp (SIM_PDU_MAX bytes) and returns
 * its length; exceptions are responses too. Pure table logic, no mode. */
size_t sim_dev_handle(struct sim_dev *d, const uint8_t *req, size_t len, uint8_t *rsp);
/* Expected response PDU length for a request (for garbage of plausible
 * length); at least 2. */
size_t sim_expected_rsp_len(const uint8_t *req, size_t len);

/* Engineering value vi of d: 0, -ERANGE (does not fit the type). */
int sim_dev_set_value(struct sim_dev *d, int vi, double v);
/* Current engineering value; -EINVAL when it does not decode. */
int sim_dev_get_value(const struct sim_dev *d, int vi, double *ret);
/* Sets flag source f active or inactive (honours invert). 0 or -EINVAL
 * (absent flag, or an f32 value that has no bits). */
int sim_dev_set_flag(struct sim_dev *d, const struct flag_src *f, bool active);
/* One word of a table at a 0-based wire address: 0 or -ERANGE. */
int sim_dev_raw_write(struct sim_dev *d, enum reg_table t, uint16_t addr, uint16_t v);
int sim_dev_raw_read(const struct sim_dev *d, enum reg_table t, uint16_t addr, uint16_t *ret);

/* Modbus RTU CRC-16 (poly 0xA001, init 0xFFFF; Modbus over serial line
 * v1.02 §6.2.2), low byte first on the wire. */
uint16_t sim_crc16(const uint8_t *buf, size_t len);
/* Length of a complete RTU request frame starting at buf given its first
 * bytes: >0 the frame length, 0 need more bytes, -1 unknown function (wait
 * for the 3.5 character silence). */
int sim_rtu_frame_len(const uint8_t *buf, size_t len);

/* A parsed control command (sim_ctl.c). */
enum sim_cmd_kind {
	CMD_INVALID = -1,
	CMD_SET,
	CMD_RAMP,
	CMD_FLAG,
	CMD_RAW,
	CMD_MODE,
	CMD_STATS,
	CMD_RESET_STATS,
	CMD_LIST,
	CMD_QUIT,
	CMD_PLAY,
	CMD_ECHO,
	CMD_MAX
};

struct sim_cmd {
	enum sim_cmd_kind kind;
	int dev;             /* -1: none / all */
	int vi;              /* value index */
	struct flag_src src; /* flag / input: resolved bits */
	bool on;
	double num;          /* set: value; ramp: per minute */
	double max;
	bool has_max;
	enum reg_table table;
	uint16_t address, raw;
	enum sim_mode mode;
	int mode_arg;
	char text[SIM_LINE_MAX]; /* echo text, play file */
};

struct sim_ramp {
	int dev, vi;
	double start, per_min, max;
	bool has_max;
	uint64_t start_us;
};

struct sim_step {
	uint64_t at_us;
	struct sim_cmd cmd;
};

struct sim_scenario {
	char file[256];
	struct sim_step *steps;
	size_t n, next;
	uint64_t start_us;
};

/* The whole simulator state, owned by main(). */
struct sim {
	const struct config *cfg;
	struct sim_dev *devs;
	size_t n_devs;
	struct sim_ramp ramps[SIM_MAX_RAMPS];
	size_t n_ramps;
	uint64_t next_ramp_us;
	struct sim_scenario scenarios[SIM_MAX_SCENARIOS];
	size_t n_scenarios;
	bool quit;
	bool verbose;
	uint64_t bus_frames[CONFIG_MAX_BUSES]; /* requests seen per bus, any unit */
};

/* Counts a request frame on bus (dev: the simulated device it is for, -1:
 * none) for the stats: requests, max_gap_ms, max_between. */
void sim_count_request(struct sim *s, int bus, int dev, uint64_t now_us);
/* Zeroes every counter of every device. */
void sim_reset_stats(struct sim *s);

uint64_t sim_now_us(void);

/* Parses one command line. 0, or -EINVAL with a reason in err. Validates
 * everything that does not depend on the current values (device, value,
 * point and flag names, numbers, addresses). */
int sim_cmd_parse(const struct sim *s, const char *line, struct sim_cmd *cmd, char *err, size_t err_len);
/* Applies a parsed command; the reply line ("ok ..." or "error: ...",
 * without newline) goes to reply. */
void sim_cmd_apply(struct sim *s, const struct sim_cmd *cmd, char *reply, size_t reply_len);
/* Parse and apply. */
void sim_cmd_run(struct sim *s, const char *line, char *reply, size_t reply_len);
/* Loads a scenario file: every bad line goes to err ("FILE:LINE: message",
 * the first one) and nothing starts. 0, -EINVAL, -ENOENT, -ENOMEM, -E2BIG. */
int sim_scenario_start(struct sim *s, const char *path, char *err, size_t err_len);
/* Runs ramps and due scenario steps; returns the next deadline in
 * microseconds (UINT64_MAX: none). */
uint64_t sim_tick(struct sim *s, uint64_t now_us);
void sim_scenarios_free(struct sim *s);

/* The simulator's file descriptors (sim_net.c): Modbus TCP listeners and
 * their clients, RTU ttys, the control socket and its clients. */
struct sim_net;
struct pollfd;
int sim_net_create(struct sim *s, struct sim_net **ret);
void sim_net_free(struct sim_net *n);
/* host/port as given; port "0" picks a free one (logged). 0 or -errno. */
int sim_net_listen_tcp(struct sim_net *n, int bus, const char *host, const char *port);
/* Opens and configures tty path raw at bus's line settings. 0 or -errno. */
int sim_net_open_rtu(struct sim_net *n, int bus, const char *path, bool pace);
/* Unix stream socket, mode 0600; a stale socket file is replaced. */
int sim_net_listen_ctl(struct sim_net *n, const char *path);
/* Fills fds (up to max) for poll and lowers *deadline to the next timer
 * (RTU silence, delayed reply, paced byte). Returns the count. */
size_t sim_net_pollfds(struct sim_net *n, struct pollfd *fds, size_t max, uint64_t *deadline);
/* Handles the revents of fds[0..nfds) filled by sim_net_pollfds. */
void sim_net_dispatch(struct sim_net *n, const struct pollfd *fds, size_t nfds);
/* Runs the timers that are due. */
void sim_net_timers(struct sim_net *n, uint64_t now);
/* Best-effort write of what the control clients still wait for (on quit). */
void sim_net_flush(struct sim_net *n);
