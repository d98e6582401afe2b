#!/bin/sh
# End to end: dpixd run from a dpixd.conf(5) file, inline between a client
# and a server namespace (set up by lib.sh), operated
# through its control socket and metrics listener: `dpix stats --json`
# counts a bypassed flow and its rule, "reload" with a bad pack or a bad
# configuration answers the error and keeps the running pack, a setting
# that needs a restart is reported, GET /metrics answers with dpix_
# counters, the request bounds hold, and SIGTERM removes the socket file.
# Needs root, iproute2, iptables, openssl, curl and python3; else skipped (77).
set -u
: "${top_srcdir:?}" "${DPIXD:?}" "${DPIX:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables openssl curl python3
e2e_init dpc
e2e_topology
e2e_https_server 1000
echo hello > "$tmp/small.txt"

cat > "$tmp/e2e.rules" << 'EOF'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/ctl.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-tls bypass app tls sni in turn service turn
EOF
printf 'pack broken\nrule x bypass sni in nowhere\n' > "$tmp/bad.rules"
cp "$tmp/e2e.rules" "$tmp/pack.rules"
sock=$tmp/run/dpixd.sock
port=$((20000 + id % 20000))
cat > "$tmp/dpixd.conf" << EOF
# tests/e2e/ctl.sh
rules          $tmp/pack.rules
eve            $tmp/eve.json
queue          0
control-socket $sock
metrics        127.0.0.1:$port
EOF
cp "$tmp/dpixd.conf" "$tmp/good.conf"

"$DPIXD" --config "$tmp/dpixd.conf" --print-rules iptables | grep -E '^iptables ' > "$tmp/rules.sh"
(while read -r line; do inG $line || exit 1; done < "$tmp/rules.sh") ||
	bad "rules did not install: $(cat "$tmp/rules.sh")"
ip netns exec "$G" "$DPIXD" --config "$tmp/dpixd.conf" 2>> "$tmp/dpixd.log" &
dpixd=$!
pids="$pids $dpixd"
for _ in $(seq 50); do
	[ -S "$sock" ] && grep -q "serving queues" "$tmp/dpixd.log" && break
	sleep 0.1
done
[ -S "$sock" ] && ok "control socket created" || bad "no control socket at $sock"
[ "$(stat -c %a "$sock" 2> /dev/null)" = 660 ] && ok "socket mode 0660" ||
	bad "socket mode $(stat -c %a "$sock" 2> /dev/null)"

tls() { # SNI
	ip netns exec "$C" curl -sk --max-time 5 --resolve "$1:443:198.18.2.2" \
		-o /dev/null -w '%{size_download}' "https://$1/small.txt"
}
ctl() { # REQUEST-BYTES: the control socket's answer
	python3 - "$sock" "$1" << 'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
EOF
}
json() { # PYTHON-EXPRESSION over the stats object j
	"$DPIX" stats --socket "$sock" --json > "$tmp/stats.json" &&
		python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print($1)" "$tmp/stats.json"
}

# 1. One bypassed flow: counted by verdict, by rule and by service.
n=$(tls turn-rbx1.openrainbow.com)
[ "$n" = 6 ] && ok "bypassed TLS download" || bad "download got '$n' bytes"
sleep 0.5
[ "$(json 'j["total"]["flows"]["bypass"]')" = 1 ] && ok "stats: bypass 1" ||
	bad "stats: bypass is not 1: $(cat "$tmp/stats.json")"
[ "$(json 'j["rules"]["e2e/turn-tls"]')" = 1 ] && ok "stats: rule e2e/turn-tls 1" ||
	bad "stats: rule count: $(cat "$tmp/stats.json")"
[ "$(json 'j["services"]["turn"]')" = 1 ] && ok "stats: service turn 1" || bad "stats: service count"
[ "$(json 'j["queues"][0]["packets"] > 0 and j["queues"][0]["packets"] == j["queues"][0]["verdicts_sent"]')" = True ] &&
	ok "stats: packets and verdicts agree" || bad "stats: packets/verdicts: $(cat "$tmp/stats.json")"
[ "$(json 'j["queues"][0]["kernel"]["id_sequence"] >= j["queues"][0]["packets"] and j["queues"][0]["kernel"]["uninspected_estimate"] == 0')" = True ] &&
	ok "stats: the kernel's view, nothing uninspected" || bad "stats: kernel view: $(cat "$tmp/stats.json")"
"$DPIX" stats --socket "$sock" | grep -Eq '^flows_decided action="bypass" +1 +1$' &&
	ok "dpix stats table" || bad "table: $("$DPIX" stats --socket "$sock")"

# 2. GET /metrics; any other path is 404.
m=$(inG curl -s --max-time 5 "http://127.0.0.1:$port/metrics")
echo "$m" | grep -q '^dpix_packets_total{queue="0"} [1-9]' && echo "$m" | grep -q '^# TYPE dpix_packets_total counter' &&
	echo "$m" | grep -q '^dpix_rule_hits_total{pack="e2e",rule="turn-tls"} 1$' &&
	ok "GET /metrics" || bad "metrics: $m"
[ "$(inG curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/")" = 404 ] &&
	ok "GET / is 404" || bad "GET / is not 404"

