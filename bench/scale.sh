#!/usr/bin/env bash
# scale.sh [N] [FORMAT] - benchmark: how uploads, memory, store requests and rebuilds behave as
# one repo grows to N packages (default 50,000; takes its time), and a report with plots.
#
#   bench/scale.sh                        # 50,000 debs (hours with the binaries before issue 13)
#   bench/scale.sh 1000 pacman            # quicker; FORMAT: deb (default), rpm, pacman
#   MANAGE_REPO=/work/before/manage-repo REPOSMITH_GENERATORS=/work/before STEP_TIMEOUT=300 \
#     LABEL=before bench/scale.sh 1000    # the same for older binaries, capped per step
#   STORES=moto bench/scale.sh            # on S3 + DynamoDB (moto), N=300 by default there
#   STORES=moto MOTO_RTT_MS=20 bench/scale.sh   # each S3/DynamoDB request a 20 ms round trip
#   STORES=moto S3_SERVER=s3s-fs bench/scale.sh # S3 on s3s-fs (cargo install s3s-fs@0.14.1
#                                         #   --features binary), DynamoDB on moto: moto's S3
#                                         #   is the slower half, and caps a load at ~40/s
#
# Inputs: N + 64 packages, generated once and kept (BENCH_CACHE, default
# ${TMPDIR:-/tmp}/reposmith-bench/scale-FORMAT-N): debs and pacman packages by
# tests/fixtures/make-many-quick.py (seconds per 10,000), rpms by make-many-rpms.sh in
# rpmbuild runs of 1,000 (named cNNN-NNNN).
# One server (lib.sh: fresh data dir, a free port), one repo, loaded in steps up to STEPS
# sizes (default: 1%, 2%, 5%, 10%, 20%, ..., 100% of N, and 1,000 and 10,000 when below N).
# At each step:
#   load rate  the packages up to the step's size less SINGLES, with `manage-repo add -j 8`
#              (batches of 1,000 files): packages/s; then the published index must list them;
#   latency    SINGLES (5) uploads one at a time (curl POST, each answers once published):
#              p50/p99; after each, the package must be listed in the published index (debs:
#              in a Packages.xz whose sha256 the InRelease names; that GET's time too, the
#              first read of the file's new pieces);
#   memory     the server's VmRSS after the step and its peak so far (VmHWM);
#   requests   store calls per upload, by kind, from the server's GET /metrics read around each
#              single upload (exact: one at a time) and the bulk load (with group commit: 8 in
#              flight); on STORES=moto also the S3 and DynamoDB requests sent, and first what
#              moto alone answers (wrk: S3 PUTs/s, DynamoDB GetItems/s), the ceiling they share;
#   rebuild    at REBUILD_AT sizes (default 1,000, N/10, 10,000 and N, those up to N): `manage-repo
#              rebuild` (peak memory over it alone, and how far above the RSS it started from the
#              peak rose: what the rebuild itself took; CPU time, the server's and, on STORES=moto,
#              the S3 and DynamoDB servers'), next to the reference tool on the same files (its
#              time, peak memory and CPU):
#              apt-ftparchive packages + gzip + xz + release + gpg sign (deb), createrepo_c
#              --no-database + gpg (rpm), repo-add (pacman, unsigned), RUNS (1) times each.
# At the final size, 64 concurrent uploads (one curl each): p50/p99, and all must be published;
# then FRONT (200) packages whose names sort before all others, with add -j 8 (their rate), and
# SINGLES of them one at a time (p50/p99): the loads above append at the end of the index, these
# change its start, after which every byte is hashed again.
# Every step runs under STEP_TIMEOUT seconds (default 1800); when one runs out the load stops
# there and the report says where (the figures up to that size stand).
#
# Output: plain progress lines on stderr; the report bench/reports/scale-FORMAT-N[-LABEL].md
# (REPORT_DIR), its data (.tsv, -rebuild.tsv) and PNG plots (gnuplot): upload latency, load rate,
# memory, and rebuild time against repo size. COMPARE=path/to/an-earlier.tsv draws that run's
# curves too (e.g. the "before" run next to the current one).
# Environment: MANAGE_REPO, REPOSMITH_GENERATORS, STEP_TIMEOUT, KEEP, BENCH_CACHE as in lib.sh;
# STEPS="100 500 1000" and REBUILD_AT="1000" override the sizes; SINGLES=5; JOBS=8 (add -j);
# CONCURRENT=64; FRONT=200 (0: none); LABEL; STORES=file|moto; MOTO_RTT_MS, S3_SERVER, S3_NODELAY, S3_DIR (lib.sh: start_moto);
# DROP_CACHES=1 (root) empties the page cache first (lib.sh; bench/pagecache.sh says why).
# REPOSMITH_READ_LEASE_MS=N: the server's read lease (serve --read-lease-ms), said in the report.
# Needs: python3, curl, gnuplot (gnuplot-nox), and per format: apt-utils xz-utils gnupg (deb),
# rpm createrepo-c gnupg (rpm), libarchive-tools pacman-package-manager (pacman);
# moto_server (and wrk, for its ceiling) for STORES=moto.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FORMAT=${2:-deb}
STORES=${STORES:-file}
case $STORES in file) DEFAULT_N=50000 ;; moto) DEFAULT_N=300 ;; *) die "STORES is file or moto, not $STORES" ;; esac
bench_args "scale.sh [N] [deb|rpm|pacman]" "$DEFAULT_N" 1 "scale-$FORMAT" "${1:-}"
SINGLES=${SINGLES:-5} JOBS=${JOBS:-8} CONCURRENT=${CONCURRENT:-64} FRONT=${FRONT:-200}
TOTAL=$(( N + CONCURRENT ))
case $FORMAT in
  deb) need "apt-utils xz-utils gnupg curl gnuplot-nox" apt-ftparchive xz gzip gpg curl gnuplot python3 ;;
  rpm) need "rpm createrepo-c gnupg curl gnuplot-nox" rpmbuild createrepo_c gpg curl gnuplot ;;
  pacman) need "libarchive-tools pacman-package-manager curl gnuplot-nox" bsdtar repo-add curl gnuplot python3 ;;
  *) die "FORMAT is deb, rpm or pacman, not $FORMAT" ;;
