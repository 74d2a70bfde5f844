/* test_sim.c - unit tests of the simulator's table logic, Modbus PDU
 * handling, RTU framing helpers, control commands, ramps and scenarios,
 * on a hand-built profile (no YAML, no sockets). The simulator is a
 * program, not a library module, so its sources are included here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sensors/sim/sim_ctl.c"
#include "../../sensors/sim/sim_dev.c"

/* values: 0 obscuration (input 0, u16, 0.01 %/m), 1 temperature (input 1,
 * s16, 0.1 °C, valid -20..80), 2 status (input 2, u16: bit0 fire, bit1
 * fault, bit2 power inverted), 3 level (holding 10-11 f32), 4 in1 (discrete
 * 5), 5 in2 (discrete 6). Points: 0 "det" smoke, 1 "in1", 2 "in2" inputs. */
static struct profile prof;
static struct config cfg;
static struct cfg_device cdev[2];
static struct sim sim;

static void add_value(int i, const char *name, enum reg_table t, uint16_t addr, enum reg_type ty,
		      double scale, const char *unit, int block, uint16_t boff)
{
	struct profile_value *v = &prof.values[i];

	snprintf(v->name, sizeof(v->name), "%s", name);
	v->table = t;
	v->address = addr;
	v->type = ty;
	v->order = WORDS_HIGH_FIRST;
	v->scale = scale;
	v->offset = 0;
	snprintf(v->unit, sizeof(v->unit), "%s", unit);
	v->valid_min = NAN;
	v->valid_max = NAN;
	v->block = block;
	v->block_offset = boff;
}

static void no_flags(struct profile_point *pt)
{
	int f;

	for (f = 0; f < FLAG_MAX; f++)
		pt->flags[f].value = -1;
	pt->input.value = -1;
	pt->value = -1;
}

