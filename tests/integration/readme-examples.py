#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs every client example of the README's Usage section for real, and
the hints scripts/demo prints.

    readme-examples.py README.md [scripts/demo]

Called by readme-examples.sh once a test environment is up (lib.sh's
env_up); reads DIR, GW_HOST, GW_PORT, GW_KEY and T from the environment.

What is an example.  Every line of a fenced block in the "## Usage" section
whose first word is ssh, scp, sftp or rsync, and every inline code span there
that starts with one of them.  The README is read at test time, so an
example added tomorrow is run tomorrow.  An inline span with a placeholder
(USER, TARGET, COMMAND, [command], ...) is syntax, not an example: it is
listed as such and not run.  A fenced line with a placeholder, or anything
else this script cannot map onto the test environment (another host, an
unknown user or target, an unknown option or follow-up command), is a
failure that says what to teach this script -- never a silent skip.

How an example is rewritten.  `gw` becomes the test gateway (its port, its
known_hosts, -F /dev/null); alice logs in with her key, the other demo users
with their password (<name>-pw-2026), an example without a user as alice.
Request numbers (show/approve/deny/cancel/revoke N) and session ids (replay,
watch, terminate, export, review ID) are mapped, the first time each README
value is seen, to real ones made here: a pending request of alice's on web-1
(an approved one for revoke), an ended session on staging-1, or a live one
for watch and terminate.  USER+TARGET on a protected target gets a grant
first (asked by USER, approved by an approver), unless the example says it
is refused.  Remote absolute paths of scp/sftp/rsync live under T/remote, local
files the example names are made under T/local (its working directory).
Without a remote command ssh gets a pty and types "exit"; with -t a job that
is still running after a while is sent "q" (replay, watch).  The second
factor: the secret an `mfa enroll` example prints is kept, and the code of
a later `mfa confirm CODE` is the one oathtool makes from it now.  `> FILE` and
`&& asciinema play FILE` (run as `asciinema cat` on a pty) are understood.

The demo's hints.  The ssh/scp/sftp/rsync lines of scripts/demo's MSG
here-document are run first (as right after the demo starts), with "-p $P"
and "@127.0.0.1" read as "@gw" and $SID as a session id, from the checkout
(as the demo is): a local file they name must exist there.

