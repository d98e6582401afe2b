#!/bin/sh
# End to end: dpixd's forwarder as an HTTPS proxy (--proxy-listen-tls):
# curl speaks TLS to it (--proxy https://, --proxy-cacert), then CONNECT
# and the tunnel inside that session, to a TLS server in the server's
# namespace. A whitelisted name carries its content (and 30 MB each way,
# checksums compared, one of them read slowly); a client's close_notify
# half-closes the upstream and the upstream's EOF comes back as the
# forwarder's close_notify; an unlisted name gets 403 inside the session;
# a client that never handshakes is closed at the head timeout while
# others are served; a plain HTTP client and an h2-only one are closed;
# bad certificate settings stop dpixd with the file named. Asserts the
# EVE line each connection leaves.
# Needs root, iproute2, curl (with HTTPS-proxy), openssl, python3; skipped
# (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip openssl curl python3
curl -V | grep -q 'HTTPS-proxy' || {
	echo "SKIP: this curl cannot speak TLS to a proxy (no HTTPS-proxy feature)"
	exit 77
}
e2e_init dpt
e2e_topology
printf '198.18.2.2 %s\n' turn-rbx1.openrainbow.com unlisted.example | e2e_hosts "$G"

# The server: HTTPS on 443 (CN e2e), GET serves $tmp (a 30 MB big.bin),
# PUT answers with the body's length and SHA-256.
e2e_https_server 30000000
echo "hello through the TLS proxy" > "$tmp/index.html"
head -c 30000000 /dev/urandom > "$tmp/up.bin"
# A plain TCP server on 8443: reads to EOF, answers with the count, closes.
e2e_count_server 8443

# The proxy's certificate: a leaf for 198.18.1.1 signed by a CA of the
# test's; the cert file holds the chain (leaf, then CA).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=dpix-e2e-ca \
	-keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=198.18.1.1 -keyout "$tmp/px.key" \
	-out "$tmp/px.csr" 2> /dev/null
printf 'subjectAltName=IP:198.18.1.1\n' > "$tmp/px.ext"
openssl x509 -req -in "$tmp/px.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
	-days 1 -extfile "$tmp/px.ext" -out "$tmp/px.pem" 2> /dev/null
cat "$tmp/px.pem" "$tmp/ca.pem" > "$tmp/chain.pem"

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e-proxy-tls
version 1
date    2026-12
source  "tests/e2e/proxy-tls.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-connect bypass connect in turn connect-port 443,8443 service turn
EOR

run_dpixd() {
	ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none \
		--queues 0 --rules "$tmp/pack.rules" "$@"
}

# Settings: a TLS listener without its files is a usage error; a missing,
# a malformed or a mismatched file stops dpixd at start, naming it.
run_dpixd --proxy-listen-tls 198.18.1.1:3129 2> "$tmp/err.log"
[ $? = 2 ] && grep -q 'proxy-listen-tls: needs proxy-tls-cert and proxy-tls-key' "$tmp/err.log" &&
	ok "--proxy-listen-tls without a certificate: usage error" ||
	bad "no certificate: $(cat "$tmp/err.log")"
run_dpixd --proxy-listen-tls 198.18.1.1:3129 --proxy-tls-cert "$tmp/none.pem" \
	--proxy-tls-key "$tmp/px.key" 2> "$tmp/err.log"
[ $? = 1 ] && grep -q "proxy-tls-cert $tmp/none.pem: No such file or directory" "$tmp/err.log" &&
	ok "missing certificate file: exit 1, named" || bad "missing file: $(cat "$tmp/err.log")"
echo "not a certificate" > "$tmp/junk.pem"
run_dpixd --proxy-listen-tls 198.18.1.1:3129 --proxy-tls-cert "$tmp/junk.pem" \
	--proxy-tls-key "$tmp/px.key" 2> "$tmp/err.log"
[ $? = 1 ] && grep -q "proxy-tls-cert $tmp/junk.pem: error:" "$tmp/err.log" &&
	ok "malformed certificate: exit 1, OpenSSL's error" || bad "junk cert: $(cat "$tmp/err.log")"
run_dpixd --proxy-listen-tls 198.18.1.1:3129 --proxy-tls-cert "$tmp/chain.pem" \
	--proxy-tls-key "$tmp/ca.key" 2> "$tmp/err.log"
[ $? = 1 ] && grep -q "proxy-tls-key $tmp/ca.key: " "$tmp/err.log" &&
	ok "mismatched key: exit 1" || bad "mismatched key: $(cat "$tmp/err.log")"

