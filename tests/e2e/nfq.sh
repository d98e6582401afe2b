#!/bin/sh
# End to end: dpixd inline on a gateway between a client and a server, each
# in a network namespace of its own, with the rules `dpixd --print-rules
# iptables` prints. Real TLS (openssl s_server, curl) and UDP STUN traffic;
# asserts the EVE verdicts, the connmarks and a rule's conntrack timeout
# (conntrack -L), that a bypassed flow stops reaching the queue, that SIGHUP with a bad pack keeps the
# running one, and what kill -9 does in fail-open and fail-closed mode.
# Also replays the capture of that traffic and expects the same verdicts.
# Needs root, iproute2, iptables, conntrack, nfct, openssl, curl, tcpdump
# and python3;
# without them it says what is missing and is skipped (77).
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables conntrack nfct openssl curl python3 tcpdump
e2e_init dpx
e2e_topology
# The server: HTTPS on 443 serving files, a UDP echo on 3478 (STUN answered).
e2e_https_server 2000000
e2e_udp_echo 3478

# The pack: names and addresses of this test's own hosts only.
cat > "$tmp/e2e.rules" << 'EOF'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/nfq.sh"
domains turn {
	turn-*.openrainbow.com
}
domains blocked {
	blocked.example
}
addresses server {
	198.18.2.2
}
rule turn-tls bypass app tls sni in turn service turn
rule blocked drop app tls sni in blocked
rule stun bypass {
	transport udp
	app stun
	dst in server
	dport 3478
	timeout 10m
	service turn
}
EOF
printf 'pack broken\nrule x bypass sni in nowhere\n' > "$tmp/bad.rules"

tls() { # SNI: curl the 2 MB file through the gateway with that name
	ip netns exec "$C" curl -sk --max-time 5 --resolve "$1:443:198.18.2.2" \
		-o /dev/null -w '%{size_download}' "https://$1/big.bin"
}
queued() { # packets queue 0 has received so far
	inG awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue
}
eve_has() { # SNI ACTION RULE: an EVE record of that flow with that verdict
	python3 - "$tmp/eve.json" "$@" << 'EOF'
import json, sys
path, sni, action, rule = sys.argv[1:]
for line in open(path):
    e = json.loads(line)
    v = e.get("verdict", {})
    if e.get("tls", {}).get("sni") == sni and v.get("action") == action and v.get("rule", "") == rule:
        sys.exit(0)
sys.exit(1)
EOF
}

cp "$tmp/e2e.rules" "$tmp/pack.rules"
e2e_rules
e2e_dpixd || {
	bad "dpixd did not start"
	exit 1
}
# What crosses the client side, to replay it afterwards.
ip netns exec "$G" tcpdump -i g0-$id -U -w "$tmp/live.pcap" 2> /dev/null &
tcpdump=$!
pids="$pids $tcpdump"
sleep 0.5

grep -Eq "this kernel (can|cannot) set the connmark from a verdict" "$tmp/dpixd.log" &&
	ok "the connmark-in-verdict support was probed: $(grep -o 'kernel can\(not\)\? set' "$tmp/dpixd.log")" ||
	bad "no word on NETLINK_GLUE_CT in the log"

# 1. A TURN name: bypassed, connmark saved, the bulk never queued.
q0=$(queued)
n=$(tls turn-rbx1.openrainbow.com)
q1=$(queued)
[ "$n" = 2000000 ] && ok "bypassed TLS download complete" || bad "bypassed download got '$n' bytes"
sleep 0.3
eve_has turn-rbx1.openrainbow.com bypass turn-tls && ok "EVE: bypass by turn-tls" ||
	bad "no EVE bypass record for turn-rbx1.openrainbow.com: $(cat "$tmp/eve.json")"
# 2 MB is over 1,300 segments; only the handshake may be queued.
[ $((q1 - q0)) -lt 40 ] && ok "bypassed flow left the queue after $((q1 - q0)) packets" ||
	bad "bypassed flow: $((q1 - q0)) packets queued"
inG conntrack -L -p tcp --dport 443 2> /dev/null | grep -q "mark=1048576 " &&
	ok "connmark 0x100000 (bypass) on the TLS connection" ||
	bad "no bypass connmark: $(inG conntrack -L -p tcp 2> /dev/null)"

# 2. Another name: inspect (the default), mark saved.
n=$(tls www.example.com)
[ "$n" = 2000000 ] && ok "inspected download complete" || bad "inspected download got '$n'"
sleep 0.3
eve_has www.example.com inspect "" && ok "EVE: inspect by default" || bad "no EVE inspect record"
inG conntrack -L -p tcp --dport 443 2> /dev/null | grep -q "mark=2097152 " &&
	ok "connmark 0x200000 (inspect)" || bad "no inspect connmark"

# 3. A blocked name: dropped after its ClientHello.
n=$(tls blocked.example)
[ "${n:-0}" = 0 ] && ok "blocked name got nothing" || bad "blocked name got '$n' bytes"
sleep 0.3
eve_has blocked.example drop blocked && ok "EVE: drop by blocked" || bad "no EVE drop record"

