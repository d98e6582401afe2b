#!/bin/sh
# End to end, under faults: dpixd inline on a gateway namespace (the set-up
# of nfq.sh), one process (--no-supervise) so that signals reach the daemon
# itself. Asserts:
#  1. flow-table pressure: with --max-flows 512, a flood of 40,000 spoofed
#     new flows (TCP SYN and UDP, 16 source addresses, many ports) leaves
#     dpixd's VmRSS bounded, the SIGUSR1 counters report the evictions, and
#     a TURN TLS flow started during the flood is still classified and
#     bypassed (EVE record, connmark); three times: one queue over IPv4,
#     two queues (--queue-balance) over IPv4, then over IPv6, where every
#     queue must evict and keep its own table within 512 flows (control
#     socket);
#  2. 100 SIGHUP reloads, good and bad packs alternating, under a loop of
#     short TLS connections and a long bypassed download: every bad pack is
#     refused, every good one loaded, no connection fails, the long
#     download completes and its connmark never changes;
#  3. kill -9 and restart, fail-open and fail-closed, with a bypassed
#     download running across: it completes in both modes; fail-closed
#     blocks new flows while dpixd is dead; a restarted dpixd classifies
#     new flows again;
#  4. SIGSTOP without supervisor: new queued flows stall while a bypassed
#     flow keeps passing; SIGCONT resumes. (With the supervisor, the
#     watchdog's recovery is tested in watchdog.sh.)
# Every dpixd stopped with SIGTERM must exit 0, and no log may hold a
# sanitizer report: in the --enable-sanitizers build that is the leak
# check (LeakSanitizer). docs/reliability.md has the figures measured.
# What nfq.sh and watchdog.sh already test (kill -9 with new flows, the
# watchdog, one bad reload) is not repeated. Skipped (77) without root or
# its tools.
set -u
: "${top_srcdir:?}" "${DPIXD:?}" "${DPIX:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables ip6tables conntrack openssl curl python3
e2e_init dpf
# The client 198.18.1.2 and 2001:2:0:1::2, the floods from 198.18.1.100-115
# and 2001:2:0:1::100-115.
e2e_topology 198.18.1.2 $(seq -f 198.18.1.%g 100 115)
e2e_topology6 2001:2:0:1::2 $(seq -f 2001:2:0:1::%g 100 115)

e2e_https_server 200000 ::
head -c 10000 /dev/urandom > "$tmp/small.bin"

cat > "$tmp/good.rules" << 'EOF'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/faults.sh"
domains turn {
	turn-*.openrainbow.com
}
domains blocked {
	blocked.example
}
rule turn-tls bypass app tls sni in turn service turn
rule blocked drop app tls sni in blocked
EOF
cp "$tmp/good.rules" "$tmp/pack.rules"

start_dpixd() { # FLAGS...: e2e_dpixd, the last run's log kept in all.log
	cat "$tmp/dpixd.log" >> "$tmp/all.log" 2> /dev/null
	: > "$tmp/dpixd.log"
	e2e_dpixd "$@"
}
srv=198.18.2.2 # the server address tls() connects to (2001:2:0:2::2 for IPv6)
tls() { # SNI [FILE] [MAX-TIME] [RATE]: curl through the gateway; bytes got
	a=$srv
	case $a in *:*) a="[$a]" ;; esac
	ip netns exec "$C" curl -sk --max-time "${3:-5}" ${4:+--limit-rate "$4"} \
		--resolve "$1:443:$a" -o /dev/null -w '%{size_download}' "https://$1/${2:-big.bin}"
}
long_start() { # SNI SECONDS: a download that lasts that long, in the background
	(tls "$1" slow/"$2" $(($2 + 20)) > "$tmp/long.out") &
	long_want=$(($2 * 200000))
	long=$!
	pids="$pids $long"
}
long_sport() { # the client port of the running long download
	for _ in $(seq 30); do
		p=$(ip netns exec "$C" ss -tnH state established '( dport = :443 )' |
			awk '{ split($3, a, ":"); print a[2]; exit }')
		[ -n "$p" ] && break
		sleep 0.1
	done
	echo "$p"
	[ -n "$p" ] || ip netns exec "$C" ss -tna >&2
}
connmark() { # SPORT: the conntrack mark of that TCP connection
	inG conntrack -L -p tcp --sport "$1" --dport 443 2> /dev/null |
		sed -n 's/.* mark=\([0-9]*\) .*/\1/p' | head -n 1
}
bypassed() { # SPORT: wait up to 5 s for that connection's bypass mark
	for _ in $(seq 50); do
		[ "$(connmark "$1")" = 1048576 ] && break
		sleep 0.1
	done
	connmark "$1"
}
stop_dpixd() { # WHAT: SIGTERM; a clean exit is 0 (with --enable-sanitizers: no leak)
	kill "$dpixd"
	wait "$dpixd"
	rc=$?
	[ $rc = 0 ] && ok "$1: dpixd exited 0 on SIGTERM" || bad "$1: dpixd exit status $rc on SIGTERM"
}
rss() { e2e_rss "$dpixd"; }
counters() { # QUEUES: SIGUSR1; the counter lines it writes, one per queue
	last="queue $(($1 - 1)): packets"
	had=$(grep -c "$last" "$tmp/dpixd.log")
	kill -USR1 "$dpixd"
	for _ in $(seq 50); do
		[ "$(grep -c "$last" "$tmp/dpixd.log")" -gt "$had" ] && break
		sleep 0.1
	done
	grep 'queue [0-9]*: packets' "$tmp/dpixd.log" | tail -n "$1"
}
flows_in_use() { # the flows in use of each queue's table (control socket)
	"$DPIX" stats --socket "$tmp/ctl.sock" --json |
		python3 -c 'import json, sys; print(*(q["active_flows"] for q in json.load(sys.stdin)["queues"]))'
}

