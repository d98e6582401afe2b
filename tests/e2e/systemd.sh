#!/bin/sh
# The systemd unit: systemd-analyze verify must find no error in it, and
# systemd-analyze security --offline=yes reports its exposure score (shown,
# not asserted: it is a measure, not a pass mark). The unit is the built
# etc/dpixd.service with ExecStart pointed at the dpixd under test, as
# verify checks that the programs exist. Skipped (77) without
# systemd-analyze or without --offline (systemd < 252).
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
command -v systemd-analyze > /dev/null || {
	echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
	exit 77
}
systemd-analyze security --help 2>&1 | grep -q -- --offline || {
	echo "SKIP: this systemd-analyze has no security --offline"
	exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
sed -e "s|@sbindir@/dpixd|$DPIXD|g" "$top_srcdir/etc/dpixd.service.in" > "$tmp/dpixd.service"
grep -q '@[a-z]*@' "$tmp/dpixd.service" && {
	echo "FAIL: unsubstituted variable in the unit: $(grep '@[a-z]*@' "$tmp/dpixd.service")"
	exit 1
}
fails=0
# An error is a non-zero exit; a warning (an unknown key, ignored) names
# the unit in the output.
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$tmp/dpixd.service" > "$tmp/verify" 2>&1
rc=$?
if [ $rc != 0 ] || grep -q "dpixd.service" "$tmp/verify"; then
	echo "FAIL: systemd-analyze verify:"
	cat "$tmp/verify"
	fails=1
else
	echo "ok: systemd-analyze verify: no complaint about dpixd.service"
fi
if systemd-analyze security --offline=yes "$tmp/dpixd.service" > "$tmp/security" 2>&1; then
	echo "ok: $(grep -i 'exposure level' "$tmp/security")"
else
	# A score above the threshold is a non-zero exit too: report, not fail,
	# unless no score came out at all.
	grep -qi 'exposure level' "$tmp/security" && echo "ok: $(grep -i 'exposure level' "$tmp/security")" || {
		echo "FAIL: systemd-analyze security:"
		cat "$tmp/security"
		fails=1
	}
fi
exit $fails
