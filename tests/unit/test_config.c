/* test_config.c - config.c: every bad-config class with its exact message
 * and position (a table, as mosquitto's config-parse-error tests), then
 * defaults, resolution of alarm points, warnings, hostile files, and the
 * shipped example against the shipped profiles.
 *
 * Runs from the repository root. Small profiles of its own are written to
 * a temporary directory and given as the builtin profile directory, so the
 * table does not depend on the shipped sensors/ files. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char tmpdir[PATH_MAX];
static char cfgpath[PATH_MAX + 16];

static const char *const test_profiles[][2] = {
	{ "t-smoke", "profile: t-smoke\n"
		     "addressing: 0\n"
		     "values:\n"
		     "  - {name: status, table: input, address: 0, type: u16}\n"
		     "  - {name: obscuration, table: input, address: 1, type: u16, scale: 0.01, "
		     "unit: \"%/m\", valid_min: 0, valid_max: 20}\n"
		     "points:\n"
		     "  - name: fire\n"
		     "    kind: smoke\n"
		     "    flags: {fire: {value: status, bit: 0}, fault: {value: status, bit: 2}}\n"
		     "    value: obscuration\n"
		     "    rules: {alarm_above: 4.0, prealarm_above: 2.5, hysteresis: 0.5}\n" },
	{ "t-heat", "profile: t-heat\n"
		    "addressing: 0\n"
		    "values:\n"
		    "  - {name: status, table: input, address: 0, type: u16}\n"
		    "  - {name: temperature, table: input, address: 1, type: s16, scale: 0.1, "
		    "valid_min: -40, valid_max: 150}\n"
		    "points:\n"
		    "  - name: heat\n"
		    "    kind: heat\n"
		    "    en54_class: A1\n"
		    "    flags: {fire: {value: status, bit: 0}}\n"
		    "    value: temperature\n"
		    "    rules: {alarm_above: 58, prealarm_above: 50}\n" },
	{ "t-di4", "profile: t-di4\n"
		   "addressing: 0\n"
		   "values:\n"
		   "  - {name: di1, table: discrete, address: 0, type: bit}\n"
		   "  - {name: di2, table: discrete, address: 1, type: bit}\n"
		   "  - {name: di3, table: discrete, address: 2, type: bit}\n"
		   "  - {name: di4, table: discrete, address: 3, type: bit}\n"
		   "points:\n"
		   "  - {name: in1, kind: input, input: {value: di1}, as: unused}\n"
		   "  - {name: in2, kind: input, input: {value: di2}, as: unused}\n"
		   "  - {name: in3, kind: input, input: {value: di3}, as: unused}\n"
		   "  - {name: in4, kind: input, input: {value: di4}, as: fault}\n" },
	{ "t-two", "profile: t-two\n"
		   "addressing: 0\n"
		   "values:\n"
		   "  - {name: status, table: input, address: 0, type: u16}\n"
		   "  - {name: obscuration, table: input, address: 1, type: u16, scale: 0.01}\n"
		   "  - {name: temp, table: input, address: 2, type: s16, scale: 0.1}\n"
		   "points:\n"
		   "  - name: fire\n"
		   "    kind: smoke\n"
		   "    flags: {fire: {value: status, bit: 0}}\n"
		   "    value: obscuration\n"
		   "    rules: {alarm_above: 4.0}\n"
		   "  - name: ambient\n"
		   "    kind: temperature\n"
		   "    value: temp\n"
		   "    rules: {alarm_above: 60, hysteresis: 2}\n" },
	/* a profile with a mistake of its own: its errors must show too */
	{ "t-bad", "profile: t-bad\n"
		   "addressing: 0\n"
		   "values:\n"
		   "  - {name: status, table: input, address: 0, type: u16, colour: red}\n"
		   "points:\n"
		   "  - {name: fire, kind: smoke, flags: {fire: {value: status, bit: 0}}}\n" },
};

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void remove_tmp_files(void);

