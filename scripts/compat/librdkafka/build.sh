#!/usr/bin/env bash
# Build librdkafka 2.12.1's integration test runner (tests/test-runner) and
# the rdkafka_performance load tool, from the librdkafka sources shipped inside
# the crates.io package rdkafka-sys (fetched with cargo, so no other download).
#
#   scripts/compat/librdkafka/build.sh   -> prints the built librdkafka dir
#
# Cache: ${LIBRDKAFKA_WORK:-${XDG_CACHE_HOME:-~/.cache}/gregor-compat}/librdkafka.
# A finished build there is reused only if its src/rdkafka.h says it is
# librdkafka 2.12.1 (RD_KAFKA_VERSION 0x020c01ff); any other content is
# rebuilt. The directory name is shared with other checkouts of this project
# on the same machine on purpose: the build is identical and takes ~10 min on
# 2 cores. Set LIBRDKAFKA_WORK to keep a private one.
#
# Needs cargo, gcc, make, python3. As root on Debian it apt-installs the
# -dev packages librdkafka's configure wants.
set -euo pipefail

RDKAFKA_SYS_VERSION="4.10.0+2.12.1"
WANT_HEX="0x020c01ff" # librdkafka 2.12.1
WORK="${LIBRDKAFKA_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/gregor-compat}"
SRC="$WORK/librdkafka"
JOBS="$(nproc)"

log() { echo "[librdkafka-build] $*" >&2; }

built_ok() {
    [[ -x "$SRC/tests/test-runner" && -x "$SRC/examples/rdkafka_performance" ]] &&
        grep -q "define RD_KAFKA_VERSION *$WANT_HEX" "$SRC/src/rdkafka.h" 2>/dev/null
}

if built_ok; then echo "$SRC"; exit 0; fi

mkdir -p "$WORK"
# One build at a time per cache directory.
exec 9>"$WORK/.build.lock"
flock 9
if built_ok; then echo "$SRC"; exit 0; fi

if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    need=()
    for p in build-essential libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev pkg-config python3; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if ((${#need[@]})); then
        log "apt-get install ${need[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
fi

# A throwaway project that depends on exactly this rdkafka-sys; cargo fetch
# unpacks the crate (with librdkafka's full source tree) into CARGO_HOME.
probe="$WORK/probe-$RDKAFKA_SYS_VERSION"
mkdir -p "$probe/src"
cat >"$probe/Cargo.toml" <<TOML
[package]
name = "librdkafka-source-probe"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
rdkafka-sys = "=${RDKAFKA_SYS_VERSION}"
[workspace]
TOML
echo 'fn main() {}' >"$probe/src/main.rs"
(cd "$probe" && cargo fetch -q)
manifest="$(cd "$probe" && cargo metadata --format-version 1 |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="rdkafka-sys"))')"
crate_dir="$(dirname "$manifest")"
[[ -d "$crate_dir/librdkafka/tests" ]] || { log "no librdkafka/tests in $crate_dir"; exit 2; }

rm -rf "$SRC"
cp -a "$crate_dir/librdkafka" "$SRC"
chmod -R u+w "$SRC"
cd "$SRC"
log "configure"
./configure --disable-curl >"$WORK/configure.log" 2>&1 || { tail -30 "$WORK/configure.log" >&2; exit 2; }
log "make libs (several minutes on 2 cores)"
make -j"$JOBS" libs >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log" >&2; exit 2; }
log "make tests"
make -C tests -j"$JOBS" build >"$WORK/make-tests.log" 2>&1 || { tail -30 "$WORK/make-tests.log" >&2; exit 2; }
log "make rdkafka_performance"
make -C examples rdkafka_performance >"$WORK/make-examples.log" 2>&1 || { tail -30 "$WORK/make-examples.log" >&2; exit 2; }
built_ok || { log "build finished but test-runner/rdkafka_performance missing"; exit 2; }
echo "$SRC"
