#!/bin/sh
# rules_cg.sh DIR QUERIES [eval]: one lookup's instructions and simulated
# cache misses (bench/notes-rules.md). Runs bench/rules_probe (from the
# build directory: `make bench/rules_probe`) under cachegrind with N
# lookups and with none, and prints the difference over N. N (default
# 200000) and the simulated caches (D1, LL: size,ways,line) come from the
# environment; LL defaults to 4 MiB, about what this code gets of a shared
# L3 on the VMs it is measured on (notes-rules.md).
set -eu
DIR=$1 Q=$2 E=${3:-}
N=${N:-200000} D1=${D1:-32768,8,64} LL=${LL:-4194304,16,64}
PROBE=${PROBE:-bench/rules_probe}
one() {
	valgrind --tool=cachegrind --cache-sim=yes --D1="$D1" --LL="$LL" \
		--cachegrind-out-file=/dev/null "$PROBE" "$DIR" "$Q" "$1" $E 2>&1 |
		awk '/I *refs/ { gsub(",", "", $4); ir = $4 }
		     /D1  misses/ { gsub(",", "", $4); d1 = $4 }
		     /LLd misses/ { gsub(",", "", $4); ll = $4 }
		     END { print ir, d1, ll }'
}
set -- $(one 0) $(one "$N")
awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v e="$5" -v f="$6" -v n="$N" -v q="$Q${E:+ $E}" \
	'BEGIN { printf "%-20s %6.0f instructions %5.2f D1 misses %5.2f LL misses per lookup\n",
		 q, (d - a) / n, (e - b) / n, (f - c) / n }'