static int group_setup(void **state)
{
	char path[PATH_MAX + 64];
	size_t i;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cfgpath, sizeof(cfgpath), "%s/c.yaml", tmpdir);
	for (i = 0; i < sizeof(test_profiles) / sizeof(test_profiles[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.yaml", tmpdir, test_profiles[i][0]);
		write_file(path, test_profiles[i][1], strlen(test_profiles[i][1]));
	}
	unsetenv("FIREGW_SENSORS_DIR");
	return 0;
}

static int group_teardown(void **state)
{
	char path[PATH_MAX + 64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(test_profiles) / sizeof(test_profiles[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.yaml", tmpdir, test_profiles[i][0]);
		unlink(path);
	}
	remove_tmp_files();
	unlink(cfgpath);
	rmdir(tmpdir);
	return 0;
}

static int load_buf(const void *buf, size_t len, struct errlist *e, struct config **c)
{
	write_file(cfgpath, buf, len);
	return config_load(cfgpath, tmpdir, e, c);
}

static int load_str(const char *yaml, struct errlist *e, struct config **c)
{
	return load_buf(yaml, strlen(yaml), e, c);
}

/* The line of e at line:col of the config file, of that severity, holding
 * sub; NULL if none. */
static const char *find_diag(const struct errlist *e, int line, int col, bool warning,
			     const char *sub)
{
	char prefix[PATH_MAX + 64];
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s:%d:%d: %s: ", cfgpath, line, col,
		 warning ? "warning" : "error");
	for (i = 0; i < e->n; i++)
		if (strncmp(e->lines[i], prefix, strlen(prefix)) == 0 && strstr(e->lines[i], sub))
			return e->lines[i];
	return NULL;
}

static void expect_diag(const struct errlist *e, int line, int col, bool warning, const char *sub)
{
	if (find_diag(e, line, col, warning, sub))
		return;
	print_message("expected %s at %d:%d containing \"%s\"; got:\n",
		      warning ? "warning" : "error", line, col, sub);
	errlist_print(e, stderr);
	fail();
}

/* ---- the table of bad configs ----------------------------------------- */

#define SITE "site: {id: s1}\n"
/* lines 2-3 */
#define BUS "buses:\n  - {id: b1, rtu: {device: /dev/null}}\n"

struct bad_case {
	const char *name;
	const char *yaml;
	int line, col;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	/* structure */
	{ "empty file", "", 1, 1, "the file is empty" },
	{ "comment only", "# nothing\n", 1, 1, "the file is empty" },
	{ "top level a sequence", "- site\n- mqtt\n", 1, 1,
	  "the top level must be a mapping of sections (site:, mqtt:, buses:, devices:, ...), not a "
	  "sequence" },
	{ "top level a scalar", "hello\n", 1, 1, "the top level must be a mapping" },
	{ "yaml syntax", SITE "mqtt: {uri: tcp://h:1\n", 3, 1, "YAML syntax:" },
	{ "alias refused", SITE "mqtt: *m\n", 2, 7, "aliases (*name) are not allowed" },
	{ "anchor refused", "site: &s {id: s1}\n", 1, 7, "anchors (&name) are not allowed" },
	{ "duplicate key", SITE "site: {id: s2}\n", 2, 1, "duplicate key 'site' (first at line 1)" },
	{ "unknown top-level key", SITE "sites: {id: s1}\n", 2, 1,
	  "unknown key 'sites' in the top level; allowed: site, profile_dirs, mqtt, storage, buses, "
	  "devices, compliance, remote" },
	{ "missing site", "mqtt: {uri: tcp://h:1}\n", 1, 1, "'site' is required" },
	{ "missing site.id", "site: {name: x}\n", 1, 7, "site: 'id' is required" },
	{ "bad slug", "site: {id: Cho_My}\n", 1, 12,
	  "site: id 'Cho_My' is not a valid id; use lowercase letters, digits and '-'" },
	{ "unknown site key", "site: {id: s1, town: x}\n", 1, 16,
	  "unknown key 'town' in site; allowed: id, facility_id, name, address" },
	{ "site not a mapping", "site: s1\n", 1, 7, "site: expected a mapping (key: value lines), got 's1'" },
	/* mqtt */
	{ "unknown mqtt key", SITE "mqtt:\n  uri: tcp://h:1\n  keepalive: 5\n", 4, 3,
	  "unknown key 'keepalive' in mqtt; allowed: uri, version, client_id, topic_prefix, keepalive_s" },
	{ "mqtt not a mapping", SITE "mqtt: 5\n", 2, 7, "mqtt: expected a mapping (key: value lines), got '5'" },
	{ "number expected", SITE "mqtt: {keepalive_s: abc}\n", 2, 21,
	  "mqtt: keepalive_s: expected a whole number in 2..3600, got 'abc'" },
	{ "number quoted", SITE "mqtt: {keepalive_s: \"20\"}\n", 2, 21,
	  "expected a number, got the string \"20\"; write the number without quotes" },
	{ "number a mapping", SITE "mqtt: {inflight: {a: 1}}\n", 2, 18,
	  "mqtt: inflight: expected a number, got a mapping" },
	{ "heartbeat_s 4", SITE "mqtt:\n  heartbeat_s: 4\n", 3, 16,
	  "mqtt: heartbeat_s 4 is out of range 5..3600; use a whole number in that range" },
	{ "telemetry_qos 2", SITE "mqtt: {telemetry_qos: 2}\n", 2, 23,
	  "telemetry_qos 2 is out of range 0..1" },
	{ "huge number", SITE "mqtt: {inflight: 99999999999999999999999}\n", 2, 18,
	  "inflight 99999999999999999999999 is out of range 1..1024" },
	{ "version 4", SITE "mqtt: {version: 4}\n", 2, 17, "mqtt: version: expected 3.1.1 or 5, got '4'" },
	{ "bad uri scheme", SITE "mqtt: {uri: \"http://broker:1883\"}\n", 2, 13,
	  "mqtt: uri 'http://broker:1883' must start with tcp://, ssl://, mqtt:// or mqtts://" },
	{ "uri without host", SITE "mqtt: {uri: \"tcp://\"}\n", 2, 13, "has no host" },
	/* check refuses what run would refuse (a restart loop otherwise) */
	{ "ws scheme", SITE "mqtt: {uri: \"ws://broker:80\"}\n", 2, 13,
	  "mqtt: uri 'ws://broker:80' must start with tcp://, ssl://, mqtt:// or mqtts://" },
	{ "port 99999", SITE "mqtt: {uri: \"tcp://broker:99999\"}\n", 2, 13,
	  "mqtt: uri 'tcp://broker:99999': the port must be 1..65535, e.g. tcp://host:1883" },
	{ "port 0", SITE "mqtt: {uri: \"tcp://broker:0\"}\n", 2, 13, "the port must be 1..65535" },
	/* a newline or an escape in the host: refused, and shown escaped */
	{ "uri with a newline", SITE "mqtt: {uri: \"tcp://h\\nfiregw: crit: x\"}\n", 2, 13,
	  "mqtt: uri 'tcp://h\\x0afiregw: crit: x' holds a blank, a control character" },
	{ "uri with an escape", SITE "mqtt: {uri: \"tcp://a\\e[31m:1\"}\n", 2, 13,
	  "mqtt: uri 'tcp://a\\x1b[31m:1' holds a blank" },
	{ "port not a number", SITE "mqtt: {uri: \"tcp://broker:x1\"}\n", 2, 13,
	  "the port must be 1..65535" },
	{ "tls with a plain uri", SITE "mqtt:\n  uri: tcp://broker:1883\n  tls: {ca_file: /etc/ca.pem}\n",
	  4, 8, "mqtt.tls is set but uri 'tcp://broker:1883' is not encrypted" },
	/* mqtt.uri as a list of a cluster's nodes */
	{ "uri list empty", SITE "mqtt: {uri: []}\n", 2, 13,
	  "mqtt: uri: the list of broker nodes is empty; give 1 to 8 URIs" },
	{ "uri list duplicate", SITE "mqtt:\n  uri:\n    - tcp://n1:1883\n    - tcp://n2:1883\n"
	  "    - tcp://n1:1883\n", 6, 7,
	  "mqtt: uri 'tcp://n1:1883' is listed twice; list each node once" },
	{ "uri list mixes tcp and ssl", SITE "mqtt:\n  uri: [tcp://n1:1883, ssl://n2:8883]\n", 3, 24,
	  "mqtt: uri: the list mixes plain (tcp://, mqtt://) and TLS (ssl://, mqtts://) nodes; use "
	  "one kind for every node" },
	{ "uri list mixes mqtts and mqtt", SITE "mqtt:\n  uri:\n    - mqtts://n1:8883\n"
	  "    - mqtts://n2:8883\n    - mqtt://n3:1883\n", 6, 7, "the list mixes plain" },
	{ "uri list of nine", SITE "mqtt: {uri: [tcp://a:1, tcp://b:1, tcp://c:1, tcp://d:1, "
	  "tcp://e:1, tcp://f:1, tcp://g:1, tcp://h:1, tcp://i:1]}\n", 2, 102,
	  "mqtt: uri: 9 broker nodes listed, at most 8" },
	{ "uri list bad entry", SITE "mqtt: {uri: [tcp://a:1883, \"http://b:80\"]}\n", 2, 28,
	  "mqtt: uri 'http://b:80' must start with tcp://" },
	{ "uri list entry not a string", SITE "mqtt:\n  uri:\n    - tcp://a:1883\n    - {host: b}\n",
	  5, 7, "mqtt: uri entry: expected a string, got a mapping" },
	{ "uri a mapping", SITE "mqtt: {uri: {host: b}}\n", 2, 13,
	  "mqtt: uri: expected a URI such as tcp://127.0.0.1:1883 or a list" },
	{ "tls with a plain uri list", SITE "mqtt:\n  uri: [tcp://n1:1883, tcp://n2:1883]\n"
	  "  tls: {ca_file: /etc/ca.pem}\n", 4, 8, "mqtt.tls is set but uri 'tcp://n1:1883'" },
	{ "connect_timeout_s 0", SITE "mqtt: {connect_timeout_s: 0}\n", 2, 27,
	  "mqtt: connect_timeout_s 0 is out of range 1..600" },
	{ "topic_prefix +", SITE "mqtt: {topic_prefix: pccc/+/x}\n", 2, 22,
	  "mqtt: topic_prefix 'pccc/+/x' contains a wildcard ('+' or '#')" },
	{ "topic_prefix #", SITE "mqtt: {topic_prefix: \"pccc/#\"}\n", 2, 22, "contains a wildcard" },
	{ "topic_prefix trailing /", SITE "mqtt: {topic_prefix: pccc/}\n", 2, 22,
	  "has an empty topic level" },
	{ "topic_prefix leading /", SITE "mqtt: {topic_prefix: /pccc}\n", 2, 22,
	  "has an empty topic level" },
	{ "topic_prefix empty level", SITE "mqtt: {topic_prefix: a//b}\n", 2, 22,
	  "has an empty topic level" },
	{ "topic_prefix $", SITE "mqtt: {topic_prefix: $SYS}\n", 2, 22, "starts with '$'" },
	{ "tls unknown key", SITE "mqtt: {tls: {ca: /x}}\n", 2, 14,
	  "unknown key 'ca' in mqtt.tls; allowed: ca_file, cert_file, key_file" },
	{ "tls cert without key", SITE "mqtt: {uri: \"ssl://h:8883\", tls: {cert_file: /c}}\n", 2, 34,
	  "mqtt.tls: cert_file and key_file go together" },
	{ "client_id empty", SITE "mqtt: {client_id: \"\"}\n", 2, 19, "mqtt: client_id is empty" },
	/* storage, compliance, remote */
	{ "records_days 100", SITE "storage: {records_days: 100}\n", 2, 25,
	  "storage: records_days 100 is out of range 365..36500" },
	{ "unknown storage key", SITE "storage: {dir: /x}\n", 2, 11,
	  "unknown key 'dir' in storage; allowed: path, readings_days, records_days, max_mb, "
	  "readings_s, readings_deadband_pct" },
	{ "readings_s 0", SITE "storage: {readings_s: 0}\n", 2, 23,
	  "storage: readings_s 0 is out of range 1..86400" },
	{ "deadband 150 %", SITE "storage: {readings_deadband_pct: 150}\n", 2, 34,
	  "storage: readings_deadband_pct 150 is out of range 0..100" },
	{ "compliance 0", SITE "compliance: {max_fault_days: 0}\n", 2, 30,
	  "compliance: max_fault_days 0 is out of range 1..3650" },
	{ "compliance 3651", SITE "compliance:\n  system_test_days: 3651\n", 3, 21,
	  "system_test_days 3651 is out of range 1..3650" },
	{ "bad boolean yes", SITE "remote: {allow_reset: yes}\n", 2, 23,
	  "remote: allow_reset: expected true or false, got 'yes'" },
	{ "bad boolean quoted", SITE "remote: {allow_test: \"true\"}\n", 2, 22,
	  "remote: allow_test: expected true or false, got 'true'" },
	{ "unknown remote key", SITE "remote: {allow_disable: true}\n", 2, 10,
	  "unknown key 'allow_disable' in remote; allowed: allow_reset, allow_test" },
	{ "profile_dirs scalar", SITE "profile_dirs: /etc/x\n", 2, 15,
	  "profile_dirs: expected a list" },
	/* buses */
	{ "buses not a list", SITE "buses: {id: b1}\n", 2, 8, "buses: expected a list" },
	{ "unknown bus key", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x, speed: 9600}\n", 4, 27,
	  "unknown key 'speed' in bus 'b1' rtu; allowed: device, baud, parity, data_bits, stop_bits" },
	{ "baud 300", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x, baud: 300}\n", 4, 33,
	  "bus 'b1' rtu: baud 300 is out of range 1200..921600" },
	{ "baud 1000000", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x, baud: 1000000}\n", 4, 33,
	  "baud 1000000 is out of range 1200..921600" },
	{ "bad parity", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x, parity: X}\n", 4, 35,
	  "bus 'b1' rtu: parity: expected N (none), E (even) or O (odd), got 'X'" },
	{ "data_bits 9", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x, data_bits: 9}\n", 4, 38,
	  "data_bits 9 is out of range 7..8" },
	{ "stop_bits 3", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x, stop_bits: 3}\n", 4, 38,
	  "stop_bits 3 is out of range 1..2" },
	{ "rtu without device", SITE "buses:\n  - id: b1\n    rtu: {baud: 9600}\n", 4, 10,
	  "bus 'b1' rtu: 'device' is required" },
	{ "tcp port 0", SITE "buses:\n  - id: b1\n    tcp: {host: h, port: 0}\n", 4, 26,
	  "bus 'b1' tcp: port 0 is out of range 1..65535" },
	{ "tcp without host", SITE "buses:\n  - id: b1\n    tcp: {port: 502}\n", 4, 10,
	  "bus 'b1' tcp: 'host' is required" },
	{ "both rtu and tcp", SITE "buses:\n  - id: b1\n    rtu: {device: /dev/x}\n    tcp: {host: h}\n",
	  5, 10, "bus 'b1': has both rtu and tcp" },
	{ "neither rtu nor tcp", SITE "buses:\n  - id: b1\n    timeout_ms: 100\n", 3, 5,
	  "bus 'b1': needs either rtu: {device: ..., baud: ...} or tcp: {host: ..., port: ...}" },
	{ "bus without id", SITE "buses:\n  - tcp: {host: h}\n", 3, 5, "bus #1: 'id' is required" },
	{ "bus timeout 5", SITE "buses:\n  - {id: b1, tcp: {host: h}, timeout_ms: 5}\n", 3, 42,
	  "bus 'b1': timeout_ms 5 is out of range 10..60000" },
	{ "duplicate bus id", SITE BUS "  - {id: b1, tcp: {host: h}}\n", 4, 10,
	  "bus id 'b1' is already used at line 3; give each bus its own id" },
	{ "bus id not a slug", SITE "buses:\n  - {id: RS485, tcp: {host: h}}\n", 3, 10,
	  "id 'RS485' is not a valid id" },
	/* devices */
	{ "device unknown key", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: t-smoke, "
					 "adress: 3}\n",
	  5, 50, "unknown key 'adress' in device 'd1'; allowed: id, bus, unit, profile, zone" },
	{ "unit 0", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 0, profile: t-smoke}\n", 5, 29,
	  "device 'd1': unit 0 is out of range 1..247" },
	{ "unit 248", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 248, profile: t-smoke}\n", 5, 29,
	  "device 'd1': unit 248 is out of range 1..247" },
	{ "zone_no 1000", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: t-smoke, "
				   "zone_no: 1000}\n",
	  5, 59, "device 'd1': zone_no 1000 is out of range 1..999" },
	{ "poll_ms 50", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: t-smoke, "
				 "poll_ms: 50}\n",
	  5, 59, "device 'd1': poll_ms 50 is out of range 100..3600000" },
	{ "device id not a slug", SITE BUS "devices:\n  - {id: Smoke_1, bus: b1, unit: 1, profile: t-smoke}\n",
	  5, 10, "device #1: id 'Smoke_1' is not a valid id" },
	{ "device named gateway", SITE BUS "devices:\n  - {id: gateway, bus: b1, unit: 1, profile: t-smoke}\n",
	  5, 10, "device 'gateway': the id 'gateway' is reserved" },
	{ "duplicate device id", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: t-smoke}\n"
					  "  - {id: d1, bus: b1, unit: 2, profile: t-smoke}\n",
	  6, 10, "device 'd1': id already used by the device at line 5" },
	{ "device on unknown bus", SITE BUS "devices:\n  - {id: d1, bus: b9, unit: 1, profile: t-smoke}\n",
	  5, 19, "device 'd1': bus 'b9' is not defined" },
	{ "device without bus", SITE BUS "devices:\n  - {id: d1, unit: 1, profile: t-smoke}\n", 5, 5,
	  "device 'd1': 'bus' is required" },
	{ "device without unit", SITE BUS "devices:\n  - {id: d1, bus: b1, profile: t-smoke}\n", 5, 5,
	  "device 'd1': 'unit' is required" },
	{ "device without profile", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1}\n", 5, 5,
	  "device 'd1': 'profile' is required" },
	{ "two devices one unit", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 7, profile: t-smoke}\n"
					   "  - {id: d2, bus: b1, unit: 7, profile: t-smoke}\n",
	  6, 29, "device 'd2': unit 7 on bus 'b1' is already used by device 'd1' (line 5)" },
	{ "profile not found", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: nope}\n", 5, 41,
	  "device 'd1': profile 'nope' not found in /etc/firegw/sensors, /tmp/test_config." },
	{ "profile not plain", SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: ../x}\n", 5, 41,
	  "device 'd1': profile '../x' is not a valid name; use 1 to 63 of A-Z a-z 0-9 _ -" },
	{ "as on a non-input point", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					      "    profile: t-smoke\n    points:\n      fire: {as: fire}\n",
	  10, 18, "device 'd1' point 'fire': 'as' applies only to input channels, and this is a smoke point" },
	{ "as unknown meaning", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					 "    profile: t-di4\n    points:\n      in1: {as: smoke}\n",
	  10, 17, "device 'd1' point 'in1': as: expected unused, fire, prealarm, fault, power or tamper" },
	{ "unknown point name", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					 "    profile: t-di4\n    points:\n      in9: {as: fire}\n",
	  10, 7, "device 'd1': points: profile 't-di4' has no point 'in9' (its points: in1, in2, in3, in4)" },
	{ "unknown point key", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					"    profile: t-di4\n    points:\n      in1: {as: fire, zoneno: 3}\n",
	  10, 23, "unknown key 'zoneno' in device 'd1' point 'in1'; allowed: as, zone, zone_no, location, "
		  "rules, enabled" },
	{ "point zone_no 0", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
				      "    profile: t-di4\n    points:\n      in1: {as: fire, zone_no: 0}\n",
	  10, 32, "device 'd1' point 'in1': zone_no 0 is out of range 1..999" },
	{ "unknown value in rules", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					     "    profile: t-smoke\n    rules:\n      smoke: {alarm_above: 3}\n",
	  10, 7, "device 'd1': rules: 'smoke' is neither a value nor a point of profile 't-smoke' "
		 "(values: status, obscuration; points: fire)" },
	{ "unknown rule key", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
				       "    profile: t-smoke\n    rules:\n      obscuration: {alarm_abov: 3}\n",
	  10, 21, "unknown key 'alarm_abov' in device 'd1' rules 'obscuration'; allowed: alarm_above" },
	{ "rule not a number", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					"    profile: t-smoke\n    rules:\n      obscuration: {alarm_above: high}\n",
	  10, 34, "device 'd1' rules 'obscuration': alarm_above: expected a number (or null to remove it), "
		  "got 'high'" },
	{ "threshold on an input channel", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
						    "    profile: t-di4\n    points:\n"
						    "      in1: {as: fire, rules: {alarm_above: 1}}\n",
	  10, 31, "alarm_above does not apply: point 'in1' has no analog value" },
	{ "prealarm above alarm", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					   "    profile: t-smoke\n    rules:\n      obscuration: {prealarm_above: 5}\n",
	  10, 21, "device 'd1' point 'fire': prealarm_above 5 must be below alarm_above 4" },
	{ "alarm above valid_max", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					    "    profile: t-smoke\n    rules:\n      fire: {alarm_above: 25}\n",
	  10, 14, "alarm_above 25 is above valid_max 20 and could never be reached" },
	{ "en54 violation", SITE BUS "devices:\n  - id: h1\n    bus: b1\n    unit: 1\n"
				     "    profile: t-heat\n    points:\n      heat: {rules: {alarm_above: 70}}\n",
	  10, 22, "device 'h1' point 'heat': alarm_above 70 is outside EN 54-5 class A1 (54..65 °C); use a "
		  "threshold within the class or change the class" },
	{ "en54 violation by class change", SITE BUS "devices:\n  - id: h1\n    bus: b1\n    unit: 1\n"
						     "    profile: t-heat\n    rules:\n"
						     "      temperature: {en54_class: B}\n",
	  10, 21, "alarm_above 58 is outside EN 54-5 class B (69..85 °C)" },
	{ "en54 bad class", SITE BUS "devices:\n  - id: h1\n    bus: b1\n    unit: 1\n"
				     "    profile: t-heat\n    rules:\n      temperature: {en54_class: Z}\n",
	  10, 33, "device 'h1' rules 'temperature': en54_class: expected A1, A2, B, C, D, E, F, G or none, "
		  "got 'Z'" },
	{ "en54 on a smoke point", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					    "    profile: t-smoke\n    rules:\n      fire: {en54_class: A1}\n",
	  10, 14, "en54_class is only for heat points, and this is a smoke point" },
	{ "enabled not a bool", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					 "    profile: t-smoke\n    points:\n      fire: {enabled: no}\n",
	  10, 23, "device 'd1' point 'fire': enabled: expected true or false, got 'no'" },
	{ "points not a mapping", SITE BUS "devices:\n  - id: d1\n    bus: b1\n    unit: 1\n"
					   "    profile: t-smoke\n    points: [fire]\n",
	  9, 13, "device 'd1': points: expected a mapping" },
	{ "device not a mapping", SITE BUS "devices:\n  - d1\n", 5, 5,
	  "devices: device #1: expected a mapping (key: value lines), got 'd1'" },
};

