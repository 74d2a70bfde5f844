#!/usr/bin/env python3
"""Failover between the nodes of a broker cluster (mqtt.uri as a list):
the real firegw, the Modbus simulator, and a real subscriber
(mosquitto_sub, persistent session) that plays the command center.
Assertions are on what that subscriber receives and on what each node saw;
no timing is asserted (figures are printed as "FIGURES ..." lines).

The cluster: ONE mosquitto, and in front of it one TCP proxy per "node",
each on its own free loopback port. Behind the proxies the nodes share one
state (the gateway's and the center's sessions, retained messages, the
center's queue), which is what a cluster looks like to a client, and each
node fails on its own: taken down (listener closed, its connections cut: a
killed node), stalled (it reads and passes nothing on: no PUBACK), or hung
from the start (it accepts TCP and reads the CONNECT but never answers).
Separate mosquittos would not share state (the center's queue would not
be on the node the gateway moves to) and bridges would add delays and
duplicates of their own. The proxy also timestamps each connection's
accept and its first client bytes: that is how the CONNECT delay is
measured. The center connects to the broker itself, as a center on
another node of the cluster would.
"""

import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402
from fgtest import Delivery, seq_gaps  # noqa: E402

FORWARD = "forward"
HANG = "hang"  # accept and read, never send a byte back


class Conn:
    """One connection a node accepted."""

    def __init__(self, sock, mode):
        self.sock = sock
        self.mode = mode
        self.accepted = time.monotonic()
        self.first_byte = None        # when the client's first bytes came
        self.first_data = b""
        self.closed_by_client = None  # when the client closed it (EOF or reset)
        self.dropped = 0              # client bytes swallowed while stalled
        self.upstream = None


class Node:
    """A broker node: a proxy on its own port in front of the broker."""

    def __init__(self, name, broker_port, mode=FORWARD):
        self.name = name
        self.broker_port = broker_port
        self.mode = mode
        self.stalled = False
        self.lock = threading.Condition()
        self.conns = []
        self.lsock = None
        self.port = None
        self.stopping = False
        self.threads = []
        self.up()

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    # ------------------------------------------------------------ control
    def up(self, mode=None):
        """Listens (again, on the same port)."""
        if mode:
            self.mode = mode
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port or 0))
        s.listen(16)
        self.port = s.getsockname()[1]
        with self.lock:
            self.lsock = s
            self.stopping = False
            self.stalled = False
        t = threading.Thread(target=self._accept_loop, args=(s,), daemon=True)
        t.start()
        self.threads.append(t)

    def down(self):
        """The node dies: connections refused, open ones cut."""
        with self.lock:
            s, self.lsock = self.lsock, None
            self.stopping = True
            conns = list(self.conns)
        if s:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for c in conns:
            for cs in (c.sock, c.upstream):
                if cs is None:
                    continue
                try:
                    cs.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stall(self):
        """The node stops passing anything on (no PUBACK comes back)."""
        with self.lock:
            self.stalled = True

    def close(self):
        self.down()
        for t in self.threads:
            t.join(2)

    def snapshot(self):
        with self.lock:
            return list(self.conns)

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = pred(self.conns)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("node %s: no %s within %.1f s" % (self.name, what,
                                                                          timeout))
                self.lock.wait(min(left, 0.2))

    # ----------------------------------------------------------- workers
    def _accept_loop(self, lsock):
        for _ in range(100000):  # bounded: one accept per round, or the end
            try:
                cs, _ = lsock.accept()
            except OSError:
                return
            c = Conn(cs, self.mode)
            with self.lock:
                if self.stopping:
                    cs.close()
                    return
                self.conns.append(c)
                self.lock.notify_all()
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, c):
        try:
            if c.mode == FORWARD:
                c.upstream = socket.create_connection(("127.0.0.1", self.broker_port), 5)
            socks = [c.sock] + ([c.upstream] if c.upstream else [])
            for _ in range(10 ** 7):  # bounded; ends when either side closes
                r, _, _ = select.select(socks, [], [], 0.5)
                for s in r:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    with self.lock:
                        stalled = self.stalled
                    if s is c.sock:
                        with self.lock:
                            if not data:
                                c.closed_by_client = time.monotonic()
                            elif c.first_byte is None:
                                c.first_byte = time.monotonic()
                                c.first_data = data
                            if stalled:
                                c.dropped += len(data)
                            self.lock.notify_all()
                        if not data:
                            return
                        if c.upstream and not stalled:
                            c.upstream.sendall(data)
                    else:
                        if not data:
                            return
                        if not stalled:
                            c.sock.sendall(data)
        except OSError:
            pass
        finally:
            for s in (c.sock, c.upstream):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            with self.lock:
                self.lock.notify_all()


