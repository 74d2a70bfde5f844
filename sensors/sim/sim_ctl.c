/* sim_ctl.c - the control commands of firegw-sim (set, ramp, flag, input,
 * raw, mode, stats, reset-stats, list, play, echo, quit), the ramps they
 * start and the scenario files that replay them on a schedule. Commands are
 * parsed (and fully checked) before anything is applied, so a scenario with
 * one bad line is refused as a whole. Called only from the poll loop thread;
 * owns the ramps and scenarios inside struct sim. */
#include "sim.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define MAX_TOKENS 8
#define SCENARIO_FILE_MAX (1024 * 1024)

static int cmd_fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cmd_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Splits line in place at blanks. Returns the token count, or -E2BIG. */
static int tokenize(char *line, char **tok, int max)
{
	int n = 0;
	char *save = NULL;
	char *t;

	for (t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == max)
			return -E2BIG;
		tok[n++] = t;
	}
	return n;
}

static int find_dev(const struct sim *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n_devs; i++)
		if (strcmp(s->devs[i].cfg->id, id) == 0)
			return (int)i;
	return -1;
}

static int need_dev(const struct sim *s, const char *id, int *ret, char *err, size_t len)
{
	*ret = find_dev(s, id);
	if (*ret < 0)
		return cmd_fail(err, len, "no device '%s' (see 'list')", id);
	return 0;
}

static int need_value(const struct sim_dev *d, const char *name, int *ret, char *err, size_t len)
{
	*ret = profile_value_index(d->prof, name);
	if (*ret < 0)
		return cmd_fail(err, len, "device '%s' (profile '%s') has no value '%s'", d->cfg->id,
			    d->prof->name, name);
	return 0;
}

static int need_number(const char *what, const char *s, double *ret, char *err, size_t len)
{
	if (util_parse_double(s, ret) < 0)
		return cmd_fail(err, len, "%s '%s' is not a number", what, s);
	return 0;
}

static int need_onoff(const char *s, bool *ret, char *err, size_t len)
{
	if (strcmp(s, "on") == 0)
		*ret = true;
	else if (strcmp(s, "off") == 0)
		*ret = false;
	else
		return cmd_fail(err, len, "'%s' must be 'on' or 'off'", s);
	return 0;
}

static enum reg_table table_from_name(const char *s)
{
	int t;

	for (t = 0; t < TABLE_MAX; t++)
		if (strcmp(s, reg_table_name((enum reg_table)t)) == 0)
			return (enum reg_table)t;
	return TABLE_INVALID;
}

/* DEVICE[.POINT] for flag/input: resolves the bits to change. An input
 * module's channel is its input bit whatever the flag asked ("flag
 * panel-1.in1 fire on" closes the channel, whatever its "as"). */
static int resolve_flag(const struct sim *s, char *target, enum flag_kind f, bool input_only,
			struct sim_cmd *cmd, char *err, size_t len)
{
	const struct sim_dev *d;
	const struct cfg_point *cp = NULL;
	const struct profile_point *pp = NULL;
	char *dot = strchr(target, '.');
	const char *pname = dot ? dot + 1 : NULL;
	size_t i;
	int r, pi;

