#!/bin/sh
# The plugins end to end: dpix replay loads the built SIP and syslog
# plugins and replays pcaps/sip-*.pcap (real sipp and openssl traffic, see
# pcaps/make-sip-capture.sh). The EVE output is diffed against
# tests/golden/<name>.eve, made with the plugin (tests/golden/run.sh leaves
# these captures out: without the plugin they are other flows). The syslog
# output's copy on stderr (syslog:perror) must hold every record. After
# reviewing a diff, regenerate with
#   DPIX_REGEN=1 make check TESTS=tests/plugin/run.sh
set -u
: "${DPIX:?DPIX must name the dpix binary}"
: "${DPIX_PLUGINS:?DPIX_PLUGINS must name the build tree's plugins/}"
: "${top_srcdir:?}"
cd "$top_srcdir" || exit 99
export DPIX_RULES_DIR="$top_srcdir/rules"
SIP="$DPIX_PLUGINS/sip/.libs/sip.so"
SYSLOG="$DPIX_PLUGINS/syslog/.libs/syslog.so"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for pcap in pcaps/sip-*.pcap; do
	name=$(basename "$pcap" .pcap)
	"$DPIX" replay -q --plugin "$SIP" --plugin "$SYSLOG" --output syslog:perror,local7 \
		"$pcap" > "$tmp/$name.eve" 2> "$tmp/$name.err" || bad "$pcap: dpix exited $?"
	if [ -n "${DPIX_REGEN:-}" ]; then
		cp "$tmp/$name.eve" "tests/golden/$name.eve"
		echo "regenerated tests/golden/$name.eve: review it before committing"
	elif ! diff -u "tests/golden/$name.eve" "$tmp/$name.eve"; then
		bad "$pcap differs from tests/golden/$name.eve"
	else
		echo "ok: $pcap ($(wc -l < "$tmp/$name.eve") flows)"
	fi
	# Every record went to syslog too, in order: LOG_PERROR writes "dpix: " + it.
	sed 's/^/dpix: /' "$tmp/$name.eve" > "$tmp/$name.want"
	if cmp -s "$tmp/$name.want" "$tmp/$name.err"; then
		echo "ok: $pcap: syslog got every record"
	else
		bad "$pcap: the syslog copy on stderr is not the EVE output"
		diff "$tmp/$name.want" "$tmp/$name.err" | head -5
	fi
done

# What the plugin changes in pcaps/sip-rainbow-hub.pcap: the two calls and
# the TLS flow to 5061 are sip, the TLS flow to 443 stays tls, with its SNI.
eve="$tmp/sip-rainbow-hub.eve"
[ "$(grep -c '"app_proto":"sip"' "$eve")" = 3 ] || bad "expected 3 sip flows"
grep '"dest_port":5061' "$eve" | grep -q '"app_proto":"sip","tls":{"sni":"pbx.example.com"' ||
	bad "SIP over TLS to 5061 is not sip with its SNI"
grep '"dest_port":443' "$eve" | grep -q '"app_proto":"tls"' || bad "TLS to 443 is not tls"
grep '"proto":"UDP"' "$eve" | grep -q '"sip":{"host":"192.0.2.10"}' ||
	bad "the UDP call's Request-URI host is missing"

# A bare name is looked up in $DPIX_PLUGIN_DIR.
DPIX_PLUGIN_DIR="$DPIX_PLUGINS/sip/.libs" "$DPIX" replay -q --plugin sip \
	pcaps/sip-rainbow-hub.pcap > "$tmp/byname.eve" 2>&1 || bad "--plugin sip exited $?"
cmp -s "$tmp/byname.eve" "$eve" && echo "ok: --plugin by name" || bad "--plugin by name differs"

# --format none: only the sink sees the records.
"$DPIX" replay -q --format none -p "$SYSLOG" -o syslog:perror -p "$SIP" \
	pcaps/sip-rainbow-hub.pcap > "$tmp/none.out" 2> "$tmp/none.err" || bad "--format none exited $?"
[ -s "$tmp/none.out" ] && bad "--format none wrote to stdout"
[ "$(grep -c '^dpix: {' "$tmp/none.err")" = 4 ] && echo "ok: --format none" ||
	bad "--format none: the sink did not get 4 records"

# Refusals stop dpix with status 1 and say why.
expect_fail() { # what stderr-text args...
	what=$1 text=$2
	shift 2
	"$DPIX" replay -q "$@" pcaps/sip-rainbow-hub.pcap > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ $rc -ne 1 ]; then
		bad "$what: exit status $rc, not 1"
	elif ! grep -qF -- "$text" "$tmp/err"; then
		bad "$what: stderr lacks '$text':"
		cat "$tmp/err"
	elif [ -s "$tmp/out" ]; then
		bad "$what: wrote results"
	else
		echo "ok: $what"
	fi
}
expect_fail "missing plugin" "$tmp/none.so: cannot load plugin:" --plugin "$tmp/none.so"
expect_fail "not a plugin" "not a dpix plugin: no dpix_plugin_register function" \
	--plugin "$DPIX_PLUGINS/../tests/unit/plugins/.libs/nosym.so"
expect_fail "ABI 2.0" "plugin ABI 2.0, dpix has ABI 1.0: rebuild the plugin against this dpix" \
	--plugin "$DPIX_PLUGINS/../tests/unit/plugins/.libs/abi2.so"
expect_fail "failing init" "plugin initfail 0.1 failed to start (init returned -7)" \
	--plugin "$SIP" --plugin "$DPIX_PLUGINS/../tests/unit/plugins/.libs/initfail.so"
expect_fail "unknown output" "--output nope: no plugin loaded has an output named 'nope'" \
	--plugin "$SIP" --output nope
expect_fail "bad syslog option" "dpix: syslog: error: unknown option 'bogus'" \
	--plugin "$SYSLOG" --output syslog:local0,bogus
expect_fail "the same plugin twice" "a plugin named 'sip' is already loaded" \
	--plugin "$SIP" --plugin "$SIP"
exit $fail
