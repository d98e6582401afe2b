#!/bin/sh
# proxy.sh BUILDDIR OUT: dpixd's CONNECT forwarder against squid, tinyproxy
# and haproxy, for bench/run. A client, proxy and server namespace joined by
# veth pairs (as tests/e2e/proxy.sh); bench/tunnels serves in the server
# namespace (zeros, 4 bytes then close, hold) and is the client. For each
# proxy, RUNS times round-robin, the proxy freshly started each time:
#   idle   RSS of the proxy's processes idle, then with IDLE (10000) idle
#          tunnels open (bytes per tunnel = the difference / tunnels open)
#   bulk   Gbit/s through 1 tunnel and through 100 in parallel, SECS each
#   rate   tunnels opened per second, 50 in flight (CONNECT, 200, 4 bytes,
#          EOF, close), SECS
# and for bulk and rate the proxy's CPU time (utime + stime of its
# processes): seconds per GB relayed, microseconds per tunnel.
# dpixd: --queues 0 --proxy-listen, a pack whitelisting the target name.
# squid: squid -N, no cache, no access log. tinyproxy: -d, MaxClients
# IDLE+1000. haproxy: mode tcp, one frontend per server port, no CONNECT
# (it cannot forward-proxy): the raw relay ceiling, its client sends no
# CONNECT. Appends "proxy run metric value" lines to OUT/proxy.tsv and the
# configurations to OUT/proxy-configs.txt. Environment: RUNS (5), SECS (5),
# IDLE (10000), PROXIES ("dpixd squid tinyproxy haproxy").
set -u
build=$(cd "$1" && pwd)
out=$2
runs=${RUNS:-5}
secs=${SECS:-5}
idle=${IDLE:-10000}
proxies=${PROXIES:-dpixd squid tinyproxy haproxy}
id=$$
C=dpxpb-c-$id P=dpxpb-p-$id S=dpxpb-s-$id
tmp=$(mktemp -d)
chmod 777 "$tmp"
pids=
px=
cleanup() {
	[ -n "$px" ] && kill -9 "$px" 2> /dev/null
	for p in $pids; do kill -9 "$p" 2> /dev/null; done
	[ -f "$tmp/squid.pid" ] && kill -9 "$(cat "$tmp/squid.pid")" 2> /dev/null
	ip netns del "$C" 2> /dev/null
	ip netns del "$P" 2> /dev/null
	ip netns del "$S" 2> /dev/null
	rm -rf "/etc/netns/$P" "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
log() { echo "proxy: $*" >&2; }
inP() { ip netns exec "$P" "$@"; }
inC() { ip netns exec "$C" "$@"; }
ulimit -n 200000 2> /dev/null || ulimit -n "$(ulimit -Hn)" 2> /dev/null
# dpixd holds 2 descriptors per idle tunnel (its sockets) and clamps
# --proxy-max-tunnels to (open files limit - 64) / 2: ask for no more idle
# tunnels than that allows (the other proxies get the same number).
nofile=$(ulimit -n)
fit=$(((nofile - 64) / 2 - 100))
if [ "$idle" -gt "$fit" ]; then
	log "open files limit $nofile (hard $(ulimit -Hn)): $fit idle tunnels, not $idle"
	echo "$idle $fit $nofile $(ulimit -Hn)" > "$out/proxy-idle-clamped.txt"
	idle=$fit
fi

# client 198.18.1.2 -- 198.18.1.1 proxy 198.18.2.1 -- 198.18.2.2 server
# (198.18.0.0/15: the forwarder's guard treats it as public)
ip netns add "$C" && ip netns add "$P" && ip netns add "$S" || exit 1
ip link add c0-$id netns "$C" type veth peer name p0-$id netns "$P" || exit 1
ip link add s0-$id netns "$S" type veth peer name p1-$id netns "$P" || exit 1
ip -n "$C" addr add 198.18.1.2/24 dev c0-$id
ip -n "$P" addr add 198.18.1.1/24 dev p0-$id
ip -n "$P" addr add 198.18.2.1/24 dev p1-$id
ip -n "$S" addr add 198.18.2.2/24 dev s0-$id
for ns in "$C" "$P" "$S"; do
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
	ip netns exec "$ns" sysctl -qw net.core.somaxconn=4096
done
ip -n "$C" link set c0-$id up
ip -n "$P" link set p0-$id up
ip -n "$P" link set p1-$id up
ip -n "$S" link set s0-$id up
mkdir -p "/etc/netns/$P"
printf '127.0.0.1 localhost\n198.18.2.2 bench.example\n' > "/etc/netns/$P/hosts"

ip netns exec "$S" "$build/bench/tunnels" -s -p 5001 2> /dev/null &
pids="$pids $!"

cat > "$tmp/bench.rules" << 'EOF'
pack    proxybench
version 1
date    2026-12
source  "bench/proxy.sh"
domains bench {
	bench.example
}
rule bench bypass connect in bench connect-port 5001,5002,5003
EOF
cat > "$tmp/squid.conf" << EOF
http_port 198.18.1.1:3129
http_access allow all
cache deny all
cache_mem 0 MB
pid_filename $tmp/squid.pid
access_log none
cache_log $tmp/squid-cache.log
coredump_dir $tmp
dns_nameservers 127.0.0.1
max_filedescriptors 65536
shutdown_lifetime 0 seconds
EOF
cat > "$tmp/tinyproxy.conf" << EOF
User nobody
Group nogroup
Port 3130
Listen 198.18.1.1
Timeout 600
MaxClients $((idle + 1000))
ConnectPort 5001
ConnectPort 5002
ConnectPort 5003
LogLevel Critical
PidFile "$tmp/tinyproxy.pid"
EOF
cat > "$tmp/haproxy.cfg" << EOF
global
	maxconn $((idle + 50))
defaults
	mode tcp
	timeout connect 5s
	timeout client 600s
	timeout server 600s
listen bulk
	bind 198.18.1.1:4001
	server s 198.18.2.2:5001
listen short
	bind 198.18.1.1:4002
	server s 198.18.2.2:5002
listen hold
	bind 198.18.1.1:4003
	server s 198.18.2.2:5003
EOF
{
	for f in bench.rules squid.conf tinyproxy.conf haproxy.cfg; do
		echo "## $f"
		sed "s|$tmp|\$tmp|g" "$tmp/$f"
		echo
	done
	echo "## command lines"
	echo "dpixd --no-supervise --config /dev/null --control-socket none --queues 0 --rules bench.rules --proxy-listen 198.18.1.1:3128 --proxy-max-tunnels $((idle + 1000))"
	echo "squid -N -f squid.conf"
	echo "tinyproxy -d -c tinyproxy.conf"
	echo "haproxy -db -f haproxy.cfg"
	echo "ulimit -n: $(ulimit -n)"
} > "$out/proxy-configs.txt"
{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "dpix:     $(git -C "$(dirname "$0")" describe --always --dirty 2> /dev/null || echo unknown)"
	for p in squid-openssl haproxy tinyproxy linux-perf; do
		echo "package:  $p $(dpkg-query -W -f='${Version}' $p 2> /dev/null || echo '?')"
	done
	echo "settings: RUNS=$runs SECS=$secs IDLE=$idle"
} > "$out/proxy-info.txt"

start() { # PROXY: start it, set px (its pid) and the client's arguments
	case $1 in
	dpixd)
		ip netns exec "$P" "$build/dpixd" --no-supervise --config /dev/null --control-socket none --queues 0 \
			--rules "$tmp/bench.rules" --proxy-listen 198.18.1.1:3128 --proxy-max-tunnels $((idle + 1000)) \
			2> "$tmp/dpixd.log" &
		px=$! port=3128
		;;
	squid)
		rm -f "$tmp/squid.pid"
		ip netns exec "$P" squid -N -f "$tmp/squid.conf" > /dev/null 2>&1 &
		px=$! port=3129
		;;
	tinyproxy)
		ip netns exec "$P" tinyproxy -d -c "$tmp/tinyproxy.conf" > /dev/null 2>&1 &
		px=$! port=3130
		;;
	haproxy)
		ip netns exec "$P" haproxy -db -f "$tmp/haproxy.cfg" > "$tmp/haproxy.log" 2>&1 &
		px=$! port=4001
		;;
	esac
	for _ in $(seq 100); do
		inP ss -ltn | grep -q "198.18.1.1:$port " && break
		sleep 0.1
	done
	sleep 0.5
	inP ss -ltn | grep -q "198.18.1.1:$port " || return 1
}
stop() {
	[ -n "$px" ] || return 0
	kill -TERM "$px" 2> /dev/null
	for _ in $(seq 50); do kill -0 "$px" 2> /dev/null || break; sleep 0.1; done
	kill -9 "$px" 2> /dev/null
	wait "$px" 2> /dev/null
	px=
}
rss_tree() { # PID: VmRSS in KiB of it and its descendants
	t=0
	for p in $1 $(pgrep -P "$1"); do
		for q in $p $(pgrep -P "$p"); do
			v=$(awk '/^VmRSS:/ { print $2 }' /proc/$q/status 2> /dev/null)
			t=$((t + ${v:-0}))
		done
	done
	echo $t
}
# The client for proxy $1, mode and the server port (5001 bulk, 5002 short,
# 5003 hold): through CONNECT, or for haproxy straight to its frontend.
client() { # PROXY SERVERPORT ARGS...
	p=$1 sp=$2
	shift 2
	if [ "$p" = haproxy ]; then
		inC "$build/bench/tunnels" -D -x 198.18.1.1:$((sp - 1000)) "$@"
	else
		inC "$build/bench/tunnels" -x 198.18.1.1:$port -T bench.example:$sp "$@"
	fi
}
cpu_tree() { # PID: user + system clock ticks of it and its descendants
	t=0
	for p in $1 $(pgrep -P "$1"); do
		for q in $p $(pgrep -P "$p"); do
			v=$(awk '{ print $14 + $15 }' /proc/$q/stat 2> /dev/null)
			t=$((t + ${v:-0}))
		done
	done
	echo $t
}
hz=$(getconf CLK_TCK)
rec() { echo "$1	$2	$3	$4" >> "$out/proxy.tsv"; }

