#!/bin/sh
# Replay every capture of the peer corpus (nDPI and suricata-verify test
# captures, ../shared/peer-pcaps) and compare app_proto and names with
# nDPI's ground truth (compare.py; every disagreement must be explained in
# docs/peer-agreement.md). Skipped, and says so, when the corpus is not
# there.
set -u
: "${DPIX:?}"
: "${top_srcdir:?}"
peer=${DPIX_PEER_PCAPS:-$top_srcdir/../shared/peer-pcaps}
if [ ! -f "$peer/ndpi-flows.tsv" ]; then
	echo "SKIP: peer corpus not found at $peer (set DPIX_PEER_PCAPS)"
	exit 77
fi
fail=0
n=0
for f in $(awk -F'\t' 'NR > 1 { print $6 }' "$peer/manifest.tsv"); do
	n=$((n + 1))
	if ! DPIX_RULES_DIR="$top_srcdir/rules" "$DPIX" replay -q "$peer/$f" > /dev/null 2> err.$$; then
		echo "FAIL: $f: exit status $?"; cat err.$$; fail=1
	elif [ -s err.$$ ]; then
		echo "FAIL: $f: wrote to stderr:"; cat err.$$; fail=1
	fi
done
rm -f err.$$
echo "replayed $n peer captures"
python3 "$top_srcdir/tests/peer/compare.py" "$DPIX" "$peer" "$top_srcdir/rules" \
	"$top_srcdir/docs/peer-agreement.md" 95 98 || fail=1
exit $fail