CONFIG = """
site:
  id: @SITE@
  facility_id: "TG-FAILOVER-1"
mqtt:
  uri:
%(uris)s
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: 0
  ack_stall_s: 5
  reconnect_max_s: %(reconnect_max_s)d
  connect_timeout_s: %(connect_timeout_s)d
storage:
  path: @DB@
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 0
devices:
"""

SMOKE = """  - id: %(id)s
    bus: lan
    unit: %(unit)d
    profile: smoke-point
    zone: khu-a
    zone_no: %(unit)d
    poll_ms: 250
    rules:
      fire: {chatter_max: 64}
"""

DEVICES = ["s-%d" % i for i in range(1, 7)]


def figures(name, **kv):
    print("FIGURES %s: %s" % (name, " ".join("%s=%s" % (k, v) for k, v in kv.items())),
          flush=True)


class FailoverTest(fgtest.FiregwTest):

    def tearDown(self):
        for n in getattr(self, "nodes", []):
            n.close()
        super().tearDown()

    def start(self, modes, connect_timeout_s=3, reconnect_max_s=2, wait_online=True, down=()):
        env = self.env
        env.start_broker()
        self.nodes = [Node("n%d" % (i + 1), env.mqtt_port, m) for i, m in enumerate(modes)]
        for i in down:
            self.nodes[i].down()
        uris = "\n".join("    - %s" % n.uri for n in self.nodes)
        text = CONFIG % {"uris": uris, "connect_timeout_s": connect_timeout_s,
                         "reconnect_max_s": reconnect_max_s}
        for i, d in enumerate(DEVICES):
            text += SMOKE % {"id": d, "unit": i + 1}
        env.write_config(text)
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.start_gateway()
        if wait_online:
            return self.wait_status(lambda p: True)
        return None

    def wait_status(self, pred, since=0, timeout=30, what="status online"):
        return self.sub.wait_for(lambda t, p: t == self.env.topic("status")
                                 and isinstance(p, dict) and p.get("state") == "online"
                                 and pred(p), timeout, what, since=since)

    def wait_all_normal(self):
        return self.wait_status(lambda p: p["points"]["normal"] == len(DEVICES), timeout=30,
                                what="all points normal")

    def db_count(self, where):
        return self.env.db_query("SELECT count(*) FROM events WHERE " + where)[0][0]

    def wait_db(self, n, where, what):
        fgtest.wait_until(lambda: self.db_count(where) >= n, 30, what, step=0.05)

    def wait_delivered(self, timeout=60):
        def done():
            evs = self.env.db_events()
            return not Delivery(self.sub, evs).missing(evs)
        fgtest.wait_until(done, timeout, "every stored event at the subscriber", step=0.2)

    def check_stream(self, name):
        """Every stored event arrived, duplicates only byte-identical."""
        events = self.env.db_events()
        d = Delivery(self.sub, events)
        missing = d.missing(events)
        figures(name, events=len(events), received=len(d.first), duplicated=d.dups,
                lost=len(missing))
        self.assertEqual(seq_gaps(events), [], "seq gaps in the events table")
        self.assertEqual(missing[:10], [], "stored events that never reached the center")
        self.assertEqual(d.mismatch[:5], [], "a resent event must be byte-identical")
        self.assertEqual(d.unknown[:5], [], "events received that are not in the database")
        self.assertEqual(d.key_order_violations(events)[:5], [],
                         "events of one alarm point were reordered")
        return events, d

    def wait_states(self, since):
        """Every device's retained state arrives (after index since)."""
        for d in DEVICES:
            topic = self.env.topic("state", d)
            self.sub.wait_for(lambda t, p: t == topic, 20, "state of %s" % d, since=since)

    # ------------------------------------------------------------ tests
    def test_first_node_down_at_start(self):
        """Node 1 refuses connections: the gateway goes on to node 2, and its
        status names node 2."""
        st = self.start([FORWARD, FORWARD], down=[0])
        n1, n2 = self.nodes
        self.assertEqual(st["broker"], n2.uri)
        self.assertEqual(n1.snapshot(), [])
        self.assertGreaterEqual(len(n2.snapshot()), 1)
        self.wait_states(0)

    def test_node_killed_during_alarms(self):
        """The node in use stalls with alarms in flight and is killed while
        more are raised: the gateway moves to the next node, republishes its
        retained status (broker: that node) and every device state there,
        and resends the unacknowledged alarms byte-identical."""
        st = self.start([FORWARD, FORWARD, FORWARD])
        n1, n2 = self.nodes[0], self.nodes[1]
        self.assertEqual(st["broker"], n1.uri, "the first attempt goes to the first node")
        self.wait_all_normal()
        conn1 = n1.snapshot()[-1]
        n1.stall()
        mark = self.sub.mark()
        for d in DEVICES[:3]:
            self.ctl.cmd("flag", d, "fire", "on")
        self.wait_db(3, "class='alarm' AND state='active'", "3 alarms stored")
        n1.wait(lambda cs: conn1.dropped > 0, 10, "alarm bytes swallowed by the stalled node")
        n1.down()
        for d in DEVICES[3:]:  # more alarms while the gateway moves (fire latches)
            self.ctl.cmd("flag", d, "fire", "on")
        self.wait_db(len(DEVICES), "class='alarm'", "every alarm stored")
        st = self.wait_status(lambda p: p.get("broker") == n2.uri, since=mark,
                              what="status naming node 2")
        self.wait_delivered()
        events, d = self.check_stream("node_killed_during_alarms")
        alarms = [e for e in events if e["class"] == "alarm"]
        self.assertEqual(len(alarms), len(DEVICES))
        self.wait_states(mark)  # every device state republished on the new node
        self.assertGreaterEqual(len(n2.snapshot()), 1)
        self.assertIsNotNone(conn1.closed_by_client or conn1.first_byte)
        first = {e["event_id"]: d.first[e["event_id"]] for e in alarms}
        status_pos = next(i for i, m in enumerate(self.sub.snapshot())
                          if i >= mark and m[1] == self.env.topic("status")
                          and isinstance(m[2], dict) and m[2].get("broker") == n2.uri)
        # the 3 alarms sent into the stalled node arrived only via node 2,
        # after its birth status
        stalled = sorted(alarms, key=lambda e: e["seq"])[:3]
        for e in stalled:
            self.assertGreater(first[e["event_id"]], status_pos,
                               "alarm seq %d came before the new node's status" % e["seq"])
        self.env.gw.stop(20)

    def test_hung_node_abandoned_after_connect_timeout(self):
        """Node 1 accepts TCP and reads the CONNECT but never answers: the
        attempt is abandoned after connect_timeout_s (3 s here, keepalive 5)
        and node 2 is used."""
        st = self.start([HANG, FORWARD], connect_timeout_s=3)
        n1, n2 = self.nodes
        self.assertEqual(st["broker"], n2.uri)
        c1 = n1.snapshot()
        self.assertGreaterEqual(len(c1), 1, "the first attempt goes to node 1")
        self.assertTrue(c1[0].first_data.startswith(b"\x10"), "node 1 got an MQTT CONNECT")
        n1.wait(lambda cs: cs[0].closed_by_client, 10, "the hung connection closed")
        c2 = n2.snapshot()
        self.assertGreaterEqual(len(c2), 1)
        self.assertLessEqual(c1[0].closed_by_client, c2[0].accepted,
                             "node 1's attempt was given up before node 2 was tried")
        figures("hung_node", connect_timeout_s=3,
                hung_attempt_held_s="%.2f" % (c1[0].closed_by_client - c1[0].accepted),
                next_node_accept_after_close_s="%.2f" % (c2[0].accepted
                                                         - c1[0].closed_by_client))

    def test_alarm_aborts_hung_attempt(self):
        """With a long connect timeout (30 s), an alarm raised while the
        attempt to the hung node 1 waits abandons it at once: node 2 is
        tried, the alarm arrives through it."""
        self.start([HANG, FORWARD], connect_timeout_s=30, wait_online=False)
        n1, n2 = self.nodes
        c1 = n1.wait(lambda cs: cs and cs[0].first_byte and cs[0], 20, "a CONNECT on node 1")
        self.assertTrue(c1.first_data.startswith(b"\x10"))
        # an attempt younger than 1 s is left to finish (uplink.c
        # KICK_ABORT_MS): the alarm comes when this one is older
        left = 1.3 - (time.monotonic() - c1.accepted)
        if left > 0:
            time.sleep(left)
        self.assertEqual(n2.snapshot(), [], "node 2 not tried before the alarm")
        t_alarm = time.monotonic()
        self.ctl.cmd("flag", DEVICES[0], "fire", "on")
        ev = self.sub.wait_event(timeout=25, **{"class": "alarm", "device": DEVICES[0]})
        t_arrived = time.monotonic()
        st = self.wait_status(lambda p: True)
        self.assertEqual(st["broker"], n2.uri)
        c1 = n1.snapshot()[0]
        self.assertIsNotNone(c1.closed_by_client, "the hung attempt was closed")
        c2 = n2.snapshot()[0]
        self.assertLessEqual(c1.closed_by_client, c2.accepted)
        self.assertEqual(len(n1.snapshot()), 1, "node 1 was not tried again meanwhile")
        self.assertEqual(ev["state"], "active")
        figures("alarm_aborts_hung", alarm_to_hung_close_s="%.2f" % (c1.closed_by_client
                                                                    - t_alarm),
                alarm_raised_to_received_s="%.2f" % (t_arrived - t_alarm))

    def test_alarm_after_outage_all_nodes_down(self):
        """Every node down for 10 s, an alarm raised meanwhile; node 2 comes
        back: the alarm arrives through it (figure: how soon)."""
        st = self.start([FORWARD, FORWARD], reconnect_max_s=10)
        n1, n2 = self.nodes
        self.wait_all_normal()
        n1.down()
        n2.down()
        self.wait_db(1, "type='uplink_lost' AND state='active'", "1350 stored")
        t_down = time.monotonic()
        self.ctl.cmd("flag", DEVICES[0], "fire", "on")
        self.wait_db(1, "class='alarm'", "the alarm stored")
        # the outage lasts 10 s: wait for the gateway's attempts to pass
        # that long (each refused attempt is a connection refused; nothing
        # to wait for but the time itself)
        time.sleep(max(0.0, 10.0 - (time.monotonic() - t_down)))
        mark = self.sub.mark()
        t_up = time.monotonic()
        n2.up()
        ev = self.sub.wait_event(timeout=30, since=mark,
                                 **{"class": "alarm", "device": DEVICES[0]})
        t_arrived = time.monotonic()
        self.assertEqual(ev["state"], "active")
        st = self.wait_status(lambda p: p.get("broker") == n2.uri, since=mark)
        self.assertEqual(st["broker"], n2.uri)
        c = n2.snapshot()[-1]
        figures("alarm_after_outage", outage_s="%.1f" % (t_up - t_down),
                node_back_to_alarm_received_s="%.2f" % (t_arrived - t_up),
                node_back_to_accept_s="%.2f" % (c.accepted - t_up),
                accept_to_connect_bytes_s="%.3f" % (c.first_byte - c.accepted))
        self.wait_delivered()
        self.check_stream("alarm_after_outage")

    def test_check_reports_uri_list_errors(self):
        """firegw check names each bad list at its line:col."""
        env = self.env
        cases = [
            ("mqtt:\n  uri: []\n", 3, 8, "the list of broker nodes is empty"),
            ("mqtt:\n  uri:\n    - tcp://n1:1883\n    - tcp://n1:1883\n", 5, 7,
             "uri 'tcp://n1:1883' is listed twice"),
            ("mqtt:\n  uri: [tcp://n1:1883, ssl://n2:8883]\n", 3, 24,
             "the list mixes plain (tcp://, mqtt://) and TLS (ssl://, mqtts://) nodes"),
        ]
        for body, line, col, msg in cases:
            with open(env.config_path, "w") as f:
                f.write("site: {id: s1}\n" + body)
            r = env.firegw("check", "-c", env.config_path)
            out = r.stdout + r.stderr
            self.assertNotEqual(r.returncode, 0, out)
            self.assertIn("%s:%d:%d: error: mqtt: uri" % (env.config_path, line, col), out)
            self.assertIn(msg, out)
        with open(env.config_path, "w") as f:
            f.write("site: {id: s1}\nmqtt:\n  uri: [tcp://n1:1883, tcp://n2:1883]\n")
        r = env.firegw("check", "-c", env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("broker tcp://n1:1883 or tcp://n2:1883", r.stdout + r.stderr)


if __name__ == "__main__":
    fgtest.main()