for r in $(seq "$runs"); do
	for p in $proxies; do
		command -v "$p" > /dev/null || [ "$p" = dpixd ] || {
			log "$p is not installed"
			continue
		}
		start "$p" || {
			log "$p: did not start"
			stop
			continue
		}
		# idle tunnels: the client holds them until its stdin closes
		base=$(rss_tree "$px")
		mkfifo "$tmp/hold"
		client "$p" 5003 -m idle -n "$idle" < "$tmp/hold" > "$tmp/idle.out" &
		cl=$!
		exec 9> "$tmp/hold"
		for _ in $(seq 900); do
			[ -s "$tmp/idle.out" ] && break
			sleep 0.1
		done
		sleep 1
		full=$(rss_tree "$px")
		set -- $(cat "$tmp/idle.out")
		if [ "${1:-}" = ready ] && [ "$2" -gt 0 ]; then
			rec "$p" "$r" idle_open "$2"
			rec "$p" "$r" idle_failed "$4"
			rec "$p" "$r" rss_base_kib "$base"
			rec "$p" "$r" rss_idle_kib "$full"
			rec "$p" "$r" bytes_per_tunnel $(((full - base) * 1024 / $2))
		else
			log "$p: idle tunnels failed: $(cat "$tmp/idle.out")"
		fi
		exec 9>&-
		wait "$cl"
		rm -f "$tmp/hold" "$tmp/idle.out"
		sleep 1
		for n in 1 100; do
			# The first run's bulk transfers under perf (system-wide):
			# where the two CPUs go, by command and by symbol.
			prof=
			if [ "$r" = 1 ] && [ "${PROFILE:-1}" = 1 ] && command -v perf > /dev/null; then
				perf record -q -a -o "$tmp/perf.data" -- sleep "$secs" > /dev/null 2>&1 &
				prof=$!
			fi
			c0=$(cpu_tree "$px")
			set -- $(client "$p" 5001 -m bulk -n $n -t "$secs")
			c1=$(cpu_tree "$px")
			# the proxy's CPU seconds per GB relayed (the client's seconds
			# and rate: a bound on the proxy, not on the endpoints)
			[ "${1:-}" = gbps ] && rec "$p" "$r" bulk${n}_cpu_s_per_gb \
				"$(awk -v c=$((c1 - c0)) -v hz="$hz" -v g="$2" -v s="$secs" 'BEGIN { printf "%.4f", (g > 0 ? c / hz / (g * s / 8) : 0) }')"
			if [ -n "$prof" ]; then
				wait "$prof"
				{
					echo "# perf record -a during bulk $n through $p: by command"
					perf report -i "$tmp/perf.data" --sort comm --stdio 2> /dev/null | grep -v '^#' | grep . | head -8
					echo "# by symbol (all commands)"
					perf report -i "$tmp/perf.data" --sort comm,sym --stdio 2> /dev/null | grep -v '^#' | grep . | head -15
				} > "$out/proxy-profile-$p-bulk$n.txt"
			fi
			[ "${1:-}" = gbps ] && rec "$p" "$r" bulk${n}_gbps "$2" && rec "$p" "$r" bulk${n}_failed "$6" ||
				log "$p: bulk $n failed"
		done
		prof=
		if [ "$r" = 1 ] && [ "${PROFILE:-1}" = 1 ] && command -v perf > /dev/null; then
			perf record -q -g -p "$px" -o "$tmp/perf.data" -- sleep "$secs" > /dev/null 2>&1 &
			prof=$!
		fi
		c0=$(cpu_tree "$px")
		set -- $(client "$p" 5002 -m rate -n 50 -t "$secs")
		c1=$(cpu_tree "$px")
		if [ -n "$prof" ]; then
			wait "$prof"
			{
				echo "# perf record -g -p (the proxy only) while opening tunnels through $p: by symbol, self"
				perf report -i "$tmp/perf.data" --no-children --sort sym --stdio -g none 2> /dev/null | grep -v '^#' | grep . | head -25
			} > "$out/proxy-profile-$p-rate.txt"
		fi
		[ "${1:-}" = tunnels_per_s ] && [ "$4" -gt 0 ] && rec "$p" "$r" cpu_us_per_tunnel \
			"$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$4" 'BEGIN { printf "%.1f", c / hz * 1e6 / n }')"
		[ "${1:-}" = tunnels_per_s ] && rec "$p" "$r" tunnels_per_s "$2" && rec "$p" "$r" rate_failed "$6" ||
			log "$p: rate failed"
		stop
		log "$p run $r done"
	done
done
