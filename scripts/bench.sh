#!/usr/bin/env bash
# scripts/bench.sh: wakeful-server side by side with the peers (a benchmark, not a test).
#
#   scripts/bench.sh                 # 5 rounds, ~8 minutes on a quiet 2-core machine
#   ROUNDS=1 scripts/bench.sh        # a quick check
#
# 1. Builds wakeful in release (bench/lib.sh: BUILD_DIR, LTO) and the peers with their own
#    ../shared/peers/build.sh (PEERS_SRC, PEERS_DIR), installing what is missing.
# 2. Each round, pass 1: W1..W4 against wakeful-server, tokio-server and libuv-server, one
#    after the other (the order rotates every round), all loaded by the peers' tokio-load.
#    Pass 2: W1..W3 against wakeful-server and tokio-server with wakeful-client as the
#    loader (bench/wakeful-load.sh adapts it to the harness).
#    Every workload is one call of the peers' harness ($PEERS_DIR/bench.sh), which starts a
#    fresh server with --workers 3, waits for a quiet machine, measures the server's CPU
#    (/proc/PID/stat), its peak RSS (VmHWM), the loader's CPU and the foreign CPU
#    (other_cpu_s), and kills the server.
# 3. Writes every raw row to bench/results/bench-YYYYMMDD-HHMM.csv and prints the table of
#    medians (min–max) with the wakeful/peer ratios, then the issue's targets, met or not
#    (bench/summarize.py; rerun it on a CSV any time).
# 4. W5, latency under a constant rate: wakeful-client -R at W5_RATE (default: 70 % of the
#    machine's W2 capacity, the median W2 requests/s of pass 1 above) for W5_SECONDS (10)
#    against each server in turn (fresh, --workers 3 --sleep-ms 0), writing
#    bench/results/w5-SERVER.hgrm (the corrected histogram), then scripts/plot.py draws them
#    into bench/results/w5-latency.png (and the bars of W1–W3 into bench-throughput.png).
#
# Environment: W5 ("yes"; "no" skips it), W5_RATE, W5_SECONDS, W5_THREADS (2), and
# ROUNDS (5), PORT (24878; workload i uses PORT+i-1; keep it below
# the ephemeral range, 32768 and up here, or a loader connection may hold it), WORKLOADS ("W1 W2 W3
# W4"), PASS2_WORKLOADS ("W1 W2 W3"; empty to skip pass 2), SERVERS ("wakeful tokio
# libuv"), WAKEFUL_ARGS (extra flags for wakeful-server, e.g. "--metrics 127.0.0.1:0"; the
# .txt says which), WKLOAD_ARGS (wakeful-client's settings, see bench/wakeful-load.sh), RESULTS
# (the CSV path), RUN_TIMEOUT_S (600: the limit for one harness call), and bench/lib.sh's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../bench/lib.sh
. "$here/../bench/lib.sh"
cd "$WKB_ROOT"

ROUNDS=${ROUNDS:-5}
PORT=${PORT:-24878}
WORKLOADS=${WORKLOADS:-"W1 W2 W3 W4"}
WAKEFUL_ARGS=${WAKEFUL_ARGS:-}
PASS2_WORKLOADS=${PASS2_WORKLOADS-"W1 W2 W3"}
SERVERS=${SERVERS:-"wakeful tokio libuv"}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-600}
stamp=$(date +%Y%m%d-%H%M)
RESULTS=${RESULTS:-$WKB_ROOT/bench/results/bench-$stamp.csv}

wkb_deps bc
wkb_build server/wakeful-server client/wakeful-client
wkb_peers

# Descriptors: W3 holds 15,000 connections in the loader and in the server at once.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 16000 ] || wkb_log "warning: RLIMIT_NOFILE $(ulimit -n) < 16000: W3 may fail"