# 1. Flow-table pressure: pressure QUEUES 4|6. dpixd on QUEUES queues (the
# printed rules spread new flows over them, --queue-balance), each
# worker's table 512 flows; two waves of 20,000 spoofed new flows over
# IPv4 or IPv6, a TURN download during the second.
pressure() {
	nq=$1 fam=$2
	srv=198.18.2.2 prefix=198.18.1. ct=ipv4
	[ "$fam" = 6 ] && srv=2001:2:0:2::2 prefix=2001:2:0:1:: ct=ipv6
	what="$nq queue(s), IPv$fam"
	e2e_rules --queues "$nq"
	start_dpixd --queues "$nq" --max-flows 512 --control-socket "$tmp/ctl.sock" || {
		bad "$what: dpixd did not start"
		exit 1
	}
	n=$(tls www.example.com small.bin)
	[ "$n" = 10000 ] || bad "$what: warm-up download got '$n'"
	rss0=$(rss)
	sent1=$(e2e_flood "$prefix" "$srv" 10000 1)
	rss1=$(rss)
	# The second wave, with a TURN flow started while it runs.
	e2e_flood "$prefix" "$srv" 20000 1 > "$tmp/flood2.out" &
	fl=$!
	pids="$pids $fl"
	sleep 0.2
	n=$(tls turn-rbx1.openrainbow.com big.bin 15)
	wait "$fl"
	sent2=$(cat "$tmp/flood2.out")
	rss2=$(rss)
	sent=$((sent1 + sent2))
	counters "$nq" > "$tmp/counters.out"
	inuse=$(flows_in_use)
	evicted=$(sed -n 's/.*evicted \([0-9]*\).*/\1/p' "$tmp/counters.out" | tr '\n' ' ')
	received=$(sed -n 's/.*: packets \([0-9]*\).*/\1/p' "$tmp/counters.out" | tr '\n' ' ')
	echo "flood, $what: $sent packets sent; per queue: ${received}queued packets read," \
		"${evicted}evicted, $inuse flows in use; VmRSS ${rss0} kB before," \
		"${rss1} kB after 20,000, ${rss2} kB after 40,000"
	[ "$sent" = 40000 ] && ok "$what: flood sent 40,000 new flows (512-flow tables)" ||
		bad "$what: flood sent '$sent'"
	# Every worker's shard is under pressure and holds its bound; together
	# they evict what the single table evicts.
	total=0 shards=0
	for e in $evicted; do
		total=$((total + e))
		[ "$e" -gt $((4000 / nq)) ] && shards=$((shards + 1))
	done
	[ "$shards" = "$nq" ] && [ "$total" -gt 15000 ] &&
		ok "$what: SIGUSR1 counts $total evicted flows, every queue evicting ($evicted)" ||
		bad "$what: evictions: $(cat "$tmp/counters.out")"
	bounded=0
	for f in $inuse; do [ "$f" -le 512 ] && [ "$f" -gt 0 ] && bounded=$((bounded + 1)); done
	[ "$bounded" = "$nq" ] && ok "$what: flows in use within each table's 512 ($inuse)" ||
		bad "$what: flows in use per queue '$inuse'"
	# The tables are full after the first wave: the second must not grow
	# memory. AddressSanitizer keeps freed blocks in quarantine (up to
	# 256 MiB): there the exit status after SIGTERM (LeakSanitizer) checks
	# memory instead.
	if e2e_asan; then
		echo "note: VmRSS not asserted under AddressSanitizer: $rss0 -> $rss1 -> $rss2 kB"
	elif [ $((rss2 - rss1)) -lt 2048 ] && [ $((rss2 - rss0)) -lt 8192 ]; then
		ok "$what: VmRSS bounded: $rss0 -> $rss1 -> $rss2 kB"
	else
		bad "$what: VmRSS grew: $rss0 -> $rss1 -> $rss2 kB"
	fi
	[ "$n" = 200000 ] && ok "$what: TURN download during the flood complete" ||
		bad "$what: TURN download got '$n'"
	sleep 0.3
	e2e_eve_has turn-rbx1.openrainbow.com bypass && ok "$what: EVE: TURN flow bypassed during the flood" ||
		bad "$what: no EVE bypass record for the TURN flow in the flood"
	inG conntrack -L -f $ct -p tcp --dport 443 2> /dev/null | grep -q "mark=1048576 " &&
		ok "$what: connmark bypass on the TURN flow during the flood" || bad "$what: no bypass connmark"
	n=$(tls www.example.com small.bin)
	[ "$n" = 10000 ] && ok "$what: dpixd serves after the flood" || bad "$what: after the flood got '$n'"
	stop_dpixd "$what, after the flood"
	inG conntrack -F -f ipv4 2> /dev/null
	inG conntrack -F -f ipv6 2> /dev/null
	srv=198.18.2.2
}
pressure 1 4
pressure 2 4
pressure 2 6
e2e_rules # one queue again

