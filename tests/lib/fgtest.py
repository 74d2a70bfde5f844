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
import shlex
import shutil
import signal
import socket
import sqlite3
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

    def wait_line(self, pred, timeout, what, since=0):
        """First line (from index since) for which pred is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            start = since
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
        self.client_id = client_id
        self.msgs = []
        self.times = []  # time.monotonic() of each message, parallel to msgs
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
                    self.times.append(time.monotonic())
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

    def wait_connected(self, timeout=10.0):
        """Waits until the subscriber is connected and subscribed (so its
        persistent session exists before anything is published): publishes
        a probe under the subscribed topic until it comes back. The probe is
        not JSON, so event helpers ignore it."""
        topic = "%s/%s/probe/%s" % (PREFIX, self.env.site, self.client_id)
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.5) + 1):
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.env.mqtt_port),
                            "-q", "1", "-t", topic, "-m", "probe"], capture_output=True,
                           timeout=10)
            try:
                self.wait_for(lambda t, p: t == topic, 0.5, "probe")
                return
            except AssertionError:
                if time.monotonic() >= deadline:
                    break
        raise AssertionError("subscriber %s not connected within %.1f s" % (self.client_id,
                                                                           timeout))

    def stop(self):
        self.proc.stop()


class SimCtl:
    """One persistent connection to the simulator's control socket: many
    commands quickly (a `firegw-sim ctl` process per command costs ms)."""

    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def cmd(self, *args, check=True):
        line = " ".join(str(a) for a in args)
        self.s.sendall(line.encode() + b"\n")
        for _ in range(10000):  # bounded: each recv waits at most the socket timeout
            if b"\n" in self.buf:
                break
            chunk = self.s.recv(4096)
            if not chunk:
                raise AssertionError("simulator closed the control socket")
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n", 1)
        reply = reply.decode()
        if check and not reply.startswith("ok"):
            raise AssertionError("sim %s: %s" % (line, reply))
        return reply

    def close(self):
        self.s.close()


class Env:
    """One test's world: a temp dir, a broker, a simulator, a gateway."""

    def __init__(self, test_name):
        self.dir = tempfile.mkdtemp(prefix="firegw-%s-" % test_name)
        self.procs = []
        self.sanitizer_reports = []
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
        self.ctls = []
        self.mounts = []

    # -- processes
    def spawn(self, name, argv, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = Proc(name, argv, env=e, log_dir=self.dir)
        self.procs.append(p)
        return p

    def cleanup(self, keep=False):
        for c in self.ctls:
            try:
                c.close()
            except OSError:
                pass
        for p in reversed(self.procs):
            try:
                p.signal(signal.SIGCONT)
                p.stop(5)
            except Exception:
                p.kill()
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=20)
        self.sanitizer_reports = self.find_sanitizer_reports()
        if not keep and not os.environ.get("FIREGW_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer")

    def find_sanitizer_reports(self):
        """Lines of ASan/UBSan/LSan reports in the logs of the processes this
        test started (make sanitize): any of them fails the test."""
        found = []
        for p in self.procs:
            for line in p.lines:
                if any(m in line for m in self.SANITIZER_MARKS):
                    found.append("%s: %s" % (p.name, line))
        return found

    def dump_logs(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    lines = f.read().splitlines()[-40:]
                out.append("---- %s (last %d lines)\n%s" % (name, len(lines), "\n".join(lines)))
        return "\n".join(out)

    # -- broker
    def start_broker(self, keepalive_note=None, extra_conf=""):
        """extra_conf is appended to mosquitto.conf (e.g. a TLS listener)."""
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
            if os.geteuid() == 0:
                # as root mosquitto drops to user "mosquitto", which cannot
                # write the persistence directory in our private temp dir
                f.write("user root\n")
            f.write(extra_conf)
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

    def start_gateway(self, wait_online=True, sub=None, extra_env=None, wrapper=None):
        """wrapper: argv put before the gateway's (e.g. strace -f -o FILE);
        default $FIREGW_GW_WRAPPER (split like a shell), else none. The
        wrapped gateway's own PID replaces the wrapper's in the Proc, so
        signals (SIGHUP, SIGTERM in stop()) reach the daemon itself."""
        e = self.gw_env()
        e.update(extra_env or {})
        if wrapper is None:
            wrapper = shlex.split(os.environ.get("FIREGW_GW_WRAPPER", ""))
        self.gw = self.spawn("firegw", list(wrapper) + [FIREGW, "run", "-c", self.config_path,
                                                        "-v"], env=e)
        if wrapper:
            self.gw.pid = wrapped_pid(self.gw.pid, FIREGW)
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

    # -- fault tests
    def simctl(self):
        """A persistent control connection (closed by cleanup)."""
        c = SimCtl(self.ctl)
        self.ctls.append(c)
        return c

    def freeze_broker(self):
        """SIGSTOP: the connections stay open, nothing answers."""
        self.broker.signal(signal.SIGSTOP)

    def thaw_broker(self):
        self.broker.signal(signal.SIGCONT)

    def db_query(self, sql, args=(), path=None):
        """Rows of a read-only query on the gateway's database (WAL: works
        next to the running daemon). The connection is closed at once so it
        never holds the WAL open when the daemon stops."""
        db = sqlite3.connect("file:%s?mode=ro" % (path or self.db), uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def db_events(self, path=None):
        """Every events row as a dict, in seq order."""
        cols = ("seq", "event_id", "class", "type", "state", "cid", "device", "point", "payload")
        rows = self.db_query("SELECT %s FROM events ORDER BY seq" % ", ".join(cols), path=path)
        out = []
        for r in rows:
            d = dict(zip(cols, r))
            p = d["payload"]
            d["payload"] = p.decode("utf-8") if isinstance(p, bytes) else p
            out.append(d)
        return out

    def mkbacklog(self, *args, path=None):
        """Runs tests/fault/mkbacklog (built on first use) on the database."""
        tool = mkbacklog_tool()
        argv = [tool, "--db", path or self.db, "--site", self.site, "--prefix", PREFIX]
        argv += [str(a) for a in args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("mkbacklog failed: %s%s" % (r.stdout, r.stderr))
        line = [l for l in r.stdout.splitlines() if l.startswith("mkbacklog:")][-1]
        return dict(kv.split("=", 1) for kv in line.split()[1:])

    def mount_tmpfs(self, path, size):
        """Mounts a tmpfs of size (e.g. "16m") at path; unmounted by
        cleanup. Raises unittest.SkipTest when not root or mount fails."""
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a tmpfs needs root")
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs: %s" % r.stderr.strip())
        self.mounts.append(path)
        return path


def wrapped_pid(wrapper_pid, exe, timeout=10.0):
    """The PID of exe started by wrapper_pid: the wrapper itself once it
    exec'd exe (setpriv), or a child or child's child (strace). Bounded wait."""
    real = os.path.realpath(exe)

    def find():
        pids, seen = [wrapper_pid], 0
        while pids and seen < 64:
            pid = pids.pop()
            seen += 1
            try:
                if os.readlink("/proc/%d/exe" % pid) == real:
                    return pid
                for task in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                        pids += [int(x) for x in f.read().split()]
            except OSError:
                continue
        return None
    return wait_until(find, timeout, "%s to run under PID %d" % (exe, wrapper_pid))


def clockshift_lib():
    """build/clockshift.so (tests/fault/clockshift.c), built on first use:
    an LD_PRELOAD shim that shifts CLOCK_REALTIME of one process by the
    milliseconds written in $FIREGW_TEST_CLOCK_FILE."""
    lib = os.path.join(BUILD, "clockshift.so")
    src = os.path.join(ROOT, "tests", "fault", "clockshift.c")
    if os.path.exists(lib) and os.path.getmtime(lib) >= os.path.getmtime(src):
        return lib
    r = subprocess.run(["cc", "-D_GNU_SOURCE", "-std=c11", "-shared", "-fPIC", "-O2", src,
                        "-o", lib + ".tmp", "-ldl"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("cannot build clockshift.so: %s" % r.stderr)
    os.replace(lib + ".tmp", lib)
    return lib


def mkbacklog_tool():
    """build/mkbacklog, built like the Makefile rule the lead adds when missing."""
    tool = os.path.join(BUILD, "mkbacklog")
    src = os.path.join(ROOT, "tests", "fault", "mkbacklog.c")
    lib = os.path.join(BUILD, "libfiregw.a")
    if os.path.exists(tool) and os.path.getmtime(tool) >= os.path.getmtime(src):
        return tool
    libs = subprocess.run(["pkg-config", "--libs", "libmodbus", "jansson", "yaml-0.1", "sqlite3",
                           "libsystemd", "libcrypto"], capture_output=True, text=True,
                          timeout=30).stdout.split()
    cmd = (["cc", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "gateway"), "-std=c11", "-O2", src,
            lib] + libs + ["-lpaho-mqtt3as", "-lpthread", "-lm", "-o", tool + ".tmp"])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("cannot build mkbacklog: %s" % r.stderr)
    os.replace(tool + ".tmp", tool)
    return tool


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
        if self.env.sanitizer_reports:
            self.fail("sanitizer reports in the processes of this test:\n" +
                      "\n".join(self.env.sanitizer_reports[:20]))


def main():
    unittest.main(verbosity=2)


# ------------------------------------------------------- delivery analysis

def event_prio(ev):
    """The delivery priority SPEC §3 gives an event (gateway.c prio_of):
    0 active alarm, 1 active pre-alarm, 2 active fault, 3 everything else."""
    if ev["state"] != "active":
        return 3
    return {"alarm": 0, "prealarm": 1, "fault": 2}.get(ev["class"], 3)


def order_key(ev):
    """The order key of an event: its alarm point, or the gateway."""
    if ev.get("point") is None or ev.get("device") == "gateway":
        return "gateway"
    return "%s.%s" % (ev["device"], ev["point"])


class Delivery:
    """What a subscriber received of the events of a database: first
    arrivals (position in the subscriber's list), duplicates (same event_id;
    their bytes must be identical), events never received, and messages
    whose bytes differ from the database's."""

    def __init__(self, sub, db_events, since=0):
        self.db = {e["event_id"]: e for e in db_events}
        self.first = {}       # event_id -> position of its first arrival
        self.arrival = {}     # event_id -> monotonic time of its first arrival
        self.dups = 0
        self.mismatch = []    # (event_id, why)
        self.unknown = []     # event payloads not in the database
        with sub.cond:
            msgs = list(sub.msgs)
            times = list(sub.times)
        for i in range(since, len(msgs)):
            p, raw = msgs[i][2], msgs[i][3]
            if not isinstance(p, dict) or "event_id" not in p:
                continue
            eid = p["event_id"]
            if eid not in self.db:
                self.unknown.append(raw[:200])
                continue
            if raw != self.db[eid]["payload"]:
                self.mismatch.append((eid, "received bytes differ from the database"))
            if eid in self.first:
                self.dups += 1
            else:
                self.first[eid] = i
                self.arrival[eid] = times[i]

    def missing(self, events):
        return [e["event_id"] for e in events if e["event_id"] not in self.first]

    def key_order_violations(self, events):
        """Events of one order key whose first arrivals are not in seq order."""
        last = {}
        bad = []
        for e in sorted((e for e in events if e["event_id"] in self.first),
                        key=lambda e: self.first[e["event_id"]]):
            k = order_key(e)
            if k in last and last[k] > e["seq"]:
                bad.append("%s: seq %d arrived after seq %d" % (k, e["seq"], last[k]))
            last[k] = max(last.get(k, 0), e["seq"])
        return bad

    def priority_violations(self, waiting, exempt_first=0):
        """SPEC §3 on events all waiting at the same moment: an event F may
        arrive before a more urgent event E only while E was held behind an
        earlier event of its own alarm point, or when F was pulled ahead by
        a more urgent event of F's own point waiting behind F.
        `exempt_first` arrivals (sent before the others existed, e.g. into a
        frozen connection) are not checked as F."""
        ws = sorted((e for e in waiting if e["event_id"] in self.first),
                    key=lambda e: self.first[e["event_id"]])
        pos = {e["event_id"]: i for i, e in enumerate(ws)}
        block = {}
        seen_max = {}
        for e in sorted(ws, key=lambda e: e["seq"]):
            k = order_key(e)
            block[e["event_id"]] = seen_max.get(k, -1)
            seen_max[k] = max(seen_max.get(k, -1), pos[e["event_id"]])
        # an event is pulled ahead by a more urgent event of its own point
        # waiting behind it (the point's order is kept, and the urgent one
        # must not wait behind other points): it competes with that urgency
        eff = {}
        best = {}
        for e in sorted(ws, key=lambda e: e["seq"], reverse=True):
            k = order_key(e)
            best[k] = min(best.get(k, 99), event_prio(e))
            eff[e["event_id"]] = best[k]
        bad = []
        for e in ws:
            pe, be = pos[e["event_id"]], block[e["event_id"]]
            for f in ws[max(be + 1, exempt_first):pe]:
                if eff[f["event_id"]] > event_prio(e):
                    bad.append("seq %d (%s %s, prio %d) arrived before seq %d (%s %s, prio %d)"
                               " although nothing held the latter back" % (
                                   f["seq"], f["class"], f["state"], event_prio(f),
                                   e["seq"], e["class"], e["state"], event_prio(e)))
                    break
            if len(bad) >= 5:
                break
        return bad


def seq_gaps(events):
    """Seqs missing from 1..max in a database's events."""
    have = set(e["seq"] for e in events)
    top = max(have) if have else 0
    return [s for s in range(1, top + 1) if s not in have]
