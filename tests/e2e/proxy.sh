#!/bin/sh
# End to end: dpixd as the HTTP CONNECT forwarder (--queues 0
# --proxy-listen), between a client and a server each in a network
# namespace of its own. Whitelisted tunnels reach a TLS server and carry
# its content; unlisted names, loopback literals and names resolving to
# private addresses are refused; a hello naming another host (domain
# fronting) closes the tunnel; an oversized head is refused; a second
# dpixd hands what it does not whitelist to squid as the parent proxy;
# coturn's test client runs TURN over TCP and over TLS through socat's
# PROXY address.
# Asserts the answers and the EVE line each connection leaves.
# Needs root, iproute2, curl, openssl, python3, squid, coturn and socat;
# without them it says what is missing and is skipped (77).
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh" # e2e_stop_check; its own set-up below
e2e_require ip openssl curl python3 squid turnserver turnutils_uclient turnutils_peer socat

id=$$
C=dpx-pc-$id P=dpx-pp-$id S=dpx-ps-$id
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=
# As lib.sh's e2e_cleanup: the first dpixd stops on SIGTERM (a sanitizer
# build reports leaks as it exits) and a sanitizer report fails the test.
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	e2e_stop_check "${dpixd_pid:-}" || rc=1
	[ -f "$tmp/squid.pid" ] && kill -9 "$(cat "$tmp/squid.pid")" 2> /dev/null
	ip netns del "$C" 2> /dev/null
	ip netns del "$P" 2> /dev/null
	ip netns del "$S" 2> /dev/null
	rm -rf "/etc/netns/$P" "$tmp"
	exit $rc
}
trap cleanup EXIT INT TERM
fails=0
ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# client 198.18.1.2 -- 198.18.1.1 proxy 198.18.2.1 -- 198.18.2.2 server
# (198.18.0.0/15, the benchmark range: neither private nor loopback)
ip netns add "$C" && ip netns add "$P" && ip netns add "$S" || exit 1
ip link add c0-$id netns "$C" type veth peer name p0-$id netns "$P"
ip link add s0-$id netns "$S" type veth peer name p1-$id netns "$P"
ip -n "$C" addr add 198.18.1.2/24 dev c0-$id
ip -n "$P" addr add 198.18.1.1/24 dev p0-$id
ip -n "$P" addr add 198.18.2.1/24 dev p1-$id
ip -n "$S" addr add 198.18.2.2/24 dev s0-$id
# and IPv6: fd00:1::/64 (ULA) on the client side, 2001:db8:2::/64 beyond
ip -n "$C" addr add fd00:1::2/64 dev c0-$id nodad
ip -n "$P" addr add fd00:1::1/64 dev p0-$id nodad
ip -n "$P" addr add 2001:db8:2::1/64 dev p1-$id nodad
ip -n "$S" addr add 2001:db8:2::2/64 dev s0-$id nodad
for ns in "$C" "$P" "$S"; do ip -n "$ns" link set lo up; done
ip -n "$C" link set c0-$id up
ip -n "$P" link set p0-$id up
ip -n "$P" link set p1-$id up
ip -n "$S" link set s0-$id up

# Names as the proxy's namespace resolves them (ip netns exec mounts
# /etc/netns/NAME/hosts over /etc/hosts).
mkdir -p "/etc/netns/$P"
cat > "/etc/netns/$P/hosts" << 'EOF'
127.0.0.1 localhost
198.18.2.2 turn-rbx1.openrainbow.com
198.18.2.2 other.example
198.18.2.2 unlisted.example
10.66.0.1 turn-priv.openrainbow.com
2001:db8:2::2 turn-v6.openrainbow.com
127.0.0.1 turn-lo.openrainbow.com
EOF

# The server: HTTPS on 443, IPv4 and IPv6, serving files.
e2e_https_server 3000000 ::
echo "hello through the tunnel" > "$tmp/index.html"
# A plain TCP server on 8443: reads to EOF, then answers with the count.
e2e_count_server 8443