# 2. 100 reloads under traffic, good and bad packs in turn.
start_dpixd || bad "dpixd did not start for reloads"
long_start turn-rbx2.openrainbow.com 12
lport=$(long_sport)
mark0=$(bypassed "$lport")
[ "$mark0" = 1048576 ] && ok "long download bypassed (port $lport)" ||
	bad "long download mark '$mark0' (port '$lport')"
: > "$tmp/short.out"
(
	i=0
	while [ ! -e "$tmp/stop" ]; do
		i=$((i + 1))
		if [ $((i % 2)) = 0 ]; then sni=turn-rbx$i.openrainbow.com; else sni=www$i.example.com; fi
		echo "$sni $(tls "$sni" small.bin)" >> "$tmp/short.out"
	done
) &
loop=$!
pids="$pids $loop"
bads=0 goods=0
r0=$(date +%s)
for i in $(seq 1 100); do
	if [ $((i % 2)) = 0 ]; then
		# A good pack, its own version, a set that changes.
		sed "s/^version 1/version $i/; s/blocked.example/blocked$i.example/" \
			"$tmp/good.rules" > "$tmp/pack.rules"
		goods=$((goods + 1))
		want="reloaded the rule packs"
		have=$(grep -c "$want" "$tmp/dpixd.log")
	else
		# Bad packs of several kinds in turn.
		case $((i % 5)) in
		0 | 1) printf 'pack broken\nrule x bypass sni in nowhere\n' ;;
		2) sed 's/^rule turn-tls bypass/rule turn-tls explode/' "$tmp/good.rules" ;;
		3) head -c 150 "$tmp/good.rules" ;;
		4) printf 'pack p\nversion 1\ndomains d {\n\t*.*.\n' ;;
		esac > "$tmp/pack.rules"
		bads=$((bads + 1))
		want="reload refused"
		have=$(grep -c "$want" "$tmp/dpixd.log")
	fi
	kill -HUP "$dpixd"
	# One at a time: signals sent faster than handled would merge.
	for _ in $(seq 100); do
		[ "$(grep -c "$want" "$tmp/dpixd.log")" -gt "$have" ] && break
		sleep 0.02
	done
done
r1=$(date +%s)
sleep 0.5
touch "$tmp/stop"
wait "$loop"
mark1=$(connmark "$lport")
refused=$(grep -c "reload refused" "$tmp/dpixd.log")
reloaded=$(grep -c "reloaded the rule packs" "$tmp/dpixd.log")
shorts=$(wc -l < "$tmp/short.out")
short_bad=$(awk '$2 != 10000' "$tmp/short.out" | wc -l)
echo "reloads: $((r1 - r0)) s; $bads bad sent, $refused refused; $goods good sent, $reloaded loaded;" \
	"$shorts short connections, $short_bad failed"
[ "$refused" = "$bads" ] && ok "all $bads bad packs refused" || bad "$refused of $bads bad packs refused"
[ "$reloaded" = "$goods" ] && ok "all $goods good packs loaded" || bad "$reloaded of $goods loaded"
[ "$shorts" -gt 10 ] && [ "$short_bad" = 0 ] && ok "$shorts short TLS connections during reloads, none failed" ||
	bad "short connections: $short_bad of $shorts failed: $(awk '$2 != 10000' "$tmp/short.out" | head -n 3)"
[ "$mark1" = "$mark0" ] && ok "long download's connmark unchanged by 100 reloads" ||
	bad "long download's connmark went from '$mark0' to '$mark1'"
