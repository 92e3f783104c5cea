#!/usr/bin/env bash
# functions/spin/build.sh - build the Spin app's components into ${CARGO_TARGET_DIR:-target}/spin/:
#   reposmith.wasm   the handler (spin-sdk 5.2, wasm32-wasip2)
#   services.wasm    the services component (also the empty generator slot)
#   NAME.wasm        each generator under generators/, unchanged inside, wrapped into a slot
#                    (services + generator + adapter, composed with wac-graph by spin-compose)
# `spin build` runs this (spin.toml); spin.toml's `target/` paths are these files.
# Extra generators: EXTRA_GENERATORS="path/to/x.wasm ..." are wrapped too (as x.wasm).
# PREBUILT=1: skip the two cargo builds, the components and spin-compose are built already
# (tests/build.sh builds them with everything else: see there why the tests build only that way).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
T=${CARGO_TARGET_DIR:-target}
W=$T/wasm32-wasip2/release
OUT=$T/spin
GENS=(deb rpm pacman apk freebsd cargo npm go)
PKGS=(-p reposmith-spin-handler -p reposmith-spin-services -p reposmith-spin-slot-adapter)
for g in "${GENS[@]}"; do PKGS+=(-p "reposmith-gen-$g"); done
if [ -z "${PREBUILT:-}" ]; then
  cargo build --release --target wasm32-wasip2 "${PKGS[@]}"
  cargo build --release -p reposmith-spin-compose
fi
mkdir -p "$OUT"
cp "$W/reposmith_spin_handler.wasm" "$OUT/reposmith.wasm"
cp "$W/reposmith_spin_services.wasm" "$OUT/services.wasm"
wrap() {
  "$T/release/reposmith-spin-compose" wrap --services "$W/reposmith_spin_services.wasm" \
    --adapter "$W/reposmith_spin_slot_adapter.wasm" "$1" "$2"
}
for g in "${GENS[@]}"; do wrap "$W/reposmith_gen_$g.wasm" "$OUT/$g.wasm"; done
for x in ${EXTRA_GENERATORS:-}; do wrap "$x" "$OUT/$(basename "$x")"; done
ls -l "$OUT"
