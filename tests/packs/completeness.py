#!/usr/bin/env python3
"""Check that the shipped rule packs hold their documents' tables, and only them.

    completeness.py [RULES_DIR [FIXTURES_DIR]]

For each pack of RULES_DIR (default: rules/ of the source tree) this reads
the entries of its domains, patterns and addresses sets, and compares them
with the fixtures of the pack's source document (tests/packs/fixtures/
<seed>-domains.txt and <seed>-addresses.txt, written by extract-fixtures.py
from the seed's tables). PACK_SEED says which seed each pack follows; a
pack that is not listed there fails the test (so a new pack cannot go
unchecked).

The rules
---------
1. Every fixture entry must be in the pack:
   - a domain: as an exact entry of a domains set (compared without
     regard to case or a trailing dot), or covered by a domains or
     patterns entry that carries a "covers:" comment on its line (a
     wildcard *.D covers every name below D, glob patterns included; a
     leftmost-label glob such as rtc-*.D covers the one-label names below D
     whose first label it matches; a pattern covers the names it matches);
   - an address or CIDR: as an exact entry (compared as addresses:
     2001:DB8::/32 equals 2001:db8::/32) of an addresses set whose name
     carries the entry's service as a dash-separated part (a "turn" entry
     in rainbow-turn-addresses; "cloud-pbx" in rainbow-cloud-pbx-addresses),
     or inside a CIDR entry of such a set that carries a "covers:" comment.
   Domain sets are not bound to a service by name: they are grouped by the
   rules that use them (TURN, agent, ...), and the pack's comments say
   which table row each name comes from.
2. Every entry of the pack's domains, patterns and addresses sets must be
   a fixture entry of its document (compared as above), unless it is
   excused: a comment containing "not in seed:" (and the reason after it)
   on the entry's line, or in the comment lines right above the entry (no
   blank line between), or on or right above the line of the set statement
   that holds it. Entries of ports sets are not checked (the fixtures hold
   no ports).
3. Sets named twice in a pack, empty sets, and entries that do not read as
   a domain pattern, regex or address fail too.

Reading the packs follows doc/dpix.rules.5 (lexical rules) and the version
2 language: line-oriented statements; "#" starts a comment outside a
quoted string; words; double-quoted strings with \\" and \\\\; "{", "}"
and "=" are tokens; a set is `KIND NAME = ENTRY...` (one line), `KIND
NAME { ENTRY ... }` (across lines) or `KIND NAME from "FILE"` (a list
file, one entry a line, "#" comments, relative to the pack's directory);
`include "FILE"` reads another file in place (depth at most 8, no cycle);
rules, one line or a `{ }` block, are skipped.

Prints each problem, then a summary per pack; exits 1 on any problem, 2 on
a usage or reading error.
"""

import fnmatch
import ipaddress
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

# Pack name -> the seed whose tables it follows (None: no seed table; then
# every entry needs a "not in seed:" comment).
PACK_SEED = {
    "rainbow": "001",
    "rainbow-hds": "002",
    "puzzel": "004",
    "push": None,
}

SET_KINDS = ("domains", "patterns", "addresses", "ports")
EXCUSE = "not in seed:"
COVERS = "covers:"


class PackError(Exception):
    pass


# ---------------------------------------------------------------- lexer

def tokenize(path):
    """Lines of a pack file as (lineno, tokens, comment).

    tokens: list of (kind, text) with kind 'word', 'string' or one of
    '{', '}', '='. comment: the text after '#', or ''.
    """
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        raise PackError("%s: contains a NUL byte: not a text file" % path)
    text = data.decode("utf-8", errors="surrogateescape")
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        toks, comment, i, n = [], "", 0, len(line)
        while i < n:
            c = line[i]
            if c in " \t\r":
                i += 1
            elif c == "#":
                comment = line[i + 1:]
                break
            elif c in "{}=":
                toks.append((c, c))
                i += 1
            elif c == '"':
                i += 1
                s = []
                while True:
                    if i >= n:
                        raise PackError("%s:%d: unterminated string" % (path, lineno))
                    c = line[i]
                    if c == "\\" and i + 1 < n and line[i + 1] in '"\\':
                        s.append(line[i + 1])
                        i += 2
                    elif c == '"':
                        i += 1
                        break
                    else:
                        s.append(c)
                        i += 1
                toks.append(("string", "".join(s)))
            else:
                j = i
                while j < n and line[j] not in ' \t\r#{}="':
                    j += 1
                toks.append(("word", line[i:j]))
                i = j
        out.append((lineno, toks, comment))
    return out


# ---------------------------------------------------------------- parser

