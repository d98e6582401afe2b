#!/bin/sh
# Bad input to dpix replay: a missing file, a file that is not a capture, a
# truncated capture, an unsupported link type, bad options and packs. Each
# must give a message naming the file (and packet), results for what was
# read, and the documented exit status; never a crash.
set -u
: "${DPIX:?}"
: "${top_srcdir:?}"
export DPIX_RULES_DIR="$top_srcdir/rules"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
good="$top_srcdir/pcaps/connect-squid-turn.pcap"

# expect STATUS PATTERN-IN-STDERR DESCRIPTION -- ARGS...
expect() {
	want=$1 pattern=$2 what=$3
	shift 4
	timeout 10 "$DPIX" "$@" > "$tmp/out" 2> "$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $what: exit $got, expected $want"; cat "$tmp/err"; fail=1
	elif ! grep -q -- "$pattern" "$tmp/err"; then
		echo "FAIL: $what: stderr lacks '$pattern':"; cat "$tmp/err"; fail=1
	elif grep -q "runtime error\|Sanitizer" "$tmp/err"; then
		echo "FAIL: $what: sanitizer report"; cat "$tmp/err"; fail=1
	else
		echo "ok: $what"
	fi
}

expect 1 "$tmp/nope.pcap: " "missing file" -- replay -q "$tmp/nope.pcap"

printf 'this is not a capture file at all\n' > "$tmp/text.pcap"
expect 1 "$tmp/text.pcap: unknown file format" "not a capture" -- replay -q "$tmp/text.pcap"

# Cut the capture inside its 10th packet: 9 packets are read, the 10th fails.
size=$(python3 -c "
import struct,sys
d=open('$good','rb').read(); off=24
for i in range(9):
    off+=16+struct.unpack('<I',d[off+8:off+12])[0]
print(off+16+5)")
head -c "$size" "$good" > "$tmp/cut.pcap"
expect 1 "$tmp/cut.pcap: packet 10: truncated dump file" "truncated capture" -- replay "$tmp/cut.pcap"
grep -q '"connect":{"host":"turn-rbx1.openrainbow.com","port":443' "$tmp/out" ||
	{ echo "FAIL: truncated capture: no result for the packets before the cut"; fail=1; }
grep -q "9 packets" "$tmp/err" || { echo "FAIL: truncated capture: summary should count 9 packets"; cat "$tmp/err"; fail=1; }
# dpix maps classic pcap and reads it itself: libpcap (forced, or reading
# a pipe) must give the same results and the same message.
DPIX_REPLAY_LIBPCAP=1 "$DPIX" replay "$tmp/cut.pcap" > "$tmp/out.libpcap" 2> "$tmp/err.libpcap"
if cmp -s "$tmp/out" "$tmp/out.libpcap" && cmp -s "$tmp/err" "$tmp/err.libpcap"; then
	echo "ok: truncated capture: libpcap says the same"
else
	echo "FAIL: truncated capture: libpcap's results or message differ"; diff "$tmp/err" "$tmp/err.libpcap"; fail=1
fi
"$DPIX" replay - < "$tmp/cut.pcap" > "$tmp/out.pipe" 2> "$tmp/err.pipe"
# (the EVE records name the file "-" there)
if [ "$(sed "s|$tmp/cut.pcap|-|" "$tmp/out")" = "$(cat "$tmp/out.pipe")" ] && grep -q -- "-: packet 10: truncated dump file" "$tmp/err.pipe"; then
	echo "ok: truncated capture from a pipe"
else
	echo "FAIL: truncated capture from a pipe"; cat "$tmp/err.pipe"; fail=1
fi

# A header-only capture of link type 147 (USER0).
python3 -c "
import struct
open('$tmp/user0.pcap','wb').write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,147))"
expect 1 "user0.pcap: unsupported link type 147" "unsupported link type" -- replay -q "$tmp/user0.pcap"

# One bad file among good ones: the good ones are still reported.
expect 1 "$tmp/nope.pcap" "bad file among good ones" -- replay -q "$good" "$tmp/nope.pcap" "$top_srcdir/pcaps/tls-sni.pcap"
[ "$(wc -l < "$tmp/out")" -eq 2 ] || { echo "FAIL: bad file among good ones: expected 2 flows, got $(wc -l < "$tmp/out")"; fail=1; }

printf 'pack bad\nrule r1 bypass sni in nowhere\n' > "$tmp/bad.rules"
expect 1 "$tmp/bad.rules:2:23: found 'nowhere', expected the name of a set" "bad pack" -- replay --rules "$tmp/bad.rules" "$good"
[ -s "$tmp/out" ] && { echo "FAIL: bad pack: output written anyway"; fail=1; }

# A pack that includes a FIFO nobody writes (or a device) is refused at
# once, not waited on: dpixd's reload would hang with it. timeout 10 makes
# a hang a failure (124), not a stuck test.
mkfifo "$tmp/fifo.rules"
printf 'pack fifo\ninclude "fifo.rules"\n' > "$tmp/inc.rules"
expect 1 "$tmp/fifo.rules: not a regular file" "include of a FIFO" -- replay --rules "$tmp/inc.rules" "$good"
expect 1 "/dev/zero: not a regular file" "a device as the pack" -- replay --rules /dev/zero "$good"

expect 2 "expected eve, table or none" "bad format" -- replay --format xml "$good"
expect 2 "--max-flows: '0' is not a number" "zero flows" -- replay --max-flows 0 "$good"
expect 2 "--max-packets: '12x' is not a number" "bad number" -- replay --max-packets 12x "$good"
expect 2 "no capture file given" "no file" -- replay
expect 2 "unknown command 'frobnicate'" "unknown command" -- frobnicate
DPIX_RULES_DIR="$tmp/empty" expect 1 "cannot open rules directory" "missing rules directory" -- replay "$good"

exit $fail
