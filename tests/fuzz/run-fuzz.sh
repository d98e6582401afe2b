#!/bin/bash
# run-fuzz.sh BUILDDIR SRCDIR SECONDS
#
# Runs each libFuzzer harness for SECONDS seconds on seeds cut from
# SRCDIR/pcaps/*.pcap and SRCDIR/rules/*.rules. Builds nothing: expects
# BUILDDIR/tests/fuzz/fuzz_NAME for each NAME in $harnesses below, and
# BUILDDIR/tests/fuzz/extract_seeds (./configure CC=clang --enable-fuzz).
#
# Prints one line per harness with its executions. Exits 1 if any harness
# crashed, leaked, timed out or ran out of memory: the artifact's path is
# printed and the temporary directory is kept. Removes it otherwise.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 BUILDDIR SRCDIR SECONDS" >&2
	exit 2
fi
builddir=$1
srcdir=$2
seconds=$3
case $seconds in
'' | *[!0-9]*)
	echo "$0: SECONDS must be a whole number, not '$seconds'" >&2
	exit 2
	;;
esac

harnesses="decode connect tls sip http stun datagram rules replay proxy_head"
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

work=$(mktemp -d "${TMPDIR:-/tmp}/dpix-fuzz.XXXXXX")
keep=0
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
"$bindir/extract_seeds" "$work/seeds" "${pcaps[@]}" --rules "${packs[@]}"

# fuzz_replay loads the shipped pack; the others do not read the environment.
export DPIX_FUZZ_RULES="$srcdir/rules/rainbow.rules"

# The SIP probe reads what the TLS one does: a client's first TCP bytes
# (the SIP calls of pcaps/sip-*.pcap among them, and ClientHellos).
seeds_of() {
	case $1 in
	sip) echo tls ;;
	proxy_head) echo connect ;;
	*) echo "$1" ;;
	esac
}

failed=0
for h in $harnesses; do
	corpus=$work/corpus/$h
	artifacts=$work/artifacts/$h
	log=$work/$h.log
	mkdir -p "$corpus" "$artifacts"
	rc=0
	# New inputs go to the first directory, so the seeds stay as they were.
	"$bindir/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" \
		"$corpus" "$work/seeds/$(seeds_of "$h")" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
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
		echo "fuzz_$h: ok, ${execs:-?} executions in ${seconds}s"
	fi
done
exit "$failed"
