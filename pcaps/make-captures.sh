#!/usr/bin/env bash
#
# make-captures.sh - (re)make the pcap test inputs for `dpix replay`.
#
# What it makes (in the directory this script lives in):
#   connect-squid-turn.pcap  curl -> squid CONNECT turn-rbx1.openrainbow.com:443, TLS in tunnel
#   connect-tinyproxy.pcap   curl -> tinyproxy CONNECT web.openrainbow.com:443, TLS in tunnel
#   connect-denied.pcap      curl -> squid CONNECT www.example.com:443, refused with 403
#   connect-split.pcap       python3 -> squid, CONNECT turn-rbx2.openrainbow.com:443 written
#                            in 3 TCP segments, then a TLS handshake in the tunnel
#   tls-sni.pcap             openssl s_client -> s_server, TLS 1.3, SNI web.openrainbow.com
#   tls-sni-other.pcap       openssl s_client -> s_server, TLS 1.2, SNI www.example.com
#   http-get.pcap            curl -> python3 http.server, GET / with Host: www.example.com
#   tls-big-hello.pcap       openssl s_client (MTU 576, ffdhe3072 key share), TLS 1.3,
#                            SNI turn-gra1.openrainbow.com; ClientHello spans >= 2 segments
#   udp-dns.pcap             one DNS-format query (python3) to a socat UDP echo on port 53
#
# How: everything is real traffic between real programs (curl, squid, tinyproxy,
# openssl s_client/s_server, python3, socat) running in three private network
# namespaces wired with two veth pairs; the proxy namespace also routes:
#
#   dpixcap-client            dpixcap-proxy                      dpixcap-server
#   192.0.2.2/24  [c0]----[p0] 192.0.2.1/24
#                               198.51.100.1/24 [p1]----[s0]  198.51.100.2/24
#                               squid :3128, tinyproxy :8888     s_server :443,
#                                                                http.server :80, socat udp :53
#
# Only documentation address ranges are used and no namespace has a route to
# anywhere else.  Host names resolve via /etc/netns/<ns>/hosts to the server.
# Each capture is taken with tcpdump on c0 in the client namespace (the
# client <-> proxy link, or the client's first hop for direct flows).
# Checksum/segmentation offloads are switched off on the veths so the files
# hold real wire-sized packets with correct checksums.
#
# Usage: sudo pcaps/make-captures.sh      (Debian; idempotent, ~15 s)
# The files are replaced only when all nine captures were made and verified.
# Everything (daemons, namespaces, /etc/netns entries, temp dir) is removed
# on exit, also on failure or interruption.

set -euo pipefail

if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
    echo "make-captures.sh: must be run as root (it creates network namespaces): sudo $0" >&2
    exit 1
fi

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

NS_C=dpixcap-client
NS_P=dpixcap-proxy
NS_S=dpixcap-server
ALL_NS=("$NS_C" "$NS_P" "$NS_S")

C_IP=192.0.2.2        # client
P_IP_C=192.0.2.1      # proxy, client side
P_IP_S=198.51.100.1   # proxy, server side
S_IP=198.51.100.2     # server
SQUID_PORT=3128
TINY_PORT=8888

SERVER_NAMES="turn-rbx1.openrainbow.com turn-rbx2.openrainbow.com turn-gra1.openrainbow.com web.openrainbow.com www.example.com"

T=""                 # temp dir
PIDS=()              # daemons we started
TCPDUMP_PID=""
CREATED_ETC_NETNS=0

log() { printf '==> %s\n' "$*"; }
die() { printf 'make-captures.sh: %s\n' "$*" >&2; exit 1; }

