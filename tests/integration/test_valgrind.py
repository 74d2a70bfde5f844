#!/usr/bin/env python3
"""A representative subset under valgrind (memcheck): the real gateway
through start-up, an alarm, a fault and its restore, a reset over the
control socket, a broker restart and a clean stop; and the pure-logic unit
tests. Any memory error or definite leak fails the test."""

import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

VALGRIND = ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite", "--error-exitcode=99",
            "--track-fds=no", "--num-callers=30",
            "--suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "valgrind.supp")]

CONFIG = """
site:
  id: @SITE@
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 2
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 300
    retries: 0
devices:
  - {id: smoke-1, bus: lan, unit: 1, profile: smoke-point, zone: khu-a, zone_no: 1, poll_ms: 500}
  - {id: th-1, bus: lan, unit: 3, profile: th-sensor, poll_ms: 500, fault_after: 2}
"""


def have_valgrind():
    return subprocess.run(["which", "valgrind"], capture_output=True).returncode == 0


# valgrind cannot run binaries built with AddressSanitizer (make sanitize):
# they are checked by the sanitizers instead
SANITIZED = bool(os.environ.get("FIREGW_SANITIZE"))


class ValgrindTest(fgtest.FiregwTest):

    def test_gateway_under_memcheck(self):
        if SANITIZED:
            self.skipTest("an ASan build is checked by ASan, not valgrind")
        if not have_valgrind():
            self.skipTest("valgrind is not installed (make deps installs it)")
        env = self.env
        env.write_config(CONFIG)
        env.start_broker()
        env.start_sim()
        sub = env.subscriber()
        gw = env.spawn("firegw-valgrind", VALGRIND + [fgtest.FIREGW, "run", "-c",
                                                      env.config_path], env=env.gw_env())
        gw.wait_line(lambda l: "running" in l, 60, "gateway start under valgrind")
        sub.wait_for(lambda t, p: t == env.topic("state", "smoke-1") and isinstance(p, dict)
                     and p["points"]["fire"]["state"] == "normal", 60, "smoke-1 normal")
        env.sim("flag", "smoke-1", "fire", "on")
        sub.wait_event(60, device="smoke-1", **{"class": "alarm", "state": "active"})
        env.sim("flag", "smoke-1", "fire", "off")
        env.sim("mode", "th-1", "silent")
        sub.wait_event(60, device="th-1", **{"class": "fault", "state": "active"})
        env.stop_broker()
        env.sim("mode", "th-1", "normal")
        env.start_broker()
        sub.wait_event(90, device="th-1", **{"class": "fault", "state": "cleared"})
        r = env.firegw("reset", "smoke-1", "--by", "valgrind", "-c", env.config_path,
                       timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        sub.wait_event(60, device="smoke-1", **{"class": "alarm", "state": "cleared"})
        rc = gw.stop(timeout=60)
        errors = [l for l in gw.lines if l.startswith("==")]
        self.assertEqual(rc, 0, "valgrind reported:\n" + "\n".join(errors[-60:]))

    def test_unit_tests_under_memcheck(self):
        if SANITIZED:
            self.skipTest("an ASan build is checked by ASan, not valgrind")
        if not have_valgrind():
            self.skipTest("valgrind is not installed (make deps installs it)")
        build = fgtest.BUILD
        for name in ("test_detect", "test_outbox", "test_event", "test_profile", "test_config"):
            path = os.path.join(build, "tests", name)
            if not os.path.exists(path):
                continue
            r = subprocess.run(VALGRIND + [path], capture_output=True, text=True, timeout=300,
                               cwd=fgtest.ROOT)
            self.assertEqual(r.returncode, 0, "%s under valgrind:\n%s" % (
                name, "\n".join((r.stdout + r.stderr).splitlines()[-60:])))


if __name__ == "__main__":
    fgtest.main()
