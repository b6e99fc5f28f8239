#!/usr/bin/env bash
# scripts/bench-runtime.sh: libwakeful's micro-benchmarks beside tokio's (a benchmark, not a
# test).
#
#   scripts/bench-runtime.sh            # 5 rounds, about a minute on a quiet machine
#   ROUNDS=1 scripts/bench-runtime.sh   # a quick check
#
# Builds bench/micro.c (wakeful-micro) in release (bench/lib.sh: BUILD_DIR, LTO) and the
# peers' tokio-micro (PEERS_SRC, PEERS_DIR), then runs each pair of benchmarks ROUNDS times,
# interleaved, one process per run, each after waiting for a quiet machine:
#   (a) spawn     1,000,000 trivial tasks spawned, then every handle awaited
#   (b) pingpong  round trips between two tasks on one executor, each waking the other
#                 (tokio: pingpong-notify, two Notify; pingpong-mpsc is shown too)
#   (c) xthread   a plain thread wakes a task, which unparks the thread; 100,000 round trips
#   (d) sleepers  100,000 tasks each in a 10 s sleep: RSS before/after, then cancel all
# Raw lines (with cpu_s, other_cpu_s = machine busy CPU minus the run's own, and quiet=)
# go to bench/results/runtime-YYYYMMDD-HHMM.txt; then the table of medians (min–max) with
# the ratio wakeful/tokio.  Environment: ROUNDS (5), BENCHES ("spawn pingpong xthread
# sleepers"), SKIP_TOKIO=1, RESULTS, RUN_TIMEOUT_S (120 per run), and bench/lib.sh's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../bench/lib.sh
. "$here/../bench/lib.sh"
cd "$WKB_ROOT"

ROUNDS=${ROUNDS:-5}
BENCHES=${BENCHES:-"spawn pingpong xthread sleepers"}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-120}
RESULTS=${RESULTS:-$WKB_ROOT/bench/results/runtime-$(date +%Y%m%d-%H%M).txt}

wkb_deps
wkb_build bench/wakeful-micro
WK=$BUILD_DIR/bench/wakeful-micro
TK=""
if [ "${SKIP_TOKIO:-0}" != 1 ]; then
    wkb_peers
    TK=$PEERS_DIR/tokio-rust/tokio-micro/target/release/tokio-micro
fi
mkdir -p "$(dirname "$RESULTS")"
echo "# machine: $(wkb_machine); wakeful $(git rev-parse --short HEAD), LTO=$LTO; $(date -Is)" >"$RESULTS"

WKB_TMP=$(mktemp -d /tmp/bench-runtime.XXXXXX)
trap 'rm -rf "$WKB_TMP"' EXIT
trap 'exit 130' INT TERM

wkb_log "machine: $(wkb_machine); load now: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    for b in $BENCHES; do
        wkb_run wakeful "$round" "$WK" "$b"
        [ -z "$TK" ] || wkb_run_tokio "$round" "$TK" "$b"
    done
done

echo
python3 "$WKB_ROOT/bench/summarize_runtime.py" "$RESULTS" | tee "${RESULTS%.txt}.md"
wkb_log "raw lines: $RESULTS; table: ${RESULTS%.txt}.md"
