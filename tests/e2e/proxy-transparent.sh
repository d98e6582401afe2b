#!/bin/sh
# End to end: dpixd's forwarder in transparent mode (--proxy-transparent).
# The gateway redirects the client's TCP 443 and 80 to dpixd with
# iptables -t nat REDIRECT; the client knows of no proxy. Asserts that a
# whitelisted TLS name (by its SNI) and a whitelisted plain HTTP Host pass
# to the original destination with their content and an EVE line
# (proxy.mode transparent, decision tunnel); that an unlisted TLS name
# with no parent is closed and an unlisted Host answered 403; that a
# connection to the listener itself (not redirected) is closed; and that
# dpixd's upstream sockets carry --proxy-mark; and that with a parent an
# unlisted name goes through it (CONNECT, its answer dropped, the hello
# replayed). Over IPv6 too (ip6tables REDIRECT, IP6T_SO_ORIGINAL_DST):
# the whitelisted and unlisted names and the direct connection.
# Needs root, iproute2, iptables, ip6tables, curl, openssl, python3;
# skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables ip6tables openssl curl python3
e2e_init dtp
e2e_topology 198.18.1.2 198.18.1.3
e2e_topology6
echo "198.18.2.2 other.example" | e2e_hosts "$G"
e2e_https_server 100000
e2e_https_server 100000 2001:2:0:2::2
echo "hello plain" > "$tmp/index.txt"
(cd "$tmp" && exec ip netns exec "$S" python3 -m http.server 80 --bind 0.0.0.0 > /dev/null 2>&1) &
pids="$pids $!"
e2e_wait_port tcp 80

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e-transparent
version 1
date    2026-12
source  "tests/e2e/proxy-transparent.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-connect bypass connect in turn connect-port 80,443 service turn
EOR

# Redirect what the client sends to 443 and 80; the forwarder's own
# connections leave from the gateway (OUTPUT), which PREROUTING never sees.
inG iptables -t nat -A PREROUTING -i g0-$id -p tcp -m multiport --dports 80,443 \
	-j REDIRECT --to-ports 3129 || exit 99
inG ip6tables -t nat -A PREROUTING -i g0-$id -p tcp --dport 443 -j REDIRECT --to-ports 3129 ||
	exit 99
e2e_forwarder --proxy-mark 0x100 --proxy-transparent 198.18.1.1:3129 \
	--proxy-transparent '[2001:2:0:1::1]:3129' || exit 1
inC() { ip netns exec "$C" "$@"; }