static int setup(void **state)
{
	size_t i;

	(void)state;
	memset(&prof, 0, sizeof(prof));
	memset(&cfg, 0, sizeof(cfg));
	memset(cdev, 0, sizeof(cdev));
	memset(&sim, 0, sizeof(sim));
	snprintf(prof.name, sizeof(prof.name), "test-profile");
	add_value(0, "obscuration", TABLE_INPUT, 0, RTYPE_U16, 0.01, "%/m", 0, 0);
	add_value(1, "temperature", TABLE_INPUT, 1, RTYPE_S16, 0.1, "°C", 0, 1);
	prof.values[1].valid_min = -20;
	prof.values[1].valid_max = 80;
	add_value(2, "status", TABLE_INPUT, 2, RTYPE_U16, 1, "", 0, 2);
	add_value(3, "level", TABLE_HOLDING, 10, RTYPE_F32, 1, "%RH", 1, 0);
	add_value(4, "in1", TABLE_DISCRETE, 5, RTYPE_BIT, 1, "", 2, 0);
	add_value(5, "in2", TABLE_DISCRETE, 6, RTYPE_BIT, 1, "", 2, 1);
	prof.n_values = 6;
	prof.blocks[0] = (struct profile_block){ TABLE_INPUT, 0, 3, 0 };
	prof.blocks[1] = (struct profile_block){ TABLE_HOLDING, 10, 2, 3 };
	prof.blocks[2] = (struct profile_block){ TABLE_DISCRETE, 5, 2, 5 };
	prof.n_blocks = 3;
	prof.n_words = 7;
	snprintf(prof.points[0].name, 32, "det");
	no_flags(&prof.points[0]);
	prof.points[0].kind = PKIND_SMOKE;
	prof.points[0].value = 0;
	prof.points[0].flags[FLAG_FIRE] = (struct flag_src){ 2, 1, false };
	prof.points[0].flags[FLAG_FAULT] = (struct flag_src){ 2, 2, false };
	prof.points[0].flags[FLAG_POWER] = (struct flag_src){ 2, 4, true };
	for (i = 1; i <= 2; i++) {
		snprintf(prof.points[i].name, 32, "in%zu", i);
		no_flags(&prof.points[i]);
		prof.points[i].kind = PKIND_INPUT;
		prof.points[i].as = FLAG_FIRE;
		prof.points[i].input = (struct flag_src){ (int)(3 + i), 1, i == 2 };
	}
	prof.n_points = 3;

	cfg.n_buses = 1;
	snprintf(cfg.buses[0].id, CONFIG_ID_MAX, "bus-1");
	for (i = 0; i < 2; i++) {
		snprintf(cdev[i].id, CONFIG_ID_MAX, "dev-%zu", i + 1);
		cdev[i].unit = (int)i + 3;
		cdev[i].profile = &prof;
	}
	cfg.devices = cdev;
	cfg.n_devices = 2;
	sim.cfg = &cfg;
	assert_int_equal(sim_devs_create(&cfg, &sim.devs, &sim.n_devs), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sim_scenarios_free(&sim);
	sim_devs_free(sim.devs, sim.n_devs);
	return 0;
}

static void expect_error(const char *line, const char *needle)
{
	char reply[SIM_LINE_MAX];

	sim_cmd_run(&sim, line, reply, sizeof(reply));
	if (strncmp(reply, "error: ", 7) != 0 || !strstr(reply, needle))
		fail_msg("'%s' -> '%s', expected an error with '%s'", line, reply, needle);
}

static void expect_ok(const char *line)
{
	char reply[SIM_LINE_MAX];

	sim_cmd_run(&sim, line, reply, sizeof(reply));
	if (strncmp(reply, "ok", 2) != 0)
		fail_msg("'%s' -> '%s'", line, reply);
}

static void test_cmd_errors(void **state)
{
	(void)state;
	expect_error("", "empty command");
	expect_error("frobnicate x", "unknown command 'frobnicate'");
	expect_error("set nodev obscuration 1", "no device 'nodev'");
	expect_error("set dev-1 nothing 1", "has no value 'nothing'");
	expect_error("set dev-1 obscuration 1x", "NUMBER '1x' is not a number");
	expect_error("set dev-1 obscuration", "usage: set");
	expect_error("set dev-1 obscuration 1000", "does not fit");
	expect_error("set dev-1 obscuration nan", "does not fit");
	expect_error("ramp dev-1 obscuration fast", "PER_MINUTE 'fast'");
	expect_error("flag dev-1 smoke on", "unknown flag 'smoke'");
	expect_error("flag dev-1 fire maybe", "'maybe' must be 'on' or 'off'");
	expect_error("flag dev-1 tamper on", "has no tamper flag");
	expect_error("flag dev-1.nope fire on", "has no point 'nope'");
	expect_error("input dev-1 on", "input needs DEVICE.POINT");
	expect_error("input dev-1.det on", "is not an input channel");
	expect_error("raw dev-1 register 0 1", "unknown table 'register'");
	expect_error("raw dev-1 input 3 1", "address 3 is outside input 0..2");
	expect_error("raw dev-1 coil 0 1", "simulates no coil table");
	expect_error("raw dev-1 discrete 5 2", "VALUE '2' must be an integer in 0..1");
	expect_error("raw dev-1 holding -1 0", "ADDRESS '-1'");
	expect_error("mode dev-1 sleepy", "unknown mode 'sleepy'");
	expect_error("mode dev-1 slow", "usage: mode DEVICE slow MS");
	expect_error("mode dev-1 exception 0", "CODE '0' must be an integer in 1..255");
	expect_error("mode dev-1 silent 5", "takes no argument");
	expect_error("stats nodev", "no device 'nodev'");
	expect_error("list all", "takes no argument");
	expect_error("play", "usage: play FILE");
	expect_error("play /nonexistent/scenario", "/nonexistent/scenario");
}

static size_t pdu(int dev, const uint8_t *req, size_t len, uint8_t *rsp)
{
	return sim_dev_handle(&sim.devs[dev], req, len, rsp);
}

static void test_pdu_exceptions(void **state)
{
	uint8_t rsp[SIM_PDU_MAX];
	static const uint8_t unknown_fc[] = { 0x2b, 0x0e, 0x01, 0x00, 0x00 };
	static const uint8_t past_end[] = { 0x04, 0x00, 0x02, 0x00, 0x02 };
	static const uint8_t zero_qty[] = { 0x04, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t too_many[] = { 0x03, 0x00, 0x0a, 0x00, 0x7e };
	static const uint8_t no_coils[] = { 0x01, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t bad_coil_value[] = { 0x05, 0x00, 0x05, 0x12, 0x34 };
	static const uint8_t short_req[] = { 0x03, 0x00 };
	static const uint8_t bad_count[] = { 0x10, 0x00, 0x0a, 0x00, 0x02, 0x03, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(pdu(0, unknown_fc, sizeof(unknown_fc), rsp), 2);
	assert_int_equal(rsp[0], 0xab);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_FUNCTION);
	assert_int_equal(pdu(0, past_end, sizeof(past_end), rsp), 2);
	assert_int_equal(rsp[0], 0x84);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_ADDRESS);
	pdu(0, zero_qty, sizeof(zero_qty), rsp);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_VALUE);
	pdu(0, too_many, sizeof(too_many), rsp);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_VALUE);
	pdu(0, no_coils, sizeof(no_coils), rsp);
	assert_int_equal(rsp[0], 0x81);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_ADDRESS);
	pdu(0, bad_coil_value, sizeof(bad_coil_value), rsp);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_VALUE);
	pdu(0, short_req, sizeof(short_req), rsp);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_VALUE);
	pdu(0, bad_count, sizeof(bad_count), rsp);
	assert_int_equal(rsp[0], 0x90);
	assert_int_equal(rsp[1], MB_EX_ILLEGAL_VALUE);
}

