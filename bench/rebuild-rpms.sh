#!/usr/bin/env bash
# rebuild-rpms.sh [N] - benchmark: rebuild an rpm repository of N packages from scratch with
# reposmith, and the same files with createrepo_c, on this machine; then the time to add one
# rpm to the N-package repository. The numbers the project's notes quote come from this script.
#
#   bench/rebuild-rpms.sh            # N=1000
#   bench/rebuild-rpms.sh 200        # quicker
#   MANAGE_REPO=/path/to/manage-repo RUNS=5 bench/rebuild-rpms.sh 1000
#
# (a) reposmith: starts `manage-repo serve` on 127.0.0.1 (port 0: a free one) with a fresh data
#     dir, creates a repo, uploads the N rpms with one `manage-repo add REPO FILE...`, then times
#     `manage-repo rebuild REPO` (drop metadata, re-read every rpm's headers, republish
#     primary/filelists/other, sign repomd.xml) RUNS times. Peak memory: VmHWM of the server
#     process (/proc/PID/status), reset (clear_refs) after the uploads, so "rebuild peak" is the
#     peak during the rebuilds alone.
# (b) adding one rpm to the N-package repo: `manage-repo add REPO one.rpm` (it returns once the
#     new metadata is published), RUNS times, removing it again (untimed) in between.
# (c) createrepo_c on the same files, from scratch each time (repodata/ removed first):
#     `createrepo_c --no-database` (reposmith publishes no sqlite databases either; the defaults
#     otherwise: sha256, gzip, 5 workers) plus a detached armored gpg signature of repomd.xml
#     with a throwaway ed25519 key made before the clock starts, RUNS times; peak RSS from
#     /usr/bin/time -f %M (largest process of the pipeline).
# Prints progress on stderr and a table on stdout: tool, median seconds, peak MiB, ratio.
#
# Environment:
#   MANAGE_REPO          the binary (default $CARGO_TARGET_DIR/release/manage-repo,
#                        CARGO_TARGET_DIR defaulting to /root/.cache/reposmith-target)
#   REPOSMITH_GENERATORS a folder of generator .wasm files for --generators (default: a copy of
#                        the reposmith_gen_*.wasm built under $CARGO_TARGET_DIR/wasm32-wasip2/release)
#   RUNS=5               timed runs of each step (median reported)
#   BENCH_CACHE          where the generated rpms are kept between runs
#                        (default ${TMPDIR:-/tmp}/reposmith-bench/rpms-N)
#   BENCH_DNF_CHECK=1    afterwards, real dnf (tests/clients/dnf.sh) installs bench-0002 and its
#                        dependency from the reposmith repo (0 to skip)
#   STEP_TIMEOUT=1800    seconds any single step may take before the benchmark gives up
#   KEEP=1               keep the work dir (server data, logs, the createrepo_c tree)
# Only 127.0.0.1 traffic. The server is killed on exit, whatever happens.
# Needs: rpmbuild (rpm), createrepo_c (createrepo-c), gpg, curl, gzip, /usr/bin/time (time).
set -euo pipefail
N=${1:-1000}
case $N in ''|*[!0-9]*|0) echo "usage: rebuild-rpms.sh [N>0]" >&2; exit 2 ;; esac
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
REPO=bench
PREFIX=bench

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
CACHE=${BENCH_CACHE:-$BASE/rpms-$N}

for c in rpmbuild createrepo_c gzip gpg curl timeout; do
  command -v "$c" >/dev/null || die "$c not found (apt-get install rpm createrepo-c gzip gnupg curl coreutils)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -x "$BIN" ] || die "manage-repo not found at $BIN (cargo build --release, or set MANAGE_REPO)"

bench_init