static void test_bad_configs(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		struct errlist e = { 0 };
		struct config *c = NULL;
		int r;

		r = load_str(t->yaml, &e, &c);
		if (r != -EINVAL || c || e.n_errors == 0 ||
		    !find_diag(&e, t->line, t->col, false, t->msg)) {
			print_message("case '%s': r=%d, expected -EINVAL and %d:%d \"%s\"; got:\n",
				      t->name, r, t->line, t->col, t->msg);
			errlist_print(&e, stderr);
			failed++;
		}
		errlist_clear(&e);
	}
	assert_int_equal(failed, 0);
}

/* ---- TLS files and secrets -------------------------------------------- */

static const char *const tls_names[] = { "ca.pem", "c.pem", "k.pem", "k.pass", "mqtt.pass" };

/* tmpdir/name with content and mode; removed by remove_tmp_files() */
static void make_tmp_file(const char *name, const char *content, mode_t mode)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	write_file(path, content, strlen(content));
	assert_int_equal(chmod(path, mode), 0);
}

static void remove_tmp_files(void)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(tls_names) / sizeof(tls_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, tls_names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	unlink(path);
}

/* One config with a TLS block and a password file; exactly the error msg
 * at line:col (the password_file line is 7, the tls line 6). */
static void expect_secret_error(const char *tls, const char *extra, int line, int col,
				const char *msg)
{
	char yaml[2048];
	struct errlist e = { 0 };
	struct config *c = NULL;
	int r;

	snprintf(yaml, sizeof(yaml),
		 SITE "mqtt:\n"
		      "  uri: ssl://broker.example:8883\n"
		      "  version: 5\n"
		      "  username: gw\n"
		      "  tls: %s\n"
		      "  password_file: mqtt.pass\n"
		      "%s",
		 tls, extra);
	r = load_str(yaml, &e, &c);
	if (r != -EINVAL || c || !find_diag(&e, line, col, false, msg)) {
		print_message("expected -EINVAL and %d:%d \"%s\", got r=%d:\n", line, col, msg, r);
		errlist_print(&e, stderr);
		fail();
	}
	config_free(c);
	errlist_clear(&e);
}

