#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drawbridge benchmark: the measurements, the table and its JSON.

Run by tests/bench/run, which starts the environment (slapd, the target sshd,
a jump sshd, the gateway) and passes it here in the environment (bench.env).
Three paths to the same target sshd, all with the same OpenSSH client and one
ssh_config (BENCH_SSH_CONFIG):

    direct   ssh to the target sshd
    jump     ProxyJump through a second sshd (the yardstick: two SSH legs)
    gw       alice+staging-1 through the gateway (LDAP key auth, recording on)

Each figure is the median of --runs runs (min..max alongside); the paths are
interleaved within a run, in an order that turns by one path from run to run
(a path's place in the run can move its figure by a few per cent on a busy
machine, so none is always first or last), and each gateway ratio is taken per
run against the OpenSSH figure of the same run, then summarised the same way.
"""
import argparse
import datetime
import json
import os
import platform
import pty
import random
import re
import selectors
import signal
import statistics
import subprocess
import sys
import time

MiB = 1 << 20
HOSTS = {"direct": "direct", "jump": "viajump", "gw": "gw"}
LABELS = {"direct": "direct", "jump": "ProxyJump", "gw": "gateway"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

ENV = os.environ
DIR = ENV["DIR"]
SSH_CONFIG = ENV["BENCH_SSH_CONFIG"]
STATE_DIR = ENV["BENCH_STATE_DIR"]
REPO_DIR = ENV["REPO_DIR"]


def log(msg):
    sys.stderr.write("[bench] %s\n" % msg)
    sys.stderr.flush()


class BenchError(Exception):
    pass


def in_turn(modes, run):
    """modes in the order of run number run: turned by one place per run."""
    modes = list(modes)
    k = run % len(modes)
    return modes[k:] + modes[:k]


def ssh_argv(mode, *extra):
    return ["ssh", "-F", SSH_CONFIG, *extra, HOSTS.get(mode, mode)]


# ---- statistics ---------------------------------------------------------------


def summary(samples):
    xs = [x for x in samples if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs),
            "samples": xs}


def percentile(xs, p):
    """Nearest-rank percentile of a list (p in 0..100)."""
    s = sorted(xs)
    if not s:
        return None
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def ratios(num, den):
    return [a / b if a is not None and b else None for a, b in zip(num, den)]


# ---- processes ------------------------------------------------------------------


def proc_table():
    """pid -> (ppid, comm, utime+stime ticks) for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                s = f.read()
        except OSError:
            continue
        r = s.rfind(")")
        comm = s[s.find("(") + 1:r]
        f = s[r + 2:].split()
        out[int(name)] = (int(f[1]), comm, int(f[11]) + int(f[12]))
    return out