declare -A BIN=(
    [wakeful]=$BUILD_DIR/server/wakeful-server
    [tokio]=$PEERS_DIR/tokio-rust/target/release/tokio-server
    [libuv]=$PEERS_DIR/libuv-c/libuv-server
    [floor]=$PEERS_DIR/floor-c/floor-server
)
TOKIO_LOAD=$PEERS_DIR/tokio-rust/target/release/tokio-load
export WAKEFUL_CLIENT=$BUILD_DIR/client/wakeful-client
WAKEFUL_LOAD=$WKB_ROOT/bench/wakeful-load.sh
# The peers' harness, from the copy build.sh made (the sources stay read-only).
HARNESS=$PEERS_DIR/bench.sh
[ -x "$HARNESS" ] || wkb_die "no harness at $HARNESS"

mkdir -p "$(dirname "$RESULTS")"
cols=round,pass,loader,server,workload,wall_s,rps,p50_ms,p99_ms,max_ms,failed,srv_cpu_s,srv_rss_kb,load_cpu_s,other_cpu_s,listen_ovf,tw0,quiet,error
echo "$cols" >"$RESULTS"
{
    echo "# machine: $(wkb_machine)"
    echo "# wakeful: $(git -C "$WKB_ROOT" rev-parse --short HEAD)$(git -C "$WKB_ROOT" diff --quiet HEAD -- runtime server client 2>/dev/null || echo '+dirty'), LTO=$LTO; rounds $ROUNDS; $(date -Is)${WAKEFUL_ARGS:+; wakeful-server $WAKEFUL_ARGS}"
} >"${RESULTS%.csv}.txt"

