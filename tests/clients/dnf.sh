#!/usr/bin/env bash
# dnf.sh BASE_URL - prove that real dnf (Debian 12: dnf 4.14, libdnf 0.69, librepo 1.14) can use
# the yum/dnf repository at BASE_URL (BASE_URL/repodata/repomd.xml), installing into a throwaway
# --installroot, without reading or touching the host's dnf/rpm configuration or state.
#
#   DNF_KEYS="repo.asc fixture.asc" DNF_INSTALL=harness-app tests/clients/dnf.sh http://127.0.0.1:PORT/repos/REPO/
#
# Environment:
#   DNF_KEYS="FILE..."   armored public keys -> gpgcheck=1 (package signatures) and
#                        repo_gpgcheck=1 (repodata/repomd.xml.asc), gpgkey= listing every FILE.
#                        The repository's metadata key and the packages' signing key may differ:
#                        list both. Unset/empty -> both checks off.
#   DNF_INSTALL="harness-app"       installed with dependency resolution
#   DNF_EXPECT_PKGS="harness-app-1.0-1.x86_64 harness-lib-1.1-1.noarch"
#                                   NEVRAs that must be in the root's rpmdb afterwards
#   DNF_EXPECT_FILES="/usr/bin/harness-app"   paths that must exist in the root afterwards
#   DNF_AVAILABLE="harness-extra-2.0-3.noarch"  NEVRAs that 'dnf repoquery' must list
#   DNF_ABSENT="harness-lib-1.1-1.noarch"       NEVRAs that 'dnf repoquery' must NOT list
#   DNF_DOWNLOAD="harness-extra"    fetched with 'dnf install --downloadonly --destdir' into a
#                                   second empty root ('dnf download' needs dnf-plugins-core,
#                                   which on Debian 12 breaks zypper); each must be a readable rpm
#   DNF_CONFIG_ROOT=DIR             use the definitions `manage-repo host add --root DIR` wrote:
#                                   dnf reads DIR/etc/yum.repos.d (reposdir) and no repo of the
#                                   script's (DNF_KEYS is not read: the .repo names its keys)
#   DNF_REPOS_OUT=FILE              after makecache, write the ids of the repos dnf uses
#                                   ('dnf repolist --enabled') to FILE and stop there
#   HARNESS_TMP=${TMPDIR:-/tmp}/reposmith-tests   where the throwaway root goes
#   KEEP=1                          keep the work dir (path printed on stderr)
# Exit status: 0 ok; non-zero on the first failing step (a bad or missing signature, a
# metadata checksum mismatch, an unresolvable dependency all fail). Needs: dnf, rpm.
# Everything is printed on stderr.
set -euo pipefail
# shellcheck source=tests/clients/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
client_start dnf / "$@"
lists DNF KEYS INSTALL=harness-app EXPECT_PKGS EXPECT_FILES AVAILABLE ABSENT DOWNLOAD
if [ "${KEEP:-0}" = 1 ]; then echo "[dnf] work dir $W"; else trap 'rm -rf "$W"' EXIT; fi
mkdir -p "$W/repos.d" "$W/dl" "$W/root" "$W/root2"

REPOSDIR=$W/repos.d
if [ -n "${DNF_CONFIG_ROOT:-}" ]; then
  REPOSDIR=$DNF_CONFIG_ROOT/etc/yum.repos.d
elif [ ${#KEYS[@]} -gt 0 ]; then
  urls=""
  for i in "${!KEYS[@]}"; do
    cp "${KEYS[$i]}" "$W/key$i.asc"
    urls="$urls file://$W/key$i.asc"
  done
  G="gpgcheck=1
repo_gpgcheck=1
gpgkey=${urls# }"
else
  G="gpgcheck=0
repo_gpgcheck=0"
fi
# Debian's /etc/dnf/dnf.conf has skip_if_unavailable=True: a broken repo would "succeed".
cat > "$W/dnf.conf" <<CONF
[main]
install_weak_deps=False
skip_if_unavailable=False
keepcache=True
metadata_expire=0
best=True
CONF
[ -n "${DNF_CONFIG_ROOT:-}" ] || cat >> "$W/dnf.conf" <<CONF
[reposmith]
name=reposmith
baseurl=$URL
enabled=1
$G
CONF
cat "$W/dnf.conf"
[ -z "${DNF_CONFIG_ROOT:-}" ] || cat "$REPOSDIR"/*.repo 2>/dev/null || true
# --releasever: an empty installroot has no system-release package.
# --noplugins: keep host plugins (if any) out of the throwaway root.
D=(dnf -y -q --config="$W/dnf.conf" --installroot="$W/root" --releasever=1
   --setopt=reposdir="$REPOSDIR" --noplugins --setopt=tsflags=nodocs)

t() { timed "${#D[@]}" "$@"; }

t "${D[@]}" makecache
if [ -n "${DNF_REPOS_OUT:-}" ]; then
  "${D[@]}" repolist --enabled | awk '$1 != "repo" { print $1 }' > "$DNF_REPOS_OUT"
  cat "$DNF_REPOS_OUT"
  echo "[dnf] OK (repos used: $DNF_REPOS_OUT)"
  exit 0
fi
t "${D[@]}" repoquery --quiet --qf '%{name}-%{epoch}:%{version}-%{release}.%{arch} %{location}' > "$W/available"
cat "$W/available"
# repoquery prints NAME-EPOCH:VERSION-RELEASE.ARCH; compare NEVRAs with the epoch dropped when 0
sed -e 's/ .*//' -e 's/-0:/-/' "$W/available" | sort > "$W/nevras"
for p in "${AVAILABLE[@]}"; do
  grep -qxF "$p" "$W/nevras" || { echo "[dnf] $p is not available"; exit 1; }
done
for p in "${ABSENT[@]}"; do
  if grep -qxF "$p" "$W/nevras"; then echo "[dnf] $p is still available"; exit 1; fi
done
if [ ${#INSTALL[@]} -gt 0 ]; then
  t "${D[@]}" install "${INSTALL[@]}"
  rpm --root="$W/root" -qa --qf '%{NEVRA}\n' | sort
  for p in "${EXPECT_PKGS[@]}"; do
    rpm --root="$W/root" -q "$p" >/dev/null || { echo "[dnf] $p not installed"; exit 1; }
  done
  for f in "${EXPECT_FILES[@]}"; do
    [ -e "$W/root$f" ] || { echo "[dnf] missing $f in root"; exit 1; }
  done
fi
if [ ${#DOWNLOAD[@]} -gt 0 ]; then
  t "${D[@]/#--installroot=*/--installroot=$W/root2}" install --downloadonly --destdir="$W/dl" "${DOWNLOAD[@]}"
  for f in "$W"/dl/*.rpm; do rpm -qp --nosignature --dbpath "$W/dbtmp" "$f" >/dev/null; done
  ls -1 "$W/dl"
fi
echo "[dnf] OK $URL"
