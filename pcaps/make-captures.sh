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
#   tls13-grease.pcap        headless Chromium -> s_server, TLS 1.3 ClientHello with GREASE and
#                            an X25519MLKEM768 key share (~2 KB, 2 segments), SNI web.openrainbow.com
#   dtls.pcap                openssl s_client -dtls1_2 -> s_server over UDP 443,
#                            SNI turn-rbx1.openrainbow.com, one line of data, close_notify
#   ws-direct.pcap           node ws client -> node ws server ws://web.openrainbow.com/ (port 80):
#                            Upgrade, 101, two text messages echoed, close
#   ws-connect.pcap          the same through squid: CONNECT web.openrainbow.com:80, ws inside
#   turn-udp.pcap            turnutils_uclient -> coturn, UDP 3478: Allocate (401, then with
#                            long-term credentials), ChannelBind/CreatePermission, ChannelData
#   turn-tcp.pcap            the same over TCP 3478 (-t)
#   turn-tls.pcap            the same over TLS on TCP 443 (-t -S)
#   turn-connect.pcap        the same over TCP through squid: socat (client ns) does
#                            CONNECT turn-rbx1.openrainbow.com:443, plain TURN inside
#   webrtc-turn.pcap         headless Chromium, a local page with two RTCPeerConnections
#                            limited to relay candidates on coturn (UDP 3478) and a data
#                            channel: ICE checks, DTLS 1.3 and SCTP inside Send/Data
#                            indications and ChannelData
#
# How: everything is real traffic between real programs (curl, squid, tinyproxy,
# openssl s_client/s_server, python3, socat, chromium, node + ws, coturn's
# turnserver/turnutils_uclient/turnutils_peer) running in three private network
# namespaces wired with two veth pairs; the proxy namespace also routes:
#
#   dpixcap-client            dpixcap-proxy                      dpixcap-server
#   192.0.2.2/24  [c0]----[p0] 192.0.2.1/24
#                               198.51.100.1/24 [p1]----[s0]  198.51.100.2/24
#                               squid :3128, tinyproxy :8888     TCP 443: s_server or coturn
#                                                                TCP 80: http.server or ws server
#                                                                UDP 443: DTLS s_server or coturn
#                                                                coturn :3478, peer udp :3480,
#                                                                socat udp :53
#
# Servers that want the same port (s_server/coturn on 443, http.server/node ws
# on 80) are started on demand, one at a time (server_on).
# Only documentation address ranges are used and no namespace has a route to
# anywhere else.  Host names resolve via /etc/netns/<ns>/hosts to the server.
# Each capture is taken with tcpdump on c0 in the client namespace (the
# client <-> proxy link, or the client's first hop for direct flows).
# Checksum/segmentation offloads are switched off on the veths so the files
# hold real wire-sized packets with correct checksums.
#
# Usage: sudo pcaps/make-captures.sh [NAME...]     (Debian 12; ~1 min)
#   NAME is a capture name (e.g. turn-udp or turn-udp.pcap); default: all.
#   DPIXCAP_KEEP=/some/dir keeps a copy of the temp dir (logs) for debugging.
# Debian packages (installed if missing): iproute2 tcpdump squid tinyproxy curl
# openssl socat ethtool python3 coturn nodejs npm chromium tshark.  The ws
# package is installed with npm (from the npm registry) into the temp dir.
# The files are replaced only when all the captures asked for were made and
# verified (tcpdump -A strings, tshark protocol checks, size, addresses).
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
                curl:curl openssl:openssl socat:socat ethtool:ethtool python3:python3 ss:iproute2 \
                turnserver:coturn turnutils_uclient:coturn turnutils_peer:coturn \
                node:nodejs npm:npm chromium:chromium tshark:tshark; do
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
    # DPIXCAP_KEEP=dir: keep a copy of the temp dir (logs, captures) for debugging
    [[ -n ${DPIXCAP_KEEP:-} && -n $T && -d $T ]] && { rm -rf "$DPIXCAP_KEEP"; cp -a "$T" "$DPIXCAP_KEEP"; }
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
    log "starting socat, squid, tinyproxy (other servers on demand)"
    mkdir -p "$T/www" "$T/tls" "$T/squid" "$T/tinyproxy"
    printf 'hello from dpixcap\n' >"$T/www/index.html"

    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" -days 2 \
        -subj /CN=dpixcap-server -addext "subjectAltName=DNS:*.openrainbow.com,DNS:www.example.com" \
        2>/dev/null

    # the servers on TCP 80 and 443 are started on demand (server_on), several want the port
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
acl WS_port port 80
acl CONNECT method CONNECT
acl rainbow dstdomain .openrainbow.com
acl rainbow_web dstdomain web.openrainbow.com
# plain WebSocket (ws-connect.pcap): CONNECT web.openrainbow.com:80 only
http_access allow clientnet CONNECT WS_port rainbow_web
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

    wait_listen "$NS_S" u "$S_IP:53" || die "socat: $(cat "$T/socat.log")"
    wait_listen "$NS_P" t "$P_IP_C:$SQUID_PORT" ||
        die "squid: $(cat "$T/squid/stdout.log" "$T/squid/cache.log" 2>/dev/null)"
    wait_listen "$NS_P" t "$P_IP_C:$TINY_PORT" ||
        die "tinyproxy: $(cat "$T/tinyproxy/stdout.log" "$T/tinyproxy/tinyproxy.log" 2>/dev/null)"
    server_on 80 http
    in_c timeout 5 bash -c "exec 3<>/dev/tcp/$S_IP/80" || die "routing client -> server does not work"
}

