#!/bin/sh
# tests/soak/soak.sh [SECONDS]: one dpixd, under its supervisor, for
# SECONDS (default 1800, 30 minutes) on the gateway namespace of the
# end-to-end tests (tests/e2e/lib.sh), with both paths in use: the queues
# (--queues 2, --max-flows 1024) and the CONNECT forwarder
# (--proxy-listen). Meanwhile, at modest rates (the point is memory and
# descriptors over time, not speed), clients in the client namespace make
#   tcp      plain HTTP downloads (10 kB), a new connection each;
#   tls      HTTPS downloads (10 kB), names the pack bypasses and names it
#            inspects in turn;
#   s_client openssl s_client handshakes;
#   udp      STUN binding requests to a UDP echo, a new flow each;
#   connect  HTTPS downloads through the forwarder (curl -p -x);
# a SIGHUP every SOAK_RELOAD seconds (20), a good pack and a bad one in
# turn; a wave of 20,000 spoofed new flows (tests/e2e/flood.py) every
# SOAK_FLOOD seconds (60). Every SOAK_INTERVAL seconds (15; 5 for runs
# under 10 minutes) a line of soak.tsv: the worker's and the supervisor's
# VmRSS and descriptors, each queue's flows in use, the evictions, packets
# and every client's successes and failures so far.
#
# At the end it asserts: the worker's VmRSS in the last third of the run
# is at most 1 MiB above its maximum in the first third (not under
# AddressSanitizer, whose quarantine keeps freed memory), and its
# descriptors at most 12 above (two tunnels in flight); the same worker
# process all along (no crash, no supervisor restart); no client failed;
# every bad pack refused and every good one loaded; exit 0 on SIGTERM.
# The summary goes to stdout and summary.txt, beside soak.tsv and
# dpixd.log, in $SOAK_OUT (default ./soak-DATE). Exit 0, 1 on a failed
# check, 77 when skipped (not root, tools missing).
#
# Run by hand from the build directory (docs/reliability.md has figures):
#   sudo env top_srcdir=$SRC DPIXD=$PWD/dpixd DPIX=$PWD/dpix \
#	sh $SRC/tests/soak/soak.sh 1800
set -u
duration=${1:-1800}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
DPIXD=${DPIXD:-$PWD/dpixd}
DPIX=${DPIX:-$PWD/dpix}
interval=${SOAK_INTERVAL:-15}
[ "$duration" -lt 600 ] && interval=${SOAK_INTERVAL:-5}
reload_every=${SOAK_RELOAD:-20}
flood_every=${SOAK_FLOOD:-60}
out=${SOAK_OUT:-$PWD/soak-$(date -u +%Y%m%d-%H%M%S)}
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables conntrack openssl curl python3
e2e_init dps
mkdir -p "$out" || exit 99
e2e_topology 198.18.1.2 $(seq -f 198.18.1.%g 100 115)
e2e_https_server 10000
ip netns exec "$S" python3 -m http.server 80 --bind 198.18.2.2 --directory "$tmp" \
	> /dev/null 2>&1 &
pids="$pids $!"
e2e_wait_port tcp 80
e2e_udp_echo 3478
# The forwarder resolves the tunnel's name in the gateway namespace.
printf '127.0.0.1 localhost\n198.18.2.2 turn-rbx1.openrainbow.com\n' | e2e_hosts "$G"

cat > "$tmp/good.rules" << 'EOF'
pack    soak
version 1
date    2026-12
source  "tests/soak/soak.sh"
domains turn {
	turn-*.openrainbow.com
}
domains blocked {
	blocked.example
}
addresses server {
	198.18.2.2
}
rule turn-connect bypass connect in turn connect-port 443 service turn
rule turn-tls bypass app tls sni in turn service turn
rule blocked drop app tls sni in blocked
rule stun bypass transport udp app stun dst in server dport 3478 service turn
EOF
cp "$tmp/good.rules" "$tmp/pack.rules"
e2e_rules --queues 2

