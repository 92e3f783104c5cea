# bench/lib.sh - shared helpers of the benchmark scripts (sourced, not run).
# Sets nothing up by itself; a script calls bench_init, then start_server, and gets
# W (work dir), SPID (server pid) and REPOSMITH_URL / REPOSMITH_TOKEN exported.
# shellcheck shell=bash

TARGET=${CARGO_TARGET_DIR:-/root/.cache/reposmith-target}
BIN=${MANAGE_REPO:-$TARGET/release/manage-repo}
BASE=${TMPDIR:-/tmp}/reposmith-bench
STEP_TIMEOUT=${STEP_TIMEOUT:-1800}
SPID="" CPID="" W=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
now_us() { echo "${EPOCHREALTIME/./}"; }
# secs MICROSECONDS -> "12.345"
secs() { printf '%d.%03d\n' $(( $1 / 1000000 )) $(( $1 % 1000000 / 1000 )); }
# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
kib_to_mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status"; }

# step CMD...: CMD under `timeout`, in the background, so a signal is handled at once
step() {
  local rc=0
  timeout "$STEP_TIMEOUT" "$@" &
  CPID=$!
  wait "$CPID" || rc=$?
  CPID=""
  return "$rc"
}

bench_cleanup() {
  local rc=$?
  if [ -n "$CPID" ]; then kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true; fi
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  if [ -n "$W" ] && [ -d "$W/gnupg" ]; then gpgconf --homedir "$W/gnupg" --kill all 2>/dev/null; fi
  if [ "${KEEP:-0}" = 1 ]; then log "work dir kept: $W"; elif [ -n "$W" ]; then rm -rf "$W"; fi
  exit "$rc"
}

bench_init() {
  [ -x "$BIN" ] || die "manage-repo not found at $BIN (cargo build --release, or set MANAGE_REPO)"
  mkdir -p "$BASE"
  W=$(mktemp -d "$BASE/run.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# start_server: the shipped generators (or $REPOSMITH_GENERATORS), a fresh data dir, a free
# port (the server prints it). Sets URL, TOKEN and exports REPOSMITH_URL / REPOSMITH_TOKEN.
start_server() {
  local gens=${REPOSMITH_GENERATORS:-}
  if [ -z "$gens" ]; then
    gens=$W/generators
    mkdir -p "$gens"
    cp "$TARGET"/wasm32-wasip2/release/reposmith_gen_*.wasm "$gens/" ||
      die "no generators built (cargo generators)"
  fi
  mkdir -p "$W/data"
  TOKEN=bench-$RANDOM$RANDOM$RANDOM
  export REPOSMITH_TOKEN=$TOKEN
  unset REPOSMITH_DATA REPOSMITH_LISTEN
  log "starting $BIN serve --listen 127.0.0.1:0 --data $W/data --generators $gens"
  local t
  t=$(now_us)
  # SERVE_ARGS: more serve arguments, e.g. "--packages s3://B/P --meta dynamodb://T"
  # shellcheck disable=SC2086
  "$BIN" serve --listen 127.0.0.1:0 --data "$W/data" --generators "$gens" ${SERVE_ARGS:-} >"$W/server.log" 2>&1 &
  SPID=$!
  URL=""
  # a fresh data dir compiles the generators first (seconds, more on a busy machine)
  for _ in $(seq 1200); do
    kill -0 "$SPID" 2>/dev/null || { cat "$W/server.log" >&2; die "server exited during startup"; }
    URL=$(sed -n 's#^reposmith listening on \(http://[^ /]*\).*#\1#p' "$W/server.log" | head -n 1)
    [ -n "$URL" ] && curl -fsS -o /dev/null "$URL/repos/" 2>/dev/null && break
    sleep 0.1
  done
  [ -n "$URL" ] || { cat "$W/server.log" >&2; die "server not listening after 120 s"; }
  export REPOSMITH_URL=$URL
  log "server pid $SPID at $URL ready in $(secs $(( $(now_us) - t )))s, VmHWM $(kib_to_mib "$(hwm_kib)") MiB"
}