/* Secrets readable or writable by others, or empty, are refused by check
 * and run alike (both load the config), with what to run; TLS files that
 * do not exist, are not regular files (a FIFO does not hang the check) or
 * are empty are refused; a pass phrase needs a key; max_packet_kb needs
 * MQTT 5; group-readable secrets are fine. */
static void test_tls_and_secret_files(void **state)
{
	char want[4 * PATH_MAX + 256], fifo[PATH_MAX + 16];
	const char *ok_tls = "{ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}";
	struct errlist e = { 0 };
	struct config *c = NULL;
	char yaml[1024];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		make_tmp_file(tls_names[i], "PEM\n", 0640);

	make_tmp_file("mqtt.pass", "secret\n", 0644);
	snprintf(want, sizeof(want),
		 "mqtt: password_file '%s/mqtt.pass' is readable or writable by others, or "
		 "writable by its group (mode 0644); run: chmod 0640 %s/mqtt.pass; chown root:firegw %s/mqtt.pass",
		 tmpdir, tmpdir, tmpdir);
	expect_secret_error(ok_tls, "", 7, 18, want);
	make_tmp_file("mqtt.pass", "secret\n", 0602); /* writable by others */
	expect_secret_error(ok_tls, "", 7, 18, "(mode 0602); run: chmod 0640");
	make_tmp_file("mqtt.pass", "secret\n", 0660); /* writable by the operators' group */
	expect_secret_error(ok_tls, "", 7, 18, "writable by its group (mode 0660); run: chmod 0640");
	make_tmp_file("mqtt.pass", "", 0640);
	snprintf(want, sizeof(want),
		 "mqtt: password_file '%s/mqtt.pass' is empty; write the secret on its one line",
		 tmpdir);
	expect_secret_error(ok_tls, "", 7, 18, want);
	make_tmp_file("mqtt.pass", "\n", 0640); /* only the newline */
	expect_secret_error(ok_tls, "", 7, 18, "is empty");

	make_tmp_file("mqtt.pass", "secret\n", 0640); /* group-readable: fine */
	make_tmp_file("k.pass", "phrase", 0644);
	expect_secret_error("{ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, "
			    "key_password_file: k.pass}",
			    "", 6, 80, "mqtt: tls.key_password_file '");
	expect_secret_error("{ca_file: ca.pem, key_password_file: k.pass}", "", 6, 8,
			    "mqtt.tls: key_password_file without key_file");
	expect_secret_error("{ca_file: nope.pem}", "", 6, 18, "mqtt.tls: ca_file '");
	expect_secret_error("{ca_file: nope.pem}", "", 6, 18,
			    "nope.pem' cannot be read: No such file or directory");
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0640), 0);
	expect_secret_error("{ca_file: fifo}", "", 6, 18, "fifo' is not a regular file");
	make_tmp_file("ca.pem", "", 0640);
	expect_secret_error(ok_tls, "", 6, 18, "ca.pem' is empty");
	make_tmp_file("ca.pem", "PEM\n", 0640);

	/* without a user name MQTT sends no password: run refuses it, so check does */
	snprintf(yaml, sizeof(yaml), SITE "mqtt: {password_file: mqtt.pass}\n");
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	expect_diag(&e, 2, 23, false, "mqtt: password_file without username");
	errlist_clear(&e);
	/* announced only under MQTT 5 */
	snprintf(yaml, sizeof(yaml), SITE "mqtt: {max_packet_kb: 64}\n");
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	expect_diag(&e, 2, 23, false, "mqtt: max_packet_kb is announced only under MQTT 5");
	errlist_clear(&e);

	/* all good: loads */
	snprintf(yaml, sizeof(yaml),
		 SITE "mqtt: {uri: \"mqtts://h:8883\", version: 5, max_packet_kb: 16, username: gw,\n"
		      "  password_file: mqtt.pass, tls: %s}\n",
		 ok_tls);
	assert_int_equal(load_str(yaml, &e, &c), 0);
	if (e.n)
		errlist_print(&e, stderr);
	assert_int_equal(c->mqtt.max_packet_kb, 16);
	config_free(c);
	errlist_clear(&e);
	remove_tmp_files();
}

/* ---- whole-file behaviour --------------------------------------------- */

static void test_missing_file(void **state)
{
	struct errlist e = { 0 };
	struct config *c = NULL;
	char path[PATH_MAX + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.yaml", tmpdir);
	assert_int_equal(config_load(path, tmpdir, &e, &c), -ENOENT);
	assert_null(c);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "cannot open: No such file or directory"));
	errlist_clear(&e);
	/* a directory is not a config file */
	assert_int_equal(config_load(tmpdir, tmpdir, &e, &c), -EINVAL);
	assert_non_null(strstr(e.lines[0], "not a regular file"));
	errlist_clear(&e);
}

