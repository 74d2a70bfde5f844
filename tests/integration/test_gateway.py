#!/usr/bin/env python3
"""Integration tests: the real firegw against a real mosquitto and the
Modbus simulator, over TCP and over RTU (socat pty pair). Every assertion is
on what a real subscriber (mosquitto_sub) receives, or on the database and
the CLI's output afterwards. No timing is asserted; waits are bounded."""

import os
import signal
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

CONFIG = """
site:
  id: @SITE@
  facility_id: "TG-TEST-1"
  name: "Chợ thử nghiệm"
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 2
  ack_stall_s: 5
  reconnect_max_s: 2
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 0
  - id: rs485-1
    rtu: {device: @TTY@, baud: 38400}
    timeout_ms: 200
    byte_timeout_ms: 20
    retries: 0
    inter_frame_ms: 2
devices:
  - id: smoke-1
    bus: lan
    unit: 1
    profile: smoke-point
    zone: khu-a
    zone_no: 12
    location: "Khu A, lô 12"
    poll_ms: 300
  - id: heat-1
    bus: lan
    unit: 2
    profile: heat-a1
    zone: khu-a
    zone_no: 13
    location: "Khu A, bếp"
    poll_ms: 300
  - id: th-1
    bus: lan
    unit: 3
    profile: th-sensor
    zone: kho
    zone_no: 30
    poll_ms: 300
    rules:
      temperature: {alarm_above: 60, prealarm_above: 45, hysteresis: 2, confirm: 2, latch: false}
  - id: smoke-2
    bus: lan
    unit: 4
    profile: smoke-point
    zone: khu-b
    zone_no: 20
    poll_ms: 300
    fault_after: 3
    dead_retry_s: 2
  - id: smoke-r1
    bus: rs485-1
    unit: 1
    profile: smoke-point
    zone: khu-c
    zone_no: 40
    location: "Khu C, lô 1"
    poll_ms: 300
  - id: panel-1
    bus: rs485-1
    unit: 9
    profile: di8-panel-outputs
    poll_ms: 300
    points:
      in1: {as: fire, zone: khu-b, zone_no: 21, location: "Tủ trung tâm, vùng 1"}
      in2: {as: fault, zone: khu-b, zone_no: 21}
      in3: {as: power, zone: khu-b, zone_no: 21}
"""


