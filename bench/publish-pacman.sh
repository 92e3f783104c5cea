#!/usr/bin/env bash
# publish-pacman.sh [N] - benchmark: publish a pacman repo of N packages with reposmith, and the
# same files with repo-add, on this machine (median of RUNS, peak memory).
#
#   bench/publish-pacman.sh          # N=1000
#   RUNS=3 bench/publish-pacman.sh 200
#
# Packages: N small genuine-format pacman packages from tests/fixtures/make-many-pacman.sh.
# (a) reposmith: `manage-repo add` of all N (4 in flight; each returns once published), then
#     `manage-repo rebuild` RUNS times (re-read every package, republish db and files, signed);
#     peak memory: VmHWM of the server.
# (b) repo-add: `repo-add --quiet REPO.db.tar.gz *.pkg.tar.zst` from scratch, RUNS times
#     (unsigned: it would need a gpg key; reposmith signs); peak RSS via /usr/bin/time.
# Only 127.0.0.1 traffic; the server is killed on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args publish-pacman.sh 1000 5 pacman "$@"
need "libarchive-tools zstd pacman-package-manager curl" bsdtar zstd repo-add curl timeout
bench_init

# ---------------------------------------------------------------- inputs
many_inputs make-many-pacman.sh '%s-%0*d-1.0-1-x86_64.pkg.tar.zst'

# ---------------------------------------------------------------- (a) reposmith
start_server
"$BIN" create bench >/dev/null
T=$(now_us)
step "$BIN" add bench "${FILES[@]}" >/dev/null 2>"$W/add.log" || { cat "$W/add.log" >&2; die "upload failed"; }
ADD_US=$(( $(now_us) - T ))
log "add: $(secs "$ADD_US") s for $N packages"
db=$(curl -fsS "$REPOSMITH_URL/repos/bench/pacman/x86_64/bench.db" | bsdtar -tf - | grep -c '/desc$')
[ "$db" -eq "$N" ] || die "published db lists $db packages, expected $N"
echo 5 > "/proc/$SPID/clear_refs" 2>/dev/null || true
RS=()
for (( r = 1; r <= RUNS; r++ )); do
  T=$(now_us)
  step "$BIN" rebuild bench >/dev/null
  RS+=("$(secs $(( $(now_us) - T )))")
  log "rebuild $r/$RUNS: ${RS[-1]} s"
done
RS_HWM=$(hwm_kib)

# ---------------------------------------------------------------- (b) repo-add
RA=() RA_RSS=0
mkdir -p "$W/ra"
for (( r = 1; r <= RUNS; r++ )); do
  rm -f "$W"/ra/*
  T=$(now_us)
  step /usr/bin/time -f %M -o "$W/ra.rss" repo-add --quiet "$W/ra/bench.db.tar.gz" "${FILES[@]}" 2>/dev/null
  RA+=("$(secs $(( $(now_us) - T )))")
  rss=$(tail -n 1 "$W/ra.rss")
  [ "$rss" -gt "$RA_RSS" ] && RA_RSS=$rss
  log "repo-add $r/$RUNS: ${RA[-1]} s"
done
ra_db=$(bsdtar -tf "$W/ra/bench.db.tar.gz" | grep -c '/desc$')
[ "$ra_db" -eq "$N" ] || die "repo-add db lists $ra_db packages"

RS_MED=$(printf '%s\n' "${RS[@]}" | median)
RA_MED=$(printf '%s\n' "${RA[@]}" | median)
echo
echo "publish a pacman repo of $N packages, $RUNS runs each, $(nproc) CPUs, $(date +%F)"
printf '%-40s %9s %9s %8s\n' "" "median s" "peak MiB" "ratio"
printf '%-40s %9s %9s %7sx\n' "reposmith: manage-repo rebuild (signed)" "$RS_MED" "$(kib_to_mib "$RS_HWM")" \
  "$(awk -v a="$RS_MED" -v b="$RA_MED" 'BEGIN {printf "%.2f", a/b}')"
printf '%-40s %9s %9s %7sx\n' "repo-add (unsigned)" "$RA_MED" "$(kib_to_mib "$RA_RSS")" "1.00"
echo "reposmith: uploading all $N with manage-repo add (4 in flight, each published): $(secs "$ADD_US") s"
echo "rebuild runs (s): ${RS[*]}   repo-add runs (s): ${RA[*]}"
