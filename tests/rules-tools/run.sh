#!/bin/sh
# dpix rules print (dpix(1)): for every shipped pack and all.rules (every
# form of the language), printing is a fixed point (print of the printed
# text is the same text, the '# from FILE' comments aside), and the printed
# pack gives the same EVE output as the original on every capture of
# pcaps/. With python3, the printed packs also pass tests/packs/verdicts.py.
# A pack that does not load: its file:line:column, exit 1.
set -u
: "${DPIX:?DPIX must name the dpix binary}"
: "${top_srcdir:?}"
cd "$top_srcdir" || exit 99
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
t=tests/rules-tools
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}
mkdir "$tmp/printed" "$tmp/again"
pcaps=$(ls pcaps/*.pcap)

# print: a fixed point that keeps the verdicts.
for pack in rules/*.rules $t/all.rules; do
	name=$(basename "$pack")
	p1=$tmp/printed/$name
	p2=$tmp/again/$name
	"$DPIX" rules print "$pack" > "$p1" || { bad "print $pack exited $?"; continue; }
	"$DPIX" rules print "$p1" > "$p2" || { bad "print of printed $pack exited $?"; continue; }
	grep -v '^#' "$p1" > "$p1.nc"
	grep -v '^#' "$p2" > "$p2.nc"
	if ! diff -u "$p1.nc" "$p2.nc"; then
		bad "print of $pack is not a fixed point"
	fi
	rm -f "$p1.nc" "$p2.nc"
	# shellcheck disable=SC2086 # pcaps are words
	"$DPIX" replay -q --format eve --rules "$pack" $pcaps > "$tmp/orig.eve" || bad "replay $pack"
	# shellcheck disable=SC2086
	"$DPIX" replay -q --format eve --rules "$p1" $pcaps > "$tmp/printed.eve" || bad "replay $p1"
	if ! diff -u "$tmp/orig.eve" "$tmp/printed.eve"; then
		bad "$pack and its printed form give different verdicts"
	else
		echo "ok: print $pack ($(grep -c '"rule":' "$tmp/orig.eve") flows by a rule)"
	fi
done
# The shipped packs together, in the order a rules directory loads them.
set --
for pack in rules/*.rules; do set -- "$@" --rules "$pack"; done
# shellcheck disable=SC2086
"$DPIX" replay -q --format eve "$@" $pcaps > "$tmp/orig.eve"
set --
for pack in rules/*.rules; do set -- "$@" --rules "$tmp/printed/$(basename "$pack")"; done
# shellcheck disable=SC2086
"$DPIX" replay -q --format eve "$@" $pcaps > "$tmp/printed.eve"
cmp -s "$tmp/orig.eve" "$tmp/printed.eve" || bad "rules/ and its printed packs give different verdicts"
if command -v python3 > /dev/null; then
	mkdir "$tmp/shipped"
	for pack in rules/*.rules; do cp "$tmp/printed/$(basename "$pack")" "$tmp/shipped/"; done
	python3 tests/packs/verdicts.py "$tmp/shipped" > "$tmp/verdicts.out" 2>&1 ||
		{ cat "$tmp/verdicts.out"; bad "verdicts.py on the printed packs"; }
fi

# print: an error names file:line:column, exit 1.
printf 'pack bad\n\nrule x bypass sni in nowhere\n' > "$tmp/bad.rules"
"$DPIX" rules print "$tmp/bad.rules" > "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" = 1 ] && [ ! -s "$tmp/out" ] && grep -q "bad.rules:3:22: " "$tmp/err" ||
	bad "print of a bad pack: exit $rc, stderr: $(cat "$tmp/err")"

exit $fail
