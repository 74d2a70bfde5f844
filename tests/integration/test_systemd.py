#!/usr/bin/env python3
"""The service as systemd runs it (issue 10, items 1 and 2), checked without
systemd as PID 1:

- the unit's rating by `systemd-analyze security --offline=yes` is 2.0 or
  lower, and `systemd-analyze verify` is clean on the unit installed into a
  scratch root (and reports a broken copy of it); systemd/firegw.sysusers
  makes the unit's user and group (in a scratch root);
- every system call the real daemon makes, traced with `strace -f` as an
  unprivileged user in a Modbus TCP + RTU run (with a control command, a
  reload and a broker restart) and in a TLS run, is allowed by the unit's
  SystemCallFilter= as `systemd-analyze syscall-filter` expands it; so is
  every call of `firegw check` (ExecStartPre=);
- the notify protocol on a NOTIFY_SOCKET the test opens: READY=1 with a
  STATUS= once the database is open and the control socket exists, from the
  daemon's own PID (NotifyAccess=main), RELOADING=1 and READY=1 again from
  the same PID around a SIGHUP reload, STOPPING=1 on SIGTERM;
- the control socket of a daemon running as nobody:nogroup: mode 0660 in a
  0750 directory of the daemon's group; root and a member of the group are
  served (the member's command is logged and its events carry its account);
  a stranger is refused by the file modes, and by the daemon itself once the
  modes are widened; 20 idle connections do not lock an operator out.

No timing is asserted; every wait is bounded; every process is stopped by
its PID (fgtest).
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

UNIT = os.path.join(fgtest.ROOT, "systemd", "firegw.service")
NOBODY = 65534   # the daemon's user and group in these tests (nobody:nogroup)
OTHER = 1        # another account ("daemon" on Debian), member or stranger

CONFIG = """
site:
  id: @SITE@
mqtt:
  uri: %(uri)s
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 5
  reconnect_max_s: 1
%(tls)s
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 0
%(rtu)s
devices:
  - id: s-1
    bus: lan
    unit: 1
    profile: smoke-point
    zone: khu-a
    zone_no: 1
    poll_ms: 250
    fault_after: 3
    dead_retry_s: 1
%(rtu_dev)s
"""

RTU_BUS = """  - id: rs485-1
    rtu: {device: @TTY@, baud: 38400}
    timeout_ms: 200
    byte_timeout_ms: 20
    retries: 0
"""

RTU_DEV = """  - id: s-2
    bus: rs485-1
    unit: 2
    profile: smoke-point
    zone: khu-b
    zone_no: 2
    poll_ms: 250
    fault_after: 3
    dead_retry_s: 1