# 4. STUN over UDP to the pack's address: bypassed.
ip netns exec "$C" python3 -c '
import os, socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)
# STUN over UDP waits for what follows (DTLS, ChannelData) until the flow
# packet budget (8) runs out: ten exchanges decide it.
for _ in range(10):
    s.sendto(req, ("198.18.2.2", 3478))
    s.recv(2048)
# Conntrack gives a UDP flow its replied timeout once it lives past 2 s.
time.sleep(2.2)
s.sendto(req, ("198.18.2.2", 3478))
s.recv(2048)
' && ok "STUN echo through the gateway" || bad "STUN echo failed"
sleep 0.3
grep '"dest_port":3478' "$tmp/eve.json" | grep -q '"action":"bypass"' &&
	ok "EVE: STUN bypass" || bad "no STUN bypass record: $(cat "$tmp/eve.json")"
inG conntrack -L -p udp --dport 3478 2> /dev/null | grep -q "mark=1048576 " &&
	ok "connmark bypass on the UDP flow" || bad "no bypass connmark on UDP"
# The rule's 'timeout 10m', through the printed nfct policy and CT rule.
t=$(inG conntrack -L -p udp --dport 3478 2> /dev/null | awk '{ print $3; exit }')
[ "${t:-0}" -gt 500 ] && ok "TURN UDP conntrack timeout ${t}s (rule asks 600)" ||
	bad "TURN UDP conntrack timeout '${t:-}', expected about 600"

# Replay and live agree: the same packets through dpix replay give each
# flow the verdict dpixd gave it.
kill "$tcpdump"
wait "$tcpdump" 2> /dev/null
"$DPIX" replay -q --rules "$tmp/pack.rules" "$tmp/live.pcap" > "$tmp/replay.json"
python3 - "$tmp/eve.json" "$tmp/replay.json" << 'EOF' && ok "replay gives the live verdicts" || bad "replay and live differ"
import json, sys
def verdicts(path):
    out = {}
    for line in open(path):
        e = json.loads(line)
        key = (e["src_port"], e["dest_port"], e["proto"])
        out[key] = (e["app_proto"], e.get("tls", {}).get("sni"), e["verdict"]["action"], e["verdict"].get("rule"))
    return out
live, replay = verdicts(sys.argv[1]), verdicts(sys.argv[2])
if len(live) < 4 or live != replay:
    print("live:", live)
    print("replay:", replay)
    sys.exit(1)
EOF

# 5. Reload: a bad pack is refused and the running one keeps deciding.
cp "$tmp/bad.rules" "$tmp/pack.rules"
kill -HUP "$dpixd"
sleep 0.5
grep -q "reload refused" "$tmp/dpixd.log" && ok "bad pack refused on reload" ||
	bad "bad pack not refused: $(cat "$tmp/dpixd.log")"
grep -q "bad.rules\|pack.rules:2" "$tmp/dpixd.log" && ok "the error names the file" ||
	bad "reload error does not name the pack"
n=$(tls turn-rbx2.openrainbow.com)
sleep 0.3
eve_has turn-rbx2.openrainbow.com bypass turn-tls && ok "old pack still decides after a bad reload" ||
	bad "after a bad reload: no bypass for turn-rbx2"
# A good pack that drops what was bypassed: new flows follow it.
sed 's/^rule turn-tls bypass/rule turn-tls drop/' "$tmp/e2e.rules" > "$tmp/pack.rules"
kill -HUP "$dpixd"
sleep 0.5
n=$(tls turn-rbx3.openrainbow.com)
sleep 0.3
eve_has turn-rbx3.openrainbow.com drop turn-tls && ok "reloaded pack decides new flows" ||
	bad "reloaded pack not used"
[ -n "$(e2e_report 'queue 0: packets')" ] && ok "SIGUSR1 writes counters" || bad "no counters"

# 6. kill -9, fail-open: the queue rule's --queue-bypass lets new flows pass.
kill -9 "$dpixd"
wait "$dpixd" 2> /dev/null
n=$(tls www.example.org)
[ "$n" = 2000000 ] && ok "fail-open: traffic passes with dpixd killed" ||
	bad "fail-open: got '$n' bytes with dpixd killed"

# 7. Fail-closed: with dpixd killed new flows are blocked.
cp "$tmp/e2e.rules" "$tmp/pack.rules"
e2e_rules --fail-closed
e2e_dpixd --fail-closed || bad "dpixd did not start fail-closed"
n=$(tls www.example.net)
[ "$n" = 2000000 ] && ok "fail-closed: traffic passes while dpixd runs" || bad "fail-closed: got '$n'"
kill -9 "$dpixd"
wait "$dpixd" 2> /dev/null
n=$(tls www.example.com)
[ "${n:-0}" = 0 ] && ok "fail-closed: new flows blocked with dpixd killed" ||
	bad "fail-closed: '$n' bytes passed with dpixd killed"

if [ $fails -ne 0 ]; then
	echo "--- dpixd log"
	cat "$tmp/dpixd.log"
	exit 1
fi
exit 0
