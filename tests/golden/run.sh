#!/bin/sh
# Golden tests: replay every capture in pcaps/ with the shipped packs and
# diff the EVE output (and the table view of all of them) against the files
# kept in tests/golden/. After reviewing a diff, regenerate with
#   DPIX_REGEN=1 make check TESTS=tests/golden/run.sh
# Also checks that two runs give the same bytes. A capture that needs
# other options than the defaults names them in tests/golden/<name>.args.
set -u
: "${DPIX:?DPIX must name the dpix binary}"
: "${top_srcdir:?}"
cd "$top_srcdir" || exit 99
export DPIX_RULES_DIR="$top_srcdir/rules"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
# pcaps/sip-*.pcap are the SIP plugin's: tests/plugin/run.sh replays them
# with it, against their own golden files.
plain=$(ls pcaps/*.pcap | grep -v '^pcaps/sip-')
for pcap in $plain; do
	name=$(basename "$pcap" .pcap)
	args=$(cat "tests/golden/$name.args" 2>/dev/null)
	# shellcheck disable=SC2086 # args are words
	"$DPIX" replay -q --format eve $args "$pcap" > "$tmp/$name.eve" || { echo "FAIL: $pcap: dpix exited $?"; fail=1; }
	# shellcheck disable=SC2086
	"$DPIX" replay -q --format eve $args "$pcap" > "$tmp/$name.again" 2>&1
	cmp -s "$tmp/$name.eve" "$tmp/$name.again" || { echo "FAIL: $pcap: two runs differ"; fail=1; }
	if [ -n "${DPIX_REGEN:-}" ]; then
		cp "$tmp/$name.eve" "tests/golden/$name.eve"
	elif ! diff -u "tests/golden/$name.eve" "$tmp/$name.eve"; then
		echo "FAIL: $pcap differs from tests/golden/$name.eve"
		fail=1
	else
		echo "ok: $pcap ($(wc -l < "$tmp/$name.eve") flows)"
	fi
done
"$DPIX" replay -q --format table $plain > "$tmp/all.table" || { echo "FAIL: table run exited $?"; fail=1; }
if [ -n "${DPIX_REGEN:-}" ]; then
	cp "$tmp/all.table" tests/golden/all.table
	echo "regenerated tests/golden: review 'git diff tests/golden' before committing"
elif ! diff -u tests/golden/all.table "$tmp/all.table"; then
	echo "FAIL: table view differs from tests/golden/all.table"
	fail=1
fi
exit $fail