# 3. reload with a bad pack: the error, and the old pack keeps deciding.
cp "$tmp/bad.rules" "$tmp/pack.rules"
a=$(ctl 'reload\n')
case $a in "error: $tmp/pack.rules:2"*) ok "reload of a bad pack answers the error" ;; *) bad "reload answered '$a'" ;; esac
tls turn-rbx2.openrainbow.com > /dev/null
sleep 0.5
[ "$(json 'j["rules"]["e2e/turn-tls"], j["generation"]')" = "2 0" ] && ok "old pack still decides" ||
	bad "after a bad reload: $(cat "$tmp/stats.json")"
cp "$tmp/e2e.rules" "$tmp/pack.rules"

# 4. A configuration that does not parse is refused too; a setting that
# cannot change live is reported and ignored.
echo "bogus 1" >> "$tmp/dpixd.conf"
a=$(ctl 'reload\n')
[ "$a" = "error: $tmp/dpixd.conf:7:1: 'bogus': unknown key, expected one of rules, eve, queue, queues, fail-closed, copy-range, queue-maxlen, mark-mask, mark-bypass, mark-inspect, mark-drop, hook, max-flows, max-packets, stream-window, control-socket, metrics, user, watchdog, no-supervise, require-signed, pubkey, proxy-listen, proxy-parent, proxy-max-tunnels, proxy-idle-timeout, proxy-fronting, proxy-transparent, proxy-tproxy, proxy-mark, proxy-head-timeout, proxy-parent-auth, proxy-listen-tls, proxy-tls-cert, proxy-tls-key" ] &&
	ok "reload of a bad configuration answers file:line:column" || bad "bad config reload answered '$a'"
sed 's/^queue .*/queue 5/' "$tmp/good.conf" > "$tmp/dpixd.conf"
a=$(ctl 'reload\n')
case $a in "ok: generation 1, 1 rule pack(s); changed but not applied (needs a restart): queue") ok "queue change needs a restart" ;;
*) bad "queue change answered '$a'" ;; esac
[ "$(json 'j["generation"], j["queues"][0]["queue"], j["rules"]["e2e/turn-tls"]')" = "1 0 0" ] &&
	ok "new generation, queue 0 kept, rule counts restart" || bad "after reload: $(cat "$tmp/stats.json")"
kill -HUP "$dpixd"
sleep 0.5
grep -q "queue changed in the configuration: needs a restart, ignored" "$tmp/dpixd.log" &&
	ok "SIGHUP reads the configuration too" || bad "SIGHUP: $(cat "$tmp/dpixd.log")"

# 5. Bounds: an overlong request line, an unknown command.
a=$(ctl "$(head -c 300 /dev/zero | tr '\0' x)")
[ "$a" = "error: request line longer than 256 bytes" ] && ok "overlong request refused" ||
	bad "overlong request answered '$a'"
a=$(ctl 'version\nfrob\n')
[ "$a" = "dpixd $(echo "$a" | sed -n '1s/^dpixd //p')
error: unknown command 'frob', expected stats, metrics, reload or version" ] &&
	ok "version, then an unknown command" || bad "answered '$a'"
[ "$(json 'j["control_refused"]')" = 1 ] && ok "refused client counted" || bad "control_refused not 1"
# 16 clients at most: the 17th is closed unanswered; an HTTP head over
# 2048 bytes is refused; another method is 405. Each refusal is counted.
a=$(python3 - "$sock" << 'EOF'
import socket, sys
held = []
for _ in range(16):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(b"version\n")
    print("17th:", repr(s.recv(100)))
except OSError as e:
    print("17th:", type(e).__name__)
EOF
)
case $a in "17th: b''" | "17th: ConnectionResetError" | "17th: BrokenPipeError") ok "17th client closed" ;; *) bad "17th client: $a" ;; esac
c=$(inG python3 - "$port" << 'EOF'
import socket, sys
def ask(data):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(data)
    return s.recv(100).split(b"\r\n")[0].decode()
print(ask(b"GET /metrics HTTP/1.1\r\nX: " + b"y" * 3000 + b"\r\n\r\n"))
print(ask(b"POST /metrics HTTP/1.1\r\n\r\n"))
EOF
)
[ "$c" = "HTTP/1.1 431 Request Header Fields Too Large
HTTP/1.1 405 Method Not Allowed" ] && ok "HTTP bounds: 431, 405" || bad "HTTP bounds: '$c'"
[ "$(json 'j["control_refused"]')" = 3 ] && ok "refusals counted" ||
	bad "control_refused not 3: $(cat "$tmp/stats.json")"

# A second dpixd on the same socket is refused, the first keeps it.
e=$(ip netns exec "$G" "$DPIXD" --no-supervise --config "$tmp/good.conf" --queue 9 --metrics 127.0.0.1:1 2>&1)
rc=$?
[ $rc = 1 ] && [ "$e" = "dpixd: $sock: another dpixd answers there" ] &&
	ok "a second dpixd on the socket is refused" || bad "second dpixd: exit $rc, '$e'"
[ "$(ctl 'version\n' | cut -d' ' -f1)" = dpixd ] && ok "the first still answers" ||
	bad "the first dpixd lost its socket"

# 6. SIGTERM: exit 0, the socket file removed.
kill -TERM "$dpixd"
wait "$dpixd"
rc=$?
[ $rc = 0 ] && ok "exit 0 on SIGTERM" || bad "exit $rc on SIGTERM"
[ ! -e "$sock" ] && ok "socket file removed" || bad "socket file left behind"

if [ $fails -ne 0 ]; then
	echo "--- dpixd log"
	cat "$tmp/dpixd.log"
	exit 1
fi
exit 0