# (background daemons are started with a plain "ip netns exec" so that $! is their pid)
in_c() { ip netns exec "$NS_C" "$@"; }
in_p() { ip netns exec "$NS_P" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

# ---------------------------------------------------------------- packages

ensure_pkgs() {
    local missing=() cmd pkg
    for pair in ip:iproute2 tcpdump:tcpdump squid:squid tinyproxy:tinyproxy \
                curl:curl openssl:openssl socat:socat ethtool:ethtool python3:python3 ss:iproute2; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing missing packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
            { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; }
    fi
}

# ---------------------------------------------------------------- setup / teardown

kill_wait() {   # pid [signal]
    local pid=$1 sig=${2:-TERM}
    kill -0 "$pid" 2>/dev/null || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

remove_namespaces() {
    local ns pid
    for ns in "${ALL_NS[@]}"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            # anything still running inside our own namespaces was started by us
            for pid in $(ip netns pids "$ns" 2>/dev/null); do
                kill -KILL "$pid" 2>/dev/null || true
            done
            ip netns del "$ns" 2>/dev/null || true
        fi
        rm -rf "/etc/netns/$ns"
    done
    if ((CREATED_ETC_NETNS)); then rmdir /etc/netns 2>/dev/null || true; fi
}

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n $TCPDUMP_PID ]] && kill_wait "$TCPDUMP_PID" INT
    local pid
    for pid in "${PIDS[@]}"; do kill_wait "$pid" TERM; done
    remove_namespaces
    [[ -n $T && -d $T ]] && rm -rf "$T"
    if ((rc != 0)); then echo "make-captures.sh: FAILED (exit $rc), everything torn down" >&2; fi
    exit "$rc"
}

wait_listen() {   # ns proto(t|u) addr:port
    local ns=$1 proto=$2 ep=$3
    for _ in $(seq 100); do
        ip netns exec "$ns" ss -"${proto}"lnH 2>/dev/null | awk '{print $4}' | grep -qx "$ep" && return 0
        sleep 0.1
    done
    echo "make-captures.sh: nothing listening on $ep ($proto) in $ns" >&2
    return 1
}

setup_net() {
    log "creating namespaces ${ALL_NS[*]}"
    local ns
    for ns in "${ALL_NS[@]}"; do
        ip netns add "$ns"
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip netns exec "$ns" ip link set lo up
    done
    ip link add c0 netns "$NS_C" type veth peer name p0 netns "$NS_P"
    ip link add p1 netns "$NS_P" type veth peer name s0 netns "$NS_S"

    in_c ip addr add "$C_IP/24" dev c0
    in_p ip addr add "$P_IP_C/24" dev p0
    in_p ip addr add "$P_IP_S/24" dev p1
    in_s ip addr add "$S_IP/24" dev s0

    # no offloads: real MTU-sized segments and correct checksums in the captures
    in_c ethtool -K c0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    in_p ethtool -K p0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    in_p ethtool -K p1 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    in_s ethtool -K s0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true

    in_c ip link set c0 up
    in_p ip link set p0 up
    in_p ip link set p1 up
    in_s ip link set s0 up

    in_p sysctl -qw net.ipv4.ip_forward=1
    in_c ip route add 198.51.100.0/24 via "$P_IP_C"
    in_s ip route add 192.0.2.0/24 via "$P_IP_S"

    # name resolution inside the namespaces (bind-mounted over /etc by ip netns exec)
    [[ -d /etc/netns ]] || CREATED_ETC_NETNS=1
    for ns in "$NS_C" "$NS_P"; do
        mkdir -p "/etc/netns/$ns"
        printf '127.0.0.1 localhost\n%s %s\n' "$S_IP" "$SERVER_NAMES" >"/etc/netns/$ns/hosts"
        printf 'nameserver 127.0.0.1\n' >"/etc/netns/$ns/resolv.conf"
    done
    mkdir -p "/etc/netns/$NS_S"
    printf '127.0.0.1 localhost\n' >"/etc/netns/$NS_S/hosts"
    printf 'nameserver 127.0.0.1\n' >"/etc/netns/$NS_S/resolv.conf"
}

