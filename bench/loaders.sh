#!/usr/bin/env bash
# bench/loaders.sh: wakeful-client beside tokio-load as the loader (issue 12's speed targets).
#
#   bench/loaders.sh book [ROUNDS]   # the book's run against one wakeful-server --workers 3
#                                    #   --sleep-ms 1000: tokio-load, wakeful-client (its
#                                    #   defaults), wakeful-client -t 1, the order rotating
#   bench/loaders.sh w2 [ROUNDS]     # W2: 50,000 requests, 64 in flight, against tokio-server
#                                    #   --workers 3 --sleep-ms 0: requests/s and loader CPU
#   bench/loaders.sh rate [ROUNDS]   # -R 20000 -d 10s against wakeful-server --sleep-ms 0,
#                                    #   the default threads and -t 1: achieved rate, CPU
#
# One line per run: round, loader, wall/rps, the loader's CPU (user + system, /usr/bin/time),
# and, for wakeful-client, the figures of its --json.  Each run waits for a quiet machine
# first (bench/lib.sh, at most QUIET_MAX_S); a run that started on a busy one says so.
# Builds as scripts/bench.sh does (BUILD_DIR, LTO, PEERS_DIR).  Medians: sort the lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
what=${1:?usage: bench/loaders.sh book|w2|rate [ROUNDS]}
ROUNDS=${2:-5}
QUIET_MAX_S=${QUIET_MAX_S:-30}
PORT=${PORT:-24890}
wkb_build server/wakeful-server client/wakeful-client
wkb_peers
CLIENT=$BUILD_DIR/client/wakeful-client
SERVER=$BUILD_DIR/server/wakeful-server
TOKIO_LOAD=$PEERS_DIR/tokio-rust/target/release/tokio-load
TOKIO_SERVER=$PEERS_DIR/tokio-rust/target/release/tokio-server
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
tmp=$(mktemp -d /tmp/wakeful-loaders.XXXXXX)
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT

start() { # BINARY ARGS...: a server on $PORT, waited for
    "$@" >"$tmp/server.log" 2>&1 &
    srv=$!
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    wkb_die "the server did not listen on $PORT"
}

cpu() { tail -n1 "$tmp/time" | awk '{printf "%.2f", $1 + $2}'; } # time adds a line on a non-zero exit

# wk ROUND NAME ARGS...: wakeful-client with --json; prints the line.
wk() {
    local round=$1 name=$2
    shift 2
    wkb_wait_quiet
    /usr/bin/time -o "$tmp/time" -f "%U %S" "$CLIENT" -p "$PORT" --json "$@" >"$tmp/out" || true
    python3 - "$tmp/out" "$round" "$name" "$(cpu)" "$WKB_QUIET" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r, name, cpu, quiet = sys.argv[2:]
line = "%s %s wall_s=%.3f rps=%.0f ok=%d failed=%d cpu_s=%s cpu_us_per_req=%.1f threads=%d" % (
    r, name, d["wall_s"], d["rps"], d["ok"], d["failed"], cpu,
    float(cpu) / max(d["requests"], 1) * 1e6, d["threads"])
line += " p50_ms=%.3f p99_ms=%.3f max_ms=%.3f" % (
    d["latency_ms"]["p50"], d["latency_ms"]["p99"], d["latency_ms"]["max"])
if d["target_rps"] is not None:
    line += " requests=%d achieved_rps=%.1f off_pct=%.2f behind_ms=%.1f p99_uncorrected_ms=%.3f" % (
        d["requests"], d["achieved_rps"], abs(d["achieved_rps"] - d["target_rps"]) * 100.0 / d["target_rps"],
        d["behind_ms"], d["latency_uncorrected_ms"]["p99"])
for k, v in d["failures"].items():
    if v:
        line += " %s=%d" % (k, v)
if d["errors"]:
    line += " top_error=%s" % (d["errors"][0]["errno"] or d["errors"][0]["message"].replace(" ", "_"))
print(line + " quiet=" + quiet)
PY
}

# tl ROUND ARGS...: tokio-load; prints its line with the CPU.
tl() {
    local round=$1
    shift
    wkb_wait_quiet
    /usr/bin/time -o "$tmp/time" -f "%U %S" "$TOKIO_LOAD" --port "$PORT" "$@" >"$tmp/out" 2>&1 || true
    local n
    n=$(sed -n 's/.*ok=\([0-9]*\) failed=\([0-9]*\).*/\1 \2/p' "$tmp/out" | awk '{print $1 + $2}')
    echo "$round tokio-load $(tail -n1 "$tmp/out") cpu_s=$(cpu)" \
        "cpu_us_per_req=$(awk -v c="$(cpu)" -v n="${n:-1}" 'BEGIN{printf "%.1f", c / n * 1e6}')" \
        "quiet=$WKB_QUIET"
}

wkb_log "machine: $(wkb_machine); $what, $ROUNDS rounds"
case $what in
book)
    start "$SERVER" -p "$PORT" --workers 3 --sleep-ms 1000
    # The order rotates every round: a fixed order can fake a 5 % difference here
    # (BENCHMARKS.md, "Second look").
    for r in $(seq "$ROUNDS"); do
        for j in 0 1 2; do
            case $(((j + r) % 3)) in
            0) tl "$r" --requests 4000 ;;
            1) wk "$r" wakeful-client ;;
            2) wk "$r" wakeful-client-t1 -t 1 ;;
            esac
        done
    done ;;
w2)
    start "$TOKIO_SERVER" --port "$PORT" --workers 3 --sleep-ms 0
    for r in $(seq "$ROUNDS"); do
        tl "$r" --requests 50000 --concurrency 64
        wk "$r" wakeful-client -n 50000 -c 64
    done ;;
rate)
    start "$SERVER" -p "$PORT" --workers 3 --sleep-ms 0
    for r in $(seq "$ROUNDS"); do
        wk "$r" wakeful-client -R 20000 -d 10s
        wk "$r" wakeful-client-t1 -R 20000 -d 10s -t 1
    done ;;
*) wkb_die "usage: bench/loaders.sh book|w2|rate [ROUNDS]" ;;
esac
