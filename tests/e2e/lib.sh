# tests/e2e/lib.sh: what the end-to-end tests share, sourced by each.
# A client, a gateway and a server in network namespaces of their own,
# joined by veth pairs, the gateway forwarding:
#
#   client 198.18.1.2 (and more) -- 198.18.1.1 gateway 198.18.2.1 -- 198.18.2.2 server
#
# (198.18.0.0/15, the benchmarking range: nothing outside the namespaces.)
# Namespaces, processes and files are removed on exit, also on failure.

# e2e_require TOOL...: root and the tools, else say what is missing and
# skip (77).
e2e_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root to create network namespaces"
		exit 77
	fi
	for t in "$@"; do
		command -v "$t" > /dev/null || {
			echo "SKIP: $t is not installed"
			exit 77
		}
	done
}

# e2e_init PREFIX: names C, G, S (PREFIX-c-PID ...), a temporary folder
# $tmp, the clean-up trap; pids= collects processes to kill at the end.
e2e_init() {
	id=$$
	C=$1-c-$id G=$1-g-$id S=$1-s-$id
	tmp=$(mktemp -d) || exit 99
	pids=
	fails=0
	trap e2e_cleanup EXIT INT TERM
}

# e2e_stop_check PID: PID (a dpixd) asked to stop, for at most 10 s, then
# every process in $pids killed; 1 (and the report) if a log of the test
# ($tmp/*.log) holds a sanitizer report.
e2e_stop_check() {
	if [ -n "$1" ] && kill -CONT "$1" 2> /dev/null && kill -TERM "$1" 2> /dev/null; then
		for _ in $(seq 100); do
			[ -e "/proc/$1" ] && ! grep -q ') Z' "/proc/$1/stat" 2> /dev/null || break
			sleep 0.1
		done
	fi
	for p in $pids; do kill -9 "$p" 2> /dev/null; done
	grep -qs 'Sanitizer\|runtime error:' "$tmp"/*.log || return 0
	echo "FAIL: a sanitizer report:"
	grep -hs -A8 'Sanitizer\|runtime error:' "$tmp"/*.log | head -60
	return 1
}

# e2e_cleanup: dpixd ($dpixd: the last e2e_dpixd or e2e_forwarder) is
# asked to stop first, so that in a sanitizer build it reports leaks as it
# exits; a sanitizer report in any of the test's logs ($tmp/*.log) fails
# the test. Then the rest is killed and removed.
e2e_cleanup() {
	rc=$?
	trap - EXIT INT TERM
	e2e_stop_check "${dpixd:-}" || rc=1
	for ns in "$C" "$G" "$S"; do
		ip netns del "$ns" 2> /dev/null
		rm -rf "/etc/netns/$ns"
	done
	rm -rf "$tmp"
	exit $rc
}

# e2e_asan: dpixd is an AddressSanitizer build (--enable-sanitizers),
# whose resident memory (shadow, red zones, quarantine) says nothing about
# dpixd's own.
e2e_asan() { grep -q __asan_init "$DPIXD"; }

ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
inG() { ip netns exec "$G" "$@"; }

# e2e_topology [CLIENT-ADDRESS...]: the three namespaces (default client
# address 198.18.1.2).
e2e_topology() {
	ip netns add "$C" && ip netns add "$G" && ip netns add "$S" || exit 99
	ip link add c0-$id netns "$C" type veth peer name g0-$id netns "$G"
	ip link add s0-$id netns "$S" type veth peer name g1-$id netns "$G"
	[ $# -gt 0 ] || set -- 198.18.1.2
	for a in "$@"; do ip -n "$C" addr add "$a/24" dev c0-$id; done
	ip -n "$G" addr add 198.18.1.1/24 dev g0-$id
	ip -n "$G" addr add 198.18.2.1/24 dev g1-$id
	ip -n "$S" addr add 198.18.2.2/24 dev s0-$id
	for ns in "$C" "$G" "$S"; do ip -n "$ns" link set lo up; done
	ip -n "$C" link set c0-$id up
	ip -n "$G" link set g0-$id up
	ip -n "$G" link set g1-$id up
	ip -n "$S" link set s0-$id up
	ip -n "$C" route add default via 198.18.1.1
	ip -n "$S" route add default via 198.18.2.1
	inG sysctl -qw net.ipv4.ip_forward=1
}

# e2e_topology6 [CLIENT-ADDRESS...]: after e2e_topology, IPv6 on the same
# links, in 2001:2::/48 (the benchmarking range, RFC 5180, like
# 198.18.0.0/15; public to the forwarder's address guard, which refuses
# ULA fc00::/7; default client address 2001:2:0:1::2):
#
#   client 2001:2:0:1::2 -- ::1 gateway 2001:2:0:2::1 -- 2001:2:0:2::2 server
e2e_topology6() {
	[ $# -gt 0 ] || set -- 2001:2:0:1::2
	for a in "$@"; do ip -n "$C" addr add "$a/64" dev c0-$id nodad; done
	ip -n "$G" addr add 2001:2:0:1::1/64 dev g0-$id nodad
	ip -n "$G" addr add 2001:2:0:2::1/64 dev g1-$id nodad
	ip -n "$S" addr add 2001:2:0:2::2/64 dev s0-$id nodad
	ip -n "$C" -6 route add default via 2001:2:0:1::1
	ip -n "$S" -6 route add default via 2001:2:0:2::1
	inG sysctl -qw net.ipv6.conf.all.forwarding=1
}

# e2e_rules FLAGS...: the gateway's mangle, filter and raw tables emptied,
# then what `dpixd --print-rules iptables FLAGS` prints for $tmp/pack.rules
# installed, its ip6tables lines too when ip6tables is there (a conntrack
# timeout policy an earlier install made is kept).
e2e_rules() {
	ipt=iptables
	command -v ip6tables > /dev/null && ipt="iptables ip6tables"
	for t in mangle filter raw; do
		for x in $ipt; do
			inG $x -t $t -F
			inG $x -t $t -X 2> /dev/null
		done
	done
	"$DPIXD" --config /dev/null --rules "$tmp/pack.rules" --print-rules iptables "$@" |
		grep -E "^($(echo "$ipt" | tr ' ' '|')|nfct) " > "$tmp/rules.sh"
	(while read -r line; do
		inG $line 2> /dev/null || { [ "${line%% *}" = nfct ] &&
			inG nfct get timeout "$(echo "$line" | cut -d' ' -f4)" > /dev/null; } || exit 1
	done < "$tmp/rules.sh") || bad "rules did not install: $(cat "$tmp/rules.sh")"
}

# e2e_dpixd FLAGS...: dpixd on the gateway as one process (no supervisor:
# a kill -9 is the whole daemon), on the test's own settings (no
# dpixd.conf, no control socket), with $tmp/pack.rules, events in
# $tmp/eve.json (emptied first), stderr appended to $tmp/dpixd.log. $dpixd
# is its pid (not through inG: ip netns exec execs it). 1 if it does not
# serve within 5 s.
e2e_dpixd() {
	: > "$tmp/eve.json"
	ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none \
		--rules "$tmp/pack.rules" --eve "$tmp/eve.json" "$@" 2>> "$tmp/dpixd.log" &
	dpixd=$!
	pids="$pids $dpixd"
	for _ in $(seq 50); do
		grep -q "serving queues" "$tmp/dpixd.log" 2> /dev/null && return 0
		sleep 0.1
	done
	cat "$tmp/dpixd.log"
	return 1
}

# e2e_forwarder FLAGS...: dpixd on the gateway as the forwarder alone
# (--queues 0), set up as e2e_dpixd's; FLAGS name its listeners (and may
# give a --control-socket). 1 unless each listener is up within 5 s.
e2e_forwarder() {
	: > "$tmp/eve.json"
	: >> "$tmp/dpixd.log"
	before=$(grep -c 'proxy: listening on' "$tmp/dpixd.log")
	want=$(printf '%s\n' "$@" | grep -cE '^--proxy-(listen|transparent|tproxy|listen-tls)$')
	ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none --queues 0 \
		--rules "$tmp/pack.rules" --eve "$tmp/eve.json" "$@" 2>> "$tmp/dpixd.log" &
	dpixd=$!
	pids="$pids $dpixd"
	for _ in $(seq 50); do
		[ "$(grep -c 'proxy: listening on' "$tmp/dpixd.log")" -ge $((before + want)) ] && return 0
		sleep 0.1
	done
	cat "$tmp/dpixd.log"
	return 1
}

# e2e_hosts NS: the lines on stdin become namespace NS's /etc/hosts for the
# programs started there with ip netns exec (it bind-mounts
# /etc/netns/NS/hosts); removed by the clean-up.
e2e_hosts() {
	mkdir -p "/etc/netns/$1" && cat > "/etc/netns/$1/hosts"
}

# e2e_cert: a self-signed key and certificate (CN e2e) in $tmp, once.
e2e_cert() {
	[ -f "$tmp/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=e2e \
		-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2> /dev/null
}

# e2e_node_ws: node's ws package in $node_cache ($DPIX_NODE_CACHE, default
# /var/cache/dpix-tests/node), installed with npm the first time.
e2e_node_ws() {
	node_cache=${DPIX_NODE_CACHE:-/var/cache/dpix-tests/node}
	[ -d "$node_cache/node_modules/ws" ] && return 0
	mkdir -p "$node_cache" &&
		(cd "$node_cache" && npm install --no-audit --no-fund --loglevel=error ws@8 > "$tmp/npm.log" 2>&1) ||
		{
			echo "FAIL: npm install ws: $(tail -3 "$tmp/npm.log")"
			exit 1
		}
}

# e2e_wss_server: a WebSocket echo over TLS on the server's 8443, with
# node's ws (e2e_node_ws first).
e2e_wss_server() {
	e2e_cert
	cat > "$tmp/wss.js" << 'EOJ'
const fs = require("fs"), https = require("https");
const { WebSocketServer } = require(process.argv[2] + "/node_modules/ws");
const srv = https.createServer({ key: fs.readFileSync(process.argv[3] + "/key.pem"),
                                 cert: fs.readFileSync(process.argv[3] + "/cert.pem") });
new WebSocketServer({ server: srv }).on("connection", (ws) => ws.on("message", (m) => ws.send(m)));
srv.listen(8443, "198.18.2.2");
EOJ
	ip netns exec "$S" node "$tmp/wss.js" "$node_cache" "$tmp" > "$tmp/wss.log" 2>&1 &
	pids="$pids $!"
	e2e_wait_port tcp 8443
}

# e2e_https_server BYTES [ADDRESS]: tests/e2e/https-server.py on the
# server's 443 (every IPv4 address, or ADDRESS: IPv4, IPv6, or "::" for
# both), serving $tmp: big.bin, BYTES of random (a relay that reorders or
# repeats bytes must not pass a cmp), and whatever else the test puts
# there; /slow/N and PUT as the script says. Self-signed for CN e2e.
e2e_https_server() {
	e2e_cert
	head -c "$1" /dev/urandom > "$tmp/big.bin"
	ip netns exec "$S" python3 "$top_srcdir/tests/e2e/https-server.py" "${2:-0.0.0.0}" "$tmp" \
		> /dev/null 2>&1 &
	pids="$pids $!"
	case ${2:-0.0.0.0} in
	::) e2e_wait_listen "$S" tcp "*:443" ;; # one socket for both: ss shows it so
	*:*) e2e_wait_listen "$S" tcp "[$2]:443" ;;
	*) e2e_wait_listen "$S" tcp "${2:-0.0.0.0}:443" ;;
	esac
}

# e2e_squid NS ADDRESS:PORT: squid in namespace NS listening there, no
# cache, every request allowed but what the test's own lines on stdin
# (squid.conf, read before the allow) deny; logs in $tmp/squid/.
e2e_squid() {
	mkdir -p "$tmp/squid" && chmod 755 "$tmp" && chmod 777 "$tmp/squid" # squid runs as proxy
	{
		echo "http_port $2"
		cat
		cat << EOS
http_access allow all
cache deny all
pid_filename $tmp/squid.pid
access_log stdio:$tmp/squid/access.log
cache_log $tmp/squid/cache.log
coredump_dir $tmp/squid
dns_nameservers 127.0.0.1
EOS
	} > "$tmp/squid.conf"
	ip netns exec "$1" squid -N -f "$tmp/squid.conf" > "$tmp/squid.out" 2>&1 &
	pids="$pids $!"
	e2e_wait_listen "$1" tcp "$2" 100 || tail -n 5 "$tmp/squid.out" "$tmp/squid/cache.log"
}

# e2e_eve PATTERN...: $tmp/eve.json has a line holding every pattern
# (fixed strings), within 3 s; e2e_eve_in FILE PATTERN...: FILE has.
e2e_eve() { e2e_eve_in "$tmp/eve.json" "$@"; }
e2e_eve_in() {
	f=$1
	shift
	for _ in $(seq 30); do
		lines=$(cat "$f" 2> /dev/null)
		for pat in "$@"; do
			lines=$(printf '%s\n' "$lines" | grep -F -- "$pat")
		done
		[ -n "$lines" ] && return 0
		sleep 0.1
	done
	return 1
}

# e2e_count_server PORT: a plain TCP server on the server's PORT that
# reads to EOF, then answers "got N bytes" and closes.
e2e_count_server() {
	ip netns exec "$S" python3 -c '
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
def serve(c):
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
    c.sendall(b"got %d bytes" % n)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$1" > /dev/null 2>&1 &
	pids="$pids $!"
	e2e_wait_port tcp "$1"
}

# e2e_udp_echo PORT: the server sends every datagram back (a STUN request
# comes back as itself, which a STUN dissector reads as an answer).
e2e_udp_echo() {
	ip netns exec "$S" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
' "$1" &
	pids="$pids $!"
	e2e_wait_port udp "$1"
}

# e2e_wait_listen NS tcp|udp LOCAL [TENTHS]: until a socket in namespace
# NS listens on LOCAL as ss prints it (":443", "198.18.1.1:3128",
# "[2001:2:0:2::2]:443"), TENTHS tenths of a second at most (50).
e2e_wait_listen() {
	for _ in $(seq "${4:-50}"); do
		ip netns exec "$1" ss -ln --"$2" | grep -qF "$3 " && return 0
		sleep 0.1
	done
	bad "nothing listens on $2 $3 in namespace $1"
	return 1
}

# e2e_wait_port tcp|udp PORT: until the server listens (5 s at most).
e2e_wait_port() { e2e_wait_listen "$S" "$1" ":$2"; }

# e2e_flood PREFIX DST BASE-PORT WAVES: tests/e2e/flood.py from the client
# namespace: 20,000 new flows (one packet each) a wave from PREFIX100 to
# PREFIX115, IPv4 or IPv6 as DST is; prints the packets sent.
e2e_flood() {
	ip netns exec "$C" python3 "$top_srcdir/tests/e2e/flood.py" "$@"
}

# e2e_report PATTERN [PID]: SIGUSR1 to dpixd (PID, default $dpixd), then
# the newest line of $tmp/dpixd.log matching PATTERN once a new one came
# (3 s at most; nothing, and 1, if none did).
e2e_report() {
	had=$(grep -c -- "$1" "$tmp/dpixd.log")
	kill -USR1 "${2:-$dpixd}" 2> /dev/null
	for _ in $(seq 30); do
		if [ "$(grep -c -- "$1" "$tmp/dpixd.log")" -gt "$had" ]; then
			grep -- "$1" "$tmp/dpixd.log" | tail -n 1
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# e2e_rss PID, e2e_fds PID: a process's VmRSS in kB, its open descriptors.
e2e_rss() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status; }
e2e_fds() { ls /proc/"$1"/fd | wc -l; }

# e2e_eve_has SNI ACTION: $tmp/eve.json holds a record of a TLS flow with
# that server name and that verdict.
e2e_eve_has() {
	python3 - "$tmp/eve.json" "$@" << 'EOF'
import json, sys
path, sni, action = sys.argv[1:]
for line in open(path):
    e = json.loads(line)
    if e.get("tls", {}).get("sni") == sni and e.get("verdict", {}).get("action") == action:
        sys.exit(0)
sys.exit(1)
EOF
}
