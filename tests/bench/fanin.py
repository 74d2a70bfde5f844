"""fanin - `make bench` scenario [fanin]: many premises on one broker, TLS.

One mosquitto with a TLS listener (certificates made here with openssl:
a CA and a server certificate for 127.0.0.1, RSA 2048 by default) and a
plain listener on loopback for the bench's own subscribers; persistence
on, as a production broker has it, so sessions and retained messages
survive its restart. Against it:
  - build/loadgen: BENCH_FANIN_SITES (1000) simulated premises in
    BENCH_FANIN_PROCS (8) processes, each premises with firegw's contract and the daemon's own payload,
    detection and publisher code (tests/bench/loadgen.c), at firegw's
    default rates (heartbeat 30 s, telemetry and states 60 s) plus a fire
    alarm per premises every 10 minutes on average, cleared 5 s later;
  - one real firegw over TLS with the simulator (8 smoke detectors, 1 s
    poll, latch off), whose alarm latency is measured as the rest of the
    bench measures it (bench.alarm_latency: flag on through the
    simulator's control socket, receipt stamped by mosquitto_sub);
  - center subscribers (persistent sessions, QoS 1): every status, every
    alarm of every premises.

Phases: cold start (every premises connects at once), steady load (broker
CPU from /proc/PID/stat utime+stime, VmRSS, real gateway alarms), broker
restart (stopped, down BENCH_FANIN_OUTAGE_S, started again): the reconnect
storm, timed until every premises' status online has reached the center,
with the TLS handshakes per second it caused (connections counted by the
generator each second and by mosquitto's log) and the real gateway's
alarms raised from the broker's return; then the generator stops, waits
for every event's PUBACK and the alarms are counted: every event id made
(the generator's list, the real gateway's activations) against the
distinct ids the center received.

Every process is stopped by its PID (World.stop); every wait is bounded.
"""

import json
import os
import resource
import subprocess
import threading
import time

from benchlib import (World, Sub, free_port, make_config, smoke_devices, rss_kb, cpu_seconds,
                      summary, wait_port, BUILD, SENSORS)

PREFIX = "firegw"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.isdigit() else default


def ts_seconds(ts):
    import calendar
    try:
        base, frac = ts.rstrip("Z").split(".")
        return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000.0
    except (ValueError, AttributeError):
        return None


# ------------------------------------------------------------ parts

def make_certs(w, kind):
    """A CA and a server certificate for 127.0.0.1 (the gateways check the
    host name). kind: rsa (2048 bits) or ec (P-256)."""
    key = ["-newkey", "rsa:2048"] if kind == "rsa" else [
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    ca, ca_key = w.path("ca.crt"), w.path("ca.key")
    srv, srv_key, csr = w.path("server.crt"), w.path("server.key"), w.path("server.csr")
    ext = w.path("ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        ["openssl", "req", "-x509"] + key + ["-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
                                             "-subj", "/CN=firegw bench CA"],
        ["openssl", "req"] + key + ["-nodes", "-keyout", srv_key, "-out", csr,
                                    "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", srv, "-days", "2", "-extfile", ext],
    ]
    for argv in steps:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl: %s" % r.stderr[-300:])
    return ca, srv, srv_key