esac
NAME=scale-$FORMAT-$N${LABEL:+-$LABEL}
[ "$STORES" = moto ] && NAME=$NAME-moto
REPORT_DIR=${REPORT_DIR:-$ROOT/bench/reports}
mkdir -p "$REPORT_DIR"
OUT=$REPORT_DIR/$NAME

bench_init
trap 'stop_moto; bench_cleanup' EXIT

# ---------------------------------------------------------------- inputs
T=$(now_us)
mkdir -p "$CACHE"
FILES=()
width=$(( ${#TOTAL} > 4 ? ${#TOTAL} : 4 ))
case $FORMAT in
  deb|pacman)
    step python3 "$ROOT/tests/fixtures/make-many-quick.py" "$FORMAT" "$CACHE" "$TOTAL" "$PREFIX"
    [ "$FORMAT" = deb ] && pattern='%s-%0*d_1.0-1_amd64.deb' || pattern='%s-%0*d-1.0-1-x86_64.pkg.tar.gz'
    for (( i = 1; i <= TOTAL; i++ )); do
      # shellcheck disable=SC2059 # the pattern is ours
      printf -v f "$CACHE/$pattern" "$PREFIX" "$width" "$i"
      FILES+=("$f")
    done ;;
  rpm)
    # rpmbuild slows with the subpackages of one spec: runs of 1,000, one prefix each
    chunks=$(( (TOTAL + 999) / 1000 ))
    for (( c = 1; c <= chunks; c++ )); do
      printf -v p 'c%03d' "$c"
      n=$(( c < chunks ? 1000 : TOTAL - (chunks - 1) * 1000 ))
      step "$ROOT/tests/fixtures/make-many-rpms.sh" "$CACHE/$p" "$n" "$p"
      for (( i = 1; i <= n; i++ )); do
        printf -v f '%s/%s/%s-%04d-1.0-1.noarch.rpm' "$CACHE" "$p" "$p" "$i"
        FILES+=("$f")
      done
    done ;;
esac
for f in "${FILES[0]}" "${FILES[-1]}"; do [ -s "$f" ] || die "missing $f"; done
log "$TOTAL $FORMAT packages ready in $(secs $(( $(now_us) - T ))) s ($CACHE); N=$N, $(nproc) CPUs, work dir $W"

# pkg_name FILE: the package name it carries
pkg_name() {
  local b=${1##*/}
  case $FORMAT in
    deb) echo "${b%%_*}" ;;
    rpm) echo "${b%-1.0-1.noarch.rpm}" ;;
    pacman) echo "${b%-1.0-1-x86_64.pkg.tar.gz}" ;;
  esac
}

