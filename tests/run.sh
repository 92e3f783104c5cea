#!/usr/bin/env bash
# tests/run.sh [CARGO TEST ARGS...] - the project's test command: build everything the tests
# run (tests/build.sh: every generator for wasm32-wasip2, the host's binaries), then run
# `cargo test --release --no-fail-fast` (every suite runs and reports, even after one fails) on
# the default workspace members.
#
#   ./tests/run.sh                       # everything
#   ./tests/run.sh -p reposmith-core     # extra arguments go to cargo test
#   ./tests/run.sh -- --nocapture
#
# Generators (generators/*, tests/generators/*) are not default members: they build for
# wasm32-wasip2 only, and `cargo test --workspace` would build them for the host. So build them
# first, then test the default members, which load the generators from
# $CARGO_TARGET_DIR/wasm32-wasip2/release.
# CARGO_TARGET_DIR defaults to /root/.cache/reposmith-target (a cache outside the clone).
# Needs: cargo, the wasm32-wasip2 target (rustup target add wasm32-wasip2), and for the
# end-to-end tests the tools .ci/run installs (apt, dpkg-dev, apt-utils, gnupg, ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/reposmith-target}

# Everything the tests run, by two fixed cargo commands (tests/build.sh says why fixed): every
# generator and the Spin components for wasm32-wasip2 (the core too: it is shared with the
# Spin target and must keep building there), then every default member's targets for the host.
echo "[run] tests/build.sh" >&2
tests/build.sh

# The generators' own unit tests (format parsing and rendering) run natively.
UNIT_PKGS=()
for toml in generators/*/Cargo.toml; do
  name=$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$toml" | head -n 1)
  [ -n "$name" ] && UNIT_PKGS+=(-p "$name")
done
if [ ${#UNIT_PKGS[@]} -gt 0 ]; then
  echo "[run] cargo test --release --lib ${UNIT_PKGS[*]}" >&2
  cargo test --release --lib "${UNIT_PKGS[@]}"
fi

# The fuzz targets (fuzz/README.md): every seed and every crash found so far runs through its
# target's body (fuzz/ is a workspace of its own, built without libFuzzer); then each target is
# fuzzed FUZZ_SMOKE seconds (default 15; 0 skips it), built by stable with libFuzzer's coverage
# instrumentation unless nightly + cargo-fuzz are there. A crash fails the run.
# Its own target dir per clone: cargo tells a separate workspace's path dependencies (the
# generators, their SDK) apart by absolute path, and two clones' builds in one dir left two
# SDKs side by side for rustc to mix up ("multiple different versions of crate").
FUZZ_TESTS_DIR="$CARGO_TARGET_DIR-fuzz-tests-$(pwd -P | sha256sum | cut -c1-8)"
echo "[run] cargo test --release --no-default-features --manifest-path fuzz/Cargo.toml (in $FUZZ_TESTS_DIR)" >&2
cargo test --release --no-default-features --manifest-path fuzz/Cargo.toml --target-dir "$FUZZ_TESTS_DIR"
if [ "${FUZZ_SMOKE:-15}" != 0 ]; then
  echo "[run] bench/fuzz.sh ${FUZZ_SMOKE:-15}" >&2
  bench/fuzz.sh "${FUZZ_SMOKE:-15}"
fi

# The Spin app (tests/tests/spin.rs): handler, services and wrapped generators in $CARGO_TARGET_DIR/spin.
echo "[run] PREBUILT=1 functions/spin/build.sh" >&2
PREBUILT=1 ./functions/spin/build.sh >&2

echo "[run] cargo test --release --no-fail-fast $*" >&2
exec cargo test --release --no-fail-fast "$@"
