#!/usr/bin/env bash
# bench/wakeful-load.sh: wakeful-client dressed as tokio-load, so that the peers' harness
# (../shared/peers/bench.sh, via LOAD=) can drive it unchanged.
#
# The harness calls   LOAD --host H --port P --requests N --concurrency C [LOAD_ARGS]
# wakeful-client takes the same long flags; this wrapper adds --json and the bench's fixed
# settings, and turns the JSON summary into tokio-load's one line:
#   ok=N failed=N wall_s=X rps=X p50_ms=X p99_ms=X max_ms=X   (+ client_cpu_s=X)
# Exit status: the client's (1 when any request failed, as tokio-load).
#
# Environment: WAKEFUL_CLIENT (the binary; required), WKLOAD_ARGS (default
# "--threads 2 --payload-bytes 20 --timeout-ms 60000": tokio-load's defaults on this
# machine: one thread per core, a 20-byte field3, a 60 s per-request timeout).
# The conversion is one sed over one line, so the wrapper adds ~2 ms of CPU to the
# loader CPU the harness measures.
set -u
: "${WAKEFUL_CLIENT:?set WAKEFUL_CLIENT to the wakeful-client binary}"
out=$(mktemp /tmp/wakeful-load.XXXXXX)
trap 'rm -f "$out"' EXIT
rc=0
# shellcheck disable=SC2086
"$WAKEFUL_CLIENT" "$@" ${WKLOAD_ARGS:---threads 2 --payload-bytes 20 --timeout-ms 60000} \
    --json >"$out" || rc=$?
line=$(head -n1 "$out")
[ -n "$line" ] || exit "${rc:-1}"
sed -E 's/.*"ok":([0-9]+),"failed":([0-9]+),.*"wall_s":([^,]*),"rps":([^,]*),"latency_ms":\{"min":[^,]*,"mean":[^,]*,"stdev":[^,]*,"p50":([^,]*),"p75":[^,]*,"p90":[^,]*,"p99":([^,]*),"p99_9":[^,]*,"p99_99":[^,]*,"max":([^}]*)\},.*"cpu_s":\{"user":([^,]*),"sys":([^}]*)\}.*/ok=\1 failed=\2 wall_s=\3 rps=\4 p50_ms=\5 p99_ms=\6 max_ms=\7 client_cpu_user_s=\8 client_cpu_sys_s=\9/' <<<"$line"
exit $rc