static void test_normal_values(void **state)
{
	uint8_t rsp[SIM_PDU_MAX];
	static const uint8_t rd_in[] = { 0x04, 0x00, 0x00, 0x00, 0x03 };
	static const uint8_t rd_di[] = { 0x02, 0x00, 0x05, 0x00, 0x02 };
	double v = 0;

	(void)state;
	assert_int_equal(pdu(0, rd_in, sizeof(rd_in), rsp), 8);
	assert_int_equal(rsp[1], 6);
	assert_int_equal(rsp[2] << 8 | rsp[3], 0);   /* obscuration 0 */
	assert_int_equal(rsp[4] << 8 | rsp[5], 250); /* 25 °C at 0.1 */
	assert_int_equal(rsp[6] << 8 | rsp[7], 4);   /* inverted power flag: bit set */
	assert_int_equal(sim_dev_get_value(&sim.devs[0], 3, &v), 0);
	assert_true(fabs(v - 50) < 1e-6); /* %RH */
	/* in2 is inverted: inactive reads 1 */
	assert_int_equal(pdu(0, rd_di, sizeof(rd_di), rsp), 3);
	assert_int_equal(rsp[2], 0x02);
}

static void test_set_flag_input(void **state)
{
	uint16_t w;
	double v;

	(void)state;
	expect_ok("set dev-1 obscuration 4.5");
	assert_int_equal(sim_dev_raw_read(&sim.devs[0], TABLE_INPUT, 0, &w), 0);
	assert_int_equal(w, 450);
	expect_ok("set dev-1 temperature -5");
	assert_int_equal(sim_dev_get_value(&sim.devs[0], 1, &v), 0);
	assert_true(fabs(v + 5) < 1e-6);
	expect_ok("set dev-1 level nan");
	assert_int_not_equal(sim_dev_get_value(&sim.devs[0], 3, &v), 0);
	expect_ok("flag dev-1 fire on");
	expect_ok("flag dev-1.det fault on");
	expect_ok("flag dev-1 power on"); /* inverted: clears bit 2 */
	sim_dev_raw_read(&sim.devs[0], TABLE_INPUT, 2, &w);
	assert_int_equal(w, 3);
	expect_ok("flag dev-1 fire off");
	sim_dev_raw_read(&sim.devs[0], TABLE_INPUT, 2, &w);
	assert_int_equal(w, 2);
	/* an input channel answers to any flag name, and to "input" */
	expect_ok("flag dev-1.in1 fault on");
	sim_dev_raw_read(&sim.devs[0], TABLE_DISCRETE, 5, &w);
	assert_int_equal(w, 1);
	expect_ok("input dev-1.in2 on"); /* inverted channel: active is 0 */
	sim_dev_raw_read(&sim.devs[0], TABLE_DISCRETE, 6, &w);
	assert_int_equal(w, 0);
	/* other device untouched */
	sim_dev_raw_read(&sim.devs[1], TABLE_INPUT, 0, &w);
	assert_int_equal(w, 0);
	expect_ok("raw dev-2 input 1 777");
	sim_dev_raw_read(&sim.devs[1], TABLE_INPUT, 1, &w);
	assert_int_equal(w, 777);
}

