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
             "no maintenance record"),
            (["maintenance", "--by", "x", "--result", "pass", "--ref", m["event_id"][:-1] + "9"],
             "no maintenance record"),
            # review: a record of another kind cannot "correct" a failed
            # police inspection away
            (["self_inspection", "--by", "owner", "--result", "pass", "--ref", "@BAD@"],
             "no self_inspection record"),
        ]
        for args, want in cases:
            args = [bad["event_id"] if a == "@BAD@" else a for a in args]
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
        # (the same report may come again, byte for byte: at-least-once)
        again = [q for _, t, q, _ in self.sub.snapshot()[m2:]
                 if isinstance(q, dict) and q.get("type") == "periodic_test"
                 and q["event_id"] != p["event_id"]]
        self.assertEqual(again, [], "a restart must not bring the next report forward")


    def start_synced(self, devices):
        """The gateway with a clock it believes synchronised (the LD_PRELOAD
        shim answers adjtimex with TIME_OK for its process only)."""
        env = self.env
        env.write_config(config(devices))
        env.start_broker()
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.start_gateway(extra_env={"LD_PRELOAD": fgtest.clockshift_lib(),
                                     "FIREGW_TEST_CLOCK_SYNCED": "1"})
        self.wait_online()

    def compliance_msg(self, pred=lambda p: True, since=0, timeout=30):
        return self.sub.wait_for(lambda t, p: t == self.env.topic("compliance")
                                 and isinstance(p, dict) and pred(p), timeout,
                                 "a compliance message", since=since)

    def test_compliance_published_and_verifiable(self):
        """The daemon publishes its compliance status retained, with the
        chain head; a failed maintenance makes the item non_compliant and a
        new status goes out; the head published verifies with firegw
        verify --head; every published status is kept as history."""
        env = self.env
        self.start_synced([("s-1", "lan", 1, 250)])
        first = self.compliance_msg()
        self.assertEqual(first["schema"], "firegw.compliance.v1")
        self.assertIn(first["overall"], ("compliant", "due_soon", "non_compliant"))
        for item in ("system_test", "maintenance", "self_inspection", "police_inspection",
                     "device_test", "faults", "disablements", "uplink", "clock", "storage"):
            self.assertIn(item, first["items"])
        mark = self.sub.mark()
        r = self.record("maintenance", "--by", "Công ty PCCC", "--result", "fail")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = self.compliance_msg(lambda p: p["items"]["maintenance"]["status"] ==
                                    "non_compliant", since=mark)
        self.assertEqual(after["overall"], "non_compliant")
        head = after["chain"]
        r = env.firegw("verify", "--head", "%d:%s" % (head["seq"], head["sha256"]),
                       "-c", env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # retained: a subscriber connecting now gets it at once
        out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(env.mqtt_port),
                              "-t", env.topic("compliance"), "-C", "1", "-W", "10"],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(json.loads(out.stdout)["overall"], "non_compliant")
        rows = env.db_query("SELECT overall FROM compliance_history ORDER BY id")
        self.assertGreaterEqual(len(rows), 2)
        self.assertEqual(rows[-1][0], "non_compliant")

    def test_compliance_and_report_requests(self):
        """compliance and report over MQTT, answered off the main loop on
        response/<id>; bad arguments get bad_request naming the field."""
        env = self.env
        self.start_synced([("s-1", "lan", 1, 250)])
        self.compliance_msg()
        self.publish(env.topic("request"), json.dumps({"id": "c-1", "op": "compliance"}))
        a = self.sub.wait_for(lambda t, p: t == env.topic("response", "c-1"), 30, "answer")
        self.assertTrue(a["ok"], a)
        self.assertEqual(a["compliance"]["schema"], "firegw.compliance.v1")
        # as a center would ask with mosquitto_rr (request / response)
        rr = subprocess.run(["mosquitto_rr", "-h", "127.0.0.1", "-p", str(env.mqtt_port),
                             "-V", "mqttv5", "-q", "1", "-t", env.topic("request"),
                             "-e", env.topic("response", "rr-1"), "-W", "30",
                             "-m", json.dumps({"id": "rr-1", "op": "compliance"})],
                            capture_output=True, text=True, timeout=40)
        self.assertEqual(rr.returncode, 0, rr.stderr)
        self.assertEqual(json.loads(rr.stdout)["compliance"]["schema"], "firegw.compliance.v1")
        month = local_day(0)[:7]
        self.publish(env.topic("request"), json.dumps({"id": "r-1", "op": "report",
                                                        "period": month, "lang": "en"}))
        a = self.sub.wait_for(lambda t, p: t == env.topic("response", "r-1"), 60, "report")
        self.assertTrue(a["ok"], a)
        rep = a.get("report")
        self.assertIsNotNone(rep, "a small report comes whole")
        self.assertEqual(rep["schema"], "firegw.report.v1")
        for req, field in [({"op": "report", "period": "2026-13"}, "period"),
                           ({"op": "report"}, "period"),
                           ({"op": "report", "period": month, "format": "html"}, "format"),
                           ({"op": "report", "period": month, "lang": "fr"}, "lang"),
                           ({"op": "compliance", "at": "yesterday"}, "at")]:
            req["id"] = "bad-" + field
            self.publish(env.topic("request"), json.dumps(req))
            a = self.sub.wait_for(lambda t, p, i=req["id"]: t == env.topic("response", i), 30,
                                  "answer to %s" % req["id"])
            self.assertEqual(a["error"]["code"], "bad_request", a)
            self.assertIn(field, a["error"]["message"])

if __name__ == "__main__":
    fgtest.main()
