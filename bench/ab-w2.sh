#!/usr/bin/env bash
# bench/ab-w2.sh: W2 (throughput, no sleep) A/B of two wakeful-server builds, alternating
# round by round, tokio-load as the loader.  For checking that a change costs nothing on
# a steady stream; the full comparison with the peers is scripts/bench.sh.
#
#   bench/ab-w2.sh SERVER_A SERVER_B [ROUNDS=6]
#
# Per round and build: requests/s, server CPU us per request (utime+stime from
# /proc/PID/stat, clock ticks), parks and idle trims (from the server's SIGUSR1 report),
# minor page faults.  Then the sorted values per build.  Environment: LOAD (tokio-load),
# N (50000 requests), C (64 in flight).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: ab-w2.sh SERVER_A SERVER_B [ROUNDS]" >&2; exit 2; }
LOAD=${LOAD:-/tmp/wakeful-peers/tokio-rust/target/release/tokio-load}
N=${N:-50000} C=${C:-64}
tck=$(getconf CLK_TCK)
servers=("$1" "$2")
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for r in $(seq 1 "${3:-6}"); do
    for i in 0 1; do
        out=$(mktemp) err=$(mktemp)
        "${servers[$i]}" -p 0 -w 3 --sleep-ms 0 >"$out" 2>"$err" &
        pid=$!
        for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.1; done
        port=$(sed -nE '1s/.*:([0-9]+) .*/\1/p' "$out")
        c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
        res=$("$LOAD" --host 127.0.0.1 --port "$port" --requests "$N" --concurrency "$C" 2>&1 | tail -1)
        read -r c1 mf < <(awk '{print $14+$15, $10}' "/proc/$pid/stat")
        kill -USR1 "$pid"
        sleep 0.3
        parks=$({ grep -o "parks [0-9]*" "$err" || true; } | awk '{s+=$2} END {print s+0}')
        trims=$({ grep -o "idle trims [0-9]*" "$err" || true; } | awk '{s+=$3} END {print s+0}')
        kill "$pid"
        wait "$pid" || true
        name=$([ "$i" = 0 ] && echo A || echo B)
        echo "$name round $r: $(grep -o 'rps=[0-9.]*' <<<"$res") us_per_req=$(( (c1 - c0) * 1000000 / tck / N )) parks=$parks trims=$trims minflt=$mf" | tee -a "$rows"
        rm -f "$out" "$err"
    done
done
for name in A B; do
    echo "$name: us/req $(grep "^$name" "$rows" | grep -o 'us_per_req=[0-9]*' | cut -d= -f2 | sort -n | tr '\n' ' ')"
    echo "$name: req/s  $(grep "^$name" "$rows" | grep -o 'rps=[0-9.]*' | cut -d= -f2 | sort -n | tr '\n' ' ')"
done
