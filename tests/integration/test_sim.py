#!/usr/bin/env python3
"""End-to-end tests of firegw-sim, the Modbus field simulator.

Starts build/firegw-sim (or $FIREGW_BUILD/firegw-sim) with a small config on
a free loopback TCP port and on a socat pty pair, then reads it with mbpoll
(a Modbus master none of us wrote) and drives it through its control socket.
Every process is killed by its PID and every wait is bounded.
Run from the repository root: python3 tests/integration/test_sim.py
"""
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FIREGW_BUILD", "build")
SIM = os.path.join(ROOT, BUILD, "firegw-sim")
WAIT_S = 10  # upper bound for any single wait

CONFIG = """\
site:
  id: sim-test
storage:
  path: {dir}/db.sqlite
buses:
  - id: lan
    tcp: {{host: 127.0.0.1, port: 502}}
  - id: rs485-1
    rtu: {{device: {dir}/gw, baud: 9600, parity: N, data_bits: 8, stop_bits: 1}}
devices:
  - {{id: smoke-a1, bus: lan, unit: 3, profile: smoke-point}}
  - {{id: th-1, bus: lan, unit: 4, profile: th-sensor}}
  - {{id: heat-1, bus: rs485-1, unit: 3, profile: heat-a1}}
  - id: panel-1
    bus: rs485-1
    unit: 9
    profile: di8-panel-outputs
    points:
      in1: {{as: fire, zone: khu-b, zone_no: 21}}
      in2: {{as: fault}}
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=WAIT_S, step=0.05):
    """Polls pred() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def kill(proc):
    if proc and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT_S)