/* Every error of the file at once, in file order, whichever pass found it. */
static void test_many_errors_sorted(void **state)
{
	static const char yaml[] = "site: {id: BAD}\n"			   /* 1 */
				   "buses:\n"					   /* 2 */
				   "  - {id: b1, rtu: {device: /dev/x, baud: 10}}\n" /* 3 */
				   "devices:\n"					   /* 4 */
				   "  - {id: d1, bus: nowhere, unit: 1, profile: t-smoke}\n" /* 5 */
				   "  - {id: d2, bus: b1, unit: 300, profile: t-smoke}\n" /* 6 */
				   "mqtt: {heartbeat_s: 1, topic_prefix: a/#}\n"	   /* 7 */
				   "remote: {allow_reset: on}\n"			   /* 8 */
				   "colour: red\n";					   /* 9 */
	struct errlist e = { 0 };
	struct config *c = NULL;
	size_t i;

	(void)state;
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	assert_null(c);
	expect_diag(&e, 1, 12, false, "site: id 'BAD' is not a valid id");
	expect_diag(&e, 3, 42, false, "baud 10 is out of range");
	expect_diag(&e, 5, 19, false, "bus 'nowhere' is not defined");
	expect_diag(&e, 6, 29, false, "unit 300 is out of range");
	expect_diag(&e, 7, 21, false, "heartbeat_s 1 is out of range 5..3600");
	expect_diag(&e, 7, 38, false, "contains a wildcard");
	expect_diag(&e, 8, 23, false, "expected true or false, got 'on'");
	expect_diag(&e, 9, 1, false, "unknown key 'colour'");
	assert_int_equal(e.n_errors, 8);
	/* sorted by line, then column */
	for (i = 1; i < e.n; i++) {
		const char *a = e.lines[i - 1] + strlen(cfgpath) + 1;
		const char *b = e.lines[i] + strlen(cfgpath) + 1;
		long la = strtol(a, NULL, 10), lb = strtol(b, NULL, 10);
		long ca = strtol(strchr(a, ':') + 1, NULL, 10), cb = strtol(strchr(b, ':') + 1, NULL, 10);

		assert_true(la < lb || (la == lb && ca <= cb));
	}
	errlist_clear(&e);
}

/* A profile with errors: the device line, then the profile file's own. */
static void test_profile_with_errors(void **state)
{
	static const char yaml[] = SITE BUS "devices:\n"
					    "  - {id: d1, bus: b1, unit: 1, profile: t-bad}\n"
					    "  - {id: d2, bus: b1, unit: 2, profile: t-bad}\n";
	struct errlist e = { 0 };
	struct config *c = NULL;
	char ppath[PATH_MAX + 32];
	size_t i, n_profile_lines = 0;
	const char *first;

	(void)state;
	snprintf(ppath, sizeof(ppath), "%s/t-bad.yaml:", tmpdir);
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	first = find_diag(&e, 5, 41, false, "device 'd1': profile 't-bad' (");
	assert_non_null(first);
	assert_non_null(strstr(first, "has errors, listed next"));
	expect_diag(&e, 6, 41, false, "device 'd2': profile 't-bad' cannot be used");
	for (i = 0; i < e.n; i++)
		if (strncmp(e.lines[i], ppath, strlen(ppath)) == 0) {
			n_profile_lines++;
			/* right after the line of the first device naming it */
			assert_ptr_equal(e.lines[i - 1], first);
			assert_non_null(strstr(e.lines[i], "colour"));
		}
	assert_int_equal(n_profile_lines, 1);
	errlist_clear(&e);
}

/* mqtt.uri as a string and as a list: the nodes in order, uri the first. */
static void test_uri_list(void **state)
{
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	assert_int_equal(load_str(SITE "mqtt:\n  uri: [tcp://n1:1883, mqtt://n2:1884, "
				       "\"tcp://[::1]:1885\"]\n  connect_timeout_s: 3\n",
				  &e, &c),
			 0);
	assert_int_equal(e.n_errors, 0);
	assert_int_equal(c->mqtt.n_uris, 3);
	assert_string_equal(c->mqtt.uris[0], "tcp://n1:1883");
	assert_string_equal(c->mqtt.uris[1], "mqtt://n2:1884");
	assert_string_equal(c->mqtt.uris[2], "tcp://[::1]:1885");
	assert_string_equal(c->mqtt.uri, "tcp://n1:1883");
	assert_int_equal(c->mqtt.connect_timeout_s, 3);
	config_free(c);
	c = NULL;
	assert_int_equal(load_str(SITE "mqtt:\n  uri:\n    - ssl://n1:8883\n    - mqtts://n2:8883\n"
				       "    - ssl://n3:8883\n    - ssl://n4:8883\n    - ssl://n5:8883\n"
				       "    - ssl://n6:8883\n    - ssl://n7:8883\n    - ssl://n8:8883\n",
				  &e, &c),
			 0);
	assert_int_equal(c->mqtt.n_uris, 8);
	assert_string_equal(c->mqtt.uris[7], "ssl://n8:8883");
	config_free(c);
	c = NULL;
	assert_int_equal(load_str(SITE "mqtt: {uri: tcp://only:1883}\n", &e, &c), 0);
	assert_int_equal(c->mqtt.n_uris, 1);
	assert_string_equal(c->mqtt.uris[0], "tcp://only:1883");
	assert_string_equal(c->mqtt.uri, "tcp://only:1883");
	config_free(c);
	errlist_clear(&e);
}

