#!/bin/sh
# A short run of every fuzz harness on seeds made from pcaps/ and rules/,
# the minimized corpora of tests/fuzz/corpus/ and the dictionaries
# tests/fuzz/*.dict (configure CC=clang --enable-fuzz). DPIX_FUZZ_SECONDS
# sets the time per harness (default 15: eleven harnesses, about three
# minutes in all); the long run is documented in docs/reliability.md.
: "${top_srcdir:?}"
exec "$top_srcdir/tests/fuzz/run-fuzz.sh" "$(pwd)" "$top_srcdir" "${DPIX_FUZZ_SECONDS:-15}"