class GatewayTest(fgtest.FiregwTest):

    def start_all(self, sub=True):
        env = self.env
        env.write_config(CONFIG)
        env.start_broker()
        env.start_pty()
        env.start_sim(rtu_bus="rs485-1")
        self.sub = env.subscriber() if sub else None
        env.start_gateway()
        if sub:
            self.wait_online()

    def wait_online(self):
        self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online", 20, "status online")

    def wait_point_state(self, device, point, state, timeout=20):
        def match(t, p):
            return (t == self.env.topic("state", device) and isinstance(p, dict)
                    and p.get("points", {}).get(point, {}).get("state") == state)
        return self.sub.wait_for(match, timeout, "%s.%s %s" % (device, point, state))

    # ---------------------------------------------------------------- TCP
    def test_fire_flag_over_tcp(self):
        self.start_all()
        self.wait_point_state("smoke-1", "fire", "normal")
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["cid"], "1111")
        self.assertEqual(ev["type"], "smoke")
        self.assertEqual(ev["point"], "fire")
        self.assertEqual(ev["zone"], "khu-a")
        self.assertEqual(ev["zone_no"], 12)
        self.assertEqual(ev["location"], "Khu A, lô 12")
        self.assertEqual(ev["causes"], ["device_flag"])
        self.assertEqual(ev["schema"], "firegw.event.v1")
        self.assertTrue(ev["event_id"].startswith(self.env.site + ":"))
        self.assertEqual(ev["event_id"].split(":")[2], str(ev["seq"]))
        # it went to the device's alarm topic, not retained
        msgs = [m for m in self.sub.snapshot() if m[2] == ev]
        self.assertEqual(msgs[0][1], self.env.topic("alarm", "smoke-1"))
        self.assertFalse(msgs[0][0])
        st = self.wait_point_state("smoke-1", "fire", "alarm")
        self.assertIn("alarm", st["points"]["fire"]["conditions"])
        self.assertEqual(st["state"], "alarm")
        # the flag going away: latched, no cleared event
        self.env.sim("flag", "smoke-1", "fire", "off")
        st = self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                               and isinstance(p, dict)
                               and p["points"]["fire"].get("latched") is True
                               and p["points"]["fire"]["conditions"] == [], 20, "latched")
        self.assertEqual(st["points"]["fire"]["state"], "alarm")
        # reset through the daemon's control socket
        r = self.env.firegw("reset", "smoke-1", "--by", "Nguyen Van A", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 point(s) cleared", r.stdout)
        clr = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "cleared"})
        self.assertEqual(clr["cid"], "3111")
        self.assertEqual(clr["causes"], ["manual"])
        self.assertEqual(clr["by"], "Nguyen Van A")
        self.assertGreater(clr["seq"], ev["seq"])
        self.wait_point_state("smoke-1", "fire", "normal")

    def test_reset_while_fire_holds_keeps_alarm(self):
        self.start_all()
        self.wait_point_state("smoke-1", "fire", "normal")
        self.env.sim("flag", "smoke-1", "fire", "on")
        self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        r = self.env.firegw("reset", "smoke-1.fire", "--by", "tester", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 still in alarm", r.stdout)
        # the heartbeat after the reset shows the point still in alarm
        st = self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                               and p["points"]["alarm"] == 1, 20, "status with one alarm")
        self.assertEqual(st["points"]["alarm"], 1)
        cleared = [e for e in self.sub.events() if e.get("state") == "cleared"
                   and e.get("class") == "alarm"]
        self.assertEqual(cleared, [])

    def test_threshold_confirm_and_hysteresis(self):
        self.start_all()
        self.wait_point_state("th-1", "temperature", "normal")
        self.env.sim("set", "th-1", "temperature", "61")
        ev = self.sub.wait_event(device="th-1", **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["cid"], "1114")
        self.assertEqual(ev["causes"], ["threshold"])
        self.assertAlmostEqual(ev["value"], 61.0, places=3)
        self.assertEqual(ev["threshold"], 60)
        self.assertEqual(ev["unit"], "°C")
        # within the hysteresis band (>= 58): still alarm; below: cleared
        self.env.sim("set", "th-1", "temperature", "58.5")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "th-1") and isinstance(p, dict)
                          and p["points"]["temperature"]["value"]["value"] is not None
                          and abs(p["points"]["temperature"]["value"]["value"] - 58.5) < 0.01,
                          20, "58.5 seen")
        self.assertEqual([e for e in self.sub.events() if e.get("device") == "th-1"
                          and e.get("state") == "cleared"], [])
        self.env.sim("set", "th-1", "temperature", "40")
        clr = self.sub.wait_event(device="th-1", **{"class": "alarm", "state": "cleared"})
        self.assertEqual(clr["cid"], "3114")
        # the pre-alarm was superseded by the alarm: no pre-alarm event at all
        self.assertEqual([e for e in self.sub.events() if e.get("device") == "th-1"
                          and e.get("class") == "prealarm"], [])

    def test_rate_of_rise(self):
        self.start_all()
        self.wait_point_state("heat-1", "heat", "normal")
        # 25 °C rising 30 °C/min: rate of rise (8 °C/min) long before 58 °C
        self.env.sim("ramp", "heat-1", "temperature", "30", "50")
        ev = self.sub.wait_event(timeout=60, device="heat-1",
                                 **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["cid"], "1114")
        self.assertIn("rate_of_rise", ev["causes"])
        self.assertLess(ev["value"], 58)

    def test_silent_device_comm_loss_and_others_keep_polling(self):
        self.start_all()
        self.wait_point_state("smoke-2", "fire", "normal")
        self.env.sim("mode", "smoke-2", "silent")
        self.env.sim("reset-stats")
        ev = self.sub.wait_event(device="smoke-2", **{"class": "fault", "state": "active"})
        self.assertEqual(ev["type"], "comm_loss")
        self.assertEqual(ev["cid"], "1381")
        self.assertEqual(ev["causes"], ["comm"])
        st = self.wait_point_state("smoke-2", "fire", "fault")
        self.assertIn("comm_loss", st["points"]["fire"]["conditions"])
        # while it is dead, its neighbours on the bus keep their rate
        before = self.env.sim_stats("smoke-1")[1]
        self.sub.wait_for(lambda t, p: t == self.env.topic("status"), 20, "a heartbeat")
        self.sub.wait_for(lambda t, p: t == self.env.topic("status")
                          and isinstance(p, dict) and p["ts"] > st["ts"], 20, "next heartbeat")
        after = self.env.sim_stats("smoke-1")[1]
        self.assertGreater(after - before, 5, "smoke-1 was starved while smoke-2 was silent")
        dead_req = self.env.sim_stats("smoke-2")[0]
        live_req = self.env.sim_stats("smoke-1")[0]
        self.assertLess(dead_req, live_req, "a dead device must be retried less often")
        self.env.sim("mode", "smoke-2", "normal")
        clr = self.sub.wait_event(device="smoke-2", **{"class": "fault", "state": "cleared"})
        self.assertEqual(clr["cid"], "3381")
        self.wait_point_state("smoke-2", "fire", "normal")

    # ---------------------------------------------------------------- RTU
    def test_fire_flag_over_rtu(self):
        self.start_all()
        self.wait_point_state("smoke-r1", "fire", "normal")
        self.env.sim("flag", "smoke-r1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-r1", **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["cid"], "1111")
        self.assertEqual(ev["zone_no"], 40)

    def test_panel_inputs_over_rtu(self):
        self.start_all()
        self.wait_point_state("panel-1", "in1", "normal")
        self.env.sim("input", "panel-1.in1", "on")
        ev = self.sub.wait_event(device="panel-1", point="in1",
                                 **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["cid"], "1110")
        self.assertEqual(ev["causes"], ["input"])
        self.assertEqual(ev["location"], "Tủ trung tâm, vùng 1")
        self.env.sim("input", "panel-1.in2", "on")
        f = self.sub.wait_event(device="panel-1", point="in2",
                                **{"class": "fault", "state": "active"})
        self.assertEqual(f["cid"], "1373")
        self.assertEqual(f["type"], "panel_fault")
        self.env.sim("input", "panel-1.in3", "on")
        p = self.sub.wait_event(device="panel-1", point="in3",
                                **{"class": "fault", "state": "active"})
        self.assertEqual(p["cid"], "1301")
        self.env.sim("input", "panel-1.in2", "off")
        c = self.sub.wait_event(device="panel-1", point="in2",
                                **{"class": "fault", "state": "cleared"})
        self.assertEqual(c["cid"], "3373")
        # unused channels are not alarm points at all
        st = self.wait_point_state("panel-1", "in1", "alarm")
        self.assertNotIn("in4", st["points"])

    # ------------------------------------------------------- crash, restart
    def test_sigkill_gives_last_will_and_latched_alarm_survives_restart(self):
        self.start_all()
        self.wait_point_state("smoke-1", "fire", "normal")
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.env.sim("flag", "smoke-1", "fire", "off")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict) and p["points"]["fire"]["latched"], 20,
                          "latched")
        self.env.gw.signal(signal.SIGKILL)
        self.env.gw.p.wait(5)
        will = self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                                 and p.get("state") == "offline", 30, "last will")
        self.assertEqual(will["reason"], "connection lost")
        # a fresh subscriber sees the retained offline status
        late = self.env.subscriber("late-joiner", self.env.topic("status"))
        late.wait_for(lambda t, p: isinstance(p, dict) and p.get("state") == "offline", 10,
                      "retained offline status")
        late.stop()
        n_before = len(self.sub.events())
        mark = self.sub.mark()
        self.env.start_gateway()
        self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online"
                          and p["points"]["alarm"] == 1, 20, "online again with the alarm",
                          since=mark)
        st = self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                               and isinstance(p, dict)
                               and p["points"]["fire"]["value"]["quality"] == "good", 20,
                               "smoke-1 read again after the restart", since=mark)
        self.assertEqual(st["points"]["fire"]["state"], "alarm")
        self.assertTrue(st["points"]["fire"]["latched"])
        new_alarms = [e for e in self.sub.events()[n_before:]
                      if e.get("class") == "alarm" and e.get("device") == "smoke-1"]
        self.assertEqual(new_alarms, [], "a restart must not make a new alarm event")
        # the database agrees: one alarm event, and the point state row
        db = sqlite3.connect("file:%s?mode=ro" % self.env.db, uri=True)
        n = db.execute("select count(*) from events where class='alarm' and device='smoke-1'")
        self.assertEqual(n.fetchone()[0], 1)
        self.assertEqual(ev["seq"], db.execute(
            "select seq from events where class='alarm' and device='smoke-1'").fetchone()[0])
        db.close()

    def test_retained_states_back_after_broker_restart(self):
        self.start_all()
        self.wait_point_state("smoke-1", "fire", "normal")
        self.env.sim("flag", "smoke-1", "fire", "on")
        self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.wait_point_state("smoke-1", "fire", "alarm")
        self.env.stop_broker()
        self.env.start_broker()
        fresh = self.env.subscriber("after-restart", self.env.topic("state", "#"))
        fresh.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1") and isinstance(p, dict)
                       and p["points"]["fire"]["state"] == "alarm", 30,
                       "retained smoke-1 alarm state after the broker restart")
        fresh.wait_for(lambda t, p: t == self.env.topic("state", "panel-1"), 30,
                       "retained panel-1 state")
        fresh.stop()

    def test_telemetry_batches_carry_readings(self):
        self.start_all()
        self.env.sim("set", "th-1", "temperature", "31.5")
        tel = self.sub.wait_for(
            lambda t, p: t == self.env.topic("telemetry") and isinstance(p, dict)
            and any(r["device"] == "th-1" and r["name"] == "temperature"
                    and abs(r["value"] - 31.5) < 0.01 for r in p["readings"]),
            30, "a telemetry batch with th-1 at 31.5")
        self.assertEqual(tel["schema"], "firegw.telemetry.v1")
        r = [r for r in tel["readings"] if r["device"] == "th-1" and r["name"] == "temperature"][0]
        self.assertEqual(r["unit"], "°C")
        self.assertEqual(r["quality"], "good")
        self.assertFalse([m for m in self.sub.snapshot() if m[1] == self.env.topic("telemetry")
                          and m[0]], "telemetry must not be retained")

    # --------------------------------------------------------------- CLI
    def test_cli_status_probe_scan(self):
        self.start_all()
        self.wait_point_state("smoke-1", "fire", "normal")
        cfg = self.env.config_path
        r = self.env.firegw("probe", "-c", cfg, "th-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("th-1 (unit 3):", r.stdout)
        self.assertIn("temperature=", r.stdout)
        r = self.env.firegw("scan", "-c", cfg, "--bus", "lan", "--units", "1-6")
        self.assertEqual(r.returncode, 0, r.stderr)
        found = sorted(int(l.split()[1]) for l in r.stdout.splitlines() if "answers" in l)
        self.assertEqual(found, [1, 2, 3, 4])
        r = self.env.firegw("status", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("daemon running", r.stdout)
        self.assertIn("smoke-1.fire", r.stdout)

    def test_cli_probe_of_a_silent_device_through_the_daemon(self):
        """A probe through the daemon of a device that does not answer says
        so as the direct path does; it printed "firegw: (null): (null)",
        taking the reading's "error" (a string) for an error reply."""
        self.start_all()
        self.wait_point_state("smoke-2", "fire", "normal")
        self.env.sim("mode", "smoke-2", "silent")
        r = self.env.firegw("probe", "-c", self.env.config_path, "smoke-2")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"^smoke-2 \(unit \d+\): no valid answer: \S.*\n$")
        self.assertNotIn("(null)", r.stdout + r.stderr)
        self.assertEqual(r.stderr, "")
        self.env.sim("mode", "smoke-2", "normal")


if __name__ == "__main__":
    fgtest.main()