[ -e /proc/"$dpixd" ] && ok "dpixd alive after 100 reloads" || bad "dpixd died during reloads"
# The last pack (i = 100) is good: a fresh turn name is still bypassed.
n=$(tls turn-rbx7777.openrainbow.com small.bin)
sleep 0.3
e2e_eve_has turn-rbx7777.openrainbow.com bypass && ok "reloaded pack decides after 100 reloads" ||
	bad "no bypass after the reloads"
wait "$long"
[ "$(cat "$tmp/long.out")" = "$long_want" ] && ok "long bypassed download completed across the reloads" ||
	bad "long download got '$(cat "$tmp/long.out")'"
cp "$tmp/good.rules" "$tmp/pack.rules"
stop_dpixd "after 100 reloads"

# 3. kill -9 and restart with a bypassed download running, in each mode.
for mode in open closed; do
	flags=
	[ $mode = closed ] && flags=--fail-closed
	e2e_rules $flags
	inG conntrack -F 2> /dev/null
	start_dpixd $flags || bad "fail-$mode: dpixd did not start"
	long_start turn-rbx3.openrainbow.com 5
	lport=$(long_sport)
	mark0=$(bypassed "$lport")
	[ "$mark0" = 1048576 ] || bad "fail-$mode: long download not bypassed ('$mark0')"
	kill -9 "$dpixd"
	wait "$dpixd" 2> /dev/null
	n=$(tls www.example.org small.bin 2)
	if [ $mode = open ]; then
		[ "$n" = 10000 ] && ok "fail-open, dpixd killed: new flow passes" ||
			bad "fail-open, dpixd killed: new flow got '$n'"
	else
		[ "${n:-0}" = 0 ] && ok "fail-closed, dpixd killed: new flow blocked" ||
			bad "fail-closed, dpixd killed: new flow got '$n'"
	fi
	# Restart: new flows classified again.
	start_dpixd $flags || bad "fail-$mode: dpixd did not restart after kill -9"
	n=$(tls turn-rbx4.openrainbow.com small.bin)
	sleep 0.3
	[ "$n" = 10000 ] && e2e_eve_has turn-rbx4.openrainbow.com bypass &&
		ok "fail-$mode: restarted dpixd classifies new flows" ||
		bad "fail-$mode: after restart got '$n', EVE: $(cat "$tmp/eve.json")"
	wait "$long"
	[ "$(cat "$tmp/long.out")" = "$long_want" ] &&
		[ "$(connmark "$lport")" = "$mark0" ] &&
		ok "fail-$mode: bypassed download completed across kill -9 and restart" ||
		bad "fail-$mode: bypassed download got '$(cat "$tmp/long.out")' across kill -9"
	stop_dpixd "fail-$mode, restarted"
done

# 4. SIGSTOP without supervisor: nothing reads the queue, so new flows
# stall (neither --queue-bypass nor fail-open covers a live, stuck reader),
# while a bypassed flow no longer touches the queue and keeps passing.
e2e_rules
inG conntrack -F 2> /dev/null
start_dpixd || bad "dpixd did not start for SIGSTOP"
long_start turn-rbx5.openrainbow.com 3
lport=$(long_sport)
[ "$(bypassed "$lport")" = 1048576 ] || bad "SIGSTOP: long download not bypassed"
kill -STOP "$dpixd"
t0=$(date +%s)
n=$(tls www.example.net small.bin 2)
[ "${n:-0}" = 0 ] && ok "SIGSTOP, no supervisor: a new flow stalls (nothing in 2 s)" ||
	bad "SIGSTOP: a new flow got '$n' bytes"
wait "$long"
[ "$(cat "$tmp/long.out")" = "$long_want" ] && ok "SIGSTOP: the bypassed download completed ($(($(date +%s) - t0)) s)" ||
	bad "SIGSTOP: bypassed download got '$(cat "$tmp/long.out")'"
kill -CONT "$dpixd"
n=$(tls www.example.net small.bin)
[ "$n" = 10000 ] && ok "SIGCONT: new flows pass again" || bad "after SIGCONT got '$n'"
stop_dpixd "after SIGSTOP and SIGCONT"
cat "$tmp/dpixd.log" >> "$tmp/all.log"
# A sanitizer build (--enable-sanitizers) reports to dpixd's stderr.
grep -q 'Sanitizer\|runtime error:' "$tmp/all.log" && bad "sanitizer report: $(grep -m 3 'Sanitizer\|runtime error:' "$tmp/all.log")" ||
	ok "no sanitizer report in dpixd's logs"

if [ $fails -ne 0 ]; then
	echo "--- dpixd log"
	tail -n 30 "$tmp/dpixd.log"
	exit 1
fi
exit 0
