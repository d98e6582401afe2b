#!/bin/sh
# End to end: the traffic the vendors' documents describe, from real
# programs, through dpixd inline on the gateway (forward, input and output
# hooks: the gateway also runs squid):
#   - curl through squid's CONNECT to turn-rbx1.openrainbow.com (the
#     client -> squid CONNECT flow, and squid's own TLS flow to the server);
#   - coturn's turnutils_uclient to turnserver over UDP 3478 and TCP 3478;
#   - openssl s_client with a Rainbow and a non-Rainbow SNI;
#   - a node `ws` client to a WSS server named web.openrainbow.com;
#   - an iperf3 bulk flow.
# Asserts each flow's EVE verdict and rule, the connmarks (conntrack -L),
# and that the bulk flow left the queue after its first packets. The ws
# package is installed with npm into $DPIX_NODE_CACHE (default
# /var/cache/dpix-tests/node) the first time. Needs root and the tools
# below; skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables conntrack nfct openssl curl python3 squid turnserver \
	turnutils_uclient turnutils_peer iperf3 node npm
e2e_init dpt
e2e_topology
e2e_https_server 200000

e2e_node_ws

# Names the gateway's squid resolves: ip netns exec bind-mounts this file.
echo "198.18.2.2 turn-rbx1.openrainbow.com" | e2e_hosts "$G"

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/traffic.sh"
domains turn {
	turn-*.openrainbow.com
}
domains rainbow {
	*.openrainbow.com
}
addresses server {
	198.18.2.2
}
rule turn-connect bypass connect in turn connect-port 443 service turn
rule turn-tls bypass app tls sni in turn service turn
rule rainbow-wss bypass app tls sni in rainbow service rainbow
rule turn-udp bypass {
	transport udp
	dst in server
	dport 3478
	timeout 10m
	service turn
}
rule turn-tcp bypass transport tcp app stun dst in server dport 3478 service turn
rule bulk bypass transport tcp dst in server dport 5201 service bulk
EOR

"$DPIXD" --config /dev/null --rules "$tmp/pack.rules" --hook forward --hook input \
	--hook output --print-rules iptables | grep -E '^(iptables|nfct) ' > "$tmp/rules.sh"
while read -r line; do inG $line || bad "rule did not install: $line"; done < "$tmp/rules.sh"

# The servers: coturn with a UDP peer to relay to, iperf3, a WSS echo.
ip netns exec "$S" turnserver -n --listening-ip=198.18.2.2 --relay-ip=198.18.2.2 \
	--listening-port=3478 --lt-cred-mech --user=e2e:secret --realm=e2e --no-tls --no-dtls \
	--no-cli --db="$tmp/turndb" --pidfile="$tmp/turn.pid" --log-file=stdout > "$tmp/turn.log" 2>&1 &
pids="$pids $!"
ip netns exec "$S" turnutils_peer -L 198.18.2.2 -p 3480 > /dev/null 2>&1 &
pids="$pids $!"
ip netns exec "$S" iperf3 -s -p 5201 > /dev/null 2>&1 &
pids="$pids $!"
e2e_wss_server
e2e_squid "$G" 198.18.1.1:3128 < /dev/null
e2e_wait_port tcp 3478
e2e_wait_port udp 3478
e2e_wait_port tcp 5201

ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none \
	--rules "$tmp/pack.rules" --eve "$tmp/eve.json" 2> "$tmp/dpixd.log" &
pids="$pids $!"
for _ in $(seq 50); do
	grep -q "serving queues" "$tmp/dpixd.log" && break
	sleep 0.1
done
inC() { ip netns exec "$C" "$@"; }

