#!/usr/bin/env bash
# bench/acceptor-ceiling.sh: what one wakeful-server acceptor thread costs per connection
# when it never waits for work, i.e. its ceiling in connections per second per core.
#
#   bench/acceptor-ceiling.sh SERVER_BINARY [CONNECTIONS=4000] [ROUNDS=3] [SERVER ARGS...]
#
# Per round: starts SERVER --port PORT --workers W --sleep-ms 0, stops it (SIGSTOP), lets
# tokio-load open CONNECTIONS connections at once and send their frames (with
# TCP_DEFER_ACCEPT each one is queued for accept once its frame is in; the listen backlog is
# somaxconn, 4096 here), waits until the accept queue holds them all (ss: Recv-Q of the
# listener), then resumes the server (SIGCONT) and measures, until every reply is in, the CPU
# of the main thread (the acceptor: accept4 in batches of 64, the pipe writes, the unparks)
# from /proc/PID/task/PID/schedstat (ns) and its voluntary context switches, and the CPU of
# the whole process.  The queue is full when the acceptor starts, so it accepts in full
# batches: its CPU per connection here is the floor of what it costs, and 1e6 / that figure
# the connections per second one acceptor can take on one core of this machine.
# Environment: LOAD (tokio-load), PORT (24995), W (3).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: acceptor-ceiling.sh SERVER [CONNECTIONS] [ROUNDS] [ARGS...]" >&2; exit 2; }
srv_bin=$1 conns=${2:-4000} rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
LOAD=${LOAD:-/tmp/wakeful-peers/tokio-rust/target/release/tokio-load}
PORT=${PORT:-24995} W=${W:-3}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pid="" lpid=""
cleanup() {
    [ -z "$pid" ] || { kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
    [ -z "$lpid" ] || { kill -TERM "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null; } || true
}
trap cleanup EXIT
listening() { [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; }
queued() { ss -Hltn "sport = :$PORT" 2>/dev/null | awk '{print $2; exit}'; }
ns_of() { cut -d' ' -f1 "/proc/$1/task/$2/schedstat"; }
all_ns() { local s=0 t; for t in /proc/"$1"/task/*; do s=$((s + $(cut -d' ' -f1 "$t/schedstat"))); done; echo $s; }
vcsw() { awk '/^voluntary_ctxt/{print $2}' "/proc/$1/task/$1/status"; }
echo "# acceptor-ceiling: $srv_bin $*; $conns connections queued, --workers $W; $(date -Is); load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for _ in $(seq 100); do listening || break; sleep 0.1; done
    "$srv_bin" "$@" --port "$PORT" --workers "$W" --sleep-ms 0 >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 200); do listening && break; sleep 0.05; done
    sleep 0.3
    kill -STOP "$pid"
    out=$(mktemp)
    "$LOAD" --host 127.0.0.1 --port "$PORT" --requests "$conns" --concurrency "$conns" >"$out" 2>&1 &
    lpid=$!
    for _ in $(seq 300); do [ "$(queued)" -ge "$conns" ] && break; sleep 0.05; done
    q=$(queued)
    a0=$(ns_of "$pid" "$pid") p0=$(all_ns "$pid") c0=$(vcsw "$pid") t0=$(date +%s%N)
    kill -CONT "$pid"
    wait "$lpid" || true
    lpid=""
    a1=$(ns_of "$pid" "$pid") p1=$(all_ns "$pid") c1=$(vcsw "$pid") t1=$(date +%s%N)
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    awk -v r="$r" -v q="$q" -v n="$conns" -v a=$((a1 - a0)) -v p=$((p1 - p0)) -v c=$((c1 - c0)) \
        -v t=$((t1 - t0)) -v res="$(head -c 90 "$out")" 'BEGIN {
        printf "round %d: queued=%d acc_us_per_conn=%.2f acc_conn_per_s_per_core=%.0f acc_wakeups=%d srv_us_per_req=%.2f drain_ms=%.1f | %s\n",
            r, q, a / 1000 / n, n / (a / 1e9), c, p / 1000 / n, t / 1e6, res }'
    rm -f "$out"
done