/* The defaults of config.h, every one, from the smallest valid file. */
static void test_defaults(void **state)
{
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	unsetenv("RUNTIME_DIRECTORY");
	unsetenv("FIREGW_RUNTIME_DIR");
	assert_int_equal(load_str("site: {id: s1}\n", &e, &c), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(c->path, cfgpath);
	assert_string_equal(c->site.id, "s1");
	assert_string_equal(c->site.facility_id, "");
	assert_string_equal(c->site.name, "");
	assert_int_equal(c->n_profile_dirs, 1);
	assert_string_equal(c->profile_dirs[0], "/etc/firegw/sensors");
	assert_string_equal(c->mqtt.uri, "tcp://127.0.0.1:1883");
	assert_int_equal(c->mqtt.version, 3);
	assert_string_equal(c->mqtt.client_id, "firegw-s1");
	assert_string_equal(c->mqtt.topic_prefix, "firegw");
	assert_int_equal(c->mqtt.keepalive_s, 20);
	assert_int_equal(c->mqtt.heartbeat_s, 30);
	assert_int_equal(c->mqtt.telemetry_s, 60);
	assert_int_equal(c->mqtt.telemetry_qos, 0);
	assert_int_equal(c->mqtt.inflight, 16);
	assert_int_equal(c->mqtt.ack_stall_s, 15);
	assert_int_equal(c->mqtt.reconnect_max_s, 10);
	assert_int_equal(c->mqtt.connect_timeout_s, 5);
	assert_int_equal(c->mqtt.n_uris, 1);
	assert_string_equal(c->mqtt.uris[0], "tcp://127.0.0.1:1883");
	assert_int_equal(c->mqtt.ack_timeout_s, 0);
	assert_string_equal(c->mqtt.ca_file, "");
	assert_string_equal(c->mqtt.cert_file, "");
	assert_string_equal(c->mqtt.key_file, "");
	assert_string_equal(c->mqtt.username, "");
	assert_string_equal(c->mqtt.password_file, "");
	assert_string_equal(c->storage.path, "/var/lib/firegw/firegw.db");
	assert_int_equal(c->storage.readings_days, 30);
	assert_int_equal(c->storage.records_days, 1096);
	assert_int_equal(c->storage.max_mb, 512);
	assert_int_equal(c->storage.readings_s, 300);
	assert_true(c->storage.readings_deadband_pct == 1.0);
	assert_int_equal(c->n_buses, 0);
	assert_int_equal(c->n_devices, 0);
	assert_int_equal(c->compliance.system_test_days, 182);
	assert_int_equal(c->compliance.maintenance_days, 730);
	assert_int_equal(c->compliance.self_inspection_days, 31);
	assert_int_equal(c->compliance.police_inspection_days, 365);
	assert_int_equal(c->compliance.device_test_days, 365);
	assert_int_equal(c->compliance.max_fault_days, 7);
	assert_int_equal(c->compliance.due_soon_days, 14);
	assert_false(c->remote.allow_reset);
	assert_false(c->remote.allow_test);
	assert_string_equal(c->runtime_dir, "/run/firegw");
	/* sha256sum of "site: {id: s1}\n" */
	assert_string_equal(c->sha256,
			    "5d76d5c818f44b1848c88935c25fd5a72f81e2c47b19e92870054e6fe02903d7");
	config_free(c);
}

static void test_runtime_dir(void **state)
{
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	setenv("FIREGW_RUNTIME_DIR", "/tmp/fg-rt", 1);
	assert_int_equal(load_str(SITE, &e, &c), 0);
	assert_string_equal(c->runtime_dir, "/tmp/fg-rt");
	config_free(c);
	/* systemd's variable wins, first entry of a colon-separated list */
	setenv("RUNTIME_DIRECTORY", "/run/firegw-a:/run/other", 1);
	assert_int_equal(load_str(SITE, &e, &c), 0);
	assert_string_equal(c->runtime_dir, "/run/firegw-a");
	config_free(c);
	unsetenv("RUNTIME_DIRECTORY");
	unsetenv("FIREGW_RUNTIME_DIR");
	errlist_clear(&e);
}

/* Every key set, bus and device defaults inherited, alarm points resolved. */
static void test_full_config(void **state)
{
	static const char yaml[] =
		"site: {id: cho-a, facility_id: \"TG-1\", name: \"Chợ A\", address: \"12 Lê Lợi\"}\n"
		"profile_dirs: [profiles, /abs/dir]\n"
		"mqtt:\n"
		"  uri: ssl://broker.example:8883\n"
		"  version: 5\n"
		"  client_id: gw-1\n"
		"  topic_prefix: pccc/tien-giang\n"
		"  keepalive_s: 2\n"
		"  heartbeat_s: 3600\n"
		"  telemetry_s: 0\n"
		"  telemetry_qos: 1\n"
		"  inflight: 1024\n"
		"  ack_stall_s: 600\n"
		"  reconnect_max_s: 1\n"
		"  ack_timeout_s: 100\n"
		"  tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, key_password_file: k.pass}\n"
		"  username: gw\n"
		"  password_file: mqtt.pass\n"
		"storage: {path: /tmp/x.db, readings_days: 1, records_days: 36500, max_mb: 8, "
		"readings_s: 60, readings_deadband_pct: 0.5}\n"
		"buses:\n"
		"  - id: rs485-1\n"
		"    rtu: {device: /dev/ttyS1, baud: 19200, parity: E, data_bits: 7, stop_bits: 2}\n"
		"    timeout_ms: 200\n"
		"    retries: 2\n"
		"  - id: lan\n"
		"    tcp: {host: 10.0.0.5}\n"
		"    byte_timeout_ms: 0\n"
		"devices:\n"
		"  - id: smoke-a1\n"
		"    bus: rs485-1\n"
		"    unit: 1\n"
		"    profile: t-smoke\n"
		"    zone: khu-a\n"
		"    zone_no: 12\n"
		"    location: \"Khu A, lô 12\"\n"
		"    poll_ms: 2000\n"
		"    fault_after: 5\n"
		"    dead_retry_s: 30\n"
		"    rules: {obscuration: {alarm_above: 3.5, confirm: 2}}\n"
		"  - id: panel-1\n"
		"    bus: lan\n"
		"    unit: 9\n"
		"    profile: t-di4\n"
		"    zone: khu-b\n"
		"    zone_no: 21\n"
		"    timeout_ms: 1000\n"
		"    retries: 0\n"
		"    points:\n"
		"      in1: {as: fire, location: \"Tủ trung tâm\"}\n"
		"      in2: {as: prealarm, zone: khu-c, zone_no: 22, rules: {latch: false}}\n"
		"      in4: {as: unused}\n"
		"  - id: mix\n"
		"    bus: lan\n"
		"    unit: 10\n"
		"    profile: t-two\n"
		"    rules:\n"
		"      temp: {alarm_above: 55, prealarm_above: 40}\n"
		"      ambient: {alarm_above: 56}\n"
		"    points:\n"
		"      ambient: {rules: {alarm_above: 57, chatter_max: 5}}\n"
		"      fire: {enabled: false}\n"
		"compliance: {system_test_days: 1, maintenance_days: 2, self_inspection_days: 3,\n"
		"             police_inspection_days: 4, device_test_days: 5, max_fault_days: 6,\n"
		"             due_soon_days: 3650}\n"
		"remote: {allow_reset: true, allow_test: false}\n";
	struct errlist e = { 0 };
	struct config *c = NULL;
	const struct cfg_device *d;
	const struct cfg_point *p;
	char want[PATH_MAX + 32];
	int f;

	(void)state;
	/* the TLS files and secrets exist: they are checked when loaded */
	for (f = 0; f < 5; f++)
		make_tmp_file(tls_names[f], f < 3 ? "PEM\n" : "secret\n", 0640);
	assert_int_equal(load_str(yaml, &e, &c), 0);
	if (e.n)
		errlist_print(&e, stderr);
	assert_int_equal(e.n_warnings, 0);
	assert_string_equal(c->site.facility_id, "TG-1");
	assert_string_equal(c->site.name, "Chợ A");
	assert_string_equal(c->site.address, "12 Lê Lợi");
	assert_int_equal(c->n_profile_dirs, 2);
	snprintf(want, sizeof(want), "%s/profiles", tmpdir);
	assert_string_equal(c->profile_dirs[0], want); /* relative to the file */
	assert_string_equal(c->profile_dirs[1], "/abs/dir");
	assert_int_equal(c->mqtt.version, 5);
	assert_string_equal(c->mqtt.client_id, "gw-1");
	assert_string_equal(c->mqtt.topic_prefix, "pccc/tien-giang");
	assert_int_equal(c->mqtt.keepalive_s, 2);
	assert_int_equal(c->mqtt.heartbeat_s, 3600);
	assert_int_equal(c->mqtt.telemetry_s, 0);
	assert_int_equal(c->mqtt.telemetry_qos, 1);
	assert_int_equal(c->mqtt.inflight, 1024);
	assert_int_equal(c->mqtt.ack_stall_s, 600);
	assert_int_equal(c->mqtt.reconnect_max_s, 1);
	assert_int_equal(c->mqtt.ack_timeout_s, 100);
	assert_int_equal(c->mqtt.max_packet_kb, 288); /* the default */
	/* relative to the config file's directory, as profile_dirs */
	snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
	assert_string_equal(c->mqtt.ca_file, want);
	snprintf(want, sizeof(want), "%s/c.pem", tmpdir);
	assert_string_equal(c->mqtt.cert_file, want);
	snprintf(want, sizeof(want), "%s/k.pem", tmpdir);
	assert_string_equal(c->mqtt.key_file, want);
	snprintf(want, sizeof(want), "%s/k.pass", tmpdir);
	assert_string_equal(c->mqtt.key_password_file, want);
	assert_string_equal(c->mqtt.username, "gw");
	snprintf(want, sizeof(want), "%s/mqtt.pass", tmpdir);
	assert_string_equal(c->mqtt.password_file, want);
	assert_string_equal(c->storage.path, "/tmp/x.db");
	assert_int_equal(c->storage.readings_days, 1);
	assert_int_equal(c->storage.records_days, 36500);
	assert_int_equal(c->storage.max_mb, 8);
	assert_int_equal(c->storage.readings_s, 60);
	assert_true(c->storage.readings_deadband_pct == 0.5);

	assert_int_equal(c->n_buses, 2);
	assert_int_equal(config_bus_index(c, "lan"), 1);
	assert_int_equal(config_bus_index(c, "nope"), -1);
	assert_int_equal(c->buses[0].kind, BUS_RTU);
	assert_string_equal(c->buses[0].device, "/dev/ttyS1");
	assert_int_equal(c->buses[0].baud, 19200);
	assert_int_equal(c->buses[0].parity, 'E');
	assert_int_equal(c->buses[0].data_bits, 7);
	assert_int_equal(c->buses[0].stop_bits, 2);
	assert_int_equal(c->buses[0].timeout_ms, 200);
	assert_int_equal(c->buses[0].byte_timeout_ms, 50);
	assert_int_equal(c->buses[0].retries, 2);
	assert_int_equal(c->buses[0].inter_frame_ms, 5);
	assert_int_equal(c->buses[0].line, 21);
	assert_int_equal(c->buses[1].kind, BUS_TCP);
	assert_string_equal(c->buses[1].host, "10.0.0.5");
	assert_int_equal(c->buses[1].port, 502);
	assert_int_equal(c->buses[1].timeout_ms, 500);
	assert_int_equal(c->buses[1].byte_timeout_ms, 0);
	assert_int_equal(c->buses[1].inter_frame_ms, 0);

	assert_int_equal(c->n_devices, 3);
	assert_int_equal(config_device_index(c, "panel-1"), 1);
	assert_int_equal(config_device_index(c, "gateway"), -1);
	/* smoke-a1: device rules by value name over the profile's */
	d = &c->devices[0];
	assert_int_equal(d->bus, 0);
	assert_int_equal(d->timeout_ms, 200); /* the bus's */
	assert_int_equal(d->retries, 2);
	assert_int_equal(d->poll_ms, 2000);
	assert_int_equal(d->dead_retry_s, 30);
	assert_non_null(d->profile);
	assert_string_equal(d->profile_name, "t-smoke");
	assert_int_equal(d->line, 29);
	assert_int_equal(d->n_points, 1);
	p = &d->points[0];
	assert_string_equal(p->name, "fire");
	assert_int_equal(p->kind, PKIND_SMOKE);
	assert_int_equal(p->as, FLAG_INVALID);
	assert_true(p->enabled);
	assert_true(p->rules.alarm_above == 3.5);
	assert_true(p->rules.prealarm_above == 2.5);
	assert_true(p->rules.hysteresis == 0.5);
	assert_int_equal(p->rules.confirm, 2);
	assert_int_equal(p->rules.fault_after, 5);
	assert_true(p->rules.latch);
	assert_false(p->rules.is_input);
	assert_int_equal(p->value, profile_value_index(d->profile, "obscuration"));
	assert_int_equal(p->flags[FLAG_FIRE].value, profile_value_index(d->profile, "status"));
	assert_string_equal(p->zone, "khu-a");
	assert_int_equal(p->zone_no, 12);
	assert_string_equal(p->location, "Khu A, lô 12");
	assert_int_equal(p->line, d->line);

	/* panel-1: in1 fire, in2 prealarm, in3 unused (profile), in4 unused
	 * (config over the profile's fault) */
	d = &c->devices[1];
	assert_int_equal(d->timeout_ms, 1000);
	assert_int_equal(d->retries, 0);
	assert_int_equal(d->fault_after, 3);
	assert_int_equal(d->n_points, 2);
	p = &d->points[0];
	assert_string_equal(p->name, "in1");
	assert_int_equal(p->profile_point, 0);
	assert_int_equal(p->kind, PKIND_FIRE);
	assert_int_equal(p->as, FLAG_FIRE);
	assert_true(p->rules.is_input);
	assert_true(p->rules.latch);
	assert_int_equal(p->flags[FLAG_FIRE].value, profile_value_index(d->profile, "di1"));
	for (f = 0; f < FLAG_MAX; f++)
		if (f != FLAG_FIRE)
			assert_int_equal(p->flags[f].value, -1);
	assert_string_equal(p->zone, "khu-b");
	assert_int_equal(p->zone_no, 21);
	assert_string_equal(p->location, "Tủ trung tâm");
	assert_int_equal(p->line, 49);
	assert_int_equal(p->col, 7);
	p = &d->points[1];
	assert_string_equal(p->name, "in2");
	assert_int_equal(p->kind, PKIND_FIRE);
	assert_int_equal(p->as, FLAG_PREALARM);
	assert_int_equal(p->flags[FLAG_PREALARM].value, profile_value_index(d->profile, "di2"));
	assert_int_equal(p->flags[FLAG_FIRE].value, -1);
	assert_false(p->rules.latch);
	assert_string_equal(p->zone, "khu-c");
	assert_int_equal(p->zone_no, 22);

	/* mix: value rules, then point-name rules, then the point's own */
	d = &c->devices[2];
	assert_int_equal(d->n_points, 1); /* fire disabled */
	p = &d->points[0];
	assert_string_equal(p->name, "ambient");
	assert_int_equal(p->profile_point, 1);
	assert_int_equal(p->kind, PKIND_TEMPERATURE);
	assert_true(p->rules.alarm_above == 57);
	assert_true(p->rules.prealarm_above == 40);
	assert_true(p->rules.hysteresis == 2);
	assert_int_equal(p->rules.chatter_max, 5);
	assert_true(isnan(p->rules.rate_of_rise));

	assert_int_equal(c->compliance.system_test_days, 1);
	assert_int_equal(c->compliance.maintenance_days, 2);
	assert_int_equal(c->compliance.self_inspection_days, 3);
	assert_int_equal(c->compliance.police_inspection_days, 4);
	assert_int_equal(c->compliance.device_test_days, 5);
	assert_int_equal(c->compliance.max_fault_days, 6);
	assert_int_equal(c->compliance.due_soon_days, 3650);
	assert_true(c->remote.allow_reset);
	assert_false(c->remote.allow_test);
	assert_int_equal(c->n_profiles, 3); /* loaded once each */
	config_free(c);
}

static void test_mqtt_versions_and_null_rules(void **state)
{
	static const char *const ok[] = { "3.1.1", "\"3.1.1\"", "3", "5" };
	static const int want[] = { 3, 3, 3, 5 };
	struct errlist e = { 0 };
	struct config *c = NULL;
	char yaml[256];
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(yaml, sizeof(yaml), SITE "mqtt: {version: %s}\n", ok[i]);
		assert_int_equal(load_str(yaml, &e, &c), 0);
		assert_int_equal(c->mqtt.version, want[i]);
		config_free(c);
	}
	/* null removes a profile threshold */
	assert_int_equal(load_str(SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: t-smoke,"
					   " rules: {obscuration: {prealarm_above: null}}}\n",
				  &e, &c),
			 0);
	assert_true(isnan(c->devices[0].points[0].rules.prealarm_above));
	assert_true(c->devices[0].points[0].rules.alarm_above == 4.0);
	config_free(c);
	errlist_clear(&e);
}