# 1. curl through squid's CONNECT.
n=$(inC curl -sk --max-time 10 -p -x http://198.18.1.1:3128 -o /dev/null -w '%{size_download}' \
	https://turn-rbx1.openrainbow.com/big.bin)
[ "$n" = 200000 ] && ok "curl through squid CONNECT" || {
	bad "curl through squid got '$n' bytes"
	tail -n 5 "$tmp/squid.out" "$tmp/squid/cache.log" "$tmp/squid/access.log"
	inC curl -sk --max-time 10 -p -x http://198.18.1.1:3128 -o /dev/null -v \
		https://turn-rbx1.openrainbow.com/big.bin 2>&1 | tail -n 8
}
# 2. TURN over UDP and TCP.
for t in "" -t; do
	inC timeout 30 turnutils_uclient $t -n 20 -m 1 -l 120 -e 198.18.2.2 -r 3480 -u e2e -w secret \
		198.18.2.2 > "$tmp/uclient$t.log" 2>&1
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$tmp/uclient$t.log" | tail -n 1)
	[ "${lost:-x}" = 0 ] && ok "turnutils_uclient ${t:-(UDP)}: none lost" ||
		bad "turnutils_uclient ${t:-(UDP)}: lost '${lost:-?}': $(tail -n 5 "$tmp/uclient$t.log")"
done
# 3. openssl s_client, both names.
for sni in web.openrainbow.com www.example.com; do
	echo | inC timeout 5 openssl s_client -brief -connect 198.18.2.2:443 -servername $sni \
		> "$tmp/s_client.log" 2>&1
	grep -q "^CONNECTION ESTABLISHED" "$tmp/s_client.log" && ok "s_client $sni: handshake done" ||
		bad "s_client $sni: $(cat "$tmp/s_client.log")"
done
# 4. The ws client.
cat > "$tmp/ws.js" << 'EOJ'
const WebSocket = require(process.argv[2] + "/node_modules/ws");
const ws = new WebSocket("wss://198.18.2.2:8443/", { servername: "ws.openrainbow.com",
                         rejectUnauthorized: false });
const t = setTimeout(() => process.exit(2), 5000);
ws.on("open", () => ws.send("dpix"));
ws.on("message", (m) => { clearTimeout(t); ws.close(); process.exit(String(m) === "dpix" ? 0 : 1); });
ws.on("error", () => process.exit(3));
EOJ
inC node "$tmp/ws.js" "$node_cache" && ok "node ws client: echo over WSS" || bad "ws client failed ($?)"
# 5. iperf3 for 2 s: count what the queue saw meanwhile.
queued() { inG awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue; }
q0=$(queued)
inC iperf3 -c 198.18.2.2 -p 5201 -t 2 -J > "$tmp/iperf.json" 2> /dev/null || bad "iperf3 failed"
q1=$(queued)
segs=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(int(j["end"]["sum_sent"]["bytes"] / 1448))' "$tmp/iperf.json" 2> /dev/null)
[ $((q1 - q0)) -lt 60 ] && [ "${segs:-0}" -gt 10000 ] &&
	ok "iperf3: ${segs} segments or more, $((q1 - q0)) packets queued" ||
	bad "iperf3: $((q1 - q0)) packets queued for ${segs:-?} segments"
sleep 0.5

# The verdicts, flow by flow (the EVE file is written per batch).
python3 - "$tmp/eve.json" << 'EOP' || bad "EVE verdicts"
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1])]
def find(what, pred, app, action, rule):
    for e in flows:
        v = e["verdict"]
        if pred(e) and e["app_proto"] == app and v["action"] == action and v.get("rule") == rule:
            print("ok: EVE %s: %s %s by %s" % (what, app, action, rule or "default"))
            return True
    print("FAIL: EVE %s: no %s flow with %s by %s" % (what, app, action, rule))
    return False
sni = lambda n: lambda e: e.get("tls", {}).get("sni") == n
port = lambda p, proto: lambda e: e["dest_port"] == p and e["proto"] == proto
good = all([
    find("client -> squid CONNECT", lambda e: e.get("connect", {}).get("host") == "turn-rbx1.openrainbow.com",
         "connect", "bypass", "turn-connect"),
    find("squid -> server TLS", lambda e: sni("turn-rbx1.openrainbow.com")(e) and e["dest_port"] == 443,
         "tls", "bypass", "turn-tls"),
    find("TURN over UDP", port(3478, "UDP"), "stun", "bypass", "turn-udp"),
    find("TURN over TCP", port(3478, "TCP"), "stun", "bypass", "turn-tcp"),
    find("s_client Rainbow", sni("web.openrainbow.com"), "tls", "bypass", "rainbow-wss"),
    find("s_client other", sni("www.example.com"), "tls", "inspect", None),
    find("ws client", sni("ws.openrainbow.com"), "tls", "bypass", "rainbow-wss"),
    find("iperf3", port(5201, "TCP"), "unknown", "bypass", "bulk"),
])
sys.exit(0 if good else 1)
EOP
# Connmarks: bypass (0x100000) on the TURN UDP and iperf3 connections.
inG conntrack -L -p udp --dport 3478 2> /dev/null | grep -q "mark=1048576 " &&
	ok "connmark bypass on TURN UDP" || bad "no bypass connmark on TURN UDP"
inG conntrack -L -p tcp --dport 5201 2> /dev/null | grep -q "mark=1048576 " &&
	ok "connmark bypass on iperf3" || bad "no bypass connmark on iperf3"

if [ $fails -ne 0 ]; then
	echo "--- dpixd log"
	cat "$tmp/dpixd.log"
	exit 1
fi
