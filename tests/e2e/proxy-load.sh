#!/bin/sh
# End to end: the forwarder under hostile load (--proxy-listen,
# --proxy-head-timeout 2). 1,000 clients connect and say nothing, one
# sends its head a byte a second, one sends a header past 8192 bytes;
# meanwhile a normal CONNECT still gets its 200 and the server's content.
# Asserts the documented answers: the silent and the slow ones 400 after
# the 2 s head timeout (not before 1.5 s, all within 8 s), the big one
# 431; and that dpixd's resident memory stays bounded (VmRSS before,
# during and after, 64 MB of slack). With --proxy-idle-timeout 1, a tunnel
# whose rule has "timeout 6s" outlives 3 s of silence, another does not.
# A reload that adds a parent applies it to the next request, and a tunnel
# opened before it goes on.
# Needs root, iproute2, curl, openssl,
# python3; skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip openssl curl python3
e2e_init dpl
e2e_topology
e2e_https_server 100000

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e-load
version 1
date    2026-12
source  "tests/e2e/proxy-load.sh"
domains turn {
	turn-*.openrainbow.com
}
domains long {
	long.example
}
rule long-connect bypass connect in long connect-port 443 timeout 6s service long
rule turn-connect bypass connect in turn connect-port 443 service turn
EOR
printf '198.18.2.2 %s\n' turn-rbx1.openrainbow.com long.example | e2e_hosts "$G"

e2e_forwarder --proxy-head-timeout 2 --proxy-idle-timeout 1 --proxy-listen 198.18.1.1:3128 || exit 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$dpixd/status"; }
rss0=$(rss)

ip netns exec "$C" python3 -c '
import resource, select, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
PX = ("198.18.1.1", 3128)
silent = [socket.create_connection(PX, timeout=10) for _ in range(1000)]
t0 = time.time()
big = socket.create_connection(PX, timeout=10)
try:
    big.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
except OSError:
    pass
slow = socket.create_connection(PX, timeout=10)
print("open", flush=True)
head = b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n"
slow_ans = b""
for i in range(len(head)):
    r, _, _ = select.select([slow], [], [], 1.0)
    if r:
        slow_ans = slow.recv(200)
        break
    try:
        slow.send(head[i:i + 1])
    except OSError:
        break
slow_t = time.time() - t0
try:
    big_ans = big.recv(200)
except OSError as e:
    big_ans = str(e).encode()
answered, first, last = 0, None, 0
for s in silent:
    try:
        d = s.recv(200)
    except OSError:
        d = b""
    if d.startswith(b"HTTP/1.1 400"):
        answered += 1
        t = time.time() - t0
        first = t if first is None else min(first, t)
        last = max(last, t)
print("silent %d first %.1f last %.1f" % (answered, first or 0, last))
print("slow %s %.1f" % (slow_ans.split(b"\r\n")[0].decode(errors="replace"), slow_t))
print("big %s" % big_ans.split(b"\r\n")[0].decode(errors="replace"))
' > "$tmp/load.out" 2>&1 &
load=$!
for _ in $(seq 100); do
	grep -q open "$tmp/load.out" && break
	sleep 0.1
