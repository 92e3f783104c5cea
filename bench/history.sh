#!/usr/bin/env bash
# history.sh [N] - benchmark: rollback and promote (docs/history.md) on a repo of N .debs
# (default 10,000), and what a rollback costs in store requests on S3 + DynamoDB (moto).
#
#   bench/history.sh                      # 10,000 debs (loading them takes a few minutes)
#   RUNS=5 bench/history.sh 2000
#   MOTO_N=1000 PROMOTE=500 bench/history.sh
#
# Inputs: N + EXTRA debs by tests/fixtures/make-many-quick.py, kept between runs (BENCH_CACHE,
# default ${TMPDIR:-/tmp}/reposmith-bench/history-deb-N).
# On the local file stores (one server, lib.sh):
#   load      repo `bench` gets N debs with `manage-repo add -j JOBS` (batches of 1,000), then
#             EXTRA (5) single uploads: EXTRA more generations on top of the load's last, G0;
#   rollback  POST /repos/bench/rollback to G0 (undoes the EXTRA uploads: N packages), then a
#             rollback of that rollback (N + EXTRA), RUNS times each way: median seconds of each
#             (the call answers once the new generation is published); after each, the signed
#             index must list the right number of packages;
#   promote   PROMOTE (1,000) of bench's packages copied into a new repo by one transaction
#             (`{"op": "copy", "from": "bench", "filename": ...}` each), RUNS times (a new repo
#             each time): median seconds; the new repo's index must list PROMOTE;
#   calls     the store calls each rollback and promote made (GET /metrics, read around each).
# On S3 + DynamoDB (a moto server, lib.sh's start_moto): MOTO_N (300) debs loaded the same
# way, EXTRA single uploads, then RUNS rollbacks each way: the store calls and the S3 and
# DynamoDB requests they sent (GET /metrics: S3.*, DynamoDB.*), per rollback.
# Output: progress on stderr; the report bench/reports/history-deb-N.md (REPORT_DIR).
# Environment: RUNS (3), EXTRA (5), PROMOTE (1000, at most N), MOTO_N (300, 0 skips moto),
# JOBS (8); MANAGE_REPO, REPOSMITH_GENERATORS, STEP_TIMEOUT, KEEP, BENCH_CACHE as in lib.sh.
# Needs: python3, curl, xz; moto_server (pip install "moto[s3,dynamodb]" flask flask-cors).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args "history.sh [N]" 10000 3 history-deb "${1:-}"
EXTRA=${EXTRA:-5} JOBS=${JOBS:-8} MOTO_N=${MOTO_N:-300} PROMOTE=${PROMOTE:-1000}
[ "$PROMOTE" -le "$N" ] || PROMOTE=$N
[ "$MOTO_N" -le "$N" ] || MOTO_N=$N
need "curl xz-utils python3" curl xz python3
[ "$MOTO_N" = 0 ] || command -v moto_server >/dev/null || die "moto_server not found (pip install 'moto[s3,dynamodb]' flask flask-cors), or MOTO_N=0"
REPORT_DIR=${REPORT_DIR:-$ROOT/bench/reports}
mkdir -p "$REPORT_DIR"
OUT=$REPORT_DIR/history-deb-$N.md

bench_init
trap 'stop_moto; bench_cleanup' EXIT