: > "$tmp/eve.json"
ip netns exec "$G" "$DPIXD" --config /dev/null --control-socket "$tmp/ctl.sock" \
	--queues 2 --max-flows 1024 --rules "$tmp/pack.rules" --eve "$tmp/eve.json" \
	--proxy-listen 198.18.1.1:3128 2>> "$tmp/dpixd.log" &
sup=$!
pids="$pids $sup"
for _ in $(seq 100); do
	grep -q "serving queues" "$tmp/dpixd.log" 2> /dev/null && [ -S "$tmp/ctl.sock" ] && break
	sleep 0.1
done
worker=$(sed -n 's/.*worker process \([0-9]*\) started.*/\1/p' "$tmp/dpixd.log" | head -n 1)
if [ -z "$worker" ] || ! grep -q "serving queues" "$tmp/dpixd.log"; then
	cat "$tmp/dpixd.log"
	echo "FAIL: dpixd did not start"
	exit 1
fi

# The clients: each a loop, one line per attempt ("ok" or "fail ...") in
# $tmp/KIND.out, until $tmp/stop appears.
client() { # KIND PAUSE COMMAND...: the command's stdout must be "ok"
	kind=$1 pause=$2
	shift 2
	(
		i=0
		while [ ! -e "$tmp/stop" ]; do
			i=$((i + 1))
			r=$("$@" "$i" 2>&1 | tail -n 1)
			[ "$r" = ok ] && echo ok || echo "fail $i $(date +%T) $r"
			sleep "$pause"
		done > "$tmp/$kind.out"
	) &
	pids="$pids $!"
}
got() { # WANT BYTES: ok when they agree
	[ "$2" = "$1" ] && echo ok || echo "got '$2' bytes"
}
tcp_get() {
	got 10000 "$(ip netns exec "$C" curl -s --max-time 10 -o /dev/null -w '%{size_download}' \
		http://198.18.2.2/big.bin)"
}
tls_get() { # N: a bypassed name when N is even, an inspected one otherwise
	sni=www$1.example.com
	[ $(($1 % 2)) = 0 ] && sni=turn-rbx$1.openrainbow.com
	got 10000 "$(ip netns exec "$C" curl -sk --max-time 10 --resolve "$sni:443:198.18.2.2" \
		-o /dev/null -w '%{size_download}' "https://$sni/big.bin")"
}
s_client() { # N
	ip netns exec "$C" timeout 10 openssl s_client -connect 198.18.2.2:443 \
		-servername "turn-s$1.openrainbow.com" < /dev/null 2>&1 |
		grep -q '^New, TLS' && echo ok || echo "no handshake"
}
connect_get() {
	got 10000 "$(ip netns exec "$C" curl -sk --max-time 10 -p -x http://198.18.1.1:3128 \
		-o /dev/null -w '%{size_download}' https://turn-rbx1.openrainbow.com/big.bin)"
}
client tcp 0.5 tcp_get
client tls 0.5 tls_get
client s_client 2 s_client
client connect 1 connect_get
# UDP: one Python process, a new socket (a new flow) per request.
ip netns exec "$C" python3 -u -c '
import os, socket, struct, sys, time
stop = sys.argv[1]
while os.path.isdir(os.path.dirname(stop)) and not os.path.exists(stop):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    req = struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12)
    try:
        s.sendto(req, ("198.18.2.2", 3478))
        print("ok" if s.recv(2048) == req else "fail reply differs")
    except OSError as e:
        print("fail %s %s" % (time.strftime("%T"), e))
    s.close()
    time.sleep(0.5)
' "$tmp/stop" > "$tmp/udp.out" 2>&1 &
pids="$pids $!"

