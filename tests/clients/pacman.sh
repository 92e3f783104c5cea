#!/usr/bin/env bash
# pacman.sh SERVER_URL - prove that real pacman (Debian 12: pacman 6.0.2, libalpm 13) can use the
# pacman repository at SERVER_URL (the `Server =` line: SERVER_URL/REPO.db, with $arch already
# resolved or left for pacman to fill in), installing into a throwaway root with a throwaway
# config and keyring, without reading or touching the host's pacman state.
#
#   PACMAN_KEY=key.asc PACMAN_REPO=main-repo tests/clients/pacman.sh 'http://127.0.0.1:PORT/repos/main-repo/pacman/$arch'
#
# Environment:
#   PACMAN_REPO=harness      repo (section) name = db file name: SERVER_URL/harness.db (+ .sig signed)
#   PACMAN_KEY=FILE          armored public key -> throwaway keyring (pacman-key --init/--add/
#                            --lsign-key) and SigLevel = Required DatabaseRequired: pacman then GETs
#                            SERVER_URL/REPO.db.sig and SERVER_URL/<pkg>.sig (a 404 fails the install).
#                            Unset/empty -> SigLevel = Never.
#   PACMAN_ARCH=x86_64       Architecture = (what $arch becomes)
#   PACMAN_INSTALL="harness-app"   installed with dependency resolution
#   PACMAN_EXPECT_PKGS="harness-app harness-lib"   must be in the local db afterwards
#   PACMAN_EXPECT_FILES="/usr/bin/harness-app /usr/share/harness-lib/VERSION"  must exist in the root
#   PACMAN_DOWNLOAD="harness-lib"  fetched with 'pacman -Sw' into a separate cache dir, each checked
#                                  with 'pacman -Qip'
#   PACMAN_FILES=1           also 'pacman -Fy' and 'pacman -Fl' of every installed package (REPO.files)
#   PACMAN_CONFIG_ROOT=DIR   use what `manage-repo host add --root DIR` wrote: --config
#                            DIR/etc/pacman.conf (its repo sections) and --gpgdir
#                            DIR/etc/pacman.d/gnupg (the keyring it added the key to); the
#                            script writes no config section and adds no key (PACMAN_KEY is not
#                            read); root, db, cache, log and hook paths are still its own
#                            (command-line options)
#   PACMAN_REPOS_OUT=FILE    after 'pacman -Sy', write the repos whose databases pacman synced
#                            to FILE and stop there
#   HARNESS_TMP=${TMPDIR:-/tmp}/reposmith-tests   where the throwaway root goes
#   KEEP=1                   keep the work dir (path printed on stderr)
# Exit status: 0 ok; non-zero on the first failing step. Needs: pacman, pacman-key, gpg.
# Everything is printed on stderr.
set -euo pipefail
# shellcheck source=tests/clients/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
client_start pacman "" "$@"
REPO=${PACMAN_REPO:-harness}
ARCH=${PACMAN_ARCH:-x86_64}
lists PACMAN INSTALL=harness-app "EXPECT_PKGS=harness-app harness-lib" \
  "EXPECT_FILES=/usr/bin/harness-app /usr/share/harness-lib/VERSION" DOWNLOAD=harness-lib