class Entry:
    def __init__(self, kind, setname, value, where, comments):
        self.kind = kind
        self.set = setname
        self.value = value
        self.where = where          # "file:line"
        self.comments = comments    # comment texts that apply to it

    def has(self, mark):
        return any(mark in c for c in self.comments)


def comments_above(lines, idx):
    """Comments of the comment-only lines right above lines[idx]."""
    out = []
    k = idx - 1
    while k >= 0:
        _, toks, comment = lines[k]
        if toks or not comment:
            break
        out.append(comment)
        k -= 1
    return out


def read_list_file(path):
    vals = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                vals.append((line, lineno))
    return vals


def parse_pack(path, entries, sets, depth=0, stack=()):
    """Append the set entries of a pack file (and its includes)."""
    real = os.path.realpath(path)
    if real in stack:
        raise PackError("%s: include cycle" % path)
    if depth > 8:
        raise PackError("%s: includes nested deeper than 8" % path)
    lines = tokenize(path)
    base = os.path.dirname(path)
    name = None
    i = 0
    while i < len(lines):
        lineno, toks, comment = lines[i]
        if not toks:
            i += 1
            continue
        head = toks[0][1] if toks[0][0] == "word" else None
        if head == "pack" and len(toks) > 1:
            name = toks[1][1]
        if head == "include":
            if len(toks) != 2 or toks[1][0] != "string":
                raise PackError("%s:%d: include needs a quoted path" % (path, lineno))
            parse_pack(os.path.join(base, toks[1][1]), entries, sets,
                       depth + 1, stack + (real,))
            i += 1
            continue
        if head == "rule":
            # One line, or a block from '{' to the '}' closing it.
            if toks[-1][0] == "{":
                i += 1
                while i < len(lines) and not any(t[0] == "}" for t in lines[i][1]):
                    i += 1
            i += 1
            continue
        if head not in SET_KINDS:
            i += 1
            continue
        kind = head
        if len(toks) < 3 or toks[1][0] != "word":
            raise PackError("%s:%d: bad %s statement" % (path, lineno, kind))
        setname = toks[1][1]
        if setname in sets:
            raise PackError("%s:%d: set %s defined twice" % (path, lineno, setname))
        sets[setname] = kind
        set_comments = [comment] + comments_above(lines, i)
        n_before = len(entries)
        if toks[2][0] == "=":
            for t in toks[3:]:
                if t[0] != "word" and not (kind == "patterns" and t[0] == "string"):
                    raise PackError("%s:%d: unexpected %r" % (path, lineno, t[1]))
                entries.append(Entry(kind, setname, t[1], "%s:%d" % (path, lineno),
                                     set_comments))
            i += 1
        elif toks[2][0] == "{":
            body = toks[3:]
            j = i
            while True:
                closing = [k for k, t in enumerate(body) if t[0] == "}"]
                lno = lines[j][0]
                own = [lines[j][2]] + comments_above(lines, j) if j != i else []
                for t in body[:closing[0]] if closing else body:
                    if t[0] in "{=":
                        raise PackError("%s:%d: unexpected %r" % (path, lno, t[1]))
                    entries.append(Entry(kind, setname, t[1], "%s:%d" % (path, lno),
                                         own + set_comments))
                if closing:
                    break
                j += 1
                if j >= len(lines):
                    raise PackError("%s:%d: set %s: no closing }" % (path, lineno, setname))
                body = lines[j][1]
            i = j + 1
        elif toks[2] == ("word", "from") and len(toks) == 4 and toks[3][0] == "string":
            lf = os.path.join(base, toks[3][1])
            for v, lno in read_list_file(lf):
                entries.append(Entry(kind, setname, v, "%s:%d" % (lf, lno), set_comments))
            i += 1
        else:
            raise PackError("%s:%d: bad %s statement" % (path, lineno, kind))
        if len(entries) == n_before:
            raise PackError("%s:%d: set %s is empty" % (path, lineno, setname))
    return name


# ---------------------------------------------------------------- matching

def norm_name(s):
    return s.lower().rstrip(".")


def as_net(s):
    try:
        return ipaddress.ip_network(s, strict=True)
    except ValueError:
        return None


def domain_covers(pattern, name):
    """Does the domains pattern match every name the fixture entry stands for?"""
    p, n = norm_name(pattern), norm_name(name)
    if p == n:
        return True
    if p.startswith("*."):
        return n.endswith(p[1:]) and n != p[2:]
    plabels, nlabels = p.split("."), n.split(".")
    if "*" in plabels[0]:
        return plabels[1:] == nlabels[1:] and fnmatch.fnmatchcase(nlabels[0], plabels[0])
    return False


def svc_in_set(service, setname):
    return "-%s-" % service in "-%s-" % setname


