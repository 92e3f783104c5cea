# bench/lib.sh - shared helpers of the benchmark scripts (sourced, not run).
# Sets nothing up by itself; a script calls bench_init, then start_server, and gets
# W (work dir), SPID (server pid) and REPOSMITH_URL / REPOSMITH_TOKEN exported.
# shellcheck shell=bash disable=SC2034 # the variables set here are for the scripts that source it

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-/root/.cache/reposmith-target}
BIN=${MANAGE_REPO:-$TARGET/release/manage-repo}
BASE=${TMPDIR:-/tmp}/reposmith-bench
STEP_TIMEOUT=${STEP_TIMEOUT:-1800}
SPID="" CPID="" W=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
now_us() { echo "${EPOCHREALTIME/./}"; }
# secs MICROSECONDS -> "12.345"
secs() { printf '%d.%03d\n' $(( $1 / 1000000 )) $(( $1 % 1000000 / 1000 )); }
# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
kib_to_mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status"; }

# step CMD...: CMD under `timeout`, in the background, so a signal is handled at once
step() {
  local rc=0
  timeout "$STEP_TIMEOUT" "$@" &
  CPID=$!
  wait "$CPID" || rc=$?
  CPID=""
  return "$rc"
}

# bench_args SCRIPT DEFAULT_N DEFAULT_RUNS CACHE_NAME [N]: N (a whole number above 0), RUNS
# (env), CACHE (BENCH_CACHE, else BASE/CACHE_NAME-N: the inputs kept between runs), and the
# benchmark's repo and package names REPO and PREFIX
bench_args() {
  N=${5:-$2}
  case $N in ''|*[!0-9]*|0) echo "usage: $1 [N>0]" >&2; exit 2 ;; esac
  RUNS=${RUNS:-$3}
  CACHE=${BENCH_CACHE:-$BASE/$4-$N}
  REPO=bench PREFIX=bench
}

