#!/bin/sh
# The forwarder is never an open relay: a matrix of CONNECT targets, each
# with the answer it must get from dpixd --proxy-listen (lib.sh's gateway
# is the proxy). Names resolve through the gateway's /etc/netns hosts file
# to the addresses under test; the pack whitelists turn-*.openrainbow.com
# on port 443, the relay address 198.18.2.2 as an IP literal, and the lab
# address 10.9.9.9 (a private address a pack allows by address).
# Needs root, curl and python3; skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables openssl curl python3
e2e_init dpm
e2e_topology
e2e_https_server 1000

e2e_hosts "$G" << 'EOH'
198.18.2.2 turn-ok.openrainbow.com
127.0.0.1 turn-lo.openrainbow.com
127.9.9.9 turn-lo2.openrainbow.com
10.0.0.1 turn-priv.openrainbow.com
172.16.5.5 turn-priv172.openrainbow.com
192.168.1.1 turn-priv192.openrainbow.com
169.254.169.254 turn-meta.openrainbow.com
0.0.0.0 turn-zero.openrainbow.com
224.0.0.1 turn-mcast.openrainbow.com
198.18.1.1 turn-self.openrainbow.com
10.9.9.9 turn-lab.openrainbow.com
::1 turn-lo6.openrainbow.com
fe80::1 turn-ll6.openrainbow.com
fd00::1 turn-ula.openrainbow.com
::ffff:127.0.0.1 turn-mapped.openrainbow.com
64:ff9b::a00:1 turn-nat64.openrainbow.com
2002:a00:1::1 turn-6to4.openrainbow.com
198.18.2.2 www.unlisted.example
EOH

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/relay-matrix.sh"
domains turn {
	turn-*.openrainbow.com
}
addresses relays {
	198.18.2.2
}
addresses lab {
	10.9.9.9
}
rule turn bypass connect in turn connect-port 443
rule relay-ip bypass connect in relays connect-port 443
rule lab bypass connect in lab connect-port 443
EOR
e2e_forwarder --proxy-listen 198.18.1.1:3128 || exit 1

# status REQUEST: the status code of the proxy's answer to these bytes.
status() {
	ip netns exec "$C" python3 -c '
import socket, sys
s = socket.create_connection(("198.18.1.1", 3128), timeout=15)
s.sendall(sys.argv[1].encode().decode("unicode_escape").encode("latin-1"))
line = s.makefile("rb").readline().decode("latin-1")
print(line.split(" ")[1] if line.startswith("HTTP/1.") else "none")
' "$1" 2> /dev/null || echo error
}
# expect WANT TARGET [WHY]: CONNECT TARGET gets WANT (502/504: the guard let
# it through and the connection then failed, as nothing listens there).
expect() {
	got=$(status "CONNECT $2 HTTP/1.1\r\nHost: $2\r\n\r\n")
	case " $1 " in
	*" $got "*) ok "CONNECT $2: $got${3:+ ($3)}" ;;
	*) bad "CONNECT $2: got $got, expected $1${3:+ ($3)}" ;;
	esac
}
expect 200 turn-ok.openrainbow.com:443 "listed name, public address"
expect 200 198.18.2.2:443 "IP literal in a pack set"
expect 403 turn-ok.openrainbow.com:22 "listed name, port off the list"
expect 403 turn-ok.openrainbow.com:80 "listed name, port off the list"
expect 403 www.unlisted.example:443 "unlisted name"
expect 403 198.18.2.3:443 "IP literal outside the sets"
expect 403 127.0.0.1:443 "loopback literal"
expect 403 "[::1]:443" "IPv6 loopback literal"
expect 403 "[::ffff:127.0.0.1]:443" "IPv4-mapped loopback literal"
expect 200 "[::ffff:198.18.2.2]:443" "the listed address in IPv4-mapped form: the same address"
expect 403 turn-lo.openrainbow.com:443 "listed name on 127.0.0.1"
expect 403 turn-lo2.openrainbow.com:443 "listed name on 127.9.9.9"
expect 403 turn-priv.openrainbow.com:443 "listed name on 10/8"
expect 403 turn-priv172.openrainbow.com:443 "listed name on 172.16/12"
expect 403 turn-priv192.openrainbow.com:443 "listed name on 192.168/16"
expect 403 turn-meta.openrainbow.com:443 "listed name on link-local 169.254.169.254"
expect 403 turn-zero.openrainbow.com:443 "listed name on 0.0.0.0"
expect 403 turn-mcast.openrainbow.com:443 "listed name on multicast"
expect 403 turn-self.openrainbow.com:443 "listed name on the proxy's own address"
expect 403 turn-lo6.openrainbow.com:443 "listed name on ::1"
expect 403 turn-ll6.openrainbow.com:443 "listed name on fe80::/10"
expect 403 turn-ula.openrainbow.com:443 "listed name on fc00::/7"
expect 403 turn-mapped.openrainbow.com:443 "listed name on ::ffff:127.0.0.1"
expect 403 turn-nat64.openrainbow.com:443 "listed name on 64:ff9b::10.0.0.1 (NAT64 of a private address)"
expect 403 turn-6to4.openrainbow.com:443 "listed name on 2002:a00:1:: (6to4 of a private address)"
expect "502 504" turn-lab.openrainbow.com:443 "private address the pack allows: let through, nothing there"
expect 502 turn-missing.openrainbow.com:443 "listed name that does not resolve"
# Request smuggling and malformed heads: 400 each.
malformed() { # WHAT REQUEST
	got=$(status "$2")
	[ "$got" = 400 ] && ok "$1: 400" || bad "$1: got $got, expected 400"
}
h="CONNECT turn-ok.openrainbow.com:443 HTTP/1.1"
malformed "two Host fields" "$h\r\nHost: a\r\nHost: b\r\n\r\n"
malformed "obs-fold" "$h\r\nHost: a\r\n x: folded\r\n\r\n"
malformed "a body on a CONNECT" "$h\r\nContent-Length: 5\r\n\r\nhello"
malformed "Transfer-Encoding on a CONNECT" "$h\r\nTransfer-Encoding: chunked\r\n\r\n"
malformed "a target without a port" "CONNECT turn-ok.openrainbow.com HTTP/1.1\r\n\r\n"
malformed "a port past 65535" "CONNECT turn-ok.openrainbow.com:99999 HTTP/1.1\r\n\r\n"
malformed "bare LF line ends" "$h\nHost: a\n\n"
[ $fails -eq 0 ] || {
	echo "--- dpixd log"
	cat "$tmp/dpixd.log"
	exit 1
}