"""


def config(env, rtu=False, tls_dir=None):
    uri = "tcp://127.0.0.1:@MQTT_PORT@"
    tls = ""
    if tls_dir:
        uri = "ssl://127.0.0.1:@MQTT_PORT@"
        tls = "  tls: {ca_file: %s}" % os.path.join(tls_dir, "ca.crt")
    return CONFIG % {"uri": uri, "tls": tls, "rtu": RTU_BUS if rtu else "",
                     "rtu_dev": RTU_DEV if rtu else ""}


def run(argv, timeout=60, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


# ------------------------------------------------------ the unit's filter

def syscall_groups():
    """Every group `systemd-analyze syscall-filter` knows: name -> entries
    (system call names and nested @groups)."""
    out = run(["systemd-analyze", "syscall-filter"]).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        s = line.strip()
        if not s:
            cur = None
            continue
        if line.startswith("@"):
            cur = groups.setdefault(s, [])
        elif cur is not None and not s.startswith("#"):
            cur.append(s)
    return groups


def expand(names, groups, depth=0):
    """The system calls a list of names and @groups stands for."""
    assert depth < 10, "group nesting too deep"
    out = set()
    for n in names:
        if n.startswith("@"):
            if n not in groups:
                raise AssertionError("systemd-analyze knows no group %s" % n)
            out |= expand(groups[n], groups, depth + 1)
        else:
            out.add(n)
    return out


def unit_settings(path, key):
    """Every value of key= in the unit file, in order (comments skipped)."""
    vals = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(key + "="):
                vals.append(line[len(key) + 1:].strip())
    return vals


def allowed_syscalls(path):
    """The system calls the unit's SystemCallFilter= lines allow, merged
    as systemd.exec(5) says: the first line (an allow list here) sets the
    default; later lines add (plain) or remove (~) names; "" resets."""
    groups = syscall_groups()
    allowed = None
    for v in unit_settings(path, "SystemCallFilter"):
        if not v:
            allowed = None
            continue
        deny = v.startswith("~")
        names = expand(v.lstrip("~").split(), groups)
        if allowed is None:
            assert not deny, "the unit's first SystemCallFilter= must be an allow list"
            allowed = set(names)
        elif deny:
            allowed -= names
        else:
            allowed |= names
    assert allowed, "no SystemCallFilter= in %s" % path
    return allowed


CALL_RE = re.compile(r"^\d+\s+([a-z_][a-z0-9_]*)\(")
RESUMED_RE = re.compile(r"^\d+\s+<\.\.\. ([a-z_][a-z0-9_]*) resumed>")


def traced_syscalls(path):
    """name -> count of the system calls in an `strace -f -o` file (a call
    that blocked shows as "<unfinished ...>" and "<... name resumed>": one)."""
    seen = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = CALL_RE.match(line)
            if m:
                seen[m.group(1)] = seen.get(m.group(1), 0) + 1
                continue
            m = RESUMED_RE.match(line)
            if m:
                seen.setdefault(m.group(1), 1)
    return seen


class UnitFileTest(unittest.TestCase):
    """The unit file alone: its rating and systemd's own verification."""

    def test_security_rating_at_most_2(self):
        r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT])
        m = re.search(r"Overall exposure level for firegw\.service: ([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, "no rating in:\n%s%s" % (r.stdout[-2000:], r.stderr))
        score = float(m.group(1))
        print("FIGURES systemd-security: exposure=%s" % m.group(1), flush=True)
        self.assertLessEqual(score, 2.0, r.stdout)
        # what the rating rests on, so that a lower score bought by
        # dropping the daemon's needs would show here
        with open(UNIT) as f:
            lines = f.read().splitlines()
        for line in ("User=firegw", "CapabilityBoundingSet=", "DevicePolicy=closed",
                     "SystemCallErrorNumber=EPERM", "UMask=0027", "Type=notify"):
            self.assertIn(line, lines)

    def scratch_root(self):
        root = tempfile.mkdtemp(prefix="firegw-verify-")
        self.addCleanup(shutil.rmtree, root, True)
        unitdir = os.path.join(root, "lib", "systemd", "system")
        os.makedirs(unitdir)
        # the targets the unit's default dependencies name
        for name in os.listdir("/lib/systemd/system"):
            if name.endswith(".target"):
                shutil.copy2(os.path.join("/lib/systemd/system", name), unitdir)
        for src, dst in ((fgtest.FIREGW, "usr/bin/firegw"), ("/bin/kill", "bin/kill")):
            os.makedirs(os.path.dirname(os.path.join(root, dst)), exist_ok=True)
            shutil.copy2(src, os.path.join(root, dst))
        shutil.copy2(UNIT, os.path.join(unitdir, "firegw.service"))
        return root, os.path.join(unitdir, "firegw.service")

    def verify(self, root):
        return run(["systemd-analyze", "verify", "--root=" + root, "--man=no",
                    "firegw.service"])

    def test_verify_clean_in_scratch_root(self):
        root, unit = self.scratch_root()
        r = self.verify(root)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        # the check fails on a broken unit: a misspelled key (a warning
        # only, so "clean" means no output at all) ...
        with open(unit) as f:
            text = f.read()
        with open(unit, "w") as f:
            f.write(text.replace("ProtectSystem=strict", "ProtectSytem=strict")
                        .replace("SystemCallFilter=adjtimex", "SystemCallFilter=adjtimexx"))
        r = self.verify(root)
        self.assertIn("Unknown key 'ProtectSytem'", r.stdout + r.stderr)
        self.assertIn("adjtimexx", r.stdout + r.stderr)
        # ... and a missing binary (an error)
        with open(unit, "w") as f:
            f.write(text)
        os.unlink(os.path.join(root, "usr/bin/firegw"))
        r = self.verify(root)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/usr/bin/firegw is not executable", r.stdout + r.stderr)


    def test_sysusers_makes_the_service_user(self):
        """systemd/firegw.sysusers makes the unit's User= and Group= (in a
        scratch root: the machine's own user database is not touched)."""
        root = tempfile.mkdtemp(prefix="firegw-sysusers-")
        self.addCleanup(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, "etc"))
        conf = os.path.join(fgtest.ROOT, "systemd", "firegw.sysusers")
        r = run(["systemd-sysusers", "--root=" + root, conf])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            pw = [l.split(":") for l in f.read().splitlines()]
        with open(os.path.join(root, "etc", "group")) as f:
            gr = {l.split(":")[0]: l.split(":")[2] for l in f.read().splitlines()}
        user = [p for p in pw if p[0] == "firegw"]
        self.assertEqual(len(user), 1, pw)
        self.assertEqual(user[0][3], gr["firegw"])  # its primary group is firegw
        self.assertEqual(user[0][5:], ["/var/lib/firegw", "/usr/sbin/nologin"])
        self.assertEqual(unit_settings(UNIT, "User"), ["firegw"])
        self.assertEqual(unit_settings(UNIT, "Group"), ["firegw"])