	if (dot)
		*dot = '\0';
	r = need_dev(s, target, &cmd->dev, err, len);
	if (r < 0)
		return r;
	d = &s->devs[cmd->dev];
	if (pname) {
		for (i = 0; i < d->cfg->n_points; i++)
			if (strcmp(d->cfg->points[i].name, pname) == 0)
				cp = &d->cfg->points[i];
		pi = cp ? cp->profile_point : profile_point_index(d->prof, pname);
		if (pi < 0 || (size_t)pi >= d->prof->n_points)
			return cmd_fail(err, len, "device '%s' has no point '%s'", d->cfg->id, pname);
	} else {
		if (input_only)
			return cmd_fail(err, len, "input needs DEVICE.POINT");
		if (d->cfg->n_points)
			cp = &d->cfg->points[0];
		pi = cp ? cp->profile_point : 0;
		if (pi < 0 || (size_t)pi >= d->prof->n_points)
			return cmd_fail(err, len, "device '%s' has no points", d->cfg->id);
	}
	pp = &d->prof->points[pi];
	if (pp->kind == PKIND_INPUT) {
		cmd->src = pp->input;
	} else if (input_only) {
		return cmd_fail(err, len, "point '%s' of '%s' is not an input channel", pp->name,
			    d->cfg->id);
	} else {
		cmd->src = cp ? cp->flags[f] : pp->flags[f];
	}
	if (cmd->src.value < 0)
		return cmd_fail(err, len, "point '%s' of '%s' has no %s flag", pp->name, d->cfg->id,
			    input_only ? "input" : flag_kind_name(f));
	if (d->prof->values[cmd->src.value].type == RTYPE_F32)
		return cmd_fail(err, len, "the %s flag of '%s' is in a float value", flag_kind_name(f),
			    d->cfg->id);
	return 0;
}

static int parse_mode(char **tok, int n, struct sim_cmd *cmd, char *err, size_t len)
{
	long v;
	int m;

	cmd->mode = SIM_MODE_INVALID;
	for (m = 0; m < SIM_MODE_MAX; m++)
		if (strcmp(tok[2], sim_mode_name((enum sim_mode)m)) == 0)
			cmd->mode = (enum sim_mode)m;
	if (cmd->mode == SIM_MODE_INVALID)
		return cmd_fail(err, len,
			    "unknown mode '%s': use normal, silent, slow MS, exception CODE, badcrc, garbage, wrongunit or badlen",
			    tok[2]);
	if (cmd->mode == SIM_MODE_SLOW || cmd->mode == SIM_MODE_EXCEPTION) {
		bool slow = cmd->mode == SIM_MODE_SLOW;

		if (n != 4)
			return cmd_fail(err, len, "usage: mode DEVICE %s", slow ? "slow MS" : "exception CODE");
		if (util_parse_long(tok[3], slow ? 0 : 1, slow ? 60000 : 255, &v) < 0)
			return cmd_fail(err, len, "%s '%s' must be an integer in %s", slow ? "MS" : "CODE",
				    tok[3], slow ? "0..60000" : "1..255");
		cmd->mode_arg = (int)v;
	} else if (n != 3) {
		return cmd_fail(err, len, "mode %s takes no argument", tok[2]);
	}
	return 0;
}

