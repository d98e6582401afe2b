#!/bin/sh
# Signed packs end to end: dpix rules keygen/sign/verify, interop with the
# openssl command line both ways (keys and signatures), a tampered pack
# refused, and dpix replay --require-signed: signed packs give the same
# output as unsigned ones, an unsigned pack is refused; dpixd
# --require-signed alike.
set -u
: "${DPIX:?}" "${DPIXD:?}"
: "${top_srcdir:?}"
if ! command -v openssl > /dev/null; then
	echo "SKIP: the openssl command is not installed (apt-get install openssl)"
	exit 77
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
pcap="$top_srcdir/pcaps/tls-sni.pcap"

# expect STATUS PATTERN-IN-STDERR DESCRIPTION -- ARGS...
# An empty pattern: stderr must be empty.
expect() {
	want=$1 pattern=$2 what=$3
	shift 4
	"$DPIX" "$@" > "$tmp/out" 2> "$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $what: exit $got, expected $want"; cat "$tmp/err"; fail=1
	elif [ -z "$pattern" ] && [ -s "$tmp/err" ]; then
		echo "FAIL: $what: unexpected stderr:"; cat "$tmp/err"; fail=1
	elif [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err"; then
		echo "FAIL: $what: stderr lacks '$pattern':"; cat "$tmp/err"; fail=1
	elif grep -q "runtime error\|Sanitizer" "$tmp/err"; then
		echo "FAIL: $what: sanitizer report"; cat "$tmp/err"; fail=1
	else
		echo "ok: $what"
	fi
}

# sig_bytes SIGFILE OUT: the raw 64 signature bytes of a .sig.
sig_bytes() {
	sed -n 's/^ed25519 //p' "$1" | openssl base64 -d -A > "$2"
}

# keyid PUBLIC.pem: the first 16 hex digits of SHA-256 of the raw key (the
# last 32 bytes of the SubjectPublicKeyInfo DER).
keyid() {
	openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | openssl dgst -sha256 -r |
		cut -c1-16
}

mkdir "$tmp/packs" "$tmp/keys"
cp "$top_srcdir/rules/rainbow.rules" "$top_srcdir/rules/push.rules" "$tmp/packs/"

# dpix makes the keys; dpix signs; dpix verifies.
expect 0 "" "keygen" -- rules keygen "$tmp/dpix.key" "$tmp/keys/dpix.pub"
id=$(sed -n 's/^key id \([0-9a-f]*\):.*/\1/p' "$tmp/out")
[ "$(stat -c %a "$tmp/dpix.key")" = 600 ] || { echo "FAIL: keygen: private key mode $(stat -c %a "$tmp/dpix.key")"; fail=1; }
[ "$id" = "$(keyid "$tmp/keys/dpix.pub")" ] || { echo "FAIL: keygen: key id '$id' is not the documented one"; fail=1; }
grep -q "PRIVATE KEY\|BEGIN" "$tmp/out" && { echo "FAIL: keygen printed key material"; fail=1; }
expect 1 "already exists" "keygen does not overwrite" -- rules keygen "$tmp/dpix.key" "$tmp/x.pub"

expect 0 "" "sign" -- rules sign --key "$tmp/dpix.key" "$tmp/packs/rainbow.rules" "$tmp/packs/push.rules"
[ "$(head -n 1 "$tmp/packs/rainbow.rules.sig")" = "dpix-signature v1" ] || { echo "FAIL: sign: no v1 header"; fail=1; }
[ "$(sed -n 's/^key-id //p' "$tmp/packs/rainbow.rules.sig")" = "$id" ] || { echo "FAIL: sign: key id line"; fail=1; }
expect 0 "" "verify" -- rules verify --pubkey "$tmp/keys/dpix.pub" "$tmp/packs/rainbow.rules" "$tmp/packs/push.rules"
grep -q "rainbow.rules: good signature by key $id" "$tmp/out" || { echo "FAIL: verify: no good signature line"; cat "$tmp/out"; fail=1; }
expect 0 "" "verify with a key directory" -- rules verify --pubkey "$tmp/keys" "$tmp/packs/rainbow.rules"

# openssl checks dpix's signature, on the same bytes, with dpix's public key.
sig_bytes "$tmp/packs/rainbow.rules.sig" "$tmp/rainbow.raw"
if openssl pkeyutl -verify -pubin -inkey "$tmp/keys/dpix.pub" -rawin \
	-in "$tmp/packs/rainbow.rules" -sigfile "$tmp/rainbow.raw" > /dev/null 2>&1; then
	echo "ok: openssl verifies a dpix signature"
else
	echo "FAIL: openssl pkeyutl -verify refuses dpix's signature"; fail=1
fi

# dpix checks openssl's signature, with keys openssl made.
(umask 077 && openssl genpkey -algorithm ed25519 -out "$tmp/ossl.key") || exit 99
openssl pkey -in "$tmp/ossl.key" -pubout -out "$tmp/keys/ossl.pub" || exit 99
oid=$(keyid "$tmp/keys/ossl.pub")
cp "$tmp/packs/push.rules" "$tmp/ossl.rules"
openssl pkeyutl -sign -inkey "$tmp/ossl.key" -rawin -in "$tmp/ossl.rules" -out "$tmp/ossl.raw" || exit 99
printf 'dpix-signature v1\nkey-id %s\ned25519 %s\n' "$oid" "$(openssl base64 -A -in "$tmp/ossl.raw")" > "$tmp/ossl.rules.sig"
expect 0 "" "dpix verifies an openssl signature" -- rules verify --pubkey "$tmp/keys/ossl.pub" "$tmp/ossl.rules"
# ... and signs with openssl's private key; openssl agrees (Ed25519 is deterministic).
expect 0 "" "dpix signs with an openssl key" -- rules sign --key "$tmp/ossl.key" "$tmp/ossl.rules"
sig_bytes "$tmp/ossl.rules.sig" "$tmp/ossl2.raw"
cmp -s "$tmp/ossl.raw" "$tmp/ossl2.raw" || { echo "FAIL: dpix and openssl signatures differ"; fail=1; }

# A private key others can read is refused.
chmod 644 "$tmp/ossl.key"
expect 1 "accessible by group or others (mode 0644): refused" "world-readable private key" -- rules sign --key "$tmp/ossl.key" "$tmp/ossl.rules"
chmod 600 "$tmp/ossl.key"

# Tampering: one byte more, a signature by an unknown key, no .sig.
cp "$tmp/packs/rainbow.rules" "$tmp/rainbow.orig"
printf '# a comment\n' >> "$tmp/packs/rainbow.rules"
expect 1 "$tmp/packs/rainbow.rules: bad signature by key $id" "tampered pack" -- rules verify --pubkey "$tmp/keys/dpix.pub" "$tmp/packs/rainbow.rules"
expect 1 "bad signature by key $id" "tampered pack among good ones" -- rules verify --pubkey "$tmp/keys" "$tmp/packs/push.rules" "$tmp/packs/rainbow.rules"
grep -q "push.rules: good signature" "$tmp/out" || { echo "FAIL: the good pack next to the tampered one is not reported"; fail=1; }
cp "$tmp/rainbow.orig" "$tmp/packs/rainbow.rules"
expect 1 "$tmp/ossl.rules: signed by unknown key $oid" "unknown key" -- rules verify --pubkey "$tmp/keys/dpix.pub" "$tmp/ossl.rules"
cp "$tmp/packs/push.rules" "$tmp/pcap.rules"
expect 1 "not signed: no signature file $tmp/pcap.rules.sig" "no .sig" -- rules verify --pubkey "$tmp/keys/dpix.pub" "$tmp/pcap.rules"
expect 2 "--pubkey PUBLIC.pem|DIR is required" "verify without a key" -- rules verify "$tmp/pcap.rules"
expect 2 "--key PRIVATE.pem is required" "sign without a key" -- rules sign "$tmp/pcap.rules"
expect 2 "unknown command 'frob'" "unknown rules command" -- rules frob

# Replay: signed packs give the same output as unsigned ones.
"$DPIX" replay -q --rules "$tmp/packs/rainbow.rules" --rules "$tmp/packs/push.rules" "$pcap" > "$tmp/unsigned.eve" ||
	{ echo "FAIL: unsigned replay exited $?"; fail=1; }
expect 0 "" "replay --require-signed" -- replay -q --require-signed --pubkey "$tmp/keys/dpix.pub" \
	--rules "$tmp/packs/rainbow.rules" --rules "$tmp/packs/push.rules" "$pcap"
cmp -s "$tmp/unsigned.eve" "$tmp/out" && [ -s "$tmp/out" ] || { echo "FAIL: signed replay output differs"; fail=1; }
DPIX_RULES_DIR="$tmp/packs" expect 0 "" "replay --require-signed, rules directory" -- replay -q --require-signed --pubkey "$tmp/keys" "$pcap"
cmp -s "$tmp/unsigned.eve" "$tmp/out" || { echo "FAIL: signed replay from the directory differs"; fail=1; }

# dpixd requires signatures the same way (--print-rules loads the packs).
dpixd_expect() { # STATUS PATTERN DESCRIPTION -- ARGS...
	want=$1 pattern=$2 what=$3
	shift 4
	"$DPIXD" --config /dev/null --print-rules iptables "$@" > /dev/null 2> "$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err"; } ||
		{ [ -z "$pattern" ] && [ -s "$tmp/err" ]; }; then
		echo "FAIL: $what: exit $got, expected $want with '$pattern':"; cat "$tmp/err"; fail=1
	else
		echo "ok: $what"
	fi
}
dpixd_expect 0 "" "dpixd --require-signed loads signed packs" -- --require-signed \
	--pubkey "$tmp/keys" --rules "$tmp/packs/rainbow.rules" --rules "$tmp/packs/push.rules"
