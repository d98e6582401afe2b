#!/bin/sh
# End to end: dpixd under its supervisor on a gateway namespace, two queues
# (--queues 2, --queue-balance), --user nobody. Asserts that both queues
# are bound and both get flows, that the worker process runs as nobody
# with CAP_NET_ADMIN only and still answers and reloads, that a SIGSTOPped
# worker is killed by the watchdog and replaced while new TLS flows pass
# again, that a kill -9 of the worker is restarted, that SIGTERM to the
# supervisor stops both, that a worker whose supervisor is killed ends, and
# that the supervisor gives up after 5 restarts in a minute. Set-up from
# lib.sh; skipped (77) without root or its tools.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables openssl curl python3
getent passwd nobody > /dev/null || {
	echo "SKIP: no user nobody"
	exit 77
}
e2e_init dpw
chmod 755 "$tmp" # the worker reads the pack as nobody
# Eight client addresses, so --queue-balance has flows to spread.
e2e_topology 198.18.1.10 198.18.1.11 198.18.1.12 198.18.1.13 198.18.1.14 198.18.1.15 \
	198.18.1.16 198.18.1.17
e2e_https_server 200000

cat > "$tmp/pack.rules" << 'EOF'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/watchdog.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-tls bypass app tls sni in turn service turn
EOF
chmod 644 "$tmp/pack.rules"

"$DPIXD" --config /dev/null --control-socket none --rules "$tmp/pack.rules" --queues 2 --print-rules iptables |
	grep -E '^iptables ' > "$tmp/rules.sh"
while read -r line; do inG $line || bad "rule did not install: $line"; done < "$tmp/rules.sh"

