#!/usr/bin/env python3
"""Integration tests of the rest of the MQTT contract (SPEC §3, §4): the
offline status on a clean stop, requests and their answers, the center's
acknowledgements (1354), removed devices' retained state, and the CLI's
check and watch commands. Real mosquitto, simulator and gateway; assertions
on what a real subscriber (mosquitto_sub) receives."""

import os
import signal
import sqlite3
import subprocess
import sys
import json

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

BASE = """
site:
  id: @SITE@
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 0
  ack_timeout_s: @ACK@
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 0
devices:
  - {id: smoke-1, bus: lan, unit: 1, profile: smoke-point, zone: khu-a, zone_no: 12, poll_ms: 300}
  - {id: th-1, bus: lan, unit: 3, profile: th-sensor, poll_ms: 300}
@EXTRA@
remote:
  allow_reset: @ALLOW_RESET@
"""


def config(ack=0, extra="", allow_reset="false"):
    return (BASE.replace("@ACK@", str(ack)).replace("@EXTRA@", extra)
            .replace("@ALLOW_RESET@", allow_reset))


class SiteMixin:
    """A broker, the simulator and the gateway with one config."""

    def start(self, cfg):
        self.env.write_config(cfg)
        self.env.start_broker()
        self.env.start_sim()
        self.sub = self.env.subscriber()
        self.env.start_gateway()
        self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online", 20, "online")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict)
                          and p["points"]["fire"]["state"] == "normal", 20, "smoke-1 normal")

    def publish(self, topic, payload):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.env.mqtt_port),
                        "-q", "1", "-t", topic, "-m", payload], check=True, timeout=10)

    def request(self, req, rid):
        mark = self.sub.mark()
        self.publish(self.env.topic("request"), json.dumps(req))
        return self.sub.wait_for(lambda t, p: t == self.env.topic("response", rid), 20,
                                 "answer to %s" % rid, since=mark)


