#!/bin/sh
# End to end: dpixd's forwarder behind TPROXY (--proxy-tproxy), IPv4 and
# IPv6. The gateway diverts the client's TCP 443 with iptables and
# ip6tables -t mangle TPROXY, the mark routed to the host (ip rule, ip
# route local), as `dpixd --print-rules iptables` prints it; the client
# resolves the names to the server and knows of no proxy. Per family,
# asserts that a whitelisted TLS name reaches the server with its content
# and leaves an EVE line (transparent, tunnel, the server as dest_ip, the
# bytes); that a name no pack lists is closed and logged as refused; and
# that a connection to the listener itself (not diverted) is closed as a
# loop: on the IPv4 wildcard listener (0.0.0.0) and on the IPv6 one bound
# to the gateway's address. Then again with the nft form of the
# diversion, if nft is installed.
# Needs root, iproute2, iptables, ip6tables, curl, openssl, python3;
# skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables ip6tables openssl curl python3 nft
e2e_init dtx
e2e_topology
e2e_topology6
e2e_hosts "$C" << 'EOH'
198.18.2.2 turn-rbx1.openrainbow.com other.example
2001:2:0:2::2 turn-rbx1.openrainbow.com other.example
EOH
e2e_https_server 100000
e2e_https_server 100000 2001:2:0:2::2

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e-tproxy
version 1
date    2026-12
source  "tests/e2e/proxy-tproxy.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-connect bypass connect in turn connect-port 443 service turn
EOR

set -- --proxy-tproxy 0.0.0.0:3130 --proxy-tproxy '[2001:2:0:1::1]:3130' --proxy-mark 0x100

# The diversion as dpixd prints it (comments), for the client interface:
# the iptables form and the policy routing; the nft form is tried later.
"$DPIXD" --config /dev/null --rules "$tmp/pack.rules" --print-rules iptables "$@" |
	sed -n 's/^#   \(ip6\{0,1\}tables\|ip\) /\1 /p' | sed "s/IFACE/g0-$id/" > "$tmp/divert.sh"
grep -q -- '-j TPROXY --on-port 3130 --tproxy-mark' "$tmp/divert.sh" &&
	grep -q -- '-j TPROXY --on-ip 2001:2:0:1::1 --on-port 3130' "$tmp/divert.sh" &&
	grep -q '^ip -6 route add local ::/0 dev lo table' "$tmp/divert.sh" ||
	bad "--print-rules: no TPROXY recipe: $(cat "$tmp/divert.sh")"
while read -r line; do
	inG $line || bad "diversion did not install: $line"
done < "$tmp/divert.sh"
"$DPIXD" --config /dev/null --rules "$tmp/pack.rules" --print-rules nft "$@" |
	sed -n '/^#   table inet dpix_divert {$/,/^#   }$/s/^#   //p' | sed "s/IFACE/g0-$id/" \
	> "$tmp/divert.nft"

e2e_forwarder "$@" || exit 1
grep -q 'listening on 0.0.0.0 port 3130 (transparent, TPROXY)' "$tmp/dpixd.log" &&
	ok "TPROXY listeners up" || bad "listeners: $(cat "$tmp/dpixd.log")"
inC() { ip netns exec "$C" "$@"; }

# cases FORM: per family, the tunnel, the refusal and the loop.
cases() {
	for fam in 4 6; do
		if [ $fam = 4 ]; then
			server=198.18.2.2 listener=198.18.1.1
		else
			server=2001:2:0:2::2 listener=2001:2:0:1::1
		fi
		: > "$tmp/eve.json"

		# 1. TLS to a whitelisted name: through to the server it
		# resolves to.
		rm -f "$tmp/got.bin"
		out=$(inC curl -$fam -s -k -m 10 -o "$tmp/got.bin" -w '%{http_code}' \
			https://turn-rbx1.openrainbow.com/big.bin)
		if [ "$out" = 200 ] && cmp -s "$tmp/got.bin" "$tmp/big.bin"; then
			ok "$form, IPv$fam: TLS by SNI through TPROXY, content intact"
		else
			bad "$form, IPv$fam: TLS by SNI: '$out' $(tail -3 "$tmp/dpixd.log")"
		fi
		e2e_eve "\"dest_ip\":\"$server\",\"dest_port\":443" \
			'"sni":"turn-rbx1.openrainbow.com"' '"host":"turn-rbx1.openrainbow.com","port":443' \
			'"mode":"transparent","decision":"tunnel","close":"closed"' \
			'"action":"bypass","rule":"turn-connect"' &&
			ok "$form, IPv$fam: EVE: tunnel to the original destination" ||
			bad "$form, IPv$fam: EVE for the tunnel: $(cat "$tmp/eve.json")"
		# Every byte of big.bin (and its headers) came through the tunnel.
		toclient=$(grep -F "\"dest_ip\":\"$server\"" "$tmp/eve.json" |
			grep -F '"decision":"tunnel"' |
			sed -n 's/.*"bytes_toclient":\([0-9]*\).*/\1/p' | tail -1)
		[ "${toclient:-0}" -gt 100000 ] &&
			ok "$form, IPv$fam: EVE counts $toclient bytes to the client" ||
			bad "$form, IPv$fam: bytes_toclient '$toclient'"

		# 2. A name no pack lists, no parent: closed, logged as refused.
		out=$(inC curl -$fam -s -k -m 10 -o /dev/null -w '%{http_code}' \
			https://other.example/ 2> /dev/null)
		[ "$out" = 000 ] && ok "$form, IPv$fam: unlisted SNI: closed" ||
			bad "$form, IPv$fam: unlisted SNI: '$out'"
		e2e_eve "\"src_ip\":\"$(echo $listener | sed 's/1$/2/')\"" '"sni":"other.example"' \
			'"mode":"transparent","decision":"refused","close":"refused"' &&
			ok "$form, IPv$fam: EVE: the unlisted name refused" ||
			bad "$form, IPv$fam: EVE for the unlisted name: $(cat "$tmp/eve.json")"

		# 3. Straight to the listener, not diverted: closed (it would loop),
		# with a reset when the request was not read.
		: > "$tmp/eve.json"
		out=$(inC python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 3130), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: turn-rbx1.openrainbow.com\r\n\r\n")
try:
    print(s.recv(100) == b"")
except ConnectionResetError:
    print(True)
' $listener)
		[ "$out" = True ] && e2e_eve '"close":"not redirected"' &&
			ok "$form, IPv$fam: direct connection to the listener: closed" ||
			bad "$form, IPv$fam: direct connection: '$out' $(cat "$tmp/eve.json")"
	done
}

form=iptables
cases
# The nft form of the same diversion, where nft has tproxy.
inG iptables -t mangle -F PREROUTING
inG ip6tables -t mangle -F PREROUTING
if ! grep -q 'tproxy ip to :3130' "$tmp/divert.nft" || ! inG nft -f "$tmp/divert.nft"; then
	bad "the printed nft diversion did not load: $(cat "$tmp/divert.nft")"
else
	form=nft
	cases
fi

line=$(e2e_report 'proxy: accepted')
case $line in
*"transparent "[1-9]*) ok "SIGUSR1 counts transparent connections" ;;
*) bad "counters: $line" ;;
esac
kill "$dpixd"
[ $fails = 0 ] || {
	echo "--- dpixd.log"
	cat "$tmp/dpixd.log"
}
exit $((fails > 0))