# 1. TLS to a whitelisted name, resolved by the client to the server.
out=$(inC curl -s -k -m 10 --resolve turn-rbx1.openrainbow.com:443:198.18.2.2 \
	-o "$tmp/got.bin" -w '%{http_code}' https://turn-rbx1.openrainbow.com/big.bin)
if [ "$out" = 200 ] && cmp -s "$tmp/got.bin" "$tmp/big.bin"; then
	ok "TLS by SNI: through to the original destination, content intact"
else
	bad "TLS by SNI: '$out' $(tail -3 "$tmp/dpixd.log")"
fi
e2e_eve '"dest_ip":"198.18.2.2","dest_port":443' '"sni":"turn-rbx1.openrainbow.com"' \
	'"host":"turn-rbx1.openrainbow.com","port":443' '"mode":"transparent","decision":"tunnel"' \
	'"action":"bypass"' '"rule":"turn-connect"' &&
	ok "EVE: transparent, bypass, the original destination" || bad "EVE for the TLS tunnel: $(cat "$tmp/eve.json")"

# 2. TLS to a name no pack lists, no parent: closed, nothing answered.
out=$(inC curl -s -k -m 10 --resolve other.example:443:198.18.2.2 \
	-o /dev/null -w '%{http_code}' https://other.example/ 2> /dev/null)
[ "$out" = 000 ] && ok "unlisted SNI without a parent: closed" || bad "unlisted SNI: '$out'"
e2e_eve '"sni":"other.example"' '"host":"other.example","port":443' \
	'"mode":"transparent","decision":"refused","close":"refused"' &&
	ok "EVE: the unlisted name refused" || bad "EVE for the unlisted name"

# 3. Plain HTTP: the Host decides; port 80.
out=$(inC curl -s -m 10 --resolve turn-rbx1.openrainbow.com:80:198.18.2.2 \
	http://turn-rbx1.openrainbow.com/index.txt)
[ "$out" = "hello plain" ] && ok "plain HTTP by Host: through" || bad "plain HTTP: '$out'"
e2e_eve '"host":"turn-rbx1.openrainbow.com","port":80' '"mode":"transparent","decision":"tunnel"' \
	'"dest_ip":"198.18.2.2","dest_port":80' && ok "EVE: the HTTP tunnel" || bad "EVE for plain HTTP"
out=$(inC curl -s -m 10 -o /dev/null -w '%{http_code}' \
	--resolve other.example:80:198.18.2.2 http://other.example/index.txt)
[ "$out" = 403 ] && ok "plain HTTP, unlisted Host: 403" || bad "unlisted Host: '$out'"

# 4. Neither TLS nor HTTP: the original address is the name (unlisted).
out=$(inC python3 -c '
import socket
s = socket.create_connection(("198.18.2.2", 443), timeout=15)
s.sendall(b"\x00 not a protocol\r\n\r\n")
print(s.recv(100) == b"")
')
[ "$out" = True ] && e2e_eve '"host":"198.18.2.2","port":443' '"decision":"refused"' &&
	ok "no name: the original address decided on, refused" || bad "no name: '$out'"

# 5. Straight to the listener, not redirected: closed (it would loop).
out=$(inC python3 -c '
import socket
s = socket.create_connection(("198.18.1.1", 3129), timeout=5)
print(s.recv(100) == b"")
')
[ "$out" = True ] && e2e_eve '"close":"not redirected"' &&
	ok "not redirected: closed" || bad "direct connection: '$out'"

# 5b. IPv6: REDIRECT to the v6 listener, the target from
# IP6T_SO_ORIGINAL_DST.
out=$(inC curl -6 -s -k -m 10 --resolve 'turn-rbx1.openrainbow.com:443:[2001:2:0:2::2]' \
	-o "$tmp/got6.bin" -w '%{http_code}' https://turn-rbx1.openrainbow.com/big.bin)
if [ "$out" = 200 ] && cmp -s "$tmp/got6.bin" "$tmp/big.bin"; then
	ok "IPv6: TLS by SNI through to the original destination, content intact"
else
	bad "IPv6: TLS by SNI: '$out' $(tail -3 "$tmp/dpixd.log")"
fi
e2e_eve '"src_ip":"2001:2:0:1::2"' '"dest_ip":"2001:2:0:2::2","dest_port":443' \
	'"sni":"turn-rbx1.openrainbow.com"' '"mode":"transparent","decision":"tunnel"' &&
	ok "IPv6: EVE: transparent tunnel to the original destination" ||
	bad "IPv6: EVE for the TLS tunnel: $(grep 2001: "$tmp/eve.json")"
out=$(inC curl -6 -s -k -m 10 --resolve 'other.example:443:[2001:2:0:2::2]' \
	-o /dev/null -w '%{http_code}' https://other.example/ 2> /dev/null)
[ "$out" = 000 ] && e2e_eve '"src_ip":"2001:2:0:1::2"' '"sni":"other.example"' \
	'"decision":"refused","close":"refused"' &&
	ok "IPv6: unlisted SNI without a parent: closed" || bad "IPv6: unlisted SNI: '$out'"
out=$(inC python3 -c '
import socket
s = socket.create_connection(("2001:2:0:1::1", 3129), timeout=5)
print(s.recv(100) == b"")
')
[ "$out" = True ] && e2e_eve '"src_ip":"2001:2:0:1::2"' '"close":"not redirected"' &&
	ok "IPv6: not redirected: closed" || bad "IPv6: direct connection: '$out'"

# 6. The forwarder's upstream socket carries the mark (held open by a
# client that has not finished).
inC python3 -c '
import socket, ssl, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("198.18.2.2", 443), timeout=10),
                    server_hostname="turn-rbx1.openrainbow.com")
time.sleep(3)
' &
hold=$!
sleep 1.5
marks=$(inG ss -tnpe state established "( dport = :443 )" 2> /dev/null)
wait $hold
printf '%s\n' "$marks" | grep -q 'fwmark:0x100' && ok "upstream socket marked 0x100" ||
	bad "no mark on the upstream socket: $marks"

# 7. Through a parent: a second forwarder whitelists other.example; the
# client 198.18.1.3 is redirected to a transparent one that does not, with
# that parent. The parent's 200 is dropped, the hello replayed.
cat > "$tmp/parent.rules" << 'EOR'
pack    e2e-parent
version 1
date    2026-12
source  "tests/e2e/proxy-transparent.sh"
domains other {
	other.example
}
rule other-connect bypass connect in other connect-port 443 service other
EOR
inG iptables -t nat -I PREROUTING -i g0-$id -s 198.18.1.3 -p tcp --dport 443 \
	-j REDIRECT --to-ports 3131
ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 \
	--rules "$tmp/parent.rules" --proxy-listen 198.18.2.1:3130 2>> "$tmp/parent.log" &
pids="$pids $!"
ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 \
	--rules "$tmp/pack.rules" --eve "$tmp/eve2.json" --proxy-parent 198.18.2.1:3130 \
	--proxy-transparent 198.18.1.1:3131 2>> "$tmp/dpixd2.log" &
pids="$pids $!"
e2e_wait_listen "$G" tcp 198.18.1.1:3131
e2e_wait_listen "$G" tcp 198.18.2.1:3130
out=$(inC curl -s -k -m 10 --interface 198.18.1.3 --resolve other.example:443:198.18.2.2 \
	-o "$tmp/got2.bin" -w '%{http_code}' https://other.example/big.bin)
if [ "$out" = 200 ] && cmp -s "$tmp/got2.bin" "$tmp/big.bin"; then
	ok "unlisted SNI with a parent: CONNECT through it, content intact"
else
	bad "via the parent: '$out' $(tail -3 "$tmp/dpixd2.log")"
fi
for _ in $(seq 30); do
	grep -q '"host":"other.example","port":443,"status":200' "$tmp/eve2.json" 2> /dev/null && break
	sleep 0.1
done
grep '"host":"other.example","port":443,"status":200' "$tmp/eve2.json" 2> /dev/null |
	grep -q '"mode":"transparent","decision":"parent","close":"closed"' &&
	ok "EVE: transparent via the parent, its 200" || bad "EVE via the parent: $(cat "$tmp/eve2.json")"

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