# Whatever harness call is running dies with us; it kills its own server from its trap.
child=""
cleanup() {
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# csv_row ROUND PASS LOADER LINE: one harness output line -> one CSV row.
csv_row() {
    local round=$1 pass=$2 loader=$3 line=$4 name wl err="" f v row
    read -r name wl _ <<<"$line"
    [[ $line == *ERROR* ]] && err=$(sed 's/.*ERROR //; s/,/;/g' <<<"$line")
    row="$round,$pass,$loader,$name,$wl"
    for f in wall_s rps p50_ms p99_ms max_ms failed srv_cpu_s srv_rss_kb load_cpu_s other_cpu_s listen_ovf tw0 quiet; do
        v=$(sed -n "s/.*\\b$f=\\([^ ]*\\).*/\\1/p" <<<"$line")
        row+=",$v"
    done
    echo "$row,$err" >>"$RESULTS"
}

# run_one ROUND PASS LOADER_NAME LOADER_BIN SERVER_NAME WORKLOADS
run_one() {
    local round=$1 pass=$2 lname=$3 lbin=$4 srv=$5 wls=$6 out line
    local extra=()
    [ "$srv" = wakeful ] && read -r -a extra <<<"$WAKEFUL_ARGS"
    out=$(mktemp /tmp/wakeful-bench.XXXXXX)
    PORT=$PORT LOAD=$lbin WORKLOADS=$wls QUIET_MAX_S=$QUIET_MAX_S LOAD_TIMEOUT_S=180 \
        timeout -k 10 "$RUN_TIMEOUT_S" "$HARNESS" "$srv" "${BIN[$srv]}" "${extra[@]}" >"$out" 2>"$out.err" &
    child=$!
    wait "$child" || wkb_log "harness for $srv exited with $? (see below)"
    child=""
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        echo "round=$round pass=$pass loader=$lname $line"
        csv_row "$round" "$pass" "$lname" "$line"
    done <"$out"
    [ -s "$out.err" ] && sed "s/^/    /" "$out.err" >&2
    rm -f "$out" "$out.err"
}

wkb_log "machine: $(wkb_machine); load now: $(cut -d' ' -f1-3 /proc/loadavg)"
wkb_log "raw rows -> $RESULTS"
read -r -a servers <<<"$SERVERS"
for round in $(seq "$ROUNDS"); do
    # Rotate the order so no server always goes first (or always follows the same one).
    k=$(((round - 1) % ${#servers[@]}))
    order=("${servers[@]:k}" "${servers[@]:0:k}")
    for srv in "${order[@]}"; do
        run_one "$round" 1 tokio-load "$TOKIO_LOAD" "$srv" "$WORKLOADS"
    done
    if [ -n "$PASS2_WORKLOADS" ]; then
        p2=(wakeful tokio)
        [ $((round % 2)) = 0 ] && p2=(tokio wakeful)
        for srv in "${p2[@]}"; do
            run_one "$round" 2 wakeful-client "$WAKEFUL_LOAD" "$srv" "$PASS2_WORKLOADS"
        done
    fi
done

echo
python3 "$WKB_ROOT/bench/summarize.py" "$RESULTS" | tee -a "${RESULTS%.csv}.txt"
wkb_log "raw rows: $RESULTS; table: ${RESULTS%.csv}.txt"

# ---- W5: latency at a constant rate, one .hgrm per server -----------------------------
# The servers get the same schedule from the same loader; only the server differs.  The
# loader runs on the same two cores, so the rate stays well below capacity (70 %), where
# latency is the server's and not the machine's saturation.
W5=${W5:-yes}
W5_SECONDS=${W5_SECONDS:-10}
W5_THREADS=${W5_THREADS:-2}
start_server() { # NAME PORT: starts it in the background (sleep 0), prints its pid
    case $1 in
    wakeful) "${BIN[$1]}" -p "$2" --workers 3 --sleep-ms 0 >/dev/null 2>&1 & ;;
    *) "${BIN[$1]}" --port "$2" --workers 3 --sleep-ms 0 >/dev/null 2>&1 & ;;
    esac
    echo $!
}
wait_port() { # PORT: until something accepts there, at most 10 s
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
if [ "$W5" = yes ]; then
    if [ -z "${W5_RATE:-}" ]; then
        W5_RATE=$(python3 - "$RESULTS" <<'PYEOF'
import csv, statistics, sys
rps = [float(r["rps"]) for r in csv.DictReader(open(sys.argv[1]))
       if r["workload"] == "W2" and r["pass"] == "1" and r["rps"]]
print(int(0.7 * statistics.median(rps)) if rps else 10000)
PYEOF
)
    fi
    wkb_log "W5: wakeful-client -R $W5_RATE -d ${W5_SECONDS}s -t $W5_THREADS against $SERVERS"
    w5dir=$(dirname "$RESULTS")
    series=()
    for srv in $SERVERS; do
        port=$((PORT + 10))
        pid=$(start_server "$srv" "$port")
        if ! wait_port "$port"; then
            wkb_log "W5: $srv did not listen on $port"
            kill "$pid" 2>/dev/null || true
            continue
        fi
        "$WAKEFUL_CLIENT" -p "$port" -R "$W5_RATE" -d "${W5_SECONDS}s" -t "$W5_THREADS" \
            --histogram "$w5dir/w5-$srv.hgrm" --json >"$w5dir/w5-$srv.json" || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("W5 %s: achieved %.0f/s, corrected p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms; uncorrected p99 %.3f ms; failed %d" % (sys.argv[2], d["achieved_rps"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], d["latency_ms"]["p99_9"], d["latency_ms"]["max"], d["latency_uncorrected_ms"]["p99"], d["failed"]))' \
            "$w5dir/w5-$srv.json" "$srv" | tee -a "${RESULTS%.csv}.txt"
        series+=("$srv=$w5dir/w5-$srv.hgrm")
        sleep 2
    done
    if [ ${#series[@]} -gt 0 ]; then
        python3 "$WKB_ROOT/scripts/plot.py" latency "$w5dir/w5-latency.png" "${series[@]}" \
            --log-y --title "W5: latency at $W5_RATE requests/s for ${W5_SECONDS} s (corrected)" \
            || wkb_log "W5: plot.py failed"
    fi
    python3 "$WKB_ROOT/scripts/plot.py" bench "$w5dir/bench-throughput.png" "$RESULTS" \
        --loader tokio-load --title "W1-W3, loaded by tokio-load" || wkb_log "plot.py bench failed"
fi
