#!/usr/bin/env bash
# tests/build.sh - build everything the tests run, in two cargo commands that never change:
#   1. for wasm32-wasip2 (release): every generator (generators/*, tests/generators/*), the
#      core, and the Spin app's handler, services and slot adapter;
#   2. for the host (release): every default member's targets (`--all-targets`: what
#      `cargo test --release` builds, plus the binaries: manage-repo, the Lambda functions,
#      spin-compose).
# tests/run.sh runs it first and the test harness runs it again (a no-op when fresh). One
# fixed selection matters: cargo unifies a dependency's features over the packages a command
# selects, so `-p reposmith-manage-repo` alone or `-p reposmith-lambda` alone resolves wasmtime,
# hyper and the AWS SDK with other features, and rebuilds them and everything above them (on a
# new machine that was the whole stack three times over, and each build relinked the others'
# binaries in place).
# The store fault injector (REPOSMITH_FAULTS) is compiled in: the tests crate asks for
# reposmith-stores' `faults` feature.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/reposmith-target}

WASM_PKGS=(-p reposmith-core -p reposmith-spin-handler -p reposmith-spin-services
  -p reposmith-spin-slot-adapter)
for toml in generators/*/Cargo.toml tests/generators/*/Cargo.toml; do
  name=$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$toml" | head -n 1)
  [ -n "$name" ] && WASM_PKGS+=(-p "$name")
done
echo "[build] cargo build --release --target wasm32-wasip2 ${WASM_PKGS[*]}" >&2
cargo build --release --target wasm32-wasip2 "${WASM_PKGS[@]}"
echo "[build] cargo build --release --all-targets" >&2
cargo build --release --all-targets
