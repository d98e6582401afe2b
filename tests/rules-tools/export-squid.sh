#!/bin/sh
# squid -k parse accepts the ACLs dpix rules export squid writes, included
# from a minimal squid.conf that uses them (export-lib.sh).
. "$top_srcdir/tests/rules-tools/export-lib.sh"
command -v squid > /dev/null || skip "squid is not installed (apt-get install squid-openssl)"
printf 'acl probe ssl::server_name example.com\n' > "$tmp/probe.conf"
squid -k parse -f "$tmp/probe.conf" > /dev/null 2>&1 ||
	skip "this squid has no ssl::server_name ACL (built without OpenSSL: apt-get install squid-openssl)"
pack=$top_srcdir/tests/rules-tools/export-test.rules
# parse ACLFILE USE...: a squid.conf including the ACLs, one line per use.
parse() {
	{
		echo "http_port 127.0.0.1:3128"
		echo "include $1"
		shift
		for u in "$@"; do
			echo "$u"
		done
		echo "http_access deny all"
	} > "$tmp/squid.conf"
	squid -k parse -f "$tmp/squid.conf" > "$tmp/parse.log" 2>&1 &&
		! grep -E 'WARNING|ERROR|FATAL|Bungled' "$tmp/parse.log"
}
export_to test.squid squid --rules "$pack" || fail=1
parse "$tmp/test.squid" "ssl_bump splice dpix_exp_media" "ssl_bump splice dpix_exp_relays" \
	"ssl_bump splice dpix_exp_names" "http_access allow CONNECT dpix_exp_media_host" ||
	{ echo "FAIL: squid -k parse refuses the test pack's export"; cat "$tmp/parse.log"; fail=1; }
export_to edge.squid squid --rules "$top_srcdir/tests/rules-tools/export-edge.rules" || fail=1
parse "$tmp/edge.squid" "ssl_bump splice dpix_edge_all6 dpix_edge_ends_src" ||
	{ echo "FAIL: squid -k parse refuses the edge pack's export"; cat "$tmp/parse.log"; fail=1; }
# shellcheck disable=SC2046
export_to shipped.squid squid $(shipped) || fail=1
parse "$tmp/shipped.squid" "ssl_bump splice dpix_rainbow_turn" "ssl_bump splice dpix_rainbow" ||
	{ echo "FAIL: squid -k parse refuses the shipped packs' export"; cat "$tmp/parse.log"; fail=1; }
[ $fail -eq 0 ] && echo "ok: squid -k parse accepts the exports"
exit $fail