def read_fixture(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            while len(cells) < 3:
                cells.append("")
            rows.append(tuple(cells[:3]))
    return rows


def check_pack(path, fixdir, out):
    entries, sets = [], {}
    name = parse_pack(path, entries, sets)
    if name not in PACK_SEED:
        out.append("%s: pack %r has no seed in completeness.py's PACK_SEED" % (path, name))
        return name, entries, sets
    seed = PACK_SEED[name]
    fdoms, faddrs = [], []
    if seed:
        fdoms = read_fixture(os.path.join(fixdir, "%s-domains.txt" % seed))
        faddrs = read_fixture(os.path.join(fixdir, "%s-addresses.txt" % seed))

    for e in entries:
        if e.kind == "addresses" and as_net(e.value) is None:
            out.append("%s: %s: not an address or CIDR (host bits set?)" % (e.where, e.value))
        if e.kind == "domains" and not re.match(r"^[A-Za-z0-9_*.-]+$", e.value):
            out.append("%s: %s: not a domain pattern" % (e.where, e.value))
        if e.kind == "patterns":
            try:
                re.compile(e.value)
            except re.error as err:
                out.append("%s: %s: bad regex (%s)" % (e.where, e.value, err))

    # 1. fixture -> pack
    names = [e for e in entries if e.kind == "domains"]
    pats = [e for e in entries if e.kind == "patterns"]
    addrs = [e for e in entries if e.kind == "addresses" and as_net(e.value)]
    for entry, service, sect in fdoms:
        n = norm_name(entry)
        if any(norm_name(e.value) == n for e in names):
            continue
        if any(e.has(COVERS) and domain_covers(e.value, entry) for e in names):
            continue
        if any(e.has(COVERS) and re.fullmatch(e.value, entry, re.I) for e in pats):
            continue
        out.append("MISSING from %s: domain %s (%s, seed %s section %s)"
                   % (path, entry, service, seed, sect))
    for entry, service, sect in faddrs:
        net = as_net(entry)
        if net is None:
            out.append("fixture %s-addresses.txt: %s is not an address" % (seed, entry))
            continue
        mine = [e for e in addrs if svc_in_set(service, e.set)]
        if any(as_net(e.value) == net for e in mine):
            continue
        if any(e.has(COVERS) and as_net(e.value).version == net.version
               and net.subnet_of(as_net(e.value)) for e in mine):
            continue
        other = sorted({e.set for e in addrs if as_net(e.value) == net})
        where = " (only in %s, not a %s set)" % (", ".join(other), service) if other else ""
        out.append("MISSING from %s: %s address %s (seed %s section %s)%s"
                   % (path, service, entry, seed, sect, where))

    # 2. pack -> fixture
    fnames = {norm_name(e) for e, _, _ in fdoms}
    fnets = {as_net(e) for e, _, _ in faddrs} - {None}
    for e in entries:
        if e.kind == "ports" or e.has(EXCUSE):
            continue
        if e.kind == "domains" and norm_name(e.value) in fnames:
            continue
        if e.kind == "addresses" and as_net(e.value) in fnets:
            continue
        doc = "seed %s's tables" % seed if seed else "any seed table"
        out.append("EXTRA in %s: %s %s (set %s) is not in %s and has no '%s' comment"
                   % (e.where, e.kind, e.value, e.set, doc, EXCUSE))
    return name, entries, sets


def main(argv):
    rules = argv[0] if len(argv) > 0 else os.path.join(TOP, "rules")
    fixdir = argv[1] if len(argv) > 1 else os.path.join(HERE, "fixtures")
    packs = sorted(f for f in os.listdir(rules) if f.endswith(".rules"))
    if not packs:
        print("completeness: no *.rules in %s" % rules, file=sys.stderr)
        return 2
    problems, summary, seen = [], [], set()
    for f in packs:
        try:
            name, entries, sets = check_pack(os.path.join(rules, f), fixdir, problems)
        except (PackError, OSError) as err:
            print("completeness: %s" % err, file=sys.stderr)
            return 2
        seen.add(name)
        kinds = {}
        for e in entries:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        excused = sum(1 for e in entries if e.kind != "ports" and e.has(EXCUSE))
        summary.append("%-12s %-18s seed %-4s %2d sets, %s; %d excused (not in seed)"
                       % (name, f, PACK_SEED.get(name) or "-", len(sets),
                          ", ".join("%d %s" % (kinds[k], k) for k in sorted(kinds)),
                          excused))
    for name in sorted(set(PACK_SEED) - seen):
        problems.append("pack %s of PACK_SEED is not in %s" % (name, rules))
    for p in problems:
        print(p)
    for s in summary:
        print(s)
    if problems:
        print("FAIL: %d problem(s)" % len(problems))
        return 1
    print("ok: every table entry of the seeds is in its pack, and every pack entry"
          " is in its seed or says why not")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
