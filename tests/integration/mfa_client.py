#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Log in to the gateway with paramiko and answer its verification code prompt.

    mfa_client.py --port P --user U (--password PW | --key FILE) --known-hosts FILE
                  [--answer A]... [--command CMD]

After the first factor (password or key) the gateway answers "partial
success, go on with keyboard-interactive"; each --answer is then given to
one keyboard-interactive round, in order, until one is accepted.  An answer
may be written as
    @empty       the empty string
    @big:N       N bytes of '1' (a 64 KiB code and the like)
    @file:PATH   the contents of PATH, without a trailing newline
    @totp:SECRET[:OFFSET]  the code oathtool makes for SECRET at now+OFFSET s
    @nul:ANSWER  ANSWER (expanded as above), then a NUL byte and "junk"

Prints one line per step ("first-factor: partial keyboard-interactive",
"prompt: Verification code: ", "answer 1: refused", "answer 2: accepted"),
then the command's output (stdout and stderr).  Exit status: the command's,
0 when no command was asked and an answer was accepted, 1 when every answer
was refused, 2 on any other failure.
"""
import argparse
import base64
import subprocess
import sys
import time

import paramiko


def known_key(path, port):
    """The gateway's host key from an OpenSSH known_hosts file."""
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0] in ("[127.0.0.1]:%d" % port, "127.0.0.1"):
                return parts[1], base64.b64decode(parts[2])
    raise SystemExit("no host key for port %d in %s" % (port, path))


def expand(answer):
    if answer.startswith("@nul:"):
        return expand(answer[5:]) + "\x00junk"
    if answer == "@empty":
        return ""
    if answer.startswith("@big:"):
        return "1" * int(answer[5:])
    if answer.startswith("@file:"):
        with open(answer[6:]) as f:
            return f.read().rstrip("\n")
    if answer.startswith("@totp:"):
        rest = answer[6:].split(":")
        cmd = ["oathtool", "--totp", "-b", rest[0]]
        if len(rest) > 1:
            cmd += ["-N", "@%d" % (int(time.time()) + int(rest[1]))]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    return answer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password")
    ap.add_argument("--key")
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--answer", action="append", default=[])
    ap.add_argument("--command")
    a = ap.parse_args()

    ktype, blob = known_key(a.known_hosts, a.port)
    t = paramiko.Transport(("127.0.0.1", a.port))
    t.start_client(timeout=15)
    server_key = t.get_remote_server_key()
    if server_key.get_name() != ktype or server_key.asbytes() != blob:
        print("host key mismatch", flush=True)
        return 2
    try:
        if a.key:
            left = t.auth_publickey(a.user, paramiko.Ed25519Key.from_private_key_file(a.key))
        else:
            left = t.auth_password(a.user, a.password)
    except paramiko.AuthenticationException as e:
        print("first-factor: refused (%s)" % e, flush=True)
        return 1
    if t.is_authenticated():
        print("first-factor: complete", flush=True)
    else:
        print("first-factor: partial %s" % ",".join(left), flush=True)
        ok = False
        for i, ans in enumerate(a.answer, 1):
            value = expand(ans)

            def handler(title, instructions, prompts, value=value):
                for p, _ in prompts:
                    print("prompt: %s" % p, flush=True)
                return [value] * len(prompts)

            try:
                t.auth_interactive(a.user, handler)
            except paramiko.AuthenticationException:
                print("answer %d: refused" % i, flush=True)
                continue
            except (paramiko.SSHException, EOFError) as e:
                print("answer %d: connection ended (%s)" % (i, e), flush=True)
                return 1
            print("answer %d: accepted" % i, flush=True)
            ok = True
            break
        if not ok:
            return 1
    if not a.command:
        t.close()
        return 0
    chan = t.open_session()
    chan.set_combine_stderr(True)
    chan.exec_command(a.command)
    out = b""
    while True:
        data = chan.recv(65536)
        if not data:
            break
        out += data
    status = chan.recv_exit_status()
    sys.stdout.write(out.decode(errors="replace"))
    sys.stdout.flush()
    t.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
