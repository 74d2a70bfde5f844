#!/usr/bin/env python3
"""Integration tests of issue 7's safety defects: one daemon per database
(SPEC §7), and control-socket clients that each receive only their own
answers. Real mosquitto, simulator and gateway; assertions on the exit
status and output of the second daemon, on what a real subscriber receives,
and on what raw control-socket clients (the line JSON protocol) read."""

import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

CONFIG = """
site:
  id: @SITE@
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: @HB@
  telemetry_s: 0
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
"""


def config(hb=5):
    return CONFIG.replace("@HB@", str(hb))


class Client:
    """A raw control-socket client: one JSON object per line each way."""

    def __init__(self, path, timeout=30.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def line(self):
        for _ in range(100000):  # bounded: each recv waits at most the socket timeout
            if b"\n" in self.buf:
                break
            chunk = self.s.recv(4096)
            if not chunk:
                raise AssertionError("daemon closed the control socket")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return json.loads(raw)

    def until_done(self, limit=1000):
        """Every reply line up to and including the one with "done"."""
        out = []
        for _ in range(limit):
            r = self.line()
            out.append(r)
            if r.get("done"):
                return out
        raise AssertionError("no \"done\" in %d lines: %r" % (limit, out[-5:]))

    def close(self):
        self.s.close()


class SafetyTest(fgtest.FiregwTest):

    def start(self, hb=5):
        env = self.env
        env.write_config(config(hb))
        env.start_broker()
        env.start_sim()
        self.sub = env.subscriber()
        env.start_gateway()
        self.sub.wait_for(lambda t, p: t == env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online", 20, "online")
        self.sub.wait_for(lambda t, p: t == env.topic("state", "th-1") and isinstance(p, dict)
                          and p["points"]["temperature"]["state"] == "normal", 20, "th-1 normal")

    def sock(self):
        return os.path.join(self.env.run_dir, "control.sock")

    def ping(self):
        c = Client(self.sock(), timeout=10)
        try:
            c.send({"op": "ping"})
            return c.until_done()
        finally:
            c.close()

    def second_daemon(self, name="firegw-second"):
        """Starts `firegw run` on the same config; waits (bounded) for it to exit."""
        p = self.env.spawn(name, [fgtest.FIREGW, "run", "-c", self.env.config_path, "-v"],
                           env=self.env.gw_env())
        try:
            p.p.wait(20)
        except Exception:
            raise AssertionError("a second daemon on the same database is still running:\n%s"
                                 % "\n".join(p.lines[-15:]))
        p.t.join(5)
        return p

    def assert_refused_by(self, second, pid):
        self.assertNotEqual(second.p.returncode, 0)
        out = "\n".join(second.lines)
        self.assertIn("pid %d" % pid, out)
        self.assertNotIn("running", out)

    # ------------------------------------------------ one daemon per database
    def test_second_daemon_refused_first_untouched(self):
        self.start()
        env = self.env
        first = env.gw.pid
        sock_ino = os.stat(self.sock()).st_ino
        second = self.second_daemon()
        self.assert_refused_by(second, first)
        # the first keeps its control socket (the same one) and answers on it
        self.assertEqual(os.stat(self.sock()).st_ino, sock_ino)
        r = self.ping()
        self.assertTrue(r[-1].get("ok"), r)
        r = env.firegw("reset", "-c", env.config_path, "smoke-1", "--by", "tester")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # read-only commands work beside it
        r = env.firegw("status", "-c", env.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("daemon running", r.stdout)
        # and it still publishes: its next heartbeat, then a fresh alarm
        mark = self.sub.mark()
        self.sub.wait_for(lambda t, p: t == env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online", 20, "the next heartbeat", since=mark)
        env.sim("flag", "smoke-1", "fire", "on")
        self.sub.wait_event(since=mark, device="smoke-1",
                            **{"class": "alarm", "state": "active"})
        self.assertTrue(env.gw.alive())
        with open(env.db + ".lock") as f:
            self.assertEqual(int(f.read().strip()), first)

    def test_lock_kept_across_sighup_reload(self):
        self.start()
        env = self.env
        first = env.gw.pid
        env.write_config(config(hb=6))
        since = len(env.gw.lines)
        env.gw.signal(signal.SIGHUP)
        # the re-executed image does not refuse on its own lock
        env.gw.wait_line(lambda l: "running" in l, 30, "running again after the reload",
                         since=since)
        self.assertTrue(env.gw.alive())
        self.assertEqual(env.gw.pid, first)
        second = self.second_daemon()
        self.assert_refused_by(second, first)
        self.assertTrue(self.ping()[-1].get("ok"))

    def test_lock_released_on_stop(self):
        self.start()
        self.assertEqual(self.env.gw.stop(), 0)
        # a killed or stopped daemon leaves the file; it does not block the next
        self.assertTrue(os.path.exists(self.env.db + ".lock"))
        self.env.start_gateway()
        self.assertTrue(self.ping()[-1].get("ok"))

    # --------------------------------------- control clients and their jobs
    def test_probe_clients_get_only_their_own_results(self):
        self.start()
        # A: a long scan (units 5..40 do not answer, 100 ms each), closed early
        a = Client(self.sock())
        a.send({"op": "scan", "bus": "lan", "from": 1, "to": 40, "timeout_ms": 100})
        first = a.line()
        self.assertEqual(first.get("unit"), 1, first)
        a.close()
        # B takes A's slot and probes a device of the same bus: its probe
        # runs after A's scan; A's late results and A's "done" are not B's
        b = Client(self.sock())
        b.send({"op": "probe", "device": "th-1"})
        got = b.until_done()
        b.close()
        self.assertEqual([r.get("device") for r in got[:-1]], ["th-1"], got)
        self.assertTrue(got[-1].get("ok"), got)
        self.assertNotIn("unit", got[-1])

        # C and D at once, on two devices: each gets its own
        c, d = Client(self.sock()), Client(self.sock())
        c.send({"op": "probe", "device": "th-1"})
        d.send({"op": "probe", "device": "smoke-1"})
        gc, gd = c.until_done(), d.until_done()
        c.close()
        d.close()
        self.assertEqual([r.get("device") for r in gc[:-1]], ["th-1"], gc)
        self.assertEqual([r.get("device") for r in gd[:-1]], ["smoke-1"], gd)
        self.assertTrue(gc[-1].get("ok") and gd[-1].get("ok"))
        # the CLI too, beside a raw client's scan that is abandoned
        e = Client(self.sock())
        e.send({"op": "scan", "bus": "lan", "from": 5, "to": 20, "timeout_ms": 100})
        e.close()
        r = self.env.firegw("probe", "-c", self.env.config_path, "smoke-1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("smoke-1 (unit 1):", r.stdout)


if __name__ == "__main__":
    fgtest.main()
