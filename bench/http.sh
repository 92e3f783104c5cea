#!/usr/bin/env bash
# http.sh [N] - benchmark: GET of published files from reposmith next to Debian's nginx serving
# the same bytes, on this machine, at 10 packages and at N (default 1000; the goal is stated at
# 50,000).
#
#   bench/http.sh              # N=1000
#   bench/http.sh 200          # quicker
#   MANAGE_REPO=/work/before/manage-repo REPOSMITH_GENERATORS=/work/before bench/http.sh
#
# Starts `manage-repo serve` (fresh data dir, free port), creates repo http10 with the first 10
# generated .debs and repo httpN with all N, then per repo downloads InRelease, Packages.xz and
# one package's .deb (its pool path from Packages), copies them into a docroot with the same
# paths and starts nginx on a free port with a temporary config (2 workers, sendfile on, access
# log to a file: Debian's defaults). For each file, `wrk -tT -cC -dD` against reposmith, then
# nginx, RUNS times; and an `If-None-Match` request answered 304 (each server's own ETag).
# Prints a table (requests/s, median of RUNS; ratio reposmith / nginx) and writes it, with a
# PNG plot (gnuplot), to REPORT_DIR.
#
# Environment:
#   MANAGE_REPO, REPOSMITH_GENERATORS, BENCH_CACHE, STEP_TIMEOUT, KEEP: as in lib.sh
#   RUNS=3              wrk runs per file and server (median reported)
#   WRK_THREADS=2 WRK_CONNECTIONS=32 WRK_DURATION=10s
#   REPORT_DIR          where http.md and http.png go (default bench/reports)
#   STORES=file|moto    moto: the server on S3 + DynamoDB (a moto server, lib.sh start_moto;
#                       MOTO_RTT_MS as there: the report is then http-moto-rttMS); the report is
#                       http-moto.md / .png
#   READ_LEASE_MS=N     the server's --read-lease-ms (GETs answer from the pointer a check read
#                       up to N ms before; writes wait that long): the report is NAME-lease.md
# Only 127.0.0.1 traffic. The servers are killed on exit, whatever happens.
# Needs: wrk, nginx, gnuplot (apt-get install wrk nginx gnuplot-nox), curl, xz, dpkg-deb.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args http.sh 1000 3 quick-debs "$@"
need "wrk nginx gnuplot-nox curl xz-utils dpkg-dev" wrk nginx gnuplot curl xz dpkg-deb timeout
THREADS=${WRK_THREADS:-2} CONNS=${WRK_CONNECTIONS:-32} DURATION=${WRK_DURATION:-10s}
REPORT_DIR=${REPORT_DIR:-$ROOT/bench/reports}
NPID=""

# cleanup: nginx, then what lib.sh cleans (with the exit status it would have seen)
cleanup() {
  local rc=$?
  if [ -n "$NPID" ]; then kill "$NPID" 2>/dev/null || true; wait "$NPID" 2>/dev/null || true; fi
  stop_moto
  (exit "$rc")
  bench_cleanup
}
bench_init
trap cleanup EXIT
STORES=${STORES:-file}
case $STORES in file) NAME=http ;; moto) NAME=http-moto ;; *) die "STORES is file or moto, not $STORES" ;; esac
LEASE=""
if [ "$STORES" = moto ] && [ "${MOTO_RTT_MS:-0}" != 0 ]; then
  NAME=$NAME-rtt$MOTO_RTT_MS LEASE=", each request $MOTO_RTT_MS ms longer"
fi
if [ "${READ_LEASE_MS:-0}" != 0 ]; then
  export REPOSMITH_READ_LEASE_MS=$READ_LEASE_MS
  NAME=$NAME-lease LEASE="$LEASE, read lease $READ_LEASE_MS ms"
fi

# ---------------------------------------------------------------- inputs and reposmith
# make-many-quick.py: seconds per 10,000 debs (dpkg-deb per file would take many minutes)
many_inputs "make-many-quick.py deb" '%s-%0*d_1.0-1_amd64.deb'
[ "$STORES" = moto ] && start_moto
start_server
CLI=("$BIN" --server "$URL" --token "$TOKEN")
SIZES=(10)
[ "$N" -gt 10 ] && SIZES+=("$N")
for s in "${SIZES[@]}"; do
  step "${CLI[@]}" create "http$s" >"$W/create.out" 2>&1 || { cat "$W/create.out" >&2; die "create failed"; }
  log "uploading $s packages into repo http$s"
  # batches of 1,000 files: 50,000 paths would overflow one command line
  for (( i = 0; i < s; i += 1000 )); do
    n=$(( s - i < 1000 ? s - i : 1000 ))
    step "${CLI[@]}" add -j 8 "http$s" "${FILES[@]:i:n}" >"$W/add.out" 2>&1 || { tail -20 "$W/add.out" >&2; die "add failed"; }
  done
done

