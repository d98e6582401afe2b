#!/usr/bin/env python3
"""gen_pack.py: deterministic rule packs and queries for bench/rules_bench.

    gen_pack.py N OUTDIR [--seed S] [--many M]

writes into OUTDIR:
  domains.list   N domain entries: ~85% exact names, ~14% '*.' wildcards,
                 ~1% leftmost-label globs ('turn-*.site.com'); 2 to 5 labels
  cidrs.list     N CIDRs: ~70% IPv4 (/32, /24, /16-/23, rarely /8-/15),
                 ~30% IPv6 (/32-/64, /128)
  domains.rules  a pack: the domain list as a set, one rule over it
  cidrs.rules    a pack: the CIDR list as a set, one rule over it
  mixed.rules    a pack with a few rules over both lists and some ports
  many.rules     M rules (default N), each with its own one-entry domain set
  many-cidrs.rules  M rules, each with its own one-CIDR address set
  q-dom-hit.txt, q-dom-miss.txt   names in / not in the domain set
  q-v4-hit.txt, q-v4-miss.txt, q-v6-hit.txt, q-v6-miss.txt
                 addresses in / not in the CIDR set

The same N and seed always give the same files.
"""
import ipaddress
import os
import random
import sys

TLDS = ["com", "net", "org", "io", "de", "fr", "co.uk", "cloud", "app", "info"]
SYL = ["ka", "lo", "mi", "ne", "ra", "to", "vu", "zen", "qu", "xi", "ber", "dan",
       "fel", "gor", "hip", "jet", "kor", "lum", "mox", "nix", "pol", "sar", "tek"]
SUBS = ["www", "api", "cdn", "mail", "img", "static", "edge", "m", "app", "auth",
        "login", "media", "turn", "eu", "us", "s3", "assets"]
NQUERIES = 65536


def word(r):
    return "".join(r.choice(SYL) for _ in range(r.randint(2, 4))) + str(r.randint(0, 999))


def base_name(r):
    """A registrable name: 2 or 3 labels (with a two-label TLD)."""
    return word(r) + "." + r.choice(TLDS)


def gen_domains(r, n):
    out, seen = [], set()
    while len(out) < n:
        base = base_name(r)
        k = r.random()
        depth = r.choice([0, 0, 1, 1, 1, 2])
        labels = [r.choice(SUBS) + (str(r.randint(1, 99)) if r.random() < 0.3 else "")
                  for _ in range(depth)]
        name = ".".join(labels + [base])
        if k < 0.85:
            e = name
        elif k < 0.99:
            e = "*." + name
        else:
            e = "turn-*." + name
        if e not in seen:
            seen.add(e)
            out.append(e)
    return out


def in_domains(name, exact, below, globs):
    """Does the name fall under the set (the engine's semantics)?"""
    if name in exact:
        return True
    parts = name.split(".")
    for i in range(1, len(parts)):
        suffix = ".".join(parts[i:])
        if suffix in below:
            return True
        if i == 1 and suffix in globs and parts[0].startswith("turn-"):
            return True
    return False


def domain_queries(r, entries):
    exact = {e for e in entries if "*" not in e}
    below = {e[2:] for e in entries if e.startswith("*.")}
    globs = {e.split(".", 1)[1] for e in entries if e.startswith("turn-*.")}
    hits, misses = [], []
    for _ in range(NQUERIES):
        e = r.choice(entries)
        if e.startswith("*."):
            q = r.choice(SUBS) + "." + (r.choice(SUBS) + "." if r.random() < 0.3 else "") + e[2:]
        elif e.startswith("turn-*."):
            q = "turn-" + str(r.randint(0, 99)) + "." + e[7:]
        else:
            q = e
        hits.append(q)
    while len(misses) < NQUERIES:
        # The same shapes, other words: as many labels to walk as a hit.
        depth = r.choice([0, 1, 1, 2])
        q = ".".join([r.choice(SUBS) for _ in range(depth)] + [base_name(r)])
        if not in_domains(q, exact, below, globs):
            misses.append(q)
    return hits, misses