# need HINT CMD...: every CMD is on PATH (else die saying how to install: HINT), and so is
# /usr/bin/time (the reference tools' peak RSS)
need() {
  local hint=$1 c
  shift
  for c in "$@"; do
    command -v "$c" >/dev/null || die "$c not found (apt-get install $hint)"
  done
  [ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
}

# many_inputs "MAKER [ARGS]" NAME_FORMAT: tests/fixtures/MAKER [ARGS] CACHE N PREFIX makes N
# packages PREFIX-NNNN in CACHE;
# FILES = their paths (NAME_FORMAT: printf of PREFIX, WIDTH, i), BYTES = their total size
many_inputs() {
  local i f width=$(( ${#N} > 4 ? ${#N} : 4 )) maker
  read -ra maker <<<"$1"
  log "N=$N RUNS=$RUNS  $(nproc) CPUs, $(uname -r), work dir $W"
  step "$ROOT/tests/fixtures/${maker[0]}" "${maker[@]:1}" "$CACHE" "$N" "$PREFIX"
  FILES=()
  for (( i = 1; i <= N; i++ )); do
    # shellcheck disable=SC2059 # the format is the caller's
    printf -v f "$CACHE/$2" "$PREFIX" "$width" "$i"
    [ -s "$f" ] || die "missing $f"
    FILES+=("$f")
  done
  # (printf is a builtin: 50,000 paths would overflow one command line)
  BYTES=$(printf '%s\0' "${FILES[@]}" | xargs -0 cat | wc -c)
  log "$N packages, $(( BYTES / 1024 )) KiB in $CACHE"
}

# create_and_add: on the running server, creates REPO and uploads FILES with one
# `manage-repo add`; sets CLI, HWM_START, ADD_US (the whole add) and HWM_UPLOAD
create_and_add() {
  local t
  CLI=("$BIN" --server "$URL" --token "$TOKEN")
  HWM_START=$(hwm_kib)
  step "${CLI[@]}" create "$REPO" >"$W/create.out" 2>&1 || { cat "$W/create.out" >&2; die "create failed"; }
  log "uploading $N packages: manage-repo add $REPO <$N files>"
  t=$(now_us)
  step "${CLI[@]}" add "$REPO" "${FILES[@]}" >"$W/add.out" 2>&1 || { tail -20 "$W/add.out" >&2; die "add failed"; }
  ADD_US=$(( $(now_us) - t ))
  HWM_UPLOAD=$(hwm_kib)
  log "add: $(secs "$ADD_US") s total, $(secs $(( ADD_US / N ))) s per upload, server VmHWM $(kib_to_mib "$HWM_UPLOAD") MiB"
}

# rebuilds CHECK: POST /repos/REPO/rebuild (what `manage-repo rebuild` sends) RUNS times, each
# followed by `CHECK "after rebuild R"`; the times go to $W/rebuild.times, RS_MED is their
# median, RS_ANALYZE / RS_PUBLISH the medians of the server's own split (re-analysis, publish;
# seconds), HWM_REBUILD the peak over the rebuilds alone (where the kernel lets us reset it)
rebuilds() {
  local r t us a p
  echo 5 > "/proc/$SPID/clear_refs" 2>/dev/null || log "cannot reset VmHWM (not root?): rebuild peak includes the uploads"
  : > "$W/rebuild.times"; : > "$W/rebuild.analyze"; : > "$W/rebuild.publish"
  for (( r = 1; r <= RUNS; r++ )); do
    t=$(now_us)
    step curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$URL/repos/$REPO/rebuild" >"$W/rebuild.out" 2>&1 \
      || { cat "$W/rebuild.out" >&2; die "rebuild failed"; }
    us=$(( $(now_us) - t ))
    secs "$us" >> "$W/rebuild.times"
    a=$(json_num analyze_millis < "$W/rebuild.out"); p=$(json_num publish_millis < "$W/rebuild.out")
    secs $(( a * 1000 )) >> "$W/rebuild.analyze"; secs $(( p * 1000 )) >> "$W/rebuild.publish"
    log "rebuild $r/$RUNS: $(secs "$us") s (analyze $(secs $(( a * 1000 ))) s, publish $(secs $(( p * 1000 ))) s)"
    "$1" "after rebuild $r"
  done
  HWM_REBUILD=$(hwm_kib)
  RS_MED=$(median < "$W/rebuild.times")
  RS_ANALYZE=$(median < "$W/rebuild.analyze")
  RS_PUBLISH=$(median < "$W/rebuild.publish")
}

# json_num KEY: the number KEY has in the JSON object on stdin (0 if absent)
json_num() { tr -d ' \n' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | grep . || echo 0; }

# stop_server: kills the server (its peak memory has been read by then)
stop_server() {
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}

# gpg_key: a throwaway ed25519 signing key in GNUPGHOME=$W/gnupg (exported); KEYID
gpg_key() {
  export GNUPGHOME=$W/gnupg
  mkdir -m 700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key 'reposmith bench <bench@example.invalid>' ed25519 sign never
  KEYID=$(gpg --batch --quiet --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')
}

# timed_runs LABEL CMD...: CMD RUNS times under /usr/bin/time; the seconds go to
# $W/LABEL.times, the peak RSS (KiB) of each run to $W/LABEL.rss and its CPU seconds (user +
# system, its children's included) to $W/LABEL.cpu; REF_MED is the median time, REF_RSS the
# largest peak, REF_CPU the median CPU
timed_runs() {
  local label=$1 r t us rss user sys
  shift
  : > "$W/$label.times"; : > "$W/$label.rss"; : > "$W/$label.cpu"
  for (( r = 1; r <= RUNS; r++ )); do
    t=$(now_us)
    step /usr/bin/time -f '%M %U %S' -o "$W/rss.out" "$@" || die "$label run failed"
    us=$(( $(now_us) - t ))
    secs "$us" >> "$W/$label.times"
    read -r rss user sys < <(tail -1 "$W/rss.out")
    echo "$rss" >> "$W/$label.rss"
    awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f\n", u + s}' >> "$W/$label.cpu"
    log "$label $r/$RUNS: $(secs "$us") s, max RSS $rss KiB, CPU $(tail -1 "$W/$label.cpu") s"
  done
  REF_MED=$(median < "$W/$label.times")
  REF_RSS=$(sort -n "$W/$label.rss" | tail -1)
  REF_CPU=$(median < "$W/$label.cpu")
}

# cpu_ticks PID...: the CPU the running processes PID... have used so far (user + system, in
# clock ticks; a PID that is empty or gone counts 0)
cpu_ticks() {
  local p sum=0 t
  for p in "$@"; do
    [ -n "$p" ] || continue
    # the fields after the command name, which is in parentheses and may hold spaces
    t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    sum=$(( sum + ${t:-0} ))
  done
  echo "$sum"
}
# ticks_secs TICKS: clock ticks as seconds ("0.37")
ticks_secs() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f\n", t / hz}'; }

# report_head WHAT: the report's first line (WHAT, runs, CPUs, date, manage-repo's version)
report_head() {
  local version
  version=$("$BIN" --version 2>/dev/null | head -1 || true)
  echo
  echo "$1, $RUNS runs each, $(nproc) CPUs, $(date -u +%Y-%m-%d) ${version:+($version)}"
  echo
}

# ratio_table WIDTH TITLE REFERENCE: reposmith's rebuilds (RS_MED, HWM_REBUILD) against the
# reference tool's runs (REF_MED, REF_RSS), ratios reposmith / reference; sets RS_MIB
ratio_table() {
  local f="%-$1s %9s %9s %11s %10s\n" ref_mib
  RS_MIB=$(kib_to_mib "$HWM_REBUILD"); ref_mib=$(kib_to_mib "$REF_RSS")
  # shellcheck disable=SC2059 # the format is $f
  {
  printf "$f" "$2" "median s" "peak MiB" "time ratio" "mem ratio"
  printf "$f" "reposmith: manage-repo rebuild" "$RS_MED" "$RS_MIB" "$(ratio "$RS_MED" "$REF_MED")" "$(ratio "$RS_MIB" "$ref_mib")"
  printf "$f" "$3" "$REF_MED" "$ref_mib" "1.00x" "1.00x"
  }
}

# apt_ftparchive_runs FILES...: the work a full apt republish does, on FILES, RUNS times
# (timed_runs label apt-ftparchive): `apt-ftparchive packages` > Packages, gzip -9n, xz,
# `apt-ftparchive release`, InRelease + Release.gpg signed with a throwaway gpg key (made before
# the clock starts). The tree is $W/apt-ftparchive; FTP_PACKAGES its Packages file.
apt_ftparchive_runs() {
  local a=$W/apt-ftparchive
  mkdir -p "$a/pool/main" "$a/dists/stable/main/binary-amd64"
  ln "$@" "$a/pool/main/" 2>/dev/null || cp "$@" "$a/pool/main/"
  gpg_key
  ftparchive_script "$W/ftparchive.sh"
  timed_runs apt-ftparchive bash "$W/ftparchive.sh" "$a" "$W" "$KEYID"
  FTP_PACKAGES=$a/dists/stable/main/binary-amd64/Packages
  gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true
}

# ratio A B: "A/B" as "1.23x" ("-" when B is 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a/b; else print "-" }'; }

bench_cleanup() {
  local rc=$?
  if [ -n "$CPID" ]; then kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true; fi
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  if [ -n "$W" ] && [ -d "$W/gnupg" ]; then gpgconf --homedir "$W/gnupg" --kill all 2>/dev/null; fi
  if [ "${KEEP:-0}" = 1 ]; then log "work dir kept: $W"; elif [ -n "$W" ]; then rm -rf "$W"; fi
  exit "$rc"
}

bench_init() {
  [ -x "$BIN" ] || die "manage-repo not found at $BIN (cargo build --release, or set MANAGE_REPO)"
  mkdir -p "$BASE"
  W=$(mktemp -d "$BASE/run.XXXXXX")
  # DROP_CACHES=1 (root): start from an empty page cache. On this VM, page cache past 4-6 GB
  # fills 8-25x slower (bench/pagecache.sh), so a long run's tail otherwise depends on what
  # earlier work (a cargo build) left cached.
  if [ "${DROP_CACHES:-0}" = 1 ]; then
    sync
    echo 3 2>/dev/null > /proc/sys/vm/drop_caches || die "DROP_CACHES=1 needs root"
    log "page cache dropped"
  fi
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# start_server: the shipped generators (or $REPOSMITH_GENERATORS), a fresh data dir, a free
# port (the server prints it). Sets URL, TOKEN and exports REPOSMITH_URL / REPOSMITH_TOKEN.
start_server() {
  local gens=${REPOSMITH_GENERATORS:-}
  if [ -z "$gens" ]; then
    gens=$W/generators
    mkdir -p "$gens"
    cp "$TARGET"/wasm32-wasip2/release/reposmith_gen_*.wasm "$gens/" ||
      die "no generators built (cargo generators)"
  fi
  mkdir -p "$W/data"
  TOKEN=bench-$RANDOM$RANDOM$RANDOM
  export REPOSMITH_TOKEN=$TOKEN
  unset REPOSMITH_DATA REPOSMITH_LISTEN
  log "starting $BIN serve --listen 127.0.0.1:0 --data $W/data --generators $gens"
  local t
  t=$(now_us)
  # SERVE_ARGS: more serve arguments, e.g. "--packages s3://B/P --meta dynamodb://T"
  # shellcheck disable=SC2086
  "$BIN" serve --listen 127.0.0.1:0 --data "$W/data" --generators "$gens" ${SERVE_ARGS:-} >"$W/server.log" 2>&1 &
  SPID=$!
  URL=""
  # a fresh data dir compiles the generators first (seconds, more on a busy machine)
  for _ in $(seq 1200); do
    kill -0 "$SPID" 2>/dev/null || { cat "$W/server.log" >&2; die "server exited during startup"; }
    URL=$(sed -n 's#^reposmith listening on \(http://[^ /]*\).*#\1#p' "$W/server.log" | head -n 1)
    [ -n "$URL" ] && curl -fsS -o /dev/null "$URL/repos/" 2>/dev/null && break
    sleep 0.1
  done
  [ -n "$URL" ] || { cat "$W/server.log" >&2; die "server not listening after 120 s"; }
  export REPOSMITH_URL=$URL
  log "server pid $SPID at $URL ready in $(secs $(( $(now_us) - t )))s, VmHWM $(kib_to_mib "$(hwm_kib)") MiB"
}

# ---------------------------------------------------------------- added for scale.sh
MPID="" RPID="" MOTO_URL="" S3PID="" S3RPID="" S3_PRELOADED="" S3_OBJECTS=""

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_moto: a moto server (S3 + DynamoDB) on a free 127.0.0.1 port (MOTO_URL), the AWS_*
# variables pointing at it (exported), the bucket and table made with `init-stores`, and
# SERVE_ARGS set for start_server. With MOTO_RTT_MS (default 0) the server reaches moto
# through rtt-proxy.py, which adds that round trip to each request (S3 and DynamoDB from a
# machine in their region: ~10-30 ms; moto on loopback: none). With S3_SERVER (a path to
# s3s-fs) S3 is served by it instead (AWS_ENDPOINT_URL_S3), DynamoDB still by moto, each
# through its own proxy with MOTO_RTT_MS, and with bench/nodelay.c preloaded unless
# S3_NODELAY=0 (S3_PRELOADED says whether it was), keeping its objects in a directory it
# makes in S3_DIR (default: the run's directory). The caller's EXIT trap calls stop_moto,
# which removes that directory.
start_moto() {
  command -v moto_server >/dev/null || die "moto_server not found (pip install 'moto[s3,dynamodb]' flask flask-cors)"
  local port s3port
  port=$(free_port)
  moto_server -H 127.0.0.1 -p "$port" >"$W/moto.log" 2>&1 &
  MPID=$!
  answering "http://127.0.0.1:$port/moto-api/"
  MOTO_URL=http://127.0.0.1:$port
  export AWS_ENDPOINT_URL=$MOTO_URL AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  if [ -n "${S3_SERVER:-}" ]; then
    # S3 on another server (its own ceiling, not moto's); DynamoDB stays on moto
    s3port=$(free_port)
    mkdir -p "${S3_DIR:-$W}"
    S3_OBJECTS=$(mktemp -d "${S3_DIR:-$W}/s3.XXXXXX")
    # s3s-fs leaves Nagle on: without the shim each GET stalls ~40 ms (bench/nodelay.c)
    local preload=""
    S3_PRELOADED=0
    if [ "${S3_NODELAY:-1}" = 1 ] && cc -O2 -shared -fPIC -o "$W/nodelay.so" "$ROOT/bench/nodelay.c" -ldl 2>"$W/cc.log"; then
      preload=$W/nodelay.so S3_PRELOADED=1
    else
      log "S3 server runs without TCP_NODELAY (S3_NODELAY=0 or no cc): its GETs wait ~40 ms each"
    fi
    LD_PRELOAD=$preload "$S3_SERVER" --host 127.0.0.1 --port "$s3port" --access-key testing --secret-key testing "$S3_OBJECTS" >"$W/s3.log" 2>&1 &
    S3PID=$!
    answering "http://127.0.0.1:$s3port/"
    export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$s3port
    log "S3 on $S3_SERVER at $AWS_ENDPOINT_URL_S3 (pid $S3PID); DynamoDB on moto"
  fi
  "$BIN" init-stores --packages s3://bench/r --meta dynamodb://bench >/dev/null
  SERVE_ARGS="--packages s3://bench/r --meta dynamodb://bench"
  if [ "${MOTO_RTT_MS:-0}" != 0 ]; then
    delayed "$port"
    RPID=$PROXY_PID
    export AWS_ENDPOINT_URL=http://127.0.0.1:$PROXY_PORT
    if [ -n "${S3_SERVER:-}" ]; then
      delayed "$s3port"
      S3RPID=$PROXY_PID
      export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PROXY_PORT
    fi
    log "moto at $MOTO_URL (pid $MPID), reached through a proxy adding $MOTO_RTT_MS ms a request at $AWS_ENDPOINT_URL"
  else
    log "moto at $MOTO_URL (pid $MPID)"
  fi
}
# answering URL: waits (30 s at most) until URL gives any HTTP answer
answering() {
  for _ in $(seq 300); do curl -s -o /dev/null "$1" && return; sleep 0.1; done
}
# delayed PORT: rtt-proxy.py in front of 127.0.0.1:PORT, holding each request MOTO_RTT_MS;
# sets PROXY_PORT (where it listens) and PROXY_PID
delayed() {
  PROXY_PORT=$(free_port)
  python3 "$(dirname "${BASH_SOURCE[0]}")/rtt-proxy.py" "$PROXY_PORT" "$1" "$MOTO_RTT_MS" &
  PROXY_PID=$!
  answering "http://127.0.0.1:$PROXY_PORT/"
}
# moto_ceiling: what moto alone answers on this machine, as "S3_PUTS_PER_S GETITEMS_PER_S"
# (wrk, 8 connections as `add -j 8` keeps in flight, 5 s each: a 1 KB PutObject, a GetItem of
# a missing key); "- -" without wrk, or when an answer was not a 2xx. What an upload costs in
# requests divides it into a ceiling on uploads/s that no server on this moto can pass.
# With S3_SERVER, moto serves no S3: its PutObject is not measured ("-").
moto_ceiling() {
  command -v wrk >/dev/null || { echo "- -"; return; }
  # moto checks no signature, but answers 403 to a PutObject without one
  local auth="AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/SERVICE/aws4_request, SignedHeaders=host, Signature=0"
  cat > "$W/put.lua" <<LUA
wrk.method = "PUT"
wrk.body = string.rep("x", 1024)
wrk.headers["Authorization"] = "${auth/SERVICE/s3}"
LUA
  cat > "$W/getitem.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"TableName":"bench","Key":{"pk":{"S":"ceiling"},"sk":{"S":"ceiling"}}}'
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["Authorization"] = "${auth/SERVICE/dynamodb}"
LUA
  local kind rate rates=()
  for kind in put getitem; do
    if [ "$kind" = put ] && [ -n "${S3_SERVER:-}" ]; then rates+=(-); continue; fi
    local url=$MOTO_URL/
    [ "$kind" = put ] && url=$MOTO_URL/bench/ceiling
    wrk -t2 -c8 -d5s -s "$W/$kind.lua" "$url" > "$W/ceiling.$kind" 2>&1 || true
    rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$W/ceiling.$kind")
    grep -q "Non-2xx" "$W/ceiling.$kind" && rate=-
    rates+=("${rate:--}")
  done
  echo "${rates[*]}"
}
stop_moto() {
  local p
  for p in "$S3RPID" "$S3PID" "$RPID" "$MPID"; do
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
  MPID="" RPID="" S3PID="" S3RPID=""
  # what start_moto made in S3_DIR (tmpfs holds it in memory)
  if [ -n "$S3_OBJECTS" ]; then rm -rf "$S3_OBJECTS"; S3_OBJECTS=""; fi
}

# rss_kib: the server's resident memory now (VmRSS, KiB)
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status"; }

# percentile P: the P-th percentile (nearest rank) of the numbers on stdin
percentile() { sort -n | awk -v p="$1" '{a[NR]=$1} END {if (NR==0) exit 1; i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]}'; }

# store_counts: the server's counters from GET /metrics as "store.call N" lines
# (meta.get, packages.put, ...; S3.GET, DynamoDB.PutItem on AWS backends); fails when the server
# has no /metrics (binaries older than it)
store_counts() {
  curl -fsS "$URL/metrics" 2>/dev/null | awk '
    /^reposmith_store_calls_total\{/ { match($0, /store="[^"]*"/); s = substr($0, RSTART+7, RLENGTH-8)
      match($0, /call="[^"]*"/); c = substr($0, RSTART+6, RLENGTH-7); print s "." c, $NF }
    /^reposmith_backend_requests_total\{/ { match($0, /service="[^"]*"/); s = substr($0, RSTART+9, RLENGTH-10)
      match($0, /operation="[^"]*"/); c = substr($0, RSTART+11, RLENGTH-12); print s "." c, $NF }'
}

# counts_diff BEFORE AFTER UPLOADS: per kind, (after - before) / UPLOADS as "kind value" lines
# (kinds that moved only)
counts_diff() {
  awk -v n="$3" 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0) printf "%s %.1f\n", $1, d / n }' "$1" "$2"
}

# ftparchive_script FILE: the reference apt publish as a bash script taking TREE TMPDIR KEYID:
# apt-ftparchive packages > Packages, gzip -9n, xz, release, gpg clearsign + detached signature
# (TREE has pool/main and dists/stable/main/binary-amd64)
ftparchive_script() {
  cat > "$1" <<'EOF'
set -euo pipefail
cd "$1"
D=dists/stable/main/binary-amd64
apt-ftparchive --arch amd64 packages pool/main > "$D/Packages"
gzip -9kfn "$D/Packages"
xz -kf "$D/Packages"
apt-ftparchive -o APT::FTPArchive::Release::Origin=bench -o APT::FTPArchive::Release::Suite=stable \
  -o APT::FTPArchive::Release::Codename=stable -o APT::FTPArchive::Release::Architectures=amd64 \
  -o APT::FTPArchive::Release::Components=main release dists/stable > "$2/Release.tmp"
mv "$2/Release.tmp" dists/stable/Release
gpg --batch --quiet --yes --default-key "$3" --clearsign -o dists/stable/InRelease dists/stable/Release
gpg --batch --quiet --yes --default-key "$3" -abs -o dists/stable/Release.gpg dists/stable/Release
EOF
}