# ---------------------------------------------------------------- server
MOTO_LINE=
if [ "$STORES" = moto ]; then
  start_moto
  read -r CEIL_PUT CEIL_GET < <(moto_ceiling)
  if [ "$CEIL_PUT$CEIL_GET" = "--" ]; then :
  elif [ -n "${S3_SERVER:-}" ]; then
    MOTO_LINE="S3 on ${S3_SERVER##*/} (S3_SERVER), DynamoDB on moto; moto alone on this machine, before the server starts (wrk, 8 connections, 5 s): $CEIL_GET DynamoDB GetItems/s"
  else
    MOTO_LINE="moto alone on this machine, before the server starts (wrk, 8 connections, 5 s each): $CEIL_PUT S3 PUTs/s (1 KB), $CEIL_GET DynamoDB GetItems/s. An upload's requests (the table's last column) divide it into a ceiling on uploads/s on this moto, whatever the server does"
  fi
  log "${MOTO_LINE:-the ceiling of moto not measured (wrk missing, or moto refused its requests)}"
fi
start_server
CLI=("$BIN" --server "$URL" --token "$TOKEN")
step "${CLI[@]}" create "$REPO" >"$W/create.out" 2>&1 || { cat "$W/create.out" >&2; die "create failed"; }
HAVE_METRICS=0
store_counts > "$W/counts" && [ -s "$W/counts" ] && HAVE_METRICS=1
[ "$HAVE_METRICS" = 1 ] || log "this server has no GET /metrics: no store request counts"

# listed OUT: the names the published index lists, one a line, into OUT; for debs, the
# Packages.xz must be the one the InRelease names (the signed index)
listed() {
  case $FORMAT in
    deb)
      local d=$URL/repos/$REPO/dist/dists/stable
      curl -fsSL -o "$W/InRelease" "$d/InRelease" || return 1
      curl -fsSL -o "$W/Packages.xz" -w '%{time_total}\n' "$d/main/binary-amd64/Packages.xz" > "$W/get.last" || return 1
      grep -q "^ $(sha256sum < "$W/Packages.xz" | cut -d' ' -f1) .* main/binary-amd64/Packages.xz\$" "$W/InRelease" \
        || { log "the InRelease does not name the Packages.xz served"; return 1; }
      xz -dc "$W/Packages.xz" | sed -n 's/^Package: //p' > "$1" ;;
    rpm)
      local href
      href=$(curl -fsSL "$URL/repos/$REPO/repodata/repomd.xml" | sed -n 's#.*<location href="\(repodata/[0-9a-f]*-primary.xml.gz\)"/>.*#\1#p')
      [ -n "$href" ] || return 1
      curl -fsSL "$URL/repos/$REPO/$href" | gzip -dc | sed -n 's#.*<name>\(.*\)</name>.*#\1#p' > "$1" ;;
    pacman)
      curl -fsSL "$URL/repos/$REPO/pacman/x86_64/$REPO.db" | bsdtar -tf - | sed -n 's#^\(.*\)-1\.0-1/desc$#\1#p' > "$1" ;;
  esac
}
# count_listed: how many packages the published index lists
count_listed() { listed "$W/names" && wc -l < "$W/names"; }

# upload FILE: one POST, answers "HTTP_CODE SECONDS"
upload() {
  curl -sS -o "$W/upload.out" --max-time "$STEP_TIMEOUT" -w '%{http_code} %{time_total}\n' -X POST \
    -H "Authorization: Bearer $TOKEN" --data-binary "@$1" \
    "$URL/repos/$REPO/packages/?filename=${1##*/}" || echo "000 0"
}

# ---------------------------------------------------------------- reference tools
gpg_key
ref_run() { # SIZE: the reference tool on FILES[0..SIZE), timed; sets REF_S, REF_MIB
  local s=$1 R=$W/ref
  rm -rf "$R"
  case $FORMAT in
    deb) mkdir -p "$R/pool/main" "$R/dists/stable/main/binary-amd64"; printf '%s\0' "${FILES[@]:0:s}" | xargs -0 ln -t "$R/pool/main" ;;
    rpm) mkdir -p "$R/Packages"; printf '%s\0' "${FILES[@]:0:s}" | xargs -0 ln -t "$R/Packages" ;;
    pacman) mkdir -p "$R/pool" "$R/db"; printf '%s\0' "${FILES[@]:0:s}" | xargs -0 ln -t "$R/pool" ;;
  esac
  timed_runs "ref-$s" bash "$W/ref.sh" "$R" "$W" "$KEYID"
  REF_S=$REF_MED REF_MIB=$(kib_to_mib "$REF_RSS")
}
case $FORMAT in
  deb) REF_TOOL="apt-ftparchive + gzip + xz + release + gpg"
    ftparchive_script "$W/ref.sh"
    ;;
  rpm) REF_TOOL="createrepo_c --no-database + gpg"
    cat > "$W/ref.sh" <<'SH'
