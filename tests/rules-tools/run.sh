#!/bin/sh
# dpix rules print and dpix rules diff (dpix(1)).
#
# print: for every shipped pack and all.rules (every form of the language),
# printing is a fixed point (print of the printed text is the same text,
# the '# from FILE' comments aside), the printed pack gives the same EVE
# output as the original on every capture of pcaps/, and diff sees no
# difference between a pack and its printed form. With python3, the
# printed packs also pass tests/packs/verdicts.py.
# diff: a pack against itself prints nothing and exits 0; an edition
# change (rainbow-ed12.rules against rules/rainbow.rules, seed 000 Ed 12
# against seed 001 Ed 36) matches ed12-ed36.diff and exits 1; moved and
# changed rules are reported; a pack that does not load exits 2 with its
# file:line:column. Regenerate the golden after reviewing it:
#   DPIX_REGEN=1 make check TESTS=tests/rules-tools/run.sh
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
for pack in rules/*.rules $t/all.rules $t/rainbow-ed12.rules; do
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
	out=$("$DPIX" rules diff "$pack" "$p1")
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || bad "diff $pack and its printed form: exit $rc: $out"
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

# diff: the same pack, an edition change, a bad pack.
for pack in rules/*.rules $t/all.rules; do
	out=$("$DPIX" rules diff "$pack" "$pack")
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || bad "diff $pack $pack: exit $rc: $out"
done
"$DPIX" rules diff $t/rainbow-ed12.rules rules/rainbow.rules > "$tmp/ed12-ed36.diff"
rc=$?
[ "$rc" = 1 ] || bad "diff of Ed 12 and Ed 36 exited $rc, expected 1"
if [ -n "${DPIX_REGEN:-}" ]; then
	cp "$tmp/ed12-ed36.diff" $t/ed12-ed36.diff
	echo "regenerated $t/ed12-ed36.diff: review 'git diff' before committing"
elif ! diff -u $t/ed12-ed36.diff "$tmp/ed12-ed36.diff"; then
	bad "diff of Ed 12 and Ed 36 differs from $t/ed12-ed36.diff"
else
	echo "ok: diff Ed 12 Ed 36 ($(wc -l < $t/ed12-ed36.diff) lines)"
fi
# A rule moved to the front, one changed, one removed, an entry added.
awk '/^rule r-inc /{ next } /^rule r-ws /{ print "rule r-ws drop websocket"; next }
	{ print } /^default /{ print "rule r-ja4-first drop ja4 t13d1516h2_8daaf6152771_02713d6af862" }' \
	"$tmp/printed/all.rules" | sed 's/^rule r-ja4 .*//; s/^\t10.0.0.0\/8$/&\n\t10.1.0.0\/16/' > "$tmp/edited.rules"
sed -i 's/^rule r-push /rule r-push-new /' "$tmp/edited.rules"
"$DPIX" rules diff $t/all.rules "$tmp/edited.rules" > "$tmp/out"
rc=$?
[ "$rc" = 1 ] || bad "diff of an edited pack exited $rc, expected 1"
for want in '^set addrs changed (addresses: 0 removed, 1 added):$' '^+ 10\.1\.0\.0/16$' \
	'^rule r-inc removed:$' '^rule r-ja4 removed:$' '^rule r-push removed:$' \
	'^rule r-push-new added (after r-front):$' '^rule r-ja4-first added (first):$' \
	'^rule r-ws changed:$' '^- rule r-ws bypass app websocket tunnel http,websocket websocket$' \
	'^+ rule r-ws drop websocket$' '^rule r-inc removed:$'; do
	grep -q -- "$want" "$tmp/out" || bad "diff of an edited pack: no line $want"
done
# Order: r-name before r-sni (first match wins).
awk '/^rule r-sni /{ held = $0; next } { print } /^rule r-name /{ print held }' \
	"$tmp/printed/all.rules" > "$tmp/moved.rules"
"$DPIX" rules diff $t/all.rules "$tmp/moved.rules" > "$tmp/out"
rc=$?
[ "$rc" = 1 ] && grep -q '^rules moved (the first matching rule wins' "$tmp/out" &&
	grep -q '^rule r-sni moved: now after r-name, was after r-app$' "$tmp/out" &&
	[ "$(grep -c ' moved: ' "$tmp/out")" = 1 ] || { cat "$tmp/out"; bad "diff of moved rules: exit $rc"; }
for args in "$tmp/bad.rules $t/all.rules" "$t/all.rules $tmp/bad.rules"; do
	# shellcheck disable=SC2086
	"$DPIX" rules diff $args > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" = 2 ] && grep -q "bad.rules:3:22: " "$tmp/err" ||
		bad "diff $args: exit $rc, expected 2 and the error: $(cat "$tmp/err")"
done
"$DPIX" rules diff $t/all.rules > /dev/null 2>&1
[ $? = 2 ] || bad "diff with one pack: expected exit 2"
exit $fail
