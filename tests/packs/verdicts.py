#!/usr/bin/env python3
"""What the shipped packs do to one flow of each kind they name.

    DPIX=path/to/dpix verdicts.py [RULES_DIR]

Writes a capture of synthetic flows (stdlib only: Ethernet, IPv4/IPv6,
a TCP handshake then the client's first bytes, or one UDP datagram), replays
it with every pack of RULES_DIR (default rules/ of the source tree), and
compares each flow's rule with the one expected below: a flow per rule of
the packs, and the near misses that must stay inspected (a TURN name on
another port, 5223 without Apple's name or addresses, an FCM port without
an FCM name, TLS without a name to Apple's 17.0.0.0/8 on 443). Exits 77
when DPIX is not set, 1 on any difference.
"""
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile

# ---------------------------------------------------------------- capture


def ether(v6):
    return b"\x02" * 6 + b"\x04" * 6 + (b"\x86\xdd" if v6 else b"\x08\x00")


def ip(src, dst, proto, payload):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 6:
        return struct.pack("!IHBB", 0x60000000, len(payload), proto, 64) + s.packed + d.packed + payload
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, s.packed, d.packed)
    sm = sum(struct.unpack("!10H", h))
    sm = (sm >> 16) + (sm & 0xFFFF)
    sm += sm >> 16
    return h[:10] + struct.pack("!H", ~sm & 0xFFFF) + h[12:] + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0) + payload


class Pcap:
    def __init__(self):
        self.packets = []
        self.t = 1700000000.0

    def add(self, src, dst, proto, l4):
        self.t += 0.001
        self.packets.append((self.t, ether(":" in src) + ip(src, dst, proto, l4)))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, b in self.packets:
                f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(b), len(b)) + b)


def client_hello(sni=None):
    """A TLS 1.3 ClientHello, with or without a server name."""
    ext = b""
    if sni:
        n = sni.encode()
        names = b"\x00" + struct.pack("!H", len(n)) + n
        body = struct.pack("!H", len(names)) + names
        ext += struct.pack("!HH", 0, len(body)) + body
    ext += struct.pack("!HH", 0x2B, 3) + b"\x02\x03\x04"
    hs = (b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
          + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(hs))[1:] + hs
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def connect(target):
    return ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode()


STUN = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + b"\x22" * 12  # Binding request
OK = b"HTTP/1.1 200 Connection established\r\n\r\n"
CLIENT, CLIENT6, PROXY = "10.0.0.2", "2001:db8::2", "192.0.2.1"

pcap = Pcap()
cases = []  # (what, expected rule or "-"), in the order of the flows


def udp_case(dst, dport, expect, what):
    sport = 40000 + len(cases)
    pcap.add(CLIENT, dst, 17, udp(sport, dport, STUN))
    cases.append(("UDP %s:%d %s" % (dst, dport, what), expect))


def tcp_case(dst, dport, data, expect, what, reply=b"", src=CLIENT):
    sport = 40000 + len(cases)
    pcap.add(src, dst, 6, tcp(sport, dport, 1000, 0, 0x02))
    pcap.add(dst, src, 6, tcp(dport, sport, 5000, 1001, 0x12))
    pcap.add(src, dst, 6, tcp(sport, dport, 1001, 5001, 0x10))
    pcap.add(src, dst, 6, tcp(sport, dport, 1001, 5001, 0x18, data))
    if reply:
        pcap.add(dst, src, 6, tcp(dport, sport, 5001, 1001 + len(data), 0x18, reply))
    cases.append(("TCP %s:%d %s" % (dst, dport, what), expect))


# rainbow (seed 001)
udp_case("169.44.201.11", 3478, "rainbow-turn-udp", "STUN to a TURN relay (4.6.1)")
udp_case("198.51.100.9", 3478, "-", "STUN to an unknown server")
udp_case("144.217.75.16", 50000, "rainbow-conference-media", "media to a conference server (4.1)")
udp_case("5.135.97.100", 30000, "rainbow-hub-media", "media to the Hub cloud PBX (4.7)")
tcp_case(PROXY, 3128, connect("169.44.201.11:443"), "rainbow-turn-connect-ip",
         "CONNECT to a TURN IP literal (4.1 Note2)", OK)
tcp_case(PROXY, 3128, connect("169.44.201.11:8080"), "-", "CONNECT to a TURN IP, port 8080", OK)
tcp_case(PROXY, 3128, connect("turn-rbx1.openrainbow.com:8443"), "-",
         "CONNECT to a TURN name, port 8443", OK)
tcp_case(PROXY, 3128, connect("turn-vin3.openrainbow.com:80"), "rainbow-turn-connect",
         "CONNECT to a TURN name, port 80 (4.6.1)", OK)
