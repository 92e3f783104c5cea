#!/usr/bin/env bash
# rebuild.sh FORMAT [N] - benchmark: rebuild a repository of N packages (FORMAT deb, rpm or
# pacman) with reposmith, and build the same files' metadata from scratch with the format's
# reference tool, on this machine; then the time to add one package to the N-package repo.
#
#   bench/rebuild.sh deb              # N=1000
#   RUNS=3 bench/rebuild.sh rpm 200   # quicker
#   BEFORE=/work/before bench/rebuild.sh deb 1000   # also an older build, in the same table
#
# (a) reposmith: starts `manage-repo serve` on 127.0.0.1 (port 0: a free one) with a fresh data
#     dir, creates a repo, uploads the N packages with one `manage-repo add REPO FILE...`, checks
#     the published index lists N, then times POST /repos/REPO/rebuild (what `manage-repo
#     rebuild` sends: drop metadata, re-analyze every package, republish, sign) RUNS times, each
#     checked the same way; the server's own split (analyze_millis, publish_millis) is reported
#     too. Peak memory: VmHWM of the server process, reset (clear_refs) after the uploads, so it
#     is the peak during the rebuilds alone (the whole process: its idle size is printed too).
#     Then `manage-repo add` of one more package (it returns once published), RUNS times,
#     removed again (untimed) in between.
#     With BEFORE=DIR (a manage-repo binary and the generator .wasm files it shipped with), (a)
#     runs for that build first, on a server and data dir of its own.
# (b) the reference tool on the same files, from scratch each run, RUNS times; peak RSS from
#     /usr/bin/time -f %M (the largest process of the pipeline); signed with a throwaway ed25519
#     gpg key made before the clock starts:
#     deb     `apt-ftparchive packages` > Packages, gzip -9n, xz, `apt-ftparchive release`,
#             InRelease + Release.gpg
#     rpm     `createrepo_c $CREATEREPO_ARGS` (default --no-database: reposmith publishes no
#             sqlite either), detached armored signature of repomd.xml
#     pacman  `repo-add --sign` (REPO.db and REPO.files, each with its detached signature)
# Prints progress on stderr, a table on stdout (tool, median s, peak MiB, ratios), and writes
# the same as markdown to $REPORT (default bench/reports/rebuild-FORMAT-N.md; REPORT= to skip).
#
# Environment:
#   MANAGE_REPO          the binary (default $CARGO_TARGET_DIR/release/manage-repo,
#                        CARGO_TARGET_DIR defaulting to /root/.cache/reposmith-target)
#   REPOSMITH_GENERATORS a folder of generator .wasm files for --generators (default: a copy of
#                        the reposmith_gen_*.wasm built under $CARGO_TARGET_DIR/wasm32-wasip2/release)
#   BEFORE               a folder with an older manage-repo and its reposmith_gen_*.wasm
#   RUNS=5               timed runs of each step (median reported)
#   BENCH_CACHE          where the generated packages are kept between runs
#                        (default ${TMPDIR:-/tmp}/reposmith-bench/FORMATs-N)
#   BENCH_CLIENT_CHECK=1 afterwards, the real client (apt for deb, dnf for rpm) installs
#                        bench-0002 and its dependency from the reposmith repo (0 to skip)
#   STEP_TIMEOUT=1800    seconds any single step may take before the benchmark gives up
#   KEEP=1               keep the work dir (server data, logs, the reference tool's tree)
# Only 127.0.0.1 traffic. The servers are killed on exit, whatever happens.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FORMAT=${1:-}
case $FORMAT in
  deb) CACHE_NAME=debs MAKER=make-many-debs.sh NAME_FMT='%s-%0*d_1.0-1_amd64.deb' REF="apt-ftparchive+gzip+xz+release+gpg"
       need "dpkg-dev apt-utils gzip xz-utils gnupg curl coreutils" dpkg-deb apt-ftparchive gzip xz gpg curl timeout ;;
  rpm) CACHE_NAME=rpms MAKER=make-many-rpms.sh NAME_FMT='%s-%0*d-1.0-1.noarch.rpm' REF="createrepo_c ${CREATEREPO_ARGS---no-database} + gpg"
       need "rpm createrepo-c gzip gnupg curl coreutils" rpmbuild createrepo_c gzip gpg curl timeout ;;
  pacman) CACHE_NAME=pacman MAKER=make-many-pacman.sh NAME_FMT='%s-%0*d-1.0-1-x86_64.pkg.tar.zst' REF="repo-add --sign"
       need "libarchive-tools zstd pacman-package-manager gnupg curl" bsdtar zstd repo-add gpg curl timeout ;;
  *) echo "usage: rebuild.sh deb|rpm|pacman [N>0]" >&2; exit 2 ;;