# ---------------------------------------------------------------- inputs
TOTAL=$(( N + EXTRA ))
T=$(now_us)
step python3 "$ROOT/tests/fixtures/make-many-quick.py" deb "$CACHE" "$TOTAL" "$PREFIX"
FILES=()
width=$(( ${#TOTAL} > 4 ? ${#TOTAL} : 4 ))
for (( i = 1; i <= TOTAL; i++ )); do
  printf -v f '%s/%s-%0*d_1.0-1_amd64.deb' "$CACHE" "$PREFIX" "$width" "$i"
  FILES+=("$f")
done
for f in "${FILES[0]}" "${FILES[-1]}"; do [ -s "$f" ] || die "missing $f"; done
log "$TOTAL debs ready in $(secs $(( $(now_us) - T ))) s ($CACHE); N=$N RUNS=$RUNS, $(nproc) CPUs, work dir $W"

# ---------------------------------------------------------------- helpers

# api METHOD PATH [BODY_FILE]: one request with the token (BODY_FILE its body: JSON or a
# package), the answer in $W/answer; fails (saying why) unless the status is 2xx
api() {
  local code args=(-sS -o "$W/answer" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN")
  if [ -n "${3:-}" ]; then args+=(--data-binary "@$3"); fi
  code=$(timeout "$STEP_TIMEOUT" curl "${args[@]}" "$URL$2") || { log "$1 $2: curl failed"; return 1; }
  case $code in
    2??) ;;
    *) log "$1 $2: HTTP $code $(head -c 600 "$W/answer")"; return 1 ;;
  esac
}

# listed_count REPO: how many packages REPO's published apt index lists; its Packages.xz must
# be the one its InRelease names (the signed index)
listed_count() {
  local d=$URL/repos/$1/dist/dists/stable
  curl -fsSL -o "$W/InRelease" "$d/InRelease" && curl -fsSL -o "$W/Packages.xz" "$d/main/binary-amd64/Packages.xz" || return 1
  grep -q "^ $(sha256sum < "$W/Packages.xz" | cut -d' ' -f1) .* main/binary-amd64/Packages.xz\$" "$W/InRelease" \
    || { log "$1: the InRelease does not name the Packages.xz served"; return 1; }
  xz -dc "$W/Packages.xz" | grep -c '^Package: ' || true
}

# expect_listed REPO COUNT WHAT: dies unless REPO's index lists COUNT packages
expect_listed() {
  local n
  n=$(listed_count "$1") || die "$1: no index $3"
  [ "$n" = "$2" ] || die "$1: the index lists $n packages $3, expected $2"
}

# load REPO COUNT: creates REPO and adds FILES[0..COUNT) with `manage-repo add -j JOBS` in
# batches of 1,000, then the EXTRA files one upload each; sets LOAD_US (the bulk add), G0 (the
# generation after the bulk add) and GN (after the singles)
load() {
  local repo=$1 count=$2 i b t
  step "${CLI[@]}" create "$repo" >"$W/create.out" 2>&1 || { cat "$W/create.out" >&2; die "create $repo failed"; }
  t=$(now_us)
  for (( i = 0; i < count; i += 1000 )); do
    b=$(( count - i < 1000 ? count - i : 1000 ))
    step "${CLI[@]}" add -j "$JOBS" "$repo" "${FILES[@]:i:b}" >"$W/add.out" 2>&1 || { tail -5 "$W/add.out" >&2; die "add failed at $i"; }
    log "$repo: $(( i + b )) of $count added ($(secs $(( $(now_us) - t ))) s)"
  done
  LOAD_US=$(( $(now_us) - t ))
  expect_listed "$repo" "$count" "after loading"
  api GET "/repos/$repo/history?limit=1" || die "no history of $repo"
  G0=$(json_num generation < "$W/answer")
  for (( i = N; i < N + EXTRA; i++ )); do
    api POST "/repos/$repo/packages/?filename=${FILES[i]##*/}" "${FILES[i]}" || die "upload ${FILES[i]##*/} failed"
  done
  GN=$(json_num generation < "$W/answer")
  [ "$GN" = $(( G0 + EXTRA )) ] || die "$repo: $EXTRA uploads took generation $G0 to $GN"
  expect_listed "$repo" $(( count + EXTRA )) "after $EXTRA more uploads"
  log "$repo: $count packages loaded in $(secs "$LOAD_US") s (generation $G0), $EXTRA more: generation $GN"
}

# calls_around LABEL CMD...: CMD, with the store counters read before and after; the moves go
# to $W/calls.LABEL (appended, "kind count" lines) and the time (seconds) to $W/time.LABEL
calls_around() {
  local label=$1 t us
  shift
  store_counts > "$W/c0"
  t=$(now_us)
  "$@" || die "$label failed"
  us=$(( $(now_us) - t ))
  store_counts > "$W/c1"
  counts_diff "$W/c0" "$W/c1" 1 >> "$W/calls.$label"
  secs "$us" >> "$W/time.$label"
}

# per_op LABEL RUNS: the mean move of each counter over RUNS operations, "kind value" lines
per_op() {
  awk -v n="$2" '{ s[$1] += $2 } END { for (k in s) printf "%s %.1f\n", k, s[k] / n }' "$W/calls.$1" | sort
}

# rollbacks LABEL COUNT: RUNS rollbacks of REPO to G0 (COUNT packages) and RUNS back to the
# last state (COUNT + EXTRA), alternating; each checked against the signed index
rollbacks() {
  local r
  printf '{"generation": %d}\n' "$G0" > "$W/to-base.json"
  for (( r = 1; r <= RUNS; r++ )); do
    api GET "/repos/$REPO/history?limit=1" || die "no history"
    printf '{"generation": %d}\n' "$(json_num generation < "$W/answer")" > "$W/to-last.json"
    calls_around "$1-back" api POST "/repos/$REPO/rollback" "$W/to-base.json"
    expect_listed "$REPO" "$2" "after rollback $r to generation $G0"
    calls_around "$1-forth" api POST "/repos/$REPO/rollback" "$W/to-last.json"
    expect_listed "$REPO" $(( $2 + EXTRA )) "after rolling back rollback $r"
    log "$1 rollback $r: $(tail -1 "$W/time.$1-back") s back, $(tail -1 "$W/time.$1-forth") s forth"
  done
}

# ---------------------------------------------------------------- file stores
start_server
CLI=("$BIN" --server "$URL" --token "$TOKEN")
if ! store_counts > "$W/counts" || [ ! -s "$W/counts" ]; then die "this server has no GET /metrics"; fi
load "$REPO" "$N"
FILE_LOAD_US=$LOAD_US
LOAD_RATE=$(awk -v n="$N" -v us="$LOAD_US" 'BEGIN {printf "%.0f", n * 1e6 / us}')
rollbacks file "$N"

# promote: PROMOTE packages by file name into a new repo, RUNS times
{
  printf '{"operations": ['
  for (( i = 0; i < PROMOTE; i++ )); do
    [ "$i" = 0 ] || printf ','
    printf '{"op": "copy", "from": "%s", "filename": "%s"}' "$REPO" "${FILES[i]##*/}"
  done
  printf '], "replace": false}\n'
} > "$W/promote.json"
for (( r = 1; r <= RUNS; r++ )); do
  api POST "/repos/prod$r/" || die "create prod$r failed"
  calls_around promote api POST "/repos/prod$r/transactions" "$W/promote.json"
  expect_listed "prod$r" "$PROMOTE" "after the promote"
  log "promote $r: $PROMOTE packages in $(tail -1 "$W/time.promote") s"
done
HWM=$(hwm_kib)
stop_server

# ---------------------------------------------------------------- S3 + DynamoDB (moto)
if [ "$MOTO_N" -gt 0 ]; then
  # out of the way (removing N packages' blobs takes minutes): the cleanup removes it
  mv "$W/data" "$W/data.file"
  start_moto
  start_server
  CLI=("$BIN" --server "$URL" --token "$TOKEN")
  MOTO_G0=0
  load "$REPO" "$MOTO_N"
  MOTO_G0=$G0 MOTO_LOAD_US=$LOAD_US
  rollbacks moto "$MOTO_N"
  stop_server
  stop_moto
fi

# ---------------------------------------------------------------- report
VERSION=$("$BIN" --version 2>/dev/null | head -1 || true)
med() { median < "$W/time.$1"; }
# calls_table LABEL...: the mean store calls per operation of each LABEL, one column each
calls_table() {
  local l k
  for l in "$@"; do per_op "$l" "$RUNS" > "$W/per.$l"; done
  mapfile -t KINDS < <(for l in "$@"; do cut -d' ' -f1 "$W/per.$l"; done | sort -u)
  printf '| store call |'; printf ' %s |' "$@"; echo
  printf '|---|'; printf -- '---:|%.0s' "$@"; echo
  for k in "${KINDS[@]}"; do
    printf '| %s |' "$k"
    for l in "$@"; do printf ' %s |' "$(awk -v k="$k" '$1 == k {v = $2} END {print (v == "" ? "0" : v)}' "$W/per.$l")"; done
    echo
  done
  printf '| **total store calls** (meta + packages) |'
  for l in "$@"; do printf ' %s |' "$(awk '$1 ~ /^(meta|packages)[.]/ {s += $2} END {printf "%.1f", s}' "$W/per.$l")"; done
  echo
  if cat "${@/#/$W/per.}" | grep -qE '^(S3|DynamoDB)[.]'; then
    printf '| **total S3 + DynamoDB requests** |'
    for l in "$@"; do printf ' %s |' "$(awk '$1 ~ /^(S3|DynamoDB)[.]/ {s += $2} END {printf "%.1f", s}' "$W/per.$l")"; done
    echo
  fi
}
{
  echo "# History: rollback and promote, deb, $N packages"
  echo
  echo "bench/history.sh $N, $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs, $(uname -r); $VERSION at \`$BIN\`;"
  echo "RUNS=$RUNS (medians), EXTRA=$EXTRA, PROMOTE=$PROMOTE, MOTO_N=$MOTO_N; server peak RSS $(kib_to_mib "$HWM") MiB (file stores)."
  echo
  echo "| operation (file stores) | median (s) | runs |"
  echo "|---|---:|---:|"
  echo "| load $N debs, \`manage-repo add -j $JOBS\` ($LOAD_RATE packages/s) | $(secs "$FILE_LOAD_US") | 1 |"
  echo "| rollback to the load's generation ($N packages; undoes $EXTRA uploads) | $(med file-back) | $RUNS |"
  echo "| rollback of that rollback ($(( N + EXTRA )) packages) | $(med file-forth) | $RUNS |"
  echo "| promote $PROMOTE packages into a new repo (one transaction, copy by file name) | $(med promote) | $RUNS |"
  echo
  echo "Each call answers once its generation is published; after each, the repo's signed index"
  echo "(Packages.xz as InRelease names it) was checked to list the right number of packages."
  echo
  echo "Store calls per operation (GET /metrics around each, mean), file stores:"
  echo
  calls_table file-back file-forth promote
  echo
  if [ "$MOTO_N" -gt 0 ]; then
    echo "On S3 + DynamoDB (moto), a repo of $MOTO_N packages, rollback to generation $MOTO_G0 and back"
    echo "(load: $(secs "$MOTO_LOAD_US") s; rollback medians $(med moto-back) s and $(med moto-forth) s on moto, which is no"
    echo "measure of AWS latency): store calls and the S3 / DynamoDB requests they sent, per rollback:"
    echo
    calls_table moto-back moto-forth
    echo
  fi
} > "$OUT"
log "report: $OUT"
cat "$OUT" >&2
