#!/usr/bin/env python3
"""Readings by change (docs/storage.md "Readings by change"): the real
firegw polling the simulator, its real SQLite file read afterwards.

At rest, with values that never change, the readings table holds one
sample per value (the first after the start) however many polls there
were; a change beyond a value's deadband is stored, one within it is not;
the `readings` request still answers with the latest values; telemetry
batches at QoS 0 are not written while the link is up (the outbox's
AUTOINCREMENT counter says how many rows were ever made), and are written
while it is down. Counts are of polls (the simulator's `stats`), never
of seconds."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

# th-sensor: humidity 0..100 %RH, temperature -40..125 °C; deadband 1 % of
# those ranges: 1.0 %RH, 1.65 °C. smoke-point: status (no range: any
# change), obscuration, supply. Generous timeouts: a poll that timed out
# would be a change of quality, i.e. a sample this test does not count.
CONFIG = """
site: {id: @SITE@}
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 2
  reconnect_max_s: 1
storage:
  path: @DB@
  readings_s: 1
  readings_deadband_pct: 1
buses:
  - {id: lan, tcp: {host: 127.0.0.1, port: @TCP_PORT@}, timeout_ms: 2000, retries: 2}
devices:
  - {id: smoke-1, bus: lan, unit: 1, profile: smoke-point, zone: a, zone_no: 1, poll_ms: 300,
     rules: {fire: {latch: false}}}
  - {id: th-1, bus: lan, unit: 2, profile: th-sensor, zone: a, zone_no: 2, poll_ms: 300}