cat > "$tmp/e2e.rules" << 'EOF'
pack    e2e-proxy
version 1
date    2026-12
source  "tests/e2e/proxy.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-http drop connect in turn tunnel http,websocket msg "a TURN relay carries STUN/TURN or TLS"
rule turn-relay bypass connect in turn connect-port 3478 tunnel turn service turn
rule turn-connect bypass connect in turn connect-port 443,5349,8443 service turn
EOF

ip netns exec "$P" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" --eve "$tmp/eve.json" \
	--proxy-listen 198.18.1.1:3128 --proxy-listen '[fd00:1::1]:3128' 2>> "$tmp/dpixd.log" &
dpixd_pid=$!
pids="$pids $!"
e2e_wait_listen "$P" tcp 198.18.1.1:3128

inC() { ip netns exec "$C" "$@"; }
PX=http://198.18.1.1:3128

# The command line: no queue and no listener, a bad address; a port
# already taken is an error at start (exit 1), not a silent forwarder.
"$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" 2> /dev/null
[ $? = 2 ] && ok "--queues 0 without --proxy-listen: usage error" || bad "--queues 0 alone"
"$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --proxy-listen 198.18.1.1 --rules "$tmp/e2e.rules" 2> /dev/null
[ $? = 2 ] && ok "--proxy-listen without a port: usage error" || bad "--proxy-listen bad"
ip netns exec "$P" timeout 10 "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" \
	--proxy-listen 198.18.1.1:3128 2> "$tmp/busy.log"
[ $? = 1 ] && grep -q 'cannot listen on 198.18.1.1 port 3128' "$tmp/busy.log" &&
	ok "a port in use: exit 1, said why" || bad "port in use: $(cat "$tmp/busy.log")"

# A head that never ends (slowloris): answered 400 after the 10 s bound.
# Started first, looked at last, so the wait overlaps the other cases.
inC python3 -c '
import socket, time
s = socket.create_connection(("198.18.1.1", 3128), timeout=20)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\nX-A: 1\r\n")
start = time.time()
ans = s.recv(200).split(b"\r\n")[0].decode()
print("%s|%d" % (ans, time.time() - start >= 8))
' > "$tmp/slow.out" 2>&1 &
slow_pid=$!
# connect_code URL [curl options]: the proxy's answer to the CONNECT.
connect_code() {
	u=$1 px=$2
	shift 2
	inC curl -s -o /dev/null -k -p -x "$px" -m 10 -w '%{http_connect}' "$@" "$u" 2> /dev/null
}

