#!/bin/sh
# tests/soak/smoke.sh: the soak (soak.sh) for 45 s under make check, a
# reload every 5 s and a flood wave every 15 s: what it asserts over 30
# minutes holds over a short run too, and the soak script keeps working
# between the runs by hand. Nothing is kept: its output goes to a
# temporary folder, printed at the end. Skipped (77) like the soak.
: "${top_srcdir:?}" "${DPIXD:?}" "${DPIX:?}"
out=$(mktemp -d) || exit 99
trap 'rm -rf "$out"' EXIT INT TERM
SOAK_OUT=$out SOAK_INTERVAL=5 SOAK_RELOAD=5 SOAK_FLOOD=15 \
	sh "$top_srcdir/tests/soak/soak.sh" 45 > "$out/stdout" 2>&1
rc=$?
[ $rc = 77 ] && {
	cat "$out/stdout"
	exit 77
}
cat "$out/summary.txt" 2> /dev/null || tail -n 20 "$out/stdout"
[ $rc = 0 ] || {
	tail -n 20 "$out/dpixd.log" 2> /dev/null
	for f in "$out"/failures-*.txt; do [ -s "$f" ] && echo "--- $f" && cat "$f"; done
}
exit $rc