int sim_cmd_parse(const struct sim *s, const char *line, struct sim_cmd *cmd, char *err, size_t len)
{
	char buf[SIM_LINE_MAX];
	char *tok[MAX_TOKENS];
	const char *p;
	long v;
	int n, r;

	memset(cmd, 0, sizeof(*cmd));
	cmd->dev = -1;
	cmd->vi = -1;
	cmd->src.value = -1;
	if (util_strlcpy(buf, line, sizeof(buf)) < 0)
		return cmd_fail(err, len, "line longer than %d bytes", SIM_LINE_MAX - 1);
	/* echo keeps its text verbatim, blanks included. */
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (strncmp(p, "echo", 4) == 0 && (p[4] == '\0' || p[4] == ' ' || p[4] == '\t')) {
		cmd->kind = CMD_ECHO;
		p += 4;
		while (*p == ' ' || *p == '\t')
			p++;
		util_strlcpy(cmd->text, p, sizeof(cmd->text));
		cmd->text[strcspn(cmd->text, "\r\n")] = '\0';
		return 0;
	}
	n = tokenize(buf, tok, MAX_TOKENS);
	if (n < 0)
		return cmd_fail(err, len, "too many arguments");
	if (n == 0)
		return cmd_fail(err, len, "empty command");

	if (strcmp(tok[0], "set") == 0) {
		cmd->kind = CMD_SET;
		if (n != 4)
			return cmd_fail(err, len, "usage: set DEVICE VALUE_NAME NUMBER");
		if ((r = need_dev(s, tok[1], &cmd->dev, err, len)) < 0 ||
		    (r = need_value(&s->devs[cmd->dev], tok[2], &cmd->vi, err, len)) < 0)
			return r;
		/* nan and inf fit a float value only: a broken sensor */
		if (strcmp(tok[3], "nan") == 0)
			cmd->num = NAN;
		else if (strcmp(tok[3], "inf") == 0 || strcmp(tok[3], "-inf") == 0)
			cmd->num = tok[3][0] == '-' ? -INFINITY : INFINITY;
		else if ((r = need_number("NUMBER", tok[3], &cmd->num, err, len)) < 0)
			return r;
	} else if (strcmp(tok[0], "ramp") == 0) {
		cmd->kind = CMD_RAMP;
		if (n != 4 && n != 5)
			return cmd_fail(err, len, "usage: ramp DEVICE VALUE_NAME PER_MINUTE [MAX]");
		if ((r = need_dev(s, tok[1], &cmd->dev, err, len)) < 0 ||
		    (r = need_value(&s->devs[cmd->dev], tok[2], &cmd->vi, err, len)) < 0 ||
		    (r = need_number("PER_MINUTE", tok[3], &cmd->num, err, len)) < 0)
			return r;
		if (n == 5) {
			r = need_number("MAX", tok[4], &cmd->max, err, len);
			if (r < 0)
				return r;
			cmd->has_max = true;
		}
	} else if (strcmp(tok[0], "flag") == 0 || strcmp(tok[0], "input") == 0) {
		bool input = tok[0][0] == 'i';
		enum flag_kind f = FLAG_FIRE;

		cmd->kind = CMD_FLAG;
		if (input && n != 3)
			return cmd_fail(err, len, "usage: input DEVICE.POINT on|off");
		if (!input && n != 4)
			return cmd_fail(err, len,
				    "usage: flag DEVICE[.POINT] fire|prealarm|fault|tamper|test|power on|off");
		if (!input) {
			f = flag_kind_from_name(tok[2]);
			if (f == FLAG_INVALID)
				return cmd_fail(err, len,
					    "unknown flag '%s': use fire, prealarm, fault, tamper, test or power",
					    tok[2]);
		}
		if ((r = need_onoff(tok[n - 1], &cmd->on, err, len)) < 0 ||
		    (r = resolve_flag(s, tok[1], f, input, cmd, err, len)) < 0)
			return r;
	} else if (strcmp(tok[0], "raw") == 0) {
		const struct sim_dev *d;
		uint16_t cur;

		cmd->kind = CMD_RAW;
		if (n != 5)
			return cmd_fail(err, len, "usage: raw DEVICE holding|input|coil|discrete ADDRESS VALUE");
		if ((r = need_dev(s, tok[1], &cmd->dev, err, len)) < 0)
			return r;
		d = &s->devs[cmd->dev];
		cmd->table = table_from_name(tok[2]);
		if (cmd->table == TABLE_INVALID)
			return cmd_fail(err, len, "unknown table '%s': use holding, input, coil or discrete",
				    tok[2]);
		if (util_parse_long(tok[3], 0, 65535, &v) < 0)
			return cmd_fail(err, len, "ADDRESS '%s' must be an integer in 0..65535", tok[3]);
		cmd->address = (uint16_t)v;
		if (sim_dev_raw_read(d, cmd->table, cmd->address, &cur) < 0) {
			const struct sim_table *tb = &d->tables[cmd->table];

			if (!tb->count)
				return cmd_fail(err, len, "device '%s' simulates no %s table", d->cfg->id,
					    tok[2]);
			return cmd_fail(err, len, "address %ld is outside %s %u..%u of '%s'", v, tok[2],
				    tb->lo, (unsigned)(tb->lo + tb->count - 1), d->cfg->id);
		}
		if (util_parse_long(tok[4], 0,
				    (cmd->table == TABLE_COIL || cmd->table == TABLE_DISCRETE) ? 1 : 65535,
				    &v) < 0)
			return cmd_fail(err, len, "VALUE '%s' must be an integer in 0..%s", tok[4],
				    (cmd->table == TABLE_COIL || cmd->table == TABLE_DISCRETE) ? "1" : "65535");
		cmd->raw = (uint16_t)v;
	} else if (strcmp(tok[0], "mode") == 0) {
		cmd->kind = CMD_MODE;
		if (n < 3)
			return cmd_fail(err, len,
				    "usage: mode DEVICE normal|silent|slow MS|exception CODE|badcrc|garbage|wrongunit|badlen");
		if ((r = need_dev(s, tok[1], &cmd->dev, err, len)) < 0 ||
		    (r = parse_mode(tok, n, cmd, err, len)) < 0)
			return r;
	} else if (strcmp(tok[0], "stats") == 0) {
		cmd->kind = CMD_STATS;
		if (n > 2)
			return cmd_fail(err, len, "usage: stats [DEVICE]");
		if (n == 2 && (r = need_dev(s, tok[1], &cmd->dev, err, len)) < 0)
			return r;
	} else if (strcmp(tok[0], "reset-stats") == 0 || strcmp(tok[0], "list") == 0 ||
		   strcmp(tok[0], "quit") == 0) {
		cmd->kind = tok[0][0] == 'r' ? CMD_RESET_STATS : tok[0][0] == 'l' ? CMD_LIST : CMD_QUIT;
		if (n != 1)
			return cmd_fail(err, len, "%s takes no argument", tok[0]);
	} else if (strcmp(tok[0], "play") == 0) {
		cmd->kind = CMD_PLAY;
		if (n != 2)
			return cmd_fail(err, len, "usage: play FILE");
		if (util_strlcpy(cmd->text, tok[1], sizeof(cmd->text)) < 0)
			return cmd_fail(err, len, "file name too long");
	} else {
		return cmd_fail(err, len,
			    "unknown command '%s' (set, ramp, flag, input, raw, mode, stats, reset-stats, list, play, echo, quit)",
			    tok[0]);
	}
	return 0;
}

