#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Do the man pages cover what the product accepts?

  man_coverage.py SRC_DIR MAN_DIR HELP_FILE SHELL_HELP_JSON

Collects
  - every configuration key: the key lists handed to cfg_keys() in the C
    files under broker/ (section = the call's "what" argument when it is a
    string literal: "" for the top level, "ldap", "limits", ...),
  - every policy key: the key lists handed to pp_keys() under policies/,
  - every subcommand in `drawbridge --help` (HELP_FILE, the "commands:" block),
  - every shell command `help --json` lists (SHELL_HELP_JSON),
and checks that each is documented:
  - a configuration key K of section S is an ".It Cm K" item inside the
    ".Ss S" subsection of drawbridge.yaml.5 (".Ss Top-level keys" for S ""),
    or anywhere in the page when S is not a literal;
  - a policy key is an ".It Cm K" item of drawbridge-policy.5;
  - a subcommand C is an ".It Cm C" item of drawbridge.8;
  - a shell command C is an ".It Ic C" item of drawbridge-shell.7.
Prints one line per missing item and exits 1 if any; prints what it
checked otherwise.  A key list it cannot read is an error too, so that a
new way of writing one cannot make the check silently pass.
"""
import json
import os
import re
import sys

TOP = "Top-level keys"


def c_files(root):
    for d, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith(".c"):
                yield os.path.join(d, f)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def key_lists(root, func, problems):
    """[(section or None, [keys], where)] for every call func(x, y, WHAT, ARRAY)."""
    out = []
    call = re.compile(func + r"\s*\(\s*[^,()]+,\s*[^,()]+,\s*(\"[^\"]*\"|[A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)\s*\)")
    for path in c_files(root):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = strip_comments(f.read())
        for m in call.finditer(text):
            what, array = m.group(1), m.group(2)
            # the nearest definition of that array before the call
            defs = list(re.finditer(r"\b" + re.escape(array) + r"\s*\[\s*\]\s*=\s*\{([^}]*)\}",
                                    text[:m.start()]))
            line = text.count("\n", 0, m.start()) + 1
            where = "%s:%d" % (os.path.relpath(path, os.path.dirname(root)), line)
            if not defs:
                problems.append("%s: cannot find the key list %s handed to %s()" % (where, array, func))
                continue
            keys = re.findall(r"\"([^\"]+)\"", defs[-1].group(1))
            if not keys:
                problems.append("%s: the key list %s holds no keys" % (where, array))
                continue
            section = what[1:-1] if what.startswith('"') else None
            out.append((section, keys, where))
    return out


def man_items(path, macro):
    """{subsection title: set of item names}, plus "*" for the whole page."""
    items = {"*": set()}
    current = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".Sh ") or line.startswith(".Ss "):
                current = line[4:].strip()
                items.setdefault(current, set())
                continue
            m = re.match(r"\.It " + macro + r" (\S+)", line)
            if m:
                name = m.group(1)
                items["*"].add(name)
                if current is not None:
                    items[current].add(name)
    return items


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    src, man, help_file, shell_json = sys.argv[1:]
    problems, missing, checked = [], [], []

    page = os.path.join(man, "drawbridge.yaml.5")
    items = man_items(page, "Cm")
    for section, keys, where in key_lists(os.path.join(src, "broker"), "cfg_keys", problems):
        title = TOP if section == "" else section
        for k in keys:
            name = k if section in ("", None) else "%s.%s" % (section, k)
            checked.append("config " + name)
            if section is None:
                if k not in items["*"]:
                    missing.append("drawbridge.yaml(5): configuration key %s (%s) is not documented" % (k, where))
            elif title not in items:
                missing.append("drawbridge.yaml(5): no subsection \".Ss %s\" for the configuration keys of %s (%s)" % (title, section, where))
                break
            elif k not in items[title]:
                missing.append("drawbridge.yaml(5): configuration key %s (%s) is not an \".It Cm %s\" item under \".Ss %s\"" % (name, where, k, title))

    page = os.path.join(man, "drawbridge-policy.5")
    items = man_items(page, "Cm")
    for _, keys, where in key_lists(os.path.join(src, "policies"), "pp_keys", problems):
        for k in keys:
            checked.append("policy " + k)
            if k not in items["*"]:
                missing.append("drawbridge-policy(5): policy key %s (%s) is not an \".It Cm %s\" item" % (k, where, k))

    page = os.path.join(man, "drawbridge.8")
    items = man_items(page, "Cm")
    with open(help_file, encoding="utf-8") as f:
        text = f.read()
    block = text.split("commands:", 1)[1].split("\n\n", 1)[0] if "commands:" in text else ""
    subcommands = re.findall(r"^  ([a-z][a-z0-9-]*)\b", block, flags=re.M)
    if not subcommands:
        problems.append("%s: no commands found in `drawbridge --help`" % help_file)
    for c in subcommands:
        checked.append("subcommand " + c)
        if c not in items["*"]:
            missing.append("drawbridge(8): subcommand %s (drawbridge --help) is not an \".It Cm %s\" item" % (c, c))

    page = os.path.join(man, "drawbridge-shell.7")
    items = man_items(page, "Ic")
    with open(shell_json, encoding="utf-8") as f:
        commands = [e["name"] for e in json.load(f)]
    if not commands:
        problems.append("%s: `help --json` listed no commands" % shell_json)
    for c in commands:
        checked.append("shell " + c)
        if c not in items["*"]:
            missing.append("drawbridge-shell(7): shell command %s (help) is not an \".It Ic %s\" item" % (c, c))

    for p in problems + missing:
        print(p)
    if problems or missing:
        return 1
    print("documented: %d items (%s)" % (len(checked), ", ".join(checked)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
