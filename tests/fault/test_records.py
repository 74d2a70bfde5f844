#!/usr/bin/env python3
"""Inspection records, acknowledgements and the periodic test (issue 9,
SPEC §6): what a real subscriber receives on <p>/<site>/record and
<p>/<site>/system, and what the daemon refuses, with the real firegw, a
real mosquitto and the simulator. No timing is asserted; waits are bounded.
"""

import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402
from test_fault import FaultBase, config  # noqa: E402


def local_day(days_back=0):
    """The site's calendar day (Asia/Ho_Chi_Minh, UTC+7 without DST)."""
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7)))
    return (now - datetime.timedelta(days=days_back)).strftime("%Y-%m-%d")


class RecordsTest(FaultBase):

    def record(self, *args):
        return self.env.firegw("record", *args, "-c", self.env.config_path)

    def publish(self, topic, payload):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.env.mqtt_port),
                        "-q", "1", "-t", topic, "-m", payload], check=True,
                       capture_output=True, timeout=10)

    def test_records_through_the_daemon(self):
        """A maintenance entered from a paper logbook, a failed police
        inspection and its correction: each a record event on record/, with
        the day it was done, who, the result and the corrected record's
        id; bad input is refused naming the field."""
        env = self.env
        self.start([("s-1", "lan", 1, 250)])
        self.wait_all_normal(1)
        mark = self.sub.mark()
        day = local_day(10)
        r = self.record("maintenance", "--by", "Nguyễn Văn A", "--result", "pass",
                        "--date", day, "--note", "bảo trì toàn bộ, sổ giấy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("recorded as", r.stdout)
        m = self.sub.wait_event(since=mark, type="maintenance", **{"class": "record"})
        self.assertEqual((m["date"], m["by"], m["result"]), (day, "Nguyễn Văn A", "pass"))
        self.assertEqual(m["note"], "bảo trì toàn bộ, sổ giấy")
        topic = [t for _, t, p, _ in self.sub.snapshot() if p == m][0]
        self.assertEqual(topic, env.topic("record"))
        r = self.record("police_inspection", "--by", "PC07", "--result", "fail")
        self.assertEqual(r.returncode, 0, r.stderr)
        bad = self.sub.wait_event(since=mark, type="police_inspection", result="fail")
        self.assertEqual(bad["date"], local_day(0))
        r = self.record("police_inspection", "--by", "PC07", "--result", "pass",
                        "--ref", bad["event_id"], "--note", "entered as fail by mistake")
        self.assertEqual(r.returncode, 0, r.stderr)
        fix = self.sub.wait_event(since=mark, type="police_inspection", result="pass")
        self.assertEqual(fix["ref"], bad["event_id"])
        self.assertGreater(fix["seq"], bad["seq"])
        # refused, each naming what is wrong
        cases = [
            (["maintenance", "--by", "x", "--result", "pass", "--date", local_day(-2)],
             "in the future"),
            (["maintenance", "--by", "x", "--result", "pass", "--date", local_day(731)],
             "730 days"),
            (["maintenance", "--by", "x", "--result", "pass", "--date", "2026-02-30"], "date"),
            (["maintenance", "--by", "x", "--result", "pass", "--note", "n" * 1001], "note"),
            (["maintenance", "--by", "x" * 65, "--result", "pass"], "by"),
            (["maintenance", "--by", "x", "--result", "pass", "--ref", "test-site:0:1"],
             "no record"),
            (["maintenance", "--by", "x", "--result", "pass", "--ref", m["event_id"][:-1] + "9"],
             "no record"),
        ]
        for args, want in cases:
            r = self.record(*args)
            self.assertEqual(r.returncode, 1, "%r: %s%s" % (args, r.stdout, r.stderr))
            self.assertIn(want, r.stderr, args)
        for args, want in [(["inspection", "--by", "x", "--result", "pass"], "one kind"),
                           (["maintenance", "--result", "pass"], "--by"),
                           (["maintenance", "--by", "x", "--result", "ok"], "pass or fail")]:
            r = self.record(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(want, r.stderr, args)
        # a record of another kind cannot be "corrected" by --ref: only records
        ev = env.db_query("SELECT event_id FROM events WHERE class != 'record' LIMIT 1")
        if ev:
            r = self.record("maintenance", "--by", "x", "--result", "pass", "--ref", ev[0][0])
            self.assertEqual(r.returncode, 1)
        # append-only: nothing of the records was rewritten
        rows = env.db_query("SELECT type, json_extract(CAST(payload AS TEXT), '$.result') "
                            "FROM events WHERE class = 'record' ORDER BY seq")
        self.assertEqual(rows, [("maintenance", "pass"), ("police_inspection", "fail"),
                                ("police_inspection", "pass")])

    def test_remote_record_needs_allow_record(self):
        """The MQTT request op record is refused with forbidden unless
        remote.allow_record is set; then it is made like a local one."""
        env = self.env
        self.start([("s-1", "lan", 1, 250)])
        self.wait_all_normal(1)
        req = {"id": "rec-1", "op": "record", "kind": "self_inspection", "by": "Tổ PCCC cơ sở",
               "result": "pass"}
        self.publish(env.topic("request"), json.dumps(req))
        ans = self.sub.wait_for(lambda t, p: t == env.topic("response", "rec-1"), 20, "answer")
        self.assertEqual(ans["error"]["code"], "forbidden")
        self.assertIn("remote.allow_record", ans["error"]["message"])
        with open(env.config_path) as f:
            text = f.read()
        with open(env.config_path, "w") as f:
            f.write(text + "remote:\n  allow_record: true\n")
        mark = self.sub.mark()
        env.gw.signal(__import__("signal").SIGHUP)
        self.wait_online(since=mark)
        req["id"] = "rec-2"
        self.publish(env.topic("request"), json.dumps(req))
        ans = self.sub.wait_for(lambda t, p: t == env.topic("response", "rec-2"), 20, "answer")
        self.assertTrue(ans["ok"], ans)
        ev = self.sub.wait_event(since=mark, type="self_inspection", **{"class": "record"})
        self.assertEqual(ev["event_id"], ans["event_id"])

    def test_acks_are_records_and_verdicts_count(self):
        """An acknowledgement is appended as a record naming the alarm (no
        stored row is rewritten); a verdict goes with it; a bad verdict is
        ignored but the acknowledgement still counts; a later verdict is a
        new record."""
        env = self.env
        self.start([("s-1", "lan", 1, 250)])
        self.wait_all_normal(1)
        mark = self.sub.mark()
        self.ctl.cmd("flag", "s-1", "fire", "on")
        a = self.sub.wait_event(since=mark, device="s-1", **{"class": "alarm", "state": "active"})
        self.publish(env.topic("ack"), json.dumps({"event_id": a["event_id"], "by": "PC07",
                                                    "verdict": "maybe"}))
        r1 = self.sub.wait_event(since=mark, type="ack", ref=a["event_id"])
        self.assertNotIn("verdict", r1)
        self.publish(env.topic("ack"), json.dumps({"event_id": a["event_id"], "by": "PC07",
                                                    "verdict": "unwanted"}))
        r2 = self.sub.wait_event(since=mark, type="ack", verdict="unwanted")
        self.assertGreater(r2["seq"], r1["seq"])
        env.gw.wait_line(lambda l: "verdict 'maybe' ignored" in l, 10, "the bad verdict logged")
        self.publish(env.topic("ack"), json.dumps({"event_id": "nope:1:1", "by": "PC07"}))
        env.gw.wait_line(lambda l: "unknown event 'nope:1:1'" in l, 10, "unknown ack logged")

    def test_periodic_test_report(self):
        """Every periodic_test_h hours a system event 1602 (or 1608 with a
        trouble present) with the counts, on system/; the gateway's clock is
        moved 7 hours on (LD_PRELOAD shim of its own process only)."""
        env = self.env
        env.write_config(config([("s-1", "lan", 1, 250)]).replace(
            "  reconnect_max_s: 2\n", "  reconnect_max_s: 2\n  periodic_test_h: 6\n"))
        env.start_broker()
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        offset = os.path.join(env.dir, "clock-offset")
        with open(offset, "w") as f:
            f.write("0\n")
        env.start_gateway(extra_env={"LD_PRELOAD": fgtest.clockshift_lib(),
                                     "FIREGW_TEST_CLOCK_FILE": offset})
        self.wait_all_normal(1)
        # the first report is scheduled at the daemon's first second
        env.gw.wait_line(lambda l: "periodic test report due in 6 h" in l, 20,
                         "the periodic test scheduled")
        r = env.firegw("disable", "s-1.fire", "--reason", "thay đầu báo", "--by", "kỹ thuật",
                       "-c", env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        mark = self.sub.mark()
        with open(offset + ".tmp", "w") as f:
            f.write("%d\n" % (7 * 3600 * 1000))
        os.replace(offset + ".tmp", offset)
        p = self.sub.wait_event(since=mark, timeout=30, type="periodic_test")
        self.assertEqual(p["class"], "system")
        self.assertEqual(p["cid"], "1608", "a disablement (and the clock step) is a trouble")
        self.assertEqual(p["disablements"], 1)
        topic = [t for _, t, q, _ in self.sub.snapshot() if q == p][0]
        self.assertEqual(topic, env.topic("system"))
        # momentary: no restore; and the next one is not due before 6 h
        self.assertEqual(p["state"], "active")
        env.gw.stop()
        m2 = self.sub.mark()
        env.start_gateway(extra_env={"LD_PRELOAD": fgtest.clockshift_lib(),
                                     "FIREGW_TEST_CLOCK_FILE": offset})
        self.wait_online(since=m2)
        self.wait_online(since=self.sub.mark())  # a heartbeat later
        again = [q for _, t, q, _ in self.sub.snapshot()[m2:]
                 if isinstance(q, dict) and q.get("type") == "periodic_test"]
        self.assertEqual(again, [], "a restart must not bring the next report forward")


if __name__ == "__main__":
    fgtest.main()