def gen_cidrs(r, n):
    out, seen = [], set()
    while len(out) < n:
        if r.random() < 0.7:
            k = r.random()
            if k < 0.4:
                plen = 32
            elif k < 0.7:
                plen = 24
            elif k < 0.9999:
                plen = r.randint(16, 23)
            else:
                plen = r.randint(8, 15)
            net = ipaddress.IPv4Network((r.getrandbits(32) >> (32 - plen) << (32 - plen), plen))
        else:
            plen = 128 if r.random() < 0.3 else r.randint(32, 64)
            addr = (0x2000 << 112) | r.getrandbits(112)  # in 2000::/4-ish
            net = ipaddress.IPv6Network((addr >> (128 - plen) << (128 - plen), plen))
        if net not in seen:
            seen.add(net)
            out.append(net)
    return out


def cidr_queries(r, nets, version):
    nets = [x for x in nets if x.version == version]
    bits = 32 if version == 4 else 128
    by_len = {}
    for x in nets:
        by_len.setdefault(x.prefixlen, set()).add(int(x.network_address))

    def covered(a):
        return any((a >> (bits - p) << (bits - p)) in s for p, s in by_len.items())

    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    hits, misses = [], []
    for _ in range(NQUERIES):
        x = r.choice(nets)
        host = r.getrandbits(bits - x.prefixlen) if x.prefixlen < bits else 0
        hits.append(str(cls(int(x.network_address) | host)))
    while len(misses) < NQUERIES:
        a = r.getrandbits(bits) if version == 4 else (0x2000 << 112) | r.getrandbits(112)
        if not covered(a):
            misses.append(str(cls(a)))
    return hits, misses


def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    args = sys.argv[1:]
    seed, many = 1, None
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i:i + 2]
    if "--many" in args:
        i = args.index("--many")
        many = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    many = n if many is None else many
    os.makedirs(out, exist_ok=True)
    r = random.Random(seed * 1000003 + n)

    doms = gen_domains(r, n)
    write(os.path.join(out, "domains.list"), doms)
    hits, misses = domain_queries(r, doms)
    write(os.path.join(out, "q-dom-hit.txt"), hits)
    write(os.path.join(out, "q-dom-miss.txt"), misses)

    nets = gen_cidrs(r, n)
    write(os.path.join(out, "cidrs.list"), [str(x) for x in nets])
    for v in (4, 6):
        hits, misses = cidr_queries(r, nets, v)
        write(os.path.join(out, "q-v%d-hit.txt" % v), hits)
        write(os.path.join(out, "q-v%d-miss.txt" % v), misses)

    with open(os.path.join(out, "domains.rules"), "w") as f:
        f.write('pack bench-domains\ndomains big from "domains.list"\n'
                "rule dom bypass sni in big\n")
    with open(os.path.join(out, "cidrs.rules"), "w") as f:
        f.write('pack bench-cidrs\naddresses nets from "cidrs.list"\n'
                "rule net inspect dst in nets\n")
    with open(os.path.join(out, "mixed.rules"), "w") as f:
        f.write('pack bench-mixed\ndefault inspect\n'
                'domains big from "domains.list"\n'
                'addresses nets from "cidrs.list"\n'
                "ports odd = 6666 6667-6669\n"
                "rule odd-ports drop dport in odd\n"
                "rule web-host bypass http-host in big dport 80\n"
                "rule dom bypass sni in big\n"
                "rule net inspect dst in nets\n")
    with open(os.path.join(out, "many.rules"), "w") as f:
        f.write("pack bench-many\n")
        for i in range(many):
            f.write("domains d%d = %s\nrule r%d bypass sni in d%d\n" % (i, doms[i % n], i, i))
    with open(os.path.join(out, "many-cidrs.rules"), "w") as f:
        f.write("pack bench-many-cidrs\n")
        for i in range(many):
            f.write("addresses a%d = %s\nrule q%d inspect dst in a%d\n" % (i, nets[i % n], i, i))


if __name__ == "__main__":
    main()