start_servers() {
    log "starting s_server, http.server, squid, tinyproxy"
    mkdir -p "$T/www" "$T/tls" "$T/squid" "$T/tinyproxy"
    printf 'hello from dpixcap\n' >"$T/www/index.html"

    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" -days 2 \
        -subj /CN=dpixcap-server -addext "subjectAltName=DNS:*.openrainbow.com,DNS:www.example.com" \
        2>/dev/null

    # TLS server: answers "GET /" with its status page (-www), one connection at a time
    ip netns exec "$NS_S" openssl s_server -accept "$S_IP:443" -cert "$T/tls/cert.pem" -key "$T/tls/key.pem" \
        -www >"$T/s_server.log" 2>&1 </dev/null &
    PIDS+=($!)

    # plain HTTP server
    ip netns exec "$NS_S" python3 -m http.server 80 --bind "$S_IP" --directory "$T/www" \
        >"$T/http.log" 2>&1 </dev/null &
    PIDS+=($!)

    # UDP echo on port 53
    ip netns exec "$NS_S" socat UDP4-RECVFROM:53,bind="$S_IP",fork PIPE >"$T/socat.log" 2>&1 </dev/null &
    PIDS+=($!)

    # squid: private config/pid/logs, memory only, CONNECT to *.openrainbow.com:443 only
    cat >"$T/squid/squid.conf" <<EOF
http_port $P_IP_C:$SQUID_PORT
visible_hostname dpixcap-proxy
pid_filename $T/squid/squid.pid
access_log stdio:$T/squid/access.log
cache_log $T/squid/cache.log
cache_store_log none
coredump_dir $T/squid
cache deny all
cache_mem 8 MB
pinger_enable off
shutdown_lifetime 0 seconds
hosts_file /etc/hosts
dns_nameservers 127.0.0.1
cache_effective_user proxy

acl clientnet src 192.0.2.0/24
acl SSL_ports port 443
acl CONNECT method CONNECT
acl rainbow dstdomain .openrainbow.com
http_access deny CONNECT !SSL_ports
http_access allow clientnet CONNECT rainbow
http_access deny all
EOF
    chmod 755 "$T"
    chown -R proxy:proxy "$T/squid"
    ip netns exec "$NS_P" squid -N -f "$T/squid/squid.conf" >"$T/squid/stdout.log" 2>&1 </dev/null &
    PIDS+=($!)

    # tinyproxy: private config/pid/log
    cat >"$T/tinyproxy/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $TINY_PORT
Listen $P_IP_C
Timeout 30
PidFile "$T/tinyproxy/tinyproxy.pid"
LogFile "$T/tinyproxy/tinyproxy.log"
LogLevel Info
MaxClients 10
Allow 192.0.2.0/24
ConnectPort 443
DisableViaHeader Yes
EOF
    chown -R nobody:nogroup "$T/tinyproxy"
    ip netns exec "$NS_P" tinyproxy -d -c "$T/tinyproxy/tinyproxy.conf" >"$T/tinyproxy/stdout.log" 2>&1 </dev/null &
    PIDS+=($!)

    wait_listen "$NS_S" t "$S_IP:443" || die "s_server: $(cat "$T/s_server.log")"
    wait_listen "$NS_S" t "$S_IP:80" || die "http.server: $(cat "$T/http.log")"
    wait_listen "$NS_S" u "$S_IP:53" || die "socat: $(cat "$T/socat.log")"
    wait_listen "$NS_P" t "$P_IP_C:$SQUID_PORT" ||
        die "squid: $(cat "$T/squid/stdout.log" "$T/squid/cache.log" 2>/dev/null)"
    wait_listen "$NS_P" t "$P_IP_C:$TINY_PORT" ||
        die "tinyproxy: $(cat "$T/tinyproxy/stdout.log" "$T/tinyproxy/tinyproxy.log" 2>/dev/null)"
    in_c timeout 5 bash -c "exec 3<>/dev/tcp/$S_IP/80" || die "routing client -> server does not work"
}

# ---------------------------------------------------------------- capture helpers

CUR_FILE=""
cap_start() {   # file.pcap
    CUR_FILE=$1
    rm -f "$T/$CUR_FILE" "$T/tcpdump.log"
    ip netns exec "$NS_C" tcpdump -i c0 -nn -U --immediate-mode -Z root -w "$T/$CUR_FILE" "host $C_IP and (tcp or udp)" \
        2>"$T/tcpdump.log" </dev/null &
    TCPDUMP_PID=$!

    for _ in $(seq 100); do
        grep -q 'listening on' "$T/tcpdump.log" 2>/dev/null && return 0
        sleep 0.05
    done
    die "tcpdump did not start: $(cat "$T/tcpdump.log")"
}

cap_stop() {
    sleep 0.5                       # let the last FIN/ACKs pass
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=""
    mv -f "$T/$CUR_FILE" "$T/out/$CUR_FILE"
    chmod 644 "$T/out/$CUR_FILE"
    log "captured $CUR_FILE"
}

# ---------------------------------------------------------------- the captures

cap_connect_squid_turn() {
    cap_start connect-squid-turn.pcap
    in_c timeout 15 curl -sS -k -p -x "http://$P_IP_C:$SQUID_PORT" \
        -o /dev/null https://turn-rbx1.openrainbow.com/
    cap_stop
}

