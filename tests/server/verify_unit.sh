#!/usr/bin/env bash
# verify_unit.sh UNIT SERVER: contrib/systemd/wakeful-server.service through
# `systemd-analyze verify --man=no` (Debian package systemd), with ExecStart pointed at
# SERVER, the program just built (verify wants ExecStart's program to exist).  Exit 77
# (skipped) where systemd-analyze is missing.  Also checks the settings the unit must have
# whatever verify thinks of them.
set -euo pipefail
unit=$1
server=$(realpath "$2")
fail() { echo "FAIL: $*" >&2; exit 1; }

# The settings server/README.md promises (checked on the unit as built).
for want in '^Type=notify$' '^KillSignal=SIGTERM$' '^TimeoutStopSec=' '^DynamicUser=yes$' \
            '^User=wakeful$' '^ProtectSystem=strict$' '^NoNewPrivileges=yes$' \
            '^LimitNOFILE=' '^RestrictAddressFamilies=.*AF_UNIX' '^ExecStart=/'; do
    grep -q -- "$want" "$unit" || fail "no line matching $want in $unit"
done
! grep -q '^ExecReload=' "$unit" || fail "ExecReload= although SIGHUP reloads nothing"
grep -q '@[A-Z_]*@' "$unit" && fail "an unconfigured @VARIABLE@ in $unit"
# TimeoutStopSec above the default --drain-ms (5 s) and a margin.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
[ -n "$stop" ] && [ "$stop" -gt 10 ] ||
    fail "TimeoutStopSec=$stop is not above --drain-ms + 5 s"

if ! command -v systemd-analyze > /dev/null; then
    echo "SKIP: no systemd-analyze here (Debian: apt-get install systemd)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=[^ ]*|ExecStart=$server|" "$unit" > "$work/wakeful-server.service"
if ! out=$(systemd-analyze verify --man=no "$work/wakeful-server.service" 2>&1); then
    echo "$out" >&2
    fail "systemd-analyze verify"
fi
# verify exits 0 on some complaints: any line about our unit is a failure.
if grep -i 'wakeful-server.service' <<<"$out"; then
    fail "systemd-analyze verify complained"
fi
echo "systemd-analyze verify: clean ($(systemd-analyze --version | head -1))"
