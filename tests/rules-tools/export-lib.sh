# Sourced by export-nft.sh, export-ipset.sh and export-squid.sh: each
# exports the test pack and the shipped packs (rules/*.rules) in one
# format and has the real tool check the result. A missing tool is a
# skip (77) of that script alone, never a pass.
set -u
: "${top_srcdir:?}" "${DPIX:?}"
tmp=$(mktemp -d) || exit 99
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail=0

skip() {
	echo "SKIP: $*"
	exit 77
}

# export NAME FORMAT [options]: into $tmp/NAME, 1 on failure.
export_to() {
	name=$1
	shift
	if ! "$DPIX" rules export "$@" > "$tmp/$name" 2> "$tmp/$name.err"; then
		echo "FAIL: dpix rules export $*"
		cat "$tmp/$name.err"
		return 1
	fi
}

# The shipped packs, loaded as a rules directory is.
shipped() {
	for p in "$top_srcdir"/rules/*.rules; do
		printf ' --rules %s' "$p"
	done
}
