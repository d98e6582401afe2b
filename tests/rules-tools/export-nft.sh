#!/bin/sh
# nft -c accepts what dpix rules export nft writes (export-lib.sh).
. "$top_srcdir/tests/rules-tools/export-lib.sh"
command -v nft > /dev/null || skip "nft is not installed (apt-get install nftables)"
nft list tables > /dev/null 2>&1 || skip "nft cannot talk to the kernel here (needs CAP_NET_ADMIN)"
pack=$top_srcdir/tests/rules-tools/export-test.rules
for action in bypass inspect drop; do
	export_to test-$action.nft nft --action "$action" --rules "$pack" || fail=1
	nft -c -f "$tmp/test-$action.nft" || { echo "FAIL: nft -c refuses the test pack's export (--action $action)"; fail=1; }
done
export_to edge.nft nft --rules "$top_srcdir/tests/rules-tools/export-edge.rules" || fail=1
nft -c -f "$tmp/edge.nft" || { echo "FAIL: nft -c refuses the edge pack's export"; fail=1; }
# shellcheck disable=SC2046
export_to shipped.nft nft $(shipped) || fail=1
nft -c -f "$tmp/shipped.nft" || { echo "FAIL: nft -c refuses the shipped packs' export"; fail=1; }
[ $fail -eq 0 ] && echo "ok: nft -c accepts the exports"
exit $fail
