#!/usr/bin/env python3
"""Extract the domain and address tables of the seed documents into fixtures.

Run once per edition of a seed; the fixtures it writes are kept in git
(tests/packs/fixtures/) and tests/packs/completeness.py checks the rule packs
against them. Re-running it on the same seeds must give the same bytes.

    extract-fixtures.py SEED {domains|addresses}   print one fixture
    extract-fixtures.py --write                    (re)write every fixture
    extract-fixtures.py --check                    the cross-checks below
    extract-fixtures.py --verify                   the kept fixtures are what it gives
Options: --seeds DIR (default $DPIX_SEEDS, else ../shared/seeds from the
top of the source tree).

Fixture format: one entry a line, ENTRY<TAB>SERVICE<TAB>SECTION; '#' lines
are comments (the header saying how the file was made). ENTRY is the
domain, IPv4/IPv6 address or CIDR exactly as the document writes it
(lower-cased; see the normalizations below). SERVICE is the tag of the
row's service (the list is SERVICES below). SECTION is the document section
then, for address rows, the row's region as the document labels it
("5 Europe / France"). An entry listed under two services gets two lines; an
entry listed twice under one service gets one line (said on stderr).

How the tables are found
------------------------
The seeds are text extractions of PDF/Word documents; tables are lines of
tab-separated cells, and a table row broken across pages continues on lines
whose first cells are empty.

* 001 (Rainbow Ed 36) and 000 (Ed 12): the section runs from the heading
  "5 Rainbow Domains and IP addresses" (000: "5.4 Domains and IP addresses
  used") to the next heading ("6 Bandwidth requirement"; 000: "5.5
  Bandwidth requirement"). Inside it:
  - domain tables are the tab rows after a header "Used by<TAB>Purpose<TAB>
    Domains"; the third cell holds the names. The service comes from the
    Purpose cell (PURPOSE_SERVICE). A row whose first two cells are empty
    continues the row above (the rtc-* list of 001 spans three pages).
  - address tables are the tab rows after "Services<TAB>Region / Country<TAB>
    Associated IP Addresses"; the first cell names the service (carried
    down while empty), the second the region (carried down while empty), the
    third the addresses.
  - a repeated header line (page break) and a separator row of dashes
    ("--<TAB>--<TAB>---...") do not end a table and are skipped; a blank
    line does not end a table either (001 has blank lines inside rows'
    continuations); the first line without a tab does.
  - in a cell, HTML tags (<p>, <i>, <u>) and parenthesised remarks
    ("(wildcard)", "(France)", "(Canada),") are removed; the words left that
    are domain names, addresses or CIDRs are the entries. Other words
    ("As for Rainbow clients", "and", "Deprecated, valid until ...") are
    dropped; a word that looks like neither and is not in ALLOWED_WORDS
    stops the script.
* 000's TURN row ends with "<u>Deprecated, valid until 31th March
  2019:</u>" and five names; those get the service "turn-deprecated".
* 001 section 3.2 ("3.2 Summary of ports/protocols requirements" to "3.3"):
  the Destination column (last cell) of its three tables gives Rainbow
  domains (openrainbow.com, *.openrainbow.com, openrainbow.io), tagged
  service "rainbow", section "3.2". Not taken from 3.2: "Google FCM
  servers", "Apple APNS servers" (push.rules, which has no seed table),
  "DNS server" and pool.ntp.org (UDP/123 NTP of the Hub SIP devices: no DPI
  exception is asked for it) -- EXCLUDED below.
* 002 (HDS Ed 21): section "5 Domains and IP addresses used" to "6
  Bandwidth requirement", read as 001. Its TURN, conferencing and mail rows
  have no address (the cells are empty in 002 and in 003 alike): nothing is
  extracted for them, and the script says so on stderr.
* 004 (Puzzel): the table after the header "Transport<TAB>Port<TAB>Target
  <TAB>Service<TAB>Direction" (section 6); the Target cell lists addresses
  separated by ", "; the 444 row is broken across a page and continues on a
  line whose first two cells are empty. Rows whose target is ANY (the
  WebRTC dynamic ports to/from any peer) have no entry. 004 names no domain:
  004-domains.txt holds only its header.

Manual corrections (each applied by the code below, by name)
------------------------------------------------------------
* 000 line "Asia / South-Korea<TAB>169.56.161.6<TAB>": the extraction lost
  the (empty) service cell, shifting the row one cell left. The row is read
  as service carried down (TURN Media Relays), region "Asia / South-Korea".
  Rule: in an address table, a row whose first cell is a region (holds
  " / ") and is not a service name is shifted right by one cell.
* 002 "51.83.83.128/27 and 135.125.46.128/27": the word "and" is dropped
  (ALLOWED_WORDS).

Normalizations of extraction noise
----------------------------------
* entries are lower-cased (domain names are case-insensitive; no seed
  writes an address in upper case);
* a trailing "," or ";" is removed from a word (000 separates its TURN
  names with ", "; 004 its addresses);
* nothing else: no address or name is rewritten. The seeds contain no
  broken address (checked: every IPv4/IPv6/CIDR parses with Python's
  ipaddress module, strict host bits; the script stops otherwise).

Cross-checks (--check)
----------------------
* 002 against 003: 003 is another extraction of the same HDS guide with
  its tables flattened to one cell a line. Every domain and address token
  of 003's section 5 (from its "Used by Purpose Domains" line to "6
  Bandwidth requirement") must equal the set extracted from 002, and the
  other way round.
* counts, printed per service and region, to compare by eye with the
  document page by page (the documents give no totals for section 5; 004
  says "two public IP addresses" per server, "two servers ... per
  datacenter", "two datacenters": 8 addresses, checked here).
"""

