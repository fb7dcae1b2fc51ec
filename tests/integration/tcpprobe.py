#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Small TCP probes for the forwarding and pre-auth limit tests.

    tcpprobe.py read HOST PORT [--socks4 DSTPORT] [--timeout S] [--source ADDR]
        Connects (optionally through a SOCKS4 proxy at HOST:PORT to
        127.0.0.1:DSTPORT), reads until EOF, timeout or 256 bytes, and prints
        what it read (non-printable bytes escaped).  Exit 0 even when nothing
        came: the caller decides what the bytes mean.

    tcpprobe.py hold N HOST PORT [--source ADDR] [--seconds S]
        Opens N connections that never authenticate, prints "held N" once they
        are all open, then keeps them for S seconds (default 30) or until
        killed, and prints for each one whether the server closed it.

    tcpprobe.py idle HOST PORT [--timeout S]
        Connects, reads the server's identification line, sends nothing and
        prints the seconds until the server closed the connection ("open" if
        it did not within the timeout).
"""
import argparse
import socket
import sys
import time


def connect(host, port, source, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def show(data):
    out = []
    for b in data:
        ch = chr(b)
        out.append(ch if 32 <= b < 127 else "\\x%02x" % b)
    return "".join(out)


def cmd_read(a):
    s = connect(a.host, a.port, a.source, a.timeout)
    data = b""
    try:
        if a.socks4:
            s.sendall(b"\x04\x01" + a.socks4.to_bytes(2, "big") + bytes([127, 0, 0, 1]) + b"\x00")
        deadline = time.monotonic() + a.timeout
        while len(data) < 256 and time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(256)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    print(show(data))
    return 0


def cmd_hold(a):
    socks = [connect(a.host, a.port, a.source, 10) for _ in range(a.n)]
    print("held %d" % a.n, flush=True)
    deadline = time.monotonic() + a.seconds
    closed = [False] * a.n
    while time.monotonic() < deadline and not all(closed):
        for i, s in enumerate(socks):
            if closed[i]:
                continue
            s.settimeout(0.05)
            try:
                if s.recv(4096) == b"":
                    closed[i] = True
            except socket.timeout:
                pass
            except OSError:
                closed[i] = True
    for i, c in enumerate(closed):
        print("conn %d %s" % (i, "closed" if c else "open"), flush=True)
    return 0


def cmd_idle(a):
    start = time.monotonic()
    s = connect(a.host, a.port, None, a.timeout)
    s.settimeout(a.timeout)
    try:
        while True:
            left = a.timeout - (time.monotonic() - start)
            if left <= 0:
                print("open")
                return 0
            s.settimeout(left)
            if s.recv(4096) == b"":
                break
    except socket.timeout:
        print("open")
        return 0
    except OSError:
        pass
    print("%.1f" % (time.monotonic() - start))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("read")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("--socks4", type=int)
    r.add_argument("--timeout", type=float, default=5)
    r.add_argument("--source")
    h = sub.add_parser("hold")
    h.add_argument("n", type=int)
    h.add_argument("host")
    h.add_argument("port", type=int)
    h.add_argument("--source")
    h.add_argument("--seconds", type=float, default=30)
    i = sub.add_parser("idle")
    i.add_argument("host")
    i.add_argument("port", type=int)
    i.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()
    return {"read": cmd_read, "hold": cmd_hold, "idle": cmd_idle}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