static void ramp_stop(struct sim *s, int dev, int vi)
{
	size_t i;

	for (i = 0; i < s->n_ramps; i++) {
		if (s->ramps[i].dev == dev && s->ramps[i].vi == vi) {
			s->ramps[i] = s->ramps[--s->n_ramps];
			return;
		}
	}
}

static void apply_ramp(struct sim *s, const struct sim_cmd *cmd, char *reply, size_t len)
{
	struct sim_dev *d = &s->devs[cmd->dev];
	struct sim_ramp *rp;
	double cur;

	ramp_stop(s, cmd->dev, cmd->vi);
	if (cmd->num == 0) {
		snprintf(reply, len, "ok ramp of %s %s stopped", d->cfg->id,
			 d->prof->values[cmd->vi].name);
		return;
	}
	if (s->n_ramps == SIM_MAX_RAMPS) {
		snprintf(reply, len, "error: %d ramps already running", SIM_MAX_RAMPS);
		return;
	}
	/* A value that does not decode now (a NaN float) starts from 0. */
	if (sim_dev_get_value(d, cmd->vi, &cur) < 0)
		cur = 0;
	rp = &s->ramps[s->n_ramps++];
	rp->dev = cmd->dev;
	rp->vi = cmd->vi;
	rp->start = cur;
	rp->per_min = cmd->num;
	rp->max = cmd->max;
	rp->has_max = cmd->has_max;
	rp->start_us = sim_now_us();
	if (s->next_ramp_us == 0 || s->next_ramp_us > rp->start_us + SIM_RAMP_TICK_US)
		s->next_ramp_us = rp->start_us + SIM_RAMP_TICK_US;
	snprintf(reply, len, "ok ramp %s %s from %g at %g/min", d->cfg->id,
		 d->prof->values[cmd->vi].name, cur, cmd->num);
}

void sim_count_request(struct sim *s, int bus, int dev, uint64_t now_us)
{
	struct sim_dev *d;
	uint64_t between;

	if (bus < 0 || bus >= CONFIG_MAX_BUSES)
		return;
	s->bus_frames[bus]++;
	if (dev < 0 || (size_t)dev >= s->n_devs)
		return;
	d = &s->devs[dev];
	d->requests++;
	if (d->seen) {
		between = s->bus_frames[bus] - d->last_frame - 1;
		if (between > d->max_between)
			d->max_between = between;
		if (now_us - d->last_req_us > d->max_gap_us)
			d->max_gap_us = now_us - d->last_req_us;
	}
	d->seen = true;
	d->last_req_us = now_us;
	d->last_frame = s->bus_frames[bus];
}