cap_connect_tinyproxy() {
    cap_start connect-tinyproxy.pcap
    in_c timeout 15 curl -sS -k -p -x "http://$P_IP_C:$TINY_PORT" \
        -o /dev/null https://web.openrainbow.com/
    cap_stop
}

cap_connect_denied() {
    cap_start connect-denied.pcap
    local rc=0
    in_c timeout 15 curl -sS -k -p -x "http://$P_IP_C:$SQUID_PORT" \
        -o /dev/null https://www.example.com/ 2>"$T/curl-denied.err" || rc=$?
    cap_stop
    ((rc != 0)) || die "CONNECT www.example.com:443 was not refused by squid"
    grep -q 403 "$T/curl-denied.err" || die "expected a 403 from squid, got: $(cat "$T/curl-denied.err")"
}

cap_connect_split() {
    cat >"$T/split.py" <<'EOF'
# Write a CONNECT request in three TCP segments (TCP_NODELAY + pauses),
# read the proxy's answer, then do a TLS handshake and one GET inside the tunnel.
import socket, ssl, sys, time

proxy, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
target = f"{host}:443"
s = socket.create_connection((proxy, port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
parts = [f"CONNECT {target} HTTP/1.1\r\n",
         f"Host: {target}\r\n",
         "User-Agent: dpixcap-split/1.0\r\n\r\n"]
for i, p in enumerate(parts):
    if i:
        time.sleep(0.2)
    s.sendall(p.encode())
resp = b""
while b"\r\n\r\n" not in resp:
    chunk = s.recv(4096)
    if not chunk:
        break
    resp += chunk
status = resp.split(b"\r\n", 1)[0].decode(errors="replace")
print("proxy said:", status)
if " 200 " not in status + " ":
    sys.exit(1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with ctx.wrap_socket(s, server_hostname=host) as t:
    print("tunnel TLS:", t.version())
    t.sendall(b"GET / HTTP/1.0\r\n\r\n")   # s_server -www answers and closes
    while t.recv(4096):
        pass
EOF
    cap_start connect-split.pcap
    in_c timeout 15 python3 "$T/split.py" "$P_IP_C" "$SQUID_PORT" turn-rbx2.openrainbow.com
    cap_stop
}

cap_tls_sni() {
    cap_start tls-sni.pcap
    printf 'GET / HTTP/1.0\r\n\r\n' |
        in_c timeout 15 openssl s_client -connect "$S_IP:443" -servername web.openrainbow.com \
            -tls1_3 -quiet >/dev/null 2>"$T/s_client.err"
    cap_stop
}

cap_tls_sni_other() {
    cap_start tls-sni-other.pcap
    printf 'GET / HTTP/1.0\r\n\r\n' |
        in_c timeout 15 openssl s_client -connect "$S_IP:443" -servername www.example.com \
            -tls1_2 -quiet >/dev/null 2>"$T/s_client.err"
    cap_stop
}

cap_http_get() {
    cap_start http-get.pcap
    in_c timeout 15 curl -sS -o /dev/null http://www.example.com/
    cap_stop
}

cap_tls_big_hello() {
    # MTU 576 on the client link (MSS 536) and an ffdhe3072 key share (384 bytes)
    # make the ClientHello larger than one segment.
    in_c ip link set c0 mtu 576
    in_p ip link set p0 mtu 576
    cap_start tls-big-hello.pcap
    printf 'GET / HTTP/1.0\r\n\r\n' |
        in_c timeout 15 openssl s_client -connect "$S_IP:443" -servername turn-gra1.openrainbow.com \
            -tls1_3 -groups ffdhe3072:x25519:secp256r1 -quiet >/dev/null 2>"$T/s_client.err"
    cap_stop
    in_c ip link set c0 mtu 1500
    in_p ip link set p0 mtu 1500
}

cap_udp_dns() {
    cat >"$T/udp.py" <<'EOF'
# Send one DNS-format A query for www.example.com and wait for the echo.
import socket, struct, sys
server = sys.argv[1]
q = struct.pack("!HHHHHH", 0x1d2c, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in "www.example.com".split(".")) + b"\0"
q += struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
data, _ = s.recvfrom(512)
print("echo", len(data), "bytes")
EOF
    cap_start udp-dns.pcap
    in_c timeout 10 python3 "$T/udp.py" "$S_IP" >/dev/null
    cap_stop
}

# ---------------------------------------------------------------- verification

# Number of client payload segments before the first payload from the other side
# (= how many segments the CONNECT request / ClientHello was written in).
first_data_segments() {   # file
    tcpdump -nn -q -r "$1" tcp 2>/dev/null | awk -v c="$C_IP" '
        { len = $NF + 0; src = $3; sub(/\.[0-9]+$/, "", src) }
        len > 0 && src == c { segs++ ; next }
        len > 0 && src != c { print segs + 0; exit }'
}

verify() {
    local ok=1 f
    declare -A want=(
        [connect-squid-turn.pcap]='CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1|200 Connection established|turn-rbx1.openrainbow.com'
        [connect-tinyproxy.pcap]='CONNECT web.openrainbow.com:443 HTTP/1.1|200 Connection established|web.openrainbow.com'
        [connect-denied.pcap]='CONNECT www.example.com:443 HTTP/1.1|HTTP/1.1 403 Forbidden'
        [connect-split.pcap]='CONNECT turn-rbx2.openrainbow.com:443 HTTP/1.1|Host: turn-rbx2.openrainbow.com:443|User-Agent: dpixcap-split|200 Connection established'
        [tls-sni.pcap]='web.openrainbow.com'
        [tls-sni-other.pcap]='www.example.com'
        [http-get.pcap]='GET / HTTP/1.1|Host: www.example.com|HTTP/1.0 200 OK'
        [tls-big-hello.pcap]='turn-gra1.openrainbow.com'
        [udp-dns.pcap]='example'
    )
    echo
    printf '%-24s %7s  %s\n' FILE PACKETS FLOWS
    for f in connect-squid-turn.pcap connect-tinyproxy.pcap connect-denied.pcap \
             connect-split.pcap tls-sni.pcap tls-sni-other.pcap http-get.pcap \
             tls-big-hello.pcap udp-dns.pcap; do
        local path="$T/out/$f" n flows ascii s
        [[ -s $path ]] || { echo "MISSING $f"; ok=0; continue; }
        n=$(tcpdump -nn -r "$path" 2>/dev/null | wc -l)
        # 5-tuples, client side first
        flows=$(tcpdump -nn -q -r "$path" 2>/dev/null | awk -v c="$C_IP" '
            { src = $3; dst = $5; sub(/:$/, "", dst); proto = tolower($6); sub(/,$/, "", proto)
              if (index(src, c ".") == 1) k = proto " " src " > " dst; else k = proto " " dst " > " src
              if (!(k in seen)) { seen[k] = 1; printf "%s%s", sep, k; sep = "; " } }')
        printf '%-24s %7s  %s\n' "$f" "$n" "$flows"
        ascii=$(tcpdump -nn -A -r "$path" 2>/dev/null)
        IFS='|' read -r -a pats <<<"${want[$f]}"
        for s in "${pats[@]}"; do
            grep -qF -- "$s" <<<"$ascii" || { echo "   !! $f: '$s' not found"; ok=0; }
        done
        if [[ $f == connect-split.pcap ]]; then
            local segs
            segs=$(first_data_segments "$path")
            echo "   CONNECT request segments: ${segs:-?}"
            [[ ${segs:-0} -ge 3 ]] || { echo "   !! CONNECT request not split"; ok=0; }
        fi
        if [[ $f == tls-big-hello.pcap ]]; then
            local hs
            hs=$(first_data_segments "$path")
            echo "   ClientHello segments: ${hs:-?}"
            [[ ${hs:-0} -ge 2 ]] || { echo "   !! ClientHello not split"; ok=0; }
        fi
    done
    ((ok)) || die "verification failed (existing files in $OUT left unchanged)"
    echo "all captures verified"
}

# ---------------------------------------------------------------- main

main() {
    ensure_pkgs
    trap teardown EXIT
    trap 'exit 130' INT TERM
    remove_namespaces          # leftovers of an interrupted earlier run
    T=$(mktemp -d /tmp/dpixcap.XXXXXX)
    mkdir "$T/out"            # captures land here; copied to $OUT only once all verified
    setup_net
    start_servers

    cap_connect_squid_turn
    cap_connect_tinyproxy
    cap_connect_denied
    cap_connect_split
    cap_tls_sni
    cap_tls_sni_other
    cap_http_get
    cap_tls_big_hello
    cap_udp_dns

    verify
    mv -f "$T"/out/*.pcap "$OUT"/
    log "captures written to $OUT"
}

main "$@"