set -euo pipefail
rm -rf "$1/repodata"
createrepo_c --quiet --no-database "$1"
gpg --batch --quiet --yes --default-key "$3" --detach-sign --armor -o "$1/repodata/repomd.xml.asc" "$1/repodata/repomd.xml"
SH
    ;;
  pacman) REF_TOOL="repo-add (unsigned)"
    cat > "$W/ref.sh" <<'SH'
set -euo pipefail
rm -f "$1"/db/*
repo-add --quiet "$1/db/bench.db.tar.gz" "$1"/pool/* 2>/dev/null
SH
    ;;
esac

# ---------------------------------------------------------------- steps
if [ -n "${STEPS:-}" ]; then
  read -r -a SIZES <<< "$STEPS"
else
  SIZES=()
  for pct in 1 2 5 10 20 30 40 50 60 70 80 90 100; do SIZES+=("$(( N * pct / 100 ))"); done
fi
read -r -a RB <<< "${REBUILD_AT:-1000 $(( N / 10 )) 10000 $N}"
for s in "${RB[@]}"; do SIZES+=("$s"); done
mapfile -t SIZES < <(printf '%s\n' "${SIZES[@]}" | awk -v n="$N" -v m="$SINGLES" '$1 > m && $1 <= n' | sort -n | uniq)
is_rebuild_size() { local s; for s in "${RB[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

printf '# size\tbulk\trate\tp50_ms\tp99_ms\trss_mib\thwm_mib\tcalls_single\tcalls_bulk\twire_single\n' > "$OUT.tsv"
printf '# size\treposmith_s\treposmith_mib\tref_s\tref_mib\treposmith_added_mib\treposmith_cpu_s\tstores_cpu_s\tref_cpu_s\n' > "$OUT-rebuild.tsv"
: > "$W/kinds"
CUR=0 PEAK=0 STOPPED=""
# sum_kinds FILE PATTERN: the sum of the per-upload counts whose kind matches PATTERN
sum_kinds() { awk -v p="$2" '$1 ~ p {s += $2} END {printf "%.1f", s}' "$1"; }
for SIZE in "${SIZES[@]}"; do
  [ "$SIZE" -gt "$CUR" ] || continue
  singles=$(( SIZE - CUR < SINGLES ? SIZE - CUR : SINGLES ))
  bulk=$(( SIZE - CUR - singles ))
  # bulk load, in batches (a command line holds a few thousand paths)
  rate="-" calls_bulk="-"
  if [ "$bulk" -gt 0 ]; then
    [ "$HAVE_METRICS" = 1 ] && store_counts > "$W/c0"
    T=$(now_us) rc=0
    for (( i = CUR; i < CUR + bulk; i += 1000 )); do
      b=$(( CUR + bulk - i < 1000 ? CUR + bulk - i : 1000 ))
      # the step's batches share one STEP_TIMEOUT
      left=$(( STEP_TIMEOUT - ($(now_us) - T) / 1000000 ))
      [ "$left" -gt 0 ] || { rc=124; break; }
      STEP_TIMEOUT=$left step "${CLI[@]}" add -j "$JOBS" "$REPO" "${FILES[@]:i:b}" >"$W/add.out" 2>&1 || { rc=$?; break; }
    done
    us=$(( $(now_us) - T ))
    if [ "$rc" != 0 ]; then
      CUR=$(count_listed || echo "$CUR")
      if [ "$rc" = 124 ]; then
        STOPPED="loading towards $SIZE ran out of STEP_TIMEOUT (${STEP_TIMEOUT} s) at $CUR packages"
      else
        tail -5 "$W/add.out" >&2
        STOPPED="loading towards $SIZE failed (manage-repo add rc=$rc) at $CUR packages"
      fi
      log "$STOPPED"
      break
    fi
    rate=$(awk -v n="$bulk" -v us="$us" 'BEGIN {printf "%.1f", n * 1e6 / us}')
    if [ "$HAVE_METRICS" = 1 ]; then
      store_counts > "$W/c1"
      counts_diff "$W/c0" "$W/c1" "$bulk" > "$W/bulk.$SIZE"
      calls_bulk=$(sum_kinds "$W/bulk.$SIZE" '^(meta|packages)[.]')
    fi
    n=$(count_listed) || die "no index after loading $(( CUR + bulk ))"
    [ "$n" = $(( CUR + bulk )) ] || die "the index lists $n packages after loading $(( CUR + bulk ))"
    CUR=$n
    log "size $CUR: loaded $bulk in $(secs "$us") s ($rate packages/s)"
  fi
  # single uploads, one at a time; the counters are read around each upload alone (the index
  # checks in between read the stores too)
  : > "$W/lat"; : > "$W/singles.raw"
  for (( i = CUR; i < CUR + singles; i++ )); do
    [ "$HAVE_METRICS" = 1 ] && store_counts > "$W/c0"
    read -r code t < <(upload "${FILES[i]}")
    if [ "$HAVE_METRICS" = 1 ]; then store_counts > "$W/c1"; counts_diff "$W/c0" "$W/c1" 1 >> "$W/singles.raw"; fi
    case $code in 200|201) ;; *)
      STOPPED="a single upload at $CUR packages answered HTTP $code after $t s"
      [ "$code" = 000 ] && STOPPED="a single upload at $CUR packages ran out of STEP_TIMEOUT (${STEP_TIMEOUT} s)"
      break ;;
    esac
    awk -v t="$t" 'BEGIN {printf "%.1f\n", t * 1000}' >> "$W/lat"
    listed "$W/names" || die "no index after uploading ${FILES[i]}"
    [ "$FORMAT" = deb ] && awk '{printf "%.1f\n", $1 * 1000}' "$W/get.last" >> "$W/getlat"
    grep -qxF "$(pkg_name "${FILES[i]}")" "$W/names" || die "${FILES[i]##*/} answered $code but is not listed in the published index"
  done
  [ -z "$STOPPED" ] || { log "$STOPPED"; break; }
  CUR=$(( CUR + singles ))
  calls_single="-" wire_single="-"
  if [ "$HAVE_METRICS" = 1 ]; then
    awk -v n="$singles" '{ s[$1] += $2 } END { for (k in s) printf "%s %.1f\n", k, s[k] / n }' "$W/singles.raw" | sort > "$W/single.$SIZE"
    cut -d' ' -f1 "$W/single.$SIZE" >> "$W/kinds"
    calls_single=$(sum_kinds "$W/single.$SIZE" '^(meta|packages)[.]')
    [ "$STORES" = moto ] && wire_single=$(sum_kinds "$W/single.$SIZE" '^(S3|DynamoDB)[.]')
  fi
  p50=$(percentile 50 < "$W/lat") p99=$(percentile 99 < "$W/lat")
  rss=$(rss_kib) hwm=$(hwm_kib)
  PEAK=$(( hwm > PEAK ? hwm : PEAK ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CUR" "$bulk" "$rate" "$p50" "$p99" \
    "$(kib_to_mib "$rss")" "$(kib_to_mib "$PEAK")" "$calls_single" "$calls_bulk" "$wire_single" >> "$OUT.tsv"
  log "size $CUR: one upload p50 $p50 ms, p99 $p99 ms; RSS $(kib_to_mib "$rss") MiB (peak $(kib_to_mib "$PEAK")); store calls per upload $calls_single (bulk $calls_bulk)"
  # rebuild at this size, next to the reference tool
  if is_rebuild_size "$CUR"; then
    echo 5 > "/proc/$SPID/clear_refs" 2>/dev/null || true
    rb_from=$(rss_kib)
    # CPU over the rebuild: the server's, and (STORES=moto) the S3 and DynamoDB servers' on
    # the same cores, which a deployment's S3 and DynamoDB do not take from it
    cpu_srv=$(cpu_ticks "$SPID") cpu_aws=$(cpu_ticks "$S3PID" "$MPID")
    T=$(now_us) rc=0
    step "${CLI[@]}" rebuild "$REPO" >"$W/rebuild.out" 2>&1 || rc=$?
    us=$(( $(now_us) - T ))
    cpu_srv=$(ticks_secs $(( $(cpu_ticks "$SPID") - cpu_srv )))
    if [ -n "$S3PID$MPID" ]; then cpu_aws=$(ticks_secs $(( $(cpu_ticks "$S3PID" "$MPID") - cpu_aws ))); else cpu_aws=-; fi
    if [ "$rc" != 0 ]; then
      STOPPED="the rebuild at $CUR packages $([ "$rc" = 124 ] && echo "ran out of STEP_TIMEOUT (${STEP_TIMEOUT} s)" || echo "failed (rc=$rc)")"
      log "$STOPPED"
      break
    fi
    rb_hwm=$(hwm_kib)
    n=$(count_listed) || die "no index after the rebuild"
    [ "$n" = "$CUR" ] || die "the index lists $n packages after the rebuild at $CUR"
    ref_run "$CUR"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CUR" "$(secs "$us")" "$(kib_to_mib "$rb_hwm")" "$REF_S" "$REF_MIB" \
      "$(kib_to_mib $(( rb_hwm - rb_from )))" "$cpu_srv" "$cpu_aws" "$REF_CPU" >> "$OUT-rebuild.tsv"
    log "size $CUR: rebuild $(secs "$us") s (peak $(kib_to_mib "$rb_hwm") MiB, CPU $cpu_srv s, stores' servers $cpu_aws s); $REF_TOOL $REF_S s ($REF_MIB MiB, CPU $REF_CPU s)"
  fi
done

# ---------------------------------------------------------------- concurrent uploads
CONC=""
if [ -z "$STOPPED" ]; then
  log "size $CUR: $CONCURRENT concurrent uploads"
  pids=()
  for (( i = 0; i < CONCURRENT; i++ )); do
    upload "${FILES[N + i]}" > "$W/conc.$i" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  : > "$W/conc.lat"; bad=0
  for (( i = 0; i < CONCURRENT; i++ )); do
    read -r code t < "$W/conc.$i"
    case $code in 200|201) awk -v t="$t" 'BEGIN {printf "%.1f\n", t * 1000}' >> "$W/conc.lat" ;; *) bad=$(( bad + 1 )) ;; esac
  done
  listed "$W/names" || die "no index after the concurrent uploads"
  missing=0
  for (( i = 0; i < CONCURRENT; i++ )); do grep -qxF "$(pkg_name "${FILES[N + i]}")" "$W/names" || missing=$(( missing + 1 )); done
  CONC="$CONCURRENT concurrent uploads into $CUR packages: p50 $(percentile 50 < "$W/conc.lat" || echo -) ms, p99 $(percentile 99 < "$W/conc.lat" || echo -) ms; $bad failed, $missing not listed afterwards"
  log "$CONC"
  hwm=$(hwm_kib); PEAK=$(( hwm > PEAK ? hwm : PEAK ))
