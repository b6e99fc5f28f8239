# shellcheck shell=bash
# bench/lib.sh: what scripts/bench.sh and scripts/bench-runtime.sh share.  Sourced, not run.
#
# Environment (all optional):
#   BUILD_DIR       wakeful's release build (default /tmp/wakeful-bench-build)
#   LTO             true|false: -Db_lto for that build (default true: measured in
#                   BENCHMARKS.md, "Build")
#   PEERS_SRC       the peers' sources (default: ../shared/peers beside the repository)
#   PEERS_DIR       where the peers are built (default /tmp/wakeful-peers)
#   PEERS_REBUILD=1 rebuild the peers even when their binaries are there
#   QUIET_MAX_S     how long to wait for a quiet machine before a run (default 120)

WKB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-/tmp/wakeful-bench-build}
LTO=${LTO:-true}
PEERS_SRC=${PEERS_SRC:-$WKB_ROOT/../shared/peers}
PEERS_DIR=${PEERS_DIR:-/tmp/wakeful-peers}
QUIET_MAX_S=${QUIET_MAX_S:-120}
WKB_HZ=$(getconf CLK_TCK)
export WKB_QUIET=no

wkb_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
wkb_die() { echo "$(basename "$0"): $*" >&2; exit 2; }

# Debian packages for building wakeful and running the harness (ss, timeout, python3).
wkb_deps() {
    # shellcheck source=../scripts/lib/deps.sh
    . "$WKB_ROOT/scripts/lib/deps.sh"
    wk_install_deps meson ninja-build pkg-config gcc libatomic-ops-dev iproute2 procps \
        coreutils python3 "$@"
}

# A release build of wakeful (no tests) in $BUILD_DIR; only the targets named are built.
wkb_build() {
    local args=(--buildtype=release -Dtests=false "-Db_lto=$LTO")
    wkb_log "building wakeful (${args[*]}) in $BUILD_DIR"
    if [ -f "$BUILD_DIR/build.ninja" ]; then
        meson setup --reconfigure "$BUILD_DIR" "$WKB_ROOT" "${args[@]}" >/dev/null
    else
        meson setup "$BUILD_DIR" "$WKB_ROOT" "${args[@]}" >/dev/null
    fi
    ninja -C "$BUILD_DIR" "$@" >/dev/null
}

# The peers, built by their own build.sh unless their binaries are there already.
wkb_peers() {
    local bins=(tokio-rust/target/release/tokio-server tokio-rust/target/release/tokio-load
                tokio-rust/tokio-micro/target/release/tokio-micro libuv-c/libuv-server) b need=0
    for b in "${bins[@]}"; do [ -x "$PEERS_DIR/$b" ] || need=1; done
    if [ "$need" = 1 ] || [ "${PEERS_REBUILD:-0}" = 1 ]; then
        [ -x "$PEERS_SRC/build.sh" ] || wkb_die "peers not found at $PEERS_SRC (set PEERS_SRC)"
        wkb_log "building the peers into $PEERS_DIR"
        "$PEERS_SRC/build.sh" "$PEERS_DIR" >/dev/null
    fi
    for b in "${bins[@]}"; do [ -x "$PEERS_DIR/$b" ] || wkb_die "peer build failed: $b"; done
}

# Busy CPU ticks of the whole machine (user nice system irq softirq steal).
wkb_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# Until <10 % of one core is busy over 1 s, at most QUIET_MAX_S; sets WKB_QUIET=yes|no.
wkb_wait_quiet() {
    local a b end=$((SECONDS + QUIET_MAX_S))
    WKB_QUIET=no
    while :; do
        a=$(wkb_busy); sleep 1; b=$(wkb_busy)
        [ $((b - a)) -lt $((WKB_HZ / 10)) ] && { WKB_QUIET=yes; return 0; }
        [ $SECONDS -lt $end ] || return 0
    done
}

# wkb_run RUNTIME ROUND BINARY ARGS...: one benchmark process (bench-runtime.sh,
# ab-runtime.sh) after a quiet-machine wait; appends to $RESULTS (and prints) its first
# stdout line prefixed with runtime= and run=, followed by cpu_s (its own user + system),
# other_cpu_s (the machine's busy CPU meanwhile, minus its own) and quiet=; a run that fails
# or prints nothing gives an ERROR line instead.  Needs RESULTS, RUN_TIMEOUT_S and WKB_TMP
# (a scratch directory).
wkb_run() {
    local rt=$1 round=$2 b0 b1 own other rc=0
    shift 2
    wkb_wait_quiet
    b0=$(wkb_busy)
    local TIMEFORMAT='%U %S'
    { time timeout -k 5 "$RUN_TIMEOUT_S" "$@" >"$WKB_TMP/out" 2>"$WKB_TMP/err"; } \
        2>"$WKB_TMP/time" || rc=$?
    b1=$(wkb_busy)
    if [ "$rc" != 0 ] || [ ! -s "$WKB_TMP/out" ]; then
        echo "runtime=$rt run=$round ERROR rc=$rc $* $(tr '\n' ' ' <"$WKB_TMP/err" | cut -c1-200)" |
            tee -a "$RESULTS"
        return 0
    fi
    own=$(awk '{printf "%.2f", $1 + $2}' "$WKB_TMP/time")
    other=$(awk -v d=$((b1 - b0)) -v o="$own" -v hz="$WKB_HZ" 'BEGIN{printf "%.2f", d / hz - o}')
    echo "runtime=$rt run=$round $(head -n1 "$WKB_TMP/out") cpu_s=$own other_cpu_s=$other quiet=$WKB_QUIET" |
        tee -a "$RESULTS"
}

# wkb_run_tokio ROUND TOKIO_MICRO BENCH: tokio-micro's counterpart of one wakeful runtime
# benchmark (wkb_run); the ping-pong has two, over a Notify and over an mpsc channel.
wkb_run_tokio() {
    case $3 in
    pingpong) wkb_run tokio "$1" "$2" pingpong-notify
              wkb_run tokio "$1" "$2" pingpong-mpsc ;;
    *)        wkb_run tokio "$1" "$2" "$3" ;;
    esac
}

wkb_machine() {
    echo "$(nproc) cores, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)," \
        "$(awk '/MemTotal/{printf "%.0f GB RAM", $2/1048576}' /proc/meminfo)," \
        "Linux $(uname -r), gcc $(gcc -dumpfullversion 2>/dev/null)"
}
