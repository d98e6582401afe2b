#!/bin/sh
# End to end: the forwarder holding as many concurrent tunnels as the
# open files limit allows, up to 10,000. A client opens them all
# (CONNECT turn-rbx1.openrainbow.com:5003, 200, one byte each way to
# prove the tunnel carries), holds them, and meanwhile a normal CONNECT
# fetches a file; then all close. Asserts: every tunnel answered 200 and
# carried its byte; `dpix stats` counts them; dpixd holds two descriptors per idle tunnel (no
# pipes); its resident memory per tunnel stays under 16 KiB; after the
# close every tunnel is gone (descriptors back to where they started but
# for the spare pipes, an EVE record per tunnel with close "closed").
#
# A tunnel holds two descriptors, so N tunnels need 2N + some of dpixd's
# own under RLIMIT_NOFILE: where the hard limit is below about 20,064
# the test opens what fits ((hard limit - 64) / 2 - 32) and says so.
# Needs root, iproute2, curl, openssl, python3; skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}" "${DPIX:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip openssl curl python3
e2e_init dpm
e2e_topology
e2e_https_server 100000

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard"
want=10000
fit=$(((hard - 64) / 2 - 32))
n=$((want < fit ? want : fit))
[ "$n" -lt "$want" ] &&
	echo "note: open files hard limit $hard allows $fit tunnels in one process: opening $n, not $want"

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e-many
version 1
date    2026-12
source  "tests/e2e/proxy-many.sh"
domains turn {
	turn-*.openrainbow.com
}
rule turn-connect bypass connect in turn connect-port 443,5003 service turn
EOR
printf '198.18.2.2 %s\n' turn-rbx1.openrainbow.com | e2e_hosts "$G"

# The server: accepts and holds, echoes each byte it gets.
ip netns exec "$S" python3 -c '
import resource, select, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.18.2.2", 5003))
ls.listen(4096)
ls.setblocking(False)
ep = select.epoll()
ep.register(ls, select.EPOLLIN)
conns = {}
while True:
    for fd, ev in ep.poll():
        if fd == ls.fileno():
            while True:
                try:
                    s, _ = ls.accept()
                except BlockingIOError:
                    break
                s.setblocking(False)
                conns[s.fileno()] = s
                ep.register(s, select.EPOLLIN)
            continue
        s = conns[fd]
        try:
            d = s.recv(4096)
        except OSError:
            d = b""
        if d:
            s.send(d)
        else:
            ep.unregister(fd)
            s.close()
            del conns[fd]
' &
pids="$pids $!"
e2e_wait_port tcp 5003

e2e_forwarder --control-socket "$tmp/ctl" --proxy-max-tunnels "$((n + 16))" \
	--proxy-listen 198.18.1.1:3128 || exit 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$dpixd/status"; }
nfd() { ls "/proc/$dpixd/fd" | wc -l; }
rss0=$(rss) fd0=$(nfd)

# The client: N tunnels, 200 requests in flight at a time; each gets its
# 200, sends one byte and reads it back. Then "open" and it holds them
# until its stdin closes.
mkfifo "$tmp/hold"
ip netns exec "$C" python3 -c '
import resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
n = int(sys.argv[1])
PX = ("198.18.1.1", 3128)
req = b"CONNECT turn-rbx1.openrainbow.com:5003 HTTP/1.1\r\nHost: turn-rbx1.openrainbow.com:5003\r\n\r\n"
held, bad = [], 0
for start in range(0, n, 200):
    batch = []
    for _ in range(min(200, n - start)):
        s = socket.create_connection(PX, timeout=20)
        s.sendall(req)
        batch.append(s)
    for s in batch:
        ans = b""
        while b"\r\n\r\n" not in ans:
            d = s.recv(200)
            if not d:
                break
            ans += d
        if not ans.startswith(b"HTTP/1.1 200 "):
            bad += 1
            s.close()
            continue
        s.sendall(b"x")
        if s.recv(1) != b"x":
            bad += 1
        held.append(s)
print("open %d bad %d" % (len(held), bad), flush=True)
sys.stdin.read()
for s in held:
    s.close()
' "$n" < "$tmp/hold" > "$tmp/client.out" 2>&1 &
client=$!
pids="$pids $client"
exec 3> "$tmp/hold"
for _ in $(seq 1200); do
	grep -q '^open' "$tmp/client.out" && break
	kill -0 $client 2> /dev/null || break
	sleep 0.1
done
set -- $(grep '^open' "$tmp/client.out")
open=${2:-0} badn=${4:-?}
rss1=$(rss) fd1=$(nfd)
if [ "$open" = "$n" ] && [ "$badn" = 0 ]; then
	ok "$n concurrent tunnels: each answered 200 and carried a byte each way"
else
	bad "tunnels: $(cat "$tmp/client.out")"
fi
echo "dpixd: descriptors $fd0 -> $fd1, VmRSS $rss0 -> $rss1 kB with $open tunnels"
if [ "$open" -gt 0 ] && [ $((fd1 - fd0)) -le $((2 * open + 40)) ]; then
	ok "two descriptors per idle tunnel ($((fd1 - fd0)) for $open)"
else
	bad "descriptors: $fd0 -> $fd1 for $open tunnels"
fi
if e2e_asan; then
	echo "note: memory per tunnel not asserted under AddressSanitizer"
elif [ "$open" -gt 0 ] && [ $(((rss1 - rss0) * 1024 / open)) -lt 16384 ]; then
	ok "resident memory per tunnel $(((rss1 - rss0) * 1024 / open)) bytes"
else
	bad "resident memory: $rss0 -> $rss1 kB for $open tunnels"
fi
# The forwarder's counters on the control socket.
"$DPIX" stats --socket "$tmp/ctl" > "$tmp/stats.txt"
if grep -Eq "^proxy_open +$open\$" "$tmp/stats.txt" &&
	grep -Eq "^proxy_tunnels +$open\$" "$tmp/stats.txt"; then
	ok "dpix stats: proxy_open and proxy_tunnels $open"
else
	bad "dpix stats: $(grep proxy_ "$tmp/stats.txt")"
fi
out=$(ip netns exec "$C" curl -s -k -p -x http://198.18.1.1:3128 -m 20 -o "$tmp/got.bin" \
	-w '%{http_connect} %{http_code}' https://turn-rbx1.openrainbow.com/big.bin)
if [ "$out" = "200 200" ] && cmp -s "$tmp/got.bin" "$tmp/big.bin"; then
	ok "a CONNECT while they are held: 200 and the content"
else
	bad "CONNECT while held: '$out'"
fi

exec 3>&-
wait $client
# Up to 16 empty pipes are kept as spares (32 descriptors).
for _ in $(seq 200); do
	[ "$(nfd)" -le $((fd0 + 32)) ] && break
	sleep 0.1
done
fd2=$(nfd)
closed=$(grep '"port":5003' "$tmp/eve.json" | grep -c '"close":"closed"')
if [ "$fd2" -le $((fd0 + 32)) ] && [ "$closed" = "$open" ]; then
	ok "all closed: descriptors back to $fd2 (spare pipes included), $closed records with close \"closed\""
else
	bad "after the close: descriptors $fd2 (started $fd0), $closed of $open records closed"
fi
[ $fails = 0 ] || {
	echo "--- dpixd.log"
	tail -20 "$tmp/dpixd.log"
}
exit $((fails > 0))