import ipaddress
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

SEED_FILES = {
    "000": "000_cff9ba43d5b5fec7.txt",
    "001": "001_41d0cb440f275c63.txt",
    "002": "002_f7fea4b860321637.txt",
    "003": "003_619f07236c9b435e.txt",
    "004": "004_604f1cd834d8bf90.txt",
}

SEED_TITLES = {
    "000": "Rainbow Network Requirements, Getting Started Guide, Ed 12, March 2019",
    "001": "Rainbow Network Requirements, Getting Started Guide, Ed 36, May 2025",
    "002": "Rainbow HDS Network Requirements, Ed 21, Nov 2021",
    "004": "Puzzel Digital Engagement: WebRTC, STUN and TURN (2020)",
}

# Section limits: (first line regex, end line regex, section label).
SECTION5 = {
    "000": (r"^5\.4 Domains and IP addresses used$", r"^5\.5 ", "5.4"),
    "001": (r"^5 Rainbow Domains and IP addresses$", r"^6 Bandwidth", "5"),
    "002": (r"^5 Domains and IP addresses used$", r"^6 Bandwidth", "5"),
}

# The Purpose cell of a domain row -> service tag (first match wins).
PURPOSE_SERVICE = [
    ("Resources and APIs", "connectors"),
    ("Resources (website", "web"),
    ("REST API", "api"),
    ("XMPP", "xmpp"),
    ("Documentations and SDKs", "devhub"),
    ("STUN/TURN", "turn"),
    ("WebRTC conferences", "conference"),
    ("File sharing", "files"),
    ("PBX media connection", "webrtc-gw"),
    ("PBX connection", "agent"),
    ("Sandbox", "sandbox"),
    ("mails sent", "mail"),
    ("Device discovery", "device-discovery"),
    ("Signaling and media to establish calls", "cloud-pbx"),
]

# The Services cell of an address row -> service tag.
SERVICES = [
    ("Misc services", "misc"),
    ("Main Load Balancers", "lb"),
    ("TURN Media Relays", "turn"),
    ("Conferencing Media Servers", "conference"),
    ("Mail", "mail"),
    ("Cloud PBX", "cloud-pbx"),
    ("Device discovery service", "device-discovery"),
    ("Connectors endpoints", "connectors"),
    ("Rainbow callback proxy", "callback-proxy"),
]

# Words of table cells that are neither names nor addresses, and expected.
ALLOWED_WORDS = {
    "as", "for", "rainbow", "clients", "and", "deprecated", "valid", "until",
    "31th", "march", "2019:",  # 000: "Deprecated, valid until 31th March 2019:"
}

# Destinations of 001 3.2 that are not Rainbow domains (see the header).
EXCLUDED = {"pool.ntp.org"}

DOMAIN_RE = re.compile(r"^(\*\.)?[a-z0-9_*-]+(\.[a-z0-9_-]+)+$")
SEP_RE = re.compile(r"^[-\t ]+$")


def warn(msg):
    print("extract-fixtures: " + msg, file=sys.stderr)


def die(msg):
    warn(msg)
    sys.exit(2)


def read_seed(seeds, seed):
    with open(os.path.join(seeds, SEED_FILES[seed]), encoding="utf-8") as f:
        return f.read().split("\n")


def section(lines, start_re, end_re):
    """The lines after the heading matching start_re, up to end_re."""
    out, inside = [], False
    for line in lines:
        if not inside:
            inside = re.match(start_re, line) is not None
            continue
        if re.match(end_re, line):
            return out
        out.append(line)
    if not inside:
        die("heading not found: " + start_re)
    die("end of section not found: " + end_re)
    return out


def is_address(word):
    try:
        if "/" in word:
            ipaddress.ip_network(word, strict=True)
        else:
            ipaddress.ip_address(word)
        return True
    except ValueError:
        return False