tcp_case(PROXY, 3128, connect("agent.openrainbow.com:443"), "rainbow-agent",
         "CONNECT to the agent (7.2)", OK)
tcp_case("203.0.113.8", 443, client_hello("agent.openrainbow.com"), "rainbow-agent",
         "TLS to the agent (7.2)")
tcp_case("203.0.113.9", 5061, client_hello("pbx1.eu1.sip.openrainbow.com"), "rainbow-hub-sip",
         "SIP-TLS to a Hub entry point (4.7)")
tcp_case("178.32.125.32", 443, client_hello(), "rainbow-lb", "TLS without a name to a load balancer")
tcp_case("135.148.197.17", 443, client_hello(), "rainbow-device-discovery",
         "TLS without a name to device discovery (inside the misc /26)")
tcp_case("135.148.197.40", 443, client_hello(), "rainbow-misc-tcp", "TLS without a name to a misc address")
tcp_case("141.94.145.100", 443, client_hello(), "rainbow-connectors", "TLS to the connectors' /28")
tcp_case("178.33.41.118", 443, client_hello(), "rainbow-callback-proxy", "TLS to the callback proxy")
# rainbow-hds (seed 002)
tcp_case(PROXY, 3128, connect("turn1.openrainbow.health:80"), "rainbow-hds-turn-connect",
         "CONNECT to an HDS TURN name (8.2)", OK)
tcp_case("51.83.83.130", 443, client_hello(), "rainbow-hds-lb", "TLS to an HDS load balancer")
tcp_case("203.0.113.10", 443, client_hello("web.openrainbow.health"), "rainbow-hds-wss", "TLS to HDS web")
# puzzel (seed 004)
udp_case("194.54.166.44", 443, "puzzel-stun-udp", "STUN to Puzzel on 443")
udp_case("194.54.166.44", 3478, "-", "STUN to Puzzel on 3478 (not in its table)")
tcp_case(PROXY, 3128, connect("46.21.96.238:443"), "puzzel-turn-connect", "CONNECT to a Puzzel address", OK)
# push
tcp_case("17.57.144.10", 5223, client_hello("1-courier.push.apple.com"), "push-apns", "APNS")
tcp_case("2620:149:a44::10", 5223, client_hello("1-courier.push.apple.com"), "push-apns",
         "APNS over IPv6", src=CLIENT6)
tcp_case("203.0.113.5", 5223, client_hello("jabber.example.org"), "-", "Jabber on 5223")
tcp_case("17.57.144.10", 5223, client_hello("jabber.example.org"), "push-apns-ip",
         "5223 to Apple without an Apple name")
tcp_case("17.1.2.3", 443, client_hello(), "-", "TLS without a name to Apple on 443")
tcp_case("142.250.4.188", 5228, client_hello("mtalk.google.com"), "push-fcm", "FCM")
tcp_case("203.0.113.7", 5228, client_hello("example.com"), "-", "5228 without an FCM name")
tcp_case("142.250.4.188", 443, client_hello("alt3-mtalk.google.com"), "push-fcm-443", "FCM on 443")


# ---------------------------------------------------------------- replay


def main(argv):
    dpix = os.environ.get("DPIX")
    if not dpix:
        print("SKIP: DPIX is not set")
        return 77
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rules = argv[0] if argv else os.path.join(top, "rules")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cases.pcap")
        pcap.write(path)
        run = subprocess.run([dpix, "replay", "-q", "--format", "eve", path],
                             capture_output=True, text=True,
                             env=dict(os.environ, DPIX_RULES_DIR=rules))
    if run.returncode != 0:
        print("FAIL: dpix exited %d: %s" % (run.returncode, run.stderr.strip()))
        return 1
    got = {}
    timeouts = {}
    for line in run.stdout.splitlines():
        j = json.loads(line)
        got[j["src_port"] - 40000] = j["verdict"].get("rule", "-")
        timeouts[j["verdict"].get("rule", "-")] = j["verdict"].get("timeout")
    bad = 0
    # The conntrack timeouts the documents ask for travel in the verdict.
    for rule, want in (("push-fcm", 1800), ("rainbow-turn-udp", 600)):
        if timeouts.get(rule) != want:
            print("FAIL: %s: verdict.timeout %s (expected %d)" % (rule, timeouts.get(rule), want))
            bad = 1
    for n, (what, expect) in enumerate(cases):
        rule = got.get(n, "(no flow)")
        ok = rule == expect
        bad |= not ok
        print("%s: %s: %s%s" % ("ok" if ok else "FAIL", what, rule,
                                "" if ok else " (expected %s)" % expect))
    if len(got) != len(cases):
        print("FAIL: %d flows replayed, %d cases" % (len(got), len(cases)))
        bad = 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
