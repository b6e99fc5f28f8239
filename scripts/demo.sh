#!/usr/bin/env bash
# The main job: the book's run, on wakeful.  Builds wakeful (release), starts wakeful-server
# with its defaults (3 workers, 1 s of work per request) on a free port, runs wakeful-client
# with the book's defaults (4,000 requests, all at once) against it, prints the client's
# summary and the server's shutdown summary, and exits with the client's status.
#
#   scripts/demo.sh [CLIENT_FLAGS...]      e.g. scripts/demo.sh --json, or -n 15000
#
# Environment:
#   BUILD_DIR   release build folder (default: build-release)
# On a fresh Debian machine it first installs what is missing (as root, or with sudo).
# The server it starts is stopped by its PID when the demo ends, also when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
wk_install_deps meson ninja-build pkg-config gcc g++ libatomic-ops-dev check python3 mandoc

build=${BUILD_DIR:-build-release}
build_log=$(mktemp)
echo "building wakeful (release) in $build/ ..."
if [ -f "$build/build.ninja" ]; then
  setup=(meson setup --reconfigure "$build" --buildtype=release -Dtests=false)
else
  setup=(meson setup "$build" --buildtype=release -Dtests=false)
fi
if ! { "${setup[@]}" && ninja -C "$build" server/wakeful-server client/wakeful-client; } \
    >"$build_log" 2>&1; then
  cat "$build_log" >&2
  rm -f "$build_log"
  echo "demo: the build failed" >&2
  exit 1
fi
rm -f "$build_log"

# One descriptor per connection on both sides: ask for the hard limit (both programs raise
# their own soft limit too; this covers the shell's children either way).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_log=$(mktemp)
server_pid=
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pid=$server_pid
  server_pid=
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # The server drains what is in flight (nothing, once the client is done), then exits;
    # give it 10 s before insisting.
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  stop_server
  rm -f "$server_log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$build/server/wakeful-server" -p 0 >"$server_log" 2>&1 &
server_pid=$!

# Its first line says where it listens: "listening on HOST:PORT (N workers)".
listen_line=
for _ in $(seq 100); do
  listen_line=$(grep -m1 '^listening on ' "$server_log" || true)
  [ -n "$listen_line" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "demo: wakeful-server exited before listening:" >&2
    cat "$server_log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$listen_line" ]; then
  echo "demo: wakeful-server did not say where it listens within 10 s" >&2
  cat "$server_log" >&2
  exit 1
fi
addr=${listen_line#listening on }
addr=${addr%% *}
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}

echo "server: $listen_line"
echo "client: wakeful-client -H $host -p $port $*"
echo
status=0
"$build/client/wakeful-client" -H "$host" -p "$port" "$@" || status=$?

stop_server
echo
echo "server's shutdown summary:"
grep -v '^listening on ' "$server_log" | sed 's/^/  /' || true
exit "$status"
