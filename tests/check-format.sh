#!/bin/sh
# src/, include/, plugins/ and the test plugins follow .clang-format (STYLE.md: one style).
: "${top_srcdir:?}"
if ! command -v clang-format > /dev/null; then
	echo "SKIP: clang-format is not installed (apt-get install clang-format)"
	exit 77
fi
cd "$top_srcdir" || exit 99
bad=0
for f in $(find src include plugins tests/unit/plugins -name '*.[ch]' | sort); do
	if ! clang-format --dry-run -Werror "$f" 2> /dev/null; then
		echo "FAIL: $f is not formatted: run clang-format -i $f"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "ok: src/, include/ and plugins/ match .clang-format"
exit $bad
