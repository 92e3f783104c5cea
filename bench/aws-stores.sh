#!/usr/bin/env bash
# aws-stores.sh [N] - benchmark: the same uploads and publishes on the local file stores and on
# S3 + DynamoDB (a moto server on 127.0.0.1), and what one upload costs in store requests.
#
#   bench/aws-stores.sh          # N=100
#   RUNS=5 bench/aws-stores.sh 200
#
# For each store: a fresh server, a repo, N .debs uploaded one at a time with curl (each upload
# returns after its publish: the latency is upload + commit + publish), p50/p99 of those; then
# `manage-repo rebuild` RUNS times (drop metadata, re-analyze, republish N packages): median.
# On moto, the server logs the S3 and DynamoDB requests each API request sent
# (` [DynamoDB.GetItem=3 S3.PUT=2 ...]`): the medians over the N uploads are printed.
# Needs: moto_server (pip install "moto[s3,dynamodb]" flask flask-cors), curl, dpkg-deb.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args aws-stores.sh 100 3 awsdebs "$@"
command -v moto_server >/dev/null || die "moto_server not found (pip install 'moto[s3,dynamodb]' flask flask-cors)"

bench_init
trap 'stop_moto; bench_cleanup' EXIT
step "$ROOT/tests/fixtures/make-many-debs.sh" "$CACHE" "$N" awsb
mapfile -t FILES < <(find "$CACHE" -name '*.deb' | sort)
[ "${#FILES[@]}" = "$N" ] || die "expected $N debs in $CACHE"

# run LABEL: upload the N files one by one, then rebuild RUNS times; prints a table row
run() {
  local label=$1 f t us
  start_server
  curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$URL/repos/b/" >/dev/null
  : > "$W/lat.$label"
  for f in "${FILES[@]}"; do
    t=$(curl -fsS -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $TOKEN" \
      --data-binary "@$f" "$URL/repos/b/packages/?filename=$(basename "$f")")
    awk -v t="$t" 'BEGIN {printf "%.1f\n", t*1000}' >> "$W/lat.$label"
  done
  : > "$W/rebuild.$label"
  for (( r = 1; r <= RUNS; r++ )); do
    t=$(now_us)
    step "$BIN" --server "$URL" --token "$TOKEN" rebuild b >/dev/null
    us=$(( $(now_us) - t ))
    secs "$us" >> "$W/rebuild.$label"
  done
  local n
  n=$(curl -fsSL "$URL/repos/b/dist/dists/stable/main/binary-amd64/Packages" | grep -c '^Package: ' || true)
  [ "$n" = "$N" ] || die "$label: Packages lists $n, expected $N"
  sort -n "$W/lat.$label" > "$W/lat.sorted"
  local p50 p99
  p50=$(awk -v n="$N" 'NR == int((n*0.50)+0.999) {print; exit}' "$W/lat.sorted")
  p99=$(awk -v n="$N" 'NR == int((n*0.99)+0.999) {print; exit}' "$W/lat.sorted")
  printf '%-22s %10s %10s %14s\n' "$label" "$p50" "$p99" "$(median < "$W/rebuild.$label")" >> "$W/table"
  cp "$W/server.log" "$W/server.$label.log"
  stop_server
  rm -rf "$W/data"
}

printf '%-22s %10s %10s %14s\n' "stores (N=$N)" "upload p50" "p99 (ms)" "rebuild med (s)" > "$W/table"
SERVE_ARGS="" run local-file

start_moto # lib.sh: sets SERVE_ARGS
run s3+dynamodb-moto

cat "$W/table"
echo
echo "store requests per upload on moto (median over $N uploads; retries included):"
grep '^POST /repos/b/packages/ 201' "$W/server.s3+dynamodb-moto.log" \
  | sed -n 's/.*\[\(.*\)\]$/\1/p' | tr ' ' '\n' \
  | awk -F= '{v[$1] = v[$1] " " $2} END {for (k in v) print k, v[k]}' \
  | while read -r op values; do
      # shellcheck disable=SC2086
      printf '  %-26s %s\n' "$op" "$(printf '%s\n' $values | median)"
    done | sort