class Broker:
    """mosquitto with a TLS listener (gateways) and a plain one (the bench's
    subscribers), persistence on, connections logged with unix-second time
    stamps; restartable with the same configuration."""

    def __init__(self, w, ca, cert, key, max_conn):
        self.w = w
        self.plain = free_port()
        self.tls = free_port()
        self.log = w.path("mosquitto.log")
        pdir = w.path("mosq")
        os.makedirs(pdir, exist_ok=True)
        self.conf = w.path("mosquitto-tls.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "user root",  # as root mosquitto would drop to a user that cannot write pdir
                "per_listener_settings false",
                "allow_anonymous true",
                "max_connections %d" % max_conn,
                "persistence true",
                "persistence_location %s/" % pdir,
                "autosave_interval 0",
                "max_queued_messages 1000000",
                "max_inflight_messages 0",
                "log_dest file %s" % self.log,
                "log_type error", "log_type warning", "log_type notice",
                "connection_messages true",
                "log_timestamp true",
                "log_timestamp_format %s",
                "listener %d 127.0.0.1" % self.plain,
                "listener %d 127.0.0.1" % self.tls,
                "cafile %s" % ca, "certfile %s" % cert, "keyfile %s" % key,
                ""]))
        self.proc = None

    def start(self):
        self.proc = self.w.spawn("mosquitto-tls", ["mosquitto", "-c", self.conf])
        wait_port(self.plain, 20)
        wait_port(self.tls, 20)
        return self.proc

    def stop(self):
        self.proc.stop(20)
        self.w.procs.remove(self.proc)
        self.proc = None

    def count(self, text):
        """Lines of the log containing text."""
        try:
            with open(self.log, errors="replace") as f:
                return sum(1 for line in f if text in line)
        except OSError:
            return 0

    def connects_per_second(self, since, prefix):
        """{unix second: count} of 'New client connected ... as <prefix>...'
        lines logged at or after since."""
        out = {}
        try:
            with open(self.log, errors="replace") as f:
                for line in f:
                    if "New client connected" not in line or (" as %s" % prefix) not in line:
                        continue
                    try:
                        t = int(line.split(":", 1)[0])
                    except ValueError:
                        continue
                    if t >= int(since):
                        out[t] = out.get(t, 0) + 1
        except OSError:
            pass
        return out


class Sampler:
    """CPU seconds and VmRSS of named processes every 0.5 s, in a thread;
    a PID may change (the broker's restart): pids() is asked each time."""

    def __init__(self, pids):
        self.pids = pids
        self.samples = []   # (time.time(), {name: (cpu_s, rss_kb)})
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_ev.wait(0.5):
            snap = {}
            for name, pid in self.pids().items():
                try:
                    snap[name] = (cpu_seconds(pid), rss_kb(pid))
                except (OSError, ValueError, IndexError):
                    pass
            self.samples.append((time.time(), snap))

    def cpu_pct(self, name, t0, t1):
        """CPU % of one core of name between the samples nearest t0 and t1
        (within one life of the process: cumulative CPU must not fall)."""
        pts = [(t, s[name][0]) for t, s in self.samples if name in s and t0 - 0.6 <= t <= t1 + 0.6]
        if len(pts) < 2:
            return None
        a = min(pts, key=lambda p: abs(p[0] - t0))
        b = min(pts, key=lambda p: abs(p[0] - t1))
        if b[0] <= a[0] or b[1] < a[1]:
            return None
        return 100.0 * (b[1] - a[1]) / (b[0] - a[0])

    def cpu_pct_sum(self, prefix, t0, t1):
        names = {n for _, snap in self.samples for n in snap if n.startswith(prefix)}
        vals = [self.cpu_pct(n, t0, t1) for n in sorted(names)]
        return sum(v for v in vals if v is not None) if vals else None

    def close(self):
        self.stop_ev.set()
        self.t.join(2)


def gen_stats(proc, since_index=0):
    out = []
    for line in proc.lines[since_index:]:
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def stat_sum(gens, t, key):
    """A counter summed over the generator processes at wall time t."""
    return sum(stat_at(gen_stats(g), t, key) for g in gens)


def connects_per_second(gens, since):
    """{unix second: connections the generators completed in it}."""
    out = {}
    for g in gens:
        prev = None
        for s in gen_stats(g):
            t = s["wall_ms"] / 1000.0
            if prev and t >= since:
                out[int(t)] = out.get(int(t), 0) + s["connects"] - prev["connects"]
            prev = s
    return out


def stat_at(stats, t, key):
    """The generator's counter key at wall time t (the last line at or
    before it)."""
    best = None
    for s in stats:
        if s["wall_ms"] / 1000.0 <= t:
            best = s
    return best[key] if best else 0


def first_online(status_sub, after, sites, deadline_s, seen=None):
    """Reads status messages until every site in sites has said online with
    a status ts after `after`, or deadline_s passes. Returns {site: (receipt,
    ts)}. Messages of the queue are consumed."""
    seen = {} if seen is None else seen
    end = time.monotonic() + deadline_s
    while len(seen) < len(sites) and time.monotonic() < end:
        m = status_sub.get(0.5)
        if not m or not isinstance(m[3], dict):
            continue
        p = m[3]
        s = p.get("site")
        if s not in sites or s in seen or p.get("state") != "online":
            continue
        ts = ts_seconds(p.get("ts", ""))
        if ts is not None and ts > after:
            seen[s] = (m[0], ts)
    return seen