"""

N_VALUES = 3 + 2  # smoke-point: status, obscuration, supply; th-sensor: humidity, temperature


class ReadingsTest(fgtest.FiregwTest):

    def start(self):
        env = self.env
        env.write_config(CONFIG)
        env.start_broker()
        env.start_sim()
        self.sub = env.subscriber()
        env.start_gateway()
        self.sub.wait_for(lambda t, p: t == env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online", 20, "status online")

    def polls(self, n):
        """Waits until both devices answered n more requests (bounded)."""
        base = {d: self.env.sim_stats(d)[1] for d in ("smoke-1", "th-1")}
        fgtest.wait_until(lambda: all(self.env.sim_stats(d)[1] >= base[d] + n for d in base),
                          60, "%d more polls of each device" % n, step=0.2)

    def request(self, req, rid):
        mark = self.sub.mark()
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.env.mqtt_port),
                        "-q", "1", "-t", self.env.topic("request"), "-m", json.dumps(req)],
                       check=True, timeout=10)
        return self.sub.wait_for(lambda t, p: t == self.env.topic("response", rid), 20,
                                 "answer to %s" % rid, since=mark)

    def stop_gateway(self):
        # a clean stop writes the buffered readings
        self.assertEqual(self.env.gw.stop(), 0)

    def rows(self, where="1", args=()):
        return self.env.db_query("SELECT count(*) FROM readings WHERE " + where, args)[0][0]

    def telemetry_with(self, device, name, value, since):
        def match(t, p):
            return (t == self.env.topic("telemetry") and isinstance(p, dict)
                    and any(r["device"] == device and r["name"] == name
                            and r.get("value") is not None and abs(r["value"] - value) < 0.01
                            for r in p.get("readings", [])))
        return self.sub.wait_for(match, 30, "telemetry with %s.%s = %s" % (device, name, value),
                                 since=since)

    def test_at_rest_one_sample_per_value_and_changes_beyond_the_deadband(self):
        env = self.env
        self.start()
        self.polls(30)  # about 9 s of polls, every value unchanging
        # a change beyond the deadband (+6.5 °C > 1.65) and one within it
        # (+0.5 %RH < 1.0)
        mark = self.sub.mark()
        env.sim("set", "th-1", "temperature", "31.5")
        env.sim("set", "th-1", "humidity", "50.5")
        self.telemetry_with("th-1", "temperature", 31.5, mark)
        self.polls(10)
        # the latest values, from the daemon
        ans = self.request({"id": "rd-1", "op": "readings", "device": "th-1"}, "rd-1")
        self.assertTrue(ans["ok"])
        vals = ans["devices"]["th-1"]
        self.assertAlmostEqual(vals["temperature"]["value"], 31.5, places=2)
        self.assertAlmostEqual(vals["humidity"]["value"], 50.5, places=2)
        self.assertEqual(vals["temperature"]["quality"], "good")
        self.stop_gateway()

        # one sample per value, plus the one change beyond its deadband
        self.assertEqual(self.rows("quality = 0"), N_VALUES + 1)
        self.assertEqual(self.rows(), N_VALUES + 1, "no sample of another quality")
        self.assertEqual(env.db_query("SELECT count(DISTINCT device || '.' || name) FROM readings")
                         [0][0], N_VALUES)
        temps = [r[0] for r in env.db_query(
            "SELECT value FROM readings WHERE device = 'th-1' AND name = 'temperature' "
            "ORDER BY ts_ms")]
        self.assertEqual(len(temps), 2)
        self.assertAlmostEqual(temps[0], 25.0, places=2)  # the simulator's start value
        self.assertAlmostEqual(temps[1], 31.5, places=2)
        self.assertEqual(self.rows("device = 'th-1' AND name = 'humidity'"), 1)
        # the latest stored reading of each value is the value now
        latest = dict(((d, n), v) for d, n, v in env.db_query(
            "SELECT device, name, value FROM readings r WHERE ts_ms = (SELECT max(ts_ms) "
            "FROM readings WHERE device = r.device AND name = r.name)"))
        self.assertAlmostEqual(latest[("th-1", "temperature")], 31.5, places=2)
        self.assertAlmostEqual(latest[("smoke-1", "supply")], 0.0, places=2)
        # QoS 0 telemetry while the link was up: never an outbox row. The
        # AUTOINCREMENT counter counts every row ever made: only events'.
        made = env.db_query("SELECT ifnull(max(seq), 0) FROM sqlite_sequence "
                            "WHERE name = 'outbox'")[0][0]
        events = env.db_query("SELECT count(*) FROM events")[0][0]
        self.assertGreater(len([m for m in self.sub.snapshot() if m[1] == env.topic("telemetry")]),
                           3)
        self.assertLessEqual(made, events)

    def test_an_alarm_stores_the_values_and_a_restart_one_sample(self):
        env = self.env
        self.start()
        self.polls(10)
        env.sim("flag", "smoke-1", "fire", "on")
        self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.polls(5)
        self.stop_gateway()
        # status moved (bit 0); obscuration and supply did not move, but the
        # device's state changed: one sample of each at once
        self.assertEqual(self.rows("device = 'smoke-1' AND name = 'status'"), 2)
        self.assertEqual(self.rows("device = 'smoke-1'"), 3 + 3)
        self.assertEqual(self.rows("device = 'th-1'"), 2)
        # a restart stores one sample of every value again, no more
        before = self.rows()
        env.start_gateway()
        self.polls(10)
        self.stop_gateway()
        self.assertEqual(self.rows(), before + N_VALUES)

    def test_telemetry_is_written_while_the_link_is_down(self):
        env = self.env
        self.start()
        self.polls(3)
        env.stop_broker()
        fgtest.wait_until(lambda: env.db_query("SELECT count(*) FROM outbox WHERE prio = 9")[0][0]
                          >= 2, 30, "telemetry batches kept in the outbox", step=0.2)
        env.start_broker()
        # the batches made while down go out after the reconnect, and leave
        # the outbox on delivery
        fgtest.wait_until(lambda: env.db_query("SELECT count(*) FROM outbox WHERE prio = 9")[0][0]
                          == 0, 30, "telemetry backfill delivered", step=0.2)
        self.stop_gateway()


if __name__ == "__main__":
    fgtest.main()