# Reloads: a good pack (its own version, a changed set) and a bad one in
# turn, each waiting for its log line (signals sent faster than handled
# merge).
(
	i=0
	while [ ! -e "$tmp/stop" ]; do
		sleep "$reload_every"
		i=$((i + 1))
		if [ $((i % 2)) = 0 ]; then
			sed "s/^version 1/version $i/; s/blocked.example/blocked$i.example/" \
				"$tmp/good.rules" > "$tmp/pack.rules"
			want="reloaded the rule packs" kind=good
		else
			case $((i % 3)) in
			0) printf 'pack broken\nrule x bypass sni in nowhere\n' ;;
			1) sed 's/^rule turn-tls bypass/rule turn-tls explode/' "$tmp/good.rules" ;;
			2) head -c 150 "$tmp/good.rules" ;;
			esac > "$tmp/pack.rules"
			want="reload refused" kind=bad
		fi
		have=$(grep -c "$want" "$tmp/dpixd.log")
		kill -HUP "$sup"
		echo "$kind" >> "$tmp/reloads.out"
		for _ in $(seq 100); do
			[ "$(grep -c "$want" "$tmp/dpixd.log")" -gt "$have" ] && break
			sleep 0.05
		done
	done
) &
pids="$pids $!"

# Flood waves, 20,000 new flows each, from changing ports.
(
	k=0
	while [ ! -e "$tmp/stop" ]; do
		e2e_flood 198.18.1. 198.18.2.2 $((10000 + k % 80 * 625)) 1 >> "$tmp/flood.out"
		k=$((k + 1))
		sleep "$flood_every"
	done
) &
pids="$pids $!"

count() { # FILE [PATTERN]: lines (matching)
	[ -f "$1" ] || {
		echo 0
		return
	}
	grep -c "${2:-.}" "$1"
}
stats() { # the queues' flows in use, evictions and packets
	"$DPIX" stats --socket "$tmp/ctl.sock" --json 2> /dev/null | python3 -c '
import json, sys
try:
    q = json.load(sys.stdin)["queues"]
except ValueError:
    print("-\t-\t-\t-"); sys.exit(0)
print("\t".join([str(q[0]["active_flows"]), str(q[1]["active_flows"]),
                 str(sum(x["evictions"] for x in q)), str(sum(x["packets"] for x in q))]))'
}
kinds="tcp tls s_client udp connect"
{
	printf 'time\tseconds\tworker\trss_kb\tfds\tsup_rss_kb\tsup_fds\tflows_q0\tflows_q1'
	printf '\tevictions\tpackets\treloads\tflood_packets'
	for k in $kinds; do printf '\t%s_ok\t%s_fail' "$k" "$k"; done
	printf '\n'
} > "$out/soak.tsv"
sample() {
	w=$(pgrep -P "$sup" | head -n 1)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$(date -u +%T)" $(($(date +%s) - t0)) \
		"${w:--}" "$(e2e_rss "$worker" 2> /dev/null || echo -)" \
		"$(e2e_fds "$worker" 2> /dev/null || echo -)" "$(e2e_rss "$sup")" "$(e2e_fds "$sup")" \
		"$(stats)" "$(count "$tmp/reloads.out")" \
		"$(awk '{ n += $1 } END { print n + 0 }' "$tmp/flood.out" 2> /dev/null || echo 0)"
	for k in $kinds; do
		printf '\t%s\t%s' "$(count "$tmp/$k.out" '^ok')" "$(count "$tmp/$k.out" '^fail')"
	done
	printf '\n'
	# EVE lines are not counted: emptied, the file stays small for hours.
	: > "$tmp/eve.json"
}
t0=$(date +%s)
echo "soak: $duration s, a sample every $interval s into $out/soak.tsv; dpixd $sup, worker $worker"
while [ $(($(date +%s) - t0)) -lt "$duration" ]; do
	sleep "$interval"
	sample >> "$out/soak.tsv"
	tail -n 1 "$out/soak.tsv"
done
touch "$tmp/stop"
sleep 12 # the clients' last attempts (curl --max-time 10)
sample >> "$out/soak.tsv"
for k in $kinds; do grep '^fail' "$tmp/$k.out" | head -n 5 > "$out/failures-$k.txt"; done