tls() { # SNI [SOURCE]: curl the 200 kB file through the gateway; bytes got
	ip netns exec "$C" curl -sk --max-time "${3:-5}" --interface "${2:-198.18.1.10}" \
		--resolve "$1:443:198.18.2.2" -o /dev/null -w '%{size_download}' "https://$1/big.bin"
}
worker() { # the pid of the last worker process the supervisor started
	sed -n 's/.*worker process \([0-9]*\) started.*/\1/p' "$tmp/dpixd.log" | tail -n 1
}
wait_worker() { # OLDPID: wait for another worker serving both queues
	for _ in $(seq 80); do
		w=$(worker)
		[ -n "$w" ] && [ "$w" != "$1" ] &&
			[ "$(grep -c 'serving queues' "$tmp/dpixd.log")" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# sd_notify: a datagram socket that the worker, as nobody, can write to.
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
while True:
    print(s.recv(256).decode(), flush=True)
' "$tmp/notify" > "$tmp/notified" &
pids="$pids $!"
for _ in $(seq 30); do [ -S "$tmp/notify" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$tmp/notify ip netns exec "$G" "$DPIXD" --config /dev/null --control-socket none --rules "$tmp/pack.rules" --queues 2 \
	--user nobody --watchdog 1 2>> "$tmp/dpixd.log" &
sup=$!
pids="$pids $sup"
wait_worker "" 0 || bad "dpixd did not start: $(cat "$tmp/dpixd.log")"
w1=$(worker)
pids="$pids $w1"

grep -q '^READY=1$' "$tmp/notified" && ok "READY=1 sent to NOTIFY_SOCKET" ||
	bad "no READY=1 notification: '$(cat "$tmp/notified")'"

# 1. Both queues bound (a port id each), flows spread over them.
bound=$(inG awk '$2 != 0 { n++ } END { print n + 0 }' /proc/net/netfilter/nfnetlink_queue)
[ "$bound" = 2 ] && ok "queues 0 and 1 bound" ||
	bad "$bound queues bound: $(inG cat /proc/net/netfilter/nfnetlink_queue)"
for i in 0 1 2 3 4 5 6 7; do
	n=$(tls www.example.com 198.18.1.1$i)
	[ "$n" = 200000 ] || bad "download from 198.18.1.1$i got '$n'"
done
busy=$(inG awk '$8 > 0 { n++ } END { print n + 0 }' /proc/net/netfilter/nfnetlink_queue)
[ "$busy" = 2 ] && ok "flows of 8 clients spread over both queues" ||
	bad "only $busy queue(s) saw packets: $(inG cat /proc/net/netfilter/nfnetlink_queue)"

# 2. The worker runs as nobody with CAP_NET_ADMIN (bit 12) only.
uid=$(awk '/^Uid:/ { print $3 }' /proc/"$w1"/status)
cap=$(awk '/^CapEff:/ { print $2 }' /proc/"$w1"/status)
[ "$uid" = 65534 ] && ok "worker runs as nobody" || bad "worker uid '$uid'"
[ "$cap" = 0000000000001000 ] && ok "worker keeps CAP_NET_ADMIN only" || bad "worker CapEff '$cap'"
[ "$(awk '/^Uid:/ { print $3 }' /proc/"$sup"/status)" = 0 ] && ok "supervisor stays root" ||
	bad "supervisor is not root"
n=$(tls turn-rbx1.openrainbow.com)
[ "$n" = 200000 ] && ok "verdicts as nobody: bypassed download complete" || bad "got '$n' as nobody"
kill -HUP "$sup"
sleep 0.5
grep -q "reloaded the rule packs" "$tmp/dpixd.log" && ok "SIGHUP passed on: reload as nobody" ||
	bad "no reload: $(cat "$tmp/dpixd.log")"

# 3. SIGSTOP: the watchdog (1 s) kills the stalled worker and starts another;
# a download begun while it was stalled completes.
kill -STOP "$w1"
t0=$(date +%s)
n=$(tls www.example.org 198.18.1.11 10)
wait_worker "$w1" 1 || bad "no new worker after SIGSTOP: $(cat "$tmp/dpixd.log")"
w2=$(worker)
pids="$pids $w2"
grep -q "killing worker process $w1" "$tmp/dpixd.log" && ok "watchdog killed stalled worker $w1" ||
	bad "watchdog did not say it killed $w1"
[ "$n" = 200000 ] && ok "download started during the stall completed ($(($(date +%s) - t0)) s)" ||
	bad "download during the stall got '$n'"
[ -e /proc/"$w1" ] && bad "stalled worker $w1 still exists" || ok "stalled worker $w1 is gone"
n=$(tls turn-rbx2.openrainbow.com)
[ "$n" = 200000 ] && ok "new worker $w2 serves" || bad "after the restart got '$n'"

# 4. kill -9 of the worker: restarted.
kill -9 "$w2"
wait_worker "$w2" 2 || bad "no new worker after kill -9: $(cat "$tmp/dpixd.log")"
w3=$(worker)
pids="$pids $w3"
n=$(tls turn-rbx3.openrainbow.com)
[ "$n" = 200000 ] && ok "worker $w3 replaced killed $w2 and serves" || bad "after kill -9 got '$n'"

# 5. SIGTERM to the supervisor stops the worker, then itself, status 0.
kill -TERM "$sup"
wait "$sup"
rc=$?
[ $rc = 0 ] && ok "supervisor exited 0 on SIGTERM" || bad "supervisor exit status $rc"
[ -e /proc/"$w3" ] && bad "worker $w3 outlived the supervisor" || ok "worker stopped with it"

# 6. kill -9 of the supervisor: the kernel sends the worker SIGTERM
# (PR_SET_PDEATHSIG), it releases the queues, traffic passes (fail-open).
ip netns exec "$G" "$DPIXD" --config /dev/null --control-socket none --rules "$tmp/pack.rules" --queues 2 --watchdog 1 \
	2>> "$tmp/dpixd.log" &
sup=$!
pids="$pids $sup"
wait_worker "$w3" 3 || bad "dpixd did not start again: $(cat "$tmp/dpixd.log")"
w4=$(worker)
pids="$pids $w4"
kill -9 "$sup"
for _ in $(seq 30); do [ -e /proc/"$w4" ] || break; sleep 0.1; done
[ -e /proc/"$w4" ] && bad "worker $w4 outlived a killed supervisor" ||
	ok "worker $w4 ended with its killed supervisor"
n=$(tls www.example.net)
[ "$n" = 200000 ] && ok "fail-open: traffic passes with both gone" || bad "with both gone got '$n'"

# 7. A worker that keeps dying: restarted 5 times (backing off), then the
# supervisor gives up with status 1, for systemd's Restart= to take over.
ip netns exec "$G" "$DPIXD" --config /dev/null --control-socket none --rules "$tmp/pack.rules" --queues 2 --watchdog 1 \
	2>> "$tmp/dpixd.log" &
sup=$!
pids="$pids $sup"
n=$(grep -c 'serving queues' "$tmp/dpixd.log")
for i in 1 2 3 4 5 6; do
	wait_worker "$(worker)x" $((n + i - 1)) || {
		bad "worker $i did not start: $(cat "$tmp/dpixd.log")"
		break
	}
	w=$(worker)
	pids="$pids $w"
	kill -9 "$w"
done
wait "$sup"
rc=$?
[ $rc = 1 ] && grep -q "5 restarts in 60 s: giving up" "$tmp/dpixd.log" &&
	ok "after 5 restarts in a minute the supervisor gives up (status 1)" ||
	bad "supervisor after 6 crashes: status $rc"

if [ $fails -ne 0 ]; then
	echo "--- dpixd log"
	cat "$tmp/dpixd.log"
	exit 1
fi
exit 0
