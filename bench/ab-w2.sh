#!/usr/bin/env bash
# bench/ab-w2.sh: W2 (throughput, no sleep) side by side for two or more servers, alternating
# round by round (the order rotates every round), tokio-load as the loader.  For checking that
# a change costs nothing on a steady stream, or for one figure against the peers; the full
# comparison with the peers is scripts/bench.sh.
#
#   bench/ab-w2.sh SERVER_A SERVER_B [ROUNDS=6]
#   bench/ab-w2.sh 'new=build/server/wakeful-server --metrics 127.0.0.1:0' \
#                  'old=/tmp/old/server/wakeful-server' 'tokio=.../tokio-server' 7
#
# A SERVER is a binary, or NAME=BINARY [ARGS...] (split on spaces).  Every run starts a fresh
# server as `BINARY [ARGS] --port PORT --workers W --sleep-ms 0` (the peers' harness does the
# same, so tokio-server, libuv-server and floor-server work too), waits until it listens,
# sends it N requests, C in flight, with tokio-load and kills it.
#
# Per round and server: requests/s, p50 and p99 (tokio-load's, connect to EOF), server CPU
# per request (us_per_req: the sum over the server's threads of /proc/PID/task/*/schedstat,
# nanoseconds, not 10 ms ticks; tick_us_per_req: utime+stime from /proc/PID/stat, as the
# harness counts), the main thread's CPU per connection (acc_us_per_conn: wakeful-server's
# main thread is its acceptor; for the peers it is whatever their main thread does), the
# loader's CPU, other_cpu_s (the machine's busy CPU minus server minus loader: foreign load,
# i.e. noise), and for wakeful-server parks and idle trims (its SIGUSR1 report).  A server
# that exits during the load gets a row "error=server_exited status=N" and the next run goes on.  At the end,
# per server: the median (min-max) of each figure, and against the first server the ratio of
# the medians and the median of the per-round ratios (each round's pair ran back to back).
#
# Environment: LOAD (tokio-load), N (50000 requests), C (64 in flight), W (3 workers),
# PORT (24990; keep it below the ephemeral range), QUIET_MAX_S (10: wait up to this long for
# a quiet machine before each run; the row says whether it was), ROWS (also append the
# per-run rows to this file), MAX_OTHER (0.5: a round counts as clean when every run in it
# had other_cpu_s below this; the ratios are printed again over the clean rounds).
set -euo pipefail
usage() { echo "usage: ab-w2.sh SERVER_A SERVER_B [...] [ROUNDS]  (SERVER: BINARY or NAME=BINARY ARGS)" >&2; exit 2; }
[ $# -ge 1 ] || usage
LOAD=${LOAD:-/tmp/wakeful-peers/tokio-rust/target/release/tokio-load}
N=${N:-50000} C=${C:-64} W=${W:-3}
PORT=${PORT:-24990}
QUIET_MAX_S=${QUIET_MAX_S:-10}
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" # wkb_busy, wkb_wait_quiet (QUIET_MAX_S as set above)
tck=$WKB_HZ
rounds=6
args=("$@")
if [[ ${args[-1]} =~ ^[0-9]+$ ]]; then rounds=${args[-1]}; unset 'args[-1]'; fi
[ ${#args[@]} -ge 1 ] || usage
[ -x "$LOAD" ] || { echo "ab-w2.sh: no tokio-load at $LOAD (set LOAD)" >&2; exit 2; }
names=() cmds=()
letters=(A B C D E F G H)
for i in "${!args[@]}"; do
    s=${args[$i]}
    if [[ $s == *=* && ${s%%=*} != */* ]]; then names+=("${s%%=*}"); cmds+=("${s#*=}")
    else names+=("${letters[$i]}"); cmds+=("$s"); fi
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
rows=$(mktemp) tmp=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$rows" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU of all threads of $1: "NS TICKS" (schedstat's run time in ns; utime+stime in ticks)
cpu_all() {
    local ns=0 t v
    for t in /proc/"$1"/task/*; do v=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) || continue; ns=$((ns + v)); done
    echo "$ns $(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12+$13}')"
}
cpu_main() { cut -d' ' -f1 "/proc/$1/task/$1/schedstat"; }
listening() { [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; }
owned() { ss -Hltnp "sport = :$PORT" 2>/dev/null | grep -q "pid=$pid,"; }

run() { # run ROUND INDEX
    local r=$1 i=$2 name=${names[$2]} cmd
    read -r -a cmd <<<"${cmds[$i]}"
    local out=$tmp/srv.out err=$tmp/srv.err
    wkb_wait_quiet
    for _ in $(seq 100); do listening || break; sleep 0.1; done
    "${cmd[@]}" --port "$PORT" --workers "$W" --sleep-ms 0 >"$out" 2>"$err" &
    pid=$!
    # Ours, not some other process's (a port taken by someone else fails our bind).
    for _ in $(seq 200); do owned && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    owned || { echo "ab-w2.sh: $name did not listen on $PORT: $(ss -Hltnp "sport = :$PORT")" >&2; cat "$err" >&2; exit 1; }
    sleep 0.2
    local ns0 t0 a0 b0 ns1 t1 a1 b1 res lcpu
    read -r ns0 t0 <<<"$(cpu_all "$pid")"; a0=$(cpu_main "$pid"); b0=$(wkb_busy)
    local TIMEFORMAT='%U %S'
    { time "$LOAD" --host 127.0.0.1 --port "$PORT" --requests "$N" --concurrency "$C" \
        >"$tmp/load.out" 2>"$tmp/load.err"; } 2>"$tmp/load.time" || true
    if ! kill -0 "$pid" 2>/dev/null; then
        local st=0
        wait "$pid" 2>/dev/null || st=$?
        pid=""
        echo "$name round $r: error=server_exited status=$st load=$(head -c 80 "$tmp/load.out" | tr ' ' _)" | tee -a "$rows"
        [ -z "${ROWS:-}" ] || tail -n1 "$rows" >>"$ROWS"
        tail -n 5 "$err" | sed 's/^/    stderr: /' >&2
        return 0
    fi
    read -r ns1 t1 <<<"$(cpu_all "$pid")"; a1=$(cpu_main "$pid"); b1=$(wkb_busy)
    res=$(head -n1 "$tmp/load.out")
    lcpu=$(awk '{printf "%.2f", $1 + $2}' "$tmp/load.time")
    local parks=- trims=-
    if [[ $(basename "${cmd[0]}") == wakeful-server* ]]; then
        kill -USR1 "$pid"
        sleep 0.3
        parks=$({ grep -o "parks [0-9]*" "$err" || true; } | awk '{s+=$2} END {print s+0}')
        trims=$({ grep -o "idle trims [0-9]*" "$err" || true; } | awk '{s+=$3} END {print s+0}')
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    f() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$res"; }
    printf '%s round %d: rps=%s p50_ms=%s p99_ms=%s failed=%s us_per_req=%.2f tick_us_per_req=%.1f acc_us_per_conn=%.2f srv_cpu_s=%.3f load_cpu_s=%s other_cpu_s=%.2f parks=%s trims=%s quiet=%s\n' \
        "$name" "$r" "$(f rps)" "$(f p50_ms)" "$(f p99_ms)" "$(f failed)" \
        "$(echo "($ns1 - $ns0) / 1000 / $N" | bc -l)" \
        "$(echo "($t1 - $t0) * 1000000 / $tck / $N" | bc -l)" \
        "$(echo "($a1 - $a0) / 1000 / $N" | bc -l)" \
        "$(echo "($ns1 - $ns0) / 1000000000" | bc -l)" "$lcpu" \
        "$(echo "($b1 - $b0) / $tck - ($ns1 - $ns0) / 1000000000 - $lcpu" | bc -l)" \
        "$parks" "$trims" "$WKB_QUIET" | tee -a "$rows"
    [ -z "${ROWS:-}" ] || tail -n1 "$rows" >>"$ROWS"
}

echo "# ab-w2: $N requests, $C in flight, --workers $W, $rounds rounds, order rotating; $(date -Is); load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!names[@]}"; do echo "# ${names[$i]}: ${cmds[$i]}"; done
k=${#names[@]}
for r in $(seq 1 "$rounds"); do
    for j in $(seq 0 $((k - 1))); do run "$r" $(((j + r - 1) % k)); done
done

echo "# per server: median (min-max) over $rounds rounds"
python3 - "$rows" "${names[@]}" <<'PY'
import re, statistics as st, sys
rows, names = sys.argv[1], sys.argv[2:]
data = {}
for line in open(rows):
    m = re.match(r"(\S+) round (\d+): (.*)", line)
    if not m: continue
    kv = dict(x.split("=", 1) for x in m.group(3).split())
    data.setdefault(m.group(1), {})[int(m.group(2))] = kv
figs = ["us_per_req", "tick_us_per_req", "acc_us_per_conn", "rps", "p50_ms", "p99_ms", "load_cpu_s", "other_cpu_s"]
def num(v):
    try: return float(v)
    except ValueError: return None
def vals(n, f):
    return [x for x in (num(kv.get(f, "")) for kv in data.get(n, {}).values()) if x is not None]
print("%-16s" % "figure" + "".join("%24s" % n for n in names))
for f in figs:
    cells = []
    for n in names:
        v = vals(n, f)
        cells.append("%.2f (%.2f-%.2f)" % (st.median(v), min(v), max(v)) if v else "-")
    print("%-16s" % f + "".join("%24s" % c for c in cells))
base = names[0]
for n in names[1:]:
    parts = []
    for f in ["us_per_req", "tick_us_per_req", "acc_us_per_conn", "rps", "p99_ms"]:
        a, b = vals(base, f), vals(n, f)
        if not a or not b or st.median(a) == 0: continue
        per = [num(data[n][r][f]) / num(data[base][r][f]) for r in data[n]
               if r in data[base] and num(data[base][r].get(f, "")) not in (None, 0.0)
               and num(data[n][r].get(f, "")) is not None]
        parts.append("%s %.3f (per-round median %.3f, %.3f-%.3f)" % (
            f, st.median(b) / st.median(a), st.median(per), min(per), max(per)))
    print("%s/%s: %s" % (n, base, "; ".join(parts)))
# The same per-round ratios over the rounds where every server's run was clean (foreign CPU
# below MAX_OTHER seconds): the contaminated rounds are what makes the spread.
import os
mo = float(os.environ.get("MAX_OTHER", "0.5"))
clean = [r for r in data.get(base, {}) if all(
    r in data.get(n, {}) and (num(data[n][r].get("other_cpu_s", "")) or 0) < mo for n in names)]
print("clean rounds (other_cpu_s < %.2f s in every run): %s" % (mo, clean))
for n in names[1:]:
    parts = []
    for f in ["us_per_req", "acc_us_per_conn", "rps", "p99_ms"]:
        per = [num(data[n][r][f]) / num(data[base][r][f]) for r in clean
               if num(data[base][r].get(f, "")) not in (None, 0.0) and num(data[n][r].get(f, "")) is not None]
        if per:
            parts.append("%s %.3f (%.3f-%.3f)" % (f, st.median(per), min(per), max(per)))
    print("  %s/%s, clean rounds, per-round median: %s" % (n, base, "; ".join(parts) or "none"))
PY
