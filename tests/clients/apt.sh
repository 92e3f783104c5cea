#!/usr/bin/env bash
# apt.sh BASE_URL - prove that real apt (Debian 12: apt 2.6) can use the apt repository at
# BASE_URL, in a throwaway root, without reading or touching the host's apt/dpkg config or state.
#
#   APT_KEY=key.asc APT_INSTALL=harness-app tests/clients/apt.sh http://127.0.0.1:PORT/repos/REPO/dist
#
# BASE_URL is the "deb" URL (it holds dists/SUITE/...), or a flat repo with FLAT=1.
# Environment:
#   APT_KEY=FILE          public key (.asc armored, anything else = binary) -> [signed-by=FILE]:
#                         InRelease (or Release + Release.gpg) must verify against this key only.
#                         Unset/empty -> [trusted=yes] (signatures not checked).
#   APT_SUITE=stable APT_COMPONENT=main APT_ARCH=amd64   FLAT=1 -> "deb URL ./"
#   APT_INSTALL="harness-app"        installed with dependency resolution into the throwaway root
#   APT_EXPECT_FILES="/usr/bin/harness-app /usr/share/harness-lib/VERSION"  must exist in the root
#                                    (that is the default only while APT_INSTALL is unset; else "")
#   APT_EXPECT_PKGS="harness-lib=1.0-1 harness-app"  NAME or NAME=VERSION, must be installed (ii)
#   APT_DOWNLOAD=""                  fetched with 'apt-get download' (no dependency resolution);
#                                    each must be a readable .deb
#   APT_AUTH_TOKEN=TOKEN             a private repo's read token, given to apt the way apt takes
#                                    credentials: auth.conf.d (machine URL login token password T;
#                                    an http:// URL must be written out whole, or apt ignores it)
#   APT_CAINFO=FILE                  CA certificate(s) an https BASE_URL is checked against
#                                    (Acquire::https::CaInfo)
#   APT_CONFIG_ROOT=DIR              use the definitions `manage-repo host add --root DIR` wrote:
#                                    apt reads DIR/etc/apt/sources.list.d (Dir::Etc::sourceparts)
#                                    and nothing else; the script writes no source and no key
#                                    (APT_KEY, APT_SUITE, APT_COMPONENT, FLAT are not read)
#   APT_REPOS_OUT=FILE               after 'apt-get update', write the URIs apt uses (one a line,
#                                    from 'apt-get indextargets') to FILE and stop there: a
#                                    disabled source is not among them
#   HARNESS_TMP=${TMPDIR:-/tmp}/reposmith-tests   where the throwaway root goes
#   KEEP=1                           keep the work dir (path printed on stderr)
# Exit status: 0 ok; non-zero on the first failing step. 'apt-get update --error-on=any' turns
# every warning into an error: a bad or missing signature, an unreachable or malformed index,
# a hash mismatch all fail here. Needs: apt, dpkg. Everything is printed on stderr (stdout stays
# empty, so callers can capture or discard it freely).
set -euo pipefail
# shellcheck source=tests/clients/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
client_start apt "" "$@"
SUITE=${APT_SUITE:-stable}; COMP=${APT_COMPONENT:-main}; ARCH=${APT_ARCH:-amd64}
DEFAULT_EXPECT=""
[ -n "${APT_INSTALL+set}" ] || DEFAULT_EXPECT="/usr/bin/harness-app /usr/share/harness-lib/VERSION"
lists APT INSTALL=harness-app DOWNLOAD "EXPECT_FILES=$DEFAULT_EXPECT" EXPECT_PKGS
if [ "${KEEP:-0}" = 1 ]; then echo "[apt] work dir $W" >&2; else trap 'rm -rf "$W"' EXIT; fi
R=$W/root
mkdir -p "$W"/etc/apt/{sources.list.d,apt.conf.d,preferences.d,trusted.gpg.d} \
         "$W"/var/lib/apt/lists/partial "$W"/var/cache/apt/archives/partial "$W"/log "$W"/dl \
         "$R"/var/lib/dpkg/{info,updates,triggers}
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"

if [ -n "${APT_CONFIG_ROOT:-}" ]; then
  : > "$W/etc/apt/sources.list"   # empty: the sources are DIR's
elif [ -n "${APT_KEY:-}" ]; then
  case "$APT_KEY" in *.asc) K=$W/repo.asc ;; *) K=$W/repo.gpg ;; esac   # apt decides armored/binary by extension
  cp "$APT_KEY" "$K"; OPT="signed-by=$K"