void sim_reset_stats(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->n_devs; i++) {
		struct sim_dev *d = &s->devs[i];

		d->requests = d->answered = 0;
		d->seen = false;
		d->max_gap_us = d->max_between = 0;
	}
}

static void apply_stats(const struct sim *s, const struct sim_cmd *cmd, char *reply, size_t len)
{
	size_t i, off;
	int w;

	if (cmd->dev >= 0) {
		const struct sim_dev *d = &s->devs[cmd->dev];

		snprintf(reply, len, "ok %s requests=%llu answered=%llu max_gap_ms=%llu max_between=%llu",
			 d->cfg->id, (unsigned long long)d->requests,
			 (unsigned long long)d->answered, (unsigned long long)(d->max_gap_us / 1000),
			 (unsigned long long)d->max_between);
		return;
	}
	off = (size_t)snprintf(reply, len, "ok");
	for (i = 0; i < s->n_devs && off < len; i++) {
		w = snprintf(reply + off, len - off, " %s:%llu:%llu", s->devs[i].cfg->id,
			     (unsigned long long)s->devs[i].requests,
			     (unsigned long long)s->devs[i].answered);
		if (w < 0 || (size_t)w >= len - off) {
			snprintf(reply, len, "error: reply too long, ask 'stats DEVICE'");
			return;
		}
		off += (size_t)w;
	}
}

static void apply_list(const struct sim *s, char *reply, size_t len)
{
	size_t i, off;
	int w;

	off = (size_t)snprintf(reply, len, "ok");
	for (i = 0; i < s->n_devs; i++) {
		const struct sim_dev *d = &s->devs[i];

		w = snprintf(reply + off, len - off, " %s:%s:%d:%s", d->cfg->id,
			     s->cfg->buses[d->bus].id, d->unit, d->prof->name);
		if (w < 0 || (size_t)w >= len - off) {
			snprintf(reply, len, "error: reply too long");
			return;
		}
		off += (size_t)w;
	}
}

void sim_cmd_apply(struct sim *s, const struct sim_cmd *cmd, char *reply, size_t len)
{
	struct sim_dev *d = cmd->dev >= 0 ? &s->devs[cmd->dev] : NULL;
	char err[SIM_LINE_MAX - 8];
	int r;

	/* sim_cmd_parse names a device for every command that acts on one */
	assert(d || (cmd->kind != CMD_SET && cmd->kind != CMD_FLAG && cmd->kind != CMD_RAW &&
		     cmd->kind != CMD_MODE));
	switch (cmd->kind) {
	case CMD_SET:
		ramp_stop(s, cmd->dev, cmd->vi);
		r = sim_dev_set_value(d, cmd->vi, cmd->num);
		if (r < 0)
			snprintf(reply, len, "error: %g does not fit value '%s' of '%s'", cmd->num,
				 d->prof->values[cmd->vi].name, d->cfg->id);
		else
			snprintf(reply, len, "ok %s %s = %g", d->cfg->id,
				 d->prof->values[cmd->vi].name, cmd->num);
		return;
	case CMD_RAMP:
		apply_ramp(s, cmd, reply, len);
		return;
	case CMD_FLAG:
		r = sim_dev_set_flag(d, &cmd->src, cmd->on);
		if (r < 0)
			snprintf(reply, len, "error: cannot change that flag of '%s'", d->cfg->id);
		else
			snprintf(reply, len, "ok %s %s bits 0x%x %s", d->cfg->id,
				 d->prof->values[cmd->src.value].name, (unsigned)cmd->src.mask,
				 cmd->on ? "active" : "inactive");
		return;
	case CMD_RAW:
		sim_dev_raw_write(d, cmd->table, cmd->address, cmd->raw);
		snprintf(reply, len, "ok %s %s %u = %u", d->cfg->id, reg_table_name(cmd->table),
			 cmd->address, cmd->raw);
		return;
	case CMD_MODE:
		d->mode = cmd->mode;
		d->mode_arg = cmd->mode_arg;
		snprintf(reply, len, "ok %s mode %s", d->cfg->id, sim_mode_name(cmd->mode));
		return;
	case CMD_STATS:
		apply_stats(s, cmd, reply, len);
		return;
	case CMD_RESET_STATS:
		sim_reset_stats(s);
		snprintf(reply, len, "ok");
		return;
	case CMD_LIST:
		apply_list(s, reply, len);
		return;
	case CMD_QUIT:
		s->quit = true;
		snprintf(reply, len, "ok bye");
		return;
	case CMD_ECHO:
		printf("%s\n", cmd->text);
		fflush(stdout);
		snprintf(reply, len, "ok");
		return;
	case CMD_PLAY:
		r = sim_scenario_start(s, cmd->text, err, sizeof(err));
		if (r < 0)
			snprintf(reply, len, "error: %s", err);
		else
			snprintf(reply, len, "ok playing %s", cmd->text);
		return;
	default:
		snprintf(reply, len, "error: bad command");
		return;
	}
}