def cell_words(cell):
    """Names and addresses of a table cell, as written (normalized)."""
    cell = re.sub(r"<[^>]*>", " ", cell)
    cell = re.sub(r"\([^)]*\)", " ", cell)
    out = []
    for w in cell.split():
        w = w.lower().rstrip(",;")
        if not w or w in ALLOWED_WORDS:
            continue
        if re.match(r"^[0-9a-f:.]+(/[0-9]+)?$", w) and any(c.isdigit() for c in w) \
                and ("." in w or ":" in w):
            if not is_address(w):
                die("not an address: %r" % w)
            out.append(w)
        elif DOMAIN_RE.match(w):
            out.append(w)
        else:
            die("unexpected word in a table cell: %r" % w)
    return out


def lookup(table, text, what):
    for key, tag in table:
        if key in text:
            return tag
    die("unknown %s: %r" % (what, text))
    return None


class Fixture:
    def __init__(self):
        self.rows = []
        self.seen = set()

    def add(self, entry, service, sect, quiet=False):
        if (entry, service) in self.seen:
            if not quiet:
                warn("listed twice under %s: %s (%s); kept once" % (service, entry, sect))
            return
        self.seen.add((entry, service))
        self.rows.append((entry, service, sect))


def rainbow_tables(seed, lines):
    """Domain and address fixtures of a Rainbow guide's section 5."""
    start, end, label = SECTION5[seed]
    body = section(lines, start, end)
    doms, addrs = Fixture(), Fixture()
    mode = None
    svc = region = None
    for line in body:
        if line.startswith("Used by\tPurpose\tDomains"):
            mode = "domains"
            continue
        if line.startswith("Services\tRegion / Country\t"):
            mode = "addresses"
            continue
        if not line.strip():
            continue
        if "\t" not in line:
            mode = None
            continue
        if mode is None or SEP_RE.match(line):
            continue
        cells = line.split("\t")
        while len(cells) < 3:
            cells.append("")
        if mode == "domains":
            if cells[0].strip() or cells[1].strip():
                svc = lookup(PURPOSE_SERVICE, cells[1], "purpose")
            elif svc is None:
                die("continuation row before any row: %r" % line)
            # 000's TURN row ends with "<u>Deprecated, valid until 31th March
            # 2019:</u>" and five names: they get service turn-deprecated.
            parts = cells[2].split("<u>Deprecated", 1)
            for n, part in enumerate(parts):
                for w in cell_words(("Deprecated" if n else "") + part):
                    if is_address(w):
                        die("address in a domain table: " + w)
                    doms.add(w, svc + ("-deprecated" if n else ""), label)
        else:
            first = cells[0].strip()
            if " / " in first and not any(k in first for k, _ in SERVICES):
                # Manual correction (000 "Asia / South-Korea"): service cell lost.
                warn("row shifted right (service cell missing): %r" % line)
                cells = [""] + cells
                first = ""
            if first:
                svc = lookup(SERVICES, first, "service")
            if cells[1].strip():
                region = cells[1].strip()
            words = cell_words(cells[2])
            if not words and (first or cells[1].strip()):
                warn("%s %s: row %s / %s has no address" % (seed, label, svc, region))
            for w in words:
                if not is_address(w):
                    die("name in an address table: " + w)
                addrs.add(w, svc, "%s %s" % (label, region))
    return doms, addrs


def summary_domains(lines, doms):
    """001 3.2: the Rainbow domains of the Destination column."""
    body = section(lines, r"^3\.2 Summary of ports/protocols requirements$",
                   r"^3\.3 High-Level")
    for line in body:
        if "\t" not in line or line.startswith("Protocol\t"):
            continue
        cells = line.rstrip("\t").split("\t")
        dest = cells[-1]
        for w in dest.split():
            w = w.lower().rstrip(",;")
            if not DOMAIN_RE.match(w) or "." not in w:
                continue
            if w in EXCLUDED:
                continue
            doms.add(w, "rainbow", "3.2", quiet=True)  # each table repeats them


def puzzel_tables(lines):
    addrs = Fixture()
    mode = False
    svc = "turn"
    rows = []  # the addresses of each port row (the 444 row spans two lines)
    for line in lines:
        if line.startswith("Transport\tPort\tTarget\t"):
            mode = True
            continue
        if not mode or not line.strip():
            continue
        if "\t" not in line:
            break
        cells = line.split("\t")
        target = cells[2] if len(cells) > 2 else ""
        if target.strip() == "ANY":
            continue
        if cells[0].strip() or cells[1].strip():
            rows.append((cells[1].strip(), set()))
        for w in cell_words(target):
            if not is_address(w):
                die("name in 004's table: " + w)
            rows[-1][1].add(w)
            addrs.add(w, svc, "6", quiet=True)  # every port row repeats them
    # Each of the rows for ports 80, 81, 443 and 444 lists the same addresses.
    if [p for p, _ in rows] != ["80", "81", "443", "444"] or \
            any(a != rows[0][1] for _, a in rows):
        die("004: the port rows do not list the same addresses: %r" % rows)
    return Fixture(), addrs


