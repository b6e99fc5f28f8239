#!/usr/bin/env bash
# bench/syscount.sh: system calls per request of one server, under tokio-load.
#
#   bench/syscount.sh NAME SERVER_BINARY [REQUESTS=10000] [CONCURRENCY=64] [SLEEP_MS=0]
#
# Starts SERVER --port P --workers 3 --sleep-ms S, waits until it listens, then counts every
# system call its threads make while tokio-load sends REQUESTS requests: with
# `perf stat -e 'syscalls:sys_enter_*' -p PID` when the kernel's syscall tracepoints can be
# read (no ptrace, the server runs at full speed), else with `strace -c -f -p PID` (ptrace
# slows the server, so its batches grow and the count per request comes out lower).
# Prints one line per system call: calls, calls per request; then the total.
# Environment: PORT (25878), LOAD (tokio-load), TOOL=perf|strace to force one.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: syscount.sh NAME SERVER [REQUESTS] [CONCURRENCY] [SLEEP_MS]" >&2; exit 2; }
name=$1 server=$2 reqs=${3:-10000} conc=${4:-64} sleep_ms=${5:-0}
PORT=${PORT:-25878}
LOAD=${LOAD:-/tmp/wakeful-peers/tokio-rust/target/release/tokio-load}
tool=${TOOL:-}
if [ -z "$tool" ]; then
    if perf stat -e syscalls:sys_enter_read true >/dev/null 2>&1; then tool=perf; else tool=strace; fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
tmp=$(mktemp -d /tmp/syscount.XXXXXX)
srv="" tracer=""
cleanup() {
    if [ -n "$tracer" ]; then kill -INT "$tracer" 2>/dev/null || true; fi
    if [ -n "$srv" ]; then
        kill -TERM "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$server" --port "$PORT" --workers 3 --sleep-ms "$sleep_ms" >"$tmp/server.log" 2>&1 &
srv=$!
for _ in $(seq 200); do
    [ -n "$(ss -Hltn "sport = :$PORT")" ] && break
    sleep 0.05
done
[ -n "$(ss -Hltn "sport = :$PORT")" ] || { echo "syscount.sh: $name did not listen" >&2; exit 1; }
sleep 0.3
if [ "$tool" = perf ]; then
    perf stat -x, -e 'syscalls:sys_enter_*' -p "$srv" -o "$tmp/counts" &
else
    strace -c -f -q -p "$srv" -o "$tmp/counts" &
fi
tracer=$!
sleep 1 # let the tracer attach to every thread
timeout -k 5 120 "$LOAD" --host 127.0.0.1 --port "$PORT" --requests "$reqs" \
    --concurrency "$conc" >"$tmp/load.out" 2>&1 || true
sleep 0.2
kill -INT "$tracer"
wait "$tracer" 2>/dev/null || true
tracer=""
echo "# $name: $tool, $reqs requests, concurrency $conc, sleep ${sleep_ms} ms: $(head -c 120 "$tmp/load.out")"
if [ "$tool" = perf ]; then
    # lines: COUNT,,syscalls:sys_enter_NAME,...
    awk -F, -v n="$reqs" '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 {
        s = $3; sub(/^syscalls:sys_enter_/, "", s); c[s] = $1; t += $1 }
        END { for (s in c) printf "%-16s %9d %7.3f\n", s, c[s], c[s] / n
              printf "%-16s %9d %7.3f\n", "TOTAL", t, t / n }' "$tmp/counts" | sort -k2,2nr
else
    # strace -c table: % time, seconds, usecs/call, calls, errors, syscall
    awk -v n="$reqs" '$NF != "total" && $4 ~ /^[0-9]+$/ { c = $4; s = $NF; cnt[s] = c; t += c }
        END { for (s in cnt) printf "%-16s %9d %7.3f\n", s, cnt[s], cnt[s] / n
              printf "%-16s %9d %7.3f\n", "TOTAL", t, t / n }' "$tmp/counts" | sort -k2,2nr
fi
