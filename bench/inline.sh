#!/bin/sh
# inline.sh BUILDDIR OUT: dpixd inline, for bench/run. A client, gateway and
# server namespace joined by veth pairs (as tests/e2e/nfq.sh), and for each
# gateway configuration, RUNS times round-robin:
#   kernel  forwarding only, no rules
#   conntrack  a stateful gateway's least: conntrack matched on every
#           packet (ESTABLISHED,RELATED then NEW accepted), no dpixd rules
#   rules   dpixd's printed rules but no reader (--queue-bypass accepts):
#           the cost of conntrack, the connmark match and the queue rule
#   accept  every TCP/UDP packet through bench/nfq_accept (accept, no mark)
#   dpixd   dpixd --no-supervise with its printed iptables rules and a pack
#           that bypasses the iperf3 and connrate flows once classified
# measures iperf3 TCP bulk (Gbit/s, 1 stream), iperf3 UDP 64-byte payloads
# (-b 0, delivered packets/s; and a fixed offer of UDP_RATE packets/s,
# default 30000, the fraction delivered), new TCP flows/s (bench/connrate, 64 in
# flight, TLS ClientHello first payload), the p50 connect-to-first-byte
# latency (1 in flight), and the round trip of new UDP flows one at a time
# (bench/connrate -u: a STUN request and its echo) with the packets queued
# per flow, for the latency each queued packet adds; and, but for kernel
# and conntrack, new UDP flows under a flood (bench/flowgen: spoofed
# sources, one STUN packet per flow, as fast as one core sends): the
# packets the reader took from the queue per second, which for dpixd (one
# packet decides such a flow) is flows classified per second; under
# "rules" the accept-all reader runs for the flood behind dpixd's rules
# (conntrack, connmark): the bound for dpixd. Appends "config run metric
# value" lines to OUT/inline.tsv. Environment: RUNS (5), SECS (5, per iperf3 run),
# CONFIGS (the configurations, default all five in the order above).
set -u
build=$(cd "$1" && pwd)
out=$2
runs=${RUNS:-5}
configs=${CONFIGS:-kernel conntrack rules accept dpixd}
secs=${SECS:-5}
rate=${UDP_RATE:-30000}
id=$$
C=dpxb-c-$id G=dpxb-g-$id S=dpxb-s-$id
tmp=$(mktemp -d)
pids=
reader=
cleanup() {
	[ -n "$reader" ] && kill -9 "$reader" 2> /dev/null
	for p in $pids; do kill -9 "$p" 2> /dev/null; done
	ip netns del "$C" 2> /dev/null
	ip netns del "$G" 2> /dev/null
	ip netns del "$S" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
inG() { ip netns exec "$G" "$@"; }
inC() { ip netns exec "$C" "$@"; }
log() { echo "inline: $*" >&2; }

# client 198.18.1.2 -- 198.18.1.1 gateway 198.18.2.1 -- 198.18.2.2 server
ip netns add "$C" && ip netns add "$G" && ip netns add "$S" || exit 1
ip link add c0-$id netns "$C" type veth peer name g0-$id netns "$G" || exit 1
ip link add s0-$id netns "$S" type veth peer name g1-$id netns "$G" || exit 1
ip -n "$C" addr add 198.18.1.2/24 dev c0-$id
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
inC sysctl -qw net.ipv4.ip_local_port_range="1024 65000"

ip netns exec "$S" iperf3 -s > /dev/null 2>&1 &
pids="$pids $!"
ip netns exec "$S" "$build/bench/connrate" -s -p 443 > /dev/null 2>&1 &
pids="$pids $!"
# The flood's packets end at the server without an ICMP answer each.
ip netns exec "$S" iptables -A INPUT -p udp --dport 3479 -j DROP
ip netns exec "$S" "$build/bench/connrate" -u -s -p 3478 > /dev/null 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do
	ip netns exec "$S" ss -ltn | grep -q ':5201 ' && ip netns exec "$S" ss -ltn | grep -q ':443 ' && break
	sleep 0.1
done

cat > "$tmp/bench.rules" << 'EOR'
pack    bench
version 1
date    2026-12
source  "bench/inline.sh"
domains bench {
	www.example.com
}
addresses server {
	198.18.2.2
}
rule iperf bypass {
	dst in server
	dport 5201
}
rule tls bypass app tls sni in bench
rule stun bypass app stun
EOR
"$build/dpixd" --config /dev/null --rules "$tmp/bench.rules" --print-rules iptables | grep '^iptables ' > "$tmp/dpixd-rules"
cp "$tmp/dpixd-rules" "$out/dpixd-rules.txt"

flush() {
	for t in raw mangle filter; do
		inG iptables -t $t -F
		inG iptables -t $t -X 2> /dev/null
	done
	inG conntrack -F > /dev/null 2>&1
}
stop_reader() {
	[ -n "$reader" ] || return 0
	kill -TERM "$reader" 2> /dev/null
	wait "$reader" 2> /dev/null
	reader=
}
wait_for() { # FILE TEXT
	for _ in $(seq 50); do
		grep -q "$2" "$1" 2> /dev/null && return 0
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}
setup() { # CONFIG
	flush
	stop_reader
	case $1 in
	kernel) ;;
	conntrack) # a stateful gateway's least: conntrack on every packet
		inG iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
			inG iptables -A FORWARD -m conntrack --ctstate NEW -j ACCEPT || return 1
		;;
	rules) # dpixd's rules, no reader bound: --queue-bypass accepts
		while read -r line; do inG $line || return 1; done < "$tmp/dpixd-rules"
		;;
	accept)
		inG iptables -t mangle -A FORWARD -p tcp -j NFQUEUE --queue-num 0 --queue-bypass
		inG iptables -t mangle -A FORWARD -p udp -j NFQUEUE --queue-num 0 --queue-bypass
		: > "$tmp/reader.log"
		ip netns exec "$G" "$build/bench/nfq_accept" -q 0 > "$tmp/reader.out" 2> "$tmp/reader.log" &
		reader=$!
		wait_for "$tmp/reader.log" "serving queue" || return 1
		;;
	dpixd)
		while read -r line; do inG $line || return 1; done < "$tmp/dpixd-rules"
		: > "$tmp/reader.log"
		ip netns exec "$G" "$build/dpixd" --no-supervise --config /dev/null --control-socket none --rules "$tmp/bench.rules" \
			2> "$tmp/reader.log" &
		reader=$!
		wait_for "$tmp/reader.log" "serving queues" || return 1
		;;
	esac
}
queued() { inG awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue 2> /dev/null; }
rec() { echo "$1	$2	$3	$4" >> "$out/inline.tsv"; }