What passes.  A gateway shell command exits 0 and prints no usage line and
no "drawbridge: ..." refusal.  A command on a target reaches it: a new
session row for that user and target, no refusal, ssh itself did not fail
(255); its own exit status is the target program's and is only shown.
Transfers exit 0 and leave the file where the example put it.  An example
whose comment says "refused" must be refused instead: exit 1 with one
"drawbridge: ..." line.  Every failure is reported; the exit status is 1 if
there was any.
"""
import os
import pty
import re
import select
import shlex
import sqlite3
import subprocess
import sys
import time

CLIENTS = ("ssh", "scp", "sftp", "rsync")
USERS = ("alice", "bob", "carol", "dave", "erin", "frank")
# Words that stand for a value in the README's syntax lines.
PLACEHOLDERS = {"USER", "TARGET", "COMMAND", "CMD", "ID", "N", "TEXT", "DURATION", "FILE",
                "PATH", "CODE", "HOST", "LOGIN", "SESSION", "TIME", "L", "U", "T", "X", "S",
                "NAME", "URL", "TOKEN", "PORT"}
REQUEST_CMDS = ("show", "approve", "deny", "cancel", "revoke")
SESSION_LIVE_CMDS = ("watch", "terminate")
SESSION_ID = re.compile(r"^(?=[a-z2-7]*[2-7])[a-z2-7]{16}$")
LIVE_CMD = "echo started; while sleep 0.3; do printf .; done"
TIMEOUT = 40

ENV = os.environ
DIR = ENV["DIR"]
HOST = ENV.get("GW_HOST", "127.0.0.1")
PORT = ENV["GW_PORT"]
KEY = ENV["GW_KEY"]
SCRATCH = ENV["T"]
LOCAL = os.path.join(SCRATCH, "local")
REMOTE = os.path.join(SCRATCH, "remote")

SSH_OPTS = ["-F", "/dev/null", "-o", "UserKnownHostsFile=%s/known_hosts" % DIR,
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-o", "IdentityAgent=none"]
KEY_OPTS = ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "PreferredAuthentications=publickey", "-o", "PasswordAuthentication=no",
            "-i", KEY]
PW_OPTS = ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
           "-o", "PreferredAuthentications=password,keyboard-interactive",
           "-o", "NumberOfPasswordPrompts=1"]

# Options of each client: (flags without an argument, flags with one).  The
# test sets port, config, identity and login itself; those are dropped.
SSH_FLAGS = ("46AaCfGgKkMNnqsTtVvXxY", "BbcDEeFIiJLlmOoPpQRSWw")
SCP_FLAGS = ("346ABCOpqRrTv", "cDFiJlMoPSX")
SFTP_FLAGS = ("46aCfNpqrv", "BbcDFiJloPRSsX")
DROPPED = {"ssh": "pFil", "scp": "PFi", "sftp": "PFi"}


class Unmappable(Exception):
    """An example this script cannot run in the test environment."""


class Failed(Exception):
    """An example that ran and did not do what the README says."""


def log(msg):
    print("[readme-examples] " + msg, file=sys.stderr, flush=True)


# ---- the README ----------------------------------------------------------

def usage_section(path):
    """(line number, text) of the lines of the "## Usage" section."""
    out, inside = [], False
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("## "):
                inside = line.strip() == "## Usage"
                continue
            if inside:
                out.append((no, line))
    return out


def split_comment(line):
    """The command and its trailing '# comment' (outside quotes)."""
    quote, i = None, 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                i += 1
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
        i += 1
    return line.rstrip(), ""


def first_word(text):
    return text.split(None, 1)[0] if text.split() else ""


def examples(path):
    """[(where, command, comment, fenced)] in README order, and the syntax spans."""
    found, syntax = [], []
    name = os.path.basename(path)
    fence, pending, para = False, None, []

    def spans(lines):
        text = "\n".join(t for _, t in lines)
        for m in re.finditer(r"(`+)(.+?)\1", text, re.S):
            span = " ".join(m.group(2).split())
            # A bare program name is a mention ("`scp`, `sftp` and `rsync`").
            if first_word(span) in CLIENTS and len(span.split()) > 1:
                no = lines[0][0] + text[:m.start()].count("\n")
                found.append(("%s:%d" % (name, no), span, "", False, None))

    for no, line in usage_section(path):
        if line.strip().startswith("```"):
            if not fence:
                spans(para)
                para = []
            fence = not fence
            continue
        if not fence:
            para.append((no, line))
            continue
        if pending is not None:
            pending = (pending[0], pending[1] + " " + line.strip())
        else:
            pending = (no, line.strip())
        if pending[1].endswith("\\"):
            pending = (pending[0], pending[1][:-1])
            continue
        no0, text = pending
        pending = None
        cmd, comment = split_comment(text)
        if first_word(cmd) in CLIENTS:
            found.append(("%s:%d" % (name, no0), cmd, comment, True, None))
    spans(para)
    found.sort(key=lambda e: int(e[0].split(":")[1]))
    out = []
    for ex in found:
        if not ex[3] and placeholder(ex[1]):
            syntax.append(ex)
        else:
            out.append(ex)
    return out, syntax


def placeholder(cmd):
    """The first placeholder in cmd ("USER", "…", "[command]"), or None."""
    if "…" in cmd or "..." in cmd:
        return "…"
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    for w in words:
        if re.fullmatch(r"\[.*\]", w):
            return w
        for part in re.split(r"[@+:=,/]", w):
            if part in PLACEHOLDERS:
                return part
    return None


def demo_hints(path):
    """[(where, command, comment, True)]: the client lines scripts/demo prints
    (its MSG here-document), put in the README's form: "-p $P" and
    "@127.0.0.1" become "@gw", $SID a session id."""
    found, inside = [], False
    name = "scripts/" + os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if re.match(r"^cat <<'?MSG'?$", line.strip()):
                inside = True
                continue
            if line == "MSG":
                inside = False
            if not inside:
                continue
            cmd, comment = split_comment(line.strip())
            if first_word(cmd) not in CLIENTS:
                continue
            cmd = re.sub(r" -e 'ssh -p \$P'", "", cmd)
            cmd = re.sub(r" -[pP] \$P\b", "", cmd)
            cmd = cmd.replace("@127.0.0.1", "@gw").replace("$SID", "6a6nxld3tvyq32ke")
            var = re.search(r"\$\{?[A-Za-z_]\w*", cmd)
            problem = None if var is None else \
                "shell variable %s: teach readme-examples.py its value" % var.group(0)
            found.append(("%s:%d" % (name, no), cmd, comment, True, problem))
    return found


# ---- the environment -----------------------------------------------------

def db(sql, args=()):
    try:
        con = sqlite3.connect("file:%s/state/drawbridge.db?mode=ro" % DIR, uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise Failed("cannot read the store: %s" % e)


def policy_targets():
    """{name: protected?} from the test policy (env: prod is protected)."""
    out, name = {}, None
    with open(os.path.join(DIR, "policy.yaml"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*- name: (\S+)", line)
            if m:
                name = m.group(1)
                out.setdefault(name, False)
            elif name is not None and re.match(r"\s*labels:.*\benv: prod\b", line):
                out[name] = True
            elif re.match(r"^rules:", line):
                break
    return out


def auth(user):
    """(prefix, ssh options, env) for logging in as user."""
    env = dict(ENV)
    if user == "alice":
        return [], KEY_OPTS, env
    env["SSHPASS"] = "%s-pw-2026" % user
    return ["sshpass", "-e"], PW_OPTS, env


def ssh_argv(who, words, pty_=False):
    user = who.split("+", 1)[0]
    prefix, opts, env = auth(user)
    argv = prefix + ["ssh"] + SSH_OPTS + opts + ["-p", PORT] + (["-tt"] if pty_ else [])
    return argv + ["-l", who, HOST] + list(words), env


def run(argv, env, feed=None, pty_=False, quit_after=None, timeout=TIMEOUT, stdout=None):
    """Runs a client; returns (status, stdout, stderr).  stdin stays open
    (as a terminal's would) until the client exits; feed is written after
    a moment, "q" after quit_after seconds when it is still running."""
    p = subprocess.Popen(argv, env=env, cwd=LOCAL, stdin=subprocess.PIPE,
                         stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = b"", b""
    start = time.time()
    fed = quit_sent = False
    streams = [s for s in (p.stdout, p.stderr) if s is not None]
    while streams:
        now = time.time()
        if now - start > timeout:
            p.kill()
            p.wait()
            raise Failed("no end after %d s (output so far: %r %r)" % (timeout, out[-500:], err[-500:]))
        if feed is not None and not fed and now - start > (1.0 if pty_ else 0):
            try:
                p.stdin.write(feed.encode())
                p.stdin.flush()
            except BrokenPipeError:
                pass
            fed = True
        if quit_after is not None and not quit_sent and now - start > quit_after:
            try:
                p.stdin.write(b"q")
                p.stdin.flush()
            except BrokenPipeError:
                pass
            quit_sent = True
        ready, _, _ = select.select(streams, [], [], 0.1)
        for s in ready:
            data = os.read(s.fileno(), 65536)
            if not data:
                streams.remove(s)
            elif s is p.stdout:
                out += data
            else:
                err += data
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    status = p.wait(timeout=timeout)
    return status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def gw(who, *words):
    """A gateway command the test needs; must succeed."""
    argv, env = ssh_argv(who, words)
    status, out, err = run(argv, env)
    if status != 0:
        raise Failed("setting up: %s %s: exit %d: %s" % (who, " ".join(words), status, err.strip()))
    return out


# ---- ids -----------------------------------------------------------------

class World:
    """The real ids the README's ids stand for, made when first needed."""

    def __init__(self):
        self.requests = {}      # README number -> real request number
        self.sessions = {}      # (README id, "live"|"ended") -> real session id
        self.granted = set()    # (user, target) with a grant made here
        self.live = []          # background clients holding live sessions
        self.targets = policy_targets()
        self.seq = 0
        self.mfa_secrets = {}   # user -> the TOTP secret their `mfa enroll` example printed

    def request(self, user, approve):
        out = gw(user, "request", "web-1", "--for", "1h", "--reason", "readme example")
        m = re.match(r"request (\d+) pending", out)
        if not m:
            raise Failed("setting up: no request number in %r" % out)
        n = m.group(1)
        if approve:
            gw("erin" if user != "erin" else "bob", "approve", n)
        return n

    def map_request(self, readme_n, cmd, user):
        if readme_n not in self.requests:
            requester = user if cmd == "cancel" else "alice"
            self.requests[readme_n] = self.request(requester, cmd == "revoke")
        return self.requests[readme_n]

    def ended_session(self):
        self.seq += 1
        cmd = "echo readme example session %d" % self.seq
        gw("alice+staging-1", cmd)
        sid = None
        for _ in range(100):
            rows = db("SELECT id FROM sessions WHERE user = 'alice' AND command = ? AND "
                      "ended_at != 0 AND sha256 != ''", (cmd,))
            if rows:
                sid = rows[0][0]
                break
            time.sleep(0.1)
        if sid is None:
            raise Failed("setting up: the session %r did not end and get sealed" % cmd)
        return sid

    def live_session(self):
        self.seq += 1
        cmd = "%s # %d" % (LIVE_CMD, self.seq)
        argv, env = ssh_argv("alice+staging-1", [cmd])
        p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.live.append(p)
        for _ in range(150):
            rows = db("SELECT id FROM sessions WHERE user = 'alice' AND command = ? AND "
                      "ended_at = 0", (cmd,))
            if rows:
                return rows[0][0]
            time.sleep(0.1)
        raise Failed("setting up: the live session %r did not start" % cmd)

    def map_session(self, readme_id, cmd):
        kind = "live" if cmd in SESSION_LIVE_CMDS else "ended"
        key = (readme_id, kind)
        if key not in self.sessions:
            self.sessions[key] = self.live_session() if kind == "live" else self.ended_session()
        return self.sessions[key]

    def grant(self, user, target):
        if not self.targets.get(target) or (user, target) in self.granted:
            return
        self.request_grant(user, target)
        self.granted.add((user, target))

    def request_grant(self, user, target):
        argv, env = ssh_argv(user, ["request", target, "--for", "1h", "--reason",
                                    "readme example"])
        status, out, err = run(argv, env)
        m = re.match(r"request (\d+) pending", out)
        if status != 0 or not m:
            raise Unmappable("%s cannot get a grant on %s here (exit %d: %s); the test "
                             "environment's policy would need a rule" % (user, target, status,
                                                                        err.strip()))
        gw("erin" if user != "erin" else "bob", "approve", m.group(1))

    def close(self):
        for p in self.live:
            if p.poll() is None:
                p.kill()
            p.wait()


# ---- mapping one example -------------------------------------------------

def parse_flags(words, flags, client):
    """Splits a client's words into (kept options, pty count, operands)."""
    noarg, witharg = flags
    kept, ttys, i = [], 0, 0
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        w = words[i]
        if w == "--":
            i += 1
            break
        j = 1
        while j < len(w):
            ch = w[j]
            if ch in noarg:
                if client == "ssh" and ch == "t":
                    ttys += 1
                elif client == "ssh" and ch == "T":
                    ttys = -1
                else:
                    kept.append("-" + ch)
                j += 1
            elif ch in witharg:
                arg = w[j + 1:]
                if not arg:
                    i += 1
                    if i >= len(words):
                        raise Unmappable("option -%s needs a value" % ch)
                    arg = words[i]
                if ch not in DROPPED[client]:
                    kept += ["-" + ch, arg]
                elif ch == "i":
                    raise Unmappable("-i: the test chooses the identity itself")
                break
            else:
                raise Unmappable("%s option -%s is unknown to this test" % (client, ch))
        i += 1
    return kept, ttys, words[i:]


def destination(dest):
    """(user or user+target, target or None) of "[who@]gw"."""
    who, _, host = dest.rpartition("@")
    if host != "gw":
        raise Unmappable("host %r: examples address the bastion as gw" % host)
    who = who or "alice"
    user, _, target = who.partition("+")
    if user not in USERS:
        raise Unmappable("user %r is not one of the demo users %s" % (user, ", ".join(USERS)))
    return who, target or None


def remote_path(path):
    """A path on a target, moved under T/remote; a directory ("/tmp/")
    exists there as it would on a host."""
    if not path.startswith("/"):
        path = "/home/" + path
    full = REMOTE + path
    os.makedirs(full if full.endswith("/") else os.path.dirname(full), exist_ok=True)
    return full


def gw_words(remote):
    """The words the gateway makes of a remote command (ssh joins them with
    spaces); for a line it would refuse to split, the blank-separated words."""
    line = " ".join(remote)
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def local_source(path):
    """Makes a local file or directory an upload example names."""
    full = os.path.join(LOCAL, path)
    if os.path.exists(full):
        return
    if path.endswith("/"):
        os.makedirs(full, exist_ok=True)
        with open(os.path.join(full, "index.html"), "w") as f:
            f.write("readme example\n")
    else:
        os.makedirs(os.path.dirname(full) or LOCAL, exist_ok=True)
        with open(full, "wb") as f:
            f.write(os.urandom(65536))


class Example:
    def __init__(self, where, cmd, comment, world, cwd=None, problem=None):
        self.where, self.cmd, self.comment, self.world = where, cmd, comment, world
        self.problem = problem
        # Local files: made up under T/local, or (cwd) the ones that must exist there.
        self.cwd = cwd
        self.refused = "refused" in comment.lower()
        self.redirect = None
        self.after = []
        self.shown = cmd

    def parse(self):
        if self.problem is not None:
            raise Unmappable(self.problem)
        p = placeholder(self.cmd)
        if p is not None:
            raise Unmappable("placeholder %r: an example needs concrete values" % p)
        lex = shlex.shlex(self.cmd, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        try:
            toks = list(lex)
        except ValueError as e:
            raise Unmappable("cannot split it as a shell would: %s" % e)
        segs, cur, ops = [], [], []
        for t in toks:
            if t in ("&&", ">", "|", ";", "||", ">>", "<", "&"):
                segs.append(cur)
                ops.append(t)
                cur = []
            else:
                cur.append(t)
        segs.append(cur)
        client = segs[0]
        for op, seg in zip(ops, segs[1:]):
            if op == ">" and len(seg) == 1 and self.redirect is None and not self.after:
                self.redirect = os.path.join(LOCAL, seg[0])
            elif op == "&&" and seg[:2] == ["asciinema", "play"] and len(seg) == 3:
                self.after.append(seg)
            else:
                raise Unmappable("'%s %s' after the client: teach readme-examples.py what "
                                 "it means" % (op, " ".join(seg)))
        return client

    def go(self):
        client = self.parse()
        name = client[0]
        if name == "ssh":
            self.ssh(client[1:])
        elif name == "scp":
            self.scp(client[1:])
        elif name == "sftp":
            self.sftp(client[1:])
        else:
            self.rsync(client[1:])
        for seg in self.after:
            self.asciinema(seg[2])

    # -- ssh

    def ssh(self, words):
        kept, ttys, rest = parse_flags(words, SSH_FLAGS, "ssh")
        if not rest:
            raise Unmappable("no destination")
        who, target = destination(rest[0])
        user = who.split("+")[0]
        remote = rest[1:]
        if target is not None and target not in self.world.targets:
            raise Unmappable("target %r is not in the test environment (%s)" %
                             (target, ", ".join(sorted(self.world.targets))))
        if target is None:
            remote = self.map_ids(user, remote)
        elif not self.refused:
            self.world.grant(user, target)
        interactive = not remote
        pty_ = interactive or ttys > 0
        prefix, opts, env = auth(user)
        argv = prefix + ["ssh"] + SSH_OPTS + opts + ["-p", PORT] + kept
        argv += (["-tt"] if pty_ else []) + ["-l", who, HOST] + remote
        self.shown = " ".join(shlex.quote(w) for w in [who + "@gw"] + remote)
        before = self.count_sessions(user, target)
        feed = None
        if interactive:
            feed = "whoami\nexit\n" if target is None else "exit\n"
        out_f = open(self.redirect, "wb") if self.redirect else None
        try:
            status, out, err = run(argv, env, feed=feed, pty_=pty_, stdout=out_f,
                                   quit_after=2.0 if pty_ and not interactive else None)
        finally:
            if out_f:
                out_f.close()
        if self.refused:
            self.expect_refused(status, out, err)
        elif target is None:
            self.expect_shell(status, out, err, remote, pty_, interactive, user)
            m = re.search(r"^otpauth://totp/\S*[?&]secret=([A-Z2-7]+)", out, re.M)
            if gw_words(remote)[:2] == ["mfa", "enroll"] and m:
                self.world.mfa_secrets[user] = m.group(1)
        else:
            self.expect_target(status, out, err, user, target, before)

    def map_ids(self, user, remote):
        """remote with README request numbers and session ids made real."""
        words = gw_words(remote)
        if len(words) < 2:
            return remote
        cmd, arg = words[0], words[1]
        if cmd == "mfa" and arg == "confirm" and len(words) == 3 and re.fullmatch(r"\d{6}", words[2]):
            if user not in self.world.mfa_secrets:
                raise Unmappable("mfa confirm before an mfa enroll example for %s" % user)
            code = subprocess.run(["oathtool", "--totp", "-b", self.world.mfa_secrets[user]],
                                  check=True, capture_output=True, text=True).stdout.strip()
            return [code if w == words[2] else w for w in remote]
        if cmd in REQUEST_CMDS and re.fullmatch(r"\d+", arg):
            real = self.world.map_request(arg, cmd, user)
        elif SESSION_ID.match(arg):
            real = self.world.map_session(arg, cmd)
        else:
            return remote
        pat = re.compile(r"(?<![\w.-])%s(?![\w.-])" % re.escape(arg))
        out, done = [], False
        for w in remote:
            if not done and pat.search(w):
                w = pat.sub(real, w, count=1)
                done = True
            out.append(w)
        return out

    def count_sessions(self, user, target):
        if target is None:
            return 0
        return db("SELECT count(*) FROM sessions WHERE user = ? AND target = ?",
                  (user, target))[0][0]

    def expect_shell(self, status, out, err, remote, pty_, interactive, user):
        words = gw_words(remote)
        is_help = bool(words) and words[0] == "help"
        both = out + "\n" + err
        usage = [l for l in (err if not pty_ else both).splitlines()
                 if l.strip().startswith("usage:")]
        if not is_help:
            usage += [l for l in out.splitlines() if l.strip().startswith("usage:")]
        refusal = [l for l in both.splitlines() if l.strip().startswith("drawbridge:")]
        if status == 2 or usage:
            raise Failed("usage error (exit %d): %s" % (status, (refusal + usage + [err])[0]))
        if refusal:
            raise Failed("refused (exit %d): %s" % (status, refusal[0].strip()))
        if status != 0:
            raise Failed("exit %d: %s" % (status, (err or out).strip()[-400:]))
        if interactive and "%s@drawbridge>" % user not in out:
            raise Failed("no shell prompt in: %r" % out[-400:])

    def expect_target(self, status, out, err, user, target, before):
        refusal = [l for l in (out + "\n" + err).splitlines()
                   if l.strip().startswith("drawbridge:")]
        if refusal:
            raise Failed("refused (exit %d): %s" % (status, refusal[0].strip()))
        if status == 255:
            raise Failed("ssh failed (exit 255): %s" % err.strip()[-400:])
        if self.count_sessions(user, target) <= before:
            raise Failed("no session to %s was recorded (exit %d)" % (target, status))
        if status != 0:
            log("  (the command on %s exited %d; that is the target's answer)" %
                (target, status))

    def expect_refused(self, status, out, err):
        refusal = [l for l in (out + "\n" + err).splitlines()
                   if l.strip().startswith("drawbridge:")]
        if status != 1 or not refusal:
            raise Failed("the example says refused, but: exit %d, %r" % (status, (err or out)[-400:]))

    # -- transfers

    def transfer_args(self, operands, client):
        """Operands rewritten, the login and whether anything is remote."""
        out, who = [], None
        for k, op in enumerate(operands):
            m = re.match(r"^((?:[^@/:]+@)?gw):(.*)$", op)
            if m:
                w, _ = destination(m.group(1))
                if who is not None and w != who:
                    raise Unmappable("two logins in one transfer")
                who = w
                out.append("%s@%s:%s" % (w, HOST, remote_path(m.group(2))))
            else:
                if ":" in op.split("/")[0]:
                    raise Unmappable("operand %r names a host other than gw" % op)
                if k < len(operands) - 1:
                    if self.cwd is None:
                        local_source(op)
                    elif not os.path.exists(os.path.join(self.cwd, op)):
                        raise Failed("%s does not exist in %s, where it is run from" %
                                     (op, self.cwd))
                out.append(os.path.join(self.cwd, op) if self.cwd else op)
        if who is None:
            raise Unmappable("%s example without gw" % client)
        return out, who

    def arrived(self, operands):
        last = operands[-1]
        m = re.match(r"^(?:[^@/:]+@)?gw:(.*)$", last)
        dest = remote_path(m.group(1)) if m else os.path.join(LOCAL, last)
        if not os.path.exists(dest) or (os.path.isdir(dest) and not os.listdir(dest)):
            raise Failed("nothing arrived at %s" % dest)

    def transfer(self, prog, kept, operands, port_flag):
        args, who = self.transfer_args(operands, prog)
        user, _, target = who.partition("+")
        if not target:
            raise Unmappable("%s needs USER+TARGET" % prog)
        if not self.refused:
            self.world.grant(user, target)
        prefix, opts, env = auth(user)
        if prog == "rsync":
            rsh = " ".join(shlex.quote(w) for w in ["ssh"] + SSH_OPTS + opts + ["-p", PORT])
            argv = prefix + ["rsync", "-e", rsh] + kept + args
        else:
            argv = prefix + [prog] + SSH_OPTS + opts + [port_flag, PORT] + kept + args
        self.shown = " ".join([prog] + kept + [a.replace(REMOTE, "$T/remote") for a in args])
        status, out, err = run(argv, env)
        if self.refused:
            self.expect_refused(status, out, err)
            return
        if status != 0:
            raise Failed("exit %d: %s" % (status, err.strip()[-400:]))
        self.arrived(operands)

    def scp(self, words):
        kept, _, operands = parse_flags(words, SCP_FLAGS, "scp")
        if len(operands) < 2:
            raise Unmappable("scp needs a source and a destination")
        self.transfer("scp", kept, operands, "-P")

    def rsync(self, words):
        kept, operands, i = [], [], 0
        while i < len(words):
            w = words[i]
            if w in ("-e", "--rsh"):
                i += 2
                continue
            if w.startswith("--rsh=") or (w.startswith("-e") and not w.startswith("--")):
                i += 1
                continue
            (kept if w.startswith("-") else operands).append(w)
            i += 1
        if len(operands) < 2:
            raise Unmappable("rsync needs a source and a destination")
        self.transfer("rsync", kept, operands, None)

    def sftp(self, words):
        kept, _, rest = parse_flags(words, SFTP_FLAGS, "sftp")
        if len(rest) != 1:
            raise Unmappable("sftp: one destination expected")
        dest, _, path = rest[0].partition(":")
        who, target = destination(dest)
        if target is None:
            raise Unmappable("sftp needs USER+TARGET")
        user = who.split("+")[0]
        if not self.refused:
            self.world.grant(user, target)
        prefix, opts, env = auth(user)
        where = "%s@%s" % (who, HOST) + (":" + remote_path(path) if path else "")
        argv = prefix + ["sftp"] + SSH_OPTS + opts + ["-P", PORT] + kept + [where]
        self.shown = "sftp %s@gw" % who
        before = self.count_sessions(user, target)
        status, out, err = run(argv, env, feed="pwd\nbye\n")
        if self.refused:
            self.expect_refused(status, out, err)
            return
        if status != 0:
            raise Failed("exit %d: %s" % (status, err.strip()[-400:]))
        if self.count_sessions(user, target) <= before:
            raise Failed("no sftp session to %s was recorded" % target)

    # -- after the client

    def asciinema(self, path):
        """`asciinema play FILE`, as `asciinema cat` on a pty of its own."""
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(LOCAL)
            os.execvp("asciinema", ["asciinema", "cat", path])
        out = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
        if code != 0:
            raise Failed("asciinema could not read %s (exit %d): %r" % (path, code, out[-300:]))


def run_all(found, world, cwd, failures):
    """Runs the examples in order; appends what failed; returns how many ran."""
    n = 0
    try:
        for where, cmd, comment, _, problem in found:
            n += 1
            ex = Example(where, cmd, comment, world, cwd=cwd, problem=problem)
            t0 = time.time()
            try:
                ex.go()
            except Unmappable as e:
                failures.append("%s: %s\n    cannot be mapped onto the test environment: %s"
                                % (where, cmd, e))
                log("FAIL - %s: %s: cannot map: %s" % (where, cmd, e))
                continue
            except Failed as e:
                failures.append("%s: %s\n    ran as: %s\n    %s" % (where, cmd, ex.shown, e))
                log("FAIL - %s: %s: %s" % (where, cmd, e))
                continue
            log("ok - %s: %s  (%.1fs)" % (where, cmd, time.time() - t0))
    finally:
        world.close()
    return n


def main():
    readme = sys.argv[1]
    demo = sys.argv[2] if len(sys.argv) > 2 else None
    os.makedirs(LOCAL, exist_ok=True)
    os.makedirs(REMOTE, exist_ok=True)
    found, syntax = examples(readme)
    for where, cmd, _, _, _ in syntax:
        log("syntax, not an example: %s: %s" % (where, cmd))
    if not found:
        log("FAIL: no ssh/scp/sftp/rsync example found in the Usage section of %s" % readme)
        return 1
    failures, n = [], 0
    if demo is not None:
        # First, as right after the demo starts (alice has no grant yet); run
        # from the checkout, as the demo's user would, so the files it names
        # must exist.
        hints = demo_hints(demo)
        if not hints:
            log("FAIL: no ssh/scp/sftp/rsync hint found in %s" % demo)
            return 1
        n += run_all(hints, World(), os.path.dirname(os.path.dirname(os.path.abspath(demo))),
                     failures)
    n += run_all(found, World(), None, failures)
    if failures:
        log("%d of %d examples failed:" % (len(failures), n))
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    log("all %d examples ran as documented" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
