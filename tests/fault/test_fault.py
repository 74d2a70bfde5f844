#!/usr/bin/env python3
"""Fault-injection tests (issue "Never lose an alarm", SPEC §5 and §8): the
real firegw against a real mosquitto and the Modbus simulator, while the
broker stops or freezes, the gateway is killed, the disk fills up, the
database is corrupt, slaves misbehave, or a large backlog drains.

Assertions are on what a real subscriber (mosquitto_sub, persistent
session) receives, checked against the gateway's own database read
read-only with sqlite3: no seq gap, every event delivered, duplicates only
with the same event_id and identical bytes, SPEC §3 delivery order. No
timing is asserted; every wait is bounded. Each scenario prints one
"FIGURES ..." line for the closing note of the issue.
"""

import glob
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402
from fgtest import Delivery, seq_gaps  # noqa: E402

HEAD = """
site:
  id: @SITE@
  facility_id: "TG-FAULT-1"
mqtt:
  uri: tcp://127.0.0.1:@MQTT_PORT@
  keepalive_s: 5
  heartbeat_s: 5
  telemetry_s: %(telemetry_s)d
  ack_stall_s: 5
  reconnect_max_s: 2
storage:
  path: @DB@
  max_mb: %(max_mb)d
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 0
%(rtu)s
devices:
"""

RTU_BUS = """  - id: rs485-1
    rtu: {device: @TTY@, baud: 38400}
    timeout_ms: 200
    byte_timeout_ms: 20
    retries: 0
    inter_frame_ms: 2
"""

SMOKE = """  - id: %(id)s
    bus: %(bus)s
    unit: %(unit)d
    profile: smoke-point
    zone: khu-%(zone)s
    zone_no: %(zone_no)d
    poll_ms: %(poll_ms)d
    fault_after: 3
    dead_retry_s: 1
    rules:
      fire: {chatter_max: 64}
"""


def config(devices, telemetry_s=60, max_mb=512, rtu=False):
    """devices: list of (id, bus, unit, poll_ms)."""
    text = HEAD % {"telemetry_s": telemetry_s, "max_mb": max_mb, "rtu": RTU_BUS if rtu else ""}
    for i, (dev, bus, unit, poll_ms) in enumerate(devices):
        text += SMOKE % {"id": dev, "bus": bus, "unit": unit, "zone": "a", "zone_no": i + 1,
                         "poll_ms": poll_ms}
    return text


def figures(name, **kv):
    print("FIGURES %s: %s" % (name, " ".join("%s=%s" % (k, v) for k, v in kv.items())),
          flush=True)