# ---------------------------------------------------------------- the files, and nginx
DOC=$W/www
declare -A PATHS # "s label" -> path under /repos/
for s in "${SIZES[@]}"; do
  dist=http$s/dist/dists/stable
  PATHS["$s InRelease"]=$dist/InRelease
  PATHS["$s Packages.xz"]=$dist/main/binary-amd64/Packages.xz
  mkdir -p "$DOC/repos/$dist/main/binary-amd64"
  for label in InRelease Packages.xz; do
    p=${PATHS["$s $label"]}
    curl -fsSL -o "$DOC/repos/$p" "$URL/repos/$p" || die "GET $p failed"
  done
  xz -dc "$DOC/repos/$dist/main/binary-amd64/Packages.xz" > "$W/Packages"
  pool=$(awk '/^Filename: / {print $2; exit}' "$W/Packages")
  [ -n "$pool" ] || die "no Filename in http$s's Packages"
  PATHS["$s .deb"]=http$s/dist/$pool
  mkdir -p "$(dirname "$DOC/repos/http$s/dist/$pool")"
  curl -fsSL -o "$DOC/repos/http$s/dist/$pool" "$URL/repos/http$s/dist/$pool" || die "GET $pool failed"
  dpkg-deb -I "$DOC/repos/http$s/dist/$pool" >/dev/null || die "$pool is not a .deb"
done

# free_port: a TCP port nothing listens on at 127.0.0.1
# (below the ephemeral range: after 50,000 uploads a client socket may hold a port there,
# and nginx's bind to it fails though nothing listens)
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 100); do
    p=$(( 10000 + RANDOM % (low - 10000) ))
    (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port"
}
NPORT=$(free_port)
mkdir -p "$W/nginx"
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat > "$W/nginx/nginx.conf" <<EOF
$user
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  access_log $W/nginx/access.log;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  server {
    listen 127.0.0.1:$NPORT;
    root $DOC;
  }
}
EOF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' &
NPID=$!
NURL=http://127.0.0.1:$NPORT
for _ in $(seq 100); do curl -fsS -o /dev/null "$NURL/repos/${PATHS["10 InRelease"]}" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$NURL/repos/${PATHS["10 InRelease"]}" || { cat "$W/nginx/error.log" >&2; die "nginx did not start"; }
log "nginx $(nginx -v 2>&1 | sed 's/.*\///') pid $NPID at $NURL"

# ---------------------------------------------------------------- wrk
# rps URL [HEADER]: median requests/s of RUNS wrk runs (checks the status first)
rps() {
  local r out
  : > "$W/rps"
  for (( r = 1; r <= RUNS; r++ )); do
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" ${2:+-H "$2"} "$1") || die "wrk $1 failed"
    if grep -q "Non-2xx or 3xx" <<<"$out"; then die "wrk $1: errors: $out"; fi
    awk '/^Requests\/sec:/ {print $2}' <<<"$out" >> "$W/rps"
  done
  median < "$W/rps"
}
etag() { curl -fsS -o /dev/null -D - "$1" | tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}'; }

mkdir -p "$REPORT_DIR"
: > "$W/plot.dat"
ROWS=()
f="%-12s %8s %10s %14s %14s %8s\n"
for s in "${SIZES[@]}"; do
  for label in InRelease Packages.xz .deb "InRelease 304"; do
    p=${PATHS["$s ${label% 304}"]}
    rs=$URL/repos/$p ng=$NURL/repos/$p
    cmp -s <(curl -fsSL "$rs") <(curl -fsSL "$ng") || die "$p: nginx and reposmith serve other bytes"
    bytes=$(stat -c %s "$DOC/repos/$p")
    hr="" hn="" a=""
    if [ "$label" = "InRelease 304" ]; then
      hr="If-None-Match: $(etag "$rs")" hn="If-None-Match: $(etag "$ng")"
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "$hn" "$ng")
      [ "$code" = 304 ] || die "$ng with $hn: $code, not 304"
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "$hr" "$rs")
      # a reposmith from before 304s
      [ "$code" = 304 ] || { log "reposmith answers $code to $hr: no 304 row"; a=-; }
      bytes=0
    fi
    log "$label at $s packages ($bytes bytes): reposmith"
    [ -n "$a" ] || a=$(rps "$rs" "$hr")
    log "$label at $s packages: nginx"
    b=$(rps "$ng" "$hn")
    r=-
    [ "$a" = - ] || r=$(ratio "$a" "$b")
    # shellcheck disable=SC2059 # the format is $f
    ROWS+=("$(printf "$f" "$label" "$s" "$bytes" "$a" "$b" "$r")")
    printf '"%s, %s" %s %s\n' "$label" "$s" "${a/#-/0}" "$b" >> "$W/plot.dat"
    log "  reposmith $a/s, nginx $b/s"
  done
done

# ---------------------------------------------------------------- report
{
  report_head "GET of published files, reposmith (stores: $STORES$LEASE) next to nginx $(nginx -v 2>&1 | sed 's/.*\///') (wrk -t$THREADS -c$CONNS -d$DURATION; requests/s, the median of the runs)"
  echo '```'
  # shellcheck disable=SC2059 # the format is $f
  printf "$f" file packages bytes "reposmith r/s" "nginx r/s" ratio
  printf '%s\n' "${ROWS[@]}"
  echo '```'
  echo
  echo "![requests/s]($NAME.png)"
} > "$W/report.md"
cat "$W/report.md"
cp "$W/report.md" "$REPORT_DIR/$NAME.md"
gnuplot <<EOF || log "gnuplot failed: no plot"
set terminal pngcairo size 1000,500 font ",10"
set output "$REPORT_DIR/$NAME.png"
set title "GET requests/s (wrk -t$THREADS -c$CONNS -d$DURATION, median of $RUNS)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests/s"
set yrange [0:*]
set key top right
set xtics rotate by -25 font ",9"
set grid ytics
plot "$W/plot.dat" using 2:xtic(1) title "reposmith", "" using 3 title "nginx"
EOF
log "report: $REPORT_DIR/$NAME.md, $REPORT_DIR/$NAME.png"