esac
shift
bench_args "rebuild.sh $FORMAT" 1000 5 "$CACHE_NAME" "$@"
REPORT=${REPORT-$ROOT/bench/reports/rebuild-$FORMAT-$N.md}
bench_init

# ---------------------------------------------------------------- inputs
many_inputs "$MAKER" "$NAME_FMT"
step "$ROOT/tests/fixtures/$MAKER" "$W/one" 1 extra
# shellcheck disable=SC2059 # NAME_FMT is a format
printf -v ONE "$W/one/$NAME_FMT" extra 4 1
[ -s "$ONE" ] || die "missing $ONE"

# count_published: how many packages the repo's published index lists
count_published() {
  local base=$URL/repos/$REPO href
  case $FORMAT in
    deb) curl -fsS "$base/dist/dists/stable/main/binary-amd64/Packages.xz" | xz -dc | grep -c '^Package: ' ;;
    rpm) href=$(curl -fsS "$base/repodata/repomd.xml" | sed -n 's#.*<location href="\(repodata/[0-9a-f]*-primary.xml.gz\)"/>.*#\1#p')
         curl -fsS "$base/$href" | gzip -dc | grep -c '<package type="rpm">' ;;
    pacman) curl -fsS "$base/pacman/x86_64/$REPO.db" | bsdtar -tf - | grep -c '/desc$' ;;
  esac
}
expect() { # LABEL COUNT
  local n
  n=$(count_published || true)
  [ "$n" = "$2" ] || die "$1: the published index lists ${n:-no} packages, expected $2"
}
check_all() { expect "$1" "$N"; }

client_check() {
  [ "${BENCH_CLIENT_CHECK:-1}" = 1 ] || return 0
  case $FORMAT in
    deb) command -v apt-get >/dev/null || return 0
         curl -fsS -o "$W/key.asc" "$URL/repos/$REPO/key.asc" || die "no key at $URL/repos/$REPO/key.asc"
         APT_KEY=$W/key.asc APT_INSTALL="$PREFIX-0002" APT_EXPECT_FILES="/usr/share/$PREFIX-0001/VERSION /usr/share/$PREFIX-0002/VERSION" \
           APT_DOWNLOAD="" HARNESS_TMP=$W/apt step "$ROOT/tests/clients/apt.sh" "$URL/repos/$REPO/dist" >"$W/client.log" 2>&1 ;;
    rpm) command -v dnf >/dev/null || return 0
         DNF_KEYS="" DNF_INSTALL="$PREFIX-0002" DNF_EXPECT_PKGS="$PREFIX-0001-1.0-1.noarch $PREFIX-0002-1.0-1.noarch" \
           HARNESS_TMP=$W/dnf step "$ROOT/tests/clients/dnf.sh" "$URL/repos/$REPO/" >"$W/client.log" 2>&1 ;;
    *) return 0 ;;
  esac || { tail -30 "$W/client.log" >&2; die "the $FORMAT client could not use the rebuilt repo"; }
  log "client check: $PREFIX-0002 and its dependency installed from the rebuilt repo"
}

# reposmith LABEL: (a) with the current BIN and REPOSMITH_GENERATORS; the figures go to
# R_<name>[LABEL]
declare -A R_MED R_ANALYZE R_PUBLISH R_HWM R_IDLE R_ADD R_ONE R_TIMES
reposmith() {
  local label=$1 r t us
  start_server
  create_and_add
  check_all "after add"
  rebuilds check_all
  : > "$W/one.times"
  for (( r = 1; r <= RUNS; r++ )); do
    t=$(now_us)
    step "${CLI[@]}" add "$REPO" "$ONE" >"$W/one.out" 2>&1 || { cat "$W/one.out" >&2; die "add one failed"; }
    us=$(( $(now_us) - t ))
    secs "$us" >> "$W/one.times"
    expect "after adding one ($r)" "$(( N + 1 ))"
    step "${CLI[@]}" remove "$REPO" "$(basename "$ONE")" >"$W/one.out" 2>&1 || { cat "$W/one.out" >&2; die "remove failed"; }
  done
  client_check
  stop_server
  R_MED[$label]=$RS_MED R_ANALYZE[$label]=$RS_ANALYZE R_PUBLISH[$label]=$RS_PUBLISH
  R_HWM[$label]=$(kib_to_mib "$HWM_REBUILD") R_IDLE[$label]=$(kib_to_mib "$HWM_START")
  R_ADD[$label]=$(secs $(( ADD_US / N ))) R_ONE[$label]=$(median < "$W/one.times")
  R_TIMES[$label]=$(paste -sd' ' "$W/rebuild.times")
  mv "$W/data" "$W/data-$label"
}