# Daemons started on demand: TCP 80 is python3 http.server or the node ws server,
# TCP/UDP 443 is openssl s_server or coturn; server_on stops the one holding
# the port and starts the one asked for.
declare -A DAEMON=()    # name -> pid
declare -A HOLDER=()    # port -> name

daemon_start() {   # name ns cmd...   (output in $T/name.log; stdin $DAEMON_IN, read-write)
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" "$@" >"$T/$name.log" 2>&1 <>"${DAEMON_IN:-/dev/null}" &
    DAEMON[$name]=$!
    PIDS+=($!)
}

daemon_stop() {    # name
    local pid=${DAEMON[$1]:-} p keep=()
    [[ -n $pid ]] || return 0
    kill_wait "$pid" TERM
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
    unset "DAEMON[$1]"
}

server_on() {      # port name
    local port=$1 name=$2
    [[ ${HOLDER[$port]:-} == "$name" ]] && return 0
    [[ -n ${HOLDER[$port]:-} ]] && daemon_stop "${HOLDER[$port]}"
    case $name in
    s_server)
        # TLS server: answers "GET /" with its status page (-www), one connection at a time
        daemon_start s_server "$NS_S" openssl s_server -accept "$S_IP:443" \
            -cert "$T/tls/cert.pem" -key "$T/tls/key.pem" -www
        wait_listen "$NS_S" t "$S_IP:443" || die "s_server: $(cat "$T/s_server.log")" ;;
    http)
        daemon_start http "$NS_S" python3 -m http.server 80 --bind "$S_IP" --directory "$T/www"
        wait_listen "$NS_S" t "$S_IP:80" || die "http.server: $(cat "$T/http.log")" ;;
    ws)
        start_ws_server ;;
    coturn)
        start_coturn ;;
    dtls)
        # DTLS 1.2 on UDP 443, one connection, then it exits. Its stdin is a
        # FIFO that never ends: at EOF on stdin s_server would close the session.
        rm -f "$T/dtls.in" && mkfifo "$T/dtls.in"
        DAEMON_IN=$T/dtls.in daemon_start dtls "$NS_S" openssl s_server -dtls1_2 -accept "$S_IP:443" -naccept 1 -quiet \
            -cert "$T/tls/cert.pem" -key "$T/tls/key.pem"
        wait_listen "$NS_S" u "$S_IP:443" || die "DTLS s_server: $(cat "$T/dtls.log")" ;;
    *) die "server_on: unknown server $name" ;;
    esac
    HOLDER[$port]=$name
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
    server_on 443 s_server
    cap_start connect-squid-turn.pcap
    in_c timeout 15 curl -sS -k -p -x "http://$P_IP_C:$SQUID_PORT" \
        -o /dev/null https://turn-rbx1.openrainbow.com/
    cap_stop
}