class ContractTest(SiteMixin, fgtest.FiregwTest):

    def test_clean_stop_publishes_offline(self):
        self.start(config())
        self.assertEqual(self.env.gw.stop(), 0)
        st = self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                               and p.get("state") == "offline", 20, "offline status")
        self.assertEqual(st["reason"], "shutdown")
        self.assertEqual(st["schema"], "firegw.status.v1")
        late = self.env.subscriber("late", self.env.topic("status"))
        late.wait_for(lambda t, p: isinstance(p, dict) and p.get("state") == "offline"
                      and p.get("reason") == "shutdown", 10, "retained offline")

    def test_requests_status_history_readings(self):
        self.start(config())
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        ans = self.request({"id": "r-1", "op": "status"}, "r-1")
        self.assertTrue(ans["ok"])
        self.assertEqual(ans["id"], "r-1")
        self.assertEqual(ans["status"]["site"], self.env.site)
        self.assertGreaterEqual(ans["status"]["last_seq"], ev["seq"])
        ans = self.request({"id": "r-2", "op": "history", "class": ["alarm"], "limit": 10}, "r-2")
        self.assertTrue(ans["ok"])
        self.assertEqual([e["event_id"] for e in ans["events"]], [ev["event_id"]])
        self.assertEqual(ans["events"][0], ev)  # the same event, field for field
        # paging: one per answer, with a cursor
        self.env.sim("mode", "th-1", "silent")
        self.sub.wait_event(device="th-1", **{"class": "fault", "state": "active"})
        ans = self.request({"id": "r-3", "op": "history", "limit": 1}, "r-3")
        self.assertEqual(len(ans["events"]), 1)
        self.assertIn("next", ans)
        ans2 = self.request({"id": "r-4", "op": "history", "limit": 1, "cursor": ans["next"]},
                            "r-4")
        self.assertGreater(ans2["events"][0]["seq"], ans["events"][0]["seq"])
        ans = self.request({"id": "r-5", "op": "readings", "device": "th-1"}, "r-5")
        self.assertTrue(ans["ok"])
        self.assertIn("temperature", ans["devices"]["th-1"])
        # bad requests get an error, naming the field
        ans = self.request({"id": "r-6", "op": "history", "from": "yesterday"}, "r-6")
        self.assertFalse(ans["ok"])
        self.assertEqual(ans["error"]["code"], "bad_request")
        self.assertIn("from", ans["error"]["message"])
        ans = self.request({"id": "r-7", "op": "explode"}, "r-7")
        self.assertEqual(ans["error"]["code"], "bad_request")
        # remote reset is refused unless remote.allow_reset
        ans = self.request({"id": "r-8", "op": "reset", "device": "smoke-1", "by": "x"}, "r-8")
        self.assertEqual(ans["error"]["code"], "forbidden")
        # a request with a non-plain id has nowhere to be answered: ignored,
        # and the gateway keeps answering others
        self.publish(self.env.topic("request"), '{"id": "../x", "op": "status"}')
        self.publish(self.env.topic("request"), "not json at all")
        ans = self.request({"id": "r-9", "op": "status"}, "r-9")
        self.assertTrue(ans["ok"])
        # queries are not events
        db = sqlite3.connect("file:%s?mode=ro" % self.env.db, uri=True)
        classes = [r[0] for r in db.execute("select class from events")]
        db.close()
        self.assertNotIn("record", classes)

    def test_remote_reset_when_allowed(self):
        self.start(config(allow_reset="true"))
        self.env.sim("flag", "smoke-1", "fire", "on")
        self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.env.sim("flag", "smoke-1", "fire", "off")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict) and p["points"]["fire"]["latched"]
                          and p["points"]["fire"]["conditions"] == [], 20, "latched")
        ans = self.request({"id": "rr", "op": "reset", "device": "smoke-1", "by": "trung-tam"},
                           "rr")
        self.assertTrue(ans["ok"])
        self.assertEqual(ans["cleared"], 1)
        clr = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "cleared"})
        self.assertEqual(clr["by"], "trung-tam")
        db = sqlite3.connect("file:%s?mode=ro" % self.env.db, uri=True)
        rec = db.execute("select count(*) from events where class='record' and type='reset'")
        self.assertEqual(rec.fetchone()[0], 1)
        db.close()

    def test_ack_timeout_raises_1354_and_ack_clears_it(self):
        self.start(config(ack=2))
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        f = self.sub.wait_event(device="gateway", type="ack_timeout",
                                **{"class": "fault", "state": "active"})
        self.assertEqual(f["cid"], "1354")
        self.assertIn(ev["event_id"], f["note"])
        self.assertEqual(self.sub.snapshot()[-1][0], False)
        topics = [m[1] for m in self.sub.snapshot() if m[2] == f]
        self.assertEqual(topics[0], self.env.topic("fault", "gateway"))
        self.publish(self.env.topic("ack"), json.dumps({"event_id": ev["event_id"],
                                                        "by": "PC07 Tiền Giang"}))
        c = self.sub.wait_event(device="gateway", type="ack_timeout",
                                **{"class": "fault", "state": "cleared"})
        self.assertEqual(c["cid"], "3354")
        # the acknowledgement is appended as a record (nothing stored is
        # rewritten), published on record/ so the center holds a copy
        rec = self.sub.wait_event(type="ack", **{"class": "record"})
        self.assertEqual(rec["ref"], ev["event_id"])
        self.assertEqual(rec["by"], "PC07 Tiền Giang")
        db = sqlite3.connect("file:%s?mode=ro" % self.env.db, uri=True)
        row = db.execute("select acked_by, (select count(*) from events where type='ack' "
                         "and ref=?) from events where event_id=?",
                         (ev["event_id"], ev["event_id"]))
        self.assertEqual(row.fetchone(), (None, 1))
        db.close()

    def test_removed_device_retained_state_cleared(self):
        extra = "  - {id: smoke-old, bus: lan, unit: 4, profile: smoke-point, poll_ms: 300}"
        self.start(config(extra=extra))
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-old"), 20,
                          "smoke-old state")
        self.env.gw.stop()
        self.env.write_config(config())
        mark = self.sub.mark()
        self.env.start_gateway()
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-old") and p in ("", None),
                          20, "empty retained state for smoke-old", since=mark)
        late = self.env.subscriber("late", self.env.topic("state", "#"))
        late.wait_for(lambda t, p: t == self.env.topic("state", "th-1"), 10, "th-1 state")
        self.assertNotIn(self.env.topic("state", "smoke-old"), [m[1] for m in late.snapshot()])

    def test_watch_prints_events(self):
        self.start(config())
        w = self.env.spawn("watch", [fgtest.FIREGW, "watch", "-c", self.env.config_path,
                                     "--count", "1", "--timeout", "30", "--no-table"],
                           env=self.env.gw_env())
        w.wait_line(lambda l: "STATUS" in l, 20, "watch connected")
        self.env.sim("flag", "smoke-1", "fire", "on")
        line = w.wait_line(lambda l: "ALARM" in l, 20, "alarm line")
        self.assertIn("smoke-1.fire", line)
        self.assertIn("cid 1111", line)
        self.assertIn("zone khu-a #12", line)
        w.p.wait(20)
        self.assertEqual(w.p.returncode, 0)

    def test_watch_prints_escapes_as_visible_text(self):
        """Issue 10 item 5: whatever a publisher puts in a message (an
        escape sequence that clears the screen, a newline that forges a
        line, a backslash), `firegw watch` prints it as visible \\xNN text
        in its event line, status line and state table."""
        self.start(config())
        w = self.env.spawn("watch", [fgtest.FIREGW, "watch", "-c", self.env.config_path,
                                     "--count", "1", "--timeout", "30"],
                           env=self.env.gw_env())
        w.wait_line(lambda l: "STATUS" in l, 20, "watch connected")
        evil = "\x1b[2J\x1b]0;owned\x07\nFORGED  ALARM  active\\"
        self.publish(self.env.topic("state", "evil"), json.dumps(
            {"device": "ev" + evil, "state": "normal" + evil,
             "points": {"p" + evil: {"state": "alarm" + evil, "conditions": ["c" + evil]}}}))
        w.wait_line(lambda l: l.startswith("  | ev\\x1b"), 20, "the forged state in the table")
        self.publish(self.env.topic("status"), json.dumps({"state": "s" + evil, "ts": "t" + evil}))
        w.wait_line(lambda l: "STATUS   s\\x1b" in l, 20, "the forged status line")
        self.publish(self.env.topic("alarm", "evil"), json.dumps(
            {"event_id": "e" + evil, "class": "alarm", "state": "active", "ts": "t" + evil,
             "device": "d" + evil, "point": "p" + evil, "type": "fire", "cid": "1111",
             "zone": "z" + evil, "location": "l" + evil, "unit": "u" + evil, "value": 1}))
        w.wait_line(lambda l: "ALARM" in l and "\\x1b" in l, 20, "the forged event's line")
        w.p.wait(20)
        raw = "\n".join(w.lines)
        for bad in ("\x1b", "\x07", "\r"):
            self.assertNotIn(bad, raw, "a control character reached the terminal")
        self.assertFalse([l for l in w.lines if l.startswith("FORGED")],
                         "a newline from the message began a line of its own")
        self.assertIn("\\x1b[2J\\x1b]0;owned\\x07\\x0aFORGED  ALARM  active\\x5c", raw)
        self.assertEqual(w.p.returncode, 0)


