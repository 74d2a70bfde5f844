#!/usr/bin/env python3
"""Modbus TCP strictness (issue 10 item 5): the real firegw on a Modbus
TCP bus of the simulator, a real mosquitto and a real subscriber.

A unit whose replies carry the wrong unit id, or an MBAP length that
disagrees with the frame, is refused: its values (a fire the simulator
shows in them) never reach the center as an alarm, the device goes into
comm loss (SPEC §4: comm_loss, cid 1381, causes ["comm"]), and a correct
unit on the same TCP connection keeps working (its fire is published).
When the unit answers correctly again, comm loss clears and the fire it
shows is published: the values were there, only the replies were refused.

No timing is asserted; every wait is bounded; every process is stopped by
its PID (fgtest.Env.cleanup)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

CONFIG = """
site:
  id: @SITE@
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 0
  reconnect_max_s: 2
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 1
devices:
"""

SMOKE = """  - id: %(id)s
    bus: lan
    unit: %(unit)d
    profile: smoke-point
    zone: khu-a
    zone_no: %(zone_no)d
    poll_ms: 300
    fault_after: 3
    dead_retry_s: 1
"""

# unit + 1 of the faulty ones is nobody: a wrong unit id names no device
DEVICES = [("ok-1", 1), ("wu-1", 10), ("bl-1", 12)]


class TcpStrictTest(fgtest.FiregwTest):

    def test_wrong_unit_and_mbap_length_refused(self):
        env = self.env
        text = CONFIG + "".join(SMOKE % {"id": d, "unit": u, "zone_no": i + 1}
                                for i, (d, u) in enumerate(DEVICES))
        env.write_config(text)
        env.start_broker()
        env.start_sim()
        ctl = env.simctl()
        sub = env.subscriber()
        sub.wait_connected()
        gw = env.start_gateway()
        sub.wait_for(lambda t, p: t == env.topic("status") and isinstance(p, dict)
                     and p.get("state") == "online" and p["points"]["normal"] == 3, 40,
                     "all 3 points normal")
        mark = sub.mark()
        ctl.cmd("mode", "wu-1", "wrongunit")
        ctl.cmd("mode", "bl-1", "badlen")
        # the refused replies carry a fire
        ctl.cmd("flag", "wu-1", "fire", "on")
        ctl.cmd("flag", "bl-1", "fire", "on")
        for dev in ("wu-1", "bl-1"):
            ev = sub.wait_event(since=mark, timeout=30, device=dev, type="comm_loss",
                                state="active")
            self.assertEqual(ev["cid"], "1381", dev)
            self.assertEqual(ev["causes"], ["comm"], dev)
        # the simulator did answer them (refused by the gateway, not unheard)
        self.assertGreater(env.sim_stats("wu-1")[1], 0)
        self.assertGreater(env.sim_stats("bl-1")[1], 0)
        # a correct unit on the same connection keeps working
        ctl.cmd("flag", "ok-1", "fire", "on")
        sub.wait_event(since=mark, timeout=30, device="ok-1", **{"class": "alarm",
                                                                  "state": "active"})
        restore = sub.mark()
        bad = [e for e in sub.events()[:] if e.get("device") in ("wu-1", "bl-1")
               and e.get("class") in ("alarm", "prealarm")]
        self.assertEqual(bad, [], "a refused reply produced an alarm")
        # logged, the bus's refused replies rate-limited together
        gw.wait_line(lambda l: "bus 'lan': reply for unit 1" in l and "refused" in l, 10,
                     "a refused reply logged")
        # correct replies again: comm loss clears, the fire in the values is published
        ctl.cmd("mode", "wu-1", "normal")
        ctl.cmd("mode", "bl-1", "normal")
        for dev in ("wu-1", "bl-1"):
            sub.wait_event(since=restore, timeout=30, device=dev, type="comm_loss",
                           state="cleared")
            sub.wait_event(since=restore, timeout=30, device=dev,
                           **{"class": "alarm", "state": "active"})
        # and nothing of the refused period is in the gateway's own record
        events = env.db_events()
        first_alarm = {}
        for e in events:
            if e["device"] in ("wu-1", "bl-1") and e["class"] == "alarm":
                first_alarm.setdefault(e["device"], e["seq"])
        cleared = {e["device"]: e["seq"] for e in events
                   if e["type"] == "comm_loss" and e["state"] == "cleared"}
        for dev in ("wu-1", "bl-1"):
            self.assertGreater(first_alarm[dev], cleared[dev],
                               "%s: an alarm recorded before comm loss cleared" % dev)


if __name__ == "__main__":
    fgtest.main()
