#!/usr/bin/env python3
"""lbproxy - a TCP forwarder that stands for a command center's load
balancer in front of its broker cluster (tests/cluster).

  lbproxy.py LISTEN_HOST:PORT BACKEND_HOST:PORT [BACKEND_HOST:PORT ...]

Each accepted connection goes to the first backend that accepts a TCP
connection within CONNECT_TIMEOUT_S, trying the backends in order from the
one used last (so a client stays on one node while that node lives, as a
load balancer with health checks does). Bytes are copied both ways
unchanged; when either side closes or fails, both are closed.

One line per event on stdout, for the harness:
  ready LISTEN
  conn N PEER -> BACKEND
  refused N PEER (no backend accepted)
  closed N

Runs until it is killed (the harness stops it by its PID); every
connection attempt is bounded by CONNECT_TIMEOUT_S.
"""
import socket
import sys
import threading

CONNECT_TIMEOUT_S = 1.0
BUF = 65536

out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def parse(hp):
    host, port = hp.rsplit(":", 1)
    return host, int(port)


def pump(src, dst, done):
    try:
        while True:
            data = src.recv(BUF)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    done.set()
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(n, client, peer, backend):
    done = threading.Event()
    a = threading.Thread(target=pump, args=(client, backend, done), daemon=True)
    b = threading.Thread(target=pump, args=(backend, client, done), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    client.close()
    backend.close()
    say("closed %d" % n)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    listen = parse(argv[1])
    backends = [parse(b) for b in argv[2:]]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(listen)
    ls.listen(64)
    say("ready %s:%d" % listen)
    last = 0
    n = 0
    while True:
        client, peer = ls.accept()
        n += 1
        chosen = None
        for k in range(len(backends)):
            i = (last + k) % len(backends)
            try:
                chosen = socket.create_connection(backends[i], timeout=CONNECT_TIMEOUT_S)
            except OSError:
                continue
            chosen.settimeout(None)
            last = i
            break
        if chosen is None:
            say("refused %d %s:%d" % (n, peer[0], peer[1]))
            client.close()
            continue
        for s in (client, chosen):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        say("conn %d %s:%d -> %s:%d" % (n, peer[0], peer[1], backends[last][0], backends[last][1]))
        threading.Thread(target=serve, args=(n, client, peer, chosen), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
