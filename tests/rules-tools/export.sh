#!/bin/sh
# dpix rules export: the output for a small pack that holds every kind of
# entry and rule the formats treat differently (export-test.rules), against
# the expected files next to it (export-test.nft, ...), reviewed by hand;
# the counts on stderr; the exit status of usage errors (2) and of a pack
# that does not load (1). DPIX_REGEN=1 rewrites the expected files.
# Whether nft, ipset/iptables and squid accept the output:
# export-nft.sh, export-ipset.sh, export-squid.sh.
set -u
: "${top_srcdir:?}" "${DPIX:?}"
dir=$top_srcdir/tests/rules-tools
pack=$dir/export-test.rules
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0

# name format [options...]
check() {
	name=$1
	shift
	if ! "$DPIX" rules export "$@" --rules "$pack" > "$tmp/out" 2> "$tmp/err"; then
		echo "FAIL: dpix rules export $*: exit status $?"
		cat "$tmp/err"
		fail=1
		return
	fi
	if [ "${DPIX_REGEN:-}" = 1 ]; then
		cp "$tmp/out" "$dir/$name"
		echo "regenerated $name"
	elif ! diff -u "$dir/$name" "$tmp/out"; then
		echo "FAIL: dpix rules export $*: differs from $name (above)"
		fail=1
	fi
}

check export-test.nft nft
check export-test.iptables iptables
check export-test.squid squid
check export-test-drop.nft nft --action drop
check export-test-inspect.iptables iptables --action inspect --mark 0x200/0xf00
pack=$dir/export-edge.rules
check export-edge.nft nft
check export-edge.iptables iptables
check export-edge.squid squid
pack=$dir/export-test.rules

# Nothing dropped silently: the rules left out are counted on stderr.
"$DPIX" rules export nft --rules "$pack" 2>&1 > /dev/null |
	grep -q '^dpix rules export: 2 bypass rules not exported (layer-7 conditions), 1 rule of other actions above them not exported' ||
	{ echo "FAIL: nft: the count of rules not exported"; fail=1; }
"$DPIX" rules export squid --rules "$pack" 2>&1 > /dev/null |
	grep -q '^dpix rules export: 4 patterns not exported (no POSIX equivalent)' ||
	{ echo "FAIL: squid: the count of patterns not exported"; fail=1; }

# status expected, then the arguments
status() {
	want=$1
	shift
	"$DPIX" rules export "$@" > /dev/null 2> "$tmp/err"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: dpix rules export $*: exit status $got, expected $want"
		cat "$tmp/err"
		fail=1
	fi
}
status 2
status 2 pf --rules "$pack"
status 2 nft squid --rules "$pack"
status 2 nft --action allow --rules "$pack"
status 2 nft --mark 0x4/0x3 --rules "$pack"
status 2 nft --mark 1 --rules "$pack"
status 2 nft --mark -1/0x3 --rules "$pack"
status 2 nft --mark 0x1/0 --rules "$pack"
status 1 nft --rules "$tmp/none.rules"
printf 'pack bad\nrule r allow\n' > "$tmp/bad.rules"
status 1 squid --rules "$tmp/bad.rules"
DPIX_RULES_DIR=$tmp/empty status 1 nft
status 0 nft --help

[ $fail -eq 0 ] && echo "ok: dpix rules export"
exit $fail
