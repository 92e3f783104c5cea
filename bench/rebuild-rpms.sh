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
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args rebuild-rpms.sh 1000 5 rpms "$@"
need "rpm createrepo-c gzip gnupg curl coreutils" rpmbuild createrepo_c gzip gpg curl timeout

bench_init

# ---------------------------------------------------------------- inputs
many_inputs make-many-rpms.sh '%s-%0*d-1.0-1.noarch.rpm'
RPM_BYTES=$BYTES
step "$ROOT/tests/fixtures/make-many-rpms.sh" "$W/one" 1 extra
ONE=$W/one/extra-0001-1.0-1.noarch.rpm
[ -s "$ONE" ] || die "missing $ONE"

# ---------------------------------------------------------------- (a) reposmith
start_server
create_and_add

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
check_all() { check_primary "$1" "$N"; } # label
check_all "after add"

rebuilds check_all
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
stop_server

# ---------------------------------------------------------------- (c) createrepo_c
C=$W/createrepo_c
mkdir -p "$C/Packages"
ln "${FILES[@]}" "$C/Packages/" 2>/dev/null || cp "${FILES[@]}" "$C/Packages/"
gpg_key
cat > "$W/createrepo.sh" <<'SH'
set -euo pipefail
rm -rf "$1/repodata"
createrepo_c --quiet --no-database "$1"
gpg --batch --quiet --yes --default-key "$2" --detach-sign --armor -o "$1/repodata/repomd.xml.asc" "$1/repodata/repomd.xml"
SH
timed_runs createrepo_c bash "$W/createrepo.sh" "$C" "$KEYID"
gzip -dc "$C"/repodata/*-primary.xml.gz > "$W/primary.createrepo_c"
n=$(grep -c '<package type="rpm">' "$W/primary.createrepo_c" || true)
[ "$n" = "$N" ] || die "createrepo_c primary lists $n packages, expected $N"
CR_PRIMARY_BYTES=$(wc -c < "$W/primary.createrepo_c")
gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true

# ---------------------------------------------------------------- report
CRV=$(createrepo_c --version 2>/dev/null | head -1 || true)
report_head "rebuild an rpm repo of $N packages ($(( RPM_BYTES / 1024 )) KiB) from scratch"
ratio_table 44 "full rebuild of $N rpms" "createrepo_c --no-database + gpg (signed)"
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
echo "rebuild runs (s): $(paste -sd' ' "$W/rebuild.times")   add-one runs (s): $(paste -sd' ' "$W/one.times")   createrepo_c runs (s): $(paste -sd' ' "$W/createrepo_c.times")"