def descendants(root, table=None):
    t = table if table is not None else proc_table()
    kids = {}
    for pid, (ppid, _, _) in t.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], list(kids.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def gw_session_pids():
    """The gateway's per-connection children."""
    t = proc_table()
    root = int(ENV["GW_PID"])
    return [p for p, (pp, _, _) in t.items() if pp == root]


def sshd_session_pids(root_env):
    """Every sshd process below a listener (a session's monitor and its child)."""
    t = proc_table()
    return [p for p in descendants(int(ENV[root_env]), t) if t[p][1] == "sshd"]


def cpu_ticks(pids):
    t = proc_table()
    return sum(t[p][2] for p in pids if p in t)


def wait_until(pred, secs, step=0.2):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# ---- recordings ---------------------------------------------------------------------


def recordings():
    out = {}
    base = os.path.join(STATE_DIR, "recordings")
    for d, _, files in os.walk(base):
        for f in files:
            if f.endswith(".cast"):
                out[os.path.join(d, f)] = True
    return set(out)


END_RE = re.compile(rb'"e", "out=(\d+) in=(\d+)"')


def sealed_recording(path, secs=20):
    """(size, out, in) once the recording has its end event; None if it never does."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                f.seek(max(0, size - 4096))
                m = END_RE.search(f.read())
            if m:
                return size, int(m.group(1)), int(m.group(2))
        except OSError:
            pass
        time.sleep(0.1)
    return None


def new_recording(before, secs=20):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        new = sorted(recordings() - before)
        if new:
            return new[-1] if len(new) == 1 else max(new, key=os.path.getmtime)
        time.sleep(0.1)
    return None


# ---- throughput: a stdout stream ------------------------------------------------------

def stream_once(mode, nbytes, source):
    """MiB/s of one stream, timed from when the target starts writing until the
    client has it all and exits (connection setup is not part of it)."""
    if source == "zero":
        gen = "head -c %d /dev/zero" % nbytes
    else:
        gen = ("openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f "
               "-iv 0f0e0d0c0b0a09080706050403020100 </dev/zero 2>/dev/null | head -c %d" % nbytes)
    cmd = "date +%%s%%N >&2; exec %s" % gen if source == "zero" else "date +%%s%%N >&2; %s" % gen
    before = recordings() if mode == "gw" else None
    p = subprocess.run(ssh_argv(mode) + [cmd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=600)
    end = time.time_ns()
    if p.returncode != 0:
        raise BenchError("%s stream: ssh exited %d: %s" % (mode, p.returncode, p.stderr[-500:]))
    try:
        start = int(p.stderr.split(b"\n")[0])
    except ValueError:
        raise BenchError("%s stream: no start time on stderr: %r" % (mode, p.stderr[:200]))
    rate = nbytes / MiB / ((end - start) / 1e9)
    rec = None
    if mode == "gw":
        path = new_recording(before)
        info = sealed_recording(path) if path else None
        if info is None:
            raise BenchError("gateway stream: no sealed recording found")
        size, out, _ = info
        if out != nbytes + len(p.stderr):  # stderr (the start time) is output too
            raise BenchError("gateway stream: the recording saw %d of %d bytes" % (
                out, nbytes + len(p.stderr)))
        rec = size / nbytes
        # Measured; not needed any more (and 700 MB a run otherwise).
        os.unlink(path)
    return rate, rec


def bench_stream(runs, nbytes, source):
    res = {m: [] for m in HOSTS}
    rec = []
    for i in range(runs):
        for m in in_turn(HOSTS, i):
            rate, r = stream_once(m, nbytes, source)
            res[m].append(rate)
            if r is not None:
                rec.append(r)
        log("stream %s run %d/%d: direct %.0f, ProxyJump %.0f, gateway %.0f MiB/s" % (
            source, i + 1, runs, res["direct"][-1], res["jump"][-1], res["gw"][-1]))
    return res, rec


# ---- throughput: scp upload, sftp download -------------------------------------------------

def make_file(path, nbytes):
    """Incompressible, deterministic content (AES-CTR keystream)."""
    if os.path.exists(path) and os.path.getsize(path) == nbytes:
        return
    with open(path, "wb") as f:
        enc = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K",
                                "000102030405060708090a0b0c0d0e0f", "-iv",
                                "0f0e0d0c0b0a09080706050403020100"],
                               stdin=open("/dev/zero", "rb"), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        left = nbytes
        while left > 0:
            b = enc.stdout.read(min(left, 4 * MiB))
            if not b:
                break
            f.write(b)
            left -= len(b)
        enc.kill()
        enc.wait()
    if os.path.getsize(path) != nbytes:
        raise BenchError("could not make %s" % path)


def timed(argv, what):
    t0 = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=600)
    t = time.monotonic() - t0
    if p.returncode != 0:
        raise BenchError("%s exited %d: %s" % (what, p.returncode, p.stderr[-500:].decode(errors="replace")))
    return t


def scp_up(mode, src, dst):
    return timed(["scp", "-F", SSH_CONFIG, "-q", src, "%s:%s" % (HOSTS[mode], dst)], "scp " + mode)


def sftp_get(mode, src, dst):
    batch = os.path.join(DIR, "bench-sftp-batch")
    with open(batch, "w") as f:
        f.write("get %s %s\n" % (src, dst))
    return timed(["sftp", "-F", SSH_CONFIG, "-q", "-b", batch, HOSTS[mode]], "sftp " + mode)


def bench_transfer(runs, nbytes, modes):
    """MiB/s of the transfer itself: nbytes over (time of the big transfer -
    time of a 1 KiB one on the same path), so that connection setup, the sftp
    subsystem's start and teardown cancel out."""
    big = os.path.join(DIR, "bench-src-big.bin")
    tiny = os.path.join(DIR, "bench-src-tiny.bin")
    up = os.path.join(DIR, "bench-upload.bin")
    down = os.path.join(DIR, "bench-download.bin")
    make_file(big, nbytes)
    make_file(tiny, 1024)
    res = {"scp": {m: [] for m in modes}, "sftp": {m: [] for m in modes}}
    wall = {"scp": {m: [] for m in modes}, "sftp": {m: [] for m in modes}}
    for i in range(runs):
        for m in in_turn(modes, i):
            t_tiny = scp_up(m, tiny, up)
            t_big = scp_up(m, big, up)
            if os.path.getsize(up) != nbytes:
                raise BenchError("scp %s: the upload has %d bytes" % (m, os.path.getsize(up)))
            os.unlink(up)
            res["scp"][m].append(nbytes / MiB / (t_big - t_tiny) if t_big > t_tiny else None)
            wall["scp"][m].append(t_big)
            t_tiny = sftp_get(m, tiny, down)
            t_big = sftp_get(m, big, down)
            if os.path.getsize(down) != nbytes:
                raise BenchError("sftp %s: the download has %d bytes" % (m, os.path.getsize(down)))
            os.unlink(down)
            res["sftp"][m].append(nbytes / MiB / (t_big - t_tiny) if t_big > t_tiny else None)
            wall["sftp"][m].append(t_big)
        gw_prune_recordings()
        log("transfer run %d/%d: scp %s; sftp %s" % (
            i + 1, runs,
            ", ".join("%s %.0f" % (LABELS[m], res["scp"][m][-1] or 0) for m in modes),
            ", ".join("%s %.0f" % (LABELS[m], res["sftp"][m][-1] or 0) for m in modes)))
    return res, wall


def gw_prune_recordings():
    """Deletes the sealed recordings of bulk transfers (hundreds of MB each)."""
    for p in recordings():
        try:
            if os.path.getsize(p) > 16 * MiB and sealed_recording(p, secs=0.5):
                os.unlink(p)
        except OSError:
            pass


# ---- connection setup ----------------------------------------------------------------------

def bench_setup(runs):
    """ms of `ssh HOST true` on each path, and through the gateway to a key-mode
    target (gwkey): the gateway's own path logs in with a per-session
    certificate (a key made, a signer's round trip and audit row), gwkey with
    the static key, to the same kind of sshd."""
    modes = list(HOSTS) + ["gwkey"]
    res = {m: [] for m in modes}
    for i in range(runs):
        for m in in_turn(modes, i):
            res[m].append(timed(ssh_argv(m) + ["true"], "ssh %s true" % m) * 1000)
        log("setup run %d/%d: direct %.0f, ProxyJump %.0f, gateway %.0f (key mode %.0f) ms" % (
            i + 1, runs, res["direct"][-1], res["jump"][-1], res["gw"][-1], res["gwkey"][-1]))
    return res


# ---- a client on a pseudo-terminal ---------------------------------------------------------

class PtyClient:
    """ssh -tt on a pty of our own (as a terminal user would run it)."""

    def __init__(self, argv, rows=24, cols=80):
        import fcntl
        import struct
        import termios
        pid, fd = pty.fork()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.buf = b""
        self.pos = 0
        self.done = False
        os.set_blocking(fd, False)

    def read_some(self):
        try:
            d = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            self.done = True
            return False
        if not d:
            self.done = True
            return False
        self.buf += d
        return True

    def send(self, data):
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view and time.monotonic() < deadline:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                time.sleep(0.001)

    def expect(self, rx, secs):
        """Waits for rx after what was consumed; True when found."""
        deadline = time.monotonic() + secs
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return True
            left = deadline - time.monotonic()
            if left <= 0 or self.done:
                return False
            sel = selectors.DefaultSelector()
            sel.register(self.fd, selectors.EVENT_READ)
            if sel.select(min(left, 0.5)):
                self.read_some()
            sel.close()

    def quiet(self, idle, secs):
        """Reads until nothing came for `idle` seconds (at most secs)."""
        deadline = time.monotonic() + secs
        last = time.monotonic()
        while time.monotonic() < deadline and not self.done:
            sel = selectors.DefaultSelector()
            sel.register(self.fd, selectors.EVENT_READ)
            if sel.select(0.05):
                self.read_some()
                last = time.monotonic()
            sel.close()
            if time.monotonic() - last >= idle:
                return True
        return False

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def reap(self, secs=5):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == self.pid:
                return
            time.sleep(0.02)
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


# ---- keystroke echo latency --------------------------------------------------------------

def echo_once(mode, keys, warmup):
    """Write one key, time until its echo arrives.  The target's tty echoes
    (non-canonical, echo on) and cat takes the input, so what is timed is the
    path both ways and nothing on the target but sshd and its pty."""
    c = PtyClient(ssh_argv(mode, "-tt") + ["stty -icanon echo; echo READY-$((40+2)); exec cat >/dev/null"])
    try:
        if not c.expect(re.compile(rb"READY-42"), 30):
            raise BenchError("echo %s: no shell: %r" % (mode, c.buf[-300:]))
        c.quiet(0.2, 3)
        rng = random.Random(7)
        lat = []
        sel = selectors.DefaultSelector()
        sel.register(c.fd, selectors.EVENT_READ)
        for k in range(warmup + keys):
            ch = b"abcdefghijklmnopqrstuvwxyz"[k % 26:k % 26 + 1]
            c.pos = len(c.buf)
            t0 = time.perf_counter_ns()
            os.write(c.fd, ch)
            deadline = time.monotonic() + 5
            while c.buf.find(ch, c.pos) < 0:
                if time.monotonic() > deadline or c.done:
                    raise BenchError("echo %s: key %d not echoed" % (mode, k))
                if sel.select(1):
                    c.read_some()
            t1 = time.perf_counter_ns()
            if k >= warmup:
                lat.append((t1 - t0) / 1e6)
            # a typist's pace: 8 to 40 ms between keys
            time.sleep(rng.uniform(0.008, 0.040))
        sel.close()
        return lat
    finally:
        c.close()
        c.reap()


def bench_echo(runs, keys):
    p50 = {m: [] for m in HOSTS}
    p99 = {m: [] for m in HOSTS}
    for i in range(runs):
        for m in in_turn(HOSTS, i):
            lat = echo_once(m, keys, 10)
            p50[m].append(percentile(lat, 50))
            p99[m].append(percentile(lat, 99))
        log("echo run %d/%d: p50/p99 ms direct %.2f/%.2f, ProxyJump %.2f/%.2f, gateway %.2f/%.2f" % (
            i + 1, runs, p50["direct"][-1], p99["direct"][-1], p50["jump"][-1], p99["jump"][-1],
            p50["gw"][-1], p99["gw"][-1]))
    return p50, p99


# ---- memory per idle interactive session ------------------------------------------------------

def session_pids(mode):
    if mode == "gw":
        return gw_session_pids()
    if mode == "jump":
        return sshd_session_pids("JUMP_PID")
    return sshd_session_pids("TARGET_PID")


def pss_per_session(mode, n):
    pids = session_pids(mode)
    vals = [pss_kib(p) for p in pids]
    total = sum(v for v in vals if v is not None)
    return total / 1024.0 / n, len(pids)


def open_sessions(mode, clients, upto, parallel, secs):
    """Opens interactive shells until there are `upto`; each is ready when
    its shell ran a command.  Returns False if the ramp did not finish."""
    rx = re.compile(rb"ready-42\r")
    pending = {}
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + secs
    ok = True
    while (len(clients) < upto or pending) and time.monotonic() < deadline:
        while len(clients) < upto and len(pending) < parallel:
            c = PtyClient(ssh_argv(mode, "-tt"))
            c.send(b"echo ready-$((40+2))\r")
            clients.append(c)
            pending[c.fd] = c
            sel.register(c.fd, selectors.EVENT_READ, c)
        for key, _ in sel.select(0.2):
            c = key.data
            c.read_some()
            if rx.search(c.buf):
                c.pos = len(c.buf)
                sel.unregister(c.fd)
                del pending[c.fd]
            elif c.done:
                sel.unregister(c.fd)
                del pending[c.fd]
                ok = False
                log("pss %s: a session ended during the ramp: %r" % (mode, c.buf[-300:]))
    if pending:
        ok = False
        log("pss %s: %d session(s) not ready in %ds" % (mode, len(pending), secs))
    sel.close()
    return ok


def drain(clients, secs):
    """Reads whatever idle sessions print (prompts), so no buffer fills."""
    sel = selectors.DefaultSelector()
    for c in clients:
        if not c.done:
            sel.register(c.fd, selectors.EVENT_READ, c)
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        for key, _ in sel.select(min(0.2, max(0.0, deadline - time.monotonic()))):
            key.data.read_some()
            if key.data.done:
                sel.unregister(key.data.fd)
    sel.close()


def responsive(clients, secs):
    """Runs a command in every session; how many answered."""
    sel = selectors.DefaultSelector()
    want = {}
    for i, c in enumerate(clients):
        if c.done:
            continue
        c.pos = len(c.buf)
        c.send(b"echo alive-$((6*7))-%d\r" % i)
        want[c.fd] = (c, re.compile(rb"alive-42-%d\r" % i))
        sel.register(c.fd, selectors.EVENT_READ, c)
    ok = 0
    deadline = time.monotonic() + secs
    while want and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            c, rx = want[key.fd]
            c.read_some()
            if rx.search(c.buf, c.pos):
                ok += 1
                sel.unregister(c.fd)
                del want[key.fd]
            elif c.done:
                sel.unregister(c.fd)
                del want[key.fd]
    sel.close()
    return ok


def close_sessions(mode, clients):
    for c in clients:
        c.close()
    for c in clients:
        c.reap(2)
    clients.clear()
    # until the server side has let go of them (the gateway also ends its
    # upstream sessions on the target)
    wait_until(lambda: len(session_pids(mode)) == 0 and
               len(sshd_session_pids("TARGET_PID")) == 0, 60)


IDLE_CPU_SECS = 10.0


def pss_run(mode, levels, parallel):
    """One ramp through the levels; per level: PSS per session (MiB), idle CPU
    (% of one core, over IDLE_CPU_SECS) of the per-session processes (and the
    gateway's listener), and how many sessions still answer at the end."""
    clients = []
    out = {}
    try:
        for n in levels:
            if not open_sessions(mode, clients, n, parallel, 60 + n):
                raise BenchError("pss %s: could not open %d sessions" % (mode, n))
            drain(clients, 3)
            pss, nproc = pss_per_session(mode, n)
            # idle CPU of everything that serves them: the session processes and,
            # for the gateway, its listener too (sshd's listener is idle anyway)
            pids = session_pids(mode) + ([int(ENV["GW_PID"])] if mode == "gw" else [])
            t0 = cpu_ticks(pids)
            drain(clients, IDLE_CPU_SECS)
            cpu = (cpu_ticks(pids) - t0) / CLK_TCK / IDLE_CPU_SECS * 100.0
            out[n] = {"pss": pss, "procs": nproc, "cpu": cpu}
        out[levels[-1]]["responsive"] = responsive(clients, 120)
        return out
    finally:
        close_sessions(mode, clients)


def bench_pss(runs, levels, modes, parallel):
    res = {n: {m: {"pss": [], "cpu": [], "procs": [], "responsive": []} for m in modes} for n in levels}
    for i in range(runs):
        for m in in_turn(modes, i):
            r = pss_run(m, levels, parallel)
            for n in levels:
                res[n][m]["pss"].append(r[n]["pss"])
                res[n][m]["cpu"].append(r[n]["cpu"])
                res[n][m]["procs"].append(r[n]["procs"])
                if "responsive" in r[n]:
                    res[n][m]["responsive"].append(r[n]["responsive"])
            log("pss run %d/%d %s: %s" % (i + 1, runs, LABELS[m], "; ".join(
                "%d sessions %.2f MiB/session (%d procs), idle CPU %.1f%%" % (
                    n, r[n]["pss"], r[n]["procs"], r[n]["cpu"]) for n in levels)
                + "; %d/%d answered" % (r[levels[-1]]["responsive"], levels[-1])))
    return res


# ---- recording size ------------------------------------------------------------------------

REDRAW = r"""#!/bin/sh
# A full-screen editor's output: full redraws, then keystroke-sized updates.
e=$(printf '\033')
frame=1
while [ $frame -le 25 ]; do
    printf '%s[?25l%s[H%s[2J' "$e" "$e" "$e"
    row=1
    while [ $row -le 23 ]; do
        if [ $row -le 15 ]; then
            printf '%s[%d;1H%s[33m%3d %s[0m%s[1mstatic%s[0m int frame_%d(struct chan *ch, size_t len)' "$e" $row "$e" $((row + frame)) "$e" "$e" "$e" $row
        else
            printf '%s[%d;1H%s[34m~%s[0m' "$e" $row "$e" "$e"
        fi
        row=$((row + 1))
    done
    printf '%s[24;1H%s[7m"relay.c" %d lines --%d%%--%s[0m%s[?25h' "$e" "$e" $((frame * 40)) $((frame * 4)) "$e" "$e"
    frame=$((frame + 1))
    sleep 0.02
done
i=1
while [ $i -le 60 ]; do
    printf '%s[%d;%dH%s%s[24;60H%d,%d' "$e" 8 $((10 + i)) x "$e" 8 $((10 + i))
    i=$((i + 1))
    sleep 0.01
done
printf '%s[H%s[2J' "$e" "$e"
"""


def type_line(c, text, rng):
    for ch in text:
        c.send(ch.encode() if isinstance(ch, str) else ch)
        time.sleep(rng.uniform(0.03, 0.09))


def recording_once(rng):
    """A scripted interactive session through the gateway; the recording's
    bytes per byte of output (and of output + input)."""
    script = os.path.join(DIR, "bench-redraw.sh")
    with open(script, "w") as f:
        f.write(REDRAW)
    before = recordings()
    c = PtyClient(ssh_argv("gw", "-tt"))
    try:
        c.send(b"echo ready-$((40+2))\r")
        if not c.expect(re.compile(rb"ready-42\r"), 30):
            raise BenchError("recording: no shell: %r" % c.buf[-300:])
        c.quiet(0.3, 5)
        steps = [
            "ls -la /usr/bin | head -n 40\r",
            "cat %s/README.md\r" % REPO_DIR,
            "sh %s\r" % script,
            "echo the quick brown fox jumps\x7f\x7f\x7f\x7f\x7fleaps over the lazy dog\r",
            "git -C %s log --oneline | head -n 20\r" % REPO_DIR,
            "uptime\r",
        ]
        for s in steps:
            type_line(c, s, rng)
            c.quiet(0.5, 20)
        c.send(b"exit\r")
        c.expect(re.compile(rb"logout|exit"), 10)
        c.quiet(0.3, 5)
    finally:
        c.close()
        c.reap()
    path = new_recording(before)
    info = sealed_recording(path) if path else None
    if info is None:
        raise BenchError("recording: no sealed recording of the scripted session")
    size, out, inp = info
    return size / out, size / (out + inp), size, out, inp


def bench_recording(runs):
    per_out, per_all, detail = [], [], []
    rng = random.Random(11)
    for i in range(runs):
        a, b, size, out, inp = recording_once(rng)
        per_out.append(a)
        per_all.append(b)
        detail.append({"file_bytes": size, "out_bytes": out, "in_bytes": inp})
        log("recording run %d/%d: %d bytes for %d out + %d in: %.2f per output byte" % (
            i + 1, runs, size, out, inp, a))
    return per_out, per_all, detail


# ---- the table -------------------------------------------------------------------------------

def fmt(s, prec):
    if s is None:
        return "-"
    f = "%%.%df" % prec
    if s["n"] == 1:
        return f % s["median"]
    return (f + " (" + f + ".." + f + ")") % (s["median"], s["min"], s["max"])


def row(rid, metric, unit, prec, cols, ratio=None, ratio_prec=2, target=None, ok=None, note=None):
    return {"id": rid, "metric": metric, "unit": unit, "prec": prec,
            "direct": summary(cols.get("direct", [])) if cols.get("direct") else None,
            "jump": summary(cols.get("jump", [])) if cols.get("jump") else None,
            "gw": summary(cols.get("gw", [])) if cols.get("gw") else None,
            "ratio": summary(ratio) if ratio else None, "ratio_prec": ratio_prec,
            "target": target, "result": None if ok is None else ("PASS" if ok else "MISS"),
            "note": note}


def judge(r, pred, key="ratio"):
    s = r[key]
    r["result"] = None if s is None else ("PASS" if pred(s["median"]) else "MISS")
    return r


def print_table(rows, meta, out):
    head = ["metric", "unit", "direct", "ProxyJump", "gateway", "gateway ratio", "target", "result"]
    cells = [head]
    for r in rows:
        if r.get("section"):
            cells.append([r["section"]])
            continue
        cells.append([r["metric"], r["unit"], fmt(r["direct"], r["prec"]), fmt(r["jump"], r["prec"]),
                      fmt(r["gw"], r["prec"]),
                      (fmt(r["ratio"], r["ratio_prec"]) + (" " + r["ratio_label"] if r["ratio"] else ""))
                      if r["ratio"] else "-",
                      r["target"] or "-", r["result"] or "-"])
    w = [0] * len(head)
    for c in cells:
        if len(c) == len(head):
            for i, v in enumerate(c):
                w[i] = max(w[i], len(v))
    line = "  ".join("-" * x for x in w)
    out.write("Drawbridge benchmark  %s  commit %s%s  %d CPUs  runs=%d\n" % (
        meta["date"], meta["commit"][:12], "+dirty" if meta["dirty"] else "", meta["cpus"],
        meta["runs"]))
    out.write("each cell: median (min..max) over the runs; the paths take turns going first; "
              "gateway ratio taken per run against OpenSSH in the same run\n")
    out.write("client key exchange / cipher: %s\n" % ", ".join(
        "%s %s/%s" % (LABELS[m], a["kex"], a["cipher"]) for m, a in meta["algorithms"].items()))
    out.write("load average at start %s, at end %s (other work on this machine skews figures)\n" % (
        "/".join(meta["loadavg_start"]), "/".join(meta.get("loadavg_end", ["?"]))))
    for k, c in enumerate(cells):
        if len(c) == 1:
            out.write("%s\n" % c[0])
            continue
        out.write("  ".join(v.ljust(w[i]) if i < 2 or i >= 6 else v.rjust(w[i])
                            for i, v in enumerate(c)).rstrip() + "\n")
        if k == 0:
            out.write(line + "\n")
    misses = [r for r in rows if r.get("result") == "MISS"]
    out.write("%d target(s) met, %d missed\n" % (
        sum(1 for r in rows if r.get("result") == "PASS"), len(misses)))


# ---- main ---------------------------------------------------------------------------------------

def meta_info(args):
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = cmd(["git", "-C", REPO_DIR, "rev-parse", "HEAD"]) or "unknown"
    dirty = bool(cmd(["git", "-C", REPO_DIR, "status", "--porcelain", "--untracked-files=no"]))
    sshv = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    algos = {}
    for m in HOSTS:
        # what each path negotiates with the client (for the gateway: its libssh)
        try:
            err = subprocess.run(ssh_argv(m, "-v") + ["true"], capture_output=True, text=True,
                                 timeout=60, stdin=subprocess.DEVNULL).stderr
        except subprocess.SubprocessError:
            err = ""
        kex = re.findall(r"kex: algorithm: (\S+)", err)
        cipher = re.findall(r"kex: server->client cipher: (\S+)", err)
        algos[m] = {"kex": kex[-1] if kex else "?", "cipher": cipher[-1] if cipher else "?"}
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": commit, "dirty": dirty, "cpus": os.cpu_count(), "kernel": platform.release(),
            "openssh": sshv, "libssh": cmd(["pkg-config", "--modversion", "libssh"]),
            "algorithms": algos, "runs": args.runs, "stream_bytes": args.stream_mib * MiB,
            "transfer_bytes": args.transfer_mib * MiB, "echo_keys": args.keys,
            "pss_levels": args.levels, "pss_runs": args.pss_runs,
            "loadavg_start": open("/proc/loadavg").read().split()[:3]}