for r in $(seq "$runs"); do
	for cfg in $configs; do
		setup $cfg || {
			log "$cfg: set-up failed"
			continue
		}
		q0=$(queued)
		inC iperf3 -c 198.18.2.2 -t "$secs" -J > "$tmp/tcp.json" 2> /dev/null
		v=$(python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$tmp/tcp.json" 2> /dev/null) &&
			rec $cfg "$r" tcp_gbps "$v" || log "$cfg: iperf3 TCP failed"
		q1=$(queued)
		inC iperf3 -c 198.18.2.2 -u -l 64 -b 0 -t "$secs" -J > "$tmp/udp.json" 2> /dev/null
		v=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
print("%.0f" % ((s["packets"] - s["lost_packets"]) / s["seconds"]))' "$tmp/udp.json" 2> /dev/null) &&
			rec $cfg "$r" udp64_pps "$v" || log "$cfg: iperf3 UDP failed"
		q2=$(queued)
		inC iperf3 -c 198.18.2.2 -u -l 64 -b $((rate * 512)) -t "$secs" -J > "$tmp/udpf.json" 2> /dev/null
		v=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
print("%.4f" % ((s["packets"] - s["lost_packets"]) / s["packets"]))' "$tmp/udpf.json" 2> /dev/null) &&
			rec $cfg "$r" udp64_fixed_delivered "$v" || log "$cfg: iperf3 UDP fixed rate failed"
		if [ -n "$q0" ]; then
			rec $cfg "$r" queued_tcp $((q1 - q0))
			rec $cfg "$r" queued_udp $((q2 - q1))
			# Queue messages per second while UDP ran: the mechanism's rate.
			rec $cfg "$r" udp_queue_msgs_per_s $(((q2 - q1) / secs))
		fi
		sleep 0.5
		inG conntrack -F > /dev/null 2>&1
		q0=$(queued)
		set -- $(inC "$build/bench/connrate" -c 198.18.2.2 -p 443 -n 64 -t 3)
		[ "${1:-}" = conns ] && rec $cfg "$r" new_flows_per_s "$6" && rec $cfg "$r" conn_failed "${12}" ||
			log "$cfg: connrate failed"
		q1=$(queued)
		[ -n "$q0" ] && [ "${2:-0}" -gt 0 ] 2> /dev/null && rec $cfg "$r" queued_per_flow \
			"$(awk -v q=$((q1 - q0)) -v n="$2" 'BEGIN { printf "%.2f", q / n }')"
		set -- $(inC "$build/bench/connrate" -c 198.18.2.2 -p 443 -n 1 -t 2)
		[ "${1:-}" = conns ] && rec $cfg "$r" first_byte_p50_us "$8" || log "$cfg: latency failed"
		q0=$(queued)
		set -- $(inC "$build/bench/connrate" -u -c 198.18.2.2 -p 3478 -t 2)
		[ "${1:-}" = probes ] && [ "$2" -gt 0 ] && rec $cfg "$r" udp_rtt_p50_us "$4" ||
			log "$cfg: UDP round trips failed"
		q1=$(queued)
		[ -n "$q0" ] && [ "${2:-0}" -gt 0 ] 2> /dev/null && rec $cfg "$r" queued_per_udp_flow \
			"$(awk -v q=$((q1 - q0)) -v n="$2" 'BEGIN { printf "%.2f", q / n }')"
		if [ $cfg != kernel ] && [ $cfg != conntrack ]; then
			# Under the rules configuration the accept-all reader
			# reads behind dpixd's own rules (conntrack and the
			# connmark as for dpixd): the bound for dpixd's rate.
			if [ $cfg = rules ]; then
				: > "$tmp/reader.log"
				ip netns exec "$G" "$build/bench/nfq_accept" -q 0 > /dev/null 2> "$tmp/reader.log" &
				reader=$!
				wait_for "$tmp/reader.log" "serving queue" || log "rules: no reader for the flood"
			fi
			inG conntrack -F > /dev/null 2>&1
			q0=$(queued)
			set -- $(inC "$build/bench/flowgen" -s 198.18.1.100 -n 64 -d 198.18.2.2 -p 3479 -t "$secs")
			q1=$(queued)
			[ "${1:-}" = sent ] && [ -n "$q0" ] && rec $cfg "$r" flood_sent_per_s "$6" &&
				rec $cfg "$r" flood_queued_per_s "$(awk -v q=$((q1 - q0)) -v t="$4" 'BEGIN { printf "%.0f", q / t }')" ||
				log "$cfg: flood failed"
			[ $cfg = rules ] && stop_reader
		fi
		inG conntrack -F > /dev/null 2>&1
		log "$cfg run $r done"
	done
done
stop_reader
flush
