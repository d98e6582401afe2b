# tests/e2e/flood.py: a flood of new flows for the end-to-end tests, from
# raw IPv4 or IPv6 sockets (the family follows DST). Each wave sends, for
# 625 source ports and each of 16 source addresses (PREFIX100 to PREFIX115:
# "198.18.1." or "2001:2:0:1::"), a TCP SYN and a UDP datagram to DST's
# closed port 9 (it answers RST or nothing): 20,000 packets, 20,000 flows.
#
#   python3 flood.py PREFIX DST BASE-PORT WAVES
#
# Prints the number of packets sent. Needs CAP_NET_RAW.
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(fam, src, dst, proto, sport, payload):
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, 9, sport * 7919, 0, 5 << 4, 0x02, 64240, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, 9, 8 + len(payload), 0) + payload
    s, d = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    if fam == socket.AF_INET:
        pseudo = s + d + struct.pack("!BBH", 0, proto, len(l4))
    else:
        pseudo = s + d + struct.pack("!I3xB", len(l4), proto)
    c = csum(pseudo + l4)
    at = 16 if proto == 6 else 6
    l4 = l4[:at] + struct.pack("!H", c) + l4[at + 2:]
    if fam == socket.AF_INET:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0, s, d) + l4
    return struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, s, d) + l4


prefix, dst, base, waves = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
# IPPROTO_RAW: the packet carries its own IP header (IP_HDRINCL, for IPv6
# too), so the source address is ours to choose.
s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
n = 0
for w in range(waves):
    for port in range(base + w * 625, base + (w + 1) * 625):
        for a in range(100, 116):
            src = prefix + str(a)
            s.sendto(packet(fam, src, dst, 6, port, b""), (dst, 0))
            s.sendto(packet(fam, src, dst, 17, port, b"flood %d" % port), (dst, 0))
            n += 2
        # A pause every 16 ports (512 packets): the flood is about the
        # table, not the queue (4096 long) overflowing on a busy machine.
        if port % 16 == 0:
            time.sleep(0.005)
print(n)