void sim_cmd_run(struct sim *s, const char *line, char *reply, size_t len)
{
	struct sim_cmd cmd;
	char err[SIM_LINE_MAX - 8]; /* room for "error: " in a SIM_LINE_MAX reply */

	if (sim_cmd_parse(s, line, &cmd, err, sizeof(err)) < 0) {
		snprintf(reply, len, "error: %s", err);
		return;
	}
	sim_cmd_apply(s, &cmd, reply, len);
}

static int step_cmp(const void *a, const void *b)
{
	const struct sim_step *x = a, *y = b;

	if (x->at_us != y->at_us)
		return x->at_us < y->at_us ? -1 : 1;
	return 0;
}

/* Parses "at SECONDS COMMAND ...". */
static int scenario_line(const struct sim *s, char *line, struct sim_step *st, char *err, size_t len)
{
	char *p = line, *sec, *end;
	double t;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "at", 2) != 0 || (p[2] != ' ' && p[2] != '\t'))
		return cmd_fail(err, len, "expected 'at SECONDS COMMAND ...'");
	p += 2;
	while (*p == ' ' || *p == '\t')
		p++;
	sec = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (!*p)
		return cmd_fail(err, len, "'at %s' has no command", sec);
	*p++ = '\0';
	t = strtod(sec, &end);
	if (*end != '\0' || end == sec || !isfinite(t) || t < 0 || t > 1e6)
		return cmd_fail(err, len, "SECONDS '%s' must be a number in 0..1000000", sec);
	st->at_us = (uint64_t)llround(t * 1e6);
	if (sim_cmd_parse(s, p, &st->cmd, err, len) < 0)
		return -EINVAL;
	if (st->cmd.kind == CMD_PLAY)
		return cmd_fail(err, len, "play is not allowed inside a scenario");
	return 0;
}

