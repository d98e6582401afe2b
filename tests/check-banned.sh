#!/bin/sh
# Functions that have no place in code reading hostile input (STYLE.md):
# unbounded copies and unchecked conversions.
: "${top_srcdir:?}"
if grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|strtok)\s*\(' \
	"$top_srcdir/src" "$top_srcdir/plugins" 2>/dev/null; then
	echo "FAIL: banned function used (above)"
	exit 1
fi
echo "ok: no banned functions in src/"