done
rss1=$(rss)
out=$(ip netns exec "$C" curl -s -k -p -x http://198.18.1.1:3128 -m 10 -o "$tmp/got.bin" \
	-w '%{http_connect} %{http_code}' https://turn-rbx1.openrainbow.com/big.bin)
if [ "$out" = "200 200" ] && cmp -s "$tmp/got.bin" "$tmp/big.bin"; then
	ok "a normal CONNECT during the load: 200 and the content"
else
	bad "normal CONNECT during the load: '$out'"
fi
wait $load
cat "$tmp/load.out"
set -- $(grep '^silent' "$tmp/load.out")
if [ "${2:-0}" = 1000 ] && awk "BEGIN { exit !(${4:-0} >= 1.5 && ${6:-99} <= 8) }"; then
	ok "1,000 silent clients: 400 after the 2 s head timeout"
else
	bad "silent clients: $(grep '^silent' "$tmp/load.out")"
fi
grep -q '^slow HTTP/1.1 400 Bad Request [1-4]\.' "$tmp/load.out" &&
	ok "a byte a second: 400 at the head timeout" || bad "slow client: $(grep '^slow' "$tmp/load.out")"
grep -q '^big HTTP/1.1 431' "$tmp/load.out" && ok "oversized header: 431" ||
	bad "oversized header: $(grep '^big' "$tmp/load.out")"
sleep 1
rss2=$(rss)
echo "VmRSS kB: before $rss0, with 1,000 open $rss1, after $rss2"
if [ $((rss1 - rss0)) -lt 65536 ] && [ $((rss2 - rss0)) -lt 65536 ]; then
	ok "resident memory bounded"
else
	bad "resident memory grew: $rss0 -> $rss1 -> $rss2 kB"
fi
# Per-service idle timeouts: with --proxy-idle-timeout 1, a tunnel whose
# rule says "timeout 6s" survives 3 s of silence; another one does not.
idle=$(ip netns exec "$C" python3 -c '
import socket, time
def quiet(host):
    s = socket.create_connection(("198.18.1.1", 3128), timeout=10)
    s.sendall(b"CONNECT %s:443 HTTP/1.1\r\n\r\n" % host.encode())
    ans = s.recv(200)
    time.sleep(3)
    s.settimeout(0.5)
    try:
        closed = s.recv(10) == b""
    except socket.timeout:
        closed = False
    return "%s:%s" % (ans.split(b" ")[1].decode(), "closed" if closed else "open")
print(quiet("long.example"), quiet("turn-rbx1.openrainbow.com"))
')
[ "$idle" = "200:open 200:closed" ] && ok "a rule's timeout 6s outlasts proxy-idle-timeout 1" ||
	bad "per-service idle timeout: '$idle'"
# Settings a reload applies: a second forwarder with no parent refuses an
# unlisted name; its file gains a parent (a fake that answers 407) and
# SIGHUP: the next request goes there, while a tunnel opened before the
# reload still carries a TLS session and the file.
cat > "$tmp/fwd.conf" << 'EOC'
proxy-idle-timeout 30
EOC
ip netns exec "$G" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 3141))
s.listen(4)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.1 407 From The Parent\r\nContent-Length: 0\r\n\r\n")
    c.close()
' &
pids="$pids $!"
e2e_forwarder --config "$tmp/fwd.conf" --proxy-listen 198.18.1.1:3140 || exit 1
code() { ip netns exec "$C" curl -s -o /dev/null -k -p -x http://198.18.1.1:3140 -m 10 \
	-w '%{http_connect}' "https://$1/"; }
[ "$(code unlisted.example)" = 403 ] && ok "no parent configured: unlisted name 403" ||
	bad "before the reload: '$(code unlisted.example)'"
mkfifo "$tmp/go"
ip netns exec "$C" python3 -c '
import socket, ssl, sys
s = socket.create_connection(("198.18.1.1", 3140), timeout=20)
s.sendall(b"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0].decode(), flush=True)
open(sys.argv[1]).read()  # until the reload is done
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="turn-rbx1.openrainbow.com")
t.sendall(b"GET /big.bin HTTP/1.1\r\nHost: turn-rbx1.openrainbow.com\r\nConnection: close\r\n\r\n")
body = b""
while True:
    d = t.recv(65536)
    if not d:
        break
    body += d
print(len(body.split(b"\r\n\r\n", 1)[1]))
' "$tmp/go" > "$tmp/held.out" 2>&1 &
held=$!
for _ in $(seq 50); do
	grep -q '^HTTP' "$tmp/held.out" && break
	sleep 0.1
done
printf 'proxy-idle-timeout 30\nproxy-parent 127.0.0.1:3141\n' > "$tmp/fwd.conf"
kill -HUP "$dpixd"
for _ in $(seq 50); do
	grep -q 'reloaded the rule packs (generation 1)' "$tmp/dpixd.log" && break
	sleep 0.1
done
[ "$(code unlisted.example)" = 407 ] && ok "after the reload: the new parent answers" ||
	bad "after the reload: '$(code unlisted.example)'"
grep -q 'proxy-parent.*needs a restart' "$tmp/dpixd.log" && bad "proxy-parent reported as needing a restart"
echo go > "$tmp/go"
wait $held
if [ "$(cat "$tmp/held.out")" = "$(printf 'HTTP/1.1 200 Connection established\n100000')" ]; then
	ok "a tunnel opened before the reload carries its TLS session after it"
else
	bad "held tunnel: $(cat "$tmp/held.out")"
fi
[ $fails = 0 ] || {
	echo "--- dpixd.log"
	tail -20 "$tmp/dpixd.log"
}
exit $((fails > 0))
