#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where a gateway session's time goes.  Run by tests/bench/profile in the
benchmark's environment (bench.env); prints a plain-text report.

  stream     perf record (DWARF call graphs) of the session child while it
             relays a zero stream: self time by function, inclusive time of
             the relay's and the recorder's functions, libcrypto time split by
             algorithm (its assembly has no symbols: classified by the
             instructions at the sampled addresses), and the CPU split across
             every process during the gateway and the ProxyJump stream
  syscalls   strace of the session child during the stream: calls per MiB
             relayed and the sizes of socket reads and writes
  transfer   the session child during an sftp download of incompressible
             data: time by library and how much the store grew
  memory     PSS of idle interactive session children, by mapping, and the
             binary's largest static data
  setup      `ssh gw true` phases from the gateway's own log (no tracing),
             then one traced connection: phases from its syscalls and the
             stalls where a second small write waited for a delayed ACK
  callgrind  (--callgrind, or when perf cannot count here) the gateway under
             valgrind --tool=callgrind for a shorter stream
"""
import argparse
import collections
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

import bench

MiB = bench.MiB
DIR = bench.DIR
GW_PID = int(os.environ["GW_PID"])
OUT = []


def say(s=""):
    OUT.append(s)
    print(s)
    sys.stdout.flush()


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def new_child(before, secs=10):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        kids = set(bench.gw_session_pids()) - before
        if kids:
            return max(kids)
        time.sleep(0.05)
    raise bench.BenchError("no new gateway session child appeared")


def start_stream(mode, nbytes, delay=0.5):
    """A stream in the background; returns (Popen, gateway child or None)."""
    before = set(bench.gw_session_pids())
    p = subprocess.Popen(bench.ssh_argv(mode) + ["sleep %s; exec head -c %d /dev/zero" % (delay, nbytes)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    child = new_child(before) if mode == "gw" else None
    time.sleep(delay + 0.3)
    return p, child


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# ---- libcrypto without symbols -----------------------------------------------------

CRYPTO_SIGS = [
    ("SHA-256 (SHA-NI)", re.compile(r"\bsha256(rnds2|msg1|msg2)\b")),
    ("SHA-256/512 (AVX/BMI2)", re.compile(r"\brorx\b")),
    ("AES-GCM (VAES/CLMUL)", re.compile(r"\b(vaesenc|aesenc|vpclmul|pclmul)")),
    ("Poly1305 (IFMA/AVX)", re.compile(r"\b(vpmadd52|vpmuludq|mulx)")),
    ("ChaCha20 (AVX)", re.compile(r"\b(vprold|vprotd|vpshufb)\b")),
    # no SIMD (as under valgrind): the rotates give the algorithm away
    ("SHA-256 (scalar)", re.compile(r"\bror\s")),
    ("ChaCha20 (scalar)", re.compile(r"\brol\s")),
]


def libcrypto_path():
    out = run(["ldd", os.environ["DRAWBRIDGE_BIN"]]).stdout
    m = re.search(r"libcrypto\S*\s+=>\s+(\S+)", out)
    return m.group(1) if m else None


def classify_crypto(addr_counts, path):
    """{algorithm: samples} for samples at file offsets of libcrypto."""
    out = collections.Counter()
    buckets = collections.Counter()
    for a, n in addr_counts.items():
        buckets[a // 256 * 256] += n
    for a, n in buckets.items():
        d = ""
        if path:
            d = run(["objdump", "-d", "--no-show-raw-insn", "--start-address=%d" % a,
                     "--stop-address=%d" % (a + 256), path]).stdout
        name = "other libcrypto"
        for label, rx in CRYPTO_SIGS:
            if rx.search(d):
                name = label
                break
        out[name] += n
    return out


# ---- perf ------------------------------------------------------------------------------

def perf_ok():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-e", "instructions", "true"], capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "<not counted>" not in r.stderr


def perf_self(data):
    """[(samples, dso, symbol)] of self time."""
    r = run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "-F",
             "sample,dso,sym", "--stdio"], timeout=600)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"^\s+(\d+)\s+(\S+)\s+\[[.k]\]\s+(\S+)", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), m.group(3)))
    return rows


def perf_children(data):
    """{symbol: (inclusive %, self %)}."""
    r = run(["perf", "report", "-i", data, "--children", "--sort", "symbol", "--stdio", "-g",
             "none"], timeout=600)
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+([\d.]+)%\s+\[[.k]\]\s+(\S+)", line)
        if m and m.group(3) not in out:
            out[m.group(3)] = (float(m.group(1)), float(m.group(2)))
    return out


def perf_comm(data):
    r = run(["perf", "report", "-i", data, "--sort", "comm", "--stdio"], timeout=600)
    out = []
    for line in r.stdout.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+(.+?)\s*$", line)
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


SELF_CATEGORIES = [
    ("search-index text extraction (recordings/text.c t_byte, rec_text_feed)",
     re.compile(r"^(t_byte|t_ground|t_add|t_emit|rec_text_feed|t_erase)$")),
    ("JSON escaping (recordings/codec.c rec_esc_json, rec_utf8_len)",
     re.compile(r"^(rec_esc_json|rec_utf8_len|esc_)")),
    ("base64 (recordings/codec.c rec_b64_encode)", re.compile(r"^rec_b64")),
    ("other recording writer (recordings/writer.c)", re.compile(r"^(w_|rec_writer_|recorder_)")),
    ("relay loop (broker/channel.c, session.c)", re.compile(r"^(chan_|session_|rbuf_)")),
    ("memcpy/memmove (libc)", re.compile(r"^__mem(move|cpy|set)")),
    ("malloc/free (libc)", re.compile(r"^(_int_|malloc|free|cfree|realloc|__libc_malloc|__libc_free)")),
]

INCLUSIVE = [
    ("chan_run_all", "the relay: every channel pumped (broker/channel.c)"),
    ("chan_fill", "  read from the target channel + hand to the recorder"),
    ("recorder_data", "    recorder hook (broker/recorder.c)"),
    ("rec_writer_data", "      asciicast writer (recordings/writer.c)"),
    ("rec_text_feed", "        search-index text extraction (recordings/text.c)"),
    ("w_chunk", "        event encoding: JSON escape attempt, then base64"),
    ("rec_esc_json", "          JSON escaping"),
    ("w_b64_two", "          base64"),
    ("w_drain", "        buffer drain: hash + write(2) of the .cast file"),
    ("SHA256_Update", "          SHA-256 + HMAC-SHA256 of every recording byte"),
    ("file_write", "          write(2) of the recording"),
    ("chan_flush", "  write to the engineer's channel (encrypt + send)"),
    ("ssh_event_dopoll", "libssh event loop: socket reads, decrypt, packet handling"),
    ("EVP_EncryptUpdate", "cipher: encrypt (EVP_EncryptUpdate)"),
    ("EVP_DecryptUpdate", "cipher: decrypt (EVP_DecryptUpdate)"),
]


def section_stream(args):
    say("== stream: gateway session child relaying zeros (perf, DWARF call graphs, %d s) ==" % args.secs)
    p, child = start_stream("gw", args.big)
    data = os.path.join(DIR, "gw-stream.perf")
    t0 = time.monotonic()
    try:
        r = run(["perf", "record", "-F", str(args.freq), "--call-graph", "dwarf,8192", "-p",
                 str(child), "-o", data, "--", "sleep", str(args.secs)], timeout=args.secs + 120)
    finally:
        stop(p)
    if r.returncode != 0:
        say("perf record failed: %s" % r.stderr.strip()[-300:])
        return
    rows = perf_self(data)
    total = sum(n for n, _, _ in rows) or 1
    say("session child pid %d: %d samples at %d Hz in %d s = %.0f%% of one core busy" % (
        child, total, args.freq, args.secs, 100.0 * total / (args.freq * args.secs)))
    by_dso = collections.Counter()
    for n, dso, _ in rows:
        by_dso[dso] += n
    say("")
    say("self time by object:")
    for dso, n in by_dso.most_common(8):
        say("  %5.1f%%  %s" % (100.0 * n / total, dso))
    crypto = collections.Counter()
    crypto_addrs = collections.Counter()
    cats = collections.Counter()
    syms = collections.Counter()
    for n, dso, sym in rows:
        if dso.startswith("libcrypto"):
            if sym.startswith("0x"):
                crypto_addrs[int(sym, 16)] += n
            else:
                crypto["libcrypto " + sym] += n
            continue
        if dso.startswith("[kernel"):
            cats["kernel (syscalls: socket I/O, page cache writes of the recording)"] += n
            continue
        if dso.startswith("libsqlite"):
            cats["SQLite (store, search index)"] += n
            continue
        if dso.startswith("libssh"):
            cats["libssh internals (packets, buffers)"] += n
            continue
        syms["%s %s" % (dso, sym)] += n
        for label, rx in SELF_CATEGORIES:
            if rx.search(sym):
                cats[label] += n
                break
        else:
            cats["other: %s" % dso] += n
    for k, v in classify_crypto(crypto_addrs, libcrypto_path()).items():
        crypto[k] += v
    for k, v in crypto.items():
        cats["libcrypto: " + k.replace("libcrypto ", "")] += v
    say("")
    say("self time by what it is for:")
    for label, n in cats.most_common(16):
        say("  %5.1f%%  %s" % (100.0 * n / total, label))
    say("")
    say("top functions (self):")
    for s, n in syms.most_common(10):
        say("  %5.1f%%  %s" % (100.0 * n / total, s))
    ch = perf_children(data)
    say("")
    say("inclusive time (function and what it calls):")
    for sym, label in INCLUSIVE:
        v = ch.get(sym) or ch.get(sym + " (inlined)")
        if v:
            say("  %5.1f%%  %-22s %s" % (v[0], sym, label))
    # the same stream, everyone on the machine
    for mode in ("gw", "jump"):
        p, _ = start_stream(mode, args.big)
        sysdata = os.path.join(DIR, "sys-%s.perf" % mode)
        try:
            run(["perf", "record", "-a", "-F", "499", "-o", sysdata, "--", "sleep", "3"], timeout=120)
        finally:
            stop(p)
        say("")
        say("all CPUs during the %s stream (%% of %d CPUs' samples; ssh = client, sshd = target%s):" % (
            bench.LABELS[mode], os.cpu_count(), " and jump host" if mode == "jump" else ""))
        for pct, comm in perf_comm(sysdata)[:7]:
            say("  %5.1f%%  %s" % (pct, comm))
    say("")


def section_syscalls(args):
    say("== syscalls of the session child during the stream (strace, %d s) ==" % min(args.secs, 3))
    if not shutil.which("strace"):
        say("strace not installed; skipped")
        return
    p, child = start_stream("gw", args.big)
    try:
        r = run(["timeout", str(min(args.secs, 3)), "strace", "-c", "-p", str(child)], timeout=60)
        t = run(["timeout", "1", "strace", "-p", str(child), "-e",
                 "trace=recvfrom,sendto,read,write,poll", "-s", "0"], timeout=60)
    finally:
        stop(p)
    sizes = collections.defaultdict(collections.Counter)
    fds = collections.defaultdict(int)
    for line in t.stderr.splitlines():
        m = re.match(r"^(recvfrom|sendto|read|write)\((\d+),.*\)\s+=\s+(\d+)", line)
        if m:
            sizes[(m.group(1), m.group(2))][int(m.group(3))] += 1
            fds[(m.group(1), m.group(2))] += int(m.group(3))
        elif line.startswith("poll("):
            sizes[("poll", "-")][0] += 1
    # the client's socket is the one most bytes are sent to
    relayed = max([b for (c, _), b in fds.items() if c == "sendto"] or [1])
    say("in 1 s of tracing, %.1f MiB went to the engineer's socket; per MiB relayed:" % (relayed / MiB))
    for (call, fd), c in sorted(sizes.items(), key=lambda x: -sum(x[1].values())):
        n = sum(c.values())
        common = ", ".join("%d B x%d" % (s, k) for s, k in c.most_common(3))
        say("  %-9s fd %-3s %7.0f calls/MiB   sizes: %s" % (call, fd, n / (relayed / MiB), common))
    say("strace -c (syscall time of the child; strace inflates it):")
    for line in r.stderr.splitlines():
        if re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+", line) or line.startswith("% time"):
            say("  " + line.rstrip())
    say("")


def section_transfer(args):
    say("== sftp download of %d MiB of incompressible data through the gateway ==" % args.transfer_mib)
    src = os.path.join(DIR, "bench-src-big.bin")
    bench.make_file(src, args.transfer_mib * MiB)
    db = os.path.join(bench.STATE_DIR, "drawbridge.db")

    def dbsize():
        return sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))

    size0 = dbsize()
    batch = os.path.join(DIR, "bench-sftp-batch")
    dst = os.path.join(DIR, "bench-download.bin")
    with open(batch, "w") as f:
        f.write("get %s %s\n" % (src, dst))
    before = set(bench.gw_session_pids())
    t0 = time.monotonic()
    p = subprocess.Popen(["sftp", "-F", bench.SSH_CONFIG, "-q", "-b", batch, "gw"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = new_child(before)
    time.sleep(0.5)
    data = os.path.join(DIR, "gw-sftp.perf")
    if perf_ok():
        run(["perf", "record", "-F", str(args.freq), "-g", "-p", str(child), "-o", data, "--",
             "sleep", "3"], timeout=120)
    try:
        p.wait(600)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    wall = time.monotonic() - t0
    if os.path.exists(dst):
        os.unlink(dst)
    say("took %.1f s (%.1f MiB/s including setup); the store (drawbridge.db + WAL) grew by %.1f MiB" % (
        wall, args.transfer_mib / wall, (dbsize() - size0) / MiB))
    if os.path.exists(data):
        rows = perf_self(data)
        total = sum(n for n, _, _ in rows) or 1
        by_dso = collections.Counter()
        syms = collections.Counter()
        for n, dso, sym in rows:
            by_dso[dso] += n
            if not sym.startswith("0x"):
                syms["%s %s" % (dso, sym)] += n
        say("session child, 3 s of it, self time by object:")
        for dso, n in by_dso.most_common(6):
            say("  %5.1f%%  %s" % (100.0 * n / total, dso))
        say("top named functions:")
        for s, n in syms.most_common(6):
            say("  %5.1f%%  %s" % (100.0 * n / total, s))
    bench.gw_prune_recordings()
    say("")


# ---- memory of an idle session ---------------------------------------------------------

def smaps_breakdown(pid):
    rows, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                fs = line.split()
                cur = {"range": fs[0], "name": fs[5] if len(fs) > 5 else "[anon]", "pss": 0, "dirty": 0}
                rows.append(cur)
            elif line.startswith("Pss:"):
                cur["pss"] = int(line.split()[1])
            elif line.startswith("Private_Dirty:"):
                cur["dirty"] = int(line.split()[1])
    return rows


def section_memory(args):
    n = args.mem_sessions
    say("== memory: %d idle interactive sessions through the gateway ==" % n)
    clients = []
    try:
        if not bench.open_sessions("gw", clients, n, 16, 120):
            say("could not open the sessions")
            return
        bench.drain(clients, 3)
        pids = bench.gw_session_pids()
        per = [bench.pss_kib(p) or 0 for p in pids]
        say("PSS per session child: median %.0f KiB (min %d, max %d) over %d children" % (
            statistics.median(per), min(per), max(per), len(per)))
        pid = pids[len(pids) // 2]
        agg = collections.defaultdict(lambda: [0, 0])
        for r in smaps_breakdown(pid):
            k = os.path.basename(r["name"]) if r["name"].startswith("/") else r["name"]
            agg[k][0] += r["pss"]
            agg[k][1] += r["dirty"]
        say("one child (pid %d), PSS by mapping (KiB; private dirty in brackets):" % pid)
        for k, (pss, dirty) in sorted(agg.items(), key=lambda x: -x[1][0])[:10]:
            say("  %6d (%6d)  %s" % (pss, dirty, k))
        r = run(["nm", "-S", "--size-sort", "-C", os.environ["DRAWBRIDGE_BIN"]])
        big = [l.split() for l in r.stdout.splitlines() if len(l.split()) == 4 and l.split()[2] in "bBdD"]
        say("largest static data of the binary (zero-filled pages count once written):")
        for addr, size, kind, name in big[-5:][::-1]:
            say("  %7d KiB  %s (%s)" % (int(size, 16) // 1024, name, "bss" if kind in "bB" else "data"))
    finally:
        bench.close_sessions("gw", clients)
    say("")


# ---- connection setup --------------------------------------------------------------------

LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z drawbridge\[(\d+)\] \w+ (\S+)")


def log_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def section_setup(args):
    say("== connection setup: `ssh gw true` (%d connections, phases from the gateway's log) ==" % args.setup_n)
    gwlog = os.path.join(DIR, "gw.log")
    phases = collections.defaultdict(list)
    for i in range(args.setup_n):
        off = os.path.getsize(gwlog)
        t0 = time.time()
        bench.timed(bench.ssh_argv("gw") + ["true"], "ssh gw true")
        t1 = time.time()
        time.sleep(0.3)
        ev = {}
        with open(gwlog) as f:
            f.seek(off)
            for line in f:
                m = LOG_RE.match(line)
                if m and m.group(3) not in ev:
                    ev[m.group(3)] = log_time(m.group(1))
        if not all(k in ev for k in ("auth.ok", "session.start", "session.end")):
            continue
        phases["client start -> authenticated (TCP, key exchange, LDAP lookup, audit row)"].append(
            (ev["auth.ok"] - t0) * 1000)
        phases["authenticated -> target session started (channel + exec request, upstream "
               "TCP, key exchange, auth, session row, recording file, channel open, exec)"].append(
            (ev["session.start"] - ev["auth.ok"]) * 1000)
        phases["target session started -> client exited (`true` runs on the target, exit "
               "status, close)"].append((t1 - ev["session.start"]) * 1000)
        phases["total wall time"].append((t1 - t0) * 1000)
    for k, v in phases.items():
        say("  %6.0f ms (%.0f..%.0f)  %s" % (statistics.median(v), min(v), max(v), k))
    say("(log times have 1 ms resolution)")
    if not shutil.which("strace"):
        return
    say("")
    say("one traced connection (strace -f of the listener: every syscall is slower, the order is real):")
    trace = os.path.join(DIR, "setup.strace")
    st = subprocess.Popen(["strace", "-f", "-ttt", "-p", str(GW_PID), "-o", trace, "-s", "0", "-e",
                           "trace=accept4,connect,close,sendto,recvfrom,read,write,openat,fdatasync,fsync,clone"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    t0 = time.time()
    bench.timed(bench.ssh_argv("gw") + ["true"], "ssh gw true")
    t1 = time.time()
    time.sleep(0.5)
    st.send_signal(signal.SIGINT)
    try:
        st.wait(10)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait()
    analyse_setup_trace(trace, t0, t1)
    say("")


def analyse_setup_trace(path, t0, t1):
    lines = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\d+)\s+([\d.]+)\s+(.*)$", line)
            if m:
                lines.append((int(m.group(1)), float(m.group(2)), m.group(3)))
    child = None
    for pid, t, call in lines:
        m = re.match(r"clone\(.*\)\s+=\s+(\d+)", call)
        if pid == GW_PID and m:
            child = int(m.group(1))
            break
    if child is None:
        say("  (no session child in the trace)")
        return
    ldap_port = re.search(r"ldap://127\.0\.0\.1:(\d+)", open(os.environ["CFG"]).read()).group(1)
    target_port = os.environ["TARGET_PORT"]
    fd_role = {}
    marks = {}
    last_send = {}
    last_recv = {}
    stalls = []
    client_waits = []
    for pid, t, call in lines:
        if pid == GW_PID and call.startswith("accept4"):
            marks.setdefault("TCP accepted", t)
            m = re.search(r"=\s+(\d+)$", call)
            if m:
                fd_role[m.group(1)] = "engineer"
        if pid != child:
            continue
        m = re.match(r"close\((\d+)\)", call)
        if m and fd_role.get(m.group(1)) in ("LDAP", "target"):
            del fd_role[m.group(1)]
            continue
        m = re.match(r"connect\((\d+), .*htons\((\d+)\)", call)
        if m:
            role = "LDAP" if m.group(2) == ldap_port else "target" if m.group(2) == target_port else None
            if role:
                fd_role[m.group(1)] = role
                marks.setdefault("LDAP: connect (first auth request with a key)" if role == "LDAP"
                                 else "target: TCP connect (upstream leg starts)", t)
            continue
        m = re.match(r"(sendto|recvfrom|read|write)\((\d+),.*=\s+(\d+)$", call)
        if not m or m.group(2) not in fd_role:
            if call.startswith(("fsync", "fdatasync")):
                if "target: TCP connect (upstream leg starts)" not in marks:
                    marks["store: login audited (last sync)"] = t
                elif "recording file created" not in marks:
                    marks["store: session row written (last sync)"] = t
            if ".cast" in call and call.startswith("openat"):
                marks.setdefault("recording file created", t)
            continue
        role = fd_role[m.group(2)]
        n = int(m.group(3))
        sending = m.group(1) in ("sendto", "write")
        if role == "LDAP":
            if sending:
                marks.setdefault("LDAP: first request sent", t)
            else:
                marks["LDAP: last reply read"] = t
            continue
        if sending:
            prev = last_send.get(role)
            last_send[role] = (t, n, prev)
            last_recv.pop(role, None)
            continue
        ls = last_send.pop(role, None)
        # our last two writes left within 2 ms of each other and the answer
        # took >= 30 ms: the second write sat behind Nagle until the peer's
        # delayed ACK of the first
        if ls and ls[2] and ls[0] - ls[2][0] < 0.002 and t - ls[0] >= 0.030:
            stalls.append((role, (t - ls[0]) * 1000, ls[2][1], ls[1]))
        lr = last_recv.get(role)
        # the client's KEXINIT (>= 1000 bytes) and then, >= 30 ms later with
        # nothing sent by us, a small key exchange message: the client's
        # second write waited for our delayed ACK
        if role == "engineer" and lr and lr[1] >= 1000 and n < 200 and t - lr[0] >= 0.030:
            client_waits.append(((t - lr[0]) * 1000, lr[1], n))
        last_recv[role] = (t, n)
        if role == "target" and "target: first bytes (version)" not in marks:
            marks["target: first bytes (version)"] = t
    order = sorted(marks.items(), key=lambda x: x[1])
    prev = t0
    say("  %7s %7s  %s" % ("at ms", "+ms", "event"))
    say("  %7.1f %7s  client started" % (0.0, ""))
    for name, t in order:
        say("  %7.1f %7.1f  %s" % ((t - t0) * 1000, (t - prev) * 1000, name))
        prev = t
    say("  %7.1f %7.1f  client exited" % ((t1 - t0) * 1000, (t1 - prev) * 1000))
    if stalls or client_waits:
        say("  waits of >= 30 ms that look like Nagle + delayed ACK (a second small write held "
            "until the first one is ACKed):")
        for role, ms, a, b in stalls:
            say("    %-8s socket: %3.0f ms for an answer after our back-to-back writes of %d and %d bytes"
                % (role, ms, a, b))
        for ms, a, b in client_waits:
            say("    engineer socket: %3.0f ms between the client's %d-byte and %d-byte key exchange "
                "messages (the client's second write waited for our ACK)" % (ms, a, b))
        say("  together %.0f ms of %.0f ms" % (sum(s[1] for s in stalls) + sum(w[0] for w in client_waits),
                                               (t1 - t0) * 1000))


# ---- callgrind (no perf here, or asked for) ----------------------------------------------

def section_callgrind(args):
    say("== callgrind: the gateway under valgrind for a %d MiB stream ==" % args.callgrind_mib)
    if not shutil.which("valgrind"):
        say("valgrind not installed; skipped (apt-get install valgrind)")
        return
    # The running gateway stops; a second one runs under valgrind on the same config.
    cfg = os.environ["CFG"]
    os.kill(GW_PID, signal.SIGTERM)
    bench.wait_until(lambda: not os.path.exists("/proc/%d" % GW_PID) or
                     open("/proc/%d/stat" % GW_PID).read().split()[2] == "Z", 15)
    outpat = os.path.join(DIR, "callgrind.out.%p")
    vg = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outpat,
                           os.environ["DRAWBRIDGE_BIN"], "serve", "-c", cfg, "-f"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(DIR, "gw-valgrind.log"), "w"), start_new_session=True)
    port = int(os.environ["GW_PORT"])
    ok = bench.wait_until(lambda: subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % port],
                                                 capture_output=True).returncode == 0, 60, 0.5)
    if not ok:
        say("the gateway did not start under valgrind")
        vg.kill()
        vg.wait()
        return
    try:
        n = args.callgrind_mib * MiB
        p = subprocess.run(bench.ssh_argv("gw") + ["head -c %d /dev/zero" % n], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1200)
        say("stream exit status %d" % p.returncode)
        time.sleep(2)
    finally:
        vg.send_signal(signal.SIGTERM)
        try:
            vg.wait(60)
        except subprocess.TimeoutExpired:
            vg.kill()
            vg.wait()
    files = [os.path.join(DIR, f) for f in os.listdir(DIR) if f.startswith("callgrind.out.")]
    if not files:
        say("no callgrind output")
        return
    biggest = max(files, key=os.path.getsize)  # the session child did the work
    r = run(["callgrind_annotate", "--inclusive=no", biggest], timeout=300)
    say("callgrind_annotate (self instructions), %s:" % os.path.basename(biggest))
    k = 0
    lib = libcrypto_path()
    for line in r.stdout.splitlines():
        if re.match(r"^\s*[\d,]+ \(\s*[\d.]+%\)", line):
            m = re.search(r"\?\?\?:0x([0-9a-f]+) \[\S*libcrypto", line)
            if m and lib:
                # no symbols: name the algorithm by the instructions at the function
                a = int(m.group(1), 16)
                d = run(["objdump", "-d", "--no-show-raw-insn", "--start-address=%d" % a,
                         "--stop-address=%d" % (a + 2048), lib]).stdout
                name = next((label for label, rx in CRYPTO_SIGS if rx.search(d)), "libcrypto")
                line = line.replace("???:0x" + m.group(1), "libcrypto %s @0x%s" % (name, m.group(1)))
            say("  " + line.strip()[:150])
            k += 1
            if k >= 25:
                break
    say("(the gateway of this environment was stopped for this; the environment ends now)")
    say("")


def main():
    ap = argparse.ArgumentParser(prog="tests/bench/profile")
    ap.add_argument("--only", default="stream,syscalls,transfer,memory,setup")
    ap.add_argument("--mem-sessions", type=int, default=20)
    ap.add_argument("--secs", type=int, default=4)
    ap.add_argument("--freq", type=int, default=999)
    ap.add_argument("--transfer-mib", type=int, default=256)
    ap.add_argument("--setup-n", type=int, default=10)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--callgrind-mib", type=int, default=32)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.big = 64 * 1024 * MiB  # longer than any profile window; stopped when done
    only = args.only.split(",")
    have_perf = perf_ok()
    if not have_perf:
        say("perf cannot count instructions here (perf stat -e instructions true failed): "
            "perf sections skipped, callgrind instead")
    if have_perf and "stream" in only:
        section_stream(args)
    if "syscalls" in only:
        section_syscalls(args)
    if "transfer" in only:
        section_transfer(args)
    if "memory" in only:
        section_memory(args)
    if "setup" in only:
        section_setup(args)
    if args.callgrind or not have_perf:
        section_callgrind(args)
    with open(args.out, "w") as f:
        f.write("\n".join(OUT) + "\n")
    bench.log("report written to %s" % args.out)


if __name__ == "__main__":
    try:
        main()
    except bench.BenchError as e:
        bench.log("FAILED: %s" % e)
        sys.exit(2)
