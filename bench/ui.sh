#!/usr/bin/env bash
# bench/ui.sh [N] - the web interface's repo page at N packages (default 50,000): fills a repo
# (or reuses one from an earlier run) and prints the time to the first page of
# /ui/repos/REPO (median of RUNS=9, the page fetched whole, as a browser asks: Accept:
# text/html), its size, and the same for a search (?q=) and the next page.
#
#   bench/ui.sh            # 50,000 debs (make-many-quick.py), loaded with `add --atomic`
#   bench/ui.sh 5000       # quicker
#
# The packages are cached in $BASE/quick-deb-N and the loaded data dir in $BASE/ui-data-N
# (reused while it holds N packages; delete it to load again). Prints figures; asserts nothing.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args bench/ui.sh 50000 9 quick-deb "${1:-}"
BATCH=${BATCH:-5000}
need "curl" curl python3
bench_init
DATA=$BASE/ui-data-$N
mkdir -p "$DATA"
ln -s "$DATA" "$W/data"
log "N=$N RUNS=$RUNS  $(nproc) CPUs, $(uname -r), work dir $W"
step python3 "$ROOT/tests/fixtures/make-many-quick.py" deb "$CACHE" "$N" "$PREFIX"
mapfile -t FILES < <(find "$CACHE" -maxdepth 1 -name "$PREFIX-*_1.0-1_amd64.deb" | sort | head -n "$N")
[ "${#FILES[@]}" = "$N" ] || die "$CACHE holds ${#FILES[@]} packages, not $N"
# the load sends two writes a file (start, PUT): past the default per-client write rate
SERVE_ARGS="${SERVE_ARGS:-} --writes-per-minute 0"
start_server
CLI=("$BIN" --server "$URL" --token "$TOKEN")

count() { curl -fsS "$URL/repos/$REPO/" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))' 2>/dev/null || echo 0; }
have=$(count)
if [ "$have" != "$N" ]; then
  log "loading $N packages into $DATA (has $have): add --atomic, $BATCH a transaction"
  "${CLI[@]}" create "$REPO" >/dev/null 2>&1 || true
  t=$(now_us)
  for (( i = 0; i < N; i += BATCH )); do
    step "${CLI[@]}" add --atomic "$REPO" "${FILES[@]:i:BATCH}" >"$W/add.out" 2>&1 || { tail -5 "$W/add.out" >&2; die "add failed at $i"; }
    log "loaded $(( i + BATCH < N ? i + BATCH : N )) in $(secs $(( $(now_us) - t ))) s"
  done
  have=$(count)
  [ "$have" = "$N" ] || die "the repo lists $have packages, not $N"
else
  log "reusing $DATA: $N packages"
fi

# page PATH: RUNS fetches; prints "median_ms bytes server_cpu_ms_per_request" (the CPU time
# the server spent, which a busy machine does not inflate as it does the wall time)
page() {
  local r out=$W/page.times c0 c1
  : > "$out"
  c0=$(cpu_ticks "$SPID")
  for (( r = 0; r < RUNS; r++ )); do
    curl -fsS -o "$W/page.html" -H 'Accept: text/html' -w '%{time_total}\n' "$URL$1" \
      | awk '{printf "%.1f\n", $1 * 1000}' >> "$out"
  done
  c1=$(cpu_ticks "$SPID")
  echo "$(median < "$out") $(wc -c < "$W/page.html") $(awk -v s="$(ticks_secs $(( c1 - c0 )))" -v n="$RUNS" 'BEGIN {printf "%.1f", s * 1000 / n}')"
}

curl -fsS -o /dev/null -H 'Accept: text/html' "$URL/ui/repos/$REPO"   # warm: the head's buckets loaded once
read -r t1 b1 u1 < <(page "/ui/repos/$REPO")
next=$(sed -n 's#.*href="\([^"]*cursor=[^"]*\)" rel="next".*#\1#p' "$W/page.html" | head -1 | sed 's/&amp;/\&/g')
read -r t2 b2 u2 < <(page "/ui/repos/$REPO?q=${PREFIX}-0420")
read -r t3 b3 u3 < <(page "${next:-/ui/repos/$REPO}")
read -r t4 b4 u4 < <(page "/ui/")
report_head "bench/ui.sh: the web interface at $N packages ($REPO), curl to $URL"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (wall times grow with it; server CPU ms do not)"
printf '%-44s %12s %14s %10s\n' "page" "median ms" "server CPU ms" "bytes"
printf '%-44s %12s %14s %10s\n' "/ui/repos/$REPO (first page, 50 rows)" "$t1" "$u1" "$b1"
printf '%-44s %12s %14s %10s\n' "/ui/repos/$REPO?q=${PREFIX}-0420 (search)" "$t2" "$u2" "$b2"
printf '%-44s %12s %14s %10s\n' "next page (cursor)" "$t3" "$u3" "$b3"
printf '%-44s %12s %14s %10s\n' "/ui/ (repo list)" "$t4" "$u4" "$b4"
css=$(sed -n 's#.*href="/ui/assets/\(style[^"]*\)".*#\1#p' "$W/page.html" | head -1)
js=$(sed -n 's#.*src="/ui/assets/\(app[^"]*\)".*#\1#p' "$W/page.html" | head -1)
printf '%-44s %12s %14s %10s\n' "assets (once; cached a year): $css + $js" "-" "-" \
  "$(( $(curl -fsS "$URL/ui/assets/$css" | wc -c) + $(curl -fsS "$URL/ui/assets/$js" | wc -c) ))"