SECTIONS = ["stream", "transfer", "setup", "echo", "pss", "recording"]


def main():
    ap = argparse.ArgumentParser(prog="tests/bench/run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", required=True)
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--stream-mib", type=int, default=512)
    ap.add_argument("--transfer-mib", type=int, default=256)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--levels", default="100,500")
    ap.add_argument("--pss-runs", type=int, default=None)
    ap.add_argument("--pss-jump", action="store_true",
                    help="also measure the jump sshd's per-session PSS (ProxyJump sessions)")
    ap.add_argument("--zeros-only", action="store_true",
                    help="stream zeros only, not also AES-CTR keystream (which recordings cannot compress)")
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x]
    if args.pss_runs is None:
        args.pss_runs = args.runs
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SECTIONS:
            ap.error("unknown section %s" % s)
    if args.runs < 1 or args.runs > 100:
        ap.error("--runs must be 1..100")

    meta = meta_info(args)
    rows = []
    results = {}
    t_start = time.monotonic()
    nb = args.stream_mib * MiB

    def sec_stream():
        rows.append({"section": "throughput"})
        res, rec = bench_stream(args.runs, nb, "zero")
        results["stream_rec"] = rec
        rows.append(judge(dict(row("stream_zero", "%d MiB stdout stream (zeros)" % args.stream_mib,
                                   "MiB/s", 0, res, ratios(res["gw"], res["jump"]),
                                   target=">= 1.3x ProxyJump"), ratio_label="x ProxyJump"),
                          lambda x: x >= 1.3))
        rows.append(judge(dict(row("stream_zero_vs_direct", "  same, gateway vs direct", "MiB/s",
                                   0, {}, ratios(res["gw"], res["direct"]),
                                   target=">= 0.7x direct"), ratio_label="x direct"),
                          lambda x: x >= 0.7))
        if not args.zeros_only:
            res2, rec2 = bench_stream(args.runs, nb, "aes")
            results["stream_rec_aes"] = rec2
            rows.append(judge(dict(row("stream_aes", "%d MiB stdout stream (AES-CTR data)" % args.stream_mib,
                                       "MiB/s", 0, res2, ratios(res2["gw"], res2["jump"]),
                                       target=">= 1.0x ProxyJump"), ratio_label="x ProxyJump"),
                              lambda x: x >= 1.0))

    def sec_transfer():
        if "stream" not in only:
            rows.append({"section": "throughput"})
        modes = ["direct", "jump", "gw"]
        res, wall = bench_transfer(args.runs, args.transfer_mib * MiB, modes)
        results["transfer_wall_s"] = wall
        rows.append(judge(dict(row("scp_upload", "%d MiB scp upload" % args.transfer_mib, "MiB/s", 0,
                                   res["scp"], ratios(res["scp"]["gw"], res["scp"]["jump"]),
                                   target=">= 1.5x ProxyJump"), ratio_label="x ProxyJump"),
                          lambda x: x >= 1.5))
        rows.append(judge(dict(row("sftp_download", "%d MiB sftp download" % args.transfer_mib, "MiB/s",
                                   0, res["sftp"], ratios(res["sftp"]["gw"], res["sftp"]["jump"]),
                                   target=">= 1.5x ProxyJump"), ratio_label="x ProxyJump"),
                          lambda x: x >= 1.5))

    def sec_setup():
        rows.append({"section": "connection setup"})
        res = bench_setup(args.runs)
        # key mode: no worse than before the recording thread and the wake-ups (0.41-0.49x)
        rows.append(judge(dict(row("setup_true", "ssh ... true, wall time", "ms", 0, res,
                                   ratios(res["gw"], res["jump"]), target="<= 1.0x ProxyJump"),
                               ratio_label="x ProxyJump"), lambda x: x <= 1.0))
        rows.append(judge(dict(row("setup_true_key", "ssh ... true, gateway in key mode", "ms", 0,
                                   {"gw": res["gwkey"]}, ratios(res["gwkey"], res["jump"]),
                                   target="<= 0.5x ProxyJump"),
                              ratio_label="x ProxyJump"), lambda x: x <= 0.5))
        rows.append(judge(dict(row("setup_cert_vs_key", "certificate mode / key mode", "ratio", 2,
                                   {}, ratios(res["gw"], res["gwkey"]),
                                   target="<= 1.10x key mode"), ratio_label="x key mode"),
                          lambda x: x <= 1.10))

    def sec_echo():
        rows.append({"section": "interactive"})
        p50, p99 = bench_echo(args.runs, args.keys)
        add50 = [g - d for g, d in zip(p50["gw"], p50["direct"])]
        add99 = [g - d for g, d in zip(p99["gw"], p99["direct"])]
        r = row("echo_p50", "keystroke echo p50 (%d keys)" % args.keys, "ms", 2, p50, add50,
                target="+<= 0.2 ms over direct")
        r["ratio_label"] = "ms over direct"
        rows.append(judge(r, lambda x: x <= 0.2))
        r = row("echo_p99", "keystroke echo p99 (%d keys)" % args.keys, "ms", 2, p99, add99,
                target="+<= 1 ms over direct")
        r["ratio_label"] = "ms over direct"
        rows.append(judge(r, lambda x: x <= 1.0))

    def sec_pss():
        rows.append({"section": "memory (idle interactive sessions; direct = the target sshd's "
                                "per-session processes%s)" % (
                                    ", ProxyJump = the jump sshd's" if args.pss_jump else "")})
        modes = ["direct"] + (["jump"] if args.pss_jump else []) + ["gw"]
        res = bench_pss(args.pss_runs, args.levels, modes, 24)
        results["pss"] = {str(n): v for n, v in res.items()}
        for n in args.levels:
            cols = {m: res[n][m]["pss"] for m in modes}
            r = row("pss_%d" % n, "PSS per session, %d sessions" % n, "MiB", 2, cols,
                    ratios(res[n]["gw"]["pss"], res[n]["direct"]["pss"]), target="<= 0.6x sshd")
            r["ratio_label"] = "x sshd"
            rows.append(judge(r, lambda x: x <= 0.6))
            cols = {m: res[n][m]["cpu"] for m in modes}
            r = row("idle_cpu_%d" % n, "  idle CPU, all %d together (gateway: + listener)" % n,
                    "% core", 2, cols, target="<= 1% of a core")
            r["ratio_label"] = ""
            rows.append(judge(r, lambda x: x <= 1.0, key="gw"))
        top = args.levels[-1]
        cols = {m: res[top][m]["responsive"] for m in modes}
        r = row("responsive_%d" % top, "sessions answering at %d" % top, "count", 0, cols,
                target="all %d" % top)
        r["ratio_label"] = ""
        r["result"] = "PASS" if all(x == top for x in res[top]["gw"]["responsive"]) else "MISS"
        rows.append(r)

    def sec_recording():
        rows.append({"section": "recording size (recording bytes per output byte)"})
        per_out, per_all, detail = bench_recording(args.runs)
        results["recording_interactive"] = detail
        r = row("rec_interactive", "scripted interactive session", "B/B", 2, {"gw": per_out},
                target="<= 1.5")
        r["ratio_label"] = ""
        rows.append(judge(r, lambda x: x <= 1.5, key="gw"))
        r = row("rec_interactive_all", "  same, per byte of output + input", "B/B", 2,
                {"gw": per_all})
        r["ratio_label"] = ""
        rows.append(r)
        if results.get("stream_rec"):
            r = row("rec_bulk", "%d MiB stream (zeros)" % args.stream_mib, "B/B", 3,
                    {"gw": results["stream_rec"]}, target="-")
            r["ratio_label"] = ""
            rows.append(r)
        if results.get("stream_rec_aes"):
            r = row("rec_bulk_aes", "%d MiB stream (AES-CTR data)" % args.stream_mib, "B/B", 3,
                    {"gw": results["stream_rec_aes"]}, target="-")
            r["ratio_label"] = ""
            rows.append(r)

    failed = False
    for sec in SECTIONS:
        if sec not in only:
            continue
        try:
            locals()["sec_" + sec]()
        except (BenchError, subprocess.TimeoutExpired, OSError) as e:
            # the other sections still run: one failure does not cost the table
            failed = True
            log("%s FAILED: %s" % (sec, e))
            rows.append({"section": "%s: FAILED: %s" % (sec, str(e)[:300])})
    meta["seconds"] = round(time.monotonic() - t_start)
    meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print_table(rows, meta, sys.stdout)
    sys.stdout.flush()
    doc = {"meta": meta, "rows": [], "extra": results}
    for r in rows:
        if r.get("section"):
            if "FAILED" in r["section"]:
                doc["failed"] = doc.get("failed", []) + [r["section"]]
            continue
        d = {k: r[k] for k in ("id", "metric", "unit", "direct", "jump", "gw", "ratio", "target",
                               "result")}
        d["ratio_label"] = r.get("ratio_label")
        doc["rows"].append(d)
    tmp = args.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.json)
    log("table written as JSON to %s (%d s)" % (args.json, meta["seconds"]))
    return 2 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log("FAILED: %s" % e)
        sys.exit(2)
