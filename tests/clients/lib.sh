# tests/clients/lib.sh - shared helpers of the client scripts (sourced, not run).
# shellcheck shell=bash disable=SC2034 # W and CLIENT are for the caller

# client_start CLIENT SLASH [URL]: everything to stderr from here on; URL = the argument
# without a trailing "/", then SLASH ("/" or ""); W = a fresh work dir (see work_dir)
client_start() {
  exec >&2
  URL=${3:?usage: $1.sh URL}
  URL=${URL%/}$2
  work_dir "$1"
}

# lists PREFIX NAME[=DEFAULT]...: the array NAME = the words of $PREFIX_NAME, or of DEFAULT
# (none if not given) when that is unset (set and empty: no words)
lists() {
  local prefix=$1 spec name var def
  shift
  for spec in "$@"; do
    name=${spec%%=*} def=""
    [[ $spec == *=* ]] && def=${spec#*=}
    var=${prefix}_$name
    # shellcheck disable=SC2229 # reads into the array named by $name
    read -r -a "$name" <<<"${!var-$def}"
  done
}

# work_dir CLIENT: W = a fresh work dir under HARNESS_TMP (default ${TMPDIR:-/tmp}/reposmith-tests);
# CLIENT names the lines `timed` prints
work_dir() {
  CLIENT=$1
  local base=${HARNESS_TMP:-${TMPDIR:-/tmp}/reposmith-tests}
  mkdir -p "$base"
  W=$(mktemp -d "$base/$1.XXXXXX")
}

# timed SKIP CMD...: runs CMD, prints "[CLIENT] CMD  1.23s rc=N" on stderr (CMD without its
# first SKIP words: the client's fixed options), keeps the exit status
timed() {
  local skip=$1 s rc=0 us
  shift
  s=${EPOCHREALTIME/./}
  "$@" || rc=$?
  us=$(( ${EPOCHREALTIME/./} - s ))
  printf '[%s] %-60.60s %3d.%02ds rc=%d\n' "$CLIENT" "${*:skip+1}" $(( us / 1000000 )) $(( us % 1000000 / 10000 )) "$rc" >&2
  return "$rc"
}
