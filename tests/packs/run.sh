#!/bin/sh
# The shipped rule packs hold every domain and address of the tables of
# the documents they follow, and nothing else unless a comment says why
# (tests/packs/completeness.py; the tables are kept as fixtures in
# tests/packs/fixtures/, written by tests/packs/extract-fixtures.py).
# When the seed documents are there too ($DPIX_SEEDS, else
# ../shared/seeds next to the source tree), also checks that the fixtures
# are what the script extracts from them, and its cross-checks (002
# against 003, 004's count). With $DPIX, replays a synthetic flow of each
# kind through the packs (verdicts.py). Needs python3; skipped without it.
set -u
: "${top_srcdir:?}"
if ! command -v python3 > /dev/null; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
fail=0
seeds=${DPIX_SEEDS:-$top_srcdir/../shared/seeds}
if [ -d "$seeds" ]; then
	python3 "$top_srcdir/tests/packs/extract-fixtures.py" --seeds "$seeds" --verify 2> /dev/null || fail=1
	python3 "$top_srcdir/tests/packs/extract-fixtures.py" --seeds "$seeds" --check > check.$$ 2> /dev/null || {
		cat check.$$
		fail=1
	}
	rm -f check.$$
else
	echo "note: seeds not found at $seeds (set DPIX_SEEDS): fixtures not re-extracted"
fi
python3 "$top_srcdir/tests/packs/completeness.py" \
	"$top_srcdir/rules" "$top_srcdir/tests/packs/fixtures" || fail=1
# What the packs do to a flow of each kind (needs dpix; $DPIX in make check).
if [ -n "${DPIX:-}" ]; then
	python3 "$top_srcdir/tests/packs/verdicts.py" "$top_srcdir/rules" || fail=1
else
	echo "note: DPIX not set: verdicts.py skipped"
fi
exit $fail
