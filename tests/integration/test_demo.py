"""The newcomer path: `make run` (tests/demo/run-demo.sh) on a terminal of
its own. Closing that terminal (the pty's master side goes away, so the
kernel hangs up the line and sends SIGHUP to the demo's process group, as a
closed terminal window does) must stop every process the demo started: its
broker, its socat pair, the simulator, the gateway and `firegw watch`.
"""

import os
import pty
import select
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

DEMO = os.path.join(fgtest.ROOT, "tests", "demo", "run-demo.sh")


def gone(pid):
    """True when pid no longer runs (a zombie counts as gone: it runs nothing)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


class DemoTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fg-demo-")
        self.pid = None
        self.fd = None
        self.started = []

    def tearDown(self):
        for p in [self.pid] + self.started:
            if p and not gone(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_some(self, out, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            try:
                out.append(os.read(self.fd, 65536))
            except OSError:
                return False
        return True

    def test_closing_the_terminal_stops_everything_it_started(self):
        env = dict(os.environ, FIREGW_BUILD=fgtest.BUILD, FIREGW_DEMO_DIR=self.dir)
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session of its own on the pty, as a terminal gives
            try:
                os.execve("/bin/bash", ["bash", DEMO], env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        out = []
        pids_file = os.path.join(self.dir, "pids")
        log = os.path.join(self.dir, "firegw.log")

        def online():
            self.read_some(out, 0.2)  # keep the terminal drained
            if not os.path.exists(pids_file) or not os.path.exists(log):
                return False
            with open(log, errors="replace") as f:
                return "uplink to" in f.read() and b"== 1" in b"".join(out)
        fgtest.wait_until(online, 60, "the demo's gateway online and its story begun")
        with open(pids_file) as f:
            self.started = [int(x) for x in f.read().split()]
        # broker, socat, simulator, gateway, watch
        self.assertEqual(len(self.started), 5, self.started)
        for p in self.started:
            self.assertFalse(gone(p), "pid %d of the demo already gone" % p)

        os.close(self.fd)  # the terminal is closed
        self.fd = None
        try:
            fgtest.wait_until(lambda: all(gone(p) for p in self.started), 30,
                              "every process of the demo to stop after the hang-up")
        except AssertionError:
            left = [p for p in self.started if not gone(p)]
            names = []
            for p in left:
                try:
                    with open("/proc/%d/cmdline" % p, "rb") as f:
                        names.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    names.append("?")
            self.fail("still running after the hang-up: %s; demo %s" % (
                names, "running" if not gone(self.pid) else "exited"))
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        # the demo exits by its HUP trap (129), not killed in the middle of its cleanup
        self.assertTrue(os.WIFEXITED(status), status)
        self.assertEqual(os.WEXITSTATUS(status), 129)
        with open(os.path.join(self.dir, "firegw.log"), errors="replace") as f:
            text = f.read()
        # the gateway got its TERM from the cleanup and stopped cleanly
        self.assertIn("stopping on signal %d" % signal.SIGTERM, text)


if __name__ == "__main__":
    unittest.main()
