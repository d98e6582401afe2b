#!/bin/sh
# dpixd --install-rules and --check-rules in a network namespace: install
# (a site rule already there is kept, the jumps go before it), check ok,
# install again gives the same ruleset, then break one thing at a time and
# check that --check-rules names it (exit 1): the mark save deleted, a save
# in the mangle chain after the queue rule, --queue-bypass removed, a jump
# deleted, another mark mask, fail-closed against fail-open rules.
# Needs root, iproute2, iptables and nfct; skipped (77) without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip iptables iptables-save iptables-restore ip6tables-save nfct
e2e_init dpr
ip netns add "$G" || exit 1

# A rule with a conntrack timeout, for both families: raw DPIX_TIMEOUT too.
cat > "$tmp/pack.rules" << 'EOF'
pack    e2e
version 1
date    2026-12
source  "tests/e2e/rules-install.sh"
addresses server {
	198.18.2.2
	2001:db8::2
}
rule stun bypass {
	transport udp
	dst in server
	dport 3478
	timeout 10m
}
EOF
dpixd() { inG "$DPIXD" --rules "$tmp/pack.rules" "$@"; }
saved() { # the whole ruleset of both families, without the dated comments
	inG iptables-save | grep -v '^#'
	inG ip6tables-save | grep -v '^#'
}
expect() { # WHAT PATTERN [CHECK-OPTIONS...]: --check-rules fails, saying PATTERN
	what=$1 pattern=$2
	shift 2
	out=$(dpixd --check-rules "$@")
	rc=$?
	if [ $rc = 1 ] && echo "$out" | grep -q -- "$pattern"; then
		ok "$what: $(echo "$out" | grep -- "$pattern" | head -n 1)"
	else
		bad "$what: exit $rc, expected a line with '$pattern': $out"
	fi
	dpixd --install-rules 2> /dev/null || bad "reinstall after '$what' failed"
}

dpixd --check-rules > "$tmp/out" && bad "check passed with nothing installed" ||
	ok "nothing installed: $(head -n 1 "$tmp/out")"

inG iptables -A FORWARD -s 10.0.0.0/8 -j ACCEPT # the site's own rule
dpixd --install-rules 2> "$tmp/err" && ok "installed" || bad "install failed: $(cat "$tmp/err")"
out=$(dpixd --check-rules)
[ $? = 0 ] && [ "$out" = "rules ok" ] && ok "check after install: $out" || bad "check: $out"
inG iptables -S FORWARD | grep -q -- '-s 10.0.0.0/8 -j ACCEPT' && ok "site rule kept" ||
	bad "site rule lost"
[ "$(inG iptables -S FORWARD | sed -n 2p)" = "-A FORWARD -j DPIX_SAVE" ] &&
	ok "DPIX_SAVE jump placed before the site's ACCEPT" || bad "jump order: $(inG iptables -S FORWARD)"
inG nfct get timeout dpix-udp-1 > /dev/null && inG nfct get timeout dpix-udp-1-6 > /dev/null &&
	ok "timeout policies for IPv4 and IPv6" || bad "timeout policies missing"

saved > "$tmp/once"
dpixd --install-rules 2> /dev/null || bad "second install failed"
saved > "$tmp/twice"
diff "$tmp/once" "$tmp/twice" > /dev/null && ok "install twice: same ruleset" ||
	bad "install is not idempotent: $(diff "$tmp/once" "$tmp/twice")"

inG iptables -t filter -D DPIX_SAVE 1
expect "save rule deleted" "mark save (CONNMARK --save-mark) is missing"
inG iptables -t mangle -A DPIX_QUEUE -j CONNMARK --save-mark --mask 0x300000
expect "save after the queue rule" "dead code: a packet accepted from the queue continues"
inG iptables -t mangle -R DPIX_QUEUE 2 -p tcp -j NFQUEUE --queue-num 0
expect "no --queue-bypass" "lacks --queue-bypass in fail-open mode"
inG ip6tables -t mangle -D FORWARD -j DPIX_QUEUE
expect "jump deleted" "ip6tables: jump missing: mangle FORWARD -j DPIX_QUEUE"
inG iptables -t raw -F DPIX_TIMEOUT
expect "timeout rules flushed" "raw DPIX_TIMEOUT has 0 rule(s)"
expect "another mark mask" "mark mask mismatch" --mark-mask 0x700000
expect "fail-closed checked against fail-open rules" "has --queue-bypass in fail-closed" \
	--fail-closed
expect "other queues" "does not queue to dpixd's queues (--queue-balance 0:1)" --queues 2

saved > "$tmp/after"
diff "$tmp/once" "$tmp/after" > /dev/null && ok "reinstalls restored the same ruleset" ||
	bad "ruleset after repairs differs: $(diff "$tmp/once" "$tmp/after")"
[ $fails = 0 ]