int sim_scenario_start(struct sim *s, const char *path, char *err, size_t err_len)
{
	struct sim_scenario *sc;
	struct sim_step *steps = NULL;
	char line[SIM_LINE_MAX + 2], msg[SIM_LINE_MAX];
	size_t n = 0, i, j;
	long lineno = 0;
	FILE *f;
	int r = 0;

	if (s->n_scenarios == SIM_MAX_SCENARIOS) {
		snprintf(err, err_len, "%d scenarios already playing", SIM_MAX_SCENARIOS);
		return -E2BIG;
	}
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return r;
	}
	steps = calloc(SIM_SCENARIO_MAX_STEPS, sizeof(*steps));
	if (!steps) {
		r = -ENOMEM;
		snprintf(err, err_len, "%s: out of memory", path);
		goto out_close;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, err_len, "%s:%ld: line longer than %d bytes", path, lineno,
				 SIM_LINE_MAX - 1);
			r = -EINVAL;
			goto out_free;
		}
		line[strcspn(line, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (n == SIM_SCENARIO_MAX_STEPS) {
			snprintf(err, err_len, "%s:%ld: more than %d steps", path, lineno,
				 SIM_SCENARIO_MAX_STEPS);
			r = -E2BIG;
			goto out_free;
		}
		if (scenario_line(s, p, &steps[n], msg, sizeof(msg)) < 0) {
			snprintf(err, err_len, "%s:%ld: %s", path, lineno, msg);
			r = -EINVAL;
			goto out_free;
		}
		n++;
	}
	if (ferror(f)) {
		snprintf(err, err_len, "%s: read error", path);
		r = -EIO;
		goto out_free;
	}
	/* Stable order by time (insertion sort: scenarios are short, and
	 * equal times must keep their file order). */
	for (i = 1; i < n; i++) {
		struct sim_step tmp = steps[i];

		for (j = i; j > 0 && step_cmp(&steps[j - 1], &tmp) > 0; j--)
			steps[j] = steps[j - 1];
		steps[j] = tmp;
	}
	sc = &s->scenarios[s->n_scenarios++];
	util_strlcpy(sc->file, path, sizeof(sc->file));
	sc->steps = steps;
	sc->n = n;
	sc->next = 0;
	sc->start_us = sim_now_us();
	fclose(f);
	log_info("scenario '%s' started: %zu steps", path, n);
	return 0;

out_free:
	free(steps);
out_close:
	fclose(f);
	return r;
}

void sim_scenarios_free(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->n_scenarios; i++)
		free(s->scenarios[i].steps);
	s->n_scenarios = 0;
}

static uint64_t tick_ramps(struct sim *s, uint64_t now)
{
	size_t i = 0;

	if (s->n_ramps == 0 || now < s->next_ramp_us)
		return s->n_ramps ? s->next_ramp_us : UINT64_MAX;
	while (i < s->n_ramps) {
		struct sim_ramp *rp = &s->ramps[i];
		struct sim_dev *d = &s->devs[rp->dev];
		double v = rp->start + rp->per_min * (double)(now - rp->start_us) / 60e6;
		bool done = false;

		if (rp->has_max && ((rp->per_min > 0 && v >= rp->max) || (rp->per_min < 0 && v <= rp->max))) {
			v = rp->max;
			done = true;
		}
		if (sim_dev_set_value(d, rp->vi, v) < 0) {
			log_warning("ramp of '%s' %s stopped: %g does not fit", d->cfg->id,
				    d->prof->values[rp->vi].name, v);
			done = true;
		}
		if (done)
			s->ramps[i] = s->ramps[--s->n_ramps];
		else
			i++;
	}
	s->next_ramp_us = now + SIM_RAMP_TICK_US;
	return s->n_ramps ? s->next_ramp_us : UINT64_MAX;
}

uint64_t sim_tick(struct sim *s, uint64_t now)
{
	char reply[SIM_LINE_MAX];
	uint64_t next = tick_ramps(s, now);
	size_t i = 0;

	while (i < s->n_scenarios) {
		struct sim_scenario *sc = &s->scenarios[i];

		while (sc->next < sc->n && sc->start_us + sc->steps[sc->next].at_us <= now) {
			sim_cmd_apply(s, &sc->steps[sc->next].cmd, reply, sizeof(reply));
			if (strncmp(reply, "ok", 2) != 0)
				log_warning("%s: step %zu: %s", sc->file, sc->next + 1, reply);
			else
				log_debug("%s: %s", sc->file, reply);
			sc->next++;
		}
		if (sc->next == sc->n) {
			log_info("scenario '%s' finished", sc->file);
			free(sc->steps);
			s->scenarios[i] = s->scenarios[--s->n_scenarios];
			continue;
		}
		if (sc->start_us + sc->steps[sc->next].at_us < next)
			next = sc->start_us + sc->steps[sc->next].at_us;
		i++;
	}
	/* A ramp started by a step just now needs its tick. */
	if (s->n_ramps && s->next_ramp_us < next)
		next = s->next_ramp_us;
	return next;
}