R=$W/root
mkdir -p "$R/var/lib/pacman" "$W/cache" "$W/dl" "$W/hooks"
mkdir -m 700 "$W/gnupg"
# pacman-key starts gpg-agent (and a failed key lookup dirmngr): stop the ones of this homedir only.
cleanup() {
  gpgconf --homedir "$W/gnupg" --kill all 2>/dev/null || true
  [ -z "${PACMAN_CONFIG_ROOT:-}" ] || gpgconf --homedir "$PACMAN_CONFIG_ROOT/etc/pacman.d/gnupg" --kill all 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "[pacman] work dir $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

t() { timed 0 "$@"; }

if [ -n "${PACMAN_CONFIG_ROOT:-}" ]; then
  SIG="" LSIG=""
elif [ -n "${PACMAN_KEY:-}" ]; then
  SIG="SigLevel = Required DatabaseRequired"
  LSIG="LocalFileSigLevel = Required"
  t pacman-key --gpgdir "$W/gnupg" --init >/dev/null 2>&1
  t pacman-key --gpgdir "$W/gnupg" --add "$PACMAN_KEY" >/dev/null 2>&1
  fpr=$(gpg --homedir "$W/gnupg" --batch --with-colons --show-keys "$PACMAN_KEY" | awk -F: '/^fpr:/{print $10; exit}')
  [ -n "$fpr" ] || { echo "[pacman] no key in $PACMAN_KEY"; exit 1; }
  t pacman-key --gpgdir "$W/gnupg" --lsign-key "$fpr" >/dev/null 2>&1
else
  SIG="SigLevel = Never"
  LSIG="LocalFileSigLevel = Never"
fi
# Every path pacman would otherwise take from /etc/pacman.conf or / is set here.
write_conf() { # CACHEDIR
  cat <<CONF
[options]
RootDir      = $R
DBPath       = $R/var/lib/pacman/
CacheDir     = $1/
LogFile      = $W/pacman.log
GPGDir       = $W/gnupg/
HookDir      = $W/hooks/
Architecture = $ARCH
$SIG
$LSIG
[$REPO]
Server = $URL
CONF
}
if [ -n "${PACMAN_CONFIG_ROOT:-}" ]; then
  # The same paths as write_conf's, on the command line: the config is DIR's.
  C=(--config "$PACMAN_CONFIG_ROOT/etc/pacman.conf" --root "$R" --dbpath "$R/var/lib/pacman/"
     --logfile "$W/pacman.log" --gpgdir "$PACMAN_CONFIG_ROOT/etc/pacman.d/gnupg/"
     --hookdir "$W/hooks/" --arch "$ARCH")
  cat "$PACMAN_CONFIG_ROOT/etc/pacman.conf"
  O=("${C[@]}" --cachedir "$W/cache/") ODL=("${C[@]}" --cachedir "$W/dl/")
else
  write_conf "$W/cache" >"$W/pacman.conf"
  write_conf "$W/dl" >"$W/pacman-dl.conf"
  O=(--config "$W/pacman.conf") ODL=(--config "$W/pacman-dl.conf")
fi
P=(pacman --noconfirm --noprogressbar "${O[@]}")
Q=(pacman "${O[@]}")     # -Q rejects --noprogressbar

if [ -n "${PACMAN_REPOS_OUT:-}" ]; then
  # With every repo disabled pacman refuses to sync ("no usable package repositories"): here,
  # that is an answer (none used), not a failure.
  rc=0; t "${P[@]}" -Sy 2>"$W/sync.err" || rc=$?
  cat "$W/sync.err"
  [ "$rc" = 0 ] || grep -q "no usable package repositories" "$W/sync.err" || exit "$rc"
  mkdir -p "$R/var/lib/pacman/sync"   # absent when nothing synced: then none was used
  find "$R/var/lib/pacman/sync" -name '*.db' -printf '%f\n' 2>/dev/null | sed 's/\.db$//' | sort > "$PACMAN_REPOS_OUT"
  cat "$PACMAN_REPOS_OUT"
  echo "[pacman] OK (repos used: $PACMAN_REPOS_OUT)"
  exit 0
fi
t "${P[@]}" -Sy
t "${P[@]}" -Sl "$REPO"
if [ "${#INSTALL[@]}" -gt 0 ]; then
  t "${P[@]}" -S "${INSTALL[@]}"
  for p in "${EXPECT_PKGS[@]}"; do "${Q[@]}" -Q "$p" >/dev/null || { echo "[pacman] $p not installed"; exit 1; }; done
  for f in "${EXPECT_FILES[@]}"; do [ -e "$R$f" ] || { echo "[pacman] missing $f in root"; exit 1; }; done
  "${Q[@]}" -Q
fi
if [ "${PACMAN_FILES:-0}" = 1 ]; then
  t "${P[@]}" -Fy
  for p in "${EXPECT_PKGS[@]}"; do t "${Q[@]}" -Fl "$REPO/$p"; done
fi
if [ "${#DOWNLOAD[@]}" -gt 0 ]; then
  # '-Sw --cachedir DIR' still finds the package in the config's CacheDir: use a second config.
  t pacman --noconfirm --noprogressbar "${ODL[@]}" -Sw "${DOWNLOAD[@]}"
  for f in "$W"/dl/*.pkg.tar.*; do
    case $f in *.sig) ;; *) pacman --dbpath "$R/var/lib/pacman" -Qip "$f" >/dev/null ;; esac
  done
  ls -1 "$W/dl"
fi
echo "[pacman] OK $URL"