fi

# ---------------------------------------------------------------- uploads that sort first
# The loads above add names in order, so each lands at the end of the index files. A name
# that sorts first changes their first chunk instead: every byte after it is hashed again
# (the whole-file digests Release and repomd.xml list). FRONT packages named aaa-NNNN (rpm:
# a000-NNNN) with add -j JOBS, then SINGLES of them one at a time.
FRONT_LINE=""
if [ -z "$STOPPED" ] && [ "$FRONT" -gt 0 ]; then
  fc=$CACHE-front fn=$(( FRONT + SINGLES )) front=() fcur=$(count_listed)
  case $FORMAT in
    deb|pacman)
      step python3 "$ROOT/tests/fixtures/make-many-quick.py" "$FORMAT" "$fc" "$fn" aaa >/dev/null 2>&1
      [ "$FORMAT" = deb ] && pattern='aaa-%04d_1.0-1_amd64.deb' || pattern='aaa-%04d-1.0-1-x86_64.pkg.tar.gz' ;;
    rpm)
      step "$ROOT/tests/fixtures/make-many-rpms.sh" "$fc" "$fn" a000 >/dev/null 2>&1
      pattern='a000-%04d-1.0-1.noarch.rpm' ;;
  esac
  for (( i = 1; i <= fn; i++ )); do
    # shellcheck disable=SC2059 # the pattern is ours
    printf -v f "$fc/$pattern" "$i"
    front+=("$f")
  done
  T=$(now_us)
  step "${CLI[@]}" add -j "$JOBS" "$REPO" "${front[@]:0:FRONT}" >"$W/add.out" 2>&1 || { tail -5 "$W/add.out" >&2; die "loading the packages that sort first failed"; }
  us=$(( $(now_us) - T ))
  frate=$(awk -v n="$FRONT" -v us="$us" 'BEGIN {printf "%.1f", n * 1e6 / us}')
  : > "$W/front.lat"
  for f in "${front[@]:FRONT}"; do
    read -r code t < <(upload "$f")
    case $code in 200|201) ;; *) die "an upload that sorts first answered HTTP $code" ;; esac
    awk -v t="$t" 'BEGIN {printf "%.1f\n", t * 1000}' >> "$W/front.lat"
    listed "$W/names" || die "no index after uploading ${f##*/}"
    grep -qxF "$(pkg_name "$f")" "$W/names" || die "${f##*/} is not listed in the published index"
  done
  FRONT_LINE="Uploads that sort first, into $fcur packages (each re-hashes the index files after it): $FRONT with add -j $JOBS at $frate packages/s; then $SINGLES one at a time: p50 $(percentile 50 < "$W/front.lat") ms, p99 $(percentile 99 < "$W/front.lat") ms"
  log "$FRONT_LINE"
