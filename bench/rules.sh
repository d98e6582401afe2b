#!/bin/sh
# rules.sh: build bench/rules_bench, generate packs of 1k, 100k and 1M
# entries, run the benchmark on each, then measure what one cache miss per
# lookup allows on this machine, and write bench/results/rules-DATE.md.
#
#   bench/rules.sh [BUILDDIR]      (default: the current directory, which
#                                   must be a configured build tree)
# Environment: SIZES="1000 100000 1000000", RUNS=5, MANY=100000 (the cap on
# the "many rules" pack), WORK=/tmp/dpix-bench (generated packs, kept).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
sizes=${SIZES:-"1000 100000 1000000"}
runs=${RUNS:-5}
many=${MANY:-100000}
work=${WORK:-/tmp/dpix-bench}
date=$(date -u +%Y-%m-%d)
out="$here/results/rules-$date.md"

make -C "$build" -s bench/rules_bench
mkdir -p "$here/results" "$work"
{
	echo "# dpix rule engine benchmark, $date"
	echo
	echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
	echo "- commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet 2>/dev/null || echo ' (modified)')"
	echo "- CFLAGS: $(sed -n 's/^CFLAGS = //p' "$build/Makefile")"
	echo "- each row: median of $runs runs, then min-max; one thread, one core."
	echo "  Lookups cycle through 65,536 generated queries (random order over the whole set)."
	echo "  The linear scans look up only a sample of the queries per run (stated per row)."
	echo "  The ratio column is against the linear scan of the same run."
	echo "  Load: rules_load + ruleset_seal in a fresh child process; heap is what stays"
	echo "  allocated after the load (sets, written forms and the rules index)."
	echo
} > "$out"
for n in $sizes; do
	m=$many
	[ "$m" -gt "$n" ] && m=$n
	cmd="python3 bench/gen_pack.py $n $work/$n --many $m"
	[ -f "$work/$n/.done-$m" ] || { python3 "$here/gen_pack.py" "$n" "$work/$n" --many "$m" && touch "$work/$n/.done-$m"; }
	{
		echo "## $n entries"
		echo
		echo "    $cmd"
		echo "    bench/rules_bench -r $runs $work/$n"
		echo
		echo "| measurement | median | min-max | notes |"
		echo "|---|---|---|---|"
	} >> "$out"
	"$build/bench/rules_bench" -r "$runs" "$work/$n" >> "$out"
	echo >> "$out"
done
{
	echo "## The memory under the lookups"
	echo
	echo "    bench/rules_bench -o memory -r $runs 1 4 8 32"
	echo
	echo "What one cache miss per lookup allows on this machine, measured as the lookups above"
	echo "are: tables of 1 MiB (in cache), 4 and 8 MiB (about what the 100k-domain lookups"
	echo "touch: in the shared L3 or not, as the other jobs leave it room) and 32 MiB (about"
	echo "the 1M-domain set)."
	echo
	echo "| measurement | median | min-max | notes |"
	echo "|---|---|---|---|"
	"$build/bench/rules_bench" -o memory -r "$runs" 1 4 8 32
	echo
} >> "$out"
echo "wrote $out"
