#!/usr/bin/env bash
# bench/ab-runtime.sh: the runtime micro-benchmarks (bench/micro.c) of an older commit and
# of the working tree, side by side in one run, with tokio-micro beside them.  For checking
# that a change to the runtime costs nothing; scripts/bench-runtime.sh is the plain
# wakeful-vs-tokio run.
#
#   bench/ab-runtime.sh REV [ROUNDS=5]    # e.g. bench/ab-runtime.sh 76eb3b5 7
#
# Builds REV (git archive, so the checkout is untouched) and the working tree in release
# with LTO (bench/lib.sh's wkb_build), each in its own build directory under AB_DIR, and
# the peers (PEERS_SRC, PEERS_DIR).  Then ROUNDS rounds; in each, every benchmark runs
# once per build, alternating which build goes first from round to round (a machine that
# gets busier or quieter during a round then favours neither), then tokio.  One process per
# run, each after a quiet-machine wait of at most QUIET_MAX_S (default here 3 s, not 120:
# on a shared machine it is rarely quiet, and alternating is what protects the
# comparison).  Raw lines (runtime=before|after|tokio) go to RESULTS; then two tables of
# medians: after vs tokio, and after vs before with the ratio paired by round besides (the
# median of each round's after/before, steadier when the machine's load comes and goes).
#
# Environment: ROUNDS, BENCHES ("spawn pingpong xthread sleepers"), SKIP_TOKIO=1, RESULTS
# (bench/results/runtime-ab-YYYYMMDD-HHMM.txt), AB_DIR (/tmp/wakeful-ab-runtime),
# RUN_TIMEOUT_S (120 per run), and bench/lib.sh's (LTO, PEERS_SRC, PEERS_DIR, QUIET_MAX_S).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: ab-runtime.sh REV [ROUNDS]" >&2; exit 2; }
QUIET_MAX_S=${QUIET_MAX_S:-3}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cd "$WKB_ROOT"

REV=$(git rev-parse --short "$1")
ROUNDS=${2:-${ROUNDS:-5}}
BENCHES=${BENCHES:-"spawn pingpong xthread sleepers"}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-120}
AB_DIR=${AB_DIR:-/tmp/wakeful-ab-runtime}
RESULTS=${RESULTS:-$WKB_ROOT/bench/results/runtime-ab-$(date +%Y%m%d-%H%M).txt}

wkb_deps
rm -rf "$AB_DIR/before-src"
mkdir -p "$AB_DIR/before-src"
git archive "$REV" | tar -x -C "$AB_DIR/before-src"
(WKB_ROOT=$AB_DIR/before-src BUILD_DIR=$AB_DIR/before-build wkb_build bench/wakeful-micro)
(BUILD_DIR=$AB_DIR/after-build wkb_build bench/wakeful-micro)
declare -A BIN=([before]=$AB_DIR/before-build/bench/wakeful-micro
                [after]=$AB_DIR/after-build/bench/wakeful-micro)
TK=""
if [ "${SKIP_TOKIO:-0}" != 1 ]; then
    wkb_peers
    TK=$PEERS_DIR/tokio-rust/tokio-micro/target/release/tokio-micro
fi
AFTER=$(git rev-parse --short HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || AFTER="$AFTER+uncommitted"
mkdir -p "$(dirname "$RESULTS")"
{
    echo "# machine: $(wkb_machine); LTO=$LTO; $(date -Is)"
    echo "# before = $REV, after = $AFTER; $ROUNDS rounds, the two" \
         "builds alternating first/second per round, then tokio; QUIET_MAX_S=$QUIET_MAX_S"
} >"$RESULTS"

WKB_TMP=$(mktemp -d /tmp/ab-runtime.XXXXXX)
trap 'rm -rf "$WKB_TMP"' EXIT
trap 'exit 130' INT TERM

wkb_log "machine: $(wkb_machine); load now: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    order="before after"
    [ $((round % 2)) = 1 ] || order="after before"
    for b in $BENCHES; do
        for rt in $order; do
            wkb_run "$rt" "$round" "${BIN[$rt]}" "$b"
        done
        [ -z "$TK" ] || wkb_run_tokio "$round" "$TK" "$b"
    done
done

{
    echo
    echo "## after ($AFTER) vs tokio"
    echo
    python3 "$WKB_ROOT/bench/summarize_runtime.py" "$RESULTS" after tokio
    echo
    echo "## after vs before ($REV)"
    echo
    python3 "$WKB_ROOT/bench/summarize_runtime.py" "$RESULTS" after before
} | tee "${RESULTS%.txt}.md"
wkb_log "raw lines: $RESULTS; tables: ${RESULTS%.txt}.md"
