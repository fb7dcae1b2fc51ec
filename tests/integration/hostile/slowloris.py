#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A slowloris client: connects and sends an SSH identification line one byte
per second (a long one, so that it never ends), and reports when the server
closed the connection.

    slowloris.py HOST PORT [--source ADDR] [--max S]

Prints "closed after S s, N bytes sent" or "open after S s" when --max
(default 60) seconds went by first.
"""
import argparse
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--source")
    p.add_argument("--max", type=float, default=60)
    a = p.parse_args()
    s = socket.create_connection((a.host, a.port), timeout=10,
                                 source_address=(a.source, 0) if a.source else None)
    line = b"SSH-2.0-" + b"s" * 240
    start = time.monotonic()
    sent = 0
    s.settimeout(1.0)
    while time.monotonic() - start < a.max:
        try:
            s.send(line[sent % len(line):sent % len(line) + 1])
            sent += 1
        except OSError:
            break
        try:
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            pass
        except OSError:
            break
    else:
        print("open after %.0f s, %d bytes sent" % (time.monotonic() - start, sent), flush=True)
        return 0
    print("closed after %.1f s, %d bytes sent" % (time.monotonic() - start, sent), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
