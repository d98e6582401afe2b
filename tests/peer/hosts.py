#!/usr/bin/env python3
"""Compare the name dpix prints for a flow (CONNECT target, else TLS SNI)
with nDPI's ground truth (hostname_sni in ndpi-flows.tsv) for every TCP
flow nDPI labels TLS or HTTP_Connect in the peer corpus.

usage: hosts.py DPIX PEER_DIR RULES_DIR [MIN_PERCENT]

Prints each disagreement with its file and endpoints, then the agreement
rate; exits 1 below MIN_PERCENT (default 95). Flows are matched on the
unordered pair of endpoints, since nDPI and dpix may disagree on which side
opened a flow captured mid-stream.
"""
import csv
import ipaddress
import json
import subprocess
import sys
from collections import defaultdict


def endpoint(s):
    """'1.2.3.4:80' or '[2001:db8::1]:443' -> (address, port); addresses are
    compared as values because nDPI and inet_ntop compress IPv6 differently."""
    host, _, port = s.rpartition(":")
    return ipaddress.ip_address(host.strip("[]")), int(port)


def replay(dpix, rules, path):
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
        name = ""
        if ev.get("connect", {}).get("host"):
            name = ev["connect"]["host"]
        elif ev.get("tls", {}).get("sni"):
            name = ev["tls"]["sni"]
        flows[(ev["proto"], key)].append(name)
    return flows


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    dpix, peer, rules = sys.argv[1:4]
    minimum = float(sys.argv[4]) if len(sys.argv) > 4 else 95.0
    wanted = defaultdict(list)
    with open(f"{peer}/ndpi-flows.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            proto = row["ndpi_proto"]
            if row["transport"] == "TCP" and (proto.startswith("TLS") or
                                              proto.startswith("HTTP_Connect")):
                wanted[row["local_file"]].append(row)
    total = agree = 0
    for path in sorted(wanted):
        flows = replay(dpix, rules, f"{peer}/{path}")
        for row in wanted[path]:
            total += 1
            key = ("TCP", frozenset([endpoint(row["client"]), endpoint(row["server"])]))
            want = row["hostname_sni"].lower()
            got = [n.lower() for n in flows.get(key, [])]
            if want in got:
                agree += 1
            else:
                why = "no such flow" if not got else f"dpix {got}"
                print(f"disagree: {path} {row['client']} {row['server']} "
                      f"nDPI {row['ndpi_proto']} '{want}' {row['tunnel'] and 'tunnel ' + row['tunnel']} {why}")
    rate = 100.0 * agree / total if total else 0.0
    print(f"hostname agreement with nDPI: {agree}/{total} flows = {rate:.1f}% (need {minimum}%)")
    sys.exit(0 if total and rate >= minimum else 1)


if __name__ == "__main__":
    main()
