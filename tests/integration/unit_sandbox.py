#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Read a systemd unit's [Service] settings, and check a trace against them.

  unit_sandbox.py get UNIT KEY          the (last) value of KEY, e.g. ExecStart
  unit_sandbox.py setpriv-caps UNIT     CapabilityBoundingSet as setpriv's
                                        --bounding-set argument
  unit_sandbox.py check-trace UNIT TRACE BINARY
      TRACE is `strace -f -qq -o TRACE` output of the unit's ExecStart run
      by hand.  From the line where BINARY was executed on, every system
      call must be allowed by the unit's SystemCallFilter (an allow list of
      @groups and names, expanded with `systemd-analyze syscall-filter`) and
      every socket() family by RestrictAddressFamilies.  Prints each call or
      family outside them and exits 1 if there is any; otherwise prints how
      many distinct calls it checked.

Used by the package test when the machine runs no systemd to enforce them.
"""
import re
import subprocess
import sys


def unit_values(path, key):
    vals = []
    section = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith(";"):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, v = line.split("=", 1)
                if k.strip() == key:
                    vals.append(v.strip())
    return vals


def get(path, key):
    vals = unit_values(path, key)
    if not vals:
        sys.exit("%s: no %s=" % (path, key))
    return vals[-1]


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                         capture_output=True, text=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.split()[0]
            groups[current] = []
        elif current and line.startswith("    ") and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def expand(names, groups, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            if n not in groups:
                sys.exit("unknown syscall group %s" % n)
            out |= expand(groups[n], groups, seen)
        else:
            out.add(n)
    return out


def check_trace(unit, trace, binary):
    filt = " ".join(unit_values(unit, "SystemCallFilter")).split()
    if not filt or any(f.startswith("~") for f in filt):
        sys.exit("%s: expected SystemCallFilter= as an allow list" % unit)
    allowed = expand(filt, syscall_groups())
    families = set(" ".join(unit_values(unit, "RestrictAddressFamilies")).split())
    started = False
    used, bad_calls, bad_families = set(), set(), set()
    call = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_][a-z0-9_]*)(?:\(| resumed>)")
    with open(trace, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not started:
                if re.match(r'^\d+\s+execve\("' + re.escape(binary) + r'".* = 0', line):
                    started = True
                continue
            m = call.match(line)
            if not m:
                continue
            name = m.group(1)
            used.add(name)
            if name not in allowed:
                bad_calls.add(name)
            if name == "socket" and families:
                fam = re.match(r"^\d+\s+socket\((AF_[A-Z0-9]+)", line)
                if fam and fam.group(1) not in families:
                    bad_families.add(fam.group(1))
    if not started:
        sys.exit("%s: %s was never executed" % (trace, binary))
    for n in sorted(bad_calls):
        print("system call %s is not allowed by SystemCallFilter=%s" % (n, " ".join(filt)))
    for fam in sorted(bad_families):
        print("socket family %s is not in RestrictAddressFamilies=%s" % (fam, " ".join(sorted(families))))
    if bad_calls or bad_families:
        return 1
    print("%d distinct system calls, all allowed: %s" % (len(used), " ".join(sorted(used))))
    return 0


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "get":
        print(get(a[1], a[2]))
        return 0
    if len(a) == 2 and a[0] == "setpriv-caps":
        caps = get(a[1], "CapabilityBoundingSet").split()
        print(",".join(["-all"] + ["+" + c.lower().removeprefix("cap_") for c in caps]))
        return 0
    if len(a) == 4 and a[0] == "check-trace":
        return check_trace(a[1], a[2], a[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