# The checks.
restarts=$(grep -c 'started (restart [1-9]' "$tmp/dpixd.log")
goods=$(count "$tmp/reloads.out" good)
bads=$(count "$tmp/reloads.out" bad)
loaded=$(grep -c "reloaded the rule packs" "$tmp/dpixd.log")
refused=$(grep -c "reload refused" "$tmp/dpixd.log")
kill "$sup"
wait "$sup"
rc=$?
cp "$tmp/dpixd.log" "$out/dpixd.log"
# AddressSanitizer keeps freed blocks in quarantine (up to 256 MiB): its
# VmRSS is reported, not asserted (faults.sh does the same).
asan=0
e2e_asan && asan=1
python3 - "$out/soak.tsv" "$worker" $asan << 'EOF' | tee "$out/summary.txt"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, rows = rows[0], rows[1:]
col = {h: [r[i] for r in rows] for i, h in enumerate(head)}
num = lambda name: [int(v) for v in col[name] if v != "-"]
n = len(rows)
third = max(1, n // 3)
def flat(name, margin, asserted=True):
    v = num(name)
    first, last = max(v[:third]), max(v[-third:])
    good = last <= first + margin or not asserted
    print("%s %s: min %d, max %d; first third max %d, last third max %d (margin %d)"
          % ("ok:" if asserted and good else "FAIL:" if asserted else "note (AddressSanitizer):",
             name, min(v), max(v), first, last, margin))
    return good
good = n >= 3
if not good:
    print("FAIL: %d samples" % n)
else:
    good &= flat("rss_kb", 1024, sys.argv[3] == "0")
    good &= flat("fds", 12)
    print("note: supervisor VmRSS %d to %d kB, fds %d to %d" % (
        min(num("sup_rss_kb")), max(num("sup_rss_kb")), min(num("sup_fds")), max(num("sup_fds"))))
    workers = set(col["worker"])
    if workers == {sys.argv[2]}:
        print("ok: one worker process all along (%s)" % sys.argv[2])
    else:
        print("FAIL: worker processes %s" % sorted(workers))
        good = False
    last = dict(zip(head, rows[-1]))
    print("seconds %s; samples %d; flood packets %s; evictions %s; packets %s; reloads %s"
          % (last["seconds"], n, last["flood_packets"], last["evictions"], last["packets"],
             last["reloads"]))
    flows = num("flows_q0") + num("flows_q1")
    print("flows in use per queue: max %d (table 1024)" % max(flows))
    good &= max(flows) <= 1024
    for k in ("tcp", "tls", "s_client", "udp", "connect"):
        ok, fail = int(last[k + "_ok"]), int(last[k + "_fail"])
        print("%s %s: %d made, %d failed" % ("ok:" if ok and not fail else "FAIL:", k, ok, fail))
        good &= ok > 0 and fail == 0
sys.exit(0 if good else 1)
EOF
summary=$?
{
	[ "$restarts" = 0 ] && echo "ok: supervisor restarts 0" || echo "FAIL: supervisor restarts $restarts"
	[ "$refused" = "$bads" ] && echo "ok: $bads of $bads bad packs refused" ||
		echo "FAIL: $refused of $bads bad packs refused"
	[ "$loaded" = "$goods" ] && echo "ok: $goods of $goods good packs loaded" ||
		echo "FAIL: $loaded of $goods good packs loaded"
	[ $rc = 0 ] && echo "ok: dpixd exited 0 on SIGTERM" || echo "FAIL: dpixd exit status $rc on SIGTERM"
	grep -q 'Sanitizer\|runtime error:' "$out/dpixd.log" && echo "FAIL: sanitizer report in dpixd.log"
} | tee -a "$out/summary.txt"
grep -q '^FAIL' "$out/summary.txt" && exit 1
[ $summary = 0 ] || exit 1
exit 0
