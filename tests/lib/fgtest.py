"""fgtest - the harness of firegw's integration and fault tests.

Runs the real parts on loopback: a private mosquitto on a free port (with
persistence, a large queue and anonymous access, as the issue asks), the
Modbus field simulator over TCP and over RTU (a socat pty pair), the real
firegw binary, and a real subscriber (mosquitto_sub, with a fixed client id
and a persistent session). Tests assert on what that subscriber receives.

Every process started here is recorded and stopped by its PID at the end;
every wait is bounded in time; nothing sleeps a fixed time where an event
(a port that accepts, a line that arrives) can be waited for.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("FIREGW_BUILD", "build"))
FIREGW = os.path.join(BUILD, "firegw")
SIM = os.path.join(BUILD, "firegw-sim")
SENSORS = os.path.join(ROOT, "sensors")
PREFIX = "firegw"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, step=0.05):
    """Waits for pred() to be true, at most timeout seconds (bounded loop)."""
    deadline = time.monotonic() + timeout
    rounds = int(timeout / step) + 2
    for _ in range(rounds):
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            break
        time.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


def wait_port(port, timeout=10.0):
    def accepts():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(accepts, timeout, "127.0.0.1:%d to accept" % port)


class Proc:
    """A started process, its output collected by a reader thread."""

    def __init__(self, name, argv, env=None, cwd=None, log_dir=None):
        self.name = name
        self.argv = argv
        self.lines = []
        self.cond = threading.Condition()
        self.log = open(os.path.join(log_dir, name + ".log"), "a") if log_dir else None
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        self.pid = self.p.pid
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.log:
                self.log.write(line + "\n")
                self.log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_line(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            start = 0
            while True:
                for i in range(start, len(self.lines)):
                    if pred(self.lines[i]):
                        return self.lines[i]
                start = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None and start == len(self.lines):
                    if self.p.poll() is not None:
                        break
                    if left <= 0:
                        break
                self.cond.wait(min(max(left, 0.01), 0.5))
        raise AssertionError("%s: no line for %s within %.1f s; last lines:\n%s" % (
            self.name, what, timeout, "\n".join(self.lines[-15:])))

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
        self.t.join(2)
        self._close()
        return self.p.returncode

    def _close(self):
        if self.log:
            self.log.close()
            self.log = None
        if self.p.stdout and not self.t.is_alive():
            self.p.stdout.close()

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.p.wait(5)
        self.t.join(2)
        self._close()
        return self.p.returncode


class Subscriber:
    """mosquitto_sub with a fixed client id and a persistent session (QoS 1).
    Collects (retain, topic, payload) tuples in arrival order."""

    def __init__(self, env, topic, client_id):
        self.env = env
        self.msgs = []
        self.cond = threading.Condition()
        argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(env.mqtt_port), "-q", "1",
                "-c", "-i", client_id, "-k", "5", "-t", topic, "-F", "%r %t %p"]
        self.proc = env.spawn("sub-" + client_id, argv)
        self.proc_thread = threading.Thread(target=self._pump, daemon=True)
        self.proc_thread.start()

    def _pump(self):
        seen = 0
        while True:
            with self.proc.cond:
                while len(self.proc.lines) <= seen:
                    if not self.proc.alive() and len(self.proc.lines) <= seen:
                        return
                    self.proc.cond.wait(0.5)
                new = self.proc.lines[seen:]
                seen = len(self.proc.lines)
            for line in new:
                parts = line.split(" ", 2)
                if len(parts) < 3 or parts[0] not in ("0", "1"):
                    continue
                try:
                    payload = json.loads(parts[2]) if parts[2] else None
                except ValueError:
                    payload = parts[2]
                with self.cond:
                    self.msgs.append((parts[0] == "1", parts[1], payload, parts[2]))
                    self.cond.notify_all()

    def snapshot(self):
        with self.cond:
            return list(self.msgs)

    def mark(self):
        """Index of the next message: pass as since= to wait only for later ones."""
        with self.cond:
            return len(self.msgs)

    def wait_for(self, pred, timeout=20.0, what="a message", since=0):
        deadline = time.monotonic() + timeout
        with self.cond:
            start = since
            while True:
                for i in range(start, len(self.msgs)):
                    m = self.msgs[i]
                    if pred(m[1], m[2]):
                        return m[2]
                start = len(self.msgs)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
        raise AssertionError("subscriber: no message for %s within %.1f s; last:\n%s" % (
            what, timeout, "\n".join("%s %s" % (m[1], m[3][:200]) for m in self.msgs[-10:])))

    def events(self):
        return [m[2] for m in self.snapshot()
                if isinstance(m[2], dict) and "event_id" in m[2]]

    def wait_event(self, timeout=20.0, since=0, **fields):
        def match(topic, p):
            if not isinstance(p, dict) or "event_id" not in p:
                return False
            return all(p.get(k) == v for k, v in fields.items())
        return self.wait_for(match, timeout, "event %r" % fields, since=since)

    def stop(self):
        self.proc.stop()


class Env:
    """One test's world: a temp dir, a broker, a simulator, a gateway."""

    def __init__(self, test_name):
        self.dir = tempfile.mkdtemp(prefix="firegw-%s-" % test_name)
        self.procs = []
        self.broker = None
        self.sim_proc = None
        self.gw = None
        self.mqtt_port = free_port()
        self.tcp_port = free_port()
        self.run_dir = os.path.join(self.dir, "run")
        self.db = os.path.join(self.dir, "firegw.db")
        self.tty_gw = os.path.join(self.dir, "tty-gw")
        self.tty_sim = os.path.join(self.dir, "tty-sim")
        self.ctl = os.path.join(self.dir, "sim.sock")
        self.config_path = os.path.join(self.dir, "firegw.yaml")
        self.site = "test-site"

    # -- processes
    def spawn(self, name, argv, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = Proc(name, argv, env=e, log_dir=self.dir)
        self.procs.append(p)
        return p

    def cleanup(self, keep=False):
        for p in reversed(self.procs):
            try:
                p.signal(signal.SIGCONT)
                p.stop(5)
            except Exception:
                p.kill()
        if not keep and not os.environ.get("FIREGW_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    lines = f.read().splitlines()[-40:]
                out.append("---- %s (last %d lines)\n%s" % (name, len(lines), "\n".join(lines)))
        return "\n".join(out)

    # -- broker
    def start_broker(self, keepalive_note=None):
        conf = os.path.join(self.dir, "mosquitto.conf")
        pdir = os.path.join(self.dir, "mosq")
        os.makedirs(pdir, exist_ok=True)
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.mqtt_port)
            f.write("allow_anonymous true\n")
            f.write("persistence true\n")
            f.write("persistence_location %s/\n" % pdir)
            f.write("autosave_interval 1\n")
            f.write("max_queued_messages 1000000\n")
            f.write("max_inflight_messages 0\n")
            f.write("log_dest stdout\n")
        self.broker = self.spawn("mosquitto", ["mosquitto", "-c", conf])
        wait_port(self.mqtt_port)
        return self.broker

    def stop_broker(self):
        self.broker.stop()

    # -- simulator
    def start_pty(self):
        p = self.spawn("socat", ["socat", "-d", "-d",
                                 "pty,raw,echo=0,link=%s" % self.tty_gw,
                                 "pty,raw,echo=0,link=%s" % self.tty_sim])
        wait_until(lambda: os.path.exists(self.tty_gw) and os.path.exists(self.tty_sim),
                   10, "the socat pty pair")
        return p

    def start_sim(self, rtu_bus=None, scenario=None, pace=False):
        argv = [SIM, "-c", self.config_path, "--ctl", self.ctl]
        if rtu_bus:
            argv += ["--rtu", "%s=%s" % (rtu_bus, self.tty_sim)]
        if scenario:
            argv += ["--scenario", scenario]
        if pace:
            argv += ["--pace"]
        self.sim_proc = self.spawn("sim", argv, env={"FIREGW_SENSORS_DIR": SENSORS})
        self.sim_proc.wait_line(lambda l: "ready" in l, 15, "simulator ready")
        return self.sim_proc

    def sim(self, *args, check=True):
        r = subprocess.run([SIM, "ctl", self.ctl] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise AssertionError("sim %s: %s%s" % (" ".join(map(str, args)), r.stdout, r.stderr))
        return r.stdout.strip()

    def sim_stats(self, device):
        out = self.sim("stats", device)
        fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
        return int(fields.get("requests", "0")), int(fields.get("answered", "0"))

    # -- gateway
    def gw_env(self):
        return {"FIREGW_SENSORS_DIR": SENSORS, "RUNTIME_DIRECTORY": self.run_dir}

    def write_config(self, text):
        text = (text.replace("@MQTT_PORT@", str(self.mqtt_port))
                    .replace("@TCP_PORT@", str(self.tcp_port))
                    .replace("@DB@", self.db)
                    .replace("@TTY@", self.tty_gw)
                    .replace("@SITE@", self.site))
        with open(self.config_path, "w") as f:
            f.write(text)

    def start_gateway(self, wait_online=True, sub=None):
        self.gw = self.spawn("firegw", [FIREGW, "run", "-c", self.config_path, "-v"],
                             env=self.gw_env())
        if wait_online:
            self.gw.wait_line(lambda l: "running" in l, 15, "gateway start")
        return self.gw

    def firegw(self, *args, timeout=30):
        env = dict(os.environ)
        env.update(self.gw_env())
        return subprocess.run([FIREGW] + list(args), capture_output=True, text=True,
                              timeout=timeout, env=env)

    def subscriber(self, client_id="test-center", topic=None):
        return Subscriber(self, topic or "%s/%s/#" % (PREFIX, self.site), client_id)

    def topic(self, *parts):
        return "/".join((PREFIX, self.site) + parts)


class FiregwTest(unittest.TestCase):
    """Base class: an Env per test, cleaned up (processes stopped) always;
    logs printed when the test failed."""

    def setUp(self):
        self.env = Env(self.id().split(".")[-1])

    def tearDown(self):
        failed = False
        outcome = getattr(self, "_outcome", None)
        if outcome is not None:
            errors = getattr(outcome, "errors", None)
            if errors:
                failed = any(exc for _, exc in errors)
            result = getattr(outcome, "result", None)
            if result is not None and (result.failures or result.errors):
                failed = any(t is self for t, _ in result.failures + result.errors)
        if failed:
            sys.stderr.write("\n" + self.env.dump_logs() + "\n")
        self.env.cleanup()


def main():
    unittest.main(verbosity=2)
