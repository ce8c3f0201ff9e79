#!/usr/bin/env bash
# Mirrors one Backlog Git repository into one CodeCommit repository.
#
# The buildspec runs this file's body in a subshell of the build phase, after lines that set the
# repository's settings (shell-quoted at synthesis, see lib/buildspec.ts):
#   BACKLOG_HOST           SPACE.git.DOMAIN
#   BACKLOG_REMOTE         SPACE@SPACE.git.DOMAIN:/PROJECT/REPO.git
#   CODECOMMIT_REPOSITORY  name of the target CodeCommit repository
#   MIRROR_PATH            PROJECT/REPO.git, relative to the EFS mount
#   HOST_KEY_MODE          "pinned" (keys in BACKLOG_HOST_KEYS) or "scan" (trust on first use, opt-in)
#   LOCK_TIMEOUT_SECONDS   how long to wait for another sync of the same repository
# and from the environment CodeBuild provides:
#   SRC_GIT_CREDENTIAL     SSH private key (env.parameter-store; masked in logs)
#   BACKLOG_HOST_KEYS      pinned host keys, "TYPE BASE64" per line (settings or env.parameter-store)
#   CODEBUILD_REPO_DIR     mount path of the EFS file system (file-system location "repo_dir")
#   AWS_REGION             region of the build, for the CodeCommit HTTPS endpoint
#
# Design: the bare mirror on EFS is shared by every build of the repository. A build takes an
# exclusive flock on it, so concurrent builds run one after the other and each fetches after it got
# the lock: the last build always carries the newest push. Only refs/heads/* and refs/tags/* are
# fetched and pushed (CodeCommit refuses others); --prune deletes what the source deleted.
set -euo pipefail

log() { printf '[mirror] %s\n' "$*"; }
fail() { printf '[mirror] ERROR: %s\n' "$*" >&2; exit 1; }

: "${BACKLOG_HOST:?}" "${BACKLOG_REMOTE:?}" "${CODECOMMIT_REPOSITORY:?}" "${MIRROR_PATH:?}" "${HOST_KEY_MODE:?}"
: "${LOCK_TIMEOUT_SECONDS:=240}"
if [ -z "${CODEBUILD_REPO_DIR:-}" ] || [ ! -d "$CODEBUILD_REPO_DIR" ]; then
  fail "CODEBUILD_REPO_DIR is not a directory: the EFS file system is not mounted"
fi
[ -n "${AWS_REGION:-}" ] || fail "AWS_REGION is not set"

readonly REFSPECS=('+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*')
readonly CODECOMMIT_URL="https://git-codecommit.${AWS_REGION}.amazonaws.com/v1/repos/${CODECOMMIT_REPOSITORY}"
readonly MIRROR="${CODEBUILD_REPO_DIR}/${MIRROR_PATH}"

# --- SSH: key in an agent (never on disk, never in a process environment), host key pinned -------
# The functions live in backlog-ssh.sh, which the buildspec places before this script.
if ! declare -F backlog_ssh_setup >/dev/null; then
  # shellcheck source=lib/buildspec/backlog-ssh.sh
  . "$(dirname "${BASH_SOURCE[0]}")/backlog-ssh.sh"
fi
trap backlog_ssh_cleanup EXIT
backlog_ssh_setup

# --- The mirror: one writer at a time ----------------------------------------------------------
mkdir -p "$(dirname "$MIRROR")"
exec 9>"$MIRROR.flock"
log "waiting for the lock on $MIRROR_PATH"
flock -w "$LOCK_TIMEOUT_SECONDS" 9 || fail "another sync held $MIRROR_PATH for ${LOCK_TIMEOUT_SECONDS}s"
log "lock acquired"

# Holding the lock, no other git process works on this mirror: every git lock file is stale (left by
# a build that was killed) and so is every half-made clone.
# Same for the temporary packs of a fetch that was killed mid-transfer.
if [ -d "$MIRROR" ]; then
  find "$MIRROR" -type f \( -name '*.lock' -o -path '*/objects/pack/tmp_*' \) -print -delete |
    sed 's/^/[mirror] removed stale /'
fi
rm -rf "$MIRROR".tmp.*

# Fetches heads and tags from Backlog into the bare repository $1 (pruning what Backlog deleted).
# A host key that differs from the pin, or a source that cannot be read (key refused, repository
# missing, network), ends the build with one clear line: nothing was pushed, and re-cloning would
# not help. Any other failure (a damaged mirror) returns 1.
# URL and refspecs are given on the command line: no remote configuration to keep in step.
fetch_source() {
  local err
  err=$(git --git-dir="$1" fetch --quiet --prune --no-tags "$BACKLOG_REMOTE" "${REFSPECS[@]}" 2>&1 >/dev/null) && return 0
  backlog_ssh_explain_failure "$err" "$BACKLOG_REMOTE" || true
  printf '%s\n' "$err" >&2
  return 1
}

push_mirror() {
  log "pushing heads and tags to $CODECOMMIT_URL"
  git --git-dir="$MIRROR" push --quiet --prune "$CODECOMMIT_URL" "${REFSPECS[@]}"
}

mirror_is_sound() {
  git --git-dir="$MIRROR" fsck --connectivity-only --no-progress >/dev/null 2>&1
}

# Clones into a temporary directory and moves it into place only when complete.
clone_fresh() {
  local tmp="$MIRROR.tmp.$$"
  log "cloning $BACKLOG_REMOTE"
  git init --quiet --bare "$tmp"
  fetch_source "$tmp" || fail "cloning $BACKLOG_REMOTE failed"
  rm -rf "$MIRROR"
  mv "$tmp" "$MIRROR"
}

# Only a cheap check before the sync: a full fsck costs seconds on a large mirror at every build.
# Deeper damage (lost objects) makes the fetch or the push fail, and fsck judges it then.
if [ -d "$MIRROR" ] && [ "$(git --git-dir="$MIRROR" rev-parse --is-bare-repository 2>/dev/null)" != true ]; then
  log "the mirror at $MIRROR_PATH is damaged (not a bare repository); cloning it again"
  rm -rf "$MIRROR"
fi

if [ ! -d "$MIRROR" ]; then
  clone_fresh
  push_mirror || fail "pushing to $CODECOMMIT_URL failed"
else
  log "fetching from $BACKLOG_REMOTE"
  # In an `if` condition `set -e` is off: each step's status is checked by the && chain.
  if ! { fetch_source "$MIRROR" && push_mirror; }; then
    mirror_is_sound && fail "sync of $MIRROR_PATH failed"
    log "the mirror at $MIRROR_PATH is damaged (fsck failed); cloning it again and retrying once"
    rm -rf "$MIRROR"
    clone_fresh
    push_mirror || fail "pushing to $CODECOMMIT_URL failed"
  fi
fi
log "mirrored $(git --git-dir="$MIRROR" for-each-ref --format=x refs/heads refs/tags | wc -l) refs of $MIRROR_PATH to $CODECOMMIT_REPOSITORY"
