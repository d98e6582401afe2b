#!/bin/bash
# run-fuzz.sh BUILDDIR SRCDIR SECONDS [HARNESS...]
#
# Runs each libFuzzer harness (all, or those named: decode connect tls sip
# http stun datagram rules replay replay_pcap proxy_head) for SECONDS
# seconds, one after the other, on seeds cut from SRCDIR/pcaps/*.pcap and
# SRCDIR/rules/*.rules plus the minimized corpus kept in
# SRCDIR/tests/fuzz/corpus/NAME/ (replay_pcap: replay's), with
# the dictionary SRCDIR/tests/fuzz/NAME.dict (-dict=: TLS extension types,
# STUN attribute types, CONNECT header names...). Builds nothing: expects
# BUILDDIR/tests/fuzz/fuzz_NAME and BUILDDIR/tests/fuzz/extract_seeds
# (./configure CC=clang --enable-fuzz; make check builds them).
#
# Environment:
#   DPIX_FUZZ_WORK=DIR   keep the corpora grown by the run in DIR/corpus/NAME
#                        (created if missing): a later run resumes from them;
#                        the long run (docs/reliability.md) sets it.
#   DPIX_FUZZ_MERGE=1    after each harness, merge what it found into
#                        SRCDIR/tests/fuzz/corpus/NAME with -merge=1 (only
#                        inputs that reach new edges are added).
#
# Prints one line per harness: executions, executions per second, the
# coverage counters (cov: edges, ft: features) and the corpus size at the
# end. Exits 1 if any harness crashed, leaked, timed out or ran out of
# memory: the artifact's path is printed and the work directory is kept.
# Removes it otherwise (unless DPIX_FUZZ_WORK named it).
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILDDIR SRCDIR SECONDS [HARNESS...]" >&2
	exit 2
fi
builddir=$1
srcdir=$2
seconds=$3
shift 3
case $seconds in
'' | *[!0-9]*)
	echo "$0: SECONDS must be a whole number, not '$seconds'" >&2
	exit 2
	;;
esac

harnesses="decode connect tls sip http stun datagram rules replay replay_pcap proxy_head"
if [ $# -gt 0 ]; then
	for h in "$@"; do
		case " $harnesses " in
		*" $h "*) ;;
		*)
			echo "$0: no harness '$h' (one of: $harnesses)" >&2
			exit 2
			;;
		esac
	done
	harnesses="$*"
fi
bindir=$builddir/tests/fuzz
for prog in $harnesses; do
	if [ ! -x "$bindir/fuzz_$prog" ]; then
		echo "$0: $bindir/fuzz_$prog not found" \
			"(build: ./configure CC=clang --enable-fuzz && make check)" >&2
		exit 2
	fi
done
if [ ! -x "$bindir/extract_seeds" ]; then
	echo "$0: $bindir/extract_seeds not found" >&2
	exit 2
fi

if [ -n "${DPIX_FUZZ_WORK:-}" ]; then
	work=$DPIX_FUZZ_WORK
	mkdir -p "$work"
	keep=1
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/dpix-fuzz.XXXXXX")
	keep=0
fi
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$keep" = 0 ]; then
		rm -rf "$work"
	else
		echo "run-fuzz: kept $work" >&2
	fi
}
trap cleanup EXIT

# Seeds: every capture and pack the source tree ships.
shopt -s nullglob
pcaps=("$srcdir"/pcaps/*.pcap)
packs=("$srcdir"/rules/*.rules)
shopt -u nullglob
rm -rf "$work/seeds"
"$bindir/extract_seeds" "$work/seeds" "${pcaps[@]}" --rules "${packs[@]}" >/dev/null

# fuzz_replay loads the shipped pack; the others do not read the environment.
export DPIX_FUZZ_RULES="$srcdir/rules/rainbow.rules"

# The SIP probe reads what the TLS one does: a client's first TCP bytes
# (the SIP calls of pcaps/sip-*.pcap among them, and ClientHellos).
seeds_of() {
	case $1 in
	sip) echo tls ;;
	proxy_head) echo connect ;;
	replay_pcap) echo replay ;;
	*) echo "$1" ;;
	esac
}

# merge NAME CORPUS KEPT WORK: add to KEPT the inputs of CORPUS that reach
# edges neither KEPT nor the seeds reach. Edges, not hit counts
# (-use_counters=0): dozens of files, not hundreds. The seeds are made
# again from pcaps/ and rules/ on every run, so they are not kept: they go
# into KEPT for the merge only. Captures and packs are cut short (-max_len)
# to keep the repository small: tests/fuzz/corpus/ holds a few hundred kB.
merge() {
	local h=$1 corpus=$2 kept=$3 work=$4 maxlen=()
	case $h in
	replay | replay_pcap) maxlen=(-max_len=1024) ;;
	rules) maxlen=(-max_len=2048) ;;
	esac
	mkdir -p "$kept"
	for f in "$work/seeds/$(seeds_of "$h")"/*; do
		cp "$f" "$kept/zzseed-${f##*/}"
	done
	"$bindir/fuzz_$h" -merge=1 -use_counters=0 "${maxlen[@]}" "$kept" "$corpus" \
		>"$work/$h.merge.log" 2>&1 || true
	rm -f "$kept"/zzseed-*
	echo "  merged into $kept: $(tail -n 1 "$work/$h.merge.log");" \
		"$(find "$kept" -type f | wc -l) files, $(cat "$kept"/* | wc -c) bytes"
}

failed=0
for h in $harnesses; do
	corpus=$work/corpus/$h
	artifacts=$work/artifacts/$h
	log=$work/$h.log
	mkdir -p "$corpus" "$artifacts"
	kept=$srcdir/tests/fuzz/corpus/$h
	dirs=("$corpus" "$work/seeds/$(seeds_of "$h")")
	[ -d "$kept" ] && dirs+=("$kept")
	# replay_pcap reads captures too: fuzz_replay's kept corpus and dictionary.
	[ "$h" = replay_pcap ] && dirs+=("$srcdir/tests/fuzz/corpus/replay")
	dict=()
	[ -f "$srcdir/tests/fuzz/$h.dict" ] && dict=(-dict="$srcdir/tests/fuzz/$h.dict")
	[ "$h" = replay_pcap ] && dict=(-dict="$srcdir/tests/fuzz/replay.dict")
	rc=0
	# New inputs go to the first directory, so the seeds stay as they were.
	"$bindir/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
		"${dirs[@]}" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	# The last status line: "#N DONE cov: C ft: F corp: U/S ...".
	# (none when it failed on the seeds: no status line, no exit here)
	cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 |
		sed -n 's/.*\(cov: [0-9]* ft: [0-9]* corp: [0-9]*\/[0-9A-Za-z]*\).*/\1/p' || true)
	found=$(find "$artifacts" -type f | sort)
	if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
		failed=1
		keep=1
		echo "fuzz_$h: FAILED (exit $rc) after ${execs:-?} executions; log: $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz[_ ][a-z_]+: )' "$log" | head -n 5 | sed 's/^/  /' || true
		while IFS= read -r a; do
			[ -n "$a" ] && echo "  artifact: $a (reproduce: $bindir/fuzz_$h $a)"
		done <<<"$found"
	else
		echo "fuzz_$h: ok, ${execs:-?} executions in ${seconds}s (${rate:-?}/s), ${cov:-no stats}"
		if [ "${DPIX_FUZZ_MERGE:-0}" = 1 ]; then
			merge "$h" "$corpus" "$kept" "$work"
		fi
	fi
done
exit "$failed"
