#!/usr/bin/env python3
"""Compare dpix with nDPI's per-flow ground truth (ndpi-flows.tsv) over the
peer corpus, on two questions:

  names  for every TCP flow nDPI labels TLS or HTTP_Connect: is the name
         nDPI found (SNI or CONNECT host) the name dpix prints (the CONNECT
         target, else the TLS SNI)?
  apps   for every flow nDPI labels STUN, TURN, DTLS, TLS, HTTP_Connect,
         WebSocket or ApplePush: is dpix's app_proto the same protocol?

usage: compare.py DPIX PEER_DIR RULES_DIR DOC [NAMES_MIN] [APPS_MIN]

Prints every disagreement as one line starting with its key
("FILE CLIENT SERVER"), then each agreement rate. Exits 1 when a rate is
below its minimum (defaults 95 and 98) or when a disagreement is not listed
in DOC (docs/peer-agreement.md): each must be explained there, by key.

Flows are matched on transport and the unordered pair of endpoints, since
nDPI and dpix may disagree on which side opened a flow captured mid-stream.
nDPI names a protocol as MASTER.APP (TLS.Amazon); the master is compared.
"""
import csv
import ipaddress
import json
import subprocess
import sys
from collections import defaultdict

# nDPI master protocol -> the app_proto dpix should report.
APPS = {
    "TLS": "tls",
    "STUN": "stun",
    "TURN": "stun",
    "DTLS": "dtls",
    "HTTP_Connect": "connect",
    "WebSocket": "websocket",
    "ApplePush": "tls",
}


def endpoint(s):
    """'1.2.3.4:80' or '[2001:db8::1]:443' -> (address, port); addresses are
    compared as values because nDPI and inet_ntop compress IPv6 differently.
    nDPI prints some IPv6 addresses wrongly (2600:1900:4160:5999:0:19:: as
    2600:1900:4160:5999::19::): such an address is None, a wildcard."""
    host, _, port = s.rpartition(":")
    try:
        return ipaddress.ip_address(host.strip("[]")), int(port)
    except ValueError:
        return None, int(port)


def lookup(flows, transport, a, b):
    """dpix's events for the flow between endpoints a and b."""
    if a[0] is not None and b[0] is not None:
        return flows.get((transport, frozenset([a, b])), [])
    return [ev for (proto, key), evs in flows.items() if proto == transport
            for ev in evs
            if all(any(e[1] == k[1] and e[0] in (None, k[0]) for k in key) for e in (a, b))]


def replay(dpix, rules, path):
    """Every dpix event of one capture, by (proto, endpoint pair)."""
    out = subprocess.run([dpix, "replay", "-q", "--format", "eve", path],
                         capture_output=True, text=True,
                         env={"DPIX_RULES_DIR": rules})
    if out.returncode not in (0, 1) or "runtime error" in out.stderr \
            or "Sanitizer" in out.stderr:
        sys.exit(f"FAIL: dpix replay {path} exited {out.returncode}: {out.stderr[:500]}")
    flows = defaultdict(list)
    for line in out.stdout.splitlines():
        ev = json.loads(line)
        key = frozenset([(ipaddress.ip_address(ev["src_ip"]), ev["src_port"]),
                         (ipaddress.ip_address(ev["dest_ip"]), ev["dest_port"])])
        flows[(ev["proto"], key)].append(ev)
    return flows


def name_of(ev):
    return (ev.get("connect", {}).get("host") or ev.get("tls", {}).get("sni") or "").lower()


def push_of(ev):
    return ev.get("push", {}).get("service", "")


class Tally:
    def __init__(self, what, minimum):
        self.what, self.minimum = what, minimum
        self.total = self.agree = 0

    def add(self, ok):
        self.total += 1
        self.agree += ok

    def passed(self):
        rate = 100.0 * self.agree / self.total if self.total else 0.0
        print(f"{self.what} agreement with nDPI: {self.agree}/{self.total} flows "
              f"= {rate:.1f}% (need {self.minimum}%)")
        return self.total > 0 and rate >= self.minimum


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    dpix, peer, rules, doc = sys.argv[1:5]
    names = Tally("name", float(sys.argv[5]) if len(sys.argv) > 5 else 95.0)
    apps = Tally("app_proto", float(sys.argv[6]) if len(sys.argv) > 6 else 98.0)
    with open(doc) as f:
        explained = f.read()

    wanted = defaultdict(list)
    with open(f"{peer}/ndpi-flows.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            # A label nDPI guessed (by port or address) is no ground truth.
            if row["ndpi_proto"].split(".")[0] in APPS and \
                    row["ndpi_confidence"].startswith("DPI"):
                wanted[row["local_file"]].append(row)

    unexplained = 0
    for path in sorted(wanted):
        flows = replay(dpix, rules, f"{peer}/{path}")
        for row in wanted[path]:
            master = row["ndpi_proto"].split(".")[0]
            evs = lookup(flows, row["transport"], endpoint(row["client"]),
                         endpoint(row["server"]))
            got_apps = sorted({ev["app_proto"] for ev in evs})
            problems = []

            want = APPS[master]
            ok = want in got_apps
            if ok and master == "ApplePush":
                ok = any(push_of(ev) == "apns" for ev in evs)
            apps.add(ok)
            if not ok:
                problems.append(f"app_proto: nDPI {row['ndpi_proto']} ({row['ndpi_confidence']}), dpix "
                                f"{','.join(got_apps) or 'no such flow'}"
                                + (" (no push fact)" if want in got_apps else ""))

            if row["transport"] == "TCP" and master in ("TLS", "HTTP_Connect"):
                want_name = row["hostname_sni"].lower()
                got_names = sorted({name_of(ev) for ev in evs})
                ok = want_name in got_names
                names.add(ok)
                if not ok:
                    problems.append(f"name: nDPI '{want_name}', dpix {got_names}")

            if problems:
                k = f"{path} {row['client']} {row['server']}"
                listed = k in explained
                unexplained += not listed
                tunnel = f" (tunnel {row['tunnel']})" if row["tunnel"] else ""
                print(f"{k}{tunnel}: {'; '.join(problems)}"
                      f"{'' if listed else '  <- not in ' + doc}")

    ok = names.passed() & apps.passed()
    if unexplained:
        print(f"{unexplained} disagreements not explained in {doc}")
    sys.exit(0 if ok and not unexplained else 1)


if __name__ == "__main__":
    main()
