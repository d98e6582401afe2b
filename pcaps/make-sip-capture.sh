#!/usr/bin/env bash
#
# make-sip-capture.sh - (re)make pcaps/sip-rainbow-hub.pcap, the capture the
# SIP plugin is tested on (tests/plugin/run.sh).
#
# What it holds, in this order, all real traffic between real programs:
#   1. sipp (uac) -> sipp (uas), UDP 5060: INVITE, 100, 180, 200, ACK, BYE, 200
#   2. the same call over TCP 5060
#   3. openssl s_client -> s_server, TCP 5061 (SIP over TLS, as Rainbow Hub desk
#      phones reach the Rainbow Cloud PBX, seed 001 section 4.7), SNI
#      pbx.example.com
#   4. the same TLS handshake to port 443: plain TLS, not SIP
#
# How: two private network namespaces joined by one veth pair, documentation
# addresses only (RFC 5737), no route anywhere else:
#
#   dpixsip-client 192.0.2.2 [c0] ---- [s0] 192.0.2.10 dpixsip-server
#                                           sipp uas udp+tcp :5060,
#                                           s_server :5061 and :443
#
# tcpdump runs on c0 (filter host 192.0.2.2); offloads are off, so segments
# are wire-sized with correct checksums. Needs root; installs sip-tester
# (sipp), tcpdump, openssl, iproute2, ethtool if missing. Everything it
# starts is stopped and the namespaces removed on exit, failure included.
# The file is replaced only when the capture holds the four flows.
set -euo pipefail

[[ ${EUID:-$(id -u)} -eq 0 ]] || { echo "make-sip-capture.sh: run as root: sudo $0" >&2; exit 1; }

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sip-rainbow-hub.pcap
NS_C=dpixsip-client
NS_S=dpixsip-server
C_IP=192.0.2.2
S_IP=192.0.2.10
SNI=pbx.example.com
T=""
PIDS=()
TCPDUMP_PID=""

log() { printf '==> %s\n' "$*"; }
in_c() { ip netns exec "$NS_C" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

ensure_pkgs() {
	local missing=() pair
	for pair in sipp:sip-tester tcpdump:tcpdump openssl:openssl ip:iproute2 ethtool:ethtool; do
		command -v "${pair%%:*}" > /dev/null 2>&1 || missing+=("${pair#*:}")
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null; }
	fi
}

kill_wait() { # pid [signal]
	local pid=$1 sig=${2:-TERM}
	kill -0 "$pid" 2> /dev/null || return 0
	kill -"$sig" "$pid" 2> /dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
}

teardown() {
	local rc=$? pid ns
	trap - EXIT INT TERM
	set +e
	[[ -n $TCPDUMP_PID ]] && kill_wait "$TCPDUMP_PID" INT
	for pid in "${PIDS[@]}"; do kill_wait "$pid"; done
	for ns in "$NS_C" "$NS_S"; do
		if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
			for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -KILL "$pid" 2> /dev/null; done
			ip netns del "$ns"
		fi
	done
	[[ -n $T && -d $T ]] && rm -rf "$T"
	((rc == 0)) || echo "make-sip-capture.sh: FAILED (exit $rc), everything torn down" >&2
	exit "$rc"
}

wait_listen() { # ns t|u addr:port
	for _ in $(seq 100); do
		ip netns exec "$1" ss -"$2"lnH 2> /dev/null | awk '{print $4}' | grep -qx "$3" && return 0
		sleep 0.1
	done
	echo "make-sip-capture.sh: nothing listening on $3 ($2) in $1" >&2
	return 1
}

ensure_pkgs
trap teardown EXIT INT TERM
T=$(mktemp -d)

log "namespaces $NS_C and $NS_S"
for ns in "$NS_C" "$NS_S"; do
	ip netns add "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$ns" ip link set lo up
done
ip link add c0 netns "$NS_C" type veth peer name s0 netns "$NS_S"
in_c ip addr add "$C_IP/24" dev c0
in_s ip addr add "$S_IP/24" dev s0
in_c ethtool -K c0 tx off rx off tso off gso off gro off > /dev/null 2>&1 || true
in_s ethtool -K s0 tx off rx off tso off gso off gro off > /dev/null 2>&1 || true
in_c ip link set c0 up
in_s ip link set s0 up

log "servers: sipp uas (UDP, TCP) :5060, openssl s_server :5061 and :443"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/key.pem" \
	-out "$T/cert.pem" -days 2 -subj "/CN=$SNI" -addext "subjectAltName=DNS:$SNI" 2> /dev/null
for transport in u1 t1; do
	(cd "$T" && exec ip netns exec "$NS_S" sipp -sn uas -t "$transport" -i "$S_IP" -p 5060 \
		-nostdin > "$T/uas-$transport.log" 2>&1) &
	PIDS+=($!)
done
for port in 5061 443; do
	in_s openssl s_server -quiet -www -accept "$S_IP:$port" -cert "$T/cert.pem" -key "$T/key.pem" \
		> /dev/null 2>&1 &
	PIDS+=($!)
done
wait_listen "$NS_S" u "$S_IP:5060"
wait_listen "$NS_S" t "$S_IP:5060"
wait_listen "$NS_S" t "$S_IP:5061"
wait_listen "$NS_S" t "$S_IP:443"

log "capturing on c0"
in_c tcpdump -i c0 -U -s 0 -w "$T/sip.pcap" "host $C_IP and (tcp or udp)" > "$T/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
for _ in $(seq 50); do grep -q listening "$T/tcpdump.log" && break; sleep 0.1; done

log "1: SIP call over UDP"
(cd "$T" && in_c timeout 20 sipp -sn uac -i "$C_IP" -p 5070 -m 1 -s 1001 "$S_IP:5060" > /dev/null 2>&1)
sleep 0.5
log "2: SIP call over TCP"
(cd "$T" && in_c timeout 20 sipp -sn uac -t t1 -i "$C_IP" -p 5071 -m 1 -s 1001 "$S_IP:5060" > /dev/null 2>&1)
sleep 0.5
for port in 5061 443; do
	log "TLS to $port, SNI $SNI"
	printf 'GET / HTTP/1.0\r\n\r\n' |
		in_c timeout 10 openssl s_client -quiet -connect "$S_IP:$port" -servername "$SNI" \
			-CAfile "$T/cert.pem" > /dev/null 2>&1 || true
	sleep 0.5
done
sleep 0.5
kill_wait "$TCPDUMP_PID" INT
TCPDUMP_PID=""

# Four flows: two SIP calls, two TLS handshakes.
n=$(tcpdump -nr "$T/sip.pcap" 2> /dev/null | wc -l)
for want in "udp dst port 5060" "tcp dst port 5060 and tcp[tcpflags] & tcp-syn != 0" \
	"tcp dst port 5061 and tcp[tcpflags] & tcp-syn != 0" "tcp dst port 443 and tcp[tcpflags] & tcp-syn != 0" \
	"udp src port 5060" "tcp src port 5060 and tcp[tcpflags] & tcp-push != 0"; do
	[[ $(tcpdump -nr "$T/sip.pcap" "$want" 2> /dev/null | wc -l) -gt 0 ]] ||
		{ echo "make-sip-capture.sh: the capture has no packet for '$want'" >&2; exit 1; }
done
cp "$T/sip.pcap" "$OUT"
log "wrote $OUT ($n packets)"
