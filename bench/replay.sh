#!/bin/sh
# replay.sh BUILDDIR OUT: offline classification for bench/run.
# 1. Throughput: the peer corpus (/work/shared/peer-pcaps or $PEER_PCAPS)
#    and pcaps/, merged into one capture COPIES times with distinct VLAN
#    tags (bench/mkcorpus.py), read RUNS times round-robin by
#      pcap_loop    bench/pcap_loop: pcap_next_ex() only (the floor)
#      dpix         dpix replay --format none -q (the shipped rules/ packs)
#      ndpiReader   ndpiReader -q -n 1 (nDPI's demo reader, one thread)
#    each timed as a whole process (bench/ptime.py: wall, user, sys, max RSS).
#    Lines "tool run packets wall_s user_s sys_s maxrss_kb" in
#    OUT/replay.tsv.
# 2. Memory per flow: bench/mkflows.py captures of N distinct TCP flows all
#    alive at once, SYN only or with an unfinished ClientHello (undecided);
#    peak RSS of dpix (--max-flows 262144) and ndpiReader per N. Lines
#    "tool kind n maxrss_kb" in OUT/memory.tsv; ndpiReader's own "Flow
#    Memory (per flow)" in OUT/ndpi-flow-memory.txt.
# Environment: RUNS (5), COPIES (40), FLOWS ("5000 10000 20000").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "$1" && pwd)
out=$2
runs=${RUNS:-5}
copies=${COPIES:-40}
flows=${FLOWS:-"5000 10000 20000"}
peer=${PEER_PCAPS:-/work/shared/peer-pcaps}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

dirs="$top/pcaps"
[ -d "$peer" ] && dirs="$peer $dirs" || echo "replay: no peer corpus at $peer, pcaps/ only" >&2
python3 "$here/mkcorpus.py" "$tmp/corpus.pcap" "$copies" $dirs > "$out/corpus.txt"
cat "$out/corpus.txt" >&2
packets=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "packets,") print $i }' "$out/corpus.txt")
cat > "$tmp/mem.rules" << 'EOR'
pack    bench
version 1
date    2026-12
source  "bench/replay.sh"
domains bench {
	www.example.com
}
rule tls bypass app tls sni in bench
EOR

timed() { # TOOL RUN COMMAND...: one timed run, a line in replay.tsv
	tool=$1 run=$2
	shift 2
	python3 "$here/ptime.py" "$tmp/time" "$@" > "$tmp/stdout" 2> "$tmp/stderr" || {
		echo "replay: $tool failed: $(tail -3 "$tmp/stderr")" >&2
		return 0
	}
	echo "$tool	$run	$packets	$(tr ' ' '\t' < "$tmp/time")" >> "$out/replay.tsv"
}
# Warm the page cache, record what each tool says it saw.
"$build/bench/pcap_loop" "$tmp/corpus.pcap" > "$out/pcap_loop.txt"
packs=
for f in "$top"/rules/*.rules; do packs="$packs --rules $f"; done
"$build/dpix" replay $packs --format none "$tmp/corpus.pcap" 2> "$out/dpix-summary.txt"
ndpiReader -n 1 -i "$tmp/corpus.pcap" > "$out/ndpiReader.txt" 2>&1 || true
for r in $(seq "$runs"); do
	timed pcap_loop "$r" "$build/bench/pcap_loop" "$tmp/corpus.pcap"
	timed dpix "$r" "$build/dpix" replay $packs --format none -q "$tmp/corpus.pcap"
	timed ndpiReader "$r" ndpiReader -q -n 1 -i "$tmp/corpus.pcap"
	echo "replay: run $r done" >&2
done

for kind in syn partial; do
	for n in $flows; do
		python3 "$here/mkflows.py" "$tmp/flows.pcap" "$n" "$kind"
		for r in $(seq 3); do
			python3 "$here/ptime.py" "$tmp/time" "$build/dpix" replay --rules "$tmp/mem.rules" \
				--format none -q --max-flows 262144 "$tmp/flows.pcap"
			echo "dpix	$kind	$n	$(cut -d" " -f4 "$tmp/time")" >> "$out/memory.tsv"
			python3 "$here/ptime.py" "$tmp/time" ndpiReader -q -n 1 -i "$tmp/flows.pcap" > /dev/null 2>&1
			echo "ndpiReader	$kind	$n	$(cut -d" " -f4 "$tmp/time")" >> "$out/memory.tsv"
		done
	done
done
ndpiReader -n 1 -i "$tmp/flows.pcap" 2>&1 | grep -E 'Flow Memory|Peak Memory|Unique flows' > "$out/ndpi-flow-memory.txt" || true
echo "replay: memory done" >&2
