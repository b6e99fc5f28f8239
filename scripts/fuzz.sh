#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang and runs each for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 s each, targets decoder utf8
#
# Environment:
#   FUZZ_DIR   where the binaries, the working corpus and any crashes go
#              (default: build-fuzz; the seed corpus in tests/fuzz/corpus/ is only read)
#   CC         a clang (default: clang)
# Exits 1 when a target finds a crash (or fails to build or run), after printing the
# crashing input's bytes; copy the file named in the report into
# tests/fuzz/regressions/TARGET/ so that the normal suite replays it from then on.
# Prints one line per target: "fuzz TARGET: N runs in S s, corpus C, ok|CRASH".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
wk_install_deps clang libclang-rt-14-dev

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decoder utf8)
dir=${FUZZ_DIR:-build-fuzz}
cc=${CC:-clang}
mkdir -p "$dir/crashes"

flags=(-std=c11 -Wall -Wextra -g -O1 -D_GNU_SOURCE -Idatalayer -Itests/fuzz
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer)
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for t in "${targets[@]}"; do
  exe="$dir/fuzz_$t"
  "$cc" "${flags[@]}" -o "$exe" "tests/fuzz/fuzz_$t.c" \
    datalayer/data.c datalayer/decoder.c datalayer/utf8.c
  # The working corpus starts from the seeds and keeps what earlier runs found.
  mkdir -p "$dir/corpus-$t"
  cp -n "tests/fuzz/corpus/$t/"* "$dir/corpus-$t/" 2>/dev/null || true
  log="$dir/fuzz_$t.log"
  rc=0
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a leak or a runaway
  # allocation is a failure; crashes land in $dir/crashes/ named by target.
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/$t-" "$dir/corpus-$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  files=$(find "$dir/corpus-$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ${runs:-?} runs in ${seconds} s (${secs:-?}/s), corpus $files, ok"
  else
    status=1
    echo "fuzz $t: ${runs:-?} runs, exit $rc, CRASH; log $log:" >&2
    tail -40 "$log" >&2
    for f in "$dir/crashes/$t-"*; do
      [ -f "$f" ] || continue
      echo "input $f ($(stat -c %s "$f") bytes):" >&2
      od -An -tx1 -v "$f" | head -20 >&2
    done
    echo "fuzz $t: CRASH"
  fi
done
exit $status