# ------------------------------------------------------------------ TLS

def make_certs(d):
    """A CA and a broker certificate for 127.0.0.1 signed by it."""
    def ossl(*args):
        r = run(["openssl"] + list(args), cwd=d)
        if r.returncode != 0:
            raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr))
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
         "-days", "2", "-subj", "/CN=firegw test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    for name in os.listdir(d):
        os.chmod(os.path.join(d, name), 0o644)


def start_tls_broker(env, d):
    conf = os.path.join(env.dir, "mosquitto-tls.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\n" % env.mqtt_port)
        f.write("cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n" % (d, d, d))
        f.write("tls_version tlsv1.2\n")
        f.write("allow_anonymous true\nlog_dest stdout\n")
        if os.geteuid() == 0:
            f.write("user root\n")
    env.broker = env.spawn("mosquitto", ["mosquitto", "-c", conf])
    fgtest.wait_port(env.mqtt_port)
    return env.broker


# ------------------------------------------------------- as the service

class ServiceBase(fgtest.FiregwTest):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("running the daemon as another user needs root")

    def as_daemon_user(self, *paths):
        """The test dir (and paths: the gateway's pty) owned by nobody, as
        /var/lib/firegw is by the service's user."""
        env = self.env
        os.chmod(env.dir, 0o755)
        for dirpath, dirnames, filenames in os.walk(env.dir):
            for n in [dirpath] + [os.path.join(dirpath, x) for x in filenames]:
                os.chown(n, NOBODY, NOBODY)
        for p in paths:
            os.chown(os.path.realpath(p), NOBODY, NOBODY)

    def setpriv(self, uid, gid, groups=None):
        argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
        argv += ["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"]
        return argv

    def wait_online(self, sub, since=0, timeout=30):
        return sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                            and p.get("state") == "online", timeout, "status online",
                            since=since)


