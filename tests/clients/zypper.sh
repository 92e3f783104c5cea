#!/usr/bin/env bash
# zypper.sh BASE_URL - prove that real zypper (Debian 12: zypper 1.14.42, libzypp 17.25) can use
# the rpm-md repository at BASE_URL, working entirely inside a throwaway --root.
#
#   ZYPPER_KEYS="repo.asc fixture.asc" ZYPPER_INSTALL=harness-app tests/clients/zypper.sh http://127.0.0.1:PORT/repos/REPO/
#
# Environment:
#   ZYPPER_KEYS="FILE..."  armored public keys imported into the root's rpmdb beforehand; the repo
#                          is added with --gpgcheck-strict (repomd.xml.asc AND package signatures
#                          must verify, no key prompts). Unset/empty -> --no-gpgcheck.
#   ZYPPER_INSTALL="harness-app"   installed with dependency resolution
#   ZYPPER_EXPECT_PKGS="harness-app-1.0-1.x86_64 harness-lib-1.1-1.noarch"  must be installed
#   ZYPPER_DOWNLOAD="harness-extra" fetched with 'zypper download'
#   ZYPPER_CONFIG_ROOT=DIR  use the definitions `manage-repo host add --root DIR` wrote: their
#                          DIR/etc/zypp/repos.d/*.repo are copied into the throwaway --root's
#                          repos.d (zypper reads no other), nothing is added and no key imported
#                          by the script (ZYPPER_KEYS is not read); refresh runs with
#                          --gpg-auto-import-keys (the key the .repo names, or the repo's own)
#   ZYPPER_REPOS_OUT=FILE  after the refresh, write the aliases of the repos zypper uses
#                          ('zypper lr -E') to FILE and stop there
#   HARNESS_TMP=${TMPDIR:-/tmp}/reposmith-tests   KEEP=1
# zypper refresh exits 0 only when the repo refreshed; an unknown signing key is rejected in
# non-interactive mode. Needs: zypper, rpm. Everything is printed on stderr.
set -euo pipefail
# shellcheck source=tests/clients/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
client_start zypper / "$@"
lists ZYPPER KEYS INSTALL=harness-app EXPECT_PKGS DOWNLOAD
# libzypp keeps its curl cookie jar at the HOST path /var/lib/YaST2/cookies whatever --root
# says: remove it afterwards if this run created it. Runs in parallel share it: one that is
# still writing there makes the removal fail ("Directory not empty"), which is not this run's
# failure (the last one out removes it).
YAST_EXISTED=0; [ -e /var/lib/YaST2 ] && YAST_EXISTED=1
cleanup() {
  [ "$YAST_EXISTED" = 1 ] || rm -rf /var/lib/YaST2 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "[zypper] work dir $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
R=$W/root; mkdir -p "$R"
# keep the host's zypp.conf and /var/log/zypper.log out of it
touch "$W/zypp.conf"
export ZYPP_CONF=$W/zypp.conf ZYPP_LOGFILE=$W/zypper.log
Z=(zypper --non-interactive --no-color --root "$R")

t() { timed "${#Z[@]}" "$@"; }

ALIAS=reposmith REFRESH=()
if [ -n "${ZYPPER_CONFIG_ROOT:-}" ]; then
  ALIAS='*' REFRESH=(--gpg-auto-import-keys)
  mkdir -p "$R/etc/zypp/repos.d"
  for f in "$ZYPPER_CONFIG_ROOT"/etc/zypp/repos.d/*.repo; do
    [ -e "$f" ] || continue
    cp "$f" "$R/etc/zypp/repos.d/"
    cat "$f"
  done
elif [ ${#KEYS[@]} -gt 0 ]; then
  for k in "${KEYS[@]}"; do rpm --root "$R" --import "$k"; done
  t "${Z[@]}" addrepo --refresh --gpgcheck-strict "$URL" reposmith >/dev/null
else
  t "${Z[@]}" addrepo --refresh --no-gpgcheck "$URL" reposmith >/dev/null
fi
if [ -n "${ZYPPER_REPOS_OUT:-}" ]; then
  # 6: no repositories (every one disabled) - that is an answer here
  rc=0; t "${Z[@]}" "${REFRESH[@]}" refresh || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 6 ] || { tail -30 "$W/zypper.log"; exit 1; }
  "${Z[@]}" lr -E 2>/dev/null | awk -F'|' '$1 ~ /[0-9]/ { gsub(/ /, "", $2); print $2 }' > "$ZYPPER_REPOS_OUT" || true
  cat "$ZYPPER_REPOS_OUT"
  echo "[zypper] OK (repos used: $ZYPPER_REPOS_OUT)"
  exit 0
fi
t "${Z[@]}" "${REFRESH[@]}" refresh || { tail -30 "$W/zypper.log"; exit 1; }
t "${Z[@]}" search -s harness
if [ ${#INSTALL[@]} -gt 0 ]; then
  t "${Z[@]}" install --download-only "${INSTALL[@]}" >/dev/null
  # rpm on Debian prints "RPM should not be used directly ..." here: harmless
  t "${Z[@]}" install "${INSTALL[@]}" >/dev/null
  rpm --root "$R" -qa --qf '%{NEVRA}\n' | sort
  for p in "${EXPECT_PKGS[@]}"; do
    rpm --root "$R" -q "$p" >/dev/null || { echo "[zypper] $p not installed"; exit 1; }
  done
fi
if [ ${#DOWNLOAD[@]} -gt 0 ]; then
  t "${Z[@]}" download "${DOWNLOAD[@]}" >/dev/null
  find "$R/var/cache/zypp/packages" -name '*.rpm' -printf '%f\n' | sort
  for p in "${DOWNLOAD[@]}"; do
    compgen -G "$R/var/cache/zypp/packages/$ALIAS/*/$p-*.rpm" >/dev/null \
      || { echo "[zypper] $p was not downloaded"; exit 1; }
  done
fi
echo "[zypper] OK $URL"
