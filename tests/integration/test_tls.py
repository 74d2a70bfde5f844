#!/usr/bin/env python3
"""TLS, credentials and what the broker enforces, against a real mosquitto
with TLS listeners and certificates made here with `openssl`: a CA, a
server certificate for 127.0.0.1/localhost, a wrong CA, an expired server
certificate, one for a wrong host name, a client certificate (mutual TLS)
and its key encrypted with a pass phrase.

Each case asserts on what a real subscriber receives (on a plain listener
of the same broker, where the gateway's messages arrive only if its TLS
connection worked), on the broker's log and on the daemon's log. A refused
server is never followed by a connection in clear: a server that only
records the first bytes of every connection proves it. A TLS 1.1-only
server (OPENSSL_CONF with MinProtocol TLSv1, MaxProtocol TLSv1.1,
SECLEVEL=0, proven with `openssl s_client -tls1_1`) is refused: TLS 1.2 is
the floor, and TLS 1.3 still works. Under MQTT 5 the gateway announces a
Maximum Packet Size: a 32 MB request does not raise its memory. The ACL of
docs/security.md is run as written."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

ROOT = fgtest.ROOT
CERTS = None  # the module's certificates (setUpModule)
PASS_PHRASE = "correct horse battery"

CONFIG = """
site: {id: @SITE@}
mqtt:
  uri: @URI@
  version: @VERSION@
  keepalive_s: 5
  heartbeat_s: 30
  telemetry_s: 0
  reconnect_max_s: 1
@MQTT_EXTRA@
storage: {path: @DB@}
buses:
  - id: lan
    tcp: {host: 127.0.0.1, port: @TCP_PORT@}
    timeout_ms: 200
    retries: 0
devices:
  - id: smoke-1
    bus: lan
    unit: 1
    profile: smoke-point
    poll_ms: 300