else
  OPT="trusted=yes"
fi
if [ -n "${APT_CONFIG_ROOT:-}" ]; then
  :
elif [ "${FLAT:-0}" = 1 ]; then
  echo "deb [$OPT] $URL ./" > "$W/etc/apt/sources.list"
else
  echo "deb [$OPT] $URL $SUITE $COMP" > "$W/etc/apt/sources.list"
fi

# APT_CONFIG is read first; because it moves Dir::Etc, the host's /etc/apt/apt.conf.d, sources
# and trusted keys are not read (a foreign key cannot make a bad signature pass).
cat > "$W/apt.conf" <<CONF
Dir::Etc "$W/etc/apt";
Dir::State "$W/var/lib/apt";
Dir::State::status "$R/var/lib/dpkg/status";
Dir::Cache "$W/var/cache/apt";
Dir::Log "$W/log";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "0";
Acquire::http::Proxy "DIRECT";
Acquire::http::Timeout "20";
// dpkg installs into the throwaway root; --log, or dpkg appends to the host's /var/log/dpkg.log
DPkg::Options { "--root=$R"; "--log=$W/log/dpkg.log"; "--force-script-chrootless"; };
CONF
[ -z "${APT_CONFIG_ROOT:-}" ] || echo "Dir::Etc::sourceparts \"$APT_CONFIG_ROOT/etc/apt/sources.list.d\";" >> "$W/apt.conf"
[ -z "${APT_CAINFO:-}" ] || echo "Acquire::https::CaInfo \"$APT_CAINFO\";" >> "$W/apt.conf"
if [ -n "${APT_AUTH_TOKEN:-}" ]; then
  mkdir -p "$W/etc/apt/auth.conf.d"
  ( umask 077; echo "machine $URL login token password $APT_AUTH_TOKEN" > "$W/etc/apt/auth.conf.d/repo.conf" )
fi
export APT_CONFIG=$W/apt.conf DEBIAN_FRONTEND=noninteractive

t() { timed 0 "$@"; }

cat "$W/etc/apt/sources.list" >&2
[ -z "${APT_CONFIG_ROOT:-}" ] || cat "$APT_CONFIG_ROOT"/etc/apt/sources.list.d/* >&2 2>/dev/null || true
t apt-get -q update --error-on=any
if [ -n "${APT_REPOS_OUT:-}" ]; then
  # shellcheck disable=SC2016 # apt's own $(FIELD), not the shell's
  apt-get indextargets --format '$(REPO_URI)' | sed 's,/*$,,' | sort -u > "$APT_REPOS_OUT"
  cat "$APT_REPOS_OUT" >&2
  echo "[apt] OK (sources used: $APT_REPOS_OUT)" >&2
  exit 0
fi
if [ ${#INSTALL[@]} -gt 0 ] || [ ${#DOWNLOAD[@]} -gt 0 ]; then
  t apt-cache policy "${INSTALL[@]}" "${DOWNLOAD[@]}" >/dev/null
fi
if [ ${#INSTALL[@]} -gt 0 ]; then
  t apt-get -q -s install "${INSTALL[@]}" >/dev/null
  t apt-get -q -y --download-only install "${INSTALL[@]}" >/dev/null
  t apt-get -q -y install "${INSTALL[@]}" >/dev/null
  dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' >&2
fi
for f in "${EXPECT_FILES[@]}"; do
  [ -e "$R$f" ] || { echo "[apt] missing $f in root" >&2; exit 1; }
done
for p in "${EXPECT_PKGS[@]}"; do
  got=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev}|${Version}' "${p%%=*}" 2>/dev/null || true)
  case $got in
    "ii |"*) ;;
    *) echo "[apt] package ${p%%=*} not installed (${got:-unknown})" >&2; exit 1 ;;
  esac
  if [ "$p" != "${p%%=*}" ] && [ "${got#ii |}" != "${p#*=}" ]; then
    echo "[apt] package ${p%%=*} installed as ${got#ii |}, expected ${p#*=}" >&2; exit 1
  fi
done
if [ ${#DOWNLOAD[@]} -gt 0 ]; then
  ( cd "$W/dl" && t apt-get -q download "${DOWNLOAD[@]}" >/dev/null )
  for f in "$W"/dl/*.deb; do dpkg-deb -I "$f" >/dev/null; done
  ls -1 "$W/dl" >&2
fi
echo "[apt] OK $URL" >&2
