#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A deliberately unruly SSH client for the hostile tests.

It speaks just enough SSH-2 to reach the gateway's authentication layer and
then does what a real client never would: messages out of state, odd
authentication methods, public keys without signatures, names with NUL
bytes, floods of channels.  Only the Python standard library and
python3-cryptography (Debian package) are used: curve25519-sha256 key
exchange, an ssh-ed25519 host key (its signature is verified), aes128-ctr
and hmac-sha2-256.

    rawssh.py HOST PORT STEP...

Each STEP runs in order and prints one line "STEP -> OUTCOME" on stdout;
the test reads those lines.  A step's arguments follow it after ':'; bytes
may be given with Python escapes (\\x00, \\n, \\xff), which are decoded.

    banner                 read the server's identification line only
    raw-send:HEX           send raw bytes (hex) on the plain connection
    kex                    key exchange (announcing kex-strict-c-v00), NEWKEYS
    kex-nostrict           the same without the strict-kex marker
    server-kexinit         print the server's KEXINIT lists (after 'kex')
    plain:NUM              send an unencrypted message NUM before kex; list what
                           comes back within 3 s (e.g. "KEXINIT CLOSED")
    service                SERVICE_REQUEST ssh-userauth
    msg:NUM                send an empty message NUM (e.g. 52: USERAUTH_SUCCESS)
    send-open:TYPE, send-global:NAME   as open/global, without waiting for an answer
    auth-none:USER
    auth-password:USER:PASSWORD
    auth-hostbased:USER:PUBFILE      (signed with garbage)
    auth-gssapi:USER
    auth-kbdint:USER
    info-response:ANSWER   USERAUTH_INFO_RESPONSE with one answer, whether or not asked
    auth-pk-probe:USER:PUBFILE       public key offer without signature
    auth-pk-badsig:USER:PUBFILE      with a signature that is garbage
    global:NAME            GLOBAL_REQUEST NAME (want reply) ("tcpip-forward" gets addr/port)
    open:TYPE              CHANNEL_OPEN of TYPE (session, direct-tcpip, x11, ...)
    exec:CMD               open a session channel, exec CMD, print what comes back
    exec-if-authed:CMD     the same, only after a USERAUTH_SUCCESS
    flood:N                open N session channels at once; count answers
    cycle:N                N times: open 1 channel, close it
    close-all              close every open channel
    sleep:SECONDS
    wait-file:PATH         wait (at most RAWSSH_TIMEOUT s) until PATH exists, so that
                           a test can hold a step until something else is ready
    expect-closed:SECONDS  wait (at most SECONDS) until the server ends the connection;
                           says how long that took