class FaultBase(fgtest.FiregwTest):
    """The helpers of the fault scenarios, without tests of its own (other
    files subclass it)."""

    # ------------------------------------------------------------ helpers
    def start(self, devices, sub=True, gateway=True, rtu=False, **cfg):
        env = self.env
        env.write_config(config(devices, rtu=rtu, **cfg))
        env.start_broker()
        if rtu:
            env.start_pty()
        env.start_sim(rtu_bus="rs485-1" if rtu else None)
        self.ctl = env.simctl()
        self.sub = None
        if sub:
            self.sub = env.subscriber()
            self.sub.wait_connected()
        if gateway:
            env.start_gateway()
            if sub:
                self.wait_online()

    def wait_online(self, since=0, timeout=30):
        return self.sub.wait_for(lambda t, p: t == self.env.topic("status")
                                 and isinstance(p, dict) and p.get("state") == "online",
                                 timeout, "status online", since=since)

    def wait_all_normal(self, n_points, timeout=40):
        """Every point read once (status counts them normal)."""
        return self.sub.wait_for(lambda t, p: t == self.env.topic("status")
                                 and isinstance(p, dict) and p.get("state") == "online"
                                 and p["points"]["normal"] == n_points, timeout,
                                 "all %d points normal" % n_points)

    def ack_by(self, event_id):
        """Who acknowledged event_id, from the ack records appended for it."""
        rows = self.env.db_query("SELECT json_extract(CAST(payload AS TEXT), '$.by') FROM events "
                                 "WHERE type = 'ack' AND ref = ? ORDER BY seq", (event_id,))
        return [r[0] for r in rows]

    def db_count(self, where="1=1"):
        return self.env.db_query("SELECT count(*) FROM events WHERE " + where)[0][0]

    def wait_db_count(self, n, where="1=1", timeout=30, what=None):
        return fgtest.wait_until(lambda: self.db_count(where) >= n, timeout,
                                 what or "%d events in the database" % n, step=0.1)

    def toggle_phases(self, devs, phases, timeout=30):
        """Each phase switches one flag of every device and waits until the
        gateway committed one event per device. Returns the events made."""
        made = 0
        for flag, state in phases:
            n0 = self.db_count()
            for d in devs:
                self.ctl.cmd("flag", d, flag, state)
            self.wait_db_count(n0 + len(devs), timeout=timeout,
                               what="%d events for %s %s" % (len(devs), flag, state))
            made += self.db_count() - n0
        return made

    def stop_gateway(self):
        rc = self.env.gw.stop(20)
        self.assertEqual(rc, 0, "the gateway must stop cleanly on SIGTERM")

    def wait_delivered(self, timeout, since=0):
        """Waits until every event of the database reached the subscriber."""
        def done():
            evs = self.env.db_events()
            d = Delivery(self.sub, evs, since=0)
            return not d.missing(evs)
        fgtest.wait_until(done, timeout, "every stored event to reach the subscriber", step=0.5)

    def check_stream(self, name, events, delivery, waiting=None, exempt_first=0):
        """The assertions shared by the outage scenarios."""
        gaps = seq_gaps(events)
        missing = delivery.missing(events)
        last_seq = self.env.db_query("SELECT last_seq FROM meta")[0][0]
        figures(name, events=len(events), delivered=len(delivery.first), duplicated=delivery.dups,
                lost=len(missing), seq_gaps=len(gaps))
        self.assertEqual(gaps, [], "seq gaps in the events table")
        self.assertEqual(last_seq, len(events), "meta.last_seq must equal the number of events")
        self.assertEqual(missing[:10], [], "%d stored events never reached the subscriber"
                         % len(missing))
        self.assertEqual(delivery.mismatch[:5], [], "resent events must be byte-identical")
        self.assertEqual(delivery.unknown[:5], [], "events received that are not in the database")
        self.assertEqual(delivery.key_order_violations(events)[:5], [],
                         "events of one alarm point were reordered")
        if waiting is not None:
            self.assertEqual(delivery.priority_violations(waiting, exempt_first)[:5], [],
                             "SPEC §3 delivery order (alarm, pre-alarm, fault, rest)")



