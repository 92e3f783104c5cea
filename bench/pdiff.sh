#!/usr/bin/env bash
# pdiff.sh [N] - benchmark: what apt PDiffs save. Two repos of N .debs (default 10,000) on one
# server: `diffs` (the default, 14 patches kept) and `nodiffs` (repo option pdiffs=0).
#
#   bench/pdiff.sh            # N=10000
#   bench/pdiff.sh 1000       # quicker
#
# Bytes: three real apt clients (own state dirs, Acquire::PDiffs) update from `diffs` at N
# packages; then one package is added and client "1 behind" updates, four more are added and
# client "5 behind" updates, and a fresh client updates (the whole index). The figures are
# apt's own "Fetched N B" (every byte it downloaded: InRelease, Index, patches or Packages.xz).
# Publish time: RUNS single uploads into each repo, alternating (each answers once published):
# the median upload time with and without diffs.
# Prints progress on stderr and a table on stdout.
# Environment: MANAGE_REPO, REPOSMITH_GENERATORS, BENCH_CACHE, STEP_TIMEOUT, KEEP as in
# publish-debs.sh; RUNS=9 single uploads per repo.
# Needs: apt-get, curl, python3.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args pdiff.sh 10000 9 quick-deb "$@"
need "apt curl python3" apt-get curl python3 timeout

bench_init
EXTRA=$(( RUNS * 2 + 5 ))
TOTAL=$(( N + EXTRA ))
log "N=$N  $(nproc) CPUs; making $TOTAL .debs in $CACHE"
step python3 "$ROOT/tests/fixtures/make-many-quick.py" deb "$CACHE" "$TOTAL" "$PREFIX"
mapfile -t ALL < <(find "$CACHE" -name "$PREFIX-*.deb" | sort | head -n "$TOTAL")
[ "${#ALL[@]}" = "$TOTAL" ] || die "expected $TOTAL .debs in $CACHE, found ${#ALL[@]}"
BASEFILES=("${ALL[@]:0:N}")
MORE=("${ALL[@]:N}")

start_server
CLI=("$BIN" --server "$URL" --token "$TOKEN")
curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$URL/repos/diffs/" >/dev/null
curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"options": {"pdiffs": "0"}}' "$URL/repos/nodiffs/" >/dev/null
for repo in diffs nodiffs; do
  log "loading $N packages into $repo"
  step "${CLI[@]}" add -j 8 "$repo" "${BASEFILES[@]}" >"$W/add-$repo.out" 2>&1 ||
    { tail -20 "$W/add-$repo.out" >&2; die "add failed"; }
done
curl -fsS "$URL/repos/diffs/key.asc" > "$W/repo.asc"

# client NAME: an apt state dir $W/apt-NAME reading the `diffs` repo
client() {
  local d=$W/apt-$1
  mkdir -p "$d"/etc/apt/{sources.list.d,apt.conf.d,preferences.d,trusted.gpg.d} \
    "$d"/var/lib/apt/lists/partial "$d"/var/cache/apt/archives/partial "$d"/log "$d"/dpkg
  : > "$d/dpkg/status"
  echo "deb [signed-by=$W/repo.asc] $URL/repos/diffs/dist stable main" > "$d/etc/apt/sources.list"
  cat > "$d/apt.conf" <<CONF
Dir::Etc "$d/etc/apt";
Dir::State "$d/var/lib/apt";
Dir::State::status "$d/dpkg/status";
Dir::Cache "$d/var/cache/apt";
Dir::Log "$d/log";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::http::Proxy "DIRECT";
Acquire::PDiffs "true";
Debug::pkgAcquire::Diffs "true";
CONF
}

# update NAME: apt-get update for client NAME; prints the bytes apt fetched
update() {
  APT_CONFIG=$W/apt-$1/apt.conf step apt-get -q update --error-on=any >"$W/update-$1.log" 2>&1 ||
    { tail -20 "$W/update-$1.log" >&2; die "apt-get update ($1) failed"; }
  sed -n 's/^Fetched \([0-9,.]*\) \([kMG]*\)B in .*/\1 \2/p' "$W/update-$1.log" | tail -1 |
    awk '{gsub(",", "", $1); m = ($2 == "k") ? 1000 : ($2 == "M") ? 1000000 : ($2 == "G") ? 1e9 : 1; printf "%d\n", $1 * m}'
}
patches() { grep -c 'QueueNextDiff(): .*\.diff/T-' "$W/update-$1.log" || true; }

add_one() { # add_one REPO FILE: prints the upload's seconds
  local t
  t=$(now_us)
  step "${CLI[@]}" add "$1" "$2" >"$W/one.out" 2>&1 || { cat "$W/one.out" >&2; die "upload failed"; }
  secs $(( $(now_us) - t ))
}

client one; client five; client fresh
update one >/dev/null; update five >/dev/null
log "clients at $N packages; adding one package"
i=0
add_one diffs "${MORE[$i]}" >/dev/null; i=$((i + 1))
B1=$(update one); P1=$(patches one)
for _ in 1 2 3 4; do add_one diffs "${MORE[$i]}" >/dev/null; i=$((i + 1)); done
B5=$(update five); P5=$(patches five)
BF=$(update fresh)
XZ=$(curl -fsS "$URL/repos/diffs/dist/dists/stable/main/binary-amd64/Packages.xz" | wc -c)

log "publish time: $RUNS single uploads into each repo, alternating"
: > "$W/with.times"; : > "$W/without.times"
for (( r = 0; r < RUNS; r++ )); do
  add_one diffs "${MORE[$i]}" >> "$W/with.times"; i=$((i + 1))
  add_one nodiffs "${MORE[$i]}" >> "$W/without.times"; i=$((i + 1))
done
WITH=$(median < "$W/with.times"); WITHOUT=$(median < "$W/without.times")

report_head "apt PDiffs on a repo of $N packages"
f="%-44s %12s %9s\n"
# shellcheck disable=SC2059 # the format is $f
{
printf "$f" "apt-get update" "bytes" "patches"
printf "$f" "fresh client (whole Packages.xz: $XZ B)" "$BF" "0"
printf "$f" "1 version behind" "$B1" "$P1"
printf "$f" "5 versions behind (one merged patch)" "$B5" "$P5"
echo
printf "$f" "one upload, published (median of $RUNS)" "seconds" "ratio"
printf "$f" "with PDiffs (14 kept)" "$WITH" "$(ratio "$WITH" "$WITHOUT")"
printf "$f" "without (pdiffs=0)" "$WITHOUT" "1.00x"
}
