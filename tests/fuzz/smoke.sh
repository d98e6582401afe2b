#!/bin/sh
# A short run of every fuzz harness on seeds made from pcaps/ and rules/
# (configure CC=clang --enable-fuzz). DPIX_FUZZ_SECONDS sets the time per
# harness (default 15: eight harnesses, two minutes in all); the long run
# is documented in README.md.
: "${top_srcdir:?}"
exec "$top_srcdir/tests/fuzz/run-fuzz.sh" "$(pwd)" "$top_srcdir" "${DPIX_FUZZ_SECONDS:-15}"