class SyscallFilterTest(ServiceBase):
    """Every system call the daemon makes is allowed by the unit's filter."""

    def traced_run(self, rtu=False, tls_dir=None):
        env = self.env
        env.write_config(config(env, rtu=rtu, tls_dir=tls_dir))
        if tls_dir:
            start_tls_broker(env, tls_dir)
        else:
            env.start_broker()
        if rtu:
            env.start_pty()
        env.start_sim(rtu_bus="rs485-1" if rtu else None)
        self.as_daemon_user(*([env.tty_gw] if rtu else []))
        trace = os.path.join(env.dir, "strace.out")
        strace = ["strace", "-f", "-qq", "-o", trace]
        # ExecStartPre= runs under the same filter
        r = run(self.setpriv(NOBODY, NOBODY) + strace[:-1] + [trace + ".check", fgtest.FIREGW,
                "check", "-q", "-c", env.config_path], env=dict(os.environ, **env.gw_env()))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sub = None
        if not tls_dir:
            sub = env.subscriber()
            sub.wait_connected()
        gw = env.start_gateway(wrapper=self.setpriv(NOBODY, NOBODY) + strace)
        self.assertEqual(os.stat("/proc/%d" % gw.pid).st_uid, NOBODY)
        if tls_dir:
            gw.wait_line(lambda l: "uplink to 'ssl://" in l and "up" in l, 30, "the TLS uplink")
        else:
            self.wait_online(sub)
            ctl = env.simctl()
            mark = sub.mark()
            ctl.cmd("flag", "s-1", "fire", "on")
            sub.wait_event(since=mark, device="s-1", **{"class": "alarm", "state": "active"})
            ctl.cmd("flag", "s-1", "fire", "off")
            # a command through the control socket (accept, SO_PEERCRED)
            r = env.firegw("reset", "s-1", "--by", "Kỹ thuật A", "-c", env.config_path)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # the broker goes away and comes back: reconnects
            env.stop_broker()
            mark = sub.mark()
            env.start_broker()
            sub.wait_connected()
            self.wait_online(sub, since=mark)
            # a reload: the daemon executes itself again
            with open(env.config_path, "a") as f:
                f.write("# changed\n")
            n = len(gw.lines)
            mark = sub.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_line(lambda l: "running" in l, 30, "the reloaded gateway", since=n)
            self.wait_online(sub, since=mark)
        self.assertEqual(gw.stop(), 0)
        seen = traced_syscalls(trace)
        for name, count in traced_syscalls(trace + ".check").items():
            seen[name] = seen.get(name, 0) + count
        return seen

    def assert_allowed(self, seen, what):
        allowed = allowed_syscalls(UNIT)
        denied = sorted(n for n in seen if n not in allowed)
        print("FIGURES syscalls-%s: seen=%d denied=%s names=%s" % (
            what, len(seen), ",".join(denied) or "none", ",".join(sorted(seen))), flush=True)
        self.assertGreater(len(seen), 30, "the trace looks empty: %r" % seen)
        self.assertIn("adjtimex" if "adjtimex" in seen else "clock_adjtime", seen,
                      "the clock query was not traced")
        self.assertEqual(denied, [], "system calls the unit's filter denies (%s run): %s" % (
            what, ", ".join("%s (%d)" % (n, seen[n]) for n in denied)))

    def test_filter_allows_tcp_and_rtu_run(self):
        self.assert_allowed(self.traced_run(rtu=True), "tcp-rtu")

    def test_filter_allows_tls_run(self):
        d = os.path.join(self.env.dir, "tls")
        os.makedirs(d)
        make_certs(d)
        self.assert_allowed(self.traced_run(tls_dir=d), "tls")

    def test_filter_parser_follows_the_unit(self):
        """The expansion is systemd's: a name the unit adds is allowed, one
        it removes (@privileged's setuid) is not, @system-service's are."""
        allowed = allowed_syscalls(UNIT)
        groups = syscall_groups()
        self.assertIn("adjtimex", allowed)
        self.assertNotIn("setuid", allowed)
        self.assertNotIn("settimeofday", allowed)
        self.assertNotIn("mount", allowed)
        self.assertTrue({"read", "openat", "ppoll", "sendmsg", "fdatasync"} <= allowed)
        self.assertTrue(expand(["@system-service"], groups) - expand(["@privileged"], groups)
                        - expand(["@resources"], groups) <= allowed)


