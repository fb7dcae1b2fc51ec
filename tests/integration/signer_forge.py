#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Plays a compromised session child: takes a live session child's socket
to the certificate signer (pidfd_getfd, as root) and writes what the test
says on it, printing each reply as one JSON line.

    signer_forge.py PID request USER TARGET LOGIN SESSION SOURCE [COUNT]
    signer_forge.py PID raw HEX
    signer_forge.py PID flood COUNT

A request goes with a connection, as a session child's does (SCM_RIGHTS):
FORGE_CONN=tcp (the default) a TCP connection from 127.0.0.1 to a port the
script listens on; none: no descriptor; listen: a listening TCP socket (no
peer); udp: a connected UDP socket.

flood sends COUNT requests without reading a single answer, then reads
what came back: it prints how many were sent and whether the signer closed
the socket (as it must, rather than stall for everyone).

The socket is the child's only SOCK_SEQPACKET unix socket.  A request
certifies a fresh random key; an issued certificate is printed as an
OpenSSH public key line ("cert"), ready for ssh-keygen -L.
"""
import base64
import ctypes
import json
import os
import socket
import struct
import sys

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


def seqpacket_inodes():
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            if len(cols) >= 7 and cols[4] == "0005":  # SOCK_SEQPACKET
                inodes.add(cols[6])
    return inodes


def steal(pid):
    seq = seqpacket_inodes()
    fds = []
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in seq:
            fds.append(int(name))
    if len(fds) != 1:
        sys.exit("signer_forge: pid %d has %d SEQPACKET sockets, expected 1" % (pid, len(fds)))
    pidfd = os.pidfd_open(pid)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, fds[0], 0)
    if fd < 0:
        sys.exit("signer_forge: pidfd_getfd: %s" % os.strerror(ctypes.get_errno()))
    os.close(pidfd)
    return socket.socket(fileno=fd)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def connection(mode):
    """The descriptor to send with a request, and what to keep open meanwhile."""
    if mode == "none":
        return None, []
    if mode == "udp":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.connect(("127.0.0.1", 9))
        return u, [u]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    if mode == "listen":
        return srv, [srv]
    c = socket.create_connection(srv.getsockname())
    a, _ = srv.accept()
    return c, [srv, c, a]


def send(s, m, conn):
    if conn is None:
        s.send(m)
    else:
        socket.send_fds(s, [m], [conn.fileno()])


def request(user, target, login, session, source):
    return (bytes([1, 1]) + string(user) + string(target) + string(login) + string(session)
            + string(source) + string(os.urandom(32)))


def reply(data):
    """version, kind, status, string message, string certificate, uint64 serial"""
    out = {"raw_len": len(data)}
    try:
        off = 3
        status = data[2]
        n = struct.unpack(">I", data[off:off + 4])[0]
        msg = data[off + 4:off + 4 + n].decode()
        off += 4 + n
        n = struct.unpack(">I", data[off:off + 4])[0]
        cert = data[off + 4:off + 4 + n]
        off += 4 + n
        serial = struct.unpack(">Q", data[off:off + 8])[0]
        out.update(status=status, message=msg, serial=str(serial),
                   cert=("ssh-ed25519-cert-v01@openssh.com " + base64.b64encode(cert).decode()) if cert else "")
    except (IndexError, struct.error, UnicodeDecodeError) as e:
        out.update(status=-1, message="unparsable reply: %s" % e)
    return out


def main():
    pid, what = int(sys.argv[1]), sys.argv[2]
    s = steal(pid)
    s.settimeout(20)
    conn, keep = connection(os.environ.get("FORGE_CONN", "tcp"))
    if what == "request":
        msgs = [request(*sys.argv[3:8])] * (int(sys.argv[8]) if len(sys.argv) > 8 else 1)
    elif what == "raw":
        msgs = [bytes.fromhex(sys.argv[3])]
    elif what == "flood":
        m = request("nobody-here", "x", "x", "aaaaaaaaaaaaaaaa", "127.0.0.1")
        sent = 0
        s.settimeout(5)
        try:
            for _ in range(int(sys.argv[3])):
                s.send(m)
                sent += 1
        except OSError:
            pass
        answers, closed = 0, False
        try:
            while True:
                if not s.recv(65536):
                    closed = True
                    break
                answers += 1
        except (socket.timeout, OSError):
            pass
        print(json.dumps({"sent": sent, "answers": answers, "closed": closed}), flush=True)
        return
    else:
        sys.exit("signer_forge: unknown case %s" % what)
    for m in msgs:
        send(s, m, conn)
        print(json.dumps(reply(s.recv(65536))), flush=True)
    s.close()
    for k in keep:
        k.close()


if __name__ == "__main__":
    main()