class Sim:
    """A running simulator with a thread collecting its stdout lines."""

    def __init__(self, args, cwd):
        self.lines = queue.Queue()
        self.proc = subprocess.Popen([SIM] + args, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.err = []
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err.append),
                             daemon=True)]
        for t in self.threads:
            t.start()

    def stop(self):
        """Kills the simulator if still running, then closes its pipes."""
        kill(self.proc)
        for t in self.threads:
            t.join(timeout=WAIT_S)
        self.proc.stdout.close()
        self.proc.stderr.close()

    @staticmethod
    def _pump(f, sink):
        for line in f:
            sink(line.rstrip("\n"))

    def expect_line(self, text, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line == text:
                return True
        return False


class SimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(SIM, os.X_OK):
            raise RuntimeError(f"{SIM} not built: run 'make all' first")
        for tool in ("mbpoll", "socat"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} is missing: run 'make deps'")
        cls.dir = tempfile.mkdtemp(prefix="firegw-sim-test-")
        cls.cfg = os.path.join(cls.dir, "c.yaml")
        with open(cls.cfg, "w") as f:
            f.write(CONFIG.format(dir=cls.dir))
        cls.gw_tty = os.path.join(cls.dir, "gw")
        cls.sim_tty = os.path.join(cls.dir, "sim")
        cls.socat = subprocess.Popen(
            ["socat", "pty,raw,echo=0,link=" + cls.gw_tty, "pty,raw,echo=0,link=" + cls.sim_tty],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.sim = None
        try:
            if not wait_for(lambda: os.path.exists(cls.gw_tty) and os.path.exists(cls.sim_tty)):
                raise RuntimeError("socat did not create the pty pair")
            cls.port = free_port()
            cls.ctl_path = os.path.join(cls.dir, "ctl")
            cls.sim = Sim(["-c", cls.cfg, "--ctl", cls.ctl_path, "--tcp",
                           f"lan=127.0.0.1:{cls.port}", "--rtu", f"rs485-1={cls.sim_tty}"],
                          cls.dir)
            if not cls.sim.expect_line("firegw-sim: ready"):
                raise RuntimeError("simulator not ready: " + "\n".join(cls.sim.err))
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.sim:
            cls.sim.stop()
        kill(cls.socat)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        for dev in ("smoke-a1", "th-1", "heat-1", "panel-1"):
            self.ctl_ok("mode", dev, "normal")

    # helpers

    def ctl(self, *args):
        r = subprocess.run([SIM, "ctl", self.ctl_path] + list(args), capture_output=True,
                           text=True, timeout=WAIT_S)
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def ctl_ok(self, *args):
        rc, out, err = self.ctl(*args)
        self.assertEqual(rc, 0, f"ctl {args}: {out} {err}")
        self.assertTrue(out.startswith("ok"), out)
        return out

    def mbpoll(self, *args, rtu=False, timeout_s="0.5"):
        """One mbpoll read; returns (rc, values list, stderr)."""
        if rtu:
            self.drain_rtu()
            cmd = ["mbpoll", "-m", "rtu", "-b", "9600", "-P", "none", "-1", "-0", "-o",
                   timeout_s] + list(args) + [self.gw_tty]
        else:
            cmd = ["mbpoll", "-m", "tcp", "-1", "-0", "-o", timeout_s, "-p",
                   str(self.port)] + list(args) + ["127.0.0.1"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT_S)
        vals = []
        for line in r.stdout.splitlines():
            if line.startswith("[") and "]:" in line:
                vals.append(int(line.split(":", 1)[1].split()[0]))
        return r.returncode, vals, r.stderr

    def drain_rtu(self):
        """Drops bytes a previous mbpoll left unread on the master's pty
        (a garbage answer longer than libmodbus expected): a real master
        flushes its port after an error, mbpoll does not."""
        fd = os.open(self.gw_tty, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            for _ in range(64):
                try:
                    if not os.read(fd, 4096):
                        break
                except BlockingIOError:
                    break
        finally:
            os.close(fd)

    def read_ok(self, *args, rtu=False):
        rc, vals, err = self.mbpoll(*args, rtu=rtu)
        self.assertEqual(rc, 0, err)
        return vals

    def stats(self, dev):
        out = self.ctl_ok("stats", dev)
        parts = dict(p.split("=") for p in out.split()[2:])
        return int(parts["requests"]), int(parts["answered"])

    # error paths first

    def test_01_bad_arguments(self):
        r = subprocess.run([SIM], capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("-c CONFIG.yaml", r.stderr)
        r = subprocess.run([SIM, "-c", self.cfg], capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--ctl", r.stderr)
        ctl2 = os.path.join(self.dir, "ctl2")
        r = subprocess.run([SIM, "-c", self.cfg, "--ctl", ctl2, "--rtu", "nobus=/dev/null"],
                           capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no bus 'nobus'", r.stderr)
        r = subprocess.run([SIM, "-c", self.cfg, "--ctl", ctl2, "--tcp", "rs485-1=127.0.0.1:1"],
                           capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("use --rtu", r.stderr)
        r = subprocess.run([SIM, "-c", os.path.join(self.dir, "missing.yaml"), "--ctl", ctl2],
                           capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.yaml", r.stderr)

    def test_02_bad_scenario_refused(self):
        bad = os.path.join(self.dir, "bad.scn")
        with open(bad, "w") as f:
            f.write("# narration\nat 0 echo hello\n\nat 1 set smoke-a1 nothing 3\n")
        ctl2 = os.path.join(self.dir, "ctl3")
        r = subprocess.run([SIM, "-c", self.cfg, "--ctl", ctl2, "--tcp",
                            f"lan=127.0.0.1:{free_port()}", "--scenario", bad],
                           capture_output=True, text=True, timeout=WAIT_S)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{bad}:4: device 'smoke-a1' (profile 'smoke-point') has no value 'nothing'",
                      r.stderr)
        self.assertNotIn("ready", r.stdout)
        rc, out, _ = self.ctl("play", bad)
        self.assertEqual(rc, 1)
        self.assertIn(f"{bad}:4:", out)

    def test_03_control_errors(self):
        rc, out, _ = self.ctl("set", "nodev", "obscuration", "1")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "error: no device 'nodev' (see 'list')")
        rc, out, _ = self.ctl("set", "smoke-a1", "obscuration", "9999")
        self.assertEqual(rc, 1)
        self.assertIn("does not fit", out)
        rc, out, _ = self.ctl("flag", "th-1", "fire", "on")
        self.assertEqual(rc, 1)
        self.assertIn("has no fire flag", out)
        rc, out, _ = self.ctl("mode", "smoke-a1", "exception")
        self.assertEqual(rc, 1)
        r = subprocess.run([SIM, "ctl", os.path.join(self.dir, "nosock"), "list"],
                           capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot connect", r.stderr)
        mode = stat.S_IMODE(os.stat(self.ctl_path).st_mode)
        self.assertEqual(mode, 0o600)

    def test_04_tcp_unknown_unit_and_bad_address(self):
        rc, _, err = self.mbpoll("-a", "7", "-t", "3", "-r", "0", "-c", "1")
        self.assertNotEqual(rc, 0)
        self.assertIn("Target device failed to respond", err)  # exception 0x0B
        rc, _, err = self.mbpoll("-a", "3", "-t", "3", "-r", "2", "-c", "5")
        self.assertNotEqual(rc, 0)
        self.assertIn("Illegal data address", err)
        rc, _, err = self.mbpoll("-a", "3", "-t", "0", "-r", "0", "-c", "1")
        self.assertNotEqual(rc, 0)
        self.assertIn("Illegal data address", err)  # a smoke detector has no coils

    def test_05_fault_modes_tcp(self):
        self.ctl_ok("reset-stats")
        self.ctl_ok("mode", "smoke-a1", "silent")
        rc, _, err = self.mbpoll("-a", "3", "-t", "3", "-r", "0", "-c", "2")
        self.assertNotEqual(rc, 0)
        self.assertIn("timed out", err)
        self.assertEqual(self.stats("smoke-a1"), (1, 0))
        self.ctl_ok("mode", "smoke-a1", "exception", "4")
        rc, _, err = self.mbpoll("-a", "3", "-t", "3", "-r", "0", "-c", "2")
        self.assertNotEqual(rc, 0)
        self.assertIn("Slave device or server failure", err)
        self.ctl_ok("mode", "smoke-a1", "garbage")
        rc, _, err = self.mbpoll("-a", "3", "-t", "3", "-r", "0", "-c", "2")
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.stats("smoke-a1"), (3, 2))
        self.ctl_ok("mode", "smoke-a1", "normal")
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "2")[1], 0)

    def test_06_fault_modes_rtu(self):
        # garbage is random bytes: what libmodbus makes of them depends on
        # the draw (a CRC error, a foreign unit id, a short frame, silence)
        garbage = ("Invalid CRC", "Response not from requested slave", "Invalid data",
                   "timed out", "Too many data")
        cases = [("silent", ("timed out",)), ("badcrc", ("Invalid CRC",)),
                 ("wrongunit", ("Response not from requested slave",)),
                 ("garbage", garbage)]
        for mode, msgs in cases:
            with self.subTest(mode=mode):
                self.ctl_ok("mode", "heat-1", mode)
                rc, _, err = self.mbpoll("-a", "3", "-t", "3", "-r", "0", "-c", "2", rtu=True)
                self.assertNotEqual(rc, 0)
                self.assertTrue(any(m in err for m in msgs), err)
        self.ctl_ok("mode", "heat-1", "exception", "2")
        rc, _, err = self.mbpoll("-a", "3", "-t", "3", "-r", "0", "-c", "2", rtu=True)
        self.assertIn("Illegal data address", err)
        self.ctl_ok("mode", "heat-1", "slow", "100")
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "2", rtu=True),
                         [0, 250])
        # a unit nobody simulates stays silent on a serial bus
        rc, _, err = self.mbpoll("-a", "5", "-t", "3", "-r", "0", "-c", "1", rtu=True)
        self.assertIn("timed out", err)

    # features

    def test_10_normal_values_tcp(self):
        self.ctl_ok("set", "smoke-a1", "obscuration", "0")
        self.ctl_ok("flag", "smoke-a1", "fire", "off")
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "2"), [0, 0])
        # th-sensor: 50 %RH and 25 °C in tenths, holding registers
        self.ctl_ok("ramp", "th-1", "temperature", "0")
        self.ctl_ok("set", "th-1", "temperature", "25")
        self.assertEqual(self.read_ok("-a", "4", "-t", "4", "-r", "0", "-c", "2"), [500, 250])

    def test_11_set_and_flag_tcp(self):
        self.ctl_ok("set", "smoke-a1", "obscuration", "4.5")
        self.ctl_ok("flag", "smoke-a1", "fire", "on")
        self.ctl_ok("flag", "smoke-a1.fire", "tamper", "on")
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "2"), [9, 450])
        self.ctl_ok("flag", "smoke-a1", "fire", "off")
        self.ctl_ok("flag", "smoke-a1", "tamper", "off")
        self.ctl_ok("set", "smoke-a1", "obscuration", "0")
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "2"), [0, 0])

    def test_12_mbpoll_writes(self):
        rc = subprocess.run(["mbpoll", "-m", "tcp", "-1", "-0", "-o", "0.5", "-p", str(self.port),
                             "-a", "4", "-t", "4", "-r", "0", "127.0.0.1", "321"],
                            capture_output=True, text=True, timeout=WAIT_S).returncode
        self.assertEqual(rc, 0)
        self.assertEqual(self.read_ok("-a", "4", "-t", "4", "-r", "0", "-c", "1"), [321])
        self.ctl_ok("set", "th-1", "humidity", "50")

    def test_13_rtu_inputs_and_raw(self):
        self.ctl_ok("flag", "panel-1.in1", "fire", "on")
        self.ctl_ok("input", "panel-1.in4", "on")  # an unused channel is still a wire
        vals = self.read_ok("-a", "9", "-t", "1", "-r", "0", "-c", "8", rtu=True)
        self.assertEqual(vals, [1, 0, 0, 1, 0, 0, 0, 0])
        self.ctl_ok("input", "panel-1.in1", "off")
        self.ctl_ok("input", "panel-1.in4", "off")
        self.ctl_ok("raw", "heat-1", "input", "1", "600")
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "1", "-c", "1", rtu=True),
                         [600])
        self.ctl_ok("set", "heat-1", "temperature", "25")

    def test_14_ramp(self):
        self.ctl_ok("set", "th-1", "temperature", "25")
        self.ctl_ok("ramp", "th-1", "temperature", "600", "27")  # 10 °C/s, stops at 27
        ok = wait_for(lambda: self.read_ok("-a", "4", "-t", "4", "-r", "1", "-c", "1") == [270])
        self.assertTrue(ok)
        self.ctl_ok("ramp", "th-1", "temperature", "-600", "26")
        self.assertTrue(
            wait_for(lambda: self.read_ok("-a", "4", "-t", "4", "-r", "1", "-c", "1") == [260]))
        self.ctl_ok("set", "th-1", "temperature", "25")

    def test_15_scenario(self):
        path = os.path.join(self.dir, "ok.scn")
        with open(path, "w") as f:
            f.write("# a small fire\n"
                    "at 0.2 set smoke-a1 obscuration 2.6\n"
                    "at 0 echo scene: smoke   rising\n"
                    "at 0.4 flag smoke-a1 fire on\n"
                    "at 0.5 echo scene: done\n")
        self.ctl_ok("play", path)
        self.assertTrue(self.sim.expect_line("scene: smoke   rising"))
        self.assertTrue(self.sim.expect_line("scene: done"))
        self.assertEqual(self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "2"), [1, 260])
        self.ctl_ok("flag", "smoke-a1", "fire", "off")
        self.ctl_ok("set", "smoke-a1", "obscuration", "0")

    def test_16_stats_and_list(self):
        self.ctl_ok("reset-stats")
        self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "1")
        self.read_ok("-a", "3", "-t", "3", "-r", "0", "-c", "1")
        self.assertEqual(self.stats("smoke-a1"), (2, 2))
        out = self.ctl_ok("stats")
        self.assertIn("smoke-a1:2:2", out.split())
        self.assertIn("heat-1:0:0", out.split())
        out = self.ctl_ok("list")
        self.assertIn("panel-1:rs485-1:9:di8-panel-outputs", out.split())