class NotifyTest(ServiceBase):
    """The notify protocol, on a socket of the test's own."""

    def notify_socket(self):
        path = os.path.join(self.env.dir, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        ns.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ns.settimeout(1.0)
        self.addCleanup(ns.close)
        return ns, path

    def recv_until(self, ns, got, pred, timeout=30):
        """Appends (sender pid, [lines]) to got until pred(lines) holds."""
        for _ in range(int(timeout) + 2):  # bounded: each recv waits at most 1 s
            try:
                data, anc, _, _ = ns.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            pid = None
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:12])[0]
            lines = data.decode().split("\n")
            got.append((pid, lines))
            if pred(lines):
                return lines
        raise AssertionError("no such notify message; got %r" % got)

    def test_ready_status_reloading_stopping(self):
        env = self.env
        env.write_config(config(env))
        env.start_broker()
        env.start_sim()
        ns, path = self.notify_socket()
        got = []
        gw = env.start_gateway(wait_online=False, extra_env={"NOTIFY_SOCKET": path})
        ready = self.recv_until(ns, got, lambda l: "READY=1" in l)
        # ready means ready: the database is open and the configuration
        # applied (the control socket exists) when READY=1 is sent
        self.assertTrue(os.path.exists(os.path.join(env.run_dir, "control.sock")))
        self.assertEqual(env.db_query("SELECT count(*) FROM meta")[0][0] > 0, True)
        status = [l for l in ready if l.startswith("STATUS=")]
        self.assertEqual(len(status), 1, ready)
        self.assertIn("site 'test-site'", status[0])
        self.assertIn("1 devices on 1 buses", status[0])
        # NotifyAccess=main: every message from the daemon's own PID
        self.assertEqual(set(p for p, _ in got), {gw.pid})
        # a reload re-executes the same PID: RELOADING=1, then READY=1
        with open(env.config_path, "a") as f:
            f.write("# changed\n")
        gw.signal(signal.SIGHUP)
        self.recv_until(ns, got, lambda l: "RELOADING=1" in l)
        self.recv_until(ns, got, lambda l: "READY=1" in l)
        self.assertEqual(set(p for p, _ in got), {gw.pid})
        self.assertTrue(gw.alive())
        gw.signal(signal.SIGTERM)
        stopping = self.recv_until(ns, got, lambda l: "STOPPING=1" in l)
        self.assertIn("STATUS=stopping", stopping)
        self.assertEqual(gw.stop(), 0)
        flat = [l for _, ls in got for l in ls if l in ("READY=1", "RELOADING=1", "STOPPING=1")]
        self.assertEqual(flat, ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"])


class ControlSocketTest(ServiceBase):
    """Who may use the control socket of a daemon running as nobody:nogroup."""

    def cli(self, priv, *args):
        env = dict(os.environ)
        env.update(self.env.gw_env())
        return run(priv + [fgtest.FIREGW] + list(args) + ["-c", self.env.config_path],
                   timeout=30, env=env)

    def test_peers_checked_and_idle_clients_do_not_lock_out(self):
        env = self.env
        env.write_config(config(env))
        env.start_broker()
        env.start_sim()
        self.as_daemon_user()
        sub = env.subscriber()
        sub.wait_connected()
        # UMask=0027 of the unit, then its user and group
        gw = env.start_gateway(wrapper=["sh", "-c", 'umask 0027 && exec "$@"', "sh"] +
                               self.setpriv(NOBODY, NOBODY))
        self.wait_online(sub)
        sock = os.path.join(env.run_dir, "control.sock")
        st, dst = os.stat(sock), os.stat(env.run_dir)
        self.assertEqual((st.st_mode & 0o7777, st.st_gid), (0o660, NOBODY))
        self.assertEqual((dst.st_mode & 0o7777, dst.st_gid), (0o750, NOBODY))

        # root: served
        r = self.cli([], "status")
        self.assertIn("daemon running", r.stdout)
        # a member of the daemon's group (a supplementary group): served;
        # its command is logged with who ran it, its events carry the account
        member = self.setpriv(OTHER, OTHER, [NOBODY])
        mark = sub.mark()
        r = self.cli(member, "disable", "s-1", "--reason", "thay đầu báo", "--by", "Kỹ thuật A")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ev = sub.wait_event(since=mark, device="s-1", type="disabled", state="active")
        self.assertEqual((ev["by"], ev["account"]), ("Kỹ thuật A", "daemon"))
        gw.wait_line(lambda l: "'disable' asked by account 'daemon' (uid 1, pid " in l, 10,
                     "the command logged with its account")
        r = self.cli(member, "enable", "s-1", "--by", "Kỹ thuật A")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the member reads the database (0640, group nogroup) with the
        # read-only commands, next to the running daemon
        self.assertEqual(os.stat(env.db).st_mode & 0o777, 0o640)
        r = self.cli(member, "status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("daemon running", r.stdout)
        self.assertIn("s-1.fire", r.stdout)
        r = self.cli(member, "history")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("disabled", r.stdout)

        # a stranger: the file modes keep it out ...
        stranger = self.setpriv(OTHER, OTHER)
        n_events = env.db_query("SELECT count(*) FROM events")[0][0]
        r = self.cli(stranger, "disable", "s-1", "--reason", "x", "--by", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stdout + r.stderr)
        # ... and the daemon too, when the modes were widened by hand
        os.chmod(env.run_dir, 0o755)
        os.chmod(sock, 0o666)
        n = len(gw.lines)
        r = self.cli(stranger, "disable", "s-1", "--reason", "x", "--by", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("permission denied: uid 1 (daemon) is not root, not the daemon's user and "
                      "not in group 'nogroup'", r.stdout + r.stderr)
        gw.wait_line(lambda l: "refused pid" in l and "uid 1 (daemon)" in l, 10,
                     "the refusal logged", since=n)
        self.assertEqual(env.db_query("SELECT count(*) FROM events")[0][0], n_events)

        # 20 idle connections, then an operator: served at once
        idle = []
        try:
            for _ in range(20):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                idle.append(s)
                s.connect(sock)  # blocking: waits while the backlog is full
            r = self.cli([], "status")
            self.assertIn("daemon running", r.stdout, r.stdout + r.stderr)
            r = self.cli(member, "disable", "s-1", "--reason", "x", "--by", "Kỹ thuật A")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            for s in idle:
                s.close()
        self.assertTrue(gw.alive())
        self.assertEqual(gw.stop(), 0)


if __name__ == "__main__":
    fgtest.main()