static void test_pdu_writes(void **state)
{
	uint8_t rsp[SIM_PDU_MAX];
	static const uint8_t wr_multi[] = { 0x10, 0x00, 0x0a, 0x00, 0x02, 0x04, 0x12, 0x34, 0xab, 0xcd };
	static const uint8_t rd_hold[] = { 0x03, 0x00, 0x0a, 0x00, 0x02 };
	static const uint8_t wr_one[] = { 0x06, 0x00, 0x0b, 0x00, 0x07 };

	(void)state;
	assert_int_equal(pdu(1, wr_multi, sizeof(wr_multi), rsp), 5);
	assert_memory_equal(rsp, wr_multi, 5);
	assert_int_equal(pdu(1, wr_one, sizeof(wr_one), rsp), 5);
	assert_int_equal(pdu(1, rd_hold, sizeof(rd_hold), rsp), 6);
	assert_int_equal(rsp[2] << 8 | rsp[3], 0x1234);
	assert_int_equal(rsp[4] << 8 | rsp[5], 0x0007);
}

static void test_crc_and_framing(void **state)
{
	/* the example frame of the Modbus serial line guide */
	static const uint8_t frame[] = { 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a };
	static const uint8_t wr[] = { 0x03, 0x10, 0x00, 0x00, 0x00, 0x02, 0x04 };

	(void)state;
	assert_int_equal(sim_crc16(frame, sizeof(frame)), 0xcdc5);
	assert_int_equal(sim_rtu_frame_len(frame, 1), 0);
	assert_int_equal(sim_rtu_frame_len(frame, 2), 8);
	assert_int_equal(sim_rtu_frame_len(wr, 6), 0);
	assert_int_equal(sim_rtu_frame_len(wr, 7), 13);
	assert_int_equal(sim_rtu_frame_len((const uint8_t *)"\x01\x2b", 2), -1);
	assert_int_equal(sim_expected_rsp_len(frame + 1, 5), 22);
}

