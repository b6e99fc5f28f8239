#!/usr/bin/env bash
# One integration run of wakeful-server and wakeful-client, both under valgrind
# (memcheck, full leak check; a definite or indirect leak or any memory error fails):
#
#   scripts/valgrind-integration.sh [BUILD_DIR] [REQUESTS]    default: build, 200
#
# The server (-p 0, 3 workers, --sleep-ms 10) serves REQUESTS good requests from the
# client (20 in flight), then a handful of bad ones (cut short, a length of 0xFFFFFFFF,
# invalid UTF-8, a reset, a silent peer cut by --read-timeout-ms) so that the error paths
# run under valgrind too; then SIGTERM, and it must exit 0 after its summary.  Prints the
# valgrind verdicts and one last line "valgrind: server ok, client ok" or what failed;
# exits non-zero on any failure.  Every wait is bounded; the server is killed on every
# way out.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
wk_install_deps valgrind python3

build=${1:-${BUILD_DIR:-build}}
requests=${2:-200}
server=$build/server/wakeful-server
client=$build/client/wakeful-client
for b in "$server" "$client"; do
  [ -x "$b" ] || { echo "valgrind: $b is not built" >&2; exit 1; }
done

work=$(mktemp -d /tmp/wk-valgrind.XXXXXX)
spid=
cleanup() {
  if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then kill -KILL "$spid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1
    --show-leak-kinds=definite,indirect --track-fds=no --num-callers=30)

"${vg[@]}" --log-file="$work/server.vg" "$server" -p 0 -w 3 --sleep-ms 10 \
  --read-timeout-ms 2000 >"$work/server.out" 2>"$work/server.err" &
spid=$!

port=
for _ in $(seq 600); do          # at most 60 s: valgrind starts slowly
  line=$(head -n1 "$work/server.out" 2>/dev/null || true)
  if [[ $line =~ ^listening\ on\ .*:([0-9]+)\ \( ]]; then port=${BASH_REMATCH[1]}; break; fi
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "valgrind: the server did not start:" >&2
  cat "$work/server.err" "$work/server.vg" >&2
  exit 1
fi
echo "valgrind: server listening on port $port"

status=0
client_rc=0
timeout 300 "${vg[@]}" --log-file="$work/client.vg" "$client" -H 127.0.0.1 -p "$port" \
  -n "$requests" -c 20 --timeout-ms 60000 >"$work/client.out" 2>&1 || client_rc=$?
tail -n 3 "$work/client.out"

# The error paths: each bad peer is closed without a reply.
timeout 60 python3 - "$port" <<'PY' || status=1
import socket, struct, sys, time
addr = ("127.0.0.1", int(sys.argv[1]))
def conn():
    s = socket.create_connection(addr, timeout=30)
    return s
def no_reply(s, what):
    s.settimeout(30)
    data = b""
    try:
        while True:
            c = s.recv(100)
            if not c:
                break
            data += c
    except ConnectionResetError:
        pass
    s.close()
    if data:
        sys.exit(f"valgrind: {what}: unexpected reply {data!r}")
hdr = lambda n: struct.pack("<IHI", 1, 2, n)
s = conn(); s.sendall(hdr(5) + b"ab"); s.shutdown(socket.SHUT_WR); no_reply(s, "cut short")
s = conn(); s.sendall(hdr(0xFFFFFFFF)); no_reply(s, "length 0xFFFFFFFF")
s = conn(); s.sendall(hdr(2) + b"\xc0\xaf"); no_reply(s, "invalid UTF-8")
s = conn(); s.sendall(hdr(10) + b"abc")
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
s = conn(); no_reply(s, "silent")
s = conn(); s.sendall(hdr(2) + b"ok"); s.settimeout(30)
got = b""
while True:
    c = s.recv(100)
    if not c:
        break
    got += c
if got != b"Hello, client!":
    sys.exit(f"valgrind: good request after the bad ones: {got!r}")
print("valgrind: bad peers closed without a reply, the next good request answered")
PY

kill -TERM "$spid"
server_rc=0
for _ in $(seq 1200); do         # at most 120 s for the drain, the summary and the leak check
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$spid" 2>/dev/null; then
  echo "valgrind: the server did not exit within 120 s of SIGTERM" >&2
  server_rc=124
else
  wait "$spid" || server_rc=$?
fi
spid=

for who in server client; do
  echo "--- $who: $(grep -E 'ERROR SUMMARY' "$work/$who.vg" | tail -1 | sed 's/^==[0-9]*== //')"
  grep -E 'definitely lost|indirectly lost|possibly lost|still reachable|All heap blocks' \
    "$work/$who.vg" | sed 's/^==[0-9]*== /    /' || true
done
grep -E '^(total|acceptor):' "$work/server.err" || true

verdict=()
if [ "$server_rc" -ne 0 ]; then
  verdict+=("server exit $server_rc")
  status=1
  cat "$work/server.vg" >&2
else
  verdict+=("server ok")
fi
if [ "$client_rc" -ne 0 ]; then
  verdict+=("client exit $client_rc")
  status=1
  cat "$work/client.vg" >&2
else
  verdict+=("client ok")
fi
echo "valgrind: $(IFS=,; echo "${verdict[*]}" | sed 's/,/, /g')"
exit $status
