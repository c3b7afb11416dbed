#!/usr/bin/env bash
# The installed library, as a C programmer gets it: `cmake --install` into a temporary prefix,
# then examples/read_shard.c compiled against that prefix only, once with
# `cc $(pkg-config --cflags --libs milnce)` and once with find_package(milnce) in CMake, run
# on shards (one from `milnce synth`, one written by GNU tar and indexed by the example), its
# listing compared with Python's tarfile. Also: libmilnce.so's SONAME, that it exports milnce_
# names only, that no private header or _GNU_SOURCE leaks into the flags, and the installed
# command runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$BIN")
CC=${CC:-cc}
W=$(mktemp -d /tmp/milnce-e2e-install-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
for tool in pkg-config nm readelf "$CC"; do
  need_cmd "$tool"
done

cmake --install "$BUILD" --prefix "$W/prefix" > "$W/install.log" || { cat "$W/install.log"; fail "cmake --install"; }
P=$W/prefix
pc=$(find "$P" -name milnce.pc)
so=$(find "$P" -name 'libmilnce.so.0' | head -1)
[ -n "$pc" ] && [ -n "$so" ] && [ -f "$(dirname "$so")/libmilnce.a" ] && [ -x "$P/bin/milnce" ] \
  && [ -f "$P/include/milnce/milnce.h" ] || { find "$P"; fail "installed tree incomplete"; }
LIBDIR=$(dirname "$so")
ok "installed: $(cd "$P" && find . -type f | sort | tr '\n' ' ')"

# Private headers stay private: only the public set is installed.
ls "$P/include/milnce" > "$W/headers"
for h in s3dg.h layers.h model.h train.h commands.h blas_select.h video_internal.h simd.h; do
  if grep -qx "$h" "$W/headers"; then fail "private header $h installed"; fi
done
ok "public headers: $(tr '\n' ' ' < "$W/headers")"

dyn=$(readelf -d "$so")
grep -q 'SONAME.*\[libmilnce\.so\.0\]' <<<"$dyn" || fail "SONAME: $(grep SONAME <<<"$dyn")"
nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^milnce_' > "$W/foreign" || true
[ ! -s "$W/foreign" ] || fail "libmilnce.so exports non-milnce_ names: $(head -5 "$W/foreign" | tr '\n' ' ')"
n=$(nm -D --defined-only "$so" | wc -l)
[ "$n" -gt 50 ] || fail "only $n exported symbols"
ok "SONAME libmilnce.so.0, $n exported symbols, all milnce_"

export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs milnce)
[ "$(pkg-config --modversion milnce)" = "$("$P/bin/milnce" --version | awk '{print $2}')" ] || fail "pc version"
case "$flags" in *_GNU_SOURCE*|*/src*|*/io*|*/pipeline*) fail "flags leak internals: $flags";; esac
grep -rq '_GNU_SOURCE' "$LIBDIR/cmake/milnce" && fail "_GNU_SOURCE in the CMake package"
# A sanitizer build's library needs its runtime in the program too.
san=()
if grep -q 'libasan' <<<"$dyn"; then san=(-fsanitize=address,undefined); fi
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror -pedantic "${san[@]}" "$SRC/examples/read_shard.c" -o "$W/read_shard" $flags \
  || fail "cc read_shard.c \$(pkg-config --cflags --libs milnce)"
deps=$(LD_LIBRARY_PATH=$LIBDIR ldd "$W/read_shard")
grep -q "$LIBDIR/libmilnce.so.0" <<<"$deps" || fail "read_shard does not use the installed libmilnce.so.0: $deps"
ok "cc read_shard.c $flags"
# The static library, with the dependencies milnce.pc lists for it.
sflags=$(pkg-config --static --libs milnce | sed "s#-lmilnce#$LIBDIR/libmilnce.a#")
# shellcheck disable=SC2086
"$CC" -std=c11 "${san[@]}" "$SRC/examples/read_shard.c" -o "$W/read_shard_static" $(pkg-config --cflags milnce) $sflags \
  || fail "static link with pkg-config --static --libs milnce"
deps=$(ldd "$W/read_shard_static")
grep -q libmilnce <<<"$deps" && fail "static build still needs libmilnce.so"
ok "static link: cc read_shard.c libmilnce.a \$(pkg-config --static --libs milnce)"

# Shards: one from milnce synth (with its index), one by GNU tar (indexed by the example).
"$P/bin/milnce" synth --out "$W/syn" --videos 3 --eval-videos 1 --min-seconds 4 --max-seconds 6 --size 64x48 \
  --shard --shard-samples 2 --quiet
shard=$(find "$W/syn" -name '*-000000.tar' | sort | head -1)
[ -n "$shard" ] || fail "synth made no shard: $(find "$W/syn" | head)"
mkdir -p "$W/gnu" && (cd "$W/gnu" && printf 'abc' > a1.txt && head -c 70000 /dev/urandom > a1.bin \
  && printf '{"x": 1}' > b2.json && tar --format=gnu -cf ../gnu.tar a1.txt a1.bin b2.json)
expect() { # member listing by Python's tarfile, grouped by key as WebDataset readers do
  "$PY" - "$1" <<'PY'
import sys, tarfile
keys = []
for m in tarfile.open(sys.argv[1]):
    k = m.name.split("/")[-1].split(".")[0]
    if not keys or keys[-1] != k: keys.append(k)
    print(len(keys) - 1, m.name, m.size)
PY
}
run() { LD_LIBRARY_PATH=$LIBDIR "$@"; }
run "$W/read_shard" "$shard" > "$W/out1" || fail "read_shard $shard: $(cat "$W/out1")"
expect "$shard" > "$W/exp1"
diff <(grep -v '^read_shard' "$W/out1") "$W/exp1" || fail "read_shard listing differs from tarfile's"
"$W/read_shard_static" "$shard" | diff - "$W/out1" || fail "the static build lists differently"
grep -q "^read_shard (libmilnce $(pkg-config --modversion milnce)): 2 samples" "$W/out1" || fail "summary: $(tail -1 "$W/out1")"
run "$W/read_shard" --reindex "$W/gnu.tar" > "$W/out2" || fail "read_shard --reindex: $(cat "$W/out2")"
diff <(grep -v '^read_shard' "$W/out2") <(expect "$W/gnu.tar") || fail "GNU tar listing differs"
: > "$W/bad.tar"
set +e
run "$W/read_shard" "$W/bad.tar" > "$W/out3" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'bad.tar\|bad.idx.json' "$W/out3" || fail "bad shard: rc $rc, $(cat "$W/out3")"
ok "read_shard lists both shards as tarfile does; a bad one fails naming it"

# find_package(milnce) -> milnce::milnce from the same prefix.
cflags=${san[*]:-}
cmake -S "$SRC/examples" -B "$W/ex" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$cflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$cflags" > "$W/ex.log" 2>&1 || { cat "$W/ex.log"; fail "find_package(milnce)"; }
cmake --build "$W/ex" > "$W/exb.log" 2>&1 || { cat "$W/exb.log"; fail "build with milnce::milnce"; }
"$W/ex/read_shard" "$shard" | grep -v '^read_shard' | diff - "$W/exp1" || fail "find_package build differs"
ok "find_package(milnce) -> milnce::milnce builds and runs (RPATH $(readelf -d "$W/ex/read_shard" | grep -c 'R.*PATH') entry)"

echo "e2e_install: $pass checks passed"