/* SPEC §8: 30 devices of 2 registers at 9600 8N1 every second:
 * (8 + 3.5 + 5 + 4 + 3.5) chars x 10 bits / 9600 + 5 ms = 30 ms each,
 * 900 ms per second: 90 % of the line. A warning; the config loads. */
static void test_rtu_load_warning(void **state)
{
	char *yaml = malloc(8192);
	struct errlist e = { 0 };
	struct config *c = NULL;
	size_t len;
	int i;

	(void)state;
	assert_non_null(yaml);
	len = (size_t)snprintf(yaml, 8192, SITE "buses:\n  - {id: rs485-1, rtu: {device: /dev/null}}\n"
						"devices:\n");
	for (i = 1; i <= 30; i++)
		len += (size_t)snprintf(yaml + len, 8192 - len,
					"  - {id: d%d, bus: rs485-1, unit: %d, profile: t-smoke}\n", i, i);
	assert_int_equal(load_str(yaml, &e, &c), 0);
	assert_non_null(c);
	assert_int_equal(e.n_errors, 0);
	assert_int_equal(e.n_warnings, 1);
	expect_diag(&e, 3, 5, true,
		    "bus 'rs485-1': planned transactions use 90 % of the line at 9600 baud (limit 70 "
		    "%); raise poll_ms, lower the number of devices or raise the baud");
	config_free(c);
	errlist_clear(&e);
	/* the same at 19200 baud: 15 ms each, 45 %: no warning */
	len = (size_t)snprintf(yaml, 8192, SITE "buses:\n  - {id: rs485-1, rtu: {device: /dev/null, "
						"baud: 19200}}\ndevices:\n");
	for (i = 1; i <= 30; i++)
		len += (size_t)snprintf(yaml + len, 8192 - len,
					"  - {id: d%d, bus: rs485-1, unit: %d, profile: t-smoke}\n", i, i);
	assert_int_equal(load_str(yaml, &e, &c), 0);
	assert_int_equal(e.n, 0);
	config_free(c);
	free(yaml);
}

static void test_timeout_warning(void **state)
{
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	assert_int_equal(load_str(SITE BUS "devices:\n  - {id: d1, bus: b1, unit: 1, profile: t-smoke,"
					   " poll_ms: 500, timeout_ms: 400, retries: 1}\n",
				  &e, &c),
			 0);
	assert_non_null(c);
	expect_diag(&e, 5, 5, true,
		    "device 'd1': timeout_ms 400 x (1 + retries 1) = 800 ms exceeds poll_ms 500");
	assert_int_equal(e.n_errors, 0);
	config_free(c);
	errlist_clear(&e);
}

/* ---- bounds and hostile files ----------------------------------------- */

static void test_too_many_buses(void **state)
{
	char *yaml = malloc(8192);
	struct errlist e = { 0 };
	struct config *c = NULL;
	size_t len;
	int i;

	(void)state;
	assert_non_null(yaml);
	len = (size_t)snprintf(yaml, 8192, SITE "buses:\n");
	for (i = 1; i <= CONFIG_MAX_BUSES + 1; i++)
		len += (size_t)snprintf(yaml + len, 8192 - len, "  - {id: b%d, tcp: {host: h}}\n", i);
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	expect_diag(&e, 2 + CONFIG_MAX_BUSES + 1, 5, false,
		    "buses: more than 32 buses; one gateway serves at most 32");
	assert_int_equal(e.n_errors, 1);
	errlist_clear(&e);
	free(yaml);
}

static void test_too_many_devices(void **state)
{
	size_t cap = 128 * 1024, len;
	char *yaml = malloc(cap);
	struct errlist e = { 0 };
	struct config *c = NULL;
	int i;

	(void)state;
	assert_non_null(yaml);
	len = (size_t)snprintf(yaml, cap, SITE "buses:\n");
	for (i = 0; i < 5; i++)
		len += (size_t)snprintf(yaml + len, cap - len, "  - {id: b%d, tcp: {host: h}}\n", i);
	len += (size_t)snprintf(yaml + len, cap - len, "devices:\n");
	/* line 9 onwards; device n (0-based) on bus n / 205 */
	for (i = 0; i <= CONFIG_MAX_DEVICES; i++)
		len += (size_t)snprintf(yaml + len, cap - len,
					"  - {id: d%d, bus: b%d, unit: %d, profile: t-smoke}\n", i,
					i / 205, i % 205 + 1);
	assert_true(len < cap);
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	expect_diag(&e, 9 + CONFIG_MAX_DEVICES, 5, false,
		    "devices: more than 1024 devices; split the premises across several gateways");
	assert_int_equal(e.n_errors, 1);
	errlist_clear(&e);
	free(yaml);
}

