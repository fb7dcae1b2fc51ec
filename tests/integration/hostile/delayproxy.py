#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TCP proxy that makes a server slow or unresponsive, for the fault tests.

    delayproxy.py LISTEN_PORT TARGET_PORT CONTROL_FILE [--max S]

Listens on 127.0.0.1:LISTEN_PORT and relays to 127.0.0.1:TARGET_PORT.  The
first word of CONTROL_FILE, read for every chunk, decides what happens:
    pass        relay at once
    delay S     hold every chunk from the server S seconds before passing it on
    blackhole   accept and read, never answer (a hung server)
    refuse      close new connections at once (a stopped server)
The proxy ends itself after --max seconds (default 300).  Prints "ready"
once it listens.
"""
import argparse
import selectors
import socket
import sys
import threading
import time


def mode(path):
    try:
        with open(path) as f:
            w = f.read().split()
    except OSError:
        return ("pass", 0.0)
    if not w:
        return ("pass", 0.0)
    return (w[0], float(w[1]) if len(w) > 1 else 0.0)


def pump(client, a):
    m, _ = mode(a.control)
    if m == "refuse":
        client.close()
        return
    try:
        server = socket.create_connection(("127.0.0.1", a.target), timeout=5)
    except OSError:
        client.close()
        return
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, server)
    sel.register(server, selectors.EVENT_READ, client)
    try:
        while True:
            for key, _ in sel.select(timeout=1):
                src, dst = key.fileobj, key.data
                data = src.recv(65536)
                if not data:
                    return
                m, secs = mode(a.control)
                if m == "blackhole":
                    continue
                if m == "delay" and src is server:
                    time.sleep(secs)
                dst.sendall(data)
    except OSError:
        pass
    finally:
        client.close()
        server.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen", type=int)
    p.add_argument("target", type=int)
    p.add_argument("control")
    p.add_argument("--max", type=float, default=300)
    a = p.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(64)
    ls.settimeout(1)
    print("ready", flush=True)
    end = time.monotonic() + a.max
    while time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=pump, args=(c, a), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
