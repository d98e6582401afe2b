#!/bin/sh
# `dpix rules check` and `dpix rules explain`: each case's output (stdout
# and stderr, then its exit status) against tests/rules-tools/NAME.out.
# Run from the source tree so that the file names in the output are
# relative. DPIX_REGEN=1 writes the .out files instead (check them by hand
# before committing them).
set -u
: "${top_srcdir:?}" "${DPIX:?}"
dir=tests/rules-tools
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
cd "$top_srcdir" || exit 1
unset DPIX_RULES_DIR

# t NAME ARG...: run dpix rules ARG..., append to NAME's output.
t() {
	name=$1
	shift
	"$DPIX" rules "$@" >> "$out/$name" 2>&1
	echo "exit $?" >> "$out/$name"
}

shipped="rules/push.rules rules/puzzel.rules rules/rainbow-hds.rules rules/rainbow.rules"

t check-shadow check $dir/shadow.rules $dir/later.rules
t check-unused check $dir/unused.rules
t check-unused check --strict $dir/unused.rules
t check-overlap check $dir/overlap.rules
t check-clean check --strict $dir/clean.rules
t check-bad check $dir/bad.rules $dir/clean.rules
t check-bad check
t check-bad check --nope $dir/clean.rules
# shellcheck disable=SC2086
t check-shipped check $shipped
t check-shipped check rules

export DPIX_RULES_DIR=rules
t explain-turn-connect explain --connect turn-rbx1.openrainbow.com:443
t explain-sni-default explain --sni www.example.com
t explain-sni-default explain --sni www.example.com --dport 443
t explain-fcm explain --sni mtalk.google.com --dport 5228
unset DPIX_RULES_DIR
t explain-v6 explain --rules $dir/explain.rules --connect '[2001:db8::1]:443'
t explain-v6 explain --rules $dir/explain.rules --connect '[2001:db9::1]:443' --sni a.web.example
t explain-v6 explain --rules $dir/explain.rules --sni a.web.example --dport 8080 --transport udp
t explain-v6 explain --rules $dir/explain.rules --push apns --dport 5223 --src 192.0.2.1 \
	--dst 2001:db8::7 --ja4 t13d1516h2_8daaf6152771_02713d6af862
t explain-bad explain --dport 0
t explain-bad explain --connect turn.example
t explain-bad explain --connect 2001:db8::1:443
t explain-bad explain --connect '[2001:db8::1:443'
t explain-bad explain --push gcm
t explain-bad explain --tunnel tls
t explain-bad explain --transport sctp
t explain-bad explain --app quic
t explain-bad explain --dst 192.0.2.0/24
t explain-bad explain --connect a.example:443 --app tls
t explain-bad explain --rules $dir/bad.rules --sni a.example
t explain-bad explain extra
t explain-bad explain --nope
t explain-bad explain --sni

fail=0
for f in "$out"/*; do
	name=${f##*/}
	if [ "${DPIX_REGEN:-}" = 1 ]; then
		cp "$f" "$dir/$name.out"
	elif ! diff -u "$dir/$name.out" "$f"; then
		echo "FAIL: $name"
		fail=1
	fi
done
for f in "$dir"/*.out; do
	[ -e "$out/$(basename "$f" .out)" ] || {
		echo "FAIL: $f: no such case"
		fail=1
	}
done
exit $fail
