#!/usr/bin/env bash
# A simulated cluster on this machine: N wakeful-server hosts (network namespaces on a
# bridge, addresses from 198.18.0.0/15), HAProxy in front (contrib/haproxy/wakeful.cfg),
# wakeful-client driving it.  Root only.  docs/deploy.md explains the deployment it models.
#
#   scripts/cluster.sh up [--hosts N]      start it and leave it running (state in
#                                          /tmp/wakeful-cluster; HAProxy's admin socket there)
#   scripts/cluster.sh down                stop every process it started (by PID) and remove
#                                          every namespace and link it made
#   scripts/cluster.sh status              what state.json records
#   scripts/cluster.sh steady|rolling|crash|hung|scaleout|all
#                                          one scenario (or all five), each on a cluster of
#                                          its own that is removed at the end; each prints one
#                                          summary line and one JSON object
# Options go to scripts/cluster.py (`scripts/cluster.sh --help` lists them: --hosts,
# --rate, --duration, --loopback, ...).
#
# Environment: BUILD_DIR (default build-release), the build folder it makes or reuses.
# On a fresh Debian machine it first installs what is missing (meson, gcc, haproxy,
# iproute2, ...).  Interrupting it (Ctrl-C, SIGTERM) removes what the run made.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/cluster.sh: needs root (network namespaces, a bridge, veth pairs)" >&2
  exit 1
fi
wk_install_deps meson ninja-build pkg-config gcc libatomic-ops-dev check python3 haproxy iproute2

build=${BUILD_DIR:-build-release}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" >/dev/null

args=(--server "$build/server/wakeful-server" --client "$build/client/wakeful-client" "$@")
case " $* " in
  *" up "* | *" down "* | *" status "* | *" -h "* | *" --help "*)
    exec python3 scripts/cluster.py "${args[@]}" ;;
esac
# A scenario: cluster.py removes its own cluster on SIGINT/SIGTERM/SIGHUP and at the end;
# the trap forwards the signal and waits for that (bounded by cluster.py's own waits).
python3 scripts/cluster.py "${args[@]}" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP
status=0
wait "$pid" || status=$?
# wait returns early (>128) when a trapped signal arrives: wait once more for the cleanup.
if kill -0 "$pid" 2>/dev/null; then wait "$pid" || status=$?; fi
exit "$status"
