#!/usr/bin/env python3
"""mkflows.py OUT N KIND: a capture of N distinct TCP flows, all alive at
once (1 microsecond apart), for the memory per flow measurement.
KIND syn:     a SYN each (a flow in the table, nothing to inspect)
KIND partial: SYN, SYN-ACK, ACK, then the first 120 bytes of a TLS
              ClientHello whose SNI comes after 400 bytes of padding (undecided: the flow keeps inspection state
              and buffered stream bytes).
Standard library only."""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp(src, dst, sp, dp, seq, ack, flags, payload=b''):
    th = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ph = struct.pack('!4s4sBBH', src, dst, 0, 6, len(th) + len(payload))
    c = csum(ph + th + payload)
    th = th[:16] + struct.pack('!H', c) + th[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(th) + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00' + ip + th + payload


def main():
    out, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # A ClientHello whose server_name comes after 400 bytes of padding.
    sni = b'www.example.com'
    ext = struct.pack('!HH', 0x0015, 400) + bytes(400)
    ext += struct.pack('!HHHBH', 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    body = b'\x03\x03' + bytes(32) + b'\x00' + b'\x00\x02\x13\x01' + b'\x01\x00'
    body += struct.pack('!H', len(ext)) + ext
    hs = b'\x01' + struct.pack('!I', len(body))[1:] + body
    hello = (b'\x16\x03\x01' + struct.pack('!H', len(hs)) + hs)[:120]
    t = 1600000000 * 1000000
    with open(out, 'wb') as w:
        w.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            c = struct.pack('!BBH', 10, 64 + (i >> 16), i & 0xffff)
            s = bytes([198, 51, 100, 1 + i % 200])
            sp = 1024 + (i * 7) % 60000
            pk = [tcp(c, s, sp, 443, 1000, 0, 0x02)]
            if kind == 'partial':
                pk += [tcp(s, c, 443, sp, 5000, 1001, 0x12), tcp(c, s, sp, 443, 1001, 5001, 0x10),
                       tcp(c, s, sp, 443, 1001, 5001, 0x18, hello)]
            for p in pk:
                t += 1
                w.write(struct.pack('<IIII', t // 1000000, t % 1000000, len(p), len(p)))
                w.write(p)


if __name__ == '__main__':
    main()
