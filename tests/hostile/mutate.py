#!/usr/bin/env python3
"""Hostile variants of captures: truncated, bit-flipped and length-lied.

usage: mutate.py OUTDIR CAPTURE...

For each capture, writes OUTDIR/<index>-<name>.<variant>.<ext>, deterministic (the
random generator is seeded with the capture's name):
  trunc-N   cut at a random offset (N of them: inside the file header, a
            record header, a packet)
  flip      a few dozen random bit flips past the file header
  lenrec    (classic pcap) one record's captured length set to a lie:
            0, past the end of the file, or 0xffffffff
  lenip     (classic pcap, Ethernet) IPv4 total length, IHL and TCP data
            offset of a few packets set to hostile values
"""
import os
import random
import struct
import sys


def records(data):
    """(offset, endian) of each record of a classic pcap, or None."""
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        out.append(off)
        off += 16 + incl
    return e, out


def variants(name, data):
    rnd = random.Random(name)
    yield "trunc-head", data[: rnd.randrange(1, 24)] if len(data) > 24 else data[:1]
    for i in range(2):
        yield "trunc-%d" % i, data[: rnd.randrange(24, max(25, len(data)))]
    flipped = bytearray(data)
    for _ in range(min(64, max(1, len(data) // 64))):
        p = rnd.randrange(24, len(data)) if len(data) > 24 else 0
        flipped[p] ^= 1 << rnd.randrange(8)
    yield "flip", bytes(flipped)
    r = records(data)
    if not r or not r[1]:
        return
    e, recs = r
    lied = bytearray(data)
    off = rnd.choice(recs)
    lie = rnd.choice([0, len(data), 0xFFFFFFFF])
    lied[off + 8:off + 12] = struct.pack(e + "I", lie)
    yield "lenrec", bytes(lied)
    lied = bytearray(data)
    for off in rnd.sample(recs, min(8, len(recs))):
        p = off + 16 + 14  # Ethernet, no tag: the IP header
        if p + 20 > len(lied) or lied[p] >> 4 != 4:
            continue
        lied[p] = 0x40 | rnd.choice([0, 1, 4, 15])
        lied[p + 2:p + 4] = struct.pack(">H", rnd.choice([0, 1, 19, 20, 0xFFFF]))
        t = p + 20
        if lied[p + 9] == 6 and t + 13 <= len(lied):
            lied[t + 12] = rnd.choice([0x00, 0x10, 0xF0])
    yield "lenip", bytes(lied)


def main():
    outdir, captures = sys.argv[1], sys.argv[2:]
    n = 0
    for i, path in enumerate(captures):
        base = os.path.basename(path)
        stem, ext = os.path.splitext(base)
        data = open(path, "rb").read()
        for tag, blob in variants(base, data):
            name = "%03d-%s.%s%s" % (i, stem, tag, ext)  # names repeat across folders
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(blob)
            n += 1
    print(n)


if __name__ == "__main__":
    main()