class ModeTest(SiteMixin, fgtest.FiregwTest):
    """Test mode and disablement (SPEC §4): where events go, the codes, the
    states, and that the mode survives a restart."""

    def control(self, req):
        import socket
        path = os.path.join(self.env.run_dir, "control.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(path)
            c.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while b"\n" not in buf:
                chunk = c.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf.split(b"\n")[0])

    def topics_of(self, pred):
        return [m[1] for m in self.sub.snapshot() if isinstance(m[2], dict) and pred(m[2])]

    def test_test_mode_routes_to_test_topic(self):
        self.start(config())
        r = self.env.firegw("test", "start", "smoke-1", "th-1", "--by", "Kỹ thuật A",
                            "--minutes", "30", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        start = self.sub.wait_event(device="smoke-1", type="test_mode", state="active")
        self.assertEqual(start["cid"], "1607")
        self.assertEqual(start["class"], "test")
        self.assertEqual(start["by"], "Kỹ thuật A")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict) and p["points"]["fire"]["state"] == "test",
                          20, "smoke-1 in test")
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", type="smoke", state="active",
                                 **{"class": "test"})
        self.assertEqual(ev["cid"], "1111")
        ok = self.sub.wait_event(device="smoke-1", type="point_tested")
        self.assertEqual(ok["cid"], "1611")
        self.assertEqual(self.topics_of(lambda p: p.get("event_id") == ev["event_id"]),
                         [self.env.topic("test", "smoke-1")])
        self.assertEqual(self.topics_of(lambda p: p.get("class") == "alarm"), [],
                         "a point in test must never publish on alarm/")
        self.env.sim("flag", "smoke-1", "fire", "off")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict) and p["points"]["fire"]["latched"], 20,
                          "the test alarm latched")
        r = self.env.firegw("test", "end", "--all", "--by", "Kỹ thuật A", "-c",
                            self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        nt = self.sub.wait_event(device="th-1", type="point_not_tested")
        self.assertEqual(nt["cid"], "1612")
        end = self.sub.wait_event(device="smoke-1", type="test_mode", state="cleared")
        self.assertEqual(end["cid"], "3607")
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict) and p["points"]["fire"]["state"] == "normal",
                          20, "smoke-1 back to normal: the test alarm's latch was reset")
        self.assertEqual(self.topics_of(lambda p: p.get("class") == "alarm"), [])
        # after the test, a real fire is real
        self.env.sim("flag", "smoke-1", "fire", "on")
        real = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.assertEqual(real["cid"], "1111")

    def test_fire_outliving_its_test_becomes_real(self):
        self.start(config())
        r = self.env.firegw("test", "start", "smoke-1", "--by", "t", "--minutes", "5", "-c",
                            self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env.sim("flag", "smoke-1", "fire", "on")
        self.sub.wait_event(device="smoke-1", type="smoke", **{"class": "test"})
        r = self.env.firegw("test", "end", "smoke-1", "--by", "t", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["cid"], "1111")

    def test_test_mode_ends_by_itself(self):
        self.start(config())
        ans = self.control({"op": "test", "action": "start", "targets": ["th-1.temperature"],
                            "by": "t", "seconds": 2})
        self.assertTrue(ans["ok"], ans)
        self.sub.wait_event(device="th-1", type="test_mode", state="active")
        nt = self.sub.wait_event(device="th-1", type="point_not_tested")
        self.assertEqual(nt["point"], "temperature")
        self.sub.wait_event(device="th-1", type="test_mode", state="cleared")
        # bad requests are refused and change nothing
        for bad in ({"op": "test", "action": "start", "targets": ["th-1"], "by": "t",
                     "minutes": 241},
                    {"op": "test", "action": "start", "targets": ["nope"], "by": "t",
                     "minutes": 5},
                    {"op": "test", "action": "start", "targets": ["th-1"], "minutes": 5},
                    {"op": "disable", "targets": ["th-1"], "by": "t"}):
            ans = self.control(bad)
            self.assertFalse(ans["ok"], bad)

    def test_disable_and_enable(self):
        self.start(config())
        r = self.env.firegw("disable", "smoke-1", "--reason", "thay đầu báo", "--by", "Bảo",
                            "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = self.sub.wait_event(device="smoke-1", type="disabled", state="active")
        self.assertEqual(d["cid"], "1571")
        self.assertEqual(d["note"], "thay đầu báo")
        self.assertEqual(self.topics_of(lambda p: p.get("event_id") == d["event_id"]),
                         [self.env.topic("fault", "smoke-1")])
        st = self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                               and isinstance(p, dict)
                               and p["points"]["fire"]["state"] == "disabled", 20, "disabled")
        self.assertEqual(st["points"]["fire"]["disabled"]["reason"], "thay đầu báo")
        # still polled and stored, not published
        self.env.sim("flag", "smoke-1", "fire", "on")
        fgtest.wait_until(lambda: self.db_count("class='alarm' and device='smoke-1'") == 1, 20,
                          "the alarm of the disabled point stored")
        self.assertEqual(self.topics_of(lambda p: p.get("class") == "alarm"), [])
        # the mode survives a restart
        self.env.gw.stop()
        mark = self.sub.mark()
        self.env.start_gateway()
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict)
                          and p["points"]["fire"]["state"] == "disabled", 20,
                          "still disabled after a restart", since=mark)
        r = self.env.firegw("enable", "smoke-1", "--by", "Bảo", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        e = self.sub.wait_event(device="smoke-1", type="disabled", state="cleared")
        self.assertEqual(e["cid"], "3571")
        # the alarm made while it was disabled is told now
        a = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.assertEqual(a["cid"], "1111")
        self.assertGreater(a["seq"], e["seq"])
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                          and isinstance(p, dict) and p["points"]["fire"]["state"] == "alarm",
                          20, "back in service, in alarm")

    def db_count(self, where):
        db = sqlite3.connect("file:%s?mode=ro" % self.env.db, uri=True)
        try:
            return db.execute("select count(*) from events where " + where).fetchone()[0]
        finally:
            db.close()


