#!/usr/bin/env bash
# publish-debs.sh [N] - benchmark: publish N .debs with reposmith, and the same files with
# apt-ftparchive, on this machine. The numbers the project's notes quote come from this script.
#
#   bench/publish-debs.sh            # N=1000
#   bench/publish-debs.sh 200        # quicker
#   MANAGE_REPO=/path/to/manage-repo RUNS=5 bench/publish-debs.sh 1000
#
# (a) reposmith: starts `manage-repo serve` on 127.0.0.1 (port 0: a free one) with a fresh data dir,
#     creates a repo, uploads the N files with one `manage-repo add REPO FILE...` (each upload
#     returns after its publish: the time is the whole add, and the mean per upload), then times
#     `manage-repo rebuild REPO` (drop metadata, rescan every package, republish) RUNS times.
#     Peak memory: VmHWM of the server process (/proc/PID/status); it is reset (clear_refs) after
#     the uploads, so "rebuild peak" is the peak during the rebuilds alone.
# (b) apt-ftparchive on the same files: `apt-ftparchive packages` > Packages, gzip -9n, xz,
#     `apt-ftparchive release`, and InRelease + Release.gpg signed with a throwaway gpg key
#     (ed25519, made before the clock starts): the work a full republish does, RUNS times;
#     peak RSS from /usr/bin/time -f %M (largest process of the pipeline).
# Prints progress on stderr and a table on stdout: tool, median seconds, peak MiB, ratio.
#
# Environment:
#   MANAGE_REPO          the binary (default $CARGO_TARGET_DIR/release/manage-repo,
#                        CARGO_TARGET_DIR defaulting to /root/.cache/reposmith-target)
#   REPOSMITH_GENERATORS a folder of generator .wasm files for --generators (default: a copy of
#                        the reposmith_gen_*.wasm built under $CARGO_TARGET_DIR/wasm32-wasip2/release,
#                        if any; else none is passed and the server picks its own default)
#   RUNS=5               timed runs of each republish (median reported)
#   BENCH_CACHE          where the generated .debs are kept between runs
#                        (default ${TMPDIR:-/tmp}/reposmith-bench/debs-N)
#   BENCH_APT_CHECK=1    afterwards, real apt (tests/clients/apt.sh) installs bench-0002 from the
#                        reposmith repo, with the repo's key (0 to skip)
#   STEP_TIMEOUT=1800    seconds any single step may take before the benchmark gives up
#   KEEP=1               keep the work dir (server data, logs, the apt-ftparchive tree)
# Only 127.0.0.1 traffic. The server is killed on exit, whatever happens.
# Needs: dpkg-deb, apt-ftparchive (apt-utils), gzip, xz, gpg, curl, /usr/bin/time (package time).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args publish-debs.sh 1000 5 debs "$@"
need "dpkg-dev apt-utils gzip xz-utils gnupg curl coreutils" dpkg-deb apt-ftparchive gzip xz gpg curl timeout

bench_init
# ---------------------------------------------------------------- inputs
many_inputs make-many-debs.sh '%s-%0*d_1.0-1_amd64.deb'
DEB_BYTES=$BYTES

# ---------------------------------------------------------------- (a) reposmith
start_server
create_and_add

PKGURL=$URL/repos/$REPO/dist/dists/stable/main/binary-amd64
# fetch_packages OUT: the published Packages, uncompressed (whichever encoding the server has)
fetch_packages() {
  if curl -fsS -o "$1" "$PKGURL/Packages" 2>/dev/null; then return 0; fi
  if curl -fsS "$PKGURL/Packages.xz" 2>/dev/null | xz -dc > "$1" 2>/dev/null; then return 0; fi
  if curl -fsS "$PKGURL/Packages.gz" 2>/dev/null | gzip -dc > "$1" 2>/dev/null; then return 0; fi
  return 1
}
check_packages() { # label
  fetch_packages "$W/Packages.reposmith" || die "$1: no Packages at $PKGURL"
  local n
  n=$(grep -c '^Package: ' "$W/Packages.reposmith" || true)
  [ "$n" = "$N" ] || die "$1: the published Packages lists $n packages, expected $N"
}
check_packages "after add"

# rebuild RUNS times; the peak is measured over the rebuilds only
rebuilds check_packages
RS_PKG_BYTES=$(wc -c < "$W/Packages.reposmith")
RS_XZ=$(curl -fsS "$PKGURL/Packages.xz" 2>/dev/null | wc -c || true)
DATA_KIB=$(du -sk "$W/data" | cut -f1)
log "published Packages: $RS_PKG_BYTES bytes (Packages.xz: ${RS_XZ:-0} bytes); data dir $DATA_KIB KiB"

if [ "${BENCH_APT_CHECK:-1}" = 1 ] && command -v apt-get >/dev/null; then
  curl -fsS -o "$W/key.asc" "$URL/repos/$REPO/key.asc" || die "no key at $URL/repos/$REPO/key.asc"
  APT_KEY=$W/key.asc APT_INSTALL="$PREFIX-0002" APT_EXPECT_FILES="/usr/share/$PREFIX-0001/VERSION /usr/share/$PREFIX-0002/VERSION" \
    APT_DOWNLOAD="" HARNESS_TMP=$W/apt step "$ROOT/tests/clients/apt.sh" "$URL/repos/$REPO/dist" >"$W/apt.log" 2>&1 \
    || { cat "$W/apt.log" >&2; die "apt could not use the benchmarked repo"; }
  log "apt check: signed repo verified, $PREFIX-0002 and its dependency installed in a throwaway root"
fi
HWM_ALL=$(( HWM_UPLOAD > HWM_REBUILD ? HWM_UPLOAD : HWM_REBUILD ))
stop_server

# ---------------------------------------------------------------- (b) apt-ftparchive
apt_ftparchive_runs "${FILES[@]}"
n=$(grep -c '^Package: ' "$FTP_PACKAGES" || true)
[ "$n" = "$N" ] || die "apt-ftparchive Packages lists $n packages, expected $N"
FTP_PKG_BYTES=$(wc -c < "$FTP_PACKAGES")

# ---------------------------------------------------------------- report
report_head "publish $N .debs ($(( DEB_BYTES / 1024 )) KiB)"
ratio_table 42 "full republish of $N packages" "apt-ftparchive+gzip+xz+gpg (signed)"
echo "ratio = reposmith / apt-ftparchive (below 1.00x: reposmith is faster / smaller)."
echo "apt-ftparchive run = packages > Packages, gzip -9n, xz, release, gpg clearsign + detached"
echo "signature with a throwaway ed25519 key; reposmith rebuild = drop metadata, rescan, republish, signed."
echo
echo "reposmith uploads: $N x 'manage-repo add' (each returns after publish): $(secs "$ADD_US") s total, $(secs $(( ADD_US / N ))) s per upload"
echo "reposmith server peak (VmHWM): $(kib_to_mib "$HWM_START") MiB idle, $(kib_to_mib "$HWM_UPLOAD") MiB during uploads, $RS_MIB MiB during rebuilds, $(kib_to_mib "$HWM_ALL") MiB overall"
echo "Packages: reposmith $RS_PKG_BYTES bytes (xz ${RS_XZ:-0}), apt-ftparchive $FTP_PKG_BYTES bytes"
echo "rebuild runs (s): $(paste -sd' ' "$W/rebuild.times")   apt-ftparchive runs (s): $(paste -sd' ' "$W/apt-ftparchive.times")"
