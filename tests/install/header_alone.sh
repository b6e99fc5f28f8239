#!/usr/bin/env bash
# One public header, first and alone in a translation unit, as C11-pedantic and as C++17,
# warnings as errors, no feature macro:  header_alone.sh HEADER_NAME SRC_INCLUDE BUILD_INCLUDE
# (meson runs it once per header in runtime/include/wakeful/meson.build's list).
set -euo pipefail
name=$1 src_inc=$2 build_inc=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#include <wakeful/%s>\nint main(void) { return 0; }\n' "$name" > "$dir/t.c"
printf '#include <wakeful/%s>\nint main() { return 0; }\n' "$name" > "$dir/t.cpp"
cc=${CC_FOR_HEADERS:-cc}
cxx=${CXX_FOR_HEADERS:-c++}
"$cc" -std=c11 -pedantic -Wall -Wextra -Werror -I"$src_inc" -I"$build_inc" -c "$dir/t.c" -o "$dir/c.o"
echo "C11 -pedantic: ok"
if ! command -v "$cxx" >/dev/null; then
    echo "no C++ compiler ($cxx): install g++" >&2
    exit 1
fi
"$cxx" -std=c++17 -Wall -Wextra -Werror -I"$src_inc" -I"$build_inc" -c "$dir/t.cpp" -o "$dir/cxx.o"
echo "C++17: ok"
