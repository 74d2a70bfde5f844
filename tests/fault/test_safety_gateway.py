#!/usr/bin/env python3
"""Regression tests of issue "Safety first" (gateway side): each defect that
an outside check found, tried again the way it was found.

- a seq once published is never given to other bytes, even when events were
  held in memory (disk full) and the gateway was SIGKILLed or stopped;
- open gateway faults survive restarts: raised once, restored once;
- an MQTT 5 Response Topic outside <p>/<site>/response/ is refused;
- a disabled point has one state, on site (firegw status) and at the center;
- a reload executes the binary's path (not a deleted old image) and waits
  for held events;
- the systemd watchdog is pinged on a timer of its own, not with the
  heartbeat.

Assertions are on what a real subscriber receives, on the gateway's own
database and on what the daemon sends to a NOTIFY_SOCKET the test opens.
No timing is asserted; every wait is bounded.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402
from test_fault import FaultBase, config, figures  # noqa: E402


def payloads_by_id(sub):
    """event_id -> set of the exact payloads received under it."""
    out = {}
    for _, _, p, raw in sub.snapshot():
        if isinstance(p, dict) and "event_id" in p:
            out.setdefault(p["event_id"], set()).add(raw)
    return out


class SafetyTest(FaultBase):

    def fill_disk(self, mnt):
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            chunk = b"\0" * 65536
            for _ in range(64 * 16):  # bounded by the tmpfs size
                try:
                    f.write(chunk)
                    f.flush()
                except OSError:
                    break
        return filler

    def fire(self, dev, since):
        self.ctl.cmd("flag", dev, "fire", "on")
        return self.sub.wait_event(since=since, device=dev,
                                   **{"class": "alarm", "state": "active"})

    # ------------------------------------------ a seq is never reused
    def test_seq_never_reused_after_held_events_and_stops(self):
        """Disk full while alarms come in: they go out from memory with
        their seqs. The gateway is then SIGKILLed, restarted, stopped with
        SIGTERM and restarted again, each time with events held. No
        event_id may ever arrive with two different payloads, and the
        storage fault is raised once and restored once."""
        env = self.env
        mnt = env.mount_tmpfs(os.path.join(env.dir, "disk"), "16m")
        env.db = os.path.join(mnt, "firegw.db")
        devs = [("s-%d" % i, "lan", i, 250) for i in range(1, 7)]
        self.start(devs, telemetry_s=1)
        self.wait_all_normal(len(devs))
        filler = self.fill_disk(mnt)
        stored_before = env.db_query("SELECT last_seq FROM meta")[0][0]
        mark = self.sub.mark()
        held_ids = []
        try:
            for i, stop in ((1, "kill"), (3, "term")):
                a = self.fire("s-%d" % i, mark)
                b = self.fire("s-%d" % (i + 1), mark)
                held_ids += [a["event_id"], b["event_id"]]
                self.assertGreater(min(a["seq"], b["seq"]), stored_before,
                                   "these alarms are held in memory, not stored")
                if stop == "kill":
                    env.gw.kill()
                else:
                    self.stop_gateway()
                m2 = self.sub.mark()
                env.start_gateway()
                self.wait_online(since=m2)
            # new events after the last restart, disk still full
            c = self.fire("s-5", mark)
            held_ids.append(c["event_id"])
        finally:
            os.unlink(filler)
        self.sub.wait_event(since=mark, timeout=40, device="gateway", type="storage_fault",
                            state="cleared")
        d = self.fire("s-6", mark)
        got = payloads_by_id(self.sub)
        reused = {k: v for k, v in got.items() if len(v) > 1}
        self.assertEqual(reused, {}, "event_ids received with two different payloads")
        seqs = [int(e.split(":")[2]) for e in held_ids + [d["event_id"]]]
        self.assertEqual(len(set(seqs)), len(seqs))
        self.assertEqual(seqs, sorted(seqs), "seqs grow across restarts")
        faults = [p for _, t, p, _ in self.sub.snapshot()[mark:]
                  if isinstance(p, dict) and p.get("type") == "storage_fault"]
        self.assertEqual([f["state"] for f in faults], ["active", "cleared"],
                         "one storage fault across the restarts, restored once")
        stored = env.db_query("SELECT last_seq FROM meta")[0][0]
        self.assertGreaterEqual(stored, max(seqs))
        figures("seq_no_reuse", held_published=len(held_ids), event_ids_seen=len(got),
                reused=len(reused), last_seq=stored)

    # ------------------------------------ gateway faults across restarts
    def test_uplink_fault_once_across_five_kills(self):
        """The gateway is killed five times while its uplink is down: the
        center receives one uplink_lost (1350) and one restore, not five."""
        env = self.env
        devs = [("s-1", "lan", 1, 250)]
        self.start(devs)
        self.wait_all_normal(1)
        mark = self.sub.mark()
        env.stop_broker()
        for _ in range(5):
            self.wait_db_count(1, "type='uplink_lost' AND state='active'", what="1350 stored")
            env.gw.kill()
            env.start_gateway()
            env.gw.wait_line(lambda l: "connect" in l and "fail" in l, 30,
                             "a failed connect attempt")
        env.start_broker()
        self.sub.wait_event(since=mark, timeout=40, device="gateway", type="uplink_lost",
                            state="cleared")
        self.stop_gateway()
        lost = [p for _, t, p, _ in self.sub.snapshot()[mark:]
                if isinstance(p, dict) and p.get("type") == "uplink_lost"]
        states = [p["state"] for p in {p["event_id"]: p for p in lost}.values()]
        self.assertEqual(sorted(states), ["active", "cleared"],
                         "one 1350 and one 3350 across five restarts")
        rows = env.db_query("SELECT state FROM events WHERE type='uplink_lost' ORDER BY seq")
        self.assertEqual([r[0] for r in rows], ["active", "cleared"])
        figures("uplink_fault_restarts", kills=5, raised=states.count("active"),
                restored=states.count("cleared"))

    # ---------------------------------------------- MQTT 5 Response Topic
    def test_response_topic_outside_response_refused(self):
        """A request whose MQTT 5 Response Topic is the site's own alarm
        topic gets a forbidden answer on response/<id>; nothing is published
        on the alarm topic, and the log says so once, escaped."""
        env = self.env
        text = config([("s-1", "lan", 1, 250)]).replace("  keepalive_s: 5\n",
                                                       "  keepalive_s: 5\n  version: 5\n")
        env.write_config(text)
        env.start_broker()
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.start_gateway()
        self.wait_online()
        mark = self.sub.mark()
        alarm_topic = env.topic("alarm", "s-1")
        for i in range(3):
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(env.mqtt_port),
                            "-V", "mqttv5", "-q", "1", "-t", env.topic("request"),
                            "-D", "publish", "response-topic", alarm_topic,
                            "-m", '{"id": "evil-%d", "op": "status"}' % i],
                           check=True, capture_output=True, timeout=10)
        ans = self.sub.wait_for(lambda t, p: t == env.topic("response", "evil-2"), 20,
                                "the forbidden answer")
        self.assertFalse(ans["ok"])
        self.assertEqual(ans["error"]["code"], "forbidden")
        # a valid Response Topic still works
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(env.mqtt_port),
                        "-V", "mqttv5", "-q", "1", "-t", env.topic("request"),
                        "-D", "publish", "response-topic", env.topic("response", "mine"),
                        "-m", '{"id": "ok-1", "op": "status"}'],
                       check=True, capture_output=True, timeout=10)
        ok = self.sub.wait_for(lambda t, p: t == env.topic("response", "mine"), 20,
                               "the answer on the allowed Response Topic")
        self.assertTrue(ok["ok"])
        on_alarm = [m for m in self.sub.snapshot()[mark:] if m[1] == alarm_topic]
        self.assertEqual(on_alarm, [], "nothing may be published on the alarm topic")
        lines = [l for l in env.gw.lines if "Response Topic" in l and "refused" in l]
        self.assertEqual(len(lines), 1, "one rate-limited log line: %r" % lines)

    # ------------------------------------------- one derivation of state
    def test_disabled_point_same_state_on_site_and_at_center(self):
        """A disabled point in fire: firegw status and the retained state
        both say disabled."""
        env = self.env
        self.start([("s-1", "lan", 1, 250)])
        self.wait_all_normal(1)
        r = env.firegw("disable", "s-1.fire", "--reason", "thay đầu báo", "--by", "kỹ thuật",
                       "-c", env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        mark = self.sub.mark()
        self.ctl.cmd("flag", "s-1", "fire", "on")
        st = self.sub.wait_for(lambda t, p: t == env.topic("state", "s-1") and isinstance(p, dict)
                               and "alarm" in p["points"]["fire"]["conditions"], 20,
                               "the fire condition in the retained state", since=mark)
        self.assertEqual(st["points"]["fire"]["state"], "disabled")
        out = env.firegw("status", "-c", env.config_path)
        self.assertEqual(out.returncode, 0, out.stderr)
        line = [l for l in out.stdout.splitlines() if "s-1.fire" in l]
        self.assertEqual(len(line), 1, out.stdout)
        self.assertEqual(line[0].split()[1], "disabled", out.stdout)
        # long or control-character text is refused, not stored cut short
        r = env.firegw("disable", "s-1.fire", "--reason", "x" * 400, "--by", "a",
                       "-c", env.config_path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("reason", r.stdout + r.stderr)

    # ------------------------------------------------------------ reload
    def test_reload_execs_the_path_and_waits_for_held_events(self):
        """SIGHUP after the binary was replaced (as a package upgrade does)
        runs the new file, not the deleted old image; with events held in
        memory the reload waits and says why."""
        env = self.env
        mnt = env.mount_tmpfs(os.path.join(env.dir, "disk"), "16m")
        env.db = os.path.join(mnt, "firegw.db")
        bindir = os.path.join(env.dir, "bin")
        os.makedirs(bindir)
        exe = os.path.join(bindir, "firegw")
        shutil.copy2(fgtest.FIREGW, exe)
        env.write_config(config([("s-1", "lan", 1, 250), ("s-2", "lan", 2, 250)]))
        env.start_broker()
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        gw = env.spawn("firegw", [exe, "run", "-c", env.config_path, "-v"], env=env.gw_env())
        env.gw = gw
        gw.wait_line(lambda l: "running" in l, 15, "gateway start")
        self.wait_all_normal(2)
        # held events: the reload must wait
        filler = self.fill_disk(mnt)
        try:
            mark = self.sub.mark()
            self.fire("s-1", mark)
            with open(env.config_path, "a") as f:
                f.write("# changed 1\n")
            n = len(gw.lines)
            gw.signal(signal.SIGHUP)
            gw.wait_line(lambda l: "not reloading now" in l, 20, "reload refused", since=n)
            self.assertTrue(gw.alive())
        finally:
            os.unlink(filler)
        self.sub.wait_event(since=mark, timeout=40, device="gateway", type="storage_fault",
                            state="cleared")
        # the upgrade: a new file renamed over the old one
        shutil.copy2(fgtest.FIREGW, exe + ".new")
        os.rename(exe + ".new", exe)
        self.assertTrue(os.readlink("/proc/%d/exe" % gw.pid).endswith("(deleted)"))
        n = len(gw.lines)
        gw.signal(signal.SIGHUP)
        gw.wait_line(lambda l: "running" in l, 30, "the reloaded gateway", since=n)
        self.assertTrue(gw.alive())
        target = os.readlink("/proc/%d/exe" % gw.pid)
        self.assertEqual(target, exe, "the reload must run the file now at the path")
        lost = [l for l in gw.lines if "could not be written" in l]
        self.assertEqual(lost, [])

    # ---------------------------------------------------------- watchdog
    def notify_socket(self):
        """A NOTIFY_SOCKET of the test's own, as systemd would give."""
        path = os.path.join(self.env.dir, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        ns.settimeout(1.0)
        self.addCleanup(ns.close)
        return ns, path

    def wait_pings(self, ns, got, n, timeout=30):
        """Reads notify messages into got until n more WATCHDOG=1 came."""
        want = got.count("WATCHDOG=1") + n
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout) + 5):  # bounded: each recv waits at most 1 s
            if time.monotonic() > deadline or got.count("WATCHDOG=1") >= want:
                break
            try:
                got += ns.recv(4096).decode().split("\n")
            except socket.timeout:
                pass
        self.assertGreaterEqual(got.count("WATCHDOG=1"), want, "notify messages: %r" % got)

    def test_watchdog_pinged_on_its_own_timer(self):
        """heartbeat_s 300 under a 2 s watchdog: the daemon pings at half
        the interval, not with the heartbeat (it used to be killed)."""
        env = self.env
        text = config([("s-1", "lan", 1, 250)]).replace("heartbeat_s: 5", "heartbeat_s: 300")
        env.write_config(text)
        env.start_broker()
        env.start_sim()
        ns, path = self.notify_socket()
        env.start_gateway(extra_env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        got = []
        self.wait_pings(ns, got, 5)
        self.assertIn("READY=1", got)

    def test_watchdog_not_pinged_while_a_bus_thread_is_stuck(self):
        """A bus thread blocked far longer than half the watchdog interval
        (a unit that never answers, with an 8 s timeout) stops the pings, so
        systemd would restart the daemon; once it moves again they resume."""
        env = self.env
        text = config([("s-1", "lan", 1, 1000)]).replace("heartbeat_s: 5", "heartbeat_s: 300")
        text = text.replace("    dead_retry_s: 1\n", "    dead_retry_s: 1\n    timeout_ms: 8000\n")
        env.write_config(text)
        env.start_broker()
        env.start_sim()
        ctl = env.simctl()
        ns, path = self.notify_socket()
        env.start_gateway(extra_env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
        got = []
        self.wait_pings(ns, got, 2)
        ctl.cmd("mode", "s-1", "silent")
        env.gw.wait_line(lambda l: "made no progress" in l and "not pinging" in l, 30,
                         "the watchdog held back")
        ctl.cmd("mode", "s-1", "normal")
        self.wait_pings(ns, got, 2, timeout=40)
        self.assertTrue(env.gw.alive())


if __name__ == "__main__":
    fgtest.main()