static void test_hostile_nesting(void **state)
{
	size_t n = 10000;
	char *buf = malloc(n + 16);
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "site: ", 6);
	memset(buf + 6, '[', n);
	assert_int_equal(load_buf(buf, n + 6, &e, &c), -EINVAL);
	assert_null(c);
	expect_diag(&e, 1, 38, false, "nested deeper than 32 levels");
	errlist_clear(&e);
	free(buf);
}

static void test_hostile_big_file(void **state)
{
	size_t n = 5 * 1024 * 1024;
	char *buf = malloc(n);
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	assert_non_null(buf);
	memset(buf, '#', n);
	assert_int_equal(load_buf(buf, n, &e, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.lines[0], "file larger than 4194304 bytes"));
	errlist_clear(&e);
	free(buf);
}

/* 4 MB of garbage (just under the limit): one syntax error, no crash. */
static void test_hostile_garbage(void **state)
{
	size_t n = CONFIG_FILE_MAX, i;
	unsigned char *buf = malloc(n);
	uint32_t x = 12345;
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u; /* deterministic: the same garbage each run */
		buf[i] = (unsigned char)(x >> 16);
	}
	assert_int_equal(load_buf(buf, n, &e, &c), -EINVAL);
	assert_null(c);
	assert_true(e.n_errors >= 1);
	errlist_clear(&e);
	/* many small nodes: ytree's node bound, not memory, stops it */
	buf[0] = '[';
	for (i = 1; i + 3 <= n; i += 3)
		memcpy(buf + i, "1,\n", 3);
	assert_int_equal(load_buf(buf, i, &e, &c), -EINVAL);
	assert_non_null(strstr(e.lines[0], "more than 100000 YAML nodes"));
	errlist_clear(&e);
	free(buf);
}

static void test_hostile_alias_bomb(void **state)
{
	static const char yaml[] = "a: &a [x, x, x, x, x, x, x, x, x]\n"
				   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
				   "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	struct errlist e = { 0 };
	struct config *c = NULL;

	(void)state;
	assert_int_equal(load_str(yaml, &e, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(e.n_errors, 1);
	expect_diag(&e, 1, 4, false, "anchors (&name) are not allowed");
	errlist_clear(&e);
}

/* ---- profile directories ---------------------------------------------- */

static void test_builtin_profile_dir(void **state)
{
	struct stat st;
	const char *d;

	(void)state;
	setenv("FIREGW_SENSORS_DIR", "/opt/sensors-here", 1);
	assert_string_equal(config_builtin_profile_dir(), "/opt/sensors-here");
	unsetenv("FIREGW_SENSORS_DIR");
	d = config_builtin_profile_dir();
	/* build/tests/test_config finds the tree's sensors/; a binary
	 * elsewhere falls back to the installed directory */
	if (strcmp(d, "/usr/share/firegw/sensors") != 0) {
		char want[PATH_MAX];

		assert_non_null(realpath("sensors", want));
		assert_string_equal(d, want);
		assert_int_equal(stat(d, &st), 0);
	}
}

/* profile_dirs come first, then the builtin directory; NULL builtin means
 * config_builtin_profile_dir(), which honours $FIREGW_SENSORS_DIR. */
static void test_profile_search_order(void **state)
{
	static const char yaml[] = "site: {id: s1}\n"
				   "profile_dirs: [sub]\n"
				   "buses: [{id: b1, tcp: {host: h}}]\n"
				   "devices: [{id: d1, bus: b1, unit: 1, profile: t-smoke}]\n";
	struct errlist e = { 0 };
	struct config *c = NULL;
	char sub[PATH_MAX + 8], p[PATH_MAX + 32];

	(void)state;
	write_file(cfgpath, yaml, strlen(yaml));
	setenv("FIREGW_SENSORS_DIR", tmpdir, 1);
	assert_int_equal(config_load(cfgpath, NULL, &e, &c), 0);
	snprintf(p, sizeof(p), "%s/t-smoke.yaml", tmpdir);
	assert_string_equal(c->devices[0].profile->path, p);
	config_free(c);
	/* a copy in profile_dirs wins over the builtin one */
	snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(p, sizeof(p), "%s/t-smoke.yaml", sub);
	write_file(p, test_profiles[0][1], strlen(test_profiles[0][1]));
	assert_int_equal(config_load(cfgpath, NULL, &e, &c), 0);
	assert_string_equal(c->devices[0].profile->path, p);
	config_free(c);
	unlink(p);
	rmdir(sub);
	unsetenv("FIREGW_SENSORS_DIR");
	errlist_clear(&e);
}

/* ---- the shipped example against the shipped profiles ----------------- */

static void test_shipped_example(void **state)
{
	struct errlist e = { 0 };
	struct config *c = NULL;
	const struct cfg_device *d;
	char *out = NULL;
	size_t out_len = 0;
	FILE *f;
	int i;

	(void)state;
	if (access("sensors/smoke-point.yaml", R_OK) != 0 || access("config/example.yaml", R_OK) != 0)
		skip(); /* not run from the repository root */
	i = config_load("config/example.yaml", "sensors", &e, &c);
	if (i != 0 || e.n)
		errlist_print(&e, stderr);
	assert_int_equal(i, 0);
	assert_int_equal(e.n, 0); /* no warning either */
	assert_string_equal(c->site.id, "cho-my-tho-a");
	assert_int_equal(c->n_buses, 2);
	assert_int_equal(c->n_devices, 5);
	d = &c->devices[config_device_index(c, "panel-1")];
	assert_int_equal(d->n_points, 5);
	assert_int_equal(d->points[0].kind, PKIND_FIRE);
	assert_int_equal(d->points[1].as, FLAG_FAULT);
	assert_int_equal(d->points[1].kind, PKIND_INPUT);
	assert_int_equal(d->points[2].as, FLAG_POWER);
	d = &c->devices[config_device_index(c, "heat-b1")];
	assert_int_equal(d->points[0].en54, EN54_A1);
	assert_true(d->points[0].rules.alarm_above == 60);

	f = open_memstream(&out, &out_len);
	assert_non_null(f);
	config_print_summary(c, f);
	fclose(f);
	assert_non_null(strstr(out, "site cho-my-tho-a"));
	assert_non_null(strstr(out, "bus rs485-1: RTU /dev/ttyUSB0 9600 8N1"));
	assert_non_null(strstr(out, "unit   9  panel-1"));
	assert_non_null(strstr(out, "5 devices, 9 alarm points"));
	free(out);
	config_free(c);

	/* every shipped profile loads through a config naming it */
	{
		static const char *const names[] = { "smoke-point", "heat-a1", "heat-rate",
						     "th-sensor", "asd-float", "di8-panel-outputs" };
		char yaml[512];
		size_t k;

		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			snprintf(yaml, sizeof(yaml),
				 SITE "buses: [{id: b1, tcp: {host: h}}]\n"
				      "devices: [{id: d1, bus: b1, unit: 1, profile: %s}]\n",
				 names[k]);
			write_file(cfgpath, yaml, strlen(yaml));
			if (access("sensors/heat-rate.yaml", R_OK) != 0)
				continue;
			i = config_load(cfgpath, "sensors", &e, &c);
			if (i != 0)
				errlist_print(&e, stderr);
			assert_int_equal(i, 0);
			assert_int_equal(e.n_errors, 0);
			config_free(c);
			errlist_clear(&e);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_many_errors_sorted),
		cmocka_unit_test(test_profile_with_errors),
		cmocka_unit_test(test_hostile_nesting),
		cmocka_unit_test(test_hostile_big_file),
		cmocka_unit_test(test_hostile_garbage),
		cmocka_unit_test(test_hostile_alias_bomb),
		cmocka_unit_test(test_too_many_buses),
		cmocka_unit_test(test_too_many_devices),
		cmocka_unit_test(test_rtu_load_warning),
		cmocka_unit_test(test_timeout_warning),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_uri_list),
		cmocka_unit_test(test_runtime_dir),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_tls_and_secret_files),
		cmocka_unit_test(test_mqtt_versions_and_null_rules),
		cmocka_unit_test(test_builtin_profile_dir),
		cmocka_unit_test(test_profile_search_order),
		cmocka_unit_test(test_shipped_example),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