class FaultTest(FaultBase):

    # ------------------------------------------------- 1. broker stopped
    def outage_devices(self, n):
        devs = [("s-%d" % i, "lan", i, 250) for i in range(1, n + 1)]
        fires = [("f-%d" % i, "lan", 200 + i, 250) for i in range(1, 5)]
        return devs, fires

    def test_broker_stopped_1000_events(self):
        env = self.env
        devs, fires = self.outage_devices(100)
        self.start(devs + fires)
        self.wait_all_normal(len(devs) + len(fires))
        env.stop_broker()
        self.wait_db_count(1, "type='uplink_lost' AND state='active'", what="1350 stored")
        names = [d[0] for d in devs]
        phases = [("prealarm", "on"), ("fault", "on"), ("prealarm", "off"), ("fault", "off")] * 2
        phases += [("prealarm", "on"), ("fault", "on")]
        # 250 events on half the points, the alarms, 250 on the other half,
        # then 500 on all: every class, active and cleared, interleaved
        made = self.toggle_phases(names[:50], phases[:5])
        for f in fires:  # alarms in the middle of the outage
            self.ctl.cmd("flag", f[0], "fire", "on")
        self.wait_db_count(len(fires), "class='alarm'", what="4 alarms stored")
        made += len(fires)
        made += self.toggle_phases(names[50:], phases[:5])
        made += self.toggle_phases(names, phases[5:])
        self.assertGreaterEqual(made, 1000)
        s0 = env.db_query("SELECT last_seq FROM meta")[0][0]
        mark = self.sub.mark()
        t0 = time.monotonic()
        env.start_broker()
        self.wait_delivered(120)
        t_drain = time.monotonic() - t0
        self.stop_gateway()
        events = env.db_events()
        d = Delivery(self.sub, events)
        waiting = [e for e in events if e["seq"] <= s0 and e["event_id"] in d.first
                   and d.first[e["event_id"]] >= mark]
        alarms = [e for e in waiting if e["class"] == "alarm"]
        self.assertEqual(len(alarms), len(fires))
        firsts = sorted(waiting, key=lambda e: d.first[e["event_id"]])[:len(fires)]
        self.assertEqual([e["class"] for e in firsts], ["alarm"] * len(fires),
                         "the waiting alarms must go out before everything else")
        self.check_stream("broker_stopped", events, d, waiting)
        figures("broker_stopped", raised=made, waiting_at_reconnect=len(waiting),
                reconnect_to_all_delivered_s="%.1f" % t_drain)

    # -------------------------------------------------- 2. broker frozen
    def test_broker_frozen_sigstop(self):
        env = self.env
        devs, fires = self.outage_devices(100)
        self.start(devs + fires)
        self.wait_all_normal(len(devs) + len(fires))
        names = [d[0] for d in devs]
        gw_lines = len(env.gw.lines)
        env.freeze_broker()
        try:
            made = self.toggle_phases(names, [("prealarm", "on"), ("fault", "on")])
            for f in fires:
                self.ctl.cmd("flag", f[0], "fire", "on")
            self.wait_db_count(len(fires), "class='alarm'", what="4 alarms stored")
            made += len(fires)
            made += self.toggle_phases(names, [("prealarm", "off"), ("fault", "off")])
            # the stall must be noticed (keepalive 5 s, ack_stall_s 5) with
            # the connection still open
            env.gw.wait_line(lambda l: "uplink" in l and "lost" in l or "not acknowledged" in l,
                             40, "the gateway noticing the frozen broker", since=gw_lines)
            s0 = env.db_query("SELECT last_seq FROM meta")[0][0]
        finally:
            env.thaw_broker()
        self.wait_delivered(120)
        self.stop_gateway()
        events = env.db_events()
        d = Delivery(self.sub, events)
        first_frozen = min(e["seq"] for e in events if e["class"] == "prealarm")
        waiting = [e for e in events if first_frozen <= e["seq"] <= s0]
        # up to a window of events went into the frozen connection before
        # the rest existed: those are not held to the order check
        inflight = 16
        self.check_stream("broker_frozen", events, d, waiting, exempt_first=inflight)
        figures("broker_frozen", raised=made)

    # ----------------------------------------------- 3. gateway SIGKILLed
    def test_gateway_sigkill_20_times(self):
        env = self.env
        devs = [("s-%d" % i, "lan", i, 200) for i in range(1, 21)]
        fire = ("f-1", "lan", 200, 200)
        self.start(devs + [fire], telemetry_s=2)
        self.wait_all_normal(len(devs) + 1)
        self.ctl.cmd("flag", "f-1", "fire", "on")
        alarm = self.sub.wait_event(device="f-1", **{"class": "alarm", "state": "active"})
        self.ctl.cmd("flag", "f-1", "fire", "off")
        self.sub.wait_for(lambda t, p: t == env.topic("state", "f-1") and isinstance(p, dict)
                          and p["points"]["fire"]["latched"]
                          and p["points"]["fire"]["conditions"] == [], 20, "f-1 latched")

        stop = threading.Event()
        toggles = [0]

        def burst():
            # flips flags of random devices until told to stop (bounded)
            rnd = random.Random(7)
            ctl = fgtest.SimCtl(env.ctl)
            state = {}
            try:
                for _ in range(100000):
                    if stop.is_set():
                        break
                    d = "s-%d" % rnd.randint(1, len(devs))
                    flag = rnd.choice(["prealarm", "fault"])
                    on = not state.get((d, flag), False)
                    state[(d, flag)] = on
                    ctl.cmd("flag", d, flag, "on" if on else "off")
                    toggles[0] += 1
                    stop.wait(0.02)
            finally:
                ctl.close()

        t = threading.Thread(target=burst, daemon=True)
        t.start()
        rnd = random.Random(1350)
        kills = 0
        try:
            for _ in range(20):
                n0 = self.db_count()
                # a random moment: after a random number of fresh commits,
                # or a random short while after the start
                k = rnd.randint(0, 6)
                if k:
                    self.wait_db_count(n0 + k, timeout=20)
                else:
                    time.sleep(rnd.uniform(0.0, 0.3))  # noqa: the kill moment is the point
                env.gw.kill()
                kills += 1
                env.start_gateway()
        finally:
            stop.set()
            t.join(10)
        mark = self.sub.mark()
        st = self.sub.wait_for(lambda t, p: t == env.topic("state", "f-1") and isinstance(p, dict)
                               and p["points"]["fire"]["value"]["quality"] == "good", 20,
                               "f-1 read after the last restart", since=mark)
        # every point read after the last restart (the events those first
        # reads make exist by then), and only then everything delivered:
        # waiting for delivery first raced with events of the first reads
        self.sub.wait_for(lambda t, p: t == env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online" and p["points"]["unknown"] == 0,
                          30, "every point read after the last restart", since=mark)
        self.wait_delivered(90)
        self.assertEqual(st["points"]["fire"]["state"], "alarm", "the latched alarm was lost")
        self.assertTrue(st["points"]["fire"]["latched"])
        self.stop_gateway()
        events = env.db_events()
        d = Delivery(self.sub, events)
        self.check_stream("gateway_sigkill", events, d)
        self.assertEqual([e["seq"] for e in events if e["class"] == "alarm"], [alarm["seq"]],
                         "restarts must not make new alarm events")
        # each condition of a point alternates active / cleared: a restored
        # state makes no new event, a lost one would make a second "active"
        last = {}
        for e in events:
            if e["device"] == "gateway" or e["class"] == "record":
                continue
            k = (e["device"], e["point"], e["class"], e["type"])
            self.assertNotEqual(last.get(k), e["state"],
                                "two %s events in a row for %s (seq %d)" % (e["state"], k,
                                                                            e["seq"]))
            last[k] = e["state"]
        r = subprocess.run(["sqlite3", env.db, "PRAGMA integrity_check"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.stdout.strip(), "ok", r.stderr)
        figures("gateway_sigkill", kills=kills, toggles=toggles[0], events=len(events))

    # ---------------------------------------------------- 4. storage full
    def usage_percent(self, max_mb=8):
        env = self.env
        ps = env.db_query("PRAGMA page_size")[0][0]
        pc = env.db_query("PRAGMA page_count")[0][0]
        fl = env.db_query("PRAGMA freelist_count")[0][0]
        return (pc - fl) * ps * 100 // (max_mb * 1024 * 1024)

    def test_max_mb_prunes_telemetry_and_warns(self):
        env = self.env
        env.write_config(config([("s-1", "lan", 1, 300)], max_mb=8, telemetry_s=2))
        # events (never pruned) fill 91 % of max_mb, telemetry up to 96 %
        info = env.mkbacklog("--max-mb", 8, "--stored-only", "--pad", 2000,
                             "--fill-events-percent", 91, "--fill-percent", 96)
        self.assertGreaterEqual(int(info["percent"]), 95)
        tel0 = env.db_query("SELECT count(*) FROM outbox WHERE prio = 9")[0][0]
        ev0 = self.db_count()
        # the subscriber's session first, then the broker down: nothing is
        # delivered, so telemetry that disappears was pruned
        env.start_broker()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.stop_broker()
        env.start_sim()
        env.start_gateway()
        fgtest.wait_until(lambda: env.db_query("SELECT count(*) FROM outbox WHERE prio = 9")[0][0]
                          < tel0, 30, "telemetry pruned (usage over 80 % of max_mb)", step=0.5)
        self.wait_db_count(1, "type='storage_full' AND cid='1623'", timeout=30,
                           what="1623 stored (usage stays over 90 %: events are never pruned)")
        self.assertGreaterEqual(self.db_count("device LIKE 'backlog-%'"), ev0,
                                "events are never pruned")
        env.start_broker()
        ev = self.sub.wait_event(timeout=30, device="gateway", type="storage_full",
                                 state="active")
        self.assertEqual(ev["cid"], "1623")
        tel1 = env.db_query("SELECT count(*) FROM outbox WHERE prio = 9")[0][0]
        figures("max_mb_prune", telemetry_before=tel0, telemetry_after=tel1,
                percent_before=info["percent"], percent_after=self.usage_percent())

    def test_max_mb_full_alarms_still_published(self):
        env = self.env
        devs = [("s-%d" % i, "lan", i, 250) for i in range(1, 3)]
        env.write_config(config(devs, max_mb=8))
        # the file at max_mb, all of it events (which are never pruned)
        info = env.mkbacklog("--max-mb", 8, "--stored-only", "--pad", 2000,
                             "--fill-events-percent", 100)
        s_before = int(info["last_seq"])
        self.start(devs, max_mb=8)
        self.wait_all_normal(len(devs))
        mark = self.sub.mark()
        self.ctl.cmd("flag", "s-1", "fire", "on")
        alarm = self.sub.wait_event(since=mark, device="s-1",
                                    **{"class": "alarm", "state": "active"})
        fault = self.sub.wait_event(timeout=30, device="gateway", type="storage_fault",
                                    state="active")
        self.assertEqual(fault["cid"], "1624")
        self.ctl.cmd("flag", "s-2", "prealarm", "on")
        pre = self.sub.wait_event(since=mark, device="s-2",
                                  **{"class": "prealarm", "state": "active"})
        seqs = sorted([alarm["seq"], fault["seq"], pre["seq"]])
        self.assertEqual(len(set(seqs)), 3, "events held in memory keep distinct seqs")
        self.assertGreater(seqs[0], s_before)
        self.assertEqual(alarm["event_id"].split(":")[1], info["epoch"])
        figures("max_mb_full", filler_events=info["events"], alarm_seq=alarm["seq"])

    def test_disk_full_alarms_still_published(self):
        env = self.env
        mnt = env.mount_tmpfs(os.path.join(env.dir, "disk"), "24m")
        env.db = os.path.join(mnt, "firegw.db")
        devs = [("s-%d" % i, "lan", i, 250) for i in range(1, 5)]
        self.start(devs, telemetry_s=1)
        self.wait_all_normal(len(devs))
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            chunk = b"\0" * 65536
            for _ in range(24 * 16 + 16):  # bounded by the tmpfs size
                try:
                    f.write(chunk)
                    f.flush()
                except OSError:
                    break
        mark = self.sub.mark()
        s_before = env.db_query("SELECT last_seq FROM meta")[0][0]
        try:
            self.ctl.cmd("flag", "s-1", "fire", "on")
            alarm = self.sub.wait_event(since=mark, device="s-1",
                                        **{"class": "alarm", "state": "active"})
            fault = self.sub.wait_event(since=mark, timeout=30, device="gateway",
                                        type="storage_fault", state="active")
            self.assertEqual(fault["cid"], "1624")
            self.ctl.cmd("flag", "s-2", "prealarm", "on")
            pre = self.sub.wait_event(since=mark, device="s-2",
                                      **{"class": "prealarm", "state": "active"})
            seqs = sorted([alarm["seq"], fault["seq"], pre["seq"]])
            self.assertEqual(len(set(seqs)), 3, "events held in memory keep distinct seqs")
            self.assertGreater(seqs[0], s_before)
        finally:
            os.unlink(filler)
        self.sub.wait_event(since=mark, timeout=30, device="gateway", type="storage_fault",
                            state="cleared")
        self.wait_db_count(1, "seq = %d" % pre["seq"], what="the held events written")
        self.wait_delivered(30)
        self.stop_gateway()
        events = env.db_events()
        d = Delivery(self.sub, events)
        self.check_stream("disk_full", events, d)
        held = [e for e in events if e["seq"] > s_before]
        figures("disk_full", held_then_written=len(held))

    # ------------------------------------------------ 5. corrupt database
    def corrupt_start(self):
        """Starts broker, subscriber and gateway on the (damaged) database;
        returns the new epoch from status."""
        env = self.env
        env.start_broker()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.start_gateway()
        st = self.wait_online()
        fault = self.sub.wait_event(timeout=30, device="gateway", type="storage_fault",
                                    state="active")
        self.assertEqual(fault["cid"], "1624")
        self.assertTrue(fault["event_id"].startswith("%s:%s:" % (env.site, st["epoch"])))
        aside = glob.glob(env.db + ".corrupt-*")
        self.assertEqual(len([a for a in aside if a.split("-")[-1].isdigit()]), 1,
                         "the corrupt file must be moved aside as <path>.corrupt-<ms>")
        self.assertEqual(env.db_query("SELECT epoch FROM meta")[0][0], st["epoch"])
        r = subprocess.run(["sqlite3", env.db, "PRAGMA integrity_check"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.stdout.strip(), "ok")
        return st["epoch"], aside[0]

    def test_not_a_database_moved_aside(self):
        env = self.env
        env.write_config(config([("s-1", "lan", 1, 300)]))
        junk = b"this is not a database\n" * 500
        with open(env.db, "wb") as f:
            f.write(junk)
        env.start_sim()
        epoch, aside = self.corrupt_start()
        with open(aside, "rb") as f:
            self.assertEqual(f.read(), junk, "the file moved aside must be kept as it was")
        self.stop_gateway()
        self.assertEqual(seq_gaps(env.db_events()), [])
        figures("not_a_database", new_epoch=epoch)

    def test_corrupt_after_unclean_stop_new_epoch(self):
        env = self.env
        env.write_config(config([("s-1", "lan", 1, 300)], telemetry_s=1))
        env.mkbacklog("--events", 50, "--telemetry", 20000)
        old_epoch = env.db_query("SELECT epoch FROM meta")[0][0]
        env.start_sim()
        env.start_gateway()  # broker down: the gateway writes its uplink fault and readings
        self.wait_db_count(1, "type='uplink_lost'")
        fgtest.wait_until(lambda: os.path.exists(env.db + "-wal")
                          and os.path.getsize(env.db + "-wal") > 0, 20, "a WAL")
        env.gw.kill()
        size = os.path.getsize(env.db)
        with open(env.db, "r+b") as f:
            f.seek((size // 2) // 4096 * 4096)
            f.write(random.Random(5).randbytes(16 * 4096))
        epoch, _ = self.corrupt_start()
        self.assertNotEqual(epoch, old_epoch, "a new database must get a new epoch")
        self.stop_gateway()
        events = env.db_events()
        self.assertEqual(seq_gaps(events), [])
        self.assertEqual(events[0]["seq"], 1)
        figures("corrupt_after_crash", old_epoch=old_epoch, new_epoch=epoch)

    # ------------------------------------- center acknowledgements (1354)
    def publish_ack(self, event_id, by):
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.env.mqtt_port),
                            "-q", "1", "-t", self.env.topic("ack"),
                            "-m", '{"event_id": "%s", "by": "%s"}' % (event_id, by)],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_alarm_not_acknowledged_raises_1354(self):
        env = self.env
        devs = [("s-1", "lan", 1, 250), ("s-2", "lan", 2, 250)]
        text = config(devs).replace("  ack_stall_s: 5\n", "  ack_stall_s: 5\n  ack_timeout_s: 2\n")
        env.write_config(text)
        env.start_broker()
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.start_gateway()
        self.wait_all_normal(len(devs))
        # error path first: nobody acknowledges
        self.ctl.cmd("flag", "s-1", "fire", "on")
        a = self.sub.wait_event(device="s-1", **{"class": "alarm", "state": "active"})
        f = self.sub.wait_event(timeout=30, device="gateway", type="ack_timeout", state="active")
        self.assertEqual(f["cid"], "1354")
        self.assertGreater(f["seq"], a["seq"])
        self.publish_ack(a["event_id"], "center-1")
        r = self.sub.wait_event(timeout=30, device="gateway", type="ack_timeout",
                                state="cleared")
        self.assertEqual(r["cid"], "3354")
        fgtest.wait_until(lambda: self.ack_by(a["event_id"]) == ["center-1"], 20,
                          "the acknowledgement recorded as a record")
        # an alarm acknowledged in time raises nothing
        mark = self.sub.mark()
        self.ctl.cmd("flag", "s-2", "fire", "on")
        b = self.sub.wait_event(since=mark, device="s-2", **{"class": "alarm", "state": "active"})
        self.publish_ack(b["event_id"], "center-1")
        fgtest.wait_until(lambda: self.ack_by(b["event_id"]) == ["center-1"], 20,
                          "the second acknowledgement recorded")
        # two heartbeats (5 s each) outlast the 2 s deadline
        for _ in range(2):
            self.sub.wait_for(lambda t, p: t == env.topic("status"), 20, "a heartbeat",
                              since=self.sub.mark())
        late = [e for e in self.sub.events()[0:] if e.get("type") == "ack_timeout"
                and e["seq"] > b["seq"]]
        self.assertEqual(late, [], "an acknowledged alarm must not raise 1354")
        figures("ack_timeout", alarms=2, faults_1354=1)

    # ------------------------------------------------- clock step (1626)
    def test_clock_step_raises_1626(self):
        env = self.env
        devs = [("s-1", "lan", 1, 250)]
        env.write_config(config(devs))
        env.start_broker()
        env.start_sim()
        self.ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        offset = os.path.join(env.dir, "clock-offset")
        with open(offset, "w") as f:
            f.write("0\n")
        # only the gateway's wall clock moves (LD_PRELOAD shim), never the
        # machine's
        env.start_gateway(extra_env={"LD_PRELOAD": fgtest.clockshift_lib(),
                                     "FIREGW_TEST_CLOCK_FILE": offset})
        self.wait_all_normal(len(devs))
        mark = self.sub.mark()
        with open(offset + ".tmp", "w") as f:
            f.write("3600000\n")
        os.replace(offset + ".tmp", offset)
        ev = self.sub.wait_event(since=mark, timeout=30, device="gateway", type="clock",
                                 state="active")
        self.assertEqual(ev["cid"], "1626")
        # timers are monotonic: the gateway keeps publishing after the step
        self.ctl.cmd("flag", "s-1", "fire", "on")
        a = self.sub.wait_event(since=mark, device="s-1", **{"class": "alarm", "state": "active"})
        self.assertGreater(a["seq"], ev["seq"])
        figures("clock_step", step_s=3600, event_seq=ev["seq"])

    # ---------------------------------------------- 6. field faults
    def field_faults(self, bus, modes):
        env = self.env
        rtu = bus == "rs485-1"
        devs = [("ok-1", bus, 1, 300), ("ok-2", bus, 2, 300)]
        for i, m in enumerate(modes):
            devs.append(("%s-1" % m[0], bus, 10 + 2 * i, 300))  # unit+1 is nobody
        self.start(devs, rtu=rtu)
        self.wait_all_normal(len(devs))
        mark = self.sub.mark()
        self.ctl.cmd("reset-stats")
        for m in modes:
            self.ctl.cmd("mode", "%s-1" % m[0], *m[1:])
        lost = {}
        for m in modes:
            ev = self.sub.wait_event(since=mark, timeout=30, device="%s-1" % m[0],
                                     type="comm_loss", state="active")
            self.assertEqual(ev["cid"], "1381", m)
            self.assertEqual(ev["causes"], ["comm"])
            lost[m[0]] = ev
        ok_answered = [env.sim_stats("ok-1")[1], env.sim_stats("ok-2")[1]]
        # the healthy devices keep being polled while the others fail (a
        # count, with wide bounds, never a rate)
        def polled():
            now = [env.sim_stats("ok-1")[1], env.sim_stats("ok-2")[1]]
            return all(a - b > 10 for a, b in zip(now, ok_answered)) and now
        after = fgtest.wait_until(polled, 30, "ok-1 and ok-2 answering more polls", step=0.5)
        restore_mark = self.sub.mark()
        for m in modes:
            self.ctl.cmd("mode", "%s-1" % m[0], "normal")
        for m in modes:
            ev = self.sub.wait_event(since=restore_mark, timeout=30, device="%s-1" % m[0],
                                     type="comm_loss", state="cleared")
            self.assertEqual(ev["cid"], "3381", m)
        healthy_faults = [e for e in self.sub.events()
                          if e.get("device", "").startswith("ok-") and e["class"] == "fault"]
        self.assertEqual(healthy_faults, [], "a healthy device got a fault from its neighbours")
        figures("field_faults_" + ("rtu" if rtu else "tcp"), modes=len(modes),
                ok_answers_during=(after[0] - ok_answered[0]) + (after[1] - ok_answered[1]))

    def test_field_faults_tcp(self):
        self.field_faults("lan", [("silent", "silent"), ("slow", "slow", "700"),
                                  ("exception", "exception", "4"), ("garbage", "garbage"),
                                  ("badcrc", "badcrc")])

    def test_field_faults_rtu(self):
        self.field_faults("rs485-1", [("silent", "silent"), ("slow", "slow", "700"),
                                      ("exception", "exception", "4"), ("garbage", "garbage"),
                                      ("badcrc", "badcrc"), ("wrongunit", "wrongunit")])

    # -------------------------------------------- 7. backlog and a fire
    def test_fire_jumps_backlog(self):
        env = self.env
        devs = [("s-1", "lan", 1, 100), ("s-2", "lan", 2, 100)]
        env.write_config(config(devs))
        t0 = time.monotonic()
        info = env.mkbacklog("--events", 10000, "--telemetry", 100000)
        t_mk = time.monotonic() - t0
        n_backlog = int(info["events"])
        env.start_broker()
        env.start_sim()
        ctl = env.simctl()
        self.sub = env.subscriber()
        self.sub.wait_connected()
        env.start_gateway()
        self.sub.wait_for(lambda t, p: isinstance(p, dict)
                          and str(p.get("device", "")).startswith("backlog-"), 60,
                          "the first backlog event")
        ctl.cmd("flag", "s-1", "fire", "on")
        fire = self.sub.wait_event(timeout=60, device="s-1",
                                   **{"class": "alarm", "state": "active"})
        self.wait_delivered(180)
        self.stop_gateway()
        events = env.db_events()
        d = Delivery(self.sub, events)
        backlog = [e for e in events if e["device"].startswith("backlog-")]
        self.assertEqual(len(backlog), n_backlog)
        pos_fire = d.first[fire["event_id"]]
        last_backlog = max(d.first[e["event_id"]] for e in backlog)
        before = sum(1 for e in backlog if d.first[e["event_id"]] < pos_fire)
        arr = sorted(d.arrival[e["event_id"]] for e in backlog)
        rate = len(arr) / max(arr[-1] - arr[0], 1e-3)
        figures("backlog", backlog_events=n_backlog, telemetry_rows=info["telemetry"],
                backlog_before_fire=before, drain_events_per_s="%.0f" % rate,
                mkbacklog_s="%.1f" % t_mk, mkbacklog_events_ms=info["events_ms"])
        self.assertLess(pos_fire, last_backlog,
                        "the fire must arrive before the backlog finished draining")
        self.check_stream("backlog", events, d)


if __name__ == "__main__":
    fgtest.main()
