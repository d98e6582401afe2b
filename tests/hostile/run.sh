#!/bin/sh
# Hostile captures: truncated, bit-flipped and length-lied variants of every
# capture in pcaps/ and, when present, ../shared/peer-pcaps/ (or
# $DPIX_PEER_PCAPS), each replayed with the shipped packs. Each must end
# within 20 s with status 0 or 1 (1: the file could not be read in full),
# never a crash, a sanitizer report or a hang. Needs python3.
set -u
: "${DPIX:?}" "${top_srcdir:?}"
command -v python3 > /dev/null || {
	echo "SKIP: python3 is not installed"
	exit 77
}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
peer=${DPIX_PEER_PCAPS:-$top_srcdir/../shared/peer-pcaps}
set -- "$top_srcdir"/pcaps/*.pcap
if [ -d "$peer" ]; then
	set -- "$@" $(find "$peer" -name '*.pcap' -o -name '*.pcapng' | sort)
else
	echo "note: no peer captures at $peer: pcaps/ only"
fi
mkdir "$tmp/v" || exit 99
n=$(python3 "$top_srcdir/tests/hostile/mutate.py" "$tmp/v" "$@") || exit 99
fail=0 read_in_full=0 refused=0
for f in "$tmp"/v/*; do
	timeout 20 "$DPIX" replay -q --rules "$top_srcdir/rules/rainbow.rules" \
		--rules "$top_srcdir/rules/push.rules" "$f" > /dev/null 2> "$tmp/err"
	rc=$?
	case $rc in
	0) read_in_full=$((read_in_full + 1)) ;;
	1) refused=$((refused + 1)) ;;
	124)
		echo "FAIL: ${f##*/}: no answer in 20 s"
		fail=1
		;;
	*)
		echo "FAIL: ${f##*/}: exit $rc"
		fail=1
		;;
	esac
	if grep -q "runtime error\|Sanitizer" "$tmp/err"; then
		echo "FAIL: ${f##*/}: sanitizer report"
		cat "$tmp/err"
		fail=1
	fi
	rm -f "$f"
done
echo "$n hostile variants of $# captures: $read_in_full read to the end, $refused reported as damaged"
exit $fail
