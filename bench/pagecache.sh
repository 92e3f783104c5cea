#!/usr/bin/env bash
# pagecache.sh [GB] - how fast this machine fills its page cache: writes GB (default 10) of
# 200 KiB files (as a repo's blobs are written) under TMPDIR and prints MB/s per 0.8 GB.
# On the 2-core VMs this project is measured on, the first 4-6 GB go at 3,300-4,600 MB/s
# and the rest at 170-650, as CPU time of the writer in the kernel's copy into new pages (the
# host backing them, we guess): a long bench run's writes reach that point, which bends its
# curve whatever the server does. DROP_CACHES=1 (root) starts from an empty page cache, as
# `bench/scale.sh` can (lib.sh).
set -euo pipefail
GB=${1:-10}
case $GB in ''|*[!0-9]*|0) echo "usage: pagecache.sh [GB>0]" >&2; exit 2 ;; esac
DIR=$(mktemp -d "${TMPDIR:-/tmp}/pagecache.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
if [ "${DROP_CACHES:-0}" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
free -m | sed -n 1,2p
python3 - "$DIR" "$GB" <<'PY'
import os, sys, time
d, gb = sys.argv[1], int(sys.argv[2])
buf = os.urandom(200 * 1024)
every = 4000                       # files per line: 0.8 GB
t, n = time.time(), 0
for i in range(gb * 10**9 // len(buf)):
    sub = os.path.join(d, "%02x" % (i % 256))
    if i < 256:
        os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%d" % i), "wb") as f:
        f.write(buf)
    n += len(buf)
    if (i + 1) % every == 0:
        now = time.time()
        print("%5.1f GB written  %6.0f MB/s" % (n / 1e9, every * len(buf) / 1e6 / (now - t)), flush=True)
        t = now
PY
free -m | sed -n 2p
