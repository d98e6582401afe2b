#!/bin/sh
# ipset restore, then iptables-restore and ip6tables-restore, accept what
# dpix rules export iptables writes, loaded into a throwaway network
# namespace that is deleted afterwards, also on failure (export-lib.sh).
. "$top_srcdir/tests/rules-tools/export-lib.sh"
command -v ipset > /dev/null || skip "ipset is not installed (apt-get install ipset)"
command -v ip > /dev/null || skip "ip is not installed (apt-get install iproute2)"
ns=dpix-export-$$
ip netns add "$ns" 2> /dev/null || skip "cannot create a network namespace (needs root)"
cleanup() {
	ip netns exec "$ns" iptables -t mangle -F 2> /dev/null
	ip netns exec "$ns" iptables -t mangle -X 2> /dev/null
	ip netns exec "$ns" ip6tables -t mangle -F 2> /dev/null
	ip netns exec "$ns" ip6tables -t mangle -X 2> /dev/null
	ip netns exec "$ns" ipset destroy 2> /dev/null
	ip netns del "$ns"
	rm -rf "$tmp"
}
pack=$top_srcdir/tests/rules-tools/export-test.rules
# load FILE: the sets, then (when iptables is there) the rules.
load() {
	ip netns exec "$ns" ipset restore < "$1" || { echo "FAIL: ipset restore refuses $2"; return 1; }
	command -v iptables-restore > /dev/null || return 0
	sed -n 's/^#iptables //p' "$1" | ip netns exec "$ns" iptables-restore --noflush ||
		{ echo "FAIL: iptables-restore refuses $2"; return 1; }
	sed -n 's/^#ip6tables //p' "$1" | ip netns exec "$ns" ip6tables-restore --noflush ||
		{ echo "FAIL: ip6tables-restore refuses $2"; return 1; }
}
export_to test.ipset iptables --rules "$pack" || fail=1
load "$tmp/test.ipset" "the test pack's export" || fail=1
# Loaded twice: the file replaces what it loaded before.
load "$tmp/test.ipset" "the test pack's export, loaded again" || fail=1
n=$(ip netns exec "$ns" ipset list dpix-exp-relays-v4 | grep -c '^[0-9]')
[ "$n" = 6 ] || { echo "FAIL: dpix-exp-relays-v4 holds $n entries, expected 6"; fail=1; }
export_to edge.ipset iptables --rules "$top_srcdir/tests/rules-tools/export-edge.rules" || fail=1
load "$tmp/edge.ipset" "the edge pack's export" || fail=1
# shellcheck disable=SC2046
export_to shipped.ipset iptables $(shipped) || fail=1
load "$tmp/shipped.ipset" "the shipped packs' export" || fail=1
command -v iptables-restore > /dev/null || echo "note: iptables-restore is not installed: rules not checked"
[ $fail -eq 0 ] && echo "ok: ipset and iptables accept the exports"
exit $fail
