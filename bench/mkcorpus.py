#!/usr/bin/env python3
"""mkcorpus.py OUT COPIES DIR...: merge every Ethernet classic-pcap capture
under DIRs into one pcap, COPIES times, each copy with its own 802.1Q tag
(VID 1+i) and shifted past the end of the one before, so every copy is a set of new flows both for
dpix (the VLAN id is in its flow key) and for ndpiReader.

pcapng files are read through their classic-pcap conversion when one sits
in a classic-pcap/ folder next to them, otherwise skipped; link types other
than Ethernet are skipped (one output file has one link type). Prints what
it wrote: files, packets, bytes. Standard library only.
"""
import os
import struct
import sys


def read_pcap(path):
    b = open(path, 'rb').read()
    if len(b) < 24:
        return None
    magic = b[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        return None  # pcapng or unknown
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    lt = struct.unpack(e + 'I', b[20:24])[0] & 0x0fffffff
    if lt != 1:
        return None
    pkts, off = [], 24
    while off + 16 <= len(b):
        s, frac, cl, _ol = struct.unpack(e + 'IIII', b[off:off + 16])
        off += 16
        if cl > len(b) - off:
            break
        us = frac // 1000 if nano else frac
        pkts.append((s * 1000000 + us, b[off:off + cl]))
        off += cl
    return pkts


def captures(dirs):
    seen = set()
    for d in dirs:
        for root, _dirs, files in sorted(os.walk(d)):
            for f in sorted(files):
                p = os.path.join(root, f)
                if 'classic-pcap' in root.split(os.sep) or not f.endswith(('.pcap', '.pcapng', '.cap')):
                    continue
                conv = os.path.join(root, 'classic-pcap', os.path.splitext(f)[0] + '.pcap')
                if os.path.exists(conv):
                    p = conv
                if p not in seen:
                    seen.add(p)
                    yield p


def main():
    out, copies, dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    base, used = [], 0
    for p in captures(dirs):
        pk = read_pcap(p)
        if not pk:
            continue
        used += 1
        # Captures one after the other in file order, each keeping its own
        # timing except that time only goes forward and a gap is at most
        # an hour (past every flow timeout), so the file spans little.
        t = base[-1][0] + 1000000 if base else 0
        prev = pk[0][0]
        for ts, d in pk:
            t += min(max(ts - prev, 0), 3600 * 1000000)
            prev = ts
            base.append((t, d))
    span = base[-1][0] + 86400 * 1000000
    n = nbytes = 0
    with open(out, 'wb') as w:
        w.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144 + 4, 1))
        for i in range(copies):
            tag = struct.pack('>HH', 0x8100, 1 + i)
            shift = i * span
            for ts, data in base:
                if len(data) < 14:
                    continue
                d = data[:12] + tag + data[12:]
                t = ts + 1600000000 * 1000000 + shift
                w.write(struct.pack('<IIII', t // 1000000, t % 1000000, len(d), len(d)))
                w.write(d)
                n += 1
                nbytes += len(d)
    print('%d captures, %d copies, %d packets, %d bytes, %d s per copy'
          % (used, copies, n, nbytes, span // 1000000))


if __name__ == '__main__':
    main()
