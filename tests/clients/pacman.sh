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
  if [ "${KEEP:-0}" = 1 ]; then echo "[pacman] work dir $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

t() { timed 0 "$@"; }

if [ -n "${PACMAN_KEY:-}" ]; then
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
write_conf "$W/cache" >"$W/pacman.conf"
P=(pacman --noconfirm --noprogressbar --config "$W/pacman.conf")
Q=(pacman --config "$W/pacman.conf")     # -Q rejects --noprogressbar

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
  write_conf "$W/dl" >"$W/pacman-dl.conf"
  t pacman --noconfirm --noprogressbar --config "$W/pacman-dl.conf" -Sw "${DOWNLOAD[@]}"
  for f in "$W"/dl/*.pkg.tar.*; do
    case $f in *.sig) ;; *) pacman --dbpath "$R/var/lib/pacman" -Qip "$f" >/dev/null ;; esac
  done
  ls -1 "$W/dl"
fi
echo "[pacman] OK $URL"