# 1. A whitelisted name: 200, the server's content, byte for byte.
out=$(inC curl -s -k -p -x $PX -m 10 https://turn-rbx1.openrainbow.com/index.html)
if [ "$out" = "hello through the tunnel" ]; then ok "whitelisted tunnel carries the content"; else bad "whitelisted tunnel: '$out'"; fi
inC curl -s -k -p -x $PX -m 20 -o "$tmp/got.bin" https://turn-rbx1.openrainbow.com/big.bin
if cmp -s "$tmp/got.bin" "$tmp/big.bin"; then ok "3 MB through the spliced tunnel intact"; else bad "big file differs"; fi
e2e_eve_in "$tmp/eve.json" '"flow_id":' '"host":"turn-rbx1.openrainbow.com","port":443,"status":200' \
	'"decision":"tunnel","close":"closed"' '"rule":"turn-connect"' '"bytes_toclient":3' '"sni":"turn-rbx1.openrainbow.com"' &&
	ok "EVE: the tunnel's target, rule, bytes and close" || bad "EVE for the tunnel"

# Half-close: the client ends its side, the server's answer still comes.
ans=$(inC python3 -c '
import socket
s = socket.create_connection(("198.18.1.1", 3128), timeout=5)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:8443 HTTP/1.1\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
s.sendall(b"x" * 300000)
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
print(head.split(b"\r\n")[0].decode() + "|" + out.decode())')
[ "$ans" = "HTTP/1.1 200 Connection established|got 300000 bytes" ] &&
	ok "half-close: client EOF passed on, the answer came back" || bad "half-close: '$ans'"
e2e_eve_in "$tmp/eve.json" '"port":8443,"status":200' '"bytes_toserver":300000,"bytes_toclient":16,' &&
	ok "EVE: tunnel bytes each way, the forwarder's own answer not counted" || bad "EVE byte counts"

# IPv6 on both sides: a v6 listener, a name with an AAAA record.
out=$(inC curl -s -k -p -x 'http://[fd00:1::1]:3128' -m 10 https://turn-v6.openrainbow.com/index.html)
[ "$out" = "hello through the tunnel" ] && ok "IPv6 listener and upstream" || bad "IPv6: '$out'"
e2e_eve_in "$tmp/eve.json" '"src_ip":"fd00:1::2"' '"dest_ip":"2001:db8:2::2"' '"status":200' &&
	ok "EVE: IPv6 addresses" || bad "EVE for IPv6"
code=$(connect_code 'https://[2001:db8:2::2]/' 'http://[fd00:1::1]:3128')
[ "$code" = 403 ] && ok "unlisted IPv6 literal: 403" || bad "IPv6 literal: '$code'"

# 2. An unlisted name and a loopback literal: 403.
code=$(connect_code https://unlisted.example/ $PX)
[ "$code" = 403 ] && ok "unlisted name: 403" || bad "unlisted name: '$code'"
e2e_eve_in "$tmp/eve.json" '"host":"unlisted.example"' '"status":403' '"decision":"refused"' &&
	ok "EVE: refused" || bad "EVE for the unlisted name"
code=$(inC curl -s -o /dev/null -p -x $PX -m 10 -w '%{http_connect}' telnet://127.0.0.1:22 2> /dev/null)
[ "$code" = 403 ] && ok "127.0.0.1:22: 403" || bad "127.0.0.1:22: '$code'"

# 3. Whitelisted names resolving to a private or the loopback address.
code=$(connect_code https://turn-priv.openrainbow.com/ $PX)
[ "$code" = 403 ] && ok "listed name on a private address: refused" || bad "private: '$code'"
code=$(connect_code https://turn-lo.openrainbow.com/ $PX)
[ "$code" = 403 ] && ok "listed name on the loopback: refused" || bad "loopback: '$code'"
e2e_eve_in "$tmp/eve.json" '"host":"turn-lo.openrainbow.com"' '"close":"address refused"' &&
	ok "EVE: address refused" || bad "EVE for the rebinding guard"

# 4. Domain fronting: CONNECT to the listed name, SNI for another.
code=$(inC curl -s -o /dev/null -k -p -x $PX -m 10 -w '%{http_connect}' \
	--connect-to other.example:443:turn-rbx1.openrainbow.com:443 https://other.example/index.html)
e2e_eve_in "$tmp/eve.json" '"sni":"other.example"' '"fronting":true' '"close":"fronting"' &&
	ok "fronted SNI: tunnel closed (CONNECT answered $code)" || bad "fronting not caught"

# A ClientHello sent in pieces (as a large post-quantum one arrives) is
# still read whole before deciding: the fronted one is caught.
inC python3 -c '
import socket, ssl, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(i, o, server_hostname="split-fronted.example")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = o.read()
s = socket.create_connection(("198.18.1.1", 3128), timeout=5)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
for k in range(0, len(hello), 40):
    s.sendall(hello[k:k + 40])
    time.sleep(0.02)
s.settimeout(5)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
' 2> /dev/null
e2e_eve_in "$tmp/eve.json" '"sni":"split-fronted.example"' '"close":"fronting"' &&
	ok "hello in 40-byte pieces: fronting caught" || bad "split hello not caught"

# The tunnel's first bytes decide again: plain HTTP inside a tunnel to a
# TURN name is dropped by the rule that says so; TLS goes on.
ans=$(inC python3 -c '
import socket
s = socket.create_connection(("198.18.1.1", 3128), timeout=5)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:8443 HTTP/1.1\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
s.sendall(b"GET / HTTP/1.1\r\nHost: turn-rbx1.openrainbow.com\r\n\r\n")
s.settimeout(5)
rest = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        rest += d
except OSError:
    pass
print(head.split(b"\r\n")[0].decode(), len(rest))
' 2>&1)
[ "$ans" = "HTTP/1.1 200 Connection established 0" ] &&
	e2e_eve_in "$tmp/eve.json" '"port":8443,"status":200,"tunnel":"http"' '"close":"dropped by rule"' \
		'"action":"drop","rule":"turn-http"' &&
	ok "HTTP inside a TURN tunnel: closed by the rule (tunnel http)" || bad "tunnel http: '$ans'"
e2e_eve_in "$tmp/eve.json" '"tunnel":"tls"' '"action":"bypass","rule":"turn-connect"' &&
	ok "TLS inside: tunnel tls, still bypassed" || bad "no tunnel tls record"

# 5. Malformed and oversized heads.
big=$(head -c 9000 /dev/zero | tr '\0' a)
code=$(connect_code https://turn-rbx1.openrainbow.com/ $PX --proxy-header "X-Big: $big")
[ "$code" = 431 ] && ok "oversized head: 431" || bad "oversized head: '$code'"
ans=$(printf 'CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' |
	inC python3 -c '
import socket, sys
s = socket.create_connection(("198.18.1.1", 3128), timeout=5)
s.sendall(sys.stdin.buffer.read())
print(s.recv(200).split(b"\r\n")[0].decode())')
[ "$ans" = "HTTP/1.1 400 Bad Request" ] && ok "duplicate Host: 400" || bad "duplicate Host: '$ans'"
e2e_eve_in "$tmp/eve.json" '"status":431' '"close":"bad request"' && ok "EVE: bad request" ||
	bad "EVE for the bad requests"

# 6. A plain proxy request, without a parent: 403.
code=$(inC curl -s -o /dev/null -x $PX -m 10 -w '%{http_code}' http://unlisted.example/ 2> /dev/null)
[ "$code" = 403 ] && ok "plain GET http:// without a parent: 403" || bad "plain GET: '$code'"

# 7. SIGHUP while the forwarder runs: the new packs are taken (the reload
# waits for the forwarder to move on), tunnels still work.
kill -HUP "$dpixd_pid"
for _ in $(seq 50); do
	grep -q 'reloaded the rule packs' "$tmp/dpixd.log" && break
	sleep 0.1
done
grep -q 'reloaded the rule packs' "$tmp/dpixd.log" && ok "reload with the forwarder running" ||
	bad "no reload"
out=$(inC curl -s -k -p -x $PX -m 10 https://turn-rbx1.openrainbow.com/index.html)
[ "$out" = "hello through the tunnel" ] && ok "tunnel after the reload" || bad "after reload: '$out'"

# 8. The tunnel bound and the idle timeout: a third forwarder takes one
# tunnel at a time and closes it after a second without bytes.
ip netns exec "$P" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" --eve "$tmp/eve3.json" \
	--proxy-listen 198.18.1.1:3131 --proxy-max-tunnels 1 --proxy-idle-timeout 1 \
	--proxy-fronting log \
	2>> "$tmp/dpixd.log" &
pids="$pids $!"
e2e_wait_listen "$P" tcp 198.18.1.1:3131
ans=$(inC python3 -c '
import socket, subprocess, time
s = socket.create_connection(("198.18.1.1", 3131), timeout=5)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n\r\n")
first = s.recv(200).split(b"\r\n")[0].decode()
t = socket.create_connection(("198.18.1.1", 3131), timeout=5)
t.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n\r\n")
second = t.recv(200).split(b"\r\n")[0].decode()
s.settimeout(5)
start = time.time()
eof = s.recv(10) == b""
print("%s|%s|%s|%d" % (first, second, eof, time.time() - start < 4))')
[ "$ans" = "HTTP/1.1 200 Connection established|HTTP/1.1 503 Service Unavailable|True|1" ] &&
	ok "one tunnel at most: 503; the idle one closed" || bad "bound and idle: '$ans'"
e2e_eve_in "$tmp/eve3.json" '"close":"idle"' && e2e_eve_in "$tmp/eve3.json" '"status":503' '"close":"over limit"' &&
	ok "EVE: idle and over limit" || bad "EVE for the bound and idle"
# The same forwarder only logs fronting: the fronted tunnel goes on.
out=$(inC curl -s -k -p -x http://198.18.1.1:3131 -m 10 \
	--connect-to other.example:443:turn-rbx1.openrainbow.com:443 https://other.example/index.html)
[ "$out" = "hello through the tunnel" ] && e2e_eve_in "$tmp/eve3.json" '"sni":"other.example"' \
	'"fronting":true' '"close":"closed"' && ok "--proxy-fronting log: flagged, not closed" ||
	bad "--proxy-fronting log: '$out'"

# 9. TURN over TCP and over TLS through tunnels (the issue's case): coturn
# in the server's namespace (3478 plain, 5349 TLS), its test client behind
# socat's PROXY address.
ip netns exec "$S" turnserver -n --listening-ip=198.18.2.2 --relay-ip=198.18.2.2 \
	--listening-port=3478 --tls-listening-port=5349 --cert="$tmp/cert.pem" --pkey="$tmp/key.pem" \
	--lt-cred-mech --user=e2e:secret --realm=e2e --no-dtls --no-cli --db="$tmp/turndb" \
	--pidfile="$tmp/turn.pid" --log-file=stdout > "$tmp/turn.log" 2>&1 &
pids="$pids $!"
ip netns exec "$S" turnutils_peer -L 198.18.2.2 -p 3480 > /dev/null 2>&1 &
pids="$pids $!"
for port in 3478 5349; do
	ip netns exec "$C" socat TCP-LISTEN:$((port + 10000)),bind=127.0.0.1,fork,reuseaddr \
		PROXY:198.18.1.1:turn-rbx1.openrainbow.com:$port,proxyport=3128 2> /dev/null &
	pids="$pids $!"
done
e2e_wait_listen "$S" tcp 198.18.2.2:5349
e2e_wait_listen "$C" tcp 127.0.0.1:15349
# uclient FLAG PORT WHAT: 20 messages through the local socat port.
uclient() {
	inC timeout 30 turnutils_uclient $1 -n 20 -m 1 -l 120 -e 198.18.2.2 -r 3480 -u e2e -w secret \
		-p "$2" 127.0.0.1 > "$tmp/uclient$2.log" 2>&1
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$tmp/uclient$2.log" | tail -n 1)
	sent=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$tmp/uclient$2.log" | tail -n 1)
	recv=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$tmp/uclient$2.log" | tail -n 1)
	if [ "${lost:-x}" = 0 ] && [ "${recv:-0}" -gt 0 ] && [ "$recv" = "$sent" ]; then
		ok "TURN over $3 through the tunnel: $recv packets echoed, none lost"
	else
		bad "TURN over $3: lost '${lost:-?}', sent '${sent:-?}', received '${recv:-?}'"
		tail -n 20 "$tmp/uclient$2.log"
	fi
}
uclient -t 13478 TCP
uclient "-t -S" 15349 TLS
# Opened because the rule "turn-relay ... tunnel turn" bypasses some
# content, kept because the tunnel's first bytes were STUN/TURN; the TLS
# one by turn-connect, its first bytes a ClientHello.
e2e_eve_in "$tmp/eve.json" '"host":"turn-rbx1.openrainbow.com","port":3478,"status":200,"tunnel":"turn"' \
	'"decision":"tunnel"' '"rule":"turn-relay"' && ok "EVE: the TURN tunnel (tunnel turn)" ||
	bad "EVE for the TURN tunnel"
e2e_eve_in "$tmp/eve.json" '"host":"turn-rbx1.openrainbow.com","port":5349,"status":200,"tunnel":"tls"' \
	'"decision":"tunnel"' '"rule":"turn-connect"' && ok "EVE: the TURN over TLS tunnel (tunnel tls)" ||
	bad "EVE for the TURN over TLS tunnel: $(grep 5349 "$tmp/eve.json")"

# 10. What the parent is sent: a fake parent records the request heads
# and asks for credentials; the client's Proxy-Authorization goes along,
# its other fields do not, and the 407 comes back. Without the client's,
# the configured ones (--proxy-parent-auth) go, also in a plain request.
ip netns exec "$P" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 3132))
s.listen(4)
for k in range(1, 4):
    c, _ = s.accept()
    h = b""
    while b"\r\n\r\n" not in h:
        h += c.recv(1)
    open(sys.argv[1] + ".%d" % k, "wb").write(h)
    c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=e2e\r\nContent-Length: 0\r\n\r\n")
    c.close()
' "$tmp/parent-head" &
pids="$pids $!"
printf 'e2e:secret\n' > "$tmp/parent.auth"
chmod 644 "$tmp/parent.auth"
ip netns exec "$P" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" \
	--proxy-listen 198.18.1.1:3134 --proxy-parent 127.0.0.1:3132 --proxy-parent-auth "$tmp/parent.auth" \
	2> "$tmp/auth.log"
[ $? = 1 ] && grep -q "proxy-parent-auth: $tmp/parent.auth: group or others may read it" "$tmp/auth.log" &&
	ok "a credentials file others may read: refused at start" || bad "mode 644 auth: $(cat "$tmp/auth.log")"
chmod 600 "$tmp/parent.auth"
ip netns exec "$P" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" --eve "$tmp/eve4.json" \
	--proxy-listen 198.18.1.1:3133 --proxy-parent 127.0.0.1:3132 --proxy-parent-auth "$tmp/parent.auth" \
	2>> "$tmp/dpixd.log" &
pids="$pids $!"
e2e_wait_listen "$P" tcp 127.0.0.1:3132
e2e_wait_listen "$P" tcp 198.18.1.1:3133
code=$(connect_code https://unlisted.example/ http://198.18.1.1:3133 -U user:pw --proxy-header 'X-Secret: no')
expect=$(printf 'CONNECT unlisted.example:443 HTTP/1.1\r\nHost: unlisted.example:443\r\nProxy-Authorization: Basic dXNlcjpwdw==\r\n\r\n')
[ "$code" = 407 ] && [ "$(cat "$tmp/parent-head.1")" = "$expect" ] &&
	ok "the parent gets the CONNECT with the client's credentials only, its 407 comes back" ||
	bad "to the parent: code '$code', head '$(cat "$tmp/parent-head.1" 2> /dev/null)'"
e2e_eve_in "$tmp/eve4.json" '"host":"unlisted.example","port":443,"status":407' '"decision":"parent"' ||
	bad "EVE: the parent's 407"
code=$(connect_code https://unlisted.example/ http://198.18.1.1:3133)
expect=$(printf 'CONNECT unlisted.example:443 HTTP/1.1\r\nHost: unlisted.example:443\r\nProxy-Authorization: Basic ZTJlOnNlY3JldA==\r\n\r\n')
[ "$code" = 407 ] && [ "$(cat "$tmp/parent-head.2")" = "$expect" ] &&
	ok "no client credentials: the configured ones go to the parent" ||
	bad "configured credentials: code '$code', head '$(cat "$tmp/parent-head.2" 2> /dev/null)'"
inC curl -s -o /dev/null -x http://198.18.1.1:3133 -m 10 http://unlisted.example/x
head=$(cat "$tmp/parent-head.3" 2> /dev/null)
case $head in
"GET http://unlisted.example/x HTTP/1.1"*"$(printf 'Proxy-Authorization: Basic ZTJlOnNlY3JldA==\r\n\r')")
	ok "a plain request: the configured credentials added before its blank line" ;;
*) bad "plain request to the parent: '$head'" ;;
esac

# 11. Squid as the parent of a second forwarder: what is not whitelisted
# goes there, and its answer comes back.
echo "198.18.2.2 denied.example" >> "/etc/netns/$P/hosts"
e2e_squid "$P" 127.0.0.1:3129 << 'EOS'
acl denied dstdomain denied.example
http_access deny denied
EOS
ip netns exec "$P" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 --rules "$tmp/e2e.rules" --eve "$tmp/eve2.json" \
	--proxy-listen 198.18.1.1:3130 --proxy-parent 127.0.0.1:3129 2>> "$tmp/dpixd.log" &
pids="$pids $!"
e2e_wait_listen "$P" tcp 198.18.1.1:3130 100
out=$(inC curl -s -k -p -x http://198.18.1.1:3130 -m 10 https://unlisted.example/index.html)
if [ "$out" = "hello through the tunnel" ]; then ok "unlisted name through the parent"; else bad "via parent: '$out'"; fi
e2e_eve_in "$tmp/eve2.json" '"host":"unlisted.example","port":443,"status":200' '"decision":"parent"' &&
	ok "EVE: parent" || bad "EVE for the parent"
hdr=$(inC curl -s -k -p -x http://198.18.1.1:3130 -m 10 -o /dev/null -D - https://denied.example/ 2> /dev/null)
printf '%s\n' "$hdr" | grep -q '^HTTP/1.1 403' && printf '%s\n' "$hdr" | grep -qi '^Server: squid' &&
	ok "the parent's 403 relayed" || bad "parent's refusal: '$hdr'"
e2e_eve_in "$tmp/eve2.json" '"host":"denied.example","port":443,"status":403' '"decision":"parent"' ||
	bad "EVE: the parent's 403"
out=$(inC curl -s -k -p -x http://198.18.1.1:3130 -m 10 https://turn-rbx1.openrainbow.com/index.html)
[ "$out" = "hello through the tunnel" ] && ok "whitelisted name with a parent set: direct" || bad "direct with parent: '$out'"
e2e_eve_in "$tmp/eve2.json" '"host":"turn-rbx1.openrainbow.com"' '"decision":"tunnel"' ||
	bad "whitelisted name went to the parent"

wait "$slow_pid"
[ "$(cat "$tmp/slow.out")" = "HTTP/1.1 400 Bad Request|1" ] &&
	ok "a head that never ends: 400 after the time bound" || bad "slow head: '$(cat "$tmp/slow.out")'"
e2e_eve_in "$tmp/eve.json" '"close":"head timeout"' && ok "EVE: head timeout" ||
	bad "EVE for the head timeout"

# SIGUSR1: the forwarder's counters join the daemon's.
line=$(e2e_report 'proxy: accepted' "$dpixd_pid")
echo "$line" | grep -q 'fronting 2, .*head timeouts 1' ||
	echo "$line" | grep -q 'head timeouts 1, .*fronting 2' &&
	ok "SIGUSR1: the forwarder's counters" || bad "SIGUSR1 counters: $line"

if [ $fails -ne 0 ]; then
	echo "--- dpixd log"
	cat "$tmp/dpixd.log"
	echo "--- events"
	cat "$tmp/eve.json" "$tmp/eve2.json" "$tmp/eve3.json" 2> /dev/null
fi
exit $((fails != 0))
