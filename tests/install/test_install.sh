#!/usr/bin/env bash
# The install test (meson test --suite install): wakeful as a user outside the tree gets it.
#   test_install.sh SOURCE_DIR
# 1. meson setup + ninja install into a temporary prefix (a default build: programs on);
# 2. the layout: libwakeful.so.0 (SONAME), a real (not thin) libwakeful.a, public headers
#    only, wakeful.pc, the programs, the systemd unit (its ExecStart the installed
#    program); nothing but wk_ names exported;
# 3. outside the source tree, with that prefix's pkg-config: a C program linked shared, the
#    same linked --static, a C++17 program; each runs;
# 4. a throw-away meson project that takes wakeful as a subproject through
#    dependency('wakeful'): it builds, runs, and the subproject made no test, no program
#    and no systemd unit.
set -euo pipefail
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "---- $*"; }
quiet() { "$@" > "$work/log" 2>&1 || { cat "$work/log" >&2; fail "$*"; }; }

step "meson setup + install into $prefix"
quiet meson setup "$work/build" "$src" --prefix "$prefix" --libdir lib -Dtests=false \
    -Dbuildtype=release
quiet ninja -C "$work/build" install

step "layout"
lib=$prefix/lib
for f in lib/libwakeful.so.0 lib/libwakeful.a lib/pkgconfig/wakeful.pc \
         include/wakeful/wakeful.h include/wakeful/version.h include/wakeful/executor.h \
         bin/wakeful-server bin/wakeful-client; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
for f in include/wakeful/internal.h include/wakeful/heap.h include/internal.h include/data.h; do
    [ ! -e "$prefix/$f" ] || fail "internal header installed: $f"
done
# A thin archive starts with "!<thin>" and holds only paths into the build tree.
# The systemd unit, under the prefix, starting the program installed there.
unit=$prefix/lib/systemd/system/wakeful-server.service
[ -f "$unit" ] || fail "not installed: lib/systemd/system/wakeful-server.service"
grep -q "^ExecStart=$prefix/bin/wakeful-server " "$unit" ||
    fail "the unit's ExecStart is not $prefix/bin/wakeful-server: $(grep ExecStart= "$unit")"
echo "unit: $(grep ExecStart= "$unit")"
[ "$(head -c 7 "$lib/libwakeful.a")" = '!<arch>' ] || fail "libwakeful.a is not a real archive"
soname=$(readelf -d "$lib/libwakeful.so.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libwakeful.so.0 ] || fail "SONAME is '$soname', want libwakeful.so.0"
echo "SONAME $soname"
exported=$(nm -D --defined-only "$lib/libwakeful.so.0" | awk '{print $3}')
[ -n "$exported" ] || fail "nothing exported"
if stray=$(grep -v '^wk_' <<<"$exported"); then
    fail "exported without the wk_ prefix: $stray"
fi
if internal=$(grep '^wk__' <<<"$exported"); then
    fail "internal wk__ names exported: $internal"
fi
echo "exported: $(wc -l <<<"$exported") symbols, all wk_"

export PKG_CONFIG_PATH=$lib/pkgconfig
cd "$work"
cp "$here/user_prog.c" "$here/user_prog.cpp" .
cc=${CC:-cc}
cxx=c++

step "C, shared: pkg-config --cflags --libs wakeful"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror user_prog.c -o prog_shared \
    $(pkg-config --cflags --libs wakeful)
readelf -d prog_shared | grep -q 'NEEDED.*libwakeful.so.0' || fail "prog_shared does not need libwakeful.so.0"
LD_LIBRARY_PATH=$lib ./prog_shared

step "C, static: pkg-config --static"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror -static user_prog.c -o prog_static \
    $(pkg-config --static --cflags --libs wakeful)
if readelf -d prog_static 2>/dev/null | grep -q 'NEEDED.*libwakeful'; then
    fail "prog_static needs the shared library"
fi
./prog_static

step "C++17"
# shellcheck disable=SC2046
"$cxx" -std=c++17 -Wall -Wextra -Werror user_prog.cpp -o prog_cxx \
    $(pkg-config --cflags --libs wakeful)
LD_LIBRARY_PATH=$lib ./prog_cxx

step "meson subproject: dependency('wakeful')"
mkdir -p parent/subprojects
cp "$here/parent/meson.build" user_prog.c parent/
ln -s "$src" parent/subprojects/wakeful
# --force-fallback-for: even where a wakeful is installed system-wide, take the subproject.
unset PKG_CONFIG_PATH
quiet meson setup parent/build parent --force-fallback-for=wakeful
quiet ninja -C parent/build
parent/build/parent_prog
targets=$(meson introspect parent/build --targets |
    python3 -c 'import json,sys; print("\n".join(sorted(t["name"] for t in json.load(sys.stdin))))')
echo "targets: $(tr '\n' ' ' <<<"$targets")"
while read -r t; do
    case $t in
    parent_prog | wakeful) ;;
    *) fail "the subproject built '$t' (only the library is wanted)" ;;
    esac
done <<<"$targets"
tests=$(meson introspect parent/build --tests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$tests" = 0 ] || fail "the subproject defined $tests tests"
installed=$(meson introspect parent/build --installed | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).values()))')
if grep -q '\.service$' <<<"$installed"; then
    fail "the subproject would install a systemd unit: $installed"
fi
echo "subproject: only the library, no test"
echo "install test: ok"
