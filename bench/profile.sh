#!/usr/bin/env bash
# bench/profile.sh: where one server spends its CPU in a W2-like run.
#
#   bench/profile.sh NAME SERVER_BINARY [REQUESTS=50000] [CONCURRENCY=64] [SLEEP_MS=0]
#
# Starts SERVER --port P --workers 3 --sleep-ms S, loads it with tokio-load and prints, per
# thread, user and system CPU (/proc/PID/task/TID/stat) and voluntary / involuntary context
# switches; then, when perf can sample here (software cpu-clock; this guest has no hardware
# counters), the top symbols of `perf record -g` and the share of samples under
# __schedule/finish_task_switch (the cost of sleeping and being woken).
# With PERF=0 only the counters are taken (perf itself costs the server ~25 % more CPU).
# Environment: PORT (26878), LOAD (tokio-load), PERF (1), OUT (perf.data path).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: profile.sh NAME SERVER [REQUESTS] [CONCURRENCY] [SLEEP_MS]" >&2; exit 2; }
name=$1 server=$2 reqs=${3:-50000} conc=${4:-64} sleep_ms=${5:-0}
PORT=${PORT:-26878}
LOAD=${LOAD:-/tmp/wakeful-peers/tokio-rust/target/release/tokio-load}
PERF=${PERF:-1}
OUT=${OUT:-/tmp/perf-$name.data}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
srv="" rec=""
cleanup() {
    if [ -n "$rec" ]; then kill -INT "$rec" 2>/dev/null || true; fi
    if [ -n "$srv" ]; then
        kill -TERM "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
}
trap cleanup EXIT

"$server" --port "$PORT" --workers 3 --sleep-ms "$sleep_ms" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 200); do
    [ -n "$(ss -Hltn "sport = :$PORT")" ] && break
    sleep 0.05
done
[ -n "$(ss -Hltn "sport = :$PORT")" ] || { echo "profile.sh: $name did not listen on $PORT" >&2; exit 1; }
if [ "$PERF" = 1 ]; then
    perf record -q -e cpu-clock -F 4999 -g -p "$srv" -o "$OUT" >/dev/null 2>&1 &
    rec=$!
    sleep 0.5
fi
echo "# $name: $reqs requests, concurrency $conc, sleep $sleep_ms ms, perf=$PERF"
timeout -k 5 120 "$LOAD" --host 127.0.0.1 --port "$PORT" --requests "$reqs" \
    --concurrency "$conc" | cut -c1-100 || true
hz=$(getconf CLK_TCK)
printf '%-18s %7s %7s %8s %8s\n' thread user_s sys_s vol_csw invol_csw
for t in /proc/"$srv"/task/*; do
    read -r -a st <<<"$(sed 's/.*) //' "$t/stat")"
    printf '%-18s %7.2f %7.2f %8d %8d\n' "$(cat "$t/comm")" \
        "$(echo "${st[11]} / $hz" | bc -l)" "$(echo "${st[12]} / $hz" | bc -l)" \
        "$(awk '/^voluntary_ctxt/{print $2}' "$t/status")" \
        "$(awk '/^nonvoluntary_ctxt/{print $2}' "$t/status")"
done
if [ "$PERF" = 1 ]; then
    kill -INT "$rec"
    wait "$rec" 2>/dev/null || true
    rec=""
    echo "# perf: top symbols (self)"
    perf report -i "$OUT" --no-children --sort sym --stdio 2>/dev/null |
        grep -E "^ +[0-9]" | head -15 || true
    echo "# perf: share of samples under each system call (children), and under __schedule"
    perf report -i "$OUT" --children --sort sym --stdio -g none 2>/dev/null |
        grep -E '\] (__schedule|__x64_sys_[a-z0-9_]+|ksys_write|ksys_read)\s*$' | head -14 || true
fi
