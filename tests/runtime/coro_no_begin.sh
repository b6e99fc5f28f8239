#!/usr/bin/env bash
# A coroutine body without WK_CO_BEGIN, inside a switch of its own (the one shape that would
# otherwise compile and misbehave), must not compile, and the error must name the macro:
#   coro_no_begin.sh CC SRC_INCLUDE BUILD_INCLUDE
set -euo pipefail
cc=$1 src_inc=$2 build_inc=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/t.c" <<'C'
#include <wakeful/wakeful.h>
typedef struct t { wk_future base; int co; int state; wk_sleep s; } t;
wk_poll t_poll(wk_future *f, wk_context *cx);
wk_poll t_poll(wk_future *f, wk_context *cx)
{
    t *x = (t *)f;
    switch (x->state) {
    case 0:
        WK_CO_AWAIT(x->co, &x->s, cx);
        WK_CO_END(x->co);
}
C
if "$cc" -std=c11 -I"$src_inc" -I"$build_inc" -c "$dir/t.c" -o "$dir/t.o" 2> "$dir/err"; then
    echo "FAIL: a coroutine without WK_CO_BEGIN compiled" >&2
    exit 1
fi
grep -q 'WK_CO_BEGIN_missing' "$dir/err" || { cat "$dir/err" >&2; echo "FAIL: the error does not name WK_CO_BEGIN" >&2; exit 1; }
echo "no WK_CO_BEGIN: does not compile, and says so"