# ---------------------------------------------------------------- inputs
log "N=$N RUNS=$RUNS  $(nproc) CPUs, $(uname -r), work dir $W"
step "$ROOT/tests/fixtures/make-many-rpms.sh" "$CACHE" "$N" "$PREFIX"
WIDTH=${#N}; [ "$WIDTH" -ge 4 ] || WIDTH=4
FILES=()
for (( i = 1; i <= N; i++ )); do
  printf -v f '%s/%s-%0*d-1.0-1.noarch.rpm' "$CACHE" "$PREFIX" "$WIDTH" "$i"
  [ -s "$f" ] || die "missing $f"
  FILES+=("$f")
done
RPM_BYTES=$(cat "${FILES[@]}" | wc -c)
log "$N packages, $(( RPM_BYTES / 1024 )) KiB in $CACHE"
step "$ROOT/tests/fixtures/make-many-rpms.sh" "$W/one" 1 extra
ONE=$W/one/extra-0001-1.0-1.noarch.rpm
[ -s "$ONE" ] || die "missing $ONE"

# ---------------------------------------------------------------- (a) reposmith
start_server
CLI=("$BIN" --server "$URL" --token "$TOKEN")
HWM_START=$(hwm_kib)

step "${CLI[@]}" create "$REPO" >"$W/create.out" 2>&1 || { cat "$W/create.out" >&2; die "create failed"; }
log "uploading $N packages: manage-repo add $REPO <$N files>"
T=$(now_us)
step "${CLI[@]}" add "$REPO" "${FILES[@]}" >"$W/add.out" 2>&1 || { tail -20 "$W/add.out" >&2; die "add failed"; }
ADD_US=$(( $(now_us) - T ))
HWM_UPLOAD=$(hwm_kib)
log "add: $(secs "$ADD_US") s total, $(secs $(( ADD_US / N ))) s per upload, server VmHWM $(kib_to_mib "$HWM_UPLOAD") MiB"

RD=$URL/repos/$REPO/repodata
# fetch_primary OUT: the published primary.xml (decompressed), found through repomd.xml
fetch_primary() {
  local href
  href=$(curl -fsS "$RD/repomd.xml" | sed -n 's#.*<location href="\(repodata/[0-9a-f]*-primary.xml.gz\)"/>.*#\1#p')
  [ -n "$href" ] || return 1
  curl -fsS "$URL/repos/$REPO/$href" | gzip -dc > "$1"
}
check_primary() { # label EXPECTED
  fetch_primary "$W/primary.reposmith" || die "$1: no primary at $RD"
  local n
  n=$(grep -c '<package type="rpm">' "$W/primary.reposmith" || true)
  [ "$n" = "$2" ] || die "$1: the published primary.xml lists $n packages, expected $2"
}
check_primary "after add" "$N"

echo 5 > "/proc/$SPID/clear_refs" 2>/dev/null || log "cannot reset VmHWM (not root?): rebuild peak includes the uploads"
: > "$W/rebuild.times"
for (( r = 1; r <= RUNS; r++ )); do
  T=$(now_us)
  step "${CLI[@]}" rebuild "$REPO" >"$W/rebuild.out" 2>&1 || { cat "$W/rebuild.out" >&2; die "rebuild failed"; }
  us=$(( $(now_us) - T ))
  secs "$us" >> "$W/rebuild.times"
  log "rebuild $r/$RUNS: $(secs "$us") s"
  check_primary "after rebuild $r" "$N"
done
HWM_REBUILD=$(hwm_kib)
RS_MED=$(median < "$W/rebuild.times")
RS_PRIMARY_BYTES=$(wc -c < "$W/primary.reposmith")

# ---------------------------------------------------------------- (b) add one rpm
: > "$W/one.times"
for (( r = 1; r <= RUNS; r++ )); do
  T=$(now_us)
  step "${CLI[@]}" add "$REPO" "$ONE" >"$W/one.out" 2>&1 || { cat "$W/one.out" >&2; die "add one failed"; }
  us=$(( $(now_us) - T ))
  secs "$us" >> "$W/one.times"
  check_primary "after adding one ($r)" "$(( N + 1 ))"
  log "add one rpm to $N: $(secs "$us") s"
  step "${CLI[@]}" remove "$REPO" "$(basename "$ONE")" >"$W/one.out" 2>&1 || { cat "$W/one.out" >&2; die "remove failed"; }
done
ONE_MED=$(median < "$W/one.times")
HWM_ALL=$(hwm_kib)

if [ "${BENCH_DNF_CHECK:-1}" = 1 ] && command -v dnf >/dev/null; then
  DNF_KEYS="" DNF_INSTALL="$PREFIX-0002" DNF_EXPECT_PKGS="$PREFIX-0001-1.0-1.noarch $PREFIX-0002-1.0-1.noarch" \
    HARNESS_TMP=$W/dnf step "$ROOT/tests/clients/dnf.sh" "$URL/repos/$REPO/" >"$W/dnf.log" 2>&1 \
    || { tail -30 "$W/dnf.log" >&2; die "dnf could not use the benchmarked repo"; }
  log "dnf check: $PREFIX-0002 and its dependency installed in a throwaway root"
fi
kill "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
SPID=""

# ---------------------------------------------------------------- (c) createrepo_c
C=$W/createrepo_c
mkdir -p "$C/Packages"
ln "${FILES[@]}" "$C/Packages/" 2>/dev/null || cp "${FILES[@]}" "$C/Packages/"
export GNUPGHOME=$W/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'reposmith bench <bench@example.invalid>' ed25519 sign never
KEYID=$(gpg --batch --quiet --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')
cat > "$W/createrepo.sh" <<'SH'
set -euo pipefail
rm -rf "$1/repodata"
createrepo_c --quiet --no-database "$1"
gpg --batch --quiet --yes --default-key "$2" --detach-sign --armor -o "$1/repodata/repomd.xml.asc" "$1/repodata/repomd.xml"
SH
: > "$W/cr.times"; : > "$W/cr.rss"
for (( r = 1; r <= RUNS; r++ )); do
  T=$(now_us)
  step /usr/bin/time -f %M -o "$W/rss.out" bash "$W/createrepo.sh" "$C" "$KEYID" \
    || die "createrepo_c run failed"
  us=$(( $(now_us) - T ))
  secs "$us" >> "$W/cr.times"
  tail -1 "$W/rss.out" >> "$W/cr.rss"
  log "createrepo_c $r/$RUNS: $(secs "$us") s, max RSS $(tail -1 "$W/rss.out") KiB"
done
gzip -dc "$C"/repodata/*-primary.xml.gz > "$W/primary.createrepo_c"
n=$(grep -c '<package type="rpm">' "$W/primary.createrepo_c" || true)
[ "$n" = "$N" ] || die "createrepo_c primary lists $n packages, expected $N"
CR_MED=$(median < "$W/cr.times")
CR_RSS=$(sort -n "$W/cr.rss" | tail -1)
CR_PRIMARY_BYTES=$(wc -c < "$W/primary.createrepo_c")
gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a/b; else print "-" }'; }
RS_MIB=$(kib_to_mib "$HWM_REBUILD"); CR_MIB=$(kib_to_mib "$CR_RSS")
VERSION=$("$BIN" --version 2>/dev/null | head -1 || true)
CRV=$(createrepo_c --version 2>/dev/null | head -1 || true)
echo
echo "rebuild an rpm repo of $N packages ($(( RPM_BYTES / 1024 )) KiB) from scratch, $RUNS runs each, $(nproc) CPUs, $(date -u +%Y-%m-%d) ${VERSION:+($VERSION)}"
echo
F='%-44s %9s %9s %11s %10s\n'
# shellcheck disable=SC2059
{
printf "$F" "full rebuild of $N rpms" "median s" "peak MiB" "time ratio" "mem ratio"
printf "$F" "reposmith: manage-repo rebuild" "$RS_MED" "$RS_MIB" "$(ratio "$RS_MED" "$CR_MED")" "$(ratio "$RS_MIB" "$CR_MIB")"
printf "$F" "createrepo_c --no-database + gpg (signed)" "$CR_MED" "$CR_MIB" "1.00x" "1.00x"
}
printf '%-44s %9s\n' "reposmith: add 1 rpm to the $N-rpm repo" "$ONE_MED"
echo "ratio = reposmith / createrepo_c (below 1.00x: reposmith is faster / smaller)."
echo "createrepo_c run = rm -rf repodata, createrepo_c --no-database ($CRV), gpg detached armored"
echo "signature of repomd.xml (throwaway ed25519 key); reposmith rebuild = drop metadata, re-read"
echo "every rpm's headers, republish primary/filelists/other, sign repomd.xml."
echo "add 1 rpm = 'manage-repo add' of one more rpm, returning once the new metadata is published."
echo
echo "reposmith uploads: $N x 'manage-repo add': $(secs "$ADD_US") s total, $(secs $(( ADD_US / N ))) s per upload"
echo "reposmith server peak (VmHWM): $(kib_to_mib "$HWM_START") MiB idle, $(kib_to_mib "$HWM_UPLOAD") MiB during uploads, $RS_MIB MiB during rebuilds, $(kib_to_mib "$HWM_ALL") MiB after the single adds"
echo "primary.xml: reposmith $RS_PRIMARY_BYTES bytes, createrepo_c $CR_PRIMARY_BYTES bytes"
echo "rebuild runs (s): $(paste -sd' ' "$W/rebuild.times")   add-one runs (s): $(paste -sd' ' "$W/one.times")   createrepo_c runs (s): $(paste -sd' ' "$W/cr.times")"
