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
[ -n "${SRC_GIT_CREDENTIAL:-}" ] || fail "SRC_GIT_CREDENTIAL is empty: the SSH key parameter was not read"
[ -n "${CODEBUILD_REPO_DIR:-}" ] && [ -d "$CODEBUILD_REPO_DIR" ] ||
  fail "CODEBUILD_REPO_DIR is not a directory: the EFS file system is not mounted"
[ -n "${AWS_REGION:-}" ] || fail "AWS_REGION is not set"

readonly REFSPECS=('+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*')
readonly CODECOMMIT_URL="https://git-codecommit.${AWS_REGION}.amazonaws.com/v1/repos/${CODECOMMIT_REPOSITORY}"
readonly MIRROR="${CODEBUILD_REPO_DIR}/${MIRROR_PATH}"

# --- SSH: key in an agent (never on disk), host key pinned --------------------------------------
ssh_dir=$(mktemp -d)
eval "$(ssh-agent -s)" >/dev/null
trap 'ssh-agent -k >/dev/null 2>&1 || true; rm -rf "$ssh_dir"' EXIT
ssh-add -q - <<<"$SRC_GIT_CREDENTIAL" 2>/dev/null || fail "the SSH private key from SSM could not be loaded"
unset SRC_GIT_CREDENTIAL

known_hosts="$ssh_dir/known_hosts"
case "$HOST_KEY_MODE" in
  pinned)
    [ -n "${BACKLOG_HOST_KEYS:-}" ] || fail "no pinned host key for $BACKLOG_HOST (BACKLOG_HOST_KEYS is empty)"
    while read -r key_type key_body _; do
      [ -n "$key_type" ] && printf '%s %s %s\n' "$BACKLOG_HOST" "$key_type" "$key_body"
    done <<<"$BACKLOG_HOST_KEYS" >"$known_hosts"
    log "host key of $BACKLOG_HOST pinned ($(wc -l <"$known_hosts") key(s))"
    ;;
  scan)
    # Trust on first use, at every build: ssh itself records the key of the first connection (same
    # host resolution as the sync, unlike ssh-keyscan) and later connections of this build must match it.
    log "WARNING: trusting whatever host key $BACKLOG_HOST presents (scanHostKey is on)"
    : >"$known_hosts"
    strict=accept-new
    ;;
  *) fail "HOST_KEY_MODE must be pinned or scan, got: $HOST_KEY_MODE" ;;
esac
export GIT_SSH_COMMAND="ssh -o BatchMode=yes -o StrictHostKeyChecking=${strict:-yes} -o UserKnownHostsFile=$known_hosts -o GlobalKnownHostsFile=/dev/null"
export GIT_TERMINAL_PROMPT=0

# Fails closed, with one clear line, when the host key differs from the pin or the key is refused.
check_source() {
  local err
  if ! err=$(git ls-remote --heads "$BACKLOG_REMOTE" 2>&1 >/dev/null); then
    case "$err" in
      *"REMOTE HOST IDENTIFICATION HAS CHANGED"* | *"Host key verification failed"* | *"No ED25519 host key is known"* | *"host key for"*"differs"*)
        fail "host key verification failed for $BACKLOG_HOST: it does not match the pinned key; nothing was pushed" ;;
      # Keep what ssh/git said, without git's generic "make sure you have access" trailer.
      *) fail "cannot read $BACKLOG_REMOTE: $(grep -v -e '^fatal: Could not read from remote' -e '^Please make sure' \
        -e '^and the repository exists' -e '^$' <<<"$err" | tail -n 3 | tr '\n' ' ')" ;;
    esac
  fi
}

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
  find "$MIRROR" -name '*.lock' -type f -print -delete | sed 's/^/[mirror] removed stale lock /'
  find "$MIRROR" -path '*/objects/pack/tmp_*' -type f -print -delete | sed 's/^/[mirror] removed partial pack /'
fi
rm -rf "$MIRROR".tmp.*

configure_remote() {
  git --git-dir="$1" config remote.origin.url "$BACKLOG_REMOTE"
  git --git-dir="$1" config --unset-all remote.origin.fetch || true
  local spec
  for spec in "${REFSPECS[@]}"; do git --git-dir="$1" config --add remote.origin.fetch "$spec"; done
}

mirror_is_sound() {
  [ "$(git --git-dir="$MIRROR" rev-parse --is-bare-repository 2>/dev/null)" = true ] &&
    git --git-dir="$MIRROR" fsck --connectivity-only --no-progress >/dev/null 2>&1
}

clone_fresh() {
  local tmp="$MIRROR.tmp.$$"
  log "cloning $BACKLOG_REMOTE"
  git init --quiet --bare "$tmp"
  configure_remote "$tmp"
  git --git-dir="$tmp" fetch --quiet --prune --no-tags origin
  rm -rf "$MIRROR"
  mv "$tmp" "$MIRROR"
}

# Called as an `if` condition, where `set -e` is off: every step returns on failure explicitly.
fetch_and_push() {
  configure_remote "$MIRROR" || return 1
  log "fetching from $BACKLOG_REMOTE"
  git --git-dir="$MIRROR" fetch --quiet --prune --no-tags origin || return 1
  log "pushing heads and tags to $CODECOMMIT_URL"
  git --git-dir="$MIRROR" push --quiet --prune "$CODECOMMIT_URL" "${REFSPECS[@]}" || return 1
}

check_source
if [ -d "$MIRROR" ] && ! mirror_is_sound; then
  log "the mirror at $MIRROR_PATH is damaged; cloning it again"
  rm -rf "$MIRROR"
fi
[ -d "$MIRROR" ] || clone_fresh

if ! fetch_and_push; then
  mirror_is_sound && fail "sync of $MIRROR_PATH failed"
  log "the mirror broke during the sync; cloning it again and retrying once"
  rm -rf "$MIRROR"
  clone_fresh
  fetch_and_push
fi
log "mirrored $(git --git-dir="$MIRROR" for-each-ref --format=x refs/heads refs/tags | wc -l) refs of $MIRROR_PATH to $CODECOMMIT_REPOSITORY"