dpixd_expect 1 "$tmp/pcap.rules: not signed" "dpixd refuses an unsigned pack" -- \
	--require-signed --pubkey "$tmp/keys/dpix.pub" --rules "$tmp/pcap.rules"
dpixd_expect 2 "require-signed: no pubkey" "dpixd --require-signed without a key" -- \
	--require-signed --rules "$tmp/pcap.rules"

# ... and an unsigned or tampered one is refused before any capture is read.
expect 1 "$tmp/pcap.rules: not signed" "replay refuses an unsigned pack" -- replay -q --require-signed --pubkey "$tmp/keys/dpix.pub" --rules "$tmp/pcap.rules" "$pcap"
[ -s "$tmp/out" ] && { echo "FAIL: unsigned pack: output written anyway"; fail=1; }
cp "$tmp/pcap.rules" "$tmp/packs/zz.rules"
DPIX_RULES_DIR="$tmp/packs" expect 1 "$tmp/packs/zz.rules: not signed: no signature file" "replay refuses an unsigned pack in the directory" -- replay -q --require-signed --pubkey "$tmp/keys" "$pcap"
rm "$tmp/packs/zz.rules"
printf '# a comment\n' >> "$tmp/packs/push.rules"
expect 1 "push.rules: bad signature by key $id" "replay refuses a tampered pack" -- replay -q --require-signed --pubkey "$tmp/keys" --rules "$tmp/packs/push.rules" "$pcap"
dpixd_expect 1 "push.rules: bad signature by key $id" "dpixd refuses a tampered pack" -- \
	--require-signed --pubkey "$tmp/keys" --rules "$tmp/packs/push.rules"
expect 2 "--require-signed needs at least one --pubkey" "require-signed without a key" -- replay --require-signed "$pcap"
expect 2 "--pubkey is only used with --require-signed" "pubkey without require-signed" -- replay --pubkey "$tmp/keys" "$pcap"
expect 1 "$tmp/dpix.key: holds a private key" "private key as --pubkey" -- replay --require-signed --pubkey "$tmp/dpix.key" "$pcap"

exit $fail
