"""soak - SPEC §8 "resident memory growth over a 1 h soak with broker flaps
< 1 MB": 250 simulated smoke detectors on two Modbus TCP buses (unit ids
are per bus, 1..247), polled every second; the broker is stopped and
started again every FLAP_S seconds (down FLAP_DOWN_S each time). Every
minute it prints the gateway's VmRSS; at the end the growth from the first
minute's figure (after start-up and the first connect) to the last.

Also checked on every flap: the gateway comes back online (its retained
birth status is seen on the restarted broker), and it is still alive at the
end. Exit 0 when growth < 1 MiB and every check held, 1 otherwise.

Environment: SOAK_SECONDS (3600), SOAK_FLAP_S (30), SOAK_FLAP_DOWN_S (5),
SOAK_DEVICES (250).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from benchlib import (World, free_port, make_config, smoke_devices, device_names,  # noqa: E402
                      rss_kb, cpu_seconds)


def env_int(name, default, lo, hi):
    v = os.environ.get(name, "")
    if not v:
        return default
    if not v.isdigit() or not lo <= int(v) <= hi:
        sys.exit("soak: %s must be an integer %d..%d" % (name, lo, hi))
    return int(v)


def online_seen(world, site, timeout):
    """The retained birth status says online on the (restarted) broker."""
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(world.mqtt_port),
                        "-t", "firegw/%s/status" % site, "-C", "1", "-W", str(timeout),
                        "-F", "%p"], capture_output=True, text=True, timeout=timeout + 5)
    return '"state":"online"' in r.stdout.replace(" ", "")


def main():
    seconds = env_int("SOAK_SECONDS", 3600, 60, 7 * 86400)
    flap = env_int("SOAK_FLAP_S", 30, 10, 3600)
    down = env_int("SOAK_FLAP_DOWN_S", 5, 1, 600)
    ndev = env_int("SOAK_DEVICES", 250, 1, 494)
    site = "soak"
    with World("soak") as w:
        w.start_broker()
        per_bus = 125
        nbus = (ndev + per_bus - 1) // per_bus
        buses = [{"id": "lan%d" % i, "tcp": ("127.0.0.1", free_port()), "timeout_ms": 300}
                 for i in range(nbus)]
        cfg = w.path("soak.yaml")
        make_config(cfg, site, w.mqtt_port, w.path("soak.db"), buses,
                    smoke_devices(device_names(ndev), [b["id"] for b in buses], per_bus),
                    mqtt_extra={"keepalive_s": 10, "reconnect_max_s": 5})
        w.start_sim(cfg)
        gw = w.start_gateway(cfg, verbose=True)
        print("soak: %d devices on %d TCP buses, %d s, broker down %d s every %d s; gateway pid %d"
              % (ndev, nbus, seconds, down, flap, gw.pid), flush=True)
        t_start = time.monotonic()
        next_flap = t_start + flap
        next_print = t_start + 60
        baseline = None
        samples = []
        flaps = 0
        online_fail = 0
        cpu0 = cpu_seconds(gw.pid)
        rounds = seconds * 4 + 100
        for _ in range(rounds):
            now = time.monotonic()
            if now - t_start >= seconds or not gw.alive():
                break
            if now >= next_print:
                r = rss_kb(gw.pid)
                samples.append(r)
                if baseline is None:
                    baseline = r
                heap = [l for l in getattr(gw, "lines", []) if "heap in use" in l]
                print("soak: t=%4d s  rss %6d KiB  (%+d KiB since minute 1)  flaps %d  %s"
                      % (now - t_start, r, r - baseline, flaps,
                         heap[-1].split("debug: ")[-1] if heap else ""), flush=True)
                next_print += 60
            if now >= next_flap:
                w.stop_broker()
                time.sleep(down)  # the outage itself is what is being tested
                w.start_broker()
                flaps += 1
                if not online_seen(w, site, 20):
                    online_fail += 1
                    print("soak: gateway not back online 20 s after flap %d" % flaps, flush=True)
                next_flap = time.monotonic() + flap
            time.sleep(0.25)
        alive = gw.alive()
        elapsed = time.monotonic() - t_start
        final = rss_kb(gw.pid) if alive else 0
        cpu = (cpu_seconds(gw.pid) - cpu0) / elapsed * 100 if alive else 0
        growth = final - baseline if baseline is not None else 0
        ok = alive and online_fail == 0 and baseline is not None and growth < 1024
        slope = None
        if len(samples) >= 3:
            # least-squares trend of the per-minute samples, KiB per hour:
            # steadier than end minus start when RSS moves by a few hundred
            # KiB between minutes (freed memory returned to the system)
            xs = list(range(len(samples)))
            mx, my = sum(xs) / len(xs), sum(samples) / len(samples)
            slope = (sum((x - mx) * (y - my) for x, y in zip(xs, samples))
                     / sum((x - mx) ** 2 for x in xs) * 60)
        print("soak: %d s, %d broker flaps, back online after %d of them, gateway %s"
              % (elapsed, flaps, flaps - online_fail, "alive" if alive else "DEAD"))
        print("soak: rss first minute %s KiB, end %d KiB, peak %d KiB, growth %+d KiB "
              "(target < 1024 KiB: %s); gateway CPU %.2f %% of one core"
              % (baseline, final, max(samples + [final]), growth,
                 "met" if ok else "NOT MET", cpu))
        if slope is not None:
            print("soak: trend %+.0f KiB per hour over %d samples (an hour at this trend: %s)"
                  % (slope, len(samples), "under 1 MiB" if slope < 1024 else "over 1 MiB"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