Outcomes name the message that came back (USERAUTH_FAILURE methods=...,
PK_OK, USERAUTH_SUCCESS, CHANNEL_OPEN_CONFIRMATION, CHANNEL_OPEN_FAILURE,
REQUEST_SUCCESS, REQUEST_FAILURE, DISCONNECT, CLOSED, TIMEOUT).  Banners the
server sends meanwhile are printed as "banner: TEXT".  Exit status 0 unless
the script itself could not run (bad arguments, no connection: 2).
RAWSSH_SOURCE picks the local address to connect from (127.x.y.z).
"""
import base64
import codecs
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import serialization

NAMES = {
    1: "DISCONNECT", 2: "IGNORE", 3: "UNIMPLEMENTED", 4: "DEBUG", 5: "SERVICE_REQUEST",
    6: "SERVICE_ACCEPT", 7: "EXT_INFO", 20: "KEXINIT", 21: "NEWKEYS", 30: "KEX_ECDH_INIT",
    31: "KEX_ECDH_REPLY", 50: "USERAUTH_REQUEST", 51: "USERAUTH_FAILURE",
    52: "USERAUTH_SUCCESS", 53: "USERAUTH_BANNER", 60: "PK_OK", 80: "GLOBAL_REQUEST",
    81: "REQUEST_SUCCESS", 82: "REQUEST_FAILURE", 90: "CHANNEL_OPEN",
    91: "CHANNEL_OPEN_CONFIRMATION", 92: "CHANNEL_OPEN_FAILURE", 93: "CHANNEL_WINDOW_ADJUST",
    94: "CHANNEL_DATA", 95: "CHANNEL_EXTENDED_DATA", 96: "CHANNEL_EOF", 97: "CHANNEL_CLOSE",
    98: "CHANNEL_REQUEST", 99: "CHANNEL_SUCCESS", 100: "CHANNEL_FAILURE",
}

TIMEOUT = float(os.environ.get("RAWSSH_TIMEOUT", "10"))


class Closed(Exception):
    pass


class Timeout(Exception):
    pass


def u32(n):
    return struct.pack(">I", n)


def sstr(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def mpint(b):
    """An unsigned big-endian integer given as bytes, as an SSH mpint."""
    b = b.lstrip(b"\x00")
    if b and b[0] & 0x80:
        b = b"\x00" + b
    return sstr(b)


def namelist(names):
    return sstr(",".join(names))


class Reader:
    def __init__(self, data):
        self.d = data
        self.o = 0

    def byte(self):
        v = self.d[self.o]
        self.o += 1
        return v

    def u32(self):
        v = struct.unpack(">I", self.d[self.o:self.o + 4])[0]
        self.o += 4
        return v

    def string(self):
        n = self.u32()
        v = self.d[self.o:self.o + n]
        self.o += n
        return v

    def rest(self):
        return self.d[self.o:]


def show(b, limit=200):
    out = []
    for x in b[:limit]:
        out.append(chr(x) if 32 <= x < 127 and x != 0x5C else "\\x%02x" % x)
    return "".join(out) + ("..." if len(b) > limit else "")


class Conn:
    def __init__(self, host, port):
        src = os.environ.get("RAWSSH_SOURCE")
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT,
                                             source_address=(src, 0) if src else None)
        self.buf = b""
        self.seq_out = 0
        self.seq_in = 0
        self.enc = None  # (encryptor, mac key) once keys are on
        self.dec = None
        self.v_c = b"SSH-2.0-DrawbridgeHostileTest_1.0"
        self.v_s = None
        self.server_kexinit = None
        self.session_id = None
        self.strict = False
        self.chans = {}  # local id -> remote id
        self.next_chan = 0
        self.banners = []
        self.authed = False  # the server said USERAUTH_SUCCESS

    # ---- raw bytes ----
    def recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except (ConnectionResetError, BrokenPipeError):
            raise Closed()
        if not d:
            raise Closed()
        self.buf += d

    def recv_exact(self, n, deadline):
        while len(self.buf) < n:
            self.recv_some(deadline)
        v, self.buf = self.buf[:n], self.buf[n:]
        return v

    def send_raw(self, b):
        try:
            self.sock.sendall(b)
        except (BrokenPipeError, ConnectionResetError):
            raise Closed()

    def version(self):
        self.send_raw(self.v_c + b"\r\n")
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\n" not in self.buf:
                self.recv_some(deadline)
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            if line.startswith(b"SSH-"):
                self.v_s = line
                return line

    # ---- packets ----
    def send(self, payload):
        bs = 16 if self.enc else 8
        pad = bs - ((5 + len(payload)) % bs)
        if pad < 4:
            pad += bs
        pkt = u32(1 + len(payload) + pad) + bytes([pad]) + payload + os.urandom(pad)
        if self.enc:
            cipher, mkey = self.enc
            mac = hmac.new(mkey, u32(self.seq_out) + pkt, hashlib.sha256).digest()
            out = cipher.update(pkt) + mac
        else:
            out = pkt
        self.seq_out = (self.seq_out + 1) & 0xFFFFFFFF
        self.send_raw(out)

    def recv(self, deadline=None):
        if deadline is None:
            deadline = time.monotonic() + TIMEOUT
        if self.dec:
            cipher, mkey = self.dec
            first = cipher.update(self.recv_exact(16, deadline))
            plen = struct.unpack(">I", first[:4])[0]
            if plen > 256 * 1024 or (plen + 4) % 16:
                raise Closed()
            rest = cipher.update(self.recv_exact(plen + 4 - 16, deadline))
            pkt = first + rest
            mac = self.recv_exact(32, deadline)
            want = hmac.new(mkey, u32(self.seq_in) + pkt, hashlib.sha256).digest()
            if not hmac.compare_digest(mac, want):
                raise RuntimeError("bad MAC from server")
        else:
            head = self.recv_exact(5, deadline)
            plen = struct.unpack(">I", head[:4])[0]
            if plen > 256 * 1024:
                raise Closed()
            pkt = head + self.recv_exact(plen - 1, deadline)
        self.seq_in = (self.seq_in + 1) & 0xFFFFFFFF
        padlen = pkt[4]
        return pkt[5:len(pkt) - padlen]

    def next_msg(self, deadline=None):
        """The next message that is not noise; banners are remembered."""
        while True:
            p = self.recv(deadline)
            t = p[0]
            if t in (2, 4, 7):
                continue
            if t == 53:
                r = Reader(p[1:])
                txt = r.string()
                self.banners.append(txt)
                print("banner: %s" % show(txt.strip(), 400), flush=True)
                continue
            if t == 80:  # a server global request: refuse if asked
                r = Reader(p[1:])
                r.string()
                if r.byte():
                    self.send(bytes([82]))
                continue
            if t == 93:  # window adjust
                continue
            return p

    # ---- key exchange ----
    def kex(self, strict=True):
        kex_algos = ["curve25519-sha256", "curve25519-sha256@libssh.org"]
        if strict:
            kex_algos.append("kex-strict-c-v00@openssh.com")
        ci = (bytes([20]) + os.urandom(16) + namelist(kex_algos) + namelist(["ssh-ed25519"]) +
              namelist(["aes128-ctr"]) * 2 + namelist(["hmac-sha2-256"]) * 2 +
              namelist(["none"]) * 2 + namelist([]) * 2 + b"\x00" + u32(0))
        self.send(ci)
        si = self.next_msg()
        if si[0] != 20:
            raise RuntimeError("expected KEXINIT, got %d" % si[0])
        self.server_kexinit = si
        lists = parse_kexinit(si)
        self.strict = strict and "kex-strict-s-v00@openssh.com" in lists["kex"]
        priv = X25519PrivateKey.generate()
        q_c = priv.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)
        self.send(bytes([30]) + sstr(q_c))
        rep = self.next_msg()
        if rep[0] != 31:
            raise RuntimeError("expected KEX_ECDH_REPLY, got %d" % rep[0])
        r = Reader(rep[1:])
        k_s = r.string()
        q_s = r.string()
        sig = r.string()
        shared = priv.exchange(X25519PublicKeyFromBytes(q_s))
        k = mpint(shared)
        h = hashlib.sha256(sstr(self.v_c) + sstr(self.v_s) + sstr(ci) + sstr(si) + sstr(k_s) +
                           sstr(q_c) + sstr(q_s) + k).digest()
        kr = Reader(k_s)
        if kr.string() != b"ssh-ed25519":
            raise RuntimeError("host key is not ssh-ed25519")
        hk = Ed25519PublicKey.from_public_bytes(kr.string())
        sr = Reader(sig)
        if sr.string() != b"ssh-ed25519":
            raise RuntimeError("signature is not ssh-ed25519")
        hk.verify(sr.string(), h)  # raises on a bad signature
        if self.session_id is None:
            self.session_id = h
        nk = self.next_msg()
        if nk[0] != 21:
            raise RuntimeError("expected NEWKEYS, got %d" % nk[0])
        self.send(bytes([21]))

        def derive(letter, n):
            out = hashlib.sha256(k + h + letter + self.session_id).digest()
            while len(out) < n:
                out += hashlib.sha256(k + h + out).digest()
            return out[:n]

        iv_cs, iv_sc = derive(b"A", 16), derive(b"B", 16)
        key_cs, key_sc = derive(b"C", 16), derive(b"D", 16)
        mac_cs, mac_sc = derive(b"E", 32), derive(b"F", 32)
        self.enc = (Cipher(algorithms.AES(key_cs), modes.CTR(iv_cs)).encryptor(), mac_cs)
        self.dec = (Cipher(algorithms.AES(key_sc), modes.CTR(iv_sc)).decryptor(), mac_sc)
        if self.strict:
            self.seq_in = 0
            self.seq_out = 0
        return lists


def X25519PublicKeyFromBytes(b):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    return X25519PublicKey.from_public_bytes(b)


def parse_kexinit(p):
    r = Reader(p[17:])
    keys = ["kex", "hostkey", "enc_cs", "enc_sc", "mac_cs", "mac_sc", "comp_cs", "comp_sc"]
    return {k: r.string().decode().split(",") for k in keys}


def unescape(s):
    return codecs.escape_decode(s.encode("utf-8", "surrogateescape"))[0]


def describe(p):
    t = p[0]
    name = NAMES.get(t, "MSG_%d" % t)
    r = Reader(p[1:])
    try:
        if t == 51:
            methods = r.string().decode()
            return "%s methods=%s partial=%d" % (name, methods, r.byte())
        if t == 1:
            code = r.u32()
            return "%s reason=%d %s" % (name, code, show(r.string()))
        if t == 92:
            r.u32()
            code = r.u32()
            return "%s reason=%d %s" % (name, code, show(r.string()))
    except (IndexError, struct.error):
        pass
    return name


def pubkey_blob(path):
    with open(path) as f:
        parts = f.read().split()
    return parts[0].encode(), base64.b64decode(parts[1])


def userauth(c, user, method, extra=b""):
    c.send(bytes([50]) + sstr(user) + sstr(b"ssh-connection") + sstr(method) + extra)
    p = c.next_msg()
    if p[0] == 52:
        c.authed = True
    return p


def open_channel(c, ctype, extra=b""):
    lid = c.next_chan
    c.next_chan += 1
    c.send(bytes([90]) + sstr(ctype) + u32(lid) + u32(2 * 1024 * 1024) + u32(32768) + extra)
    return lid


def chan_msg(c, p, lid):
    """True when p is a channel message for a channel other than lid (it is
    then dealt with: a CLOSE is answered and the channel forgotten)."""
    if p[0] not in (91, 92, 94, 95, 96, 97, 98, 99, 100):
        return False
    other = struct.unpack(">I", p[1:5])[0]
    if other == lid:
        return False
    if p[0] == 97 and other in c.chans:
        c.send(bytes([97]) + u32(c.chans.pop(other)))
    return p[0] not in (91, 92)


def wait_open(c, deadline=None, lid=None):
    while True:
        p = c.next_msg(deadline)
        if p[0] in (81, 82):  # answers to earlier global requests
            continue
        if lid is not None and lid >= 0 and p[0] in (91, 92) and \
                struct.unpack(">I", p[1:5])[0] != lid:
            # the answer to an earlier open (send-open) that nobody waited for
            if p[0] == 91:
                r = Reader(p[1:])
                other, rid = r.u32(), r.u32()
                c.chans[other] = rid
            continue
        if lid is None or not chan_msg(c, p, lid):
            break
    if p[0] == 91:
        r = Reader(p[1:])
        lid, rid = r.u32(), r.u32()
        c.chans[lid] = rid
    return p


def run_exec(c, cmd):
    lid = open_channel(c, b"session")
    p = wait_open(c, lid=lid)
    if p[0] != 91:
        return describe(p)
    rid = c.chans[lid]
    c.send(bytes([98]) + u32(rid) + sstr(b"exec") + b"\x01" + sstr(cmd))
    out, err, status, reply = b"", b"", None, None
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            p = c.next_msg(deadline)
        except Timeout:
            break
        if chan_msg(c, p, lid) or p[0] in (81, 82):
            continue
        t = p[0]
        r = Reader(p[1:])
        if t in (99, 100) and reply is None:
            reply = NAMES[t]
        elif t == 94:
            r.u32()
            out += r.string()
        elif t == 95:
            r.u32()
            r.u32()
            err += r.string()
        elif t == 98:
            r.u32()
            if r.string() == b"exit-status":
                r.byte()
                status = r.u32()
        elif t == 97:
            c.send(bytes([97]) + u32(rid))
            c.chans.pop(lid, None)
            break
    return "exec reply=%s status=%s stdout=%s stderr=%s" % (reply, status, show(out.strip()),
                                                          show(err.strip()))


def step(c, spec, host, port):
    name, _, arg = spec.partition(":")
    if name == "banner":
        return "SERVER %s" % show(c.version())
    if name == "raw-send":
        c.send_raw(bytes.fromhex(arg))
        return "sent"
    if name in ("kex", "kex-nostrict"):
        c.kex(strict=(name == "kex"))
        return "NEWKEYS strict=%d" % int(c.strict)
    if name == "server-kexinit":
        lists = parse_kexinit(c.server_kexinit)
        return " ".join("%s=%s" % (k, ",".join(v)) for k, v in lists.items())
    if name == "plain":
        # Sent before the server's KEXINIT is even read: whatever comes back
        # within 3 s is listed, ending with CLOSED if the server hung up.
        c.send(bytes([int(arg)]))
        seen = []
        deadline = time.monotonic() + 3
        try:
            while True:
                seen.append(describe(c.recv(deadline)))
        except Timeout:
            seen.append("TIMEOUT")
        except Closed:
            seen.append("CLOSED")
        return " ".join(seen)
    if name == "service":
        c.send(bytes([5]) + sstr(b"ssh-userauth"))
        return describe(c.next_msg())
    if name == "msg":
        c.send(bytes([int(arg)]))
        return "sent"
    if name == "auth-none":
        return describe(userauth(c, unescape(arg), b"none"))
    if name == "auth-password":
        user, _, pw = arg.partition(":")
        return describe(userauth(c, unescape(user), b"password", b"\x00" + sstr(unescape(pw))))
    if name == "auth-hostbased":
        user, _, path = arg.partition(":")
        kt, blob = pubkey_blob(path)
        extra = sstr(kt) + sstr(blob) + sstr(b"localhost.") + sstr(unescape(user)) + \
            sstr(sstr(kt) + sstr(os.urandom(64)))
        return describe(userauth(c, unescape(user), b"hostbased", extra))
    if name == "auth-gssapi":
        # one mechanism: Kerberos V5 (1.2.840.113554.1.2.2) as a DER OID
        oid = bytes.fromhex("06092a864886f712010202")
        return describe(userauth(c, unescape(arg), b"gssapi-with-mic", u32(1) + sstr(oid)))
    if name == "auth-kbdint":
        return describe(userauth(c, unescape(arg), b"keyboard-interactive", sstr(b"") + sstr(b"")))
    if name == "info-response":
        c.send(bytes([61]) + u32(1) + sstr(unescape(arg)))
        p = c.next_msg()
        if p[0] == 52:
            c.authed = True
        return describe(p)
    if name in ("auth-pk-probe", "auth-pk-badsig"):
        user, _, path = arg.partition(":")
        kt, blob = pubkey_blob(path)
        if name == "auth-pk-probe":
            extra = b"\x00" + sstr(kt) + sstr(blob)
        else:
            extra = b"\x01" + sstr(kt) + sstr(blob) + sstr(sstr(kt) + sstr(os.urandom(64)))
        return describe(userauth(c, unescape(user), b"publickey", extra))
    if name in ("global", "send-global"):
        extra = b""
        if arg == "tcpip-forward":
            extra = sstr(b"127.0.0.1") + u32(0)
        c.send(bytes([80]) + sstr(arg) + b"\x01" + extra)
        return "sent" if name == "send-global" else describe(c.next_msg())
    if name in ("open", "send-open"):
        extra = b""
        if arg in ("direct-tcpip", "forwarded-tcpip"):
            extra = sstr(b"127.0.0.1") + u32(22) + sstr(b"127.0.0.1") + u32(40000)
        elif arg == "x11":
            extra = sstr(b"127.0.0.1") + u32(6010)
        open_channel(c, arg.encode(), extra)
        return "sent" if name == "send-open" else describe(wait_open(c))
    if name == "exec":
        return run_exec(c, unescape(arg))
    if name == "exec-if-authed":
        return run_exec(c, unescape(arg)) if c.authed else "skipped (not authenticated)"
    if name == "flood":
        n = int(arg)
        for _ in range(n):
            open_channel(c, b"session")
        ok = bad = 0
        deadline = time.monotonic() + TIMEOUT
        while ok + bad < n:
            p = wait_open(c, deadline, lid=-1)
            if p[0] == 91:
                ok += 1
            elif p[0] == 92:
                bad += 1
            else:
                return "%s after %d confirmed, %d refused" % (describe(p), ok, bad)
        return "confirmed=%d refused=%d" % (ok, bad)
    if name == "cycle":
        n, ok = int(arg), 0
        for _ in range(n):
            lid = open_channel(c, b"session")
            p = wait_open(c, lid=lid)
            if p[0] != 91:
                return "%s after %d cycles" % (describe(p), ok)
            c.send(bytes([97]) + u32(c.chans[lid]))
            deadline = time.monotonic() + TIMEOUT
            while True:
                q = c.next_msg(deadline)
                if q[0] == 97 and struct.unpack(">I", q[1:5])[0] == lid:
                    break
            c.chans.pop(lid, None)
            ok += 1
        return "cycles=%d" % ok
    if name == "close-all":
        # CLOSE each, then wait for the server's CLOSE of each: only then
        # is a channel gone on both sides (RFC 4254 5.3).
        waiting = set(c.chans)
        for lid in list(c.chans):
            c.send(bytes([97]) + u32(c.chans[lid]))
        deadline = time.monotonic() + TIMEOUT
        while waiting:
            try:
                p = c.next_msg(deadline)
            except Timeout:
                return "TIMEOUT with %d channel(s) not closed by the server" % len(waiting)
            if p[0] == 97:
                lid = struct.unpack(">I", p[1:5])[0]
                waiting.discard(lid)
                c.chans.pop(lid, None)
        return "closed"
    if name == "sleep":
        time.sleep(float(arg))
        return "slept"
    if name == "wait-file":
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(arg):
            if time.monotonic() > deadline:
                return "TIMEOUT (no %s)" % arg
            time.sleep(0.05)
        return "present"
    if name == "expect-closed":
        start = time.monotonic()
        deadline = start + float(arg or TIMEOUT)
        while True:
            try:
                p = c.next_msg(deadline)
            except Timeout:
                return "TIMEOUT (still open after %.1fs)" % (time.monotonic() - start)
            except Closed:
                return "CLOSED after %.1fs" % (time.monotonic() - start)
            if p[0] == 1:
                return "%s after %.1fs" % (describe(p), time.monotonic() - start)
    raise SystemExit("unknown step %r" % spec)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        c = Conn(host, port)
    except OSError as e:
        print("connect -> %s" % e, flush=True)
        return 2
    steps = sys.argv[3:]
    if steps[0] != "banner":
        c.version()
    for spec in steps:
        label = spec.split(":", 1)[0]
        try:
            outcome = step(c, spec, host, port)
        except Closed:
            print("%s -> CLOSED" % label, flush=True)
            return 0
        except Timeout:
            # No answer: say so and go on (the next step may still learn
            # something, e.g. that the connection is closed).
            print("%s -> TIMEOUT" % label, flush=True)
            continue
        except RuntimeError as e:
            print("%s -> ERROR %s" % (label, e), flush=True)
            return 0
        print("%s -> %s" % (label, outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
