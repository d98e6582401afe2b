#!/bin/sh
# Every dpixd.conf key (as dpixd itself lists them) is described in
# dpixd.conf(5) and shown in the example doc/dpixd.conf, and the example
# parses both as shipped and with every key uncommented.
: "${top_srcdir:?}" "${DPIXD:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'no-such-key 1\n' > "$tmp/x.conf"
keys=$("$DPIXD" --config "$tmp/x.conf" 2>&1 | sed -n 's/.*expected one of //p' | tr -d ,)
[ -n "$keys" ] || {
	echo "FAIL: dpixd did not list its keys"
	exit 1
}
bad=0
for k in $keys; do
	man=$(echo "$k" | sed 's/-/\\\\-/g')
	grep -Eq "^\.B.*(^| |\\fP|\")$man( |\$|\")" "$top_srcdir/doc/dpixd.conf.5" || {
		echo "FAIL: key $k is not in doc/dpixd.conf.5"
		bad=1
	}
	grep -q "^#$k " "$top_srcdir/doc/dpixd.conf" || {
		echo "FAIL: key $k is not in doc/dpixd.conf"
		bad=1
	}
done
"$DPIXD" --config "$top_srcdir/doc/dpixd.conf" --print-rules nft > /dev/null || bad=1
# Uncommented (the rules lines name packs that need not exist here).
sed 's/^#\([a-z]\)/\1/' "$top_srcdir/doc/dpixd.conf" | grep -v '^rules ' > "$tmp/all.conf"
"$DPIXD" --config "$tmp/all.conf" --print-rules nft > /dev/null || bad=1
[ $bad -eq 0 ] && echo "ok: $(echo $keys | wc -w) keys documented, the example parses"
exit $bad
