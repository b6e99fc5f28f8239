#!/usr/bin/env bash
# Builds wakeful and runs its whole test suite, then prints one line: "N passed, N failed".
#
#   scripts/test.sh [MESON_SETUP_ARGS...]      e.g. scripts/test.sh -Dwerror=true
#
# Environment:
#   BUILD_DIR    build folder (default: build)
#   TEST_ARGS    extra arguments for `meson test` (e.g. "--suite runtime" or "--suite soak");
#                the soak suite (60 s, tests/soak) and the cluster suite (root and haproxy,
#                ~2 min, tests/cluster) run only when TEST_ARGS names them
# On a fresh Debian machine it first installs what is missing (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
wk_install_deps meson ninja-build pkg-config gcc g++ libatomic-ops-dev check python3 mandoc python3-matplotlib python3-prometheus-client systemd

build=${BUILD_DIR:-build}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" "$@"
else
  meson setup "$build" "$@"
fi
ninja -C "$build"

status=0
# The soak suite is long: not part of the default run (see tests/soak/meson.build).
skip_soak=--no-suite=soak
case " ${TEST_ARGS:-} " in *soak*) skip_soak= ;; esac
# So is the cluster suite (network namespaces and HAProxy; see tests/cluster/meson.build).
skip_cluster=--no-suite=cluster
case " ${TEST_ARGS:-} " in *cluster*) skip_cluster= ;; esac
# shellcheck disable=SC2086
meson test -C "$build" --print-errorlogs $skip_soak $skip_cluster ${TEST_ARGS:-} || status=$?

# Count from meson's own record of this run, not from its console summary.
python3 - "$build/meson-logs/testlog.json" <<'PY' || status=1
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        if not line.strip():
            continue
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
if passed + failed == 0:
    print("no test ran", file=sys.stderr)
    failed = 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
exit $status