static void test_ramp(void **state)
{
	double v;
	uint64_t t0;

	(void)state;
	expect_ok("ramp dev-1 temperature 60 40");
	assert_int_equal(sim.n_ramps, 1);
	t0 = sim.ramps[0].start_us;
	sim_tick(&sim, t0 + 10 * 1000000u); /* 10 s at 60/min: 35 */
	assert_int_equal(sim_dev_get_value(&sim.devs[0], 1, &v), 0);
	assert_true(fabs(v - 35) < 0.11);
	sim_tick(&sim, t0 + 60 * 1000000u); /* clamped at MAX, ramp done */
	sim_dev_get_value(&sim.devs[0], 1, &v);
	assert_true(fabs(v - 40) < 1e-6);
	assert_int_equal(sim.n_ramps, 0);
	expect_ok("ramp dev-1 temperature -6");
	expect_ok("ramp dev-1 temperature 0");
	assert_int_equal(sim.n_ramps, 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_scenario(void **state)
{
	char path[] = "/tmp/test_sim_XXXXXX";
	char err[SIM_LINE_MAX];
	uint16_t w = 0;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "# comment\n\nat 0 set dev-1 obscuration 1\nat 1.5 bogus\n");
	assert_int_equal(sim_scenario_start(&sim, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":4: unknown command 'bogus'"));
	assert_int_equal(sim.n_scenarios, 0);
	write_file(path, "at -1 list\n");
	assert_int_equal(sim_scenario_start(&sim, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: SECONDS '-1'"));
	write_file(path, "at 2 set dev-1 obscuration 9\n");
	assert_int_equal(sim_scenario_start(&sim, path, err, sizeof(err)), 0);
	assert_int_equal(sim_scenario_start(&sim, path, err, sizeof(err)), 0);
	sim_scenarios_free(&sim);
	write_file(path, "at 0 play x\n");
	assert_int_equal(sim_scenario_start(&sim, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "play is not allowed"));
	/* out of file order on purpose: steps run by time */
	write_file(path, "at 2 set dev-1 obscuration 9\nat 0.5 flag dev-1 fire on\nat 3 quit\n");
	assert_int_equal(sim_scenario_start(&sim, path, err, sizeof(err)), 0);
	sim_tick(&sim, sim.scenarios[0].start_us + 1000000u);
	sim_dev_raw_read(&sim.devs[0], TABLE_INPUT, 2, &w);
	assert_int_equal(w & 1, 1);
	sim_dev_raw_read(&sim.devs[0], TABLE_INPUT, 0, &w);
	assert_int_equal(w, 0);
	assert_false(sim.quit);
	sim_tick(&sim, sim.scenarios[0].start_us + 5000000u);
	sim_dev_raw_read(&sim.devs[0], TABLE_INPUT, 0, &w);
	assert_int_equal(w, 900);
	assert_true(sim.quit);
	assert_int_equal(sim.n_scenarios, 0);
	unlink(path);
}

static void test_stats_list_mode(void **state)
{
	char reply[SIM_LINE_MAX];

	(void)state;
	sim.devs[0].requests = 5;
	sim.devs[0].answered = 4;
	sim_cmd_run(&sim, "stats dev-1", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-1 requests=5 answered=4 max_gap_ms=0 max_between=0");
	/* how evenly a unit is polled: requests to other units (simulated or
	 * not) between two of its own, and the largest gap */
	expect_ok("reset-stats");
	sim_count_request(&sim, 0, 0, 1000000);
	sim_count_request(&sim, 0, -1, 1100000);
	sim_count_request(&sim, 0, 1, 1200000);
	sim_count_request(&sim, 0, 0, 1300000); /* 2 between, 300 ms */
	sim_count_request(&sim, 0, -1, 1400000);
	sim_count_request(&sim, 0, -1, 1500000);
	sim_count_request(&sim, 0, -1, 1600000);
	sim_count_request(&sim, 0, 0, 1700000); /* 3 between, 400 ms */
	sim_count_request(&sim, 0, 0, 1750000);
	sim_cmd_run(&sim, "stats dev-1", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-1 requests=4 answered=0 max_gap_ms=400 max_between=3");
	sim_cmd_run(&sim, "stats dev-2", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-2 requests=1 answered=0 max_gap_ms=0 max_between=0");
	expect_ok("reset-stats");
	sim_count_request(&sim, 0, 0, 2000000);
	sim_cmd_run(&sim, "stats dev-1", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-1 requests=1 answered=0 max_gap_ms=0 max_between=0");
	sim.devs[0].requests = 5;
	sim.devs[0].answered = 4;
	sim_cmd_run(&sim, "stats", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-1:5:4 dev-2:0:0");
	expect_ok("reset-stats");
	sim_cmd_run(&sim, "stats", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-1:0:0 dev-2:0:0");
	sim_cmd_run(&sim, "list", reply, sizeof(reply));
	assert_string_equal(reply, "ok dev-1:bus-1:3:test-profile dev-2:bus-1:4:test-profile");
	expect_ok("mode dev-2 slow 250");
	assert_int_equal(sim.devs[1].mode, SIM_MODE_SLOW);
	assert_int_equal(sim.devs[1].mode_arg, 250);
	expect_ok("mode dev-2 exception 4");
	assert_int_equal(sim.devs[1].mode_arg, 4);
	expect_ok("mode dev-2 normal");
	assert_int_equal(sim.devs[1].mode, SIM_MODE_NORMAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cmd_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pdu_exceptions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_normal_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_flag_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pdu_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crc_and_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ramp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scenario, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_list_mode, setup, teardown),
	};

	log_init(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
