#!/usr/bin/env python3
"""Repeated errors of one source are rate-limited (issue 10 item 5): the
real firegw, a real mosquitto, the simulator on Modbus TCP.

2 000 bad requests (not JSON, no id, an id that is not plain, not an
object, and one in 20 with a valid id and an unknown operation) and 2 000 bad acknowledgements (not JSON, no
"by", an unknown event) make the daemon's log grow by a bounded number of
lines (a count of what was not logged, not a line each), and it still
answers a valid request and publishes an alarm afterwards.

No timing is asserted: counts of lines and messages. Every wait is
bounded; every process is stopped by its PID (fgtest.Env.cleanup)."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

CONFIG = """
site:
  id: @SITE@
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 0
  reconnect_max_s: 2
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
devices:
  - id: smoke-1
    bus: lan
    unit: 1
    profile: smoke-point
    zone: khu-a
    zone_no: 1
    poll_ms: 300
"""

N_BAD = 2000
# lines of one source per 10 s interval, a few sources, a slow machine:
# far below one line per bad message, far above what a limit lets through
MAX_NEW_LINES = 60


def not_debug(line):
    return ": debug:" not in line


class RateLimitTest(fgtest.FiregwTest):

    def pub_lines(self, topic, lines):
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.env.mqtt_port),
                            "-q", "1", "-t", topic, "-l"], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def start_site(self):
        """Broker, simulator, a subscriber and the gateway, its point normal."""
        env = self.env
        env.write_config(CONFIG)
        env.start_broker()
        env.start_sim()
        ctl = env.simctl()
        sub = env.subscriber()
        sub.wait_connected()
        gw = env.start_gateway()
        sub.wait_for(lambda t, p: t == env.topic("status") and isinstance(p, dict)
                     and p.get("state") == "online" and p["points"]["normal"] == 1, 40,
                     "the point normal")
        return ctl, sub, gw

    def test_bad_requests_and_acks_rate_limited(self):
        env = self.env
        ctl, sub, gw = self.start_site()
        before = sum(1 for l in gw.lines if not_debug(l))
        reqs, acks = [], []
        for i in range(N_BAD):
            k = i % 4
            acks.append(["{not json %d" % i, json.dumps({"event_id": "x:1:%d" % i}),
                         json.dumps({"event_id": "s:%d:1" % i, "by": "center\nfiregw: crit: x"}),
                         json.dumps({"event_id": "%s:0:%d" % (env.site, i), "by": "PC07"})][k])
            # one in 20 has a valid id: answered (an error), the rest only logged
            if i % 20 == 19:
                reqs.append(json.dumps({"id": "u-%d" % i, "op": "explode"}))
            else:
                reqs.append(["not json %d" % i, '{"op": "status"}',
                             json.dumps({"id": "bad id %d\u001b[31m" % i, "op": "status"}),
                             "[%d]" % i][k])
        self.pub_lines(env.topic("request"), reqs)
        self.pub_lines(env.topic("ack"), acks)
        # the answers to the last requests with a valid id: all were read
        sub.wait_for(lambda t, p: t == env.topic("response", "u-%d" % (N_BAD - 1)), 60,
                     "the answer to the last bad operation")
        # a valid request still answered
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(env.mqtt_port), "-q", "1",
                        "-t", env.topic("request"), "-m", '{"id": "ok-1", "op": "status"}'],
                       check=True, capture_output=True, timeout=10)
        ans = sub.wait_for(lambda t, p: t == env.topic("response", "ok-1"), 30, "status answer")
        self.assertTrue(ans["ok"])
        # and an alarm published
        mark = sub.mark()
        ctl.cmd("flag", "smoke-1", "fire", "on")
        sub.wait_event(since=mark, timeout=30, device="smoke-1",
                       **{"class": "alarm", "state": "active"})
        # once the interval of the last line is over, the count of what
        # was not logged one by one comes as a line of its own (one per
        # source): every bad message is then in a line or a count (the ones
        # with a valid id are answered, not logged; a line's own
        # "(N more since the last line)" counts too)
        expected = (N_BAD - N_BAD // 20) + N_BAD

        def accounted():
            new = [l for l in gw.lines if not_debug(l)][before:]
            lines = sum(1 for l in new if ("request on '" in l and "ignored" in l)
                        or l.startswith("firegw: warning: acknowledgement"))
            inline = sum(int(m.group(1)) for l in new
                         for m in [re.search(r"\((\d+) more since the last line\)", l)] if m)
            ticks = sum(int(m.group(1)) for l in new
                        for m in [re.search(r"(\d+) more (requests|acknowledgements).*"
                                            r"\(not logged one by one\)", l)] if m)
            return lines + inline + ticks == expected and ticks > 0 and new
        new = fgtest.wait_until(accounted, 40, "every bad message in a line or a count", step=0.5)
        self.assertLess(len(new), MAX_NEW_LINES,
                        "%d log lines for %d bad messages:\n%s" % (len(new), 2 * N_BAD,
                                                                   "\n".join(new[-30:])))
        # nothing of the payloads reaches the log raw
        self.assertFalse(any("\x1b" in l or "crit: x" in l and "\\n" not in l for l in new),
                         "\n".join(new))

    def test_flood_of_large_requests_bounded_in_memory(self):
        """A flood of large requests (each under the 256 KiB a message may
        have, 100 MB in all) waits in the daemon no more than its byte
        bound: VmHWM stays far below the unit's MemoryMax of 64 MB (it grew
        to about 200 MB before), what did not fit is dropped and counted,
        and the gateway still answers and publishes an alarm."""
        env = self.env
        ctl, sub, gw = self.start_site()
        pad = "A" * (250 * 1024)
        n = 400
        self.pub_lines(env.topic("request"),
                       [json.dumps({"id": "f%d" % i, "op": "history", "pad": pad})
                        for i in range(n)])
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(env.mqtt_port), "-q", "1",
                        "-t", env.topic("request"), "-m", '{"id": "ok-2", "op": "status"}'],
                       check=True, capture_output=True, timeout=10)
        ans = sub.wait_for(lambda t, p: t == env.topic("response", "ok-2"), 60, "status answer")
        self.assertTrue(ans["ok"])
        with open("/proc/%d/status" % gw.pid) as f:
            hwm_kb = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        print("FIGURES request_flood: %d x 250 KiB, VmHWM %d kB" % (n, hwm_kb), flush=True)
        self.assertLess(hwm_kb, 48 * 1024, "the flood grew the heap to %d kB" % hwm_kb)
        # dropped, and said so in the log (counted, not a line each)
        fgtest.wait_until(lambda: any("dropped" in l for l in gw.lines), 30,
                          "a log line counting the dropped messages")
        mark = sub.mark()
        ctl.cmd("flag", "smoke-1", "fire", "on")
        sub.wait_event(since=mark, timeout=30, device="smoke-1",
                       **{"class": "alarm", "state": "active"})


if __name__ == "__main__":
    fgtest.main()