"""


def vmhwm(pid):
    """Peak resident memory of a process, kB."""
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s%s" % (" ".join(argv), r.stdout, r.stderr))
    return r


class Certs:
    """Every certificate of the module, in one temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="firegw-tls-certs-")
        d = self.dir
        self.ca, self.ca_key = self.self_signed("ca", "firegw test CA")
        self.wrong_ca, _ = self.self_signed("wrong-ca", "another CA")
        san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        self.server, self.server_key = self.signed("server", "localhost", san)
        self.wrong_host, self.wrong_host_key = self.signed(
            "wrong-host", "wrong.example", "subjectAltName=DNS:wrong.example")
        self.client, self.client_key = self.signed("client", "test-site",
                                                   "extendedKeyUsage=clientAuth")
        # the client key, encrypted (PKCS#8, AES-256)
        self.client_enc_key = os.path.join(d, "client-enc.key")
        run(["openssl", "pkey", "-in", self.client_key, "-aes256", "-passout",
             "pass:" + PASS_PHRASE, "-out", self.client_enc_key])
        # expired: `openssl x509 -req` cannot backdate, `openssl ca` can
        self.expired, self.expired_key = self.expired_cert(san)
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o640)

    def key(self, name):
        k = os.path.join(self.dir, name + ".key")
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", k])
        return k

    def self_signed(self, name, cn):
        k = self.key(name)
        c = os.path.join(self.dir, name + ".crt")
        run(["openssl", "req", "-x509", "-new", "-key", k, "-out", c, "-days", "30",
             "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return c, k

    def csr(self, name, cn):
        k = self.key(name)
        r = os.path.join(self.dir, name + ".csr")
        run(["openssl", "req", "-new", "-key", k, "-out", r, "-subj", "/CN=" + cn])
        return r, k

    def signed(self, name, cn, ext):
        r, k = self.csr(name, cn)
        c = os.path.join(self.dir, name + ".crt")
        extf = os.path.join(self.dir, name + ".ext")
        with open(extf, "w") as f:
            f.write(ext + "\n")
        run(["openssl", "x509", "-req", "-in", r, "-CA", self.ca, "-CAkey", self.ca_key,
             "-CAcreateserial", "-out", c, "-days", "30", "-extfile", extf])
        return c, k

    def expired_cert(self, san):
        d = os.path.join(self.dir, "ca-db")
        os.makedirs(os.path.join(d, "new"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        conf = os.path.join(d, "ca.cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca = ca_sect\n"
                    "[ca_sect]\ndatabase = %s/index.txt\nnew_certs_dir = %s/new\n"
                    "serial = %s/serial\ndefault_md = sha256\npolicy = policy_any\n"
                    "unique_subject = no\n"
                    "[policy_any]\ncommonName = supplied\n"
                    "[ext]\n%s\n" % (d, d, d, san))
        r, k = self.csr("expired", "localhost")
        c = os.path.join(self.dir, "expired.crt")
        run(["openssl", "ca", "-batch", "-config", conf, "-cert", self.ca, "-keyfile",
             self.ca_key, "-in", r, "-out", c, "-startdate", "20200101000000Z", "-enddate",
             "20210101000000Z", "-extensions", "ext", "-notext"])
        return c, k

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    if CERTS:
        CERTS.cleanup()


# mosquitto's stdout is block-buffered into a pipe: its log goes to stderr
# too, unbuffered, so that each line is there when the test reads it
LOG_NOW = "log_dest stderr\nlog_type all\n"


def tls_listener(port, cert, key, require_certificate=False, tls_version=None):
    conf = ("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
            % (port, CERTS.ca, cert, key))
    if require_certificate:
        conf += "require_certificate true\n"
    if tls_version:
        conf += "tls_version %s\n" % tls_version
    return conf


class FirstBytesServer:
    """A plain TCP server on 127.0.0.1 that records the first bytes of every
    connection and closes it: what a client sends before any answer."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.first = []
        self.cond = threading.Condition()
        self.stopping = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        for _ in range(100000):
            if self.stopping:
                return
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(5)
            try:
                data = c.recv(16)
            except OSError:
                data = b""
            c.close()
            with self.cond:
                self.first.append(data)
                self.cond.notify_all()

    def wait_connections(self, n, timeout):
        fgtest.wait_until(lambda: len(self.first) >= n, timeout, "%d connections" % n)
        with self.cond:
            return list(self.first)

    def stop(self):
        self.stopping = True
        self.t.join(3)
        self.sock.close()


class TlsTest(fgtest.FiregwTest):

    # ------------------------------------------------------------ helpers
    def gw_config(self, uri, tls=None, extra="", version="3.1.1"):
        lines = []
        if tls:
            lines.append("  tls: {%s}" % ", ".join("%s: %s" % kv for kv in tls.items()))
        if extra:
            lines.append(extra)
        cfg = (CONFIG.replace("@URI@", uri).replace("@VERSION@", version)
               .replace("@MQTT_EXTRA@", "\n".join(lines)))
        self.env.write_config(cfg)

    def start(self, listener_conf="", tls_port=None):
        env = self.env
        env.start_broker(extra_conf=LOG_NOW + listener_conf)
        if tls_port:
            fgtest.wait_port(tls_port)
        env.start_sim()
        self.sub = env.subscriber()
        self.sub.wait_connected()

    def wait_online(self, timeout=20):
        return self.sub.wait_for(lambda t, p: t == self.env.topic("status")
                                 and isinstance(p, dict) and p.get("state") == "online",
                                 timeout, "status online")

    def wait_refused(self, n=2, since=0):
        """The daemon logs n failed connects; returns those lines."""
        gw = self.env.gw
        lines = []
        idx = since
        for _ in range(n):
            line = gw.wait_line(lambda l: "failed to connect to" in l, 20, "a failed connect",
                                since=idx)
            idx = gw.lines.index(line, idx) + 1
            lines.append(line)
        return lines, idx

    def assert_never_connected(self):
        """Nothing of the gateway reached the broker: no MQTT session under
        its client id (the broker logs every CONNECT it accepts), nothing on
        the subscriber from the gateway."""
        cid = "firegw-" + self.env.site
        self.assertFalse([l for l in self.env.broker.lines if (" as %s " % cid) in l + " "],
                         "the broker saw a CONNECT of the gateway")
        self.assertFalse([m for m in self.sub.snapshot() if m[1] == self.env.topic("status")],
                         "the gateway published")

    def alarm_arrives(self):
        self.env.sim("flag", "smoke-1", "fire", "on")
        ev = self.sub.wait_event(device="smoke-1", **{"class": "alarm", "state": "active"})
        self.assertEqual(ev["point"], "fire")

    def tls_conf(self, **kw):
        t = {"ca_file": CERTS.ca}
        t.update(kw)
        return t

    # ---------------------------------------------------------------- cases
    def test_good_ca_connects_and_alarm_arrives(self):
        port = fgtest.free_port()
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf())
        self.start(tls_listener(port, CERTS.server, CERTS.server_key), port)
        self.env.start_gateway()
        self.wait_online()
        self.alarm_arrives()
        # the broker took it on the TLS listener, not the plain one
        cid = "firegw-" + self.env.site
        conn = [l for l in self.env.broker.lines if ("as %s" % cid) in l]
        self.assertTrue(conn, "no CONNECT of the gateway in the broker's log")
        self.assertIn("on port %d" % port, "\n".join(self.env.broker.lines))
        # mqtts:// and localhost (the DNS name of the certificate) too
        self.env.gw.stop()
        self.gw_config("mqtts://localhost:%d" % port, self.tls_conf())
        mark = self.sub.mark()
        self.env.start_gateway()
        self.sub.wait_for(lambda t, p: t == self.env.topic("status") and isinstance(p, dict)
                          and p.get("state") == "online", 20, "online again", since=mark)

    def test_wrong_ca_refused_never_plain(self):
        port = fgtest.free_port()
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf(ca_file=CERTS.wrong_ca))
        self.start(tls_listener(port, CERTS.server, CERTS.server_key), port)
        self.env.start_gateway()
        lines, _ = self.wait_refused(2)
        log = "\n".join(self.env.gw.lines)
        self.assertIn("certificate verify failed", log)
        self.assertIn("TLS error on 'ssl://127.0.0.1:%d'" % port, log)
        self.assert_never_connected()
        # what reached the broker were TLS handshakes the client ended
        # (mosquitto: "OpenSSL Error[0]: ... tlsv1 alert unknown ca")
        self.assertTrue([l for l in self.env.broker.lines if "OpenSSL Error" in l and
                         "unknown ca" in l], self.env.broker.lines[-10:])

    def test_refused_tls_never_falls_back_to_plain(self):
        """A server that never completes a handshake: every connection the
        gateway makes starts with a TLS record (0x16 handshake), none with
        an MQTT CONNECT in clear (0x10), over several retries."""
        srv = FirstBytesServer()
        try:
            self.gw_config("ssl://127.0.0.1:%d" % srv.port, self.tls_conf())
            self.env.start_broker()
            self.env.start_sim()
            self.env.start_gateway()
            first = srv.wait_connections(3, 30)
        finally:
            srv.stop()
        self.assertGreaterEqual(len(first), 3)
        for data in first:
            self.assertTrue(data, "a connection sent nothing")
            self.assertEqual(data[0], 0x16, "not a TLS handshake record: %r" % data)
            self.assertNotEqual(data[0], 0x10)
        self.assertNotIn(b"MQTT", b"".join(first))

    def test_expired_certificate_refused(self):
        port = fgtest.free_port()
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf())
        self.start(tls_listener(port, CERTS.expired, CERTS.expired_key), port)
        self.env.start_gateway()
        self.wait_refused(2)
        # paho passes on OpenSSL's error queue, which names the failed
        # verification, not its reason: the certificate is of the good CA
        # and names 127.0.0.1, so what fails is its dates
        self.assertIn("certificate verify failed", "\n".join(self.env.gw.lines))
        self.assert_never_connected()
        # the broker's side of it: the client refused the certificate
        self.assertTrue([l for l in self.env.broker.lines if "certificate" in l.lower()],
                        self.env.broker.lines[-10:])

    def test_wrong_host_name_refused(self):
        port = fgtest.free_port()
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf())
        self.start(tls_listener(port, CERTS.wrong_host, CERTS.wrong_host_key), port)
        self.env.start_gateway()
        lines, _ = self.wait_refused(2)
        self.assert_never_connected()
        # the chain is good (same CA, valid dates): what fails is the name,
        # which paho checks after the handshake without an OpenSSL error
        for l in lines:
            self.assertIn("the server's certificate does not name the host", l)
        self.assertNotIn("certificate verify failed", "\n".join(self.env.gw.lines))
        # the handshake itself completed: the broker saw the client hang up
        self.assertTrue([l for l in self.env.broker.lines if "127.0.0.1" in l and
                         "on port %d" % port in l], self.env.broker.lines[-10:])

    def test_tls11_only_server_refused(self):
        port = fgtest.free_port()
        conf = os.path.join(self.env.dir, "openssl-tls11.cnf")
        with open(conf, "w") as f:
            f.write("openssl_conf = openssl_init\n"
                    "[openssl_init]\nssl_conf = ssl_sect\n"
                    "[ssl_sect]\nsystem_default = system_default_sect\n"
                    "[system_default_sect]\nMinProtocol = TLSv1\nMaxProtocol = TLSv1.1\n"
                    "CipherString = DEFAULT@SECLEVEL=0\n")
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf())
        self.env.start_broker()
        self.env.start_sim()
        self.sub = self.env.subscriber()
        self.sub.wait_connected()
        # a second broker, TLS 1.1 only, relaying nothing: the gateway's target
        mconf = os.path.join(self.env.dir, "mosquitto-tls11.conf")
        with open(mconf, "w") as f:
            f.write(LOG_NOW + "allow_anonymous true\n")
            if os.geteuid() == 0:
                f.write("user root\n")
            # static RSA key exchange: TLS 1.1 needs no legacy (MD5-SHA1)
            # signature then, which OpenSSL 3 would refuse by itself; only
            # the gateway's floor stands between it and a TLS 1.1 session
            f.write(tls_listener(port, CERTS.server, CERTS.server_key, tls_version="tlsv1.1"))
            f.write("ciphers AES128-SHA:AES256-SHA\n")
        b11 = self.env.spawn("mosquitto-tls11", ["mosquitto", "-c", mconf],
                             env={"OPENSSL_CONF": conf})
        fgtest.wait_port(port)
        # proof that the server speaks TLS 1.1 (Debian's default would refuse it)
        probe = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                "-tls1_1", "-CAfile", CERTS.ca, "-servername", "localhost"],
                               input="", capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, OPENSSL_CONF=conf))
        m = re.search(r"Protocol\s*:\s*(\S+)", probe.stdout)
        if not m or m.group(1) != "TLSv1.1":
            self.fail("THE TLS 1.1 SERVER COULD NOT BE MADE ON THIS MACHINE: openssl s_client "
                      "-tls1_1 did not negotiate TLSv1.1 (rc %d):\n%s\n%s"
                      % (probe.returncode, probe.stdout[-2000:], probe.stderr[-2000:]))
        # and that it speaks nothing newer
        probe12 = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                  "-tls1_2", "-CAfile", CERTS.ca], input="",
                                 capture_output=True, text=True, timeout=30)
        self.assertIn("Cipher is (NONE)", probe12.stdout)
        self.env.start_gateway()
        self.wait_refused(2)
        cid = "firegw-" + self.env.site
        self.assertFalse([l for l in b11.lines if ("as %s" % cid) in l],
                         "the TLS 1.1 broker accepted the gateway")
        self.assertFalse([m for m in self.sub.snapshot() if m[1] == self.env.topic("status")])

    def test_tls13_only_server_connects(self):
        """The floor is a floor: a TLS 1.3-only server works."""
        port = fgtest.free_port()
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf())
        self.start(tls_listener(port, CERTS.server, CERTS.server_key, tls_version="tlsv1.3"),
                   port)
        self.env.start_gateway()
        self.wait_online()
        probe = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                "-CAfile", CERTS.ca], input="", capture_output=True, text=True,
                               timeout=30)
        self.assertIn("TLSv1.3", probe.stdout)

    def test_mutual_tls(self):
        """The broker requires a client certificate: with cert_file and
        key_file the gateway connects; without them it is refused."""
        port = fgtest.free_port()
        self.gw_config("ssl://127.0.0.1:%d" % port,
                       self.tls_conf(cert_file=CERTS.client, key_file=CERTS.client_key))
        self.start(tls_listener(port, CERTS.server, CERTS.server_key, require_certificate=True),
                   port)
        self.env.start_gateway()
        self.wait_online()
        self.alarm_arrives()
        self.env.gw.stop()
        # without a client certificate
        self.gw_config("ssl://127.0.0.1:%d" % port, self.tls_conf())
        mark = len(self.env.broker.lines)
        smark = self.sub.mark()
        self.env.start_gateway()
        self.wait_refused(2)
        cid = "firegw-" + self.env.site
        self.assertFalse([l for l in self.env.broker.lines[mark:] if ("as %s" % cid) in l])
        self.assertFalse([m for m in self.sub.snapshot()[smark:]
                          if m[1] == self.env.topic("status") and m[2].get("state") == "online"])

    def test_encrypted_key_with_pass_phrase(self):
        port = fgtest.free_port()
        passf = os.path.join(self.env.dir, "key.pass")
        with open(passf, "w") as f:
            f.write(PASS_PHRASE + "\n")  # one trailing newline is stripped
        os.chmod(passf, 0o640)
        self.gw_config("ssl://127.0.0.1:%d" % port,
                       self.tls_conf(cert_file=CERTS.client, key_file=CERTS.client_enc_key,
                                     key_password_file=passf))
        self.start(tls_listener(port, CERTS.server, CERTS.server_key, require_certificate=True),
                   port)
        r = self.env.firegw("check", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.env.start_gateway()
        self.wait_online()
        self.env.gw.stop()
        self.assertNotIn(PASS_PHRASE, "\n".join(self.env.gw.lines))
        # a wrong pass phrase: a clear error, never connected
        with open(passf, "w") as f:
            f.write("wrong phrase\n")
        mark = self.sub.mark()
        self.env.start_gateway()
        lines, _ = self.wait_refused(2)
        log = "\n".join(self.env.gw.lines)
        self.assertRegex(log, r"TLS error on 'ssl://127\.0\.0\.1:%d': .*maybe wrong password"
                         % port)
        self.assertNotIn("wrong phrase", log)
        self.assertFalse([m for m in self.sub.snapshot()[mark:]
                          if m[1] == self.env.topic("status") and m[2].get("state") == "online"])

    def test_password_file_refused_by_check_and_run(self):
        """A password file readable by others or empty: `check` and `run`
        both refuse it, naming the file, its line:col and what to run."""
        passf = os.path.join(self.env.dir, "mqtt.pass")
        self.gw_config("tcp://127.0.0.1:%d" % self.env.mqtt_port,
                       extra="  username: test-site\n  password_file: %s" % passf)
        with open(self.env.config_path) as f:
            text = f.read().splitlines()
        line = [i for i, l in enumerate(text, 1) if "password_file:" in l][0]
        col = text[line - 1].index(passf) + 1
        where = "%s:%d:%d: error: " % (self.env.config_path, line, col)
        with open(passf, "w") as f:
            f.write("secret\n")
        os.chmod(passf, 0o644)
        want = ("mqtt: password_file '%s' is readable or writable by others, or writable by "
                "its group (mode 0644); run: chmod 0640 %s; chown root:firegw %s"
                % (passf, passf, passf))
        for cmd in (["check"], ["run"]):
            r = self.env.firegw(*cmd, "-c", self.env.config_path)
            self.assertNotEqual(r.returncode, 0, cmd)
            self.assertIn(where + want, r.stdout + r.stderr, cmd)
        with open(passf, "w") as f:
            pass
        os.chmod(passf, 0o640)
        want = "mqtt: password_file '%s' is empty; write the secret on its one line" % passf
        for cmd in (["check"], ["run"]):
            r = self.env.firegw(*cmd, "-c", self.env.config_path)
            self.assertNotEqual(r.returncode, 0, cmd)
            self.assertIn(where + want, r.stdout + r.stderr, cmd)
        self.assertNotIn("Success", r.stdout + r.stderr)
        # 0640 and not empty: accepted
        with open(passf, "w") as f:
            f.write("secret\n")
        r = self.env.firegw("check", "-c", self.env.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("secret", r.stdout + r.stderr)

    def test_check_refuses_what_run_refuses(self):
        """A tls block with a plain uri, an untested scheme, a port out of
        range, a TLS file that does not exist: check and run both refuse."""
        cases = [
            ("tcp://127.0.0.1:1883", {"ca_file": CERTS.ca}, "is not encrypted; use ssl:// or "
             "mqtts:// for TLS"),
            ("ws://127.0.0.1:80", None, "must start with tcp://, ssl://, mqtt:// or mqtts://"),
            ("wss://127.0.0.1:443", None, "must start with tcp://, ssl://, mqtt:// or mqtts://"),
            ("tcp://127.0.0.1:99999", None, "the port must be 1..65535"),
            ("ssl://127.0.0.1:8883", {"ca_file": "/nonexistent/ca.pem"},
             "mqtt.tls: ca_file '/nonexistent/ca.pem' cannot be read: No such file"),
        ]
        for uri, tls, want in cases:
            self.gw_config(uri, tls)
            for cmd in ("check", "run"):
                r = self.env.firegw(cmd, "-c", self.env.config_path)
                self.assertNotEqual(r.returncode, 0, (cmd, uri))
                self.assertIn(want, r.stdout + r.stderr, (cmd, uri))

    def big_request_keeps_memory(self, version, broker_conf=""):
        """Publishes a 32 MB request (MQTT 5 publisher when version is 5)
        and then a status request: the answer comes, the big one gets
        none, and the gateway's peak memory (VmHWM) grew by less than half
        the message, so it was never read into memory. Measured as growth,
        so that it holds under ASan too."""
        self.gw_config("tcp://127.0.0.1:%d" % self.env.mqtt_port, version=version)
        self.start(broker_conf)
        self.env.start_gateway()
        self.wait_online()
        pid = self.env.gw.pid
        before = vmhwm(pid)
        big = os.path.join(self.env.dir, "big.json")
        with open(big, "wb") as f:
            f.write(b'{"id": "big", "op": "status", "pad": "')
            f.write(b"x" * (32 * 1024 * 1024))
            f.write(b'"}')
        v = ["-V", "mqttv5"] if version == "5" else []
        subprocess.run(["mosquitto_pub"] + v + ["-h", "127.0.0.1", "-p",
                                                str(self.env.mqtt_port), "-q", "1", "-t",
                                                self.env.topic("request"), "-f", big],
                       capture_output=True, timeout=60)
        os.unlink(big)
        # a status request after it is answered: the big one went before it
        mark = self.sub.mark()
        run(["mosquitto_pub"] + v + ["-h", "127.0.0.1", "-p", str(self.env.mqtt_port), "-q",
                                     "1", "-t", self.env.topic("request"), "-m",
                                     json.dumps({"id": "after", "op": "status"})])
        ans = self.sub.wait_for(lambda t, p: t == self.env.topic("response", "after"), 20,
                                "the answer to the status request", since=mark)
        self.assertEqual(ans["status"]["site"], self.env.site)
        self.assertFalse([m for m in self.sub.snapshot()
                          if m[1] == self.env.topic("response", "big")])
        grew = vmhwm(pid) - before
        # without the announced size it grows by about 65 MB here
        self.assertLess(grew, 16 * 1024, "VmHWM grew by %d kB" % grew)
        self.assertTrue(self.env.gw.alive())

    def test_mqtt5_max_packet_size_bounds_memory(self):
        """MQTT 5: the gateway announces a Maximum Packet Size, so the broker
        never sends it the 32 MB request."""
        self.big_request_keeps_memory("5")

    def test_mqtt311_only_the_broker_limit_protects(self):
        """MQTT 3.1.1 has no Maximum Packet Size: the broker's
        message_size_limit (docs/security.md) is what keeps the 32 MB
        request from the gateway."""
        self.big_request_keeps_memory("3.1.1", "message_size_limit 262144\n")

    def test_acl_of_the_docs(self):
        """The mosquitto ACL of docs/security.md: the gateway (user = its
        site id, password from password_file) writes its own topics; it
        cannot write another site's topics nor its own ack or request; only
        the center publishes on ack and request."""
        acl = os.path.join(self.env.dir, "acl")
        with open(os.path.join(ROOT, "docs", "security.md")) as f:
            doc = f.read()
        m = re.search(r"```\n(# mosquitto ACL.*?)```", doc, re.S)
        self.assertIsNotNone(m, "no ACL block in docs/security.md")
        with open(acl, "w") as f:
            f.write(m.group(1))
        pwfile = os.path.join(self.env.dir, "mosquitto.passwd")
        open(pwfile, "w").close()
        for user, pw in (("center", "center-pw"), (self.env.site, "site-pw"),
                         ("other-site", "other-pw")):
            run(["mosquitto_passwd", "-b", pwfile, user, pw])
        passf = os.path.join(self.env.dir, "mqtt.pass")
        with open(passf, "w") as f:
            f.write("site-pw\n")
        os.chmod(passf, 0o640)
        # (mqtt://, the other plain scheme, as the uri)
        self.gw_config("mqtt://127.0.0.1:%d" % self.env.mqtt_port,
                       extra="  username: %s\n  password_file: %s" % (self.env.site, passf))
        # the broker: no anonymous access, the password file and the ACL
        env = self.env
        conf = os.path.join(env.dir, "mosquitto-acl.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n"
                    "acl_file %s\nlog_dest stdout\n" % (env.mqtt_port, pwfile, acl))
            if os.geteuid() == 0:
                f.write("user root\n")
        env.broker = env.spawn("mosquitto", ["mosquitto", "-c", conf])
        fgtest.wait_port(env.mqtt_port)
        env.start_sim()
        center = env.spawn("center-sub", [
            "mosquitto_sub", "-h", "127.0.0.1", "-p", str(env.mqtt_port), "-q", "1",
            "-u", "center", "-P", "center-pw", "-i", "center", "-t", "firegw/#", "-F", "%t %p"])

        def seen(topic, since=0):
            return [l for l in center.lines[since:] if l.split(" ", 1)[0] == topic]

        def pub(user, pw, topic, msg):
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(env.mqtt_port),
                                "-q", "1", "-u", user, "-P", pw, "-t", topic, "-m", msg],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)

        # the center's subscription is in place once its own probe returns
        # (it may write on any site's request topic)
        probe = "firegw/probe-site/request"
        for _ in range(40):
            pub("center", "center-pw", probe, "probe")
            try:
                center.wait_line(lambda l: l.startswith(probe + " "), 0.5, "the probe")
                break
            except AssertionError:
                continue
        else:
            self.fail("the center's subscriber never received its probe")
        env.start_gateway()
        center.wait_line(lambda l: l.startswith(env.topic("status") + " ") and '"online"' in l,
                         20, "the gateway's online status")
        env.sim("flag", "smoke-1", "fire", "on")
        center.wait_line(lambda l: l.startswith(env.topic("alarm", "smoke-1") + " "), 20,
                         "the gateway's alarm")
        # the center's request reaches the gateway, its answer the center
        pub("center", "center-pw", env.topic("request"), json.dumps({"id": "q1", "op": "status"}))
        center.wait_line(lambda l: l.startswith(env.topic("response", "q1") + " "), 20,
                         "the answer")
        # a gateway (this site's credentials) cannot write another site's
        # topics, nor its own ack and request; each denied publish is
        # followed by an allowed one of the same user: once that arrives,
        # the denied one (sent before it) would have too
        mark = len(center.lines)
        denied = ["firegw/other-site/alarm/smoke-1", "firegw/other-site/status",
                  env.topic("ack"), env.topic("request")]
        for i, topic in enumerate(denied):
            pub(env.site, "site-pw", topic, "forged-%d" % i)
            pub(env.site, "site-pw", env.topic("record"), "marker-%d" % i)
            center.wait_line(lambda l, i=i: l == "%s marker-%d" % (env.topic("record"), i), 10,
                             "marker %d" % i, since=mark)
        for topic in denied:
            self.assertFalse(seen(topic, mark), topic)
        self.assertFalse([l for l in center.lines[mark:] if "forged" in l])
        # the center can write ack (the gateway reads it: the record of it)
        self.assertTrue(env.gw.alive())