class SimLifecycleTest(unittest.TestCase):
    """Clean stops: SIGTERM, and 'quit' on the control socket."""

    def start(self, d):
        with open(os.path.join(d, "c.yaml"), "w") as f:
            f.write(CONFIG.format(dir=d))
        ctl = os.path.join(d, "ctl")
        sim = Sim(["-c", "c.yaml", "--ctl", ctl, "--tcp", f"lan=127.0.0.1:{free_port()}"], d)
        self.addCleanup(sim.stop)
        self.assertTrue(sim.expect_line("firegw-sim: ready"), "\n".join(sim.err))
        return sim, ctl

    def test_paced_rtu(self):
        with tempfile.TemporaryDirectory() as d:
            gw, simtty = os.path.join(d, "gw"), os.path.join(d, "sim")
            socat = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + gw,
                                      "pty,raw,echo=0,link=" + simtty],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(kill, socat)
            self.assertTrue(wait_for(lambda: os.path.exists(gw) and os.path.exists(simtty)))
            with open(os.path.join(d, "c.yaml"), "w") as f:
                f.write(CONFIG.format(dir=d))
            ctl = os.path.join(d, "ctl")
            sim = Sim(["-c", "c.yaml", "--ctl", ctl, "--tcp", f"lan=127.0.0.1:{free_port()}",
                       "--rtu", f"rs485-1={simtty}", "--pace"], d)
            self.addCleanup(sim.stop)
            self.assertTrue(sim.expect_line("firegw-sim: ready"), "\n".join(sim.err))
            r = subprocess.run([SIM, "ctl", ctl, "set", "heat-1", "temperature", "57.3"],
                               capture_output=True, text=True, timeout=WAIT_S)
            self.assertEqual(r.returncode, 0, r.stdout)
            r = subprocess.run(["mbpoll", "-m", "rtu", "-b", "9600", "-P", "none", "-1", "-0",
                                "-o", "1", "-a", "3", "-t", "3", "-r", "0", "-c", "2", gw],
                               capture_output=True, text=True, timeout=WAIT_S)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("[1]: \t573", r.stdout)

    def test_sigterm(self):
        with tempfile.TemporaryDirectory() as d:
            sim, ctl = self.start(d)
            os.kill(sim.proc.pid, signal.SIGTERM)
            self.assertEqual(sim.proc.wait(timeout=WAIT_S), 0)
            self.assertFalse(os.path.exists(ctl))

    def test_quit_and_scenario_from_start(self):
        with tempfile.TemporaryDirectory() as d:
            sim, ctl = self.start(d)
            r = subprocess.run([SIM, "ctl", ctl, "quit"], capture_output=True, text=True,
                               timeout=WAIT_S)
            self.assertEqual(r.stdout.strip(), "ok bye")
            self.assertEqual(sim.proc.wait(timeout=WAIT_S), 0)
            scn = os.path.join(d, "end.scn")
            with open(scn, "w") as f:
                f.write("at 0 echo first\nat 0.3 quit\n")
            sim2 = Sim(["-c", "c.yaml", "--ctl", ctl, "--tcp", f"lan=127.0.0.1:{free_port()}",
                        "--scenario", scn], d)
            self.addCleanup(sim2.stop)
            self.assertTrue(sim2.expect_line("first"))
            self.assertEqual(sim2.proc.wait(timeout=WAIT_S), 0)


if __name__ == "__main__":
    os.chdir(ROOT)
    unittest.main(verbosity=2)
