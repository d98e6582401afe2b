#!/bin/sh
# dpixd --eve syslog: a bypassed TLS flow through the gateway gives one
# syslog message from dpixd holding its EVE record. dpixd runs in a mount
# namespace of its own whose /dev is a fresh tmpfs, where a small listener
# is /dev/log: the host's syslog is not touched. Needs root, unshare and
# lib.sh's tools; skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables openssl curl python3 unshare
e2e_init dps
e2e_topology
e2e_https_server 100000

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/syslog.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-tls bypass app tls sni in turn service turn
EOR
"$DPIXD" --config /dev/null --rules "$tmp/pack.rules" --print-rules iptables |
	grep -E '^iptables ' > "$tmp/rules.sh"
while read -r line; do inG $line || bad "rule did not install: $line"; done < "$tmp/rules.sh"

# In the new mount namespace: /dev a tmpfs, the listener on /dev/log
# writing each datagram as a line to $tmp/syslog, then dpixd.
cat > "$tmp/run.sh" << EOR
mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 || exit 1
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "a") as out:
    while True:
        out.write(s.recv(65536).decode(errors="replace") + "\n")
        out.flush()
' "$tmp/syslog" &
while [ ! -e "$tmp/syslog.ready" ]; do sleep 0.05; done
exec ip netns exec "$G" "$DPIXD" --no-supervise --config /dev/null --control-socket none \
	--rules "$tmp/pack.rules" --eve syslog
EOR
unshare -m --propagation private sh "$tmp/run.sh" 2> "$tmp/dpixd.log" &
pids="$pids $!"
for _ in $(seq 50); do
	grep -q "serving queues" "$tmp/dpixd.log" 2> /dev/null && break
	sleep 0.1
done
n=$(ip netns exec "$C" curl -sk --max-time 5 --resolve turn-rbx1.openrainbow.com:443:198.18.2.2 \
	-o /dev/null -w '%{size_download}' https://turn-rbx1.openrainbow.com/big.bin)
[ "$n" = 100000 ] && ok "TLS download through the gateway" || bad "download got '$n' bytes"
for _ in $(seq 30); do
	grep -q '"sni":"turn-rbx1.openrainbow.com"' "$tmp/syslog" 2> /dev/null && break
	sleep 0.1
done
# <30>: facility daemon (3) * 8 + info (6); then the tag and the record.
grep -q '^<30>.*dpixd\[[0-9]*\]: {"timestamp".*"sni":"turn-rbx1.openrainbow.com".*"verdict":{"action":"bypass","rule":"turn-tls"' \
	"$tmp/syslog" && ok "the EVE record went to syslog, daemon.info" ||
	bad "no syslog message with the record: $(cat "$tmp/syslog" "$tmp/dpixd.log" 2> /dev/null)"
[ $fails -eq 0 ]