cap_connect_tinyproxy() {
    server_on 443 s_server
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
    server_on 443 s_server
    cap_start connect-split.pcap
    in_c timeout 15 python3 "$T/split.py" "$P_IP_C" "$SQUID_PORT" turn-rbx2.openrainbow.com
    cap_stop
}

cap_tls_sni() {
    server_on 443 s_server
    cap_start tls-sni.pcap
    printf 'GET / HTTP/1.0\r\n\r\n' |
        in_c timeout 15 openssl s_client -connect "$S_IP:443" -servername web.openrainbow.com \
            -tls1_3 -quiet >/dev/null 2>"$T/s_client.err"
    cap_stop
}

cap_tls_sni_other() {
    server_on 443 s_server
    cap_start tls-sni-other.pcap
    printf 'GET / HTTP/1.0\r\n\r\n' |
        in_c timeout 15 openssl s_client -connect "$S_IP:443" -servername www.example.com \
            -tls1_2 -quiet >/dev/null 2>"$T/s_client.err"
    cap_stop
}

cap_http_get() {
    server_on 80 http
    cap_start http-get.pcap
    in_c timeout 15 curl -sS -o /dev/null http://www.example.com/
    cap_stop
}

cap_tls_big_hello() {
    # MTU 576 on the client link (MSS 536) and an ffdhe3072 key share (384 bytes)
    # make the ClientHello larger than one segment.
    server_on 443 s_server
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

# ---------------------------------------------------------------- newer captures

cap_tls13_grease() {
    # Headless Chromium: TLS 1.3 ClientHello with GREASE values and an
    # X25519MLKEM768 (post-quantum) key share, ~1.8 KB, so 2 segments at MTU 1500.
    server_on 443 s_server
    mkdir -p "$T/chromium"
    cap_start tls13-grease.pcap
    in_c timeout 40 chromium --headless=new --no-sandbox --disable-gpu --ignore-certificate-errors \
        --user-data-dir="$T/chromium" --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --disable-domain-reliability \
        --host-resolver-rules="MAP web.openrainbow.com $S_IP" \
        --dump-dom https://web.openrainbow.com/ >"$T/chromium.html" 2>"$T/chromium.log" ||
        die "chromium failed: $(tail -5 "$T/chromium.log")"
    cap_stop
    grep -q 'Ciphers supported' "$T/chromium.html" ||
        die "chromium did not get the s_server page: $(tail -5 "$T/chromium.log")"
}

cap_dtls() {
    # DTLS 1.2 over UDP 443: s_server takes one connection and echoes the line
    # to its log; s_client sends one line and closes (close_notify) at EOF.
    server_on 443 dtls
    cap_start dtls.pcap
    printf 'hello over dtls\n' |
        in_c timeout 15 openssl s_client -dtls1_2 -connect "$S_IP:443" \
            -servername turn-rbx1.openrainbow.com >"$T/dtls-client.log" 2>&1 ||
        die "DTLS s_client failed: $(tail -5 "$T/dtls-client.log")"
    cap_stop
    grep -q 'hello over dtls' "$T/dtls.log" || die "DTLS server did not get the line: $(cat "$T/dtls.log")"
}

ws_setup() {   # node scripts and the ws package (npm, host namespace) in $T/node
    [[ -d $T/node/node_modules/ws ]] && return 0
    mkdir -p "$T/node"
    cat >"$T/node/ws-server.js" <<'EOF'
// Plain ws:// echo server: answers every text message with "echo: <message>".
const { WebSocketServer } = require('ws');
const [host, port] = process.argv.slice(2);
const wss = new WebSocketServer({ host, port: Number(port) });
wss.on('listening', () => console.log('listening on', host, port));
wss.on('connection', (ws, req) => {
  console.log('connection from', req.socket.remoteAddress, req.headers.host);
  ws.on('message', (m) => ws.send('echo: ' + m));
});
EOF
    cat >"$T/node/ws-client.js" <<'EOF'
// ws-client.js URL [PROXY PROXYPORT]: send two text messages, read the echoes,
// close with 1000. With a proxy, open the TCP tunnel with CONNECT first and
// run the WebSocket handshake over the tunnel socket.
const http = require('http');
const WebSocket = require('ws');
const [url, proxy, pport] = process.argv.slice(2);
const msgs = ['hello from dpixcap', 'second message'];

function talk(opts) {
  const ws = new WebSocket(url, opts);
  let got = 0;
  ws.on('open', () => ws.send(msgs[0]));
  ws.on('message', (data) => {
    console.log('got:', data.toString());
    if (++got < msgs.length) ws.send(msgs[got]);
    else ws.close(1000, 'bye');
  });
  ws.on('close', (code) => process.exit(got === msgs.length && code === 1000 ? 0 : 1));
  ws.on('error', (e) => { console.error('ws:', e.message); process.exit(1); });
}

if (!proxy) {
  talk({});
} else {
  const u = new URL(url);
  const target = `${u.hostname}:${u.port || 80}`;
  const req = http.request({ method: 'CONNECT', host: proxy, port: Number(pport),
                             path: target, headers: { Host: target } });
  req.on('connect', (res, socket) => {
    console.log('proxy said:', res.statusCode);
    if (res.statusCode !== 200) process.exit(1);
    talk({ createConnection: () => socket });
  });
  req.on('error', (e) => { console.error('proxy:', e.message); process.exit(1); });
  req.end();
}
EOF
    log "npm install ws (into $T/node)"
    (cd "$T/node" && npm install --no-audit --no-fund --no-save --loglevel=error ws@8 >"$T/npm.log" 2>&1) ||
        die "npm install ws failed: $(tail -5 "$T/npm.log")"
}

start_ws_server() {
    ws_setup
    daemon_start ws "$NS_S" node "$T/node/ws-server.js" "$S_IP" 80
    wait_listen "$NS_S" t "$S_IP:80" || die "ws server: $(cat "$T/ws.log")"
}

cap_ws_direct() {
    server_on 80 ws
    cap_start ws-direct.pcap
    in_c timeout 15 node "$T/node/ws-client.js" ws://web.openrainbow.com/ >"$T/ws-client.log" 2>&1 ||
        die "ws client failed: $(cat "$T/ws-client.log")"
    cap_stop
}

cap_ws_connect() {
    server_on 80 ws
    cap_start ws-connect.pcap
    in_c timeout 15 node "$T/node/ws-client.js" ws://web.openrainbow.com/ "$P_IP_C" "$SQUID_PORT" \
        >"$T/ws-client.log" 2>&1 || die "ws client via squid failed: $(cat "$T/ws-client.log")"
    cap_stop
}

TURN_USER=dpixcap
TURN_PASS=dpixcap-secret
TURN_REALM=openrainbow.com

start_coturn() {
    # coturn on 3478 (UDP+TCP) and 443 (TLS/DTLS; coturn also takes plain
    # TURN on its TLS port, which turn-connect.pcap uses), relaying to a
    # turnutils_peer UDP echo on 198.51.100.2:3480.
    mkdir -p "$T/turn"
    cat >"$T/turn/turnserver.conf" <<EOF
listening-ip=$S_IP
relay-ip=$S_IP
listening-port=3478
tls-listening-port=443
min-port=49152
max-port=49407
fingerprint
lt-cred-mech
user=$TURN_USER:$TURN_PASS
realm=$TURN_REALM
cert=$T/tls/cert.pem
pkey=$T/tls/key.pem
# coturn refuses relaying to special ranges by default: allow the server's doc range only
allowed-peer-ip=198.51.100.0-198.51.100.255
no-multicast-peers
no-cli
userdb=$T/turn/turndb
pidfile=$T/turn/turnserver.pid
log-file=stdout
simple-log
EOF
    daemon_start coturn "$NS_S" turnserver -c "$T/turn/turnserver.conf"
    [[ -n ${DAEMON[turn-peer]:-} ]] || daemon_start turn-peer "$NS_S" turnutils_peer -L "$S_IP" -p 3480
    wait_listen "$NS_S" u "$S_IP:3478" || die "coturn: $(tail -20 "$T/coturn.log")"
    wait_listen "$NS_S" t "$S_IP:3478" || die "coturn: $(tail -20 "$T/coturn.log")"
    wait_listen "$NS_S" t "$S_IP:443" || die "coturn: $(tail -20 "$T/coturn.log")"
    wait_listen "$NS_S" u "$S_IP:3480" || die "turnutils_peer: $(cat "$T/turn-peer.log")"
}

# one short TURN session: Allocate (401, then with credentials), permission
# and channel for the peer, 5 messages of 64 bytes echoed by the peer
turn_client() {   # uclient options... server
    in_c timeout 30 turnutils_uclient -u "$TURN_USER" -w "$TURN_PASS" -e "$S_IP" -r 3480 \
        -n 5 -m 1 -c -l 64 "$@" >"$T/uclient.log" 2>&1 ||
        die "turnutils_uclient $* failed: $(tail -20 "$T/uclient.log")"
    grep -q 'Total transmit time' "$T/uclient.log" || die "turnutils_uclient $*: no traffic: $(tail -20 "$T/uclient.log")"
}

cap_turn_udp() {
    server_on 443 coturn
    cap_start turn-udp.pcap
    turn_client -p 3478 "$S_IP"
    cap_stop
}

cap_turn_tcp() {
    server_on 443 coturn
    cap_start turn-tcp.pcap
    turn_client -t -p 3478 "$S_IP"
    cap_stop
}

cap_turn_tls() {
    server_on 443 coturn
    cap_start turn-tls.pcap
    turn_client -t -S -p 443 "$S_IP"
    cap_stop
}

cap_turn_connect() {
    # socat in the client namespace carries each TURN TCP connection
    # through squid: CONNECT turn-rbx1.openrainbow.com:443, plain TURN inside
    server_on 443 coturn
    daemon_start turn-relay "$NS_C" socat TCP-LISTEN:3478,bind=127.0.0.1,reuseaddr,fork \
        "PROXY:$P_IP_C:turn-rbx1.openrainbow.com:443,proxyport=$SQUID_PORT"
    wait_listen "$NS_C" t 127.0.0.1:3478 || die "socat relay: $(cat "$T/turn-relay.log")"
    cap_start turn-connect.pcap
    turn_client -t -p 3478 127.0.0.1
    cap_stop
    daemon_stop turn-relay
}

cap_webrtc_turn() {
    # Headless Chromium, a local page with two RTCPeerConnections that may only
    # use relay candidates from coturn (UDP 3478) and a data channel between
    # them: ICE checks, DTLS and SCTP travel in Send/Data indications and
    # ChannelData. The page logs DONE once 3 messages crossed, closes both
    # connections; then Chromium is stopped.
    server_on 443 coturn
    mkdir -p "$T/chromium-rtc"
    cat >"$T/webrtc.html" <<EOF
<!doctype html><title>dpixcap webrtc</title><script>
const ice = { iceServers: [{ urls: 'turn:$S_IP:3478?transport=udp',
                             username: '$TURN_USER', credential: '$TURN_PASS' }],
              iceTransportPolicy: 'relay' };
const log = (m) => console.log('DPIXCAP ' + m);
(async () => {
  const a = new RTCPeerConnection(ice), b = new RTCPeerConnection(ice);
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const dc = a.createDataChannel('dpixcap');
  let got = 0;
  b.ondatachannel = (e) => {
    e.channel.onmessage = (m) => {
      log('got ' + m.data);
      if (++got === 3) setTimeout(() => { a.close(); b.close(); log('DONE'); }, 300);
    };
  };
  dc.onopen = () => { for (let i = 1; i <= 3; i++) dc.send('hello ' + i + ' over turn'); };
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
})().catch((e) => log('ERROR ' + e));
</script>
EOF
    cap_start webrtc-turn.pcap
    ip netns exec "$NS_C" chromium --headless=new --no-sandbox --disable-gpu \
        --user-data-dir="$T/chromium-rtc" --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --disable-domain-reliability \
        --disable-features=WebRtcHideLocalIpsWithMdns \
        --enable-logging=stderr --v=0 "file://$T/webrtc.html" \
        >"$T/chromium-rtc.log" 2>&1 </dev/null &
    local pid=$! finished=0
    PIDS+=("$pid")
    for _ in $(seq 200); do
        grep -q 'DPIXCAP \(DONE\|ERROR\)' "$T/chromium-rtc.log" && { finished=1; break; }
        sleep 0.1
    done
    sleep 1                          # let the deallocations (Refresh lifetime 0) pass
    kill_wait "$pid" TERM
    cap_stop
    if ((!finished)) || ! grep -q 'DPIXCAP DONE' "$T/chromium-rtc.log"; then
        die "webrtc page did not finish: $(grep -a DPIXCAP "$T/chromium-rtc.log"; tail -5 "$T/chromium-rtc.log")"
    fi
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

# tshark display filters that must each match at least one packet
tshark_has() {   # file filter [tshark options]
    local n
    # shellcheck disable=SC2086  # options are split on purpose
    n=$(tshark -r "$1" ${3:-} -Y "$2" 2>/dev/null | wc -l)
    ((n > 0)) || { echo "   !! $(basename "$1"): no packet matches tshark filter '$2'"; return 1; }
}

# Cipher suites, extensions, groups and key shares of the first ClientHello,
# then the ones that are GREASE values (0x?a?a, RFC 8701).
grease_values() {   # file
    local v
    tshark -r "$1" -Y 'tls.handshake.type == 1' -T fields -E separator=, -E occurrence=a \
        -e tls.handshake.ciphersuite -e tls.handshake.extension.type \
        -e tls.handshake.extensions_supported_group -e tls.handshake.extensions_key_share_group \
        2>/dev/null | head -1 | tr ',' '\n' |
        while read -r v; do     # tshark prints some fields in hex (0x...), some in decimal
            [[ $v =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] && printf '0x%04x\n' "$((v))"
        done | grep -E '^0x([0-9a-f])a\1a$' | sort -u | tr '\n' ' '
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
        [tls13-grease.pcap]='web.openrainbow.com'
        [dtls.pcap]='turn-rbx1.openrainbow.com'
        [ws-direct.pcap]='GET / HTTP/1.1|Host: web.openrainbow.com|Upgrade: websocket|HTTP/1.1 101 Switching Protocols|Sec-WebSocket-Accept:'
        [ws-connect.pcap]='CONNECT web.openrainbow.com:80 HTTP/1.1|200 Connection established|Upgrade: websocket|HTTP/1.1 101 Switching Protocols|Sec-WebSocket-Accept:|echo: hello from dpixcap'
        [turn-udp.pcap]="$TURN_REALM|$TURN_USER"
        [turn-tcp.pcap]="$TURN_REALM|$TURN_USER"
        [turn-tls.pcap]=''
        [webrtc-turn.pcap]="$TURN_REALM|$TURN_USER"
        [turn-connect.pcap]="CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.0|200 Connection established|$TURN_REALM|$TURN_USER"
    )
    # protocol checks with tshark: filter[;filter...] (STUN: Allocate request,
    # the 401 to the first Allocate, Allocate success, ChannelBind success, ChannelData)
    local stun='stun.type == 0x0003;stun.att.error.class == 4 && stun.att.error == 1;stun.type == 0x0103;stun.type == 0x0109;stun.channel'
    declare -A tsh=(
        [tls13-grease.pcap]='tls.handshake.type == 1 && tls.handshake.extensions_key_share_group == 0x11ec;tls.handshake.type == 2'
        [dtls.pcap]='dtls.handshake.type == 1 && dtls.handshake.extensions_server_name == "turn-rbx1.openrainbow.com";dtls.handshake.type == 2;dtls.record.content_type == 23'
        [ws-direct.pcap]='http.response.code == 101;websocket.opcode == 1;websocket.opcode == 8'
        [turn-udp.pcap]="$stun"
        [turn-tcp.pcap]="$stun"
        [turn-tls.pcap]='tls.handshake.type == 1;tls.handshake.type == 2;tls.app_data'
        # Send/Data indications, ChannelData, and (heuristic) DTLS hellos inside them
        [webrtc-turn.pcap]="$stun;stun.type == 0x0016;stun.type == 0x0017;dtls.handshake.type == 1;dtls.handshake.type == 2"
    )
    declare -A tsh_opts=([webrtc-turn.pcap]='--enable-heuristic dtls_stun')
    echo
    printf '%-24s %7s %7s  %s\n' FILE PACKETS BYTES FLOWS
    for f in "${SELECTED[@]}"; do
        f=$f.pcap
        local path="$T/out/$f" n flows ascii s size
        [[ -s $path ]] || { echo "MISSING $f"; ok=0; continue; }
        n=$(tcpdump -nn -r "$path" 2>/dev/null | wc -l)
        size=$(stat -c %s "$path")
        # 5-tuples, client side first
        flows=$(tcpdump -nn -q -r "$path" 2>/dev/null | awk -v c="$C_IP" '
            { src = $3; dst = $5; sub(/:$/, "", dst); proto = tolower($6); sub(/,$/, "", proto)
              if (index(src, c ".") == 1) k = proto " " src " > " dst; else k = proto " " dst " > " src
              if (!(k in seen)) { seen[k] = 1; printf "%s%s", sep, k; sep = "; " } }')
        printf '%-24s %7s %7s  %s\n' "$f" "$n" "$size" "$flows"
        ((size < 100000)) || { echo "   !! $f: larger than 100 KB"; ok=0; }
        # only documentation addresses (RFC 5737) in the file
        if tcpdump -nn -q -r "$path" 2>/dev/null | awk '{print $3; print $5}' |
            grep -vqE '^(192\.0\.2|198\.51\.100|203\.0\.113)\.'; then
            echo "   !! $f: address outside the documentation ranges"; ok=0
        fi
        ascii=$(tcpdump -nn -A -r "$path" 2>/dev/null)
        IFS='|' read -r -a pats <<<"${want[$f]:-}"
        for s in "${pats[@]}"; do
            grep -qF -- "$s" <<<"$ascii" || { echo "   !! $f: '$s' not found"; ok=0; }
        done
        IFS=';' read -r -a pats <<<"${tsh[$f]:-}"
        for s in "${pats[@]}"; do
            tshark_has "$path" "$s" "${tsh_opts[$f]:-}" || ok=0
        done
        if [[ $f == connect-split.pcap ]]; then
            local segs
            segs=$(first_data_segments "$path")
            echo "   CONNECT request segments: ${segs:-?}"
            [[ ${segs:-0} -ge 3 ]] || { echo "   !! CONNECT request not split"; ok=0; }
        fi
        if [[ $f == tls-big-hello.pcap || $f == tls13-grease.pcap ]]; then
            local hs
            hs=$(first_data_segments "$path")
            echo "   ClientHello segments: ${hs:-?}"
            [[ ${hs:-0} -ge 2 ]] || { echo "   !! ClientHello not split"; ok=0; }
        fi
        if [[ $f == tls13-grease.pcap ]]; then
            local g
            g=$(grease_values "$path")
            echo "   GREASE values in the ClientHello: ${g:-none}"
            [[ $(wc -w <<<"$g") -ge 2 ]] || { echo "   !! no GREASE in the ClientHello"; ok=0; }
        fi
    done
    ((ok)) || die "verification failed (existing files in $OUT left unchanged)"
    echo "all captures verified"
}

# ---------------------------------------------------------------- main

# name -> function, in the order they are made (servers are switched on demand)
CAPTURES=(
    connect-squid-turn connect-tinyproxy connect-denied connect-split
    tls-sni tls-sni-other http-get tls-big-hello udp-dns
    tls13-grease dtls ws-direct ws-connect
    turn-udp turn-tcp turn-tls turn-connect webrtc-turn
)
SELECTED=()

main() {
    local c a
    if (($#)); then
        for a in "$@"; do
            a=${a%.pcap}
            printf '%s\n' "${CAPTURES[@]}" | grep -qx -- "$a" || die "unknown capture '$a' (one of: ${CAPTURES[*]})"
        done
        for c in "${CAPTURES[@]}"; do
            for a in "$@"; do [[ ${a%.pcap} == "$c" ]] && SELECTED+=("$c"); done
        done
    else
        SELECTED=("${CAPTURES[@]}")
    fi
    ensure_pkgs
    trap teardown EXIT
    trap 'exit 130' INT TERM
    remove_namespaces          # leftovers of an interrupted earlier run
    T=$(mktemp -d /tmp/dpixcap.XXXXXX)
    mkdir "$T/out"            # captures land here; copied to $OUT only once all verified
    setup_net
    start_servers

    for c in "${SELECTED[@]}"; do
        "cap_${c//-/_}"
    done

    verify
    mv -f "$T"/out/*.pcap "$OUT"/
    log "captures written to $OUT"
}

main "$@"
