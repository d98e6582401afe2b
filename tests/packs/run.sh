#!/bin/sh
# The shipped rule packs hold every domain and address of the tables of
# the documents they follow, and nothing else unless a comment says why
# (tests/packs/completeness.py; the tables are kept as fixtures in
# tests/packs/fixtures/, written by tests/packs/extract-fixtures.py).
# Needs python3 only; skipped, and says so, without it.
set -u
: "${top_srcdir:?}"
if ! command -v python3 > /dev/null; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
exec python3 "$top_srcdir/tests/packs/completeness.py" \
	"$top_srcdir/rules" "$top_srcdir/tests/packs/fixtures"