def extract(seeds, seed):
    lines = read_seed(seeds, seed)
    if seed == "004":
        return puzzel_tables(lines)
    doms, addrs = rainbow_tables(seed, lines)
    if seed == "001":
        summary_domains(lines, doms)
    return doms, addrs


def render(seed, kind, fix):
    out = [
        "# %s of seed %s (%s)" % (kind, seed, SEED_TITLES[seed]),
        "# %s, written by tests/packs/extract-fixtures.py (see its header for"
        % SEED_FILES[seed],
        "# how the tables are found and the corrections applied). Do not edit:"
        " re-run it.",
        "# ENTRY<TAB>SERVICE<TAB>SECTION; %d entries." % len(fix.rows),
    ]
    for e, s, sect in fix.rows:
        out.append("%s\t%s\t%s" % (e, s, sect))
    return "\n".join(out) + "\n"


def tokens_003(seeds):
    lines = read_seed(seeds, "003")
    body = section(lines, r"^5 Domains and IP addresses used\s*$", r"^6 Bandwidth")
    i = next(n for n, l in enumerate(body) if l.startswith("Used by Purpose Domains"))
    toks = set()
    for line in body[i:]:
        for w in line.split():
            w = w.lower().rstrip(",;")
            if is_address(w) or (DOMAIN_RE.match(w) and "openrainbow" in w):
                toks.add(w)
    return toks


def check(seeds):
    bad = 0
    d2, a2 = extract(seeds, "002")
    got = {e for e, _, _ in d2.rows} | {e for e, _, _ in a2.rows}
    other = tokens_003(seeds)
    for e in sorted(got - other):
        print("002 has %s, 003 does not" % e)
        bad = 1
    for e in sorted(other - got):
        print("003 has %s, 002 does not" % e)
        bad = 1
    print("002 vs 003: %d entries in 002, %d in 003, %s" %
          (len(got), len(other), "same" if not bad else "DIFFERENT"))
    d4, a4 = extract(seeds, "004")
    n4 = len(a4.rows)
    print("004: %d addresses (document: 2 datacenters x 2 servers x 2 addresses = 8): %s"
          % (n4, "ok" if n4 == 8 else "MISMATCH"))
    bad |= n4 != 8
    for seed in ("000", "001", "002", "004"):
        d, a = extract(seeds, seed)
        for kind, fix in (("domains", d), ("addresses", a)):
            counts = {}
            for _, s, sect in fix.rows:
                counts[(s, sect)] = counts.get((s, sect), 0) + 1
            print("%s %s: %d" % (seed, kind, len(fix.rows)))
            for (s, sect), n in counts.items():
                print("    %-18s %-45s %3d" % (s, sect, n))
    return bad


def main(argv):
    seeds = os.environ.get("DPIX_SEEDS") or os.path.join(TOP, "..", "shared", "seeds")
    args = list(argv)
    if "--seeds" in args:
        i = args.index("--seeds")
        seeds = args[i + 1]
        del args[i:i + 2]
    if args == ["--check"]:
        return check(seeds)
    if args == ["--verify"]:
        # The kept fixtures are what this script gives for the seeds.
        bad = 0
        for seed in ("000", "001", "002", "004"):
            d, a = extract(seeds, seed)
            for kind, fix in (("domains", d), ("addresses", a)):
                path = os.path.join(HERE, "fixtures", "%s-%s.txt" % (seed, kind))
                with open(path, encoding="utf-8") as f:
                    if f.read() != render(seed, kind, fix):
                        print("FAIL: %s differs from what extract-fixtures.py gives"
                              " (re-run it with --write and review the diff)" % path)
                        bad = 1
        return bad
    if args == ["--write"]:
        outdir = os.path.join(HERE, "fixtures")
        os.makedirs(outdir, exist_ok=True)
        for seed in ("000", "001", "002", "004"):
            d, a = extract(seeds, seed)
            for kind, fix in (("domains", d), ("addresses", a)):
                path = os.path.join(outdir, "%s-%s.txt" % (seed, kind))
                with open(path, "w", encoding="utf-8") as f:
                    f.write(render(seed, kind, fix))
                print("wrote %s (%d entries)" % (os.path.relpath(path, TOP), len(fix.rows)))
        return 0
    if len(args) == 2 and args[0] in SEED_TITLES and args[1] in ("domains", "addresses"):
        d, a = extract(seeds, args[0])
        sys.stdout.write(render(args[0], args[1], d if args[1] == "domains" else a))
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