# ---------------------------------------------------------------- (a) reposmith
LABELS=()
if [ -n "${BEFORE:-}" ]; then
  AFTER_BIN=$BIN AFTER_GENS=${REPOSMITH_GENERATORS:-}
  BIN=$BEFORE/manage-repo REPOSMITH_GENERATORS=$BEFORE
  log "--- before: $BIN"
  reposmith before
  LABELS+=(before)
  BIN=$AFTER_BIN REPOSMITH_GENERATORS=$AFTER_GENS
fi
log "--- reposmith: $BIN"
reposmith reposmith
LABELS+=(reposmith)

# ---------------------------------------------------------------- (b) reference tool
case $FORMAT in
  deb)
    apt_ftparchive_runs "${FILES[@]}"
    n=$(grep -c '^Package: ' "$FTP_PACKAGES" || true) ;;
  rpm)
    C=$W/createrepo_c
    mkdir -p "$C/Packages"
    ln "${FILES[@]}" "$C/Packages/" 2>/dev/null || cp "${FILES[@]}" "$C/Packages/"
    gpg_key
    cat > "$W/createrepo.sh" <<'SH'
set -euo pipefail
rm -rf "$1/repodata"
# shellcheck disable=SC2086 # CREATEREPO_ARGS are words
createrepo_c --quiet $3 "$1"
gpg --batch --quiet --yes --default-key "$2" --detach-sign --armor -o "$1/repodata/repomd.xml.asc" "$1/repodata/repomd.xml"
SH
    timed_runs reference bash "$W/createrepo.sh" "$C" "$KEYID" "${CREATEREPO_ARGS---no-database}"
    n=$(gzip -dc "$C"/repodata/*-primary.xml.gz | grep -c '<package type="rpm">' || true) ;;
  pacman)
    P=$W/repo-add
    mkdir -p "$P"
    gpg_key
    cat > "$W/repo-add.sh" <<'SH'
set -euo pipefail
rm -f "$1"/*
shift
repo-add --quiet --sign --key "$@" 2>/dev/null
SH
    timed_runs reference bash "$W/repo-add.sh" "$P" "$KEYID" "$P/$REPO.db.tar.gz" "${FILES[@]}"
    [ -s "$P/$REPO.db.tar.gz.sig" ] || die "repo-add made no signature"
    n=$(bsdtar -tf "$P/$REPO.db.tar.gz" | grep -c '/desc$' || true) ;;
esac
[ "$n" = "$N" ] || die "the reference tool's index lists $n packages, expected $N"
if [ "$FORMAT" = deb ]; then REF_TIMES=$(paste -sd' ' "$W/apt-ftparchive.times"); else REF_TIMES=$(paste -sd' ' "$W/reference.times"); fi
gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true

# ---------------------------------------------------------------- report
REF_MIB=$(kib_to_mib "$REF_RSS")
{
  report_head "rebuild a $FORMAT repo of $N packages ($(( BYTES / 1024 )) KiB)"
  echo "| tool | median s | analyze s | publish s | peak MiB | time ratio | mem ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for l in "${LABELS[@]}"; do
    echo "| $l: rebuild | ${R_MED[$l]} | ${R_ANALYZE[$l]} | ${R_PUBLISH[$l]} | ${R_HWM[$l]} | $(ratio "${R_MED[$l]}" "$REF_MED") | $(ratio "${R_HWM[$l]}" "$REF_MIB") |"
  done
  echo "| $REF | $REF_MED | | | $REF_MIB | 1.00x | 1.00x |"
  echo
  echo "ratio = reposmith / reference (below 1.00x: reposmith is faster / smaller). analyze / publish:"
  echo "the server's own split of its rebuild. peak MiB: the whole server process (VmHWM over the"
  echo "rebuilds), the reference tool's largest process (/usr/bin/time)."
  echo
  for l in "${LABELS[@]}"; do
    echo "- $l: idle server ${R_IDLE[$l]} MiB; upload ${R_ADD[$l]} s each (one \`manage-repo add\` of $N);" \
      "add 1 more to the $N-package repo: ${R_ONE[$l]} s (median); rebuild runs (s): ${R_TIMES[$l]}"
  done
  echo "- reference runs (s): $REF_TIMES"
} | tee "$W/report.md"
if [ -n "$REPORT" ]; then
  mkdir -p "$(dirname "$REPORT")"
  cp "$W/report.md" "$REPORT"
  log "report written to $REPORT"
fi
