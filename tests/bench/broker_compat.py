"""broker_compat - which parts of firegw's MQTT contract a broker honours
(docs/scaling.md §4). Not part of `make test` nor `make bench`: run by hand.

  python3 tests/bench/broker_compat.py            # a private mosquitto
  python3 tests/bench/broker_compat.py PORT       # a broker already on 127.0.0.1:PORT
                                                  # (e.g. RabbitMQ's MQTT plugin)

Starts firegw-sim and a gateway (4 smoke detectors, MQTT 3.1.1) against the
broker and checks, each with a bounded wait, printing one line per check:
  retained   a subscriber arriving after the gateway gets its retained status
  qos1       a fire alarm reaches a QoS 1 subscriber
  session    an alarm published while a persistent-session subscriber is away
             is delivered when it comes back
  will       SIGKILL of the gateway: the last will (status offline) arrives
  mqtt5      the gateway configured with `version: 5` comes online
Exit 0 when every check passed.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import World, Sub, free_port, make_config, smoke_devices, device_names  # noqa: E402

SITE = "compat"


def is_status(state):
    return lambda t, p: t.endswith("/status") and isinstance(p, dict) and p.get("state") == state


def is_alarm(dev):
    return lambda t, p: (isinstance(p, dict) and p.get("device") == dev and p.get("class") == "alarm"
                         and p.get("state") == "active")


def main():
    results = {}
    with World("compat") as w:
        if len(sys.argv) > 1:
            w.mqtt_port = int(sys.argv[1])
            broker = "127.0.0.1:%d (external)" % w.mqtt_port
        else:
            w.start_broker()
            broker = "private mosquitto"
        names = device_names(4)
        port = free_port()
        buses = [{"id": "lan", "tcp": ("127.0.0.1", port), "timeout_ms": 300}]

        def config(path, version):
            make_config(path, SITE, w.mqtt_port, w.path("gw.db"), buses,
                        smoke_devices(names, ["lan"], 125, latch=False),
                        mqtt_extra={"version": version, "keepalive_s": 5, "reconnect_max_s": 2})
        cfg = w.path("gw.yaml")
        config(cfg, "3.1.1")
        sim, ctl = w.start_sim(cfg)
        gw = w.start_gateway(cfg)
        time.sleep(3)  # the gateway connects and publishes its retained birth

        late = Sub(w, "firegw/%s/status" % SITE, "compat-late")
        results["retained"] = bool(late.wait(lambda t, p: is_status("online")(t, p), 10))

        alarms = Sub(w, "firegw/%s/alarm/#" % SITE, "compat-alarms")
        time.sleep(1)
        ctl.cmd("flag %s fire on" % names[0])
        results["qos1"] = bool(alarms.wait(is_alarm(names[0]), 10))

        # persistent session: subscribe, leave, an alarm happens, come back
        argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(w.mqtt_port), "-q", "1", "-c",
                "-i", "compat-center", "-t", "firegw/%s/alarm/#" % SITE, "-F", "%p", "-W", "3"]
        subprocess.run(argv, capture_output=True, timeout=15)
        ctl.cmd("flag %s fire on" % names[1])
        alarms.wait(is_alarm(names[1]), 10)   # it went out while compat-center was away
        r = subprocess.run(argv[:-2] + ["-C", "1", "-W", "10"], capture_output=True, text=True,
                           timeout=20)
        results["session"] = '"device":"%s"' % names[1] in r.stdout.replace(" ", "")

        gw.signal(signal.SIGKILL)
        results["will"] = bool(late.wait(lambda t, p: is_status("offline")(t, p), 20))
        gw.kill()

        cfg5 = w.path("gw5.yaml")
        config(cfg5, "5")
        late.drain()
        w.start_gateway(cfg5, name="firegw5")
        results["mqtt5"] = bool(late.wait(lambda t, p: is_status("online")(t, p), 20))
    print("broker: %s" % broker)
    for k in ("retained", "qos1", "session", "will", "mqtt5"):
        print("  %-9s %s" % (k, "works" if results.get(k) else "FAILS"))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
