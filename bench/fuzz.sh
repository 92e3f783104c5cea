#!/usr/bin/env bash
# fuzz.sh [SECONDS_PER_TARGET] [TARGET...] - run every cargo-fuzz target of fuzz/ (or those
# named) for SECONDS_PER_TARGET seconds each (default 60), one after the other on one core,
# niced, and print a table: target, seconds, executions, executions/s, corpus size, crashes.
#
#   bench/fuzz.sh            # every target, a minute each
#   bench/fuzz.sh 600 deb    # the deb target for ten minutes
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`) the targets are built by
# `cargo +nightly fuzz build` (AddressSanitizer); without them (or with FUZZ_STABLE=1), by the
# stable toolchain with the same coverage instrumentation (`-C passes=sancov-module` and
# libFuzzer's flags, stable options) and no sanitizer: panics, overflows, timeouts and
# allocations over the limit are still found. That is what tests/run.sh's smoke runs in CI.
# Each target starts from the committed seeds
# (fuzz/corpus/TARGET/, read only) and from what earlier runs found, kept outside the clone in
# $FUZZ_WORK/corpus/TARGET/; a crash, leak, timeout or allocation over the limit goes to
# $FUZZ_WORK/artifacts/TARGET/ (reproduce: `cargo +nightly fuzz run TARGET FILE`; then fix it
# and add FILE under fuzz/regressions/TARGET/, see fuzz/README.md).
# Exits 1 if any target crashed.
#
# Environment:
#   FUZZ_TARGET_DIR  the fuzz build's target dir (default /root/.cache/reposmith-fuzz-target-KEY,
#                    or /root/.cache/reposmith-fuzz-stable-KEY for the stable build, KEY from
#                    the clone's path; never the workspace's: instrumented builds would evict
#                    its artifacts)
#   FUZZ_WORK        corpora grown by earlier runs, artifacts, logs
#                    (default /root/.cache/reposmith-fuzz)
#   FUZZ_ARGS        extra libFuzzer flags (e.g. "-max_len=65536")
#   SKIP_BUILD=1     run the binaries already built (another build may be under way)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECS=${1:-60}
shift || true
WORK=${FUZZ_WORK:-/root/.cache/reposmith-fuzz}
read -r -a EXTRA <<< "${FUZZ_ARGS:-}"

NIGHTLY=1
if [ -n "${FUZZ_STABLE:-}" ] || ! cargo +nightly --version >/dev/null 2>&1 \
  || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  NIGHTLY=
fi
if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(basename -s .rs fuzz/fuzz_targets/*.rs)
fi

HOST=$(rustc -vV | sed -n 's/^host: //p')
# One target dir per clone: the fuzz crate is its own workspace, so cargo tells its path
# dependencies (the generators, their SDK) apart by absolute path, and two clones' builds in
# one dir left two SDKs beside each other for rustc to mix up ("multiple different versions
# of crate reposmith_generator_sdk").
KEY=$(pwd -P | sha256sum | cut -c1-8)
if [ -n "$NIGHTLY" ]; then
  export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/root/.cache/reposmith-fuzz-target-$KEY}
  if [ -z "${SKIP_BUILD:-}" ]; then
    echo "[fuzz] building with nightly + cargo-fuzz (target dir $CARGO_TARGET_DIR)" >&2
    nice -n 10 cargo +nightly fuzz build >&2
  fi
else
  export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/root/.cache/reposmith-fuzz-stable-$KEY}
  if [ -z "${SKIP_BUILD:-}" ]; then
    echo "[fuzz] building with stable, coverage only (target dir $CARGO_TARGET_DIR)" >&2
    # cargo-fuzz's instrumentation without its sanitizer; --target keeps it off build scripts.
    RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
      nice -n 10 cargo build --release --target "$HOST" --manifest-path fuzz/Cargo.toml --bins >&2
  fi
fi
BIN="$CARGO_TARGET_DIR/$HOST/release"

ROWS=()
CRASHED=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/corpus/$t" "$WORK/artifacts/$t" "$WORK/logs"
  log="$WORK/logs/$t.log"
  before=$(find "$WORK/artifacts/$t" -type f | wc -l)
  echo "[fuzz] $t: ${SECS}s, log $log" >&2
  start=$EPOCHSECONDS
  rc=0
  # One process, one core (no -jobs/-workers); the grown corpus first, so new inputs go there.
  nice -n 10 "$BIN/$t" "$WORK/corpus/$t" "fuzz/corpus/$t" \
    -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="$WORK/artifacts/$t/" "${EXTRA[@]}" > "$log" 2>&1 || rc=$?
  took=$(( EPOCHSECONDS - start ))
  execs=$(awk '/stat::number_of_executed_units:/ {n=$2} END {print n+0}' "$log")
  # A crash stops libFuzzer before its final stats: take the last status line's count.
  if [ "$execs" = 0 ]; then
    execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    execs=${execs:-0}
  fi
  corpus=$(find "$WORK/corpus/$t" -type f | wc -l)
  crashes=$(( $(find "$WORK/artifacts/$t" -type f | wc -l) - before ))
  if [ "$rc" != 0 ] && [ "$crashes" = 0 ]; then crashes=1; fi
  if [ "$crashes" != 0 ]; then CRASHED=1; fi
  ROWS+=("$(printf '%-10s %8s %12s %10s %8s %8s' "$t" "$took" "$execs" \
    "$(( execs / (took > 0 ? took : 1) ))" "$corpus" "$crashes")")
done

printf '%-10s %8s %12s %10s %8s %8s\n' target seconds executions exec/s corpus crashes
printf '%s\n' "${ROWS[@]}"
if [ "$CRASHED" != 0 ]; then
  echo "[fuzz] crashes: see $WORK/artifacts/ and $WORK/logs/" >&2
  exit 1
fi
