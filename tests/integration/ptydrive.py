#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drive a program on a pseudo-terminal from a list of steps (a tiny expect).

    ptydrive.py [--timeout S] [--log FILE] STEP... -- COMMAND [ARG...]

Steps, run in order:
    size:ROWS:COLS   set the terminal size (before start: the initial size;
                     later: a resize, which sends SIGWINCH to the program)
    send:TEXT        type TEXT (Python escapes: \\r, \\n, \\x04 ...)
    expect:REGEX     wait until REGEX matches output not yet consumed
    sleep:SECONDS
    exit:CODE|any    wait for the program to end (with that status)

Exit status 0 when every step succeeded, 1 otherwise (with the transcript on
stderr).  Used by the pty tests so that they need no `expect` package.
"""
import codecs
import errno
import fcntl
import os
import re
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Driver:
    def __init__(self, timeout, log):
        self.timeout = timeout
        self.log = log
        self.buf = b""
        self.pos = 0
        self.fd = -1
        self.pid = -1
        self.status = None

    def start(self, argv, rows, cols):
        pid, fd = os.forkpty()
        if pid == 0:
            try:
                set_size(0, rows, cols)
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        set_size(fd, rows, cols)

    def pump(self, deadline):
        """Reads what is there until deadline; False on EOF."""
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError as e:
            if e.errno == errno.EIO:
                return False
            raise
        if not data:
            return False
        self.buf += data
        if self.log:
            self.log.write(data)
            self.log.flush()
        return True

    def expect(self, pattern):
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + self.timeout
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return True
            if time.monotonic() >= deadline:
                return self.fail("timeout waiting for /%s/" % pattern)
            if not self.pump(deadline):
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return True
                return self.fail("EOF while waiting for /%s/" % pattern)

    def wait_exit(self, want):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = st
                break
            if not self.pump(deadline):
                # EOF on the pty: the program is ending; reap it.
                _, st = os.waitpid(self.pid, 0)
                self.status = st
                break
        if self.status is None:
            return self.fail("program did not exit within %ss" % self.timeout)
        code = os.waitstatus_to_exitcode(self.status)
        if want != "any" and code != int(want):
            return self.fail("exit status %d, expected %s" % (code, want))
        return True

    def fail(self, msg):
        sys.stderr.write("ptydrive: %s\n" % msg)
        sys.stderr.write("ptydrive: unconsumed output: %r\n" % self.buf[self.pos:][-2000:])
        return False

    def stop(self):
        if self.pid > 0 and self.status is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                time.sleep(0.2)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass


def main(args):
    timeout, logpath = 20.0, None
    while args and args[0].startswith("--") and args[0] != "--":
        opt = args.pop(0)
        if opt == "--timeout":
            timeout = float(args.pop(0))
        elif opt == "--log":
            logpath = args.pop(0)
        else:
            sys.stderr.write("ptydrive: unknown option %s\n" % opt)
            return 2
    if "--" not in args:
        sys.stderr.write(__doc__)
        return 2
    sep = args.index("--")
    steps, argv = args[:sep], args[sep + 1:]
    rows, cols = 24, 80
    while steps and steps[0].startswith("size:"):
        _, r, c = steps.pop(0).split(":")
        rows, cols = int(r), int(c)
    log = open(logpath, "ab") if logpath else None
    d = Driver(timeout, log)
    d.start(argv, rows, cols)
    ok = True
    try:
        for step in steps:
            kind, _, arg = step.partition(":")
            if kind == "send":
                os.write(d.fd, codecs.decode(arg, "unicode_escape").encode())
            elif kind == "expect":
                ok = d.expect(arg)
            elif kind == "size":
                r, c = arg.split(":")
                set_size(d.fd, int(r), int(c))
            elif kind == "sleep":
                deadline = time.monotonic() + float(arg)
                while time.monotonic() < deadline and d.pump(deadline):
                    pass
            elif kind == "exit":
                ok = d.wait_exit(arg)
            else:
                sys.stderr.write("ptydrive: unknown step %s\n" % step)
                return 2
            if not ok:
                sys.stderr.write("ptydrive: step failed: %s\n" % step)
                return 1
    finally:
        d.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