def sub_ready(w, sub, topic):
    """Publishes a probe on topic until the subscriber has it (bounded)."""
    for _ in range(50):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(w.mqtt_port), "-t", topic,
                        "-m", "{}"], timeout=10)
        if sub.wait(lambda t, p: t == topic, 0.2):
            return
    raise RuntimeError("subscriber of %s never subscribed" % topic)


# ------------------------------------------------------------ scenario

def run(ctx):
    """ctx: dict with row, log, alarm_latency, results, quick, alarm_target_ms."""
    row, log, alarm_latency = ctx["row"], ctx["log"], ctx["alarm_latency"]
    quick = ctx["quick"]
    n_sites = env_int("BENCH_FANIN_SITES", 100 if quick else 1000)
    outage_s = env_int("BENCH_FANIN_OUTAGE_S", 3 if quick else 10)
    steady_s = env_int("BENCH_FANIN_STEADY_S", 8 if quick else 30)
    # clients per generator process: paho 1.3.12 with 1 000 clients in one
    # process corrupted a few connections' streams after a broker restart
    # (mosquitto: "disconnected due to malformed packet", the same clients
    # again at every reconnect); with 125 a process it was not seen. A
    # firegw has one client per process.
    n_procs = max(1, env_int("BENCH_FANIN_PROCS", 8))
    keykind = "ec" if os.environ.get("BENCH_FANIN_KEY", "rsa") == "ec" else "rsa"
    loadgen = os.path.join(BUILD, "loadgen")
    if not os.access(loadgen, os.X_OK):
        raise RuntimeError("%s missing: make bench builds it (make B=... %s)" % (loadgen, loadgen))
    # 1 000 clients: a socket each in the broker, a socket and an eventfd
    # each in the generator; children inherit the raised soft limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n_sites + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise RuntimeError("open-file limit %d < %d needed; raise ulimit -Hn" % (hard, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    res = {"sites": n_sites, "outage_s": outage_s, "steady_s": steady_s, "procs": n_procs,
           "tls_key": "RSA 2048" if keykind == "rsa" else "EC P-256",
           "loadavg_start": os.getloadavg()}
    with World("fanin-tls") as w:
        ca, cert, key = make_certs(w, keykind)
        br = Broker(w, ca, cert, key, n_sites + 100)
        br.start()
        w.mqtt_port = br.plain          # the bench's subscribers and probes
        tls_uri = "ssl://127.0.0.1:%d" % br.tls
        tls_block = "{ca_file: %s}" % ca

        real_site = "bench-real"
        status = Sub(w, "%s/+/status" % PREFIX, "center-status", persistent=True)
        alarms_all = Sub(w, "%s/+/alarm/#" % PREFIX, "center-alarms", persistent=True)
        alarms_real = Sub(w, "%s/%s/alarm/#" % (PREFIX, real_site), "center-real", persistent=True)
        for s, topic in ((status, "%s/bench-probe/status" % PREFIX),
                         (alarms_all, "%s/bench-probe/alarm/x" % PREFIX),
                         (alarms_real, "%s/%s/alarm/bench-probe" % (PREFIX, real_site))):
            sub_ready(w, s, topic)
        status.drain()
        alarms_all.drain()
        alarms_real.drain()

        # the real gateway, over TLS, with the simulator
        mport = free_port()
        names = ["rg-d%d" % i for i in range(8)]
        cfg = w.path("real.yaml")
        make_config(cfg, real_site, br.plain, w.path("real.db"),
                    [{"id": "lan", "tcp": ("127.0.0.1", mport), "timeout_ms": 300}],
                    smoke_devices(names, ["lan"], 247, 1000, latch=False),
                    mqtt_extra={"uri": tls_uri, "tls": tls_block})
        sim, ctl = w.start_sim(cfg)
        gw = w.start_gateway(cfg, name="firegw-real")
        if not first_online(status, 0, {real_site}, 30):
            raise RuntimeError("the real gateway never came online over TLS")
        time.sleep(2)  # settle: first polls and retained states
        res["broker_rss_base_kb"] = rss_kb(br.proc.pid)

        # the generator's template: 8 smoke detectors a premises
        tpl = w.path("loadgen.yaml")
        make_config(tpl, "lg-template", br.plain, w.path("lg-unused.db"),
                    [{"id": "lan", "tcp": ("127.0.0.1", free_port())}],
                    smoke_devices(["sd-%02d" % (i + 1) for i in range(8)], ["lan"], 247, 1000,
                                  latch=False),
                    mqtt_extra={"uri": tls_uri, "tls": tls_block})
        sites = {"lg-%04d" % i for i in range(n_sites)}
        gens = []

        def pids():
            out = {"gateway": gw.pid}
            if br.proc:
                out["broker"] = br.proc.pid
            for k, g in enumerate(gens):
                out["loadgen%d" % k] = g.pid
            return out
        sampler = Sampler(pids)
        try:
            # -------- cold start
            log("fanin: %d premises (%d generator processes) connecting at once over TLS (%s)" % (
                n_sites, n_procs, res["tls_key"]))
            t_cold = time.time()
            per = (n_sites + n_procs - 1) // n_procs
            for k in range(n_procs):
                first = k * per
                cnt = min(per, n_sites - first)
                if cnt <= 0:
                    break
                gens.append(w.spawn("loadgen%d" % k, [
                    loadgen, "-c", tpl, "--sites", str(cnt), "--first", str(first),
                    "--site-prefix", "lg", "--events-out", w.path("lg-events%d.txt" % k),
                    "--drain-s", "30"], env={"FIREGW_SENSORS_DIR": SENSORS}))
            seen = first_online(status, t_cold - 1, sites, 120)
            if len(seen) < n_sites:
                raise RuntimeError("cold start: %d of %d online after 120 s" % (len(seen), n_sites))
            t_cold_all = max(r for r, _ in seen.values())
            res["cold_all_online_s"] = t_cold_all - t_cold
            cold_log = br.connects_per_second(t_cold - 1, "firegw-lg-")
            res["cold_handshakes_peak_per_s"] = max(cold_log.values()) if cold_log else 0
            time.sleep(5)  # settle: resync of every premises done

            # -------- steady load
            log("fanin: steady load, %d s, with real-gateway alarms" % steady_s)
            t0 = time.time()
            starts = []
            n_alarms = max(10, steady_s * 2)
            alarms_real.drain()
            lat_steady, missed_steady = alarm_latency(alarms_real, ctl, names, n_alarms, rate=2.0,
                                                      each_timeout=10.0, ret_starts=starts)
            left = steady_s - (time.time() - t0)
            if left > 0:
                time.sleep(left)  # the rest of the measurement window
            t1 = time.time()
            time.sleep(0.6)       # one more sample past t1
            res["steady_window_s"] = t1 - t0
            res["broker_cpu_pct"] = sampler.cpu_pct("broker", t0, t1)
            res["loadgen_cpu_pct"] = sampler.cpu_pct_sum("loadgen", t0, t1)
            res["gateway_cpu_pct"] = sampler.cpu_pct("gateway", t0, t1)
            res["broker_rss_kb"] = rss_kb(br.proc.pid)
            res["loadgen_rss_kb"] = sum(rss_kb(g.pid) for g in gens)
            sent = stat_sum(gens, t1, "sent") - stat_sum(gens, t0, "sent")
            res["msgs_in_per_s"] = sent / (t1 - t0) if sent else 0
            res["alarm_steady_ms"] = summary(lat_steady)
            res["alarm_steady_missed"] = missed_steady
            res["alarm_steady_started"] = len(starts)
            res["loadavg_steady"] = os.getloadavg()

            # -------- broker restart: the storm
            log("fanin: broker stopped for %d s, then the reconnect storm" % outage_s)
            t_down = time.time()
            br.stop()
            time.sleep(outage_s)  # the outage itself: what the gateways see
            br.start()
            t_up = time.time()
            res["restart_s"] = t_up - t_down
            starts_storm = []
            # alarms on the real gateway from the broker's return: their
            # latency includes its own reconnect in the middle of the storm
            lat_storm, missed_storm = alarm_latency(alarms_real, ctl, names, 40, rate=4.0,
                                                    each_timeout=30.0, ret_starts=starts_storm)
            back = first_online(status, t_up - 0.5, sites | {real_site}, 120)
            t_end = time.time()
            lg_back = {s: v for s, v in back.items() if s != real_site}
            res["storm_back"] = len(lg_back)
            if lg_back:
                last_rcv = max(r for r, _ in lg_back.values())
                last_ts = max(t for _, t in lg_back.values())
                res["storm_all_online_s"] = last_rcv - t_up if len(lg_back) == n_sites else None
                res["storm_all_online_ts_s"] = last_ts - t_up if len(lg_back) == n_sites else None
                rcv = sorted(r - t_up for r, _ in lg_back.values())
                res["storm_online_p50_s"] = rcv[len(rcv) // 2]
                res["storm_last_back_s"] = rcv[-1]
                res["storm_missing"] = sorted(sites - set(lg_back))[:10]
            if real_site in back:
                res["real_back_s"] = back[real_site][0] - t_up
            per_s = connects_per_second(gens, t_up - 1)
            storm_log = br.connects_per_second(t_up - 1, "firegw-lg-")
            t_last = (t_up + res["storm_all_online_s"]) if res.get("storm_all_online_s") else (
                max(r for r, _ in lg_back.values()) if lg_back else t_end)
            res["storm_handshakes_peak_per_s_log"] = max(storm_log.values()) if storm_log else 0
            # connections per second from the broker's return (its log's
            # whole seconds): the shape of the storm
            res["storm_connects_by_second"] = [storm_log.get(int(t_up) + k, 0) for k in range(
                int(t_last) - int(t_up) + 2)]
            res["storm_handshakes_peak_per_s_gen"] = max(per_s.values()) if per_s else 0
            res["storm_connects_log"] = sum(storm_log.values())
            span = max(1.0, t_last - t_up)
            res["storm_handshakes_mean_per_s"] = sum(storm_log.values()) / span
            res["storm_connect_failed"] = stat_sum(gens, t_end, "connect_failed") - stat_sum(
                gens, t_down, "connect_failed")
            res["storm_broker_cpu_pct"] = sampler.cpu_pct("broker", t_up, t_last)
            res["storm_loadgen_cpu_pct"] = sampler.cpu_pct_sum("loadgen", t_up, t_last)
            res["broker_rss_after_storm_kb"] = rss_kb(br.proc.pid)
            res["alarm_storm_ms"] = summary(lat_storm)
            res["alarm_storm_missed"] = missed_storm
            res["alarm_storm_started"] = len(starts_storm)
            res["alarm_storm_in_storm"] = sum(1 for t, _ in starts_storm if t <= t_last)
            res["loadavg_storm"] = os.getloadavg()

            # -------- stop the generator: every event acknowledged, then count
            for g in gens:
                g.signal(15)
            finals = []
            for g in gens:
                g.wait_line(lambda l: '"kind":"final"' in l, 60, "loadgen final line")
                finals.append([s for s in gen_stats(g) if s.get("kind") == "final"][-1])
            res["loadgen_final"] = {k: sum(f[k] for f in finals) for k in finals[0]
                                    if isinstance(finals[0][k], (int, float)) and k != "wall_ms"}
            for g in gens:
                g.p.wait(30)
        finally:
            sampler.close()
        made = set()
        for k in range(len(gens)):
            with open(w.path("lg-events%d.txt" % k)) as f:
                for line in f:
                    if line.strip():
                        made.add(line.strip())
        # the center's copy: wait until it has everything or stops growing
        got_lg, got_real, dups = set(), set(), 0
        real_active = set()
        end = time.monotonic() + 20
        quiet = 0
        while time.monotonic() < end and quiet < 6:
            m = alarms_all.get(0.5)
            if not m:
                quiet += 1 if made <= got_lg else 0
                continue
            quiet = 0
            p = m[3] if isinstance(m[3], dict) else {}
            eid = p.get("event_id")
            if not eid:
                continue
            if p.get("site") == real_site:
                if p.get("state") == "active":
                    real_active.add(eid)
                got_real.add(eid)
            else:
                if eid in got_lg:
                    dups += 1
                got_lg.add(eid)
        res["lg_events_made"] = len(made)
        res["lg_events_received"] = len(made & got_lg)
        res["lg_events_lost"] = len(made - got_lg)
        res["lg_events_duplicates"] = dups
        res["lg_events_unknown"] = len(got_lg - made)
        real_started = res["alarm_steady_started"] + res["alarm_storm_started"]
        res["real_alarms_started"] = real_started
        res["real_alarms_received"] = len(real_active)
        res["real_alarms_lost"] = max(0, real_started - len(real_active))
        res["gw_alive"] = gw.alive()
        res["broker_malformed_disconnects"] = br.count("disconnected due to malformed packet")
        res["broker_takeovers"] = br.count("already connected, closing old connection")
    ctx["results"]["scenarios"]["fanin"] = res
    report(ctx, res)


def fmt_lat(s):
    return "%.0f / %.0f / %.0f (n=%d)" % (s["p50"], s["p99"], s["max"], s["n"]) if s else "none"


def report(ctx, res):
    row, target = ctx["row"], ctx["alarm_target_ms"]
    n = res["sites"]
    what = "fan-in: %d premises (loadgen, %d processes) + 1 firegw, mosquitto, TLS %s" % (
        n, res["procs"], res["tls_key"])
    row(what, "cold start, all at once: every status online at the center, s",
        "%.1f (peak %d handshakes/s)" % (res["cold_all_online_s"], res["cold_handshakes_peak_per_s"]))
    bc = res["broker_cpu_pct"]
    row(what, "steady: messages into the broker /s", "%.0f" % res["msgs_in_per_s"])
    row(what, "steady: broker CPU % of one core (per 1000 premises)",
        "%.2f (%.2f)" % (bc, bc * 1000.0 / n) if bc is not None else "not sampled")
    rss, base = res["broker_rss_kb"], res["broker_rss_base_kb"]
    row(what, "steady: broker VmRSS MB (per premises KiB)",
        "%.1f (%.1f)" % (rss / 1024.0, (rss - base) / float(n)))
    row(what, "steady: generator CPU % / VmRSS MB (not the broker's)",
        "%.1f / %.0f" % (res["loadgen_cpu_pct"] or -1, res["loadgen_rss_kb"] / 1024.0))
    a = res["alarm_steady_ms"]
    row(what, "steady: real gateway alarm p50 / p99 / max ms", fmt_lat(a), "p99 <= %d" % target,
        bool(a and a["p99"] <= target and res["alarm_steady_missed"] == 0))
    so = res.get("storm_all_online_s")
    row(what, "storm: broker down %d s; all back online after, s (p50)" % res["outage_s"],
        "%.1f (%.1f)" % (so, res.get("storm_online_p50_s", -1)) if so is not None else
        "only %d of %d back, the last after %.1f (p50 %.1f)" % (
            res["storm_back"], n, res.get("storm_last_back_s", -1), res.get("storm_online_p50_s", -1)),
        "all back", so is not None)
    row(what, "storm: TLS handshakes/s, mean / peak (broker log; generator)",
        "%.0f / %d (%.0f)" % (res["storm_handshakes_mean_per_s"],
                              res["storm_handshakes_peak_per_s_log"],
                              res["storm_handshakes_peak_per_s_gen"]))
    sb = res["storm_broker_cpu_pct"]
    row(what, "storm: broker CPU % / generator CPU %",
        "%.0f / %.0f" % (sb if sb is not None else -1, res["storm_loadgen_cpu_pct"] or -1))
    s = res["alarm_storm_ms"]
    row(what, "storm: real gateway alarm p50 / p99 / max ms (from the broker's return)",
        fmt_lat(s) + ", %d raised before all were back" % res["alarm_storm_in_storm"])
    lost = res["real_alarms_lost"] + res["lg_events_lost"]
    row(what, "alarms lost: real gateway / generator events (made)",
        "%d of %d / %d of %d (duplicates %d)" % (
            res["real_alarms_lost"], res["real_alarms_started"], res["lg_events_lost"],
            res["lg_events_made"], res["lg_events_duplicates"]), "0", lost == 0)
    f = res["loadgen_final"]
    row(what, "generator: connects / losses / events waiting at its end; broker: malformed",
        "%d / %d / %d (%d premises); %d" % (f["connects"], f["lost"], f["events_waiting"], n,
                                            res["broker_malformed_disconnects"]),
        "2 connects and 1 loss a premises", f["connects"] == 2 * n and f["lost"] == n)
    la = res["loadavg_steady"]
    row(what, "machine load average (1 min) at start / steady / storm",
        "%.2f / %.2f / %.2f" % (res["loadavg_start"][0], la[0], res["loadavg_storm"][0]))