# As a gateway runs it: --user nobody, the key readable by root alone. The
# key is read before the switch; every thread, the forwarder's included,
# runs as nobody with CAP_NET_ADMIN only (0x1000).
chmod 600 "$tmp/px.key"
e2e_forwarder --proxy-listen 198.18.1.1:3128 --proxy-listen-tls 198.18.1.1:3129 \
	--proxy-tls-cert "$tmp/chain.pem" --proxy-tls-key "$tmp/px.key" --proxy-head-timeout 4 \
	--user nobody
grep -q 'listening on 198.18.1.1 port 3129 (TLS)' "$tmp/dpixd.log" && ok "TLS listener up" ||
	bad "no TLS listener: $(cat "$tmp/dpixd.log")"
sleep 0.3
caps=$(for t in /proc/"$dpixd"/task/*; do
	awk '/^Uid:/ { u = $2 } /^CapEff:/ { c = $2 } END { print u, c }' "$t/status"
done | sort | uniq -c | sed 's/^ *//')
threads=$(ls /proc/"$dpixd"/task | wc -l)
[ "$caps" = "$threads $(id -u nobody) 0000000000001000" ] &&
	ok "--user nobody: all $threads threads as nobody with CAP_NET_ADMIN only" ||
	bad "threads' users and capabilities: $caps"

inC() { ip netns exec "$C" "$@"; }
PX="--proxy https://198.18.1.1:3129 --proxy-cacert $tmp/ca.pem"

# A client that never starts its handshake: started first, looked at
# last; closed at the 4 s head timeout while the others are served.
inC python3 -c '
import socket, time
s = socket.create_connection(("198.18.1.1", 3129), timeout=30)
start = time.time()
try:
    d = s.recv(100)
except OSError:
    d = b""
print("%d|%d" % (len(d), time.time() - start >= 3))
' > "$tmp/silent.out" 2>&1 &
silent=$!

# 1. A whitelisted name: the content, and the EVE line of a TLS client.
out=$(inC curl -s -k $PX -m 20 https://turn-rbx1.openrainbow.com/index.html)
[ "$out" = "hello through the TLS proxy" ] && ok "HTTPS proxy: tunnel carries the content" ||
	bad "tunnel: '$out'"
e2e_eve '"host":"turn-rbx1.openrainbow.com","port":443,"status":200' '"mode":"explicit","tls":true' \
	'"decision":"tunnel","close":"closed"' '"sni":"turn-rbx1.openrainbow.com"' \
	'"rule":"turn-connect"' && ok "EVE: a TLS client's tunnel" || bad "EVE for the tunnel"
# bytes_toclient: the server's answer; bytes_toserver: the request, both
# over the inner TLS, neither counting the forwarder's 200.
grep '"tls":true' "$tmp/eve.json" | grep '"status":200' | head -1 | python3 -c '
import json, sys
p = json.loads(sys.stdin.readline())["proxy"]
sys.exit(0 if 500 < p["bytes_toserver"] < 5000 and 1000 < p["bytes_toclient"] < 10000 else 1)
' && ok "EVE: bytes each way" || bad "EVE bytes: $(grep '"tls":true' "$tmp/eve.json" | head -1)"

# 2. An unlisted name: 403 inside the TLS session.
code=$(inC curl -s -o /dev/null -k $PX -m 10 -w '%{http_connect}' https://unlisted.example/)
[ "$code" = 403 ] && ok "unlisted name over TLS: 403" || bad "unlisted: '$code'"
e2e_eve '"host":"unlisted.example"' '"tls":true' '"status":403' '"decision":"refused"' &&
	ok "EVE: refused TLS client" || bad "EVE for the refusal"

# 3. 30 MB down and 30 MB up, checksums compared; the download again
# read at 8 MB/s so that the forwarder's writes to the client wait.
inC curl -s -k $PX -m 120 -o "$tmp/got.bin" https://turn-rbx1.openrainbow.com/big.bin
cmp -s "$tmp/got.bin" "$tmp/big.bin" && ok "30 MB down through the TLS proxy intact" ||
	bad "download differs"
want="30000000 $(sha256sum < "$tmp/up.bin" | cut -d' ' -f1)"
out=$(inC curl -s -k $PX -m 120 -T "$tmp/up.bin" https://turn-rbx1.openrainbow.com/up)
[ "$out" = "$want" ] && ok "30 MB up through the TLS proxy intact" || bad "upload: '$out'"
e2e_eve '"tls":true' '"bytes_toserver":300' && ok "EVE: the upload's bytes" ||
	bad "EVE upload bytes"
rm -f "$tmp/got.bin"
inC curl -s -k $PX -m 120 --limit-rate 8M -o "$tmp/got.bin" \
	https://turn-rbx1.openrainbow.com/big.bin
cmp -s "$tmp/big.bin" "$tmp/got.bin" && ok "30 MB read slowly: intact" ||
	bad "slow download differs"

# Half-close: the client's close_notify ends the upstream's input, the
# server's answer still comes back, then the forwarder's close_notify.
# (ssl's memory BIOs: a close_notify sent while reading goes on.)
ans=$(inC python3 -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
t = ctx.wrap_bio(inb, outb, server_hostname="198.18.1.1")
s = socket.create_connection(("198.18.1.1", 3129), timeout=10)
def flush():
    d = outb.read()
    if d:
        s.sendall(d)
def feed():
    d = s.recv(65536)
    if d:
        inb.write(d)
    else:
        inb.write_eof()
while True:
    try:
        t.do_handshake()
        break
    except ssl.SSLWantReadError:
        flush()
        feed()
flush()
def read_all():
    out = b""
    while True:
        try:
            d = t.read(65536)
            if not d:
                return out, "eof"
            out += d
        except ssl.SSLWantReadError:
            feed()
        except ssl.SSLZeroReturnError:
            return out, "close_notify"
t.write(b"CONNECT turn-rbx1.openrainbow.com:8443 HTTP/1.1\r\n\r\n")
flush()
head = b""
while b"\r\n\r\n" not in head:
    try:
        head += t.read(1)
    except ssl.SSLWantReadError:
        feed()
t.write(b"x" * 300000)
flush()
try:
    t.unwrap()
except ssl.SSLWantReadError:
    pass
flush()
out, end = read_all()
print(head.split(b"\r\n")[0].decode() + "|" + out.decode() + "|" + end)' "$tmp/ca.pem")
[ "$ans" = "HTTP/1.1 200 Connection established|got 300000 bytes|close_notify" ] &&
	ok "half-close: close_notify passed on, the answer came, then close_notify" ||
	bad "half-close: '$ans'"
e2e_eve '"port":8443,"status":200' '"tls":true' '"bytes_toserver":300000,"bytes_toclient":16,' &&
	ok "EVE: half-closed tunnel's bytes" || bad "EVE for the half-close"

# 4. The silent client: closed at the timeout, counted.
wait $silent
[ "$(cat "$tmp/silent.out")" = "0|1" ] && ok "no handshake: closed at the head timeout" ||
	bad "silent client: $(cat "$tmp/silent.out")"
e2e_eve '"tls":true' '"close":"handshake timeout"' && ok "EVE: handshake timeout" ||
	bad "EVE for the silent client"

# 5. Plain HTTP to the TLS port, and an h2-only client: closed, no crash.
ans=$(inC python3 -c '
import socket
s = socket.create_connection(("198.18.1.1", 3129), timeout=10)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n\r\n")
try:
    d = s.recv(100)
except OSError:
    d = b""
print(len(d) == 0 or not d.startswith(b"HTTP"))')
[ "$ans" = True ] && ok "plain HTTP on the TLS port: closed" || bad "plain HTTP: '$ans'"
e2e_eve '"tls":true,"tls_error":"https proxy request"' '"close":"handshake failed"' &&
	ok "EVE: the handshake's error" || bad "EVE for plain HTTP"
ans=$(inC python3 -c '
import socket, ssl, sys
def alpn(protos):
    ctx = ssl.create_default_context(cafile=sys.argv[1])
    ctx.set_alpn_protocols(protos)
    try:
        s = ctx.wrap_socket(socket.create_connection(("198.18.1.1", 3129), timeout=10),
                            server_hostname="198.18.1.1")
        return s.selected_alpn_protocol()
    except ssl.SSLError as e:
        return "refused"
print(alpn(["h2", "http/1.1"]), alpn(["h2"]))' "$tmp/ca.pem")
[ "$ans" = "http/1.1 refused" ] && ok "ALPN: http/1.1 chosen, h2 alone refused" ||
	bad "ALPN: '$ans'"
kill -0 $dpixd 2> /dev/null && ok "dpixd still running" || bad "dpixd died"
code=$(inC curl -s -o /dev/null -k -p -x http://198.18.1.1:3128 -m 10 -w '%{http_connect}' \
	https://turn-rbx1.openrainbow.com/index.html)
[ "$code" = 200 ] && ok "the plain listener beside it still works" || bad "plain: '$code'"

# 6. The counters (SIGUSR1).
line=$(e2e_report 'proxy: accepted')
echo "$line" | grep -Eq 'head timeouts [1-9].*TLS [1-9][0-9]*, TLS handshakes failed [2-9]' &&
	ok "counters: TLS clients, failed handshakes, the timeout" || bad "counters: $line"

[ $fails = 0 ] || {
	echo "--- dpixd.log"
	tail -20 "$tmp/dpixd.log"
	echo "--- eve.json"
	tail -5 "$tmp/eve.json"
}
exit $((fails > 0))