class ReloadTest(SiteMixin, fgtest.FiregwTest):

    def test_sighup_reloads_a_valid_config_and_keeps_a_bad_one_out(self):
        self.start(config())
        pid = self.env.gw.pid
        # a broken file: refused, the daemon keeps running on the old one
        with open(self.env.config_path, "a") as f:
            f.write("bogus: 1\n")
        self.env.gw.signal(signal.SIGHUP)
        self.env.gw.wait_line(lambda l: "keeping the running configuration" in l, 20,
                              "the bad file refused")
        self.assertTrue(self.env.gw.alive())
        # a valid change: the same process restarts with it, state kept
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        extra = "  - {id: smoke-new, bus: lan, unit: 4, profile: smoke-point, poll_ms: 300}"
        self.env.write_config(config(extra=extra))
        mark = self.sub.mark()
        self.env.gw.signal(signal.SIGHUP)
        self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "offline" and p.get("reason") == "reload", 20,
                          "offline, reason reload", since=mark)
        self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-new")
                          and isinstance(p, dict), 30, "the new device's state", since=mark)
        self.assertEqual(self.env.gw.pid, pid)
        self.assertTrue(self.env.gw.alive())
        st = self.sub.wait_for(lambda t, p: t == self.env.topic("state", "smoke-1")
                               and isinstance(p, dict), 20, "smoke-1 after reload", since=mark)
        self.assertEqual(st["points"]["fire"]["state"], "alarm")
        again = [e for e in self.sub.events() if e.get("class") == "alarm"
                 and e.get("device") == "smoke-1" and e.get("state") == "active"]
        self.assertEqual([e["seq"] for e in again], [ev["seq"]], "a reload makes no new alarm")


class CheckTest(fgtest.FiregwTest):

    def test_check_reports_file_line_col(self):
        self.env.write_config(config() + "bogus: 1\n")
        r = self.env.firegw("check", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:" % self.env.config_path, r.stderr)
        self.assertRegex(r.stderr, r"firegw\.yaml:\d+:1: error: .*bogus")

    def test_check_valid(self):
        self.env.write_config(config())
        r = self.env.firegw("check", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid", r.stdout)

    def test_cli_bad_arguments(self):
        for args in (["frobnicate"], ["reset"], ["reset", "x"], ["scan", "-c", "/nonexistent"],
                     ["watch", "--count", "abc"], ["history", "--from", "yesterday"]):
            r = self.env.firegw(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), "no message for %r" % (args,))


if __name__ == "__main__":
    fgtest.main()