fi
stop_server
gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true

# ---------------------------------------------------------------- plots
BASE_NAME=${OUT##*/}
plot() { # SUFFIX TITLE YLABEL "COLUMN:TITLE"... (columns of the .tsv, or of -rebuild.tsv with r:)
  local suffix=$1 title=$2 ylabel=$3 spec col t file cmds=() f
  shift 3
  for spec in "$@"; do
    col=${spec%%:*} t=${spec#*:} file=$OUT.tsv
    case $col in r*) col=${col#r}; file=$OUT-rebuild.tsv ;; esac
    cmds+=("'$file' using 1:(valid($col) ? column($col) : NaN) with linespoints title '$t'")
    # the reference tool's curve is the same in both runs: drawn once
    if [ -n "${COMPARE:-}" ] && [ "$spec" != "r4:$REF_TOOL" ]; then
      f=$COMPARE; [ "$file" = "$OUT-rebuild.tsv" ] && f=${COMPARE%.tsv}-rebuild.tsv
      if [ -s "$f" ]; then cmds+=("'$f' using 1:(valid($col) ? column($col) : NaN) with linespoints dashtype 2 title '$t ($(basename "${f%.tsv}"))'"); fi
    fi
  done
  local joined
  joined=$(IFS=,; echo "${cmds[*]}")
  gnuplot 2>"$W/gnuplot.err" <<GP || { cat "$W/gnuplot.err" >&2; log "gnuplot failed for $suffix"; }
set terminal pngcairo size 900,520
set output '$OUT-$suffix.png'
set title "$title"
set xlabel 'packages in the repo'
set ylabel '$ylabel'
set datafile separator tab
set datafile missing '-'
set key top left
set grid
set yrange [0:*]
plot $joined
GP
}
plot latency "one upload, answered once published ($FORMAT, $STORES stores)" "ms" "4:p50" "5:p99"
plot rate "load rate, manage-repo add -j $JOBS ($FORMAT)" "packages/s" "3:packages/s"
plot memory "server memory ($FORMAT)" "MiB" "6:VmRSS" "7:VmHWM (peak so far)"
plot rebuild "rebuild from scratch ($FORMAT)" "seconds" "r2:reposmith" "r4:$REF_TOOL"

# ---------------------------------------------------------------- report
VERSION=$("$BIN" --version 2>/dev/null | head -1 || true)
{
  echo "# Scale: $FORMAT, $N packages${LABEL:+ ($LABEL)}"
  echo
  echo "bench/scale.sh $N $FORMAT, $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs, $(uname -r); $VERSION at \`$BIN\`;"
  echo "generators ${REPOSMITH_GENERATORS:-built in this tree}; stores: $STORES$([ -n "${S3_SERVER:-}" ] && echo " (S3 on ${S3_SERVER##*/}$([ "$S3_PRELOADED" = 1 ] && echo ", TCP_NODELAY set by bench/nodelay.c" || echo ", without TCP_NODELAY: ~40 ms a GET")$(case "${S3_DIR:-}" in /dev/shm | /dev/shm/*) echo ", its objects on tmpfs (S3_DIR)";; esac))")$([ "${MOTO_RTT_MS:-0}" != 0 ] && echo " (each request ${MOTO_RTT_MS} ms longer: rtt-proxy.py)"); STEP_TIMEOUT=${STEP_TIMEOUT}s$([ "${DROP_CACHES:-0}" = 1 ] && echo "; the page cache dropped first (DROP_CACHES=1)")$([ "${REPOSMITH_READ_LEASE_MS:-0}" != 0 ] && echo "; the server's read lease ${REPOSMITH_READ_LEASE_MS} ms (REPOSMITH_READ_LEASE_MS)")."
  echo
  if [ -n "$STOPPED" ]; then echo "**Stopped early: $STOPPED.** The figures below go up to there."; else echo "Completed: $CUR packages."; fi
  echo
  echo "| packages | loaded | load rate (pkg/s) | one upload p50 (ms) | p99 (ms) | RSS (MiB) | peak RSS (MiB) | store calls/upload (single) | (bulk, -j $JOBS) |$([ "$STORES" = moto ] && echo " S3+DynamoDB requests/upload |")"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|$([ "$STORES" = moto ] && echo "---:|")"
  grep -v '^#' "$OUT.tsv" | while IFS=$'\t' read -r s b r p50 p99 rss hwm cs cb ws; do
    echo "| $s | $b | $r | $p50 | $p99 | $rss | $hwm | $cs | $cb |$([ "$STORES" = moto ] && echo " $ws |")"
  done
  echo
  echo "loaded: packages added by \`manage-repo add -j $JOBS\` in the step (its rate); then $SINGLES single uploads one"
  echo "at a time (curl; each answers once its package is in the published, signed index, checked after"
  echo "each); with $SINGLES samples, p99 is the slowest. Store calls: from GET /metrics, per upload."
  echo
  if [ -n "$CONC" ]; then echo "$CONC."; echo; fi
  if [ -n "$FRONT_LINE" ]; then echo "$FRONT_LINE."; echo; fi
  if [ -n "$MOTO_LINE" ]; then echo "$MOTO_LINE."; echo; fi
  if [ -s "$W/getlat" ]; then
    echo "The first GET of Packages.xz after each single upload (its new pieces not read yet): p50 $(percentile 50 < "$W/getlat") ms, p99 $(percentile 99 < "$W/getlat") ms over $(wc -l < "$W/getlat") uploads."
    echo
  fi
  if [ -s "$W/kinds" ]; then
    mapfile -t KINDS < <(sort -u "$W/kinds")
    echo "Store calls per single upload, by kind:"
    echo
    echo "| packages | $(printf '%s | ' "${KINDS[@]}")"
    echo "|---:|$(printf -- '---:|%.0s' "${KINDS[@]}")"
    for f in "$W"/single.*; do
      s=${f##*.}
      printf '| %s |' "$s"
      for k in "${KINDS[@]}"; do printf ' %s |' "$(awk -v k="$k" '$1 == k {v = $2} END {print (v == "" ? "0" : v)}' "$f")"; done
      echo
    done | sort -t'|' -k2 -n
    echo
  fi
  if [ "$(grep -vc '^#' "$OUT-rebuild.tsv")" -gt 0 ]; then
    echo "Rebuild from scratch (reposmith: \`manage-repo rebuild\`, peak = server VmHWM over it) next to $REF_TOOL on the same files:"
    echo
    echo "| packages | reposmith (s) | peak (MiB) | reference (s) | peak (MiB) | time ratio | memory ratio | reposmith's rise over it (MiB) | rise / reference peak | reposmith CPU (s) | stores' servers CPU (s) | reference CPU (s) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    grep -v '^#' "$OUT-rebuild.tsv" | while IFS=$'\t' read -r s rs rm fs fm ra rc ac fc; do
      echo "| $s | $rs | $rm | $fs | $fm | $(ratio "$rs" "$fs") | $(ratio "$rm" "$fm") | ${ra:--} | $( [ -n "$ra" ] && ratio "$ra" "$fm" || echo -) | ${rc:--} | ${ac:--} | ${fc:--} |"
    done
    echo
    echo "The memory ratio is the whole server's peak (its code, compiled generators and the repo's state held between uploads) against a tool that starts empty; the rise is what the rebuild itself took above the server's RSS before it."
    echo "CPU is user + system time over the rebuild: the server's; the S3 and DynamoDB servers' (STORES=moto: s3s-fs and moto run on the same cores as the server and the reference tool, where a deployment's S3 and DynamoDB run elsewhere); the reference tool's, its child processes included."
    echo
  fi
  for p in latency rate memory rebuild; do
    if [ -s "$OUT-$p.png" ]; then echo "![$p]($BASE_NAME-$p.png)"; fi
  done
  echo
  echo "Data: [$BASE_NAME.tsv]($BASE_NAME.tsv), [$BASE_NAME-rebuild.tsv]($BASE_NAME-rebuild.tsv).${COMPARE:+ Dashed curves: $(basename "$COMPARE").}"
} > "$OUT.md"
log "report: $OUT.md"
