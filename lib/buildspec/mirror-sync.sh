#!/usr/bin/env bash
# Mirrors one Backlog Git repository into one CodeCommit repository.
#
# The stack uploads this file as written to its bucket (lib/build-scripts.ts) and the sync project
# takes that folder as its source; the buildspec's build phase sources backlog-ssh.sh, then this
# file, in a subshell. The repository's settings are the project's environment variables
# (syncSettings and repositorySyncSettings in lib/buildspec.ts):
#   BACKLOG_HOST           SPACE.git.DOMAIN
#   BACKLOG_REMOTE         SPACE@SPACE.git.DOMAIN:/PROJECT/REPO.git
#   CODECOMMIT_REPOSITORY  name of the target CodeCommit repository
#   MIRROR_PATH            PROJECT/REPO.git, relative to the EFS mount
#   HOST_KEY_MODE          "pinned" (keys in BACKLOG_HOST_KEYS) or "scan" (trust on first use, opt-in)
#   LOCK_TIMEOUT_SECONDS   longest wait for another sync of the same repository: half of what the
#                          build timeout leaves after provisioning (derived at lockTimeoutSeconds in
#                          lib/mirror-build.ts, so that every build ends on its own before the timeout)
#   ALLOW_EMPTY_SOURCE     "true": a source that advertises no refs may empty CodeCommit
#                          (setting sync.allowEmptySource); otherwise such a sync is refused
#   REF_INCLUDE, REF_EXCLUDE  the refs mirrored (settings sync.refs and repositories[].refs): git ref
#                          patterns joined by ",", "-" for none, `*` matching any characters, `/`
#                          included; a ref is mirrored when it matches an include and no exclude.
#                          The others are never pushed and never deleted from CodeCommit.
#   LFS_CREDENTIALS_PARAMETER, LFS_ENDPOINT   only with the setting lfs: Git LFS mirroring after the
#                          push (lib/buildspec/lfs-mirror.sh, which this script sources from its folder)
# and from the environment CodeBuild provides:
#   SRC_GIT_CREDENTIAL     SSH private key (env.parameter-store; masked in logs)
#   BACKLOG_HOST_KEYS      pinned host keys (settings or env.parameter-store), see backlog-ssh.sh
#   BACKUP_BUCKET          S3 bucket for the bundles of overwritten/deleted history (project variable)
#   CODEBUILD_REPO_DIR     mount path of the EFS file system (file-system location "repo_dir")
#   CODEBUILD_BUILD_ID     this build (named in the coalescing messages)
#   AWS_REGION             region of the build, for the CodeCommit HTTPS endpoint
#
# The bare mirror on EFS is shared by every build of the repository. It holds two views:
#   refs/backlog/heads/*, refs/backlog/tags/*   what Backlog advertised at the last fetch
#   refs/heads/*, refs/tags/*                   what CodeCommit holds (updated after each push)
# Their difference is the work of a sync: which refs to create, update, delete, which of those
# overwrite or delete history (bundled to S3 first), which CodeCommit refuses (skipped).
#
# Coalescing (a burst of webhooks for one repository):
#   - One writer at a time: a build works on the mirror only while holding an exclusive flock on
#     PATH.flock. A second file, PATH.sync-state, guarded by its own short flock, holds two counters:
#     STARTED (fetches started so far) and REQUESTED (the highest fetch number some build needs).
#   - A build that gets the lock at once is the holder. Before each fetch it increments STARTED
#     (claiming every request up to it): a fetch numbered N starts after every build that asked for
#     N had started, so it carries every push those builds were started for.
#   - A build that cannot get the lock at once asks for fetch STARTED+1 (REQUESTED = STARTED+1) and
#     waits. As soon as the holder starts that fetch, the waiter's push is in the holder's hands: the
#     waiter exits successfully without doing any work. If instead the lock comes free first (the
#     holder ended before seeing the request), the waiter becomes the holder.
#   - After each push the holder looks at the counters: while REQUESTED > STARTED it fetches again
#     (one fetch serves every request made so far), stopping once half the lock timeout is used up
#     (a waiter then takes over).
#   Consequences: a burst costs the first sync plus at most two more (the requests made during the
#   first are served by the second, those made during the second by a third); a waiter waits at
#   most for the rest of the sync that was running when it asked; no build fails because another
#   holds the lock; and the push a build was started for is always fetched by some sync that
#   started after it. A holder that fails fails its own build (the alert), and the next push or the
#   scheduled re-sync mirrors what it did not.
#
# A first sync larger than one build (the build's timeout counts provisioning too) is resumed:
#   - Time budget: the script works until WORK_DEADLINE = 2 x LOCK_TIMEOUT_SECONDS - 30 s after the
#     build's shell started (lockTimeoutSeconds in lib/mirror-build.ts leaves provisioning at least
#     the rest of the build timeout), every fetch, push and repack bounded by it (`timeout`), and
#     30 s to end cleanly. No increment starts in the last fifth (LAST_START).
#   - Fetch in increments of history: while the mirror is new (no ref at all) or shallow, Backlog's
#     heads and tags are fetched with a depth that grows by resume.depthStep commits per fetch
#     (the depth reached is resume.depth; both in the mirror's config on EFS): each fetch that
#     completes is kept, one cut at the deadline loses only itself (and the next step is a quarter).
#     Nothing is pushed while the mirror is shallow. Each increment is a fetch of the coalescing
#     protocol below (it carries every push made before it started), so builds waiting for the
#     lock end as usual. The first increment carries the snapshot of every branch and tag: that
#     much (plus one commit) must fit in one build.
#   - Push in increments of history (CodeCommit User Guide, "Migrate a repository incrementally",
#     https://docs.aws.amazon.com/codecommit/latest/userguide/how-to-push-large-repositories.html:
#     push in increments so that an interrupted push costs only its own increment): a branch whose
#     first-parent history that CodeCommit lacks is longer than resume.pushStep commits is pushed
#     one step of it at a time (each push a fast-forward of the branch to an older commit of
#     Backlog's history, one reference update: within the 4,000 of the quota), then at its tip.
#     CodeCommit's view (refs/heads/*) records each accepted push, so a later build goes on from
#     there. Between two increments a build that asked for a fetch is served (fetch, plan again).
#   - A build that reaches its deadline with work left ends successfully with "[mirror] sync
#     incomplete at the time budget, progress kept: BUILD goes on", BUILD being the next build of
#     its own project, which it starts (StartBuild on NAME-mirror-*, lib/iam.ts). When StartBuild
#     is refused (build.concurrentBuildLimit, quota) the build fails instead (the alert) and the
#     next push or the safety net's run goes on. A build that made no progress at all (not one
#     increment of one commit fit) fails naming build.timeoutMinutes: no chain of builds that repeat
#     the same work.
#
# CodeCommit's quotas (AWS CodeCommit User Guide, "Quotas in AWS CodeCommit",
# https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html):
#   - "Number of references in a single push: maximum of 4,000, including create, delete, and
#     update": pushes are batched, heads before tags, deletions last;
#   - branch names: "Cannot be exactly 40 hexadecimal characters" and at most 256 characters;
#     only refs/heads/* and refs/tags/* are mirrored. Refs CodeCommit would refuse are skipped and
#     named in one warning line; the others are mirrored;
#   - the default branch cannot be deleted (DefaultBranchCannotBeDeletedException,
#     API Reference DeleteBranch): it follows Backlog's HEAD (UpdateDefaultBranch) before any
#     deletion is pushed.
set -euo pipefail

log() { printf '[mirror] %s\n' "$*"; }
fail() { printf '[mirror] ERROR: %s\n' "$*" >&2; exit 1; }

: "${BACKLOG_HOST:?}" "${BACKLOG_REMOTE:?}" "${CODECOMMIT_REPOSITORY:?}" "${MIRROR_PATH:?}" "${HOST_KEY_MODE:?}"
: "${LOCK_TIMEOUT_SECONDS:=90}" "${ALLOW_EMPTY_SOURCE:=false}" "${CODEBUILD_BUILD_ID:=local}"
: "${REF_INCLUDE:?}" "${REF_EXCLUDE:?}"
if [ -z "${CODEBUILD_REPO_DIR:-}" ] || [ ! -d "$CODEBUILD_REPO_DIR" ]; then
  fail "CODEBUILD_REPO_DIR is not a directory: the EFS file system is not mounted"
fi
[ -n "${AWS_REGION:-}" ] || fail "AWS_REGION is not set"

readonly CODECOMMIT_URL="https://git-codecommit.${AWS_REGION}.amazonaws.com/v1/repos/${CODECOMMIT_REPOSITORY}"
readonly MIRROR="${CODEBUILD_REPO_DIR}/${MIRROR_PATH}"
readonly REPOSITORY_KEY="${MIRROR_PATH%.git}"
# CodeCommit quota: reference updates per push (see the header).
readonly MAX_REFS_PER_PUSH=4000
# Refspec text per push, so that a batch of long names stays far below the argument-list limit.
readonly MAX_REFSPEC_BYTES=500000
# A push slower than 1 KB/s for 60 s ends (one line, push_one) instead of holding the lock.
readonly PUSH_LOW_SPEED_LIMIT=1000 PUSH_LOW_SPEED_TIME=60
readonly PUSH_SPEED=(-c "http.lowSpeedLimit=$PUSH_LOW_SPEED_LIMIT" -c "http.lowSpeedTime=$PUSH_LOW_SPEED_TIME")
# Repository maintenance runs in the foreground while the lock is held (see maintain_mirror):
# fetches keep their packs (no explosion into loose files, which EFS serves slowly) and gc --auto
# repacks once more than gc.autoPackLimit packs have accumulated.
readonly GIT_MIRROR_CONFIG=(-c gc.autoDetach=false -c maintenance.autoDetach=false -c fetch.unpackLimit=1 -c gc.autoPackLimit=20)
# The time budget (see the header): SECONDS counts from the start of the build's shell, and 30 s
# are left to end cleanly.
readonly WORK_DEADLINE=$((2 * LOCK_TIMEOUT_SECONDS - 30))
# An increment should take about a fifth of the budget (30 s at 5 minutes); none starts after
# LAST_START. The first increments are 50 commits (fetch) and 200 (push), then doubled while an
# increment takes under half of that (adapt), and quartered when one is cut (cut).
readonly INCREMENT_SECONDS=$((WORK_DEADLINE / 5))
readonly LAST_START=$((WORK_DEADLINE - INCREMENT_SECONDS))
# Status of a sync stopped at the deadline (written as numbers, to keep the buildspec short):
# 4 = incomplete with progress made in this build, 5 = no progress.

if ! declare -F backlog_ssh_setup >/dev/null; then
  # shellcheck source=lib/buildspec/backlog-ssh.sh
  . "$(dirname "${BASH_SOURCE[0]}")/backlog-ssh.sh"
fi
# The ref selection: ref_selection_set, ref_selected.
# shellcheck source=lib/buildspec/ref-selection.sh
. "$(dirname "${BASH_SOURCE[0]}")/ref-selection.sh"
ref_selection_set "$REF_INCLUDE" "$REF_EXCLUDE"
# Git LFS mirroring (setting lfs), after the push: lfs_enabled, lfs_mirror.
# shellcheck source=lib/buildspec/lfs-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/lfs-mirror.sh"

g() { git "${GIT_MIRROR_CONFIG[@]}" --git-dir="$MIRROR" "$@"; }

# g until WORK_DEADLINE at most: status 124 when it was cut there (`timeout` signals the command's
# whole process group: git, ssh, index-pack), 124 at once when no time is left.
bounded() {
  local left=$((WORK_DEADLINE - SECONDS)) rc=0
  [ "$left" -gt 0 ] || return 124
  timeout --kill-after=5 "$left" git "${GIT_MIRROR_CONFIG[@]}" --git-dir="$MIRROR" "$@" || rc=$?
  # 137: still running 5 s after the TERM, killed.
  [ "$rc" -ne 137 ] || rc=124
  return "$rc"
}

# --- Coalescing: the lock and the request counters ---------------------------------------------
mkdir -p "$(dirname "$MIRROR")"
readonly STATE_FILE="$MIRROR.sync-state"
STARTED=0 REQUESTED=0

# Runs "$@" (if any) with STARTED/REQUESTED read under the state lock, and writes them back.
with_state() {
  exec 8>"$MIRROR.sync-state.lock"
  flock -w 60 8 || fail "the request counters of $MIRROR_PATH stayed locked for 60s"
  { read -r STARTED REQUESTED <"$STATE_FILE"; } 2>/dev/null || { STARTED=0 REQUESTED=0; }
  if [ "$#" -gt 0 ]; then
    "$@"
    printf '%s %s\n' "$STARTED" "$REQUESTED" >"$STATE_FILE.tmp"
    mv -f "$STATE_FILE.tmp" "$STATE_FILE"
  fi
  exec 8>&-
}
request_next_fetch() { NEED=$((STARTED + 1)); [ "$REQUESTED" -ge "$NEED" ] || REQUESTED=$NEED; }
claim_fetch() { STARTED=$((STARTED + 1)); FETCH_NUMBER=$STARTED; }

exec 9>"$MIRROR.flock"
if ! flock -n 9; then
  NEED=0
  with_state request_next_fetch
  log "another build is syncing $MIRROR_PATH: asked it for fetch #$NEED, which starts after this build's push"
  deadline=$((SECONDS + LOCK_TIMEOUT_SECONDS))
  until flock -w 1 9; do
    with_state
    if [ "$STARTED" -ge "$NEED" ]; then
      log "fetch #$NEED started in the running sync: it carries this build's push; nothing left to do"
      exit 0
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "another sync held $MIRROR_PATH for ${LOCK_TIMEOUT_SECONDS}s without starting fetch #$NEED"
  done
  # The lock came free: the last holder may have started the fetch asked for just before it ended.
  with_state
  if [ "$STARTED" -ge "$NEED" ]; then
    log "fetch #$NEED started in the sync that just ended: it carried this build's push; nothing left to do"
    exit 0
  fi
fi
log "lock acquired"
readonly HOLD_BUDGET=$((SECONDS + LOCK_TIMEOUT_SECONDS / 2))

# Holding the lock, no other git process works on this mirror: every git lock file is stale (left by
# a build that was killed), so is every half-made clone and every temporary pack of a fetch that
# was killed mid-transfer, and so are the files a killed background gc leaves.
if [ -d "$MIRROR" ]; then
  find "$MIRROR" -type f \( -name '*.lock' -o -path '*/objects/pack/tmp_*' -o -name gc.pid \) -print -delete |
    sed 's/^/[mirror] removed stale /'
fi
rm -rf "$MIRROR".tmp.*

trap backlog_ssh_cleanup EXIT
backlog_ssh_setup
export GIT_TERMINAL_PROMPT=0

# --- Fetching ------------------------------------------------------------------------------------

# Fetches Backlog's heads and tags into refs/backlog/* of the mirror (pruning what Backlog deleted)
# and, in parallel, the name of Backlog's HEAD into $BACKLOG_HEAD. A host key that differs from the
# pin, a stalled or unreachable server, or a source that cannot be read ends the build with one
# clear line. Any other failure (a damaged mirror) returns 1.
# "$@": more options of the fetch (a depth). Returns 124 when the fetch was cut at the deadline.
BACKLOG_HEAD=''
fetch_source() {
  local err head_file="$BACKLOG_SSH_DIR/head" head_pid rc
  git ls-remote --symref "$BACKLOG_REMOTE" HEAD >"$head_file" 2>/dev/null &
  head_pid=$!
  err=$(bounded fetch --quiet --prune --no-tags --no-auto-maintenance "$@" "$BACKLOG_REMOTE" \
    '+refs/heads/*:refs/backlog/heads/*' '+refs/tags/*:refs/backlog/tags/*' 2>&1 >/dev/null) || {
    rc=$?
    wait "$head_pid" || true
    [ "$rc" -ne 124 ] || return 124
    backlog_ssh_explain_failure "$err" "$BACKLOG_REMOTE" || true
    printf '%s\n' "$err" >&2
    return 1
  }
  BACKLOG_HEAD=''
  if wait "$head_pid"; then
    BACKLOG_HEAD=$(sed -n 's#^ref: refs/heads/\(.*\)\tHEAD$#\1#p' "$head_file")
  fi
}

# Creates the mirror in a temporary directory, seeds its CodeCommit view from CodeCommit itself (a
# mirror re-created after damage then still knows which refs CodeCommit holds, to delete what
# Backlog no longer has after backing it up), and moves it into place only when that is complete.
create_mirror() {
  local tmp="$MIRROR.tmp.$$" err
  log "creating the mirror of $MIRROR_PATH"
  git init --quiet --bare "$tmp"
  if ! err=$(git "${GIT_MIRROR_CONFIG[@]}" "${PUSH_SPEED[@]}" --git-dir="$tmp" fetch --quiet --no-tags --no-auto-maintenance \
    "$CODECOMMIT_URL" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' 2>&1 >/dev/null); then
    fail "cannot read what CodeCommit $CODECOMMIT_REPOSITORY holds: $(tail -n 2 <<<"$err" | tr '\n' ' ')"
  fi
  rm -rf "$MIRROR"
  mv "$tmp" "$MIRROR"
}

mirror_is_sound() {
  g fsck --connectivity-only --no-progress >/dev/null 2>&1
}

# What a sync stopped at the deadline returns: 4 (incomplete) when this build fetched or pushed
# something, 5 (no progress) when it did not.
stopped() {
  [ "$FETCHED$PUSHES" != 00 ] || return 5
  return 4
}

# After an increment that took $1 seconds: STEP doubled when that was under half of
# INCREMENT_SECONDS, and kept as resume.$2 in the mirror's config (a cut increment divides it by 4).
adapt() {
  [ $(($1 * 2)) -ge "$INCREMENT_SECONDS" ] || STEP=$((STEP * 2))
  g config "resume.$2" "$STEP"
}

# After an increment of STEP commits cut at the deadline (and lost): a quarter of it next time
# (resume.$1). Returns 4 (incomplete) when that is smaller or this build did something, else
# 5 (no progress: one commit does not fit).
cut() {
  g config "resume.$1" $(((STEP + 3) / 4))
  log "cut at the time budget: an increment of $STEP commits"
  [ "$STEP" -eq 1 ] || return 4
  stopped
}

# Fetches Backlog's history in increments of depth (see the header) until the mirror is complete
# (0), or stops at the deadline (4 or 5, as cut); 1 as fetch_source. Each increment after
# the build's first claims a fetch number (waiting builds then end).
fetch_history() {
  local depth took rc
  depth=$(g config resume.depth || echo 0)
  STEP=$(g config resume.depthStep || echo 50)
  while :; do
    [ "$FETCHED" -eq 0 ] || with_state claim_fetch
    took=$SECONDS
    fetch_source --depth=$((depth + STEP)) || {
      rc=$?
      [ "$rc" -ne 124 ] || cut depthStep || rc=$?
      return "$rc"
    }
    depth=$((depth + STEP)) FETCHED=$((FETCHED + 1))
    if [ "$(g rev-parse --is-shallow-repository)" = false ]; then
      g config --unset resume.depth || true
      log "first sync: history complete"
      return 0
    fi
    adapt $((SECONDS - took)) depthStep
    g config resume.depth "$depth"
    log "first sync: depth $depth fetched"
    [ "$SECONDS" -le "$LAST_START" ] || return 4
  done
}

# --- Planning --------------------------------------------------------------------------------------

# "REF OLD NEW" for every ref that differs between CodeCommit's view (OLD) and Backlog's (NEW);
# 0 stands for a missing side.
plan_changes() {
  local old new
  old=$(g for-each-ref --format='%(refname) %(objectname)' refs/heads refs/tags | LC_ALL=C sort)
  new=$(g for-each-ref --format='%(refname) %(objectname)' refs/backlog/heads refs/backlog/tags |
    sed 's#^refs/backlog/#refs/#' | LC_ALL=C sort)
  LC_ALL=C join -a1 -a2 -e 0 -o '0,1.2,2.2' <(printf '%s\n' "$old" | sed '/^$/d') <(printf '%s\n' "$new" | sed '/^$/d') |
    awk '$2 != $3'
}

# Sets REASON to why CodeCommit would refuse ref $1 ("" when it would not). No subshell: it runs
# once per ref (5,000 times for 5,000 tags).
refused_reason() {
  local ref=$1 name
  REASON=''
  case "$ref" in
    refs/heads/*)
      name=${ref#refs/heads/}
      if [[ $name =~ ^[0-9a-fA-F]{40}$ ]]; then
        REASON="branch name of 40 hexadecimal characters"
      elif [ "${#name}" -gt 256 ]; then
        REASON="branch name longer than 256 characters"
      fi
      ;;
    refs/tags/*) ;;
    *) REASON="neither a branch nor a tag" ;;
  esac
}

# --- Backups of history about to be overwritten or deleted --------------------------------------

# Saves, for each ref in $@ (refs CodeCommit holds that the push will delete or force-update), the
# commits no ref will reach afterwards as a git bundle, uploaded to
#   s3://BACKUP_BUCKET/backups/PROJECT/REPO/<UTC time>-<ref slug>.bundle
# before anything is pushed. A ref whose old tip stays reachable needs no bundle.
backup_history() {
  local dir stamp ref slug count=0 negatives
  dir=$(mktemp -d)
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  negatives=$(g for-each-ref --format='^%(objectname)' refs/backlog/heads refs/backlog/tags | LC_ALL=C sort -u)
  for ref in "$@"; do
    slug=$(printf '%s' "${ref#refs/}" | tr -c 'A-Za-z0-9._-' '_')
    if printf '%s\n%s\n' "$ref" "$negatives" | g bundle create --quiet "$dir/$stamp-$slug.bundle" --stdin >/dev/null 2>&1; then
      count=$((count + 1))
    fi
  done
  if [ "$count" -eq 0 ]; then
    rm -rf "$dir"
    return 0
  fi
  [ -n "${BACKUP_BUCKET:-}" ] || fail "BACKUP_BUCKET is not set: refusing to overwrite or delete history without a backup; nothing was pushed"
  local target="s3://$BACKUP_BUCKET/backups/$REPOSITORY_KEY/"
  if ! aws s3 cp --recursive --only-show-errors "$dir" "$target" >&2; then
    rm -rf "$dir"
    fail "could not upload the backup of overwritten or deleted history to $target; nothing was pushed"
  fi
  log "saved $count bundle(s) of history about to be overwritten or deleted to $target: $(find "$dir" -type f -printf '%f ')"
  rm -rf "$dir"
}

# --- Pushing ---------------------------------------------------------------------------------------

PUSHES=0
# Pushes the "REFSPEC\tREF\tNEWSHA" lines of file $1 in batches within CodeCommit's quota, and
# records each accepted ref in CodeCommit's view of the mirror. Fails naming the refs refused;
# returns as stopped when a push was cut at the deadline.
push_batches() {
  local file=$1 batch=() bytes=0 spec ref new
  [ -s "$file" ] || return 0
  while IFS=$'\t' read -r spec ref new; do
    if [ "${#batch[@]}" -ge "$MAX_REFS_PER_PUSH" ] || [ $((bytes + ${#spec})) -gt "$MAX_REFSPEC_BYTES" ]; then
      push_one "${batch[@]}" || { stopped; return; }
      batch=() bytes=0
    fi
    batch+=("$spec")
    bytes=$((bytes + ${#spec} + 1))
  done <"$file"
  [ "${#batch[@]}" -eq 0 ] || push_one "${batch[@]}" || { stopped; return; }
}

# Pushes the history of branch $1 towards commit $2 in increments (see the header): every
# resume.pushStep-th commit of its first-parent history that CodeCommit does not hold, oldest
# first, short of $2 (push_batches pushes the tip). Returns 0 when only the tip is left, 6 when a
# build asked for a fetch (the sync fetches and plans again), else as cut or stopped.
push_history() {
  local commits=() i took
  STEP=$(g config resume.pushStep || echo 200)
  mapfile -t commits < <(g rev-list --first-parent --reverse "$2" --not --branches --tags)
  [ "${#commits[@]}" -le "$STEP" ] || log "pushing $1 in increments of $STEP commits"
  for ((i = STEP - 1; i < ${#commits[@]} - 1; i += STEP)); do
    with_state
    [ "$PUSHES" -eq 0 ] || [ "$REQUESTED" -le "$STARTED" ] || return 6
    [ "$SECONDS" -le "$LAST_START" ] || { stopped || return $?; }
    took=$SECONDS
    push_one "+${commits[$i]}:$1" || { cut pushStep || return $?; }
    adapt $((SECONDS - took)) pushStep
  done
}

# One push of the refspecs "$@"; the accepted ones update CodeCommit's view (porcelain output).
# Returns 124 when the push was cut at the deadline (CodeCommit's view is then left as it was).
push_one() {
  local out rc=0 flag pair dst updates rejected=''
  out=$(bounded "${PUSH_SPEED[@]}" push --porcelain "$CODECOMMIT_URL" "$@" 2>"$BACKLOG_SSH_DIR/push.err") || rc=$?
  [ "$rc" -ne 124 ] || return 124
  PUSHES=$((PUSHES + 1))
  updates=''
  while IFS=$'\t' read -r flag pair _; do
    dst=${pair#*:}
    case "$flag" in
      '!') rejected+=" $dst" ;;
      '-') updates+="delete $dst"$'\n' ;;
      ' ' | '+' | '*' | '=') updates+="update $dst ${pair%%:*}"$'\n' ;;
    esac
  done < <(grep -E $'^[-!+*= ]\t' <<<"$out" || true)
  # CodeCommit's view: the refspec's source is refs/backlog/..., resolved in the mirror.
  if [ -n "$updates" ]; then
    printf '%s' "$updates" | g update-ref --stdin
  fi
  if [ "$rc" -ne 0 ]; then
    # curl's error 28 (timeout): git's low-speed limit ended a push that stopped moving.
    if grep -q -e 'curl 28' -e 'Operation too slow' "$BACKLOG_SSH_DIR/push.err"; then
      mirror_is_sound || exit 3
      fail "the push to $CODECOMMIT_URL stalled: under $PUSH_LOW_SPEED_LIMIT bytes/s for ${PUSH_LOW_SPEED_TIME}s (http.lowSpeedLimit); the refs of this push were not updated in CodeCommit, the next sync pushes them"
    fi
    sed 's/^/[mirror] push: /' "$BACKLOG_SSH_DIR/push.err" >&2
    mirror_is_sound || exit 3
    fail "pushing to $CODECOMMIT_URL failed${rejected:+; refused:$rejected}"
  fi
}

# Points CodeCommit's default branch at branch $1 (which CodeCommit holds), remembering it.
set_default_branch() {
  aws codecommit update-default-branch --repository-name "$CODECOMMIT_REPOSITORY" --default-branch-name "$1" >&2 ||
    fail "could not make $1 the default branch of CodeCommit $CODECOMMIT_REPOSITORY"
  g config mirror.codecommitDefaultBranch "$1"
  log "default branch of $CODECOMMIT_REPOSITORY is now $1 (Backlog's HEAD)"
}

# A branch Backlog has and CodeCommit accepts: Backlog's HEAD if possible ("" if none).
pushable_branch() {
  local b
  if [ -n "$BACKLOG_HEAD" ] && g show-ref --verify --quiet "refs/backlog/heads/$BACKLOG_HEAD" && ref_selected "refs/heads/$BACKLOG_HEAD"; then
    refused_reason "refs/heads/$BACKLOG_HEAD"
    if [ -z "$REASON" ]; then
      echo "$BACKLOG_HEAD"
      return
    fi
  fi
  while read -r b; do
    ref_selected "refs/heads/$b" || continue
    refused_reason "refs/heads/$b"
    if [ -z "$REASON" ]; then
      echo "$b"
      return
    fi
  done < <(g for-each-ref --format='%(refname:strip=3)' refs/backlog/heads)
}

# --- One sync ----------------------------------------------------------------------------------

# Runs in a subshell (see the end): exits 3 when the mirror turns out to be damaged; returns
# 4 (incomplete) or 5 (no progress) when it stopped at the deadline, 6 when it should fetch again.
FETCHED=0
sync_once() {
  local changes count work ref old new skipped='' destructive=() deleted_heads=() current actual target='' desired='' rc=0
  if [ -d "$MIRROR" ] && [ "$(g rev-parse --is-bare-repository 2>/dev/null)" != true ]; then
    log "the mirror at $MIRROR_PATH is damaged (not a bare repository); creating it again"
    rm -rf "$MIRROR"
  fi
  [ -d "$MIRROR" ] || create_mirror
  # A first sync's fetch, in increments, while the mirror has no ref at all (new, and CodeCommit was
  # empty) or is shallow (an earlier build fetched part of the history).
  if [ "$(g rev-parse --is-shallow-repository)" = true ] || [ -z "$(g for-each-ref --count=1)" ]; then
    fetch_history || rc=$?
  else
    fetch_source || rc=$?
  fi
  # 124: a fetch (not of a first sync) cut at the deadline, which a later build would only repeat.
  [ "$rc" -ne 124 ] || rc=5
  [ "$rc" -lt 4 ] || return "$rc"
  if [ "$rc" -ne 0 ]; then
    mirror_is_sound && fail "fetching $BACKLOG_REMOTE into $MIRROR_PATH failed"
    exit 3
  fi

  current=$(g for-each-ref --format=x refs/heads refs/tags | wc -l)
  if [ -z "$(g for-each-ref --count=1 refs/backlog/heads refs/backlog/tags)" ]; then
    if [ "$current" -eq 0 ]; then
      log "Backlog advertises no refs for $REPOSITORY_KEY yet; nothing to mirror"
      return 0
    fi
    [ "$ALLOW_EMPTY_SOURCE" = true ] ||
      fail "Backlog advertises no refs for $REPOSITORY_KEY: refusing to delete the $current refs of CodeCommit $CODECOMMIT_REPOSITORY, which is kept as it is. If the repository was emptied on purpose, set sync.allowEmptySource to true"
    log "WARNING: Backlog advertises no refs for $REPOSITORY_KEY and sync.allowEmptySource is on: deleting CodeCommit's refs (backed up first)"
  fi

  # Backlog's default branch must be mirrored: CodeCommit's default branch follows it.
  if [ -n "$BACKLOG_HEAD" ] && ! ref_selected "refs/heads/$BACKLOG_HEAD"; then
    fail "Backlog's default branch $BACKLOG_HEAD of $REPOSITORY_KEY is outside the ref selection (include: $REF_INCLUDE; exclude: $REF_EXCLUDE): select refs/heads/$BACKLOG_HEAD in sync.refs or repositories[].refs; nothing was pushed"
  fi

  changes=$(plan_changes)
  work=$(mktemp -d)
  : >"$work/heads" && : >"$work/tags" && : >"$work/deletes"
  while read -r ref old new; do
    [ -n "$ref" ] || continue
    # Outside the selection: never pushed, never deleted.
    ref_selected "$ref" || continue
    if [ "$new" != 0 ]; then
      refused_reason "$ref"
      if [ -n "$REASON" ]; then
        skipped+=" $ref ($REASON);"
        continue
      fi
      if [ "$old" != 0 ] && ! g merge-base --is-ancestor "$old" "$new" 2>/dev/null; then destructive+=("$ref"); fi
      case "$ref" in
        refs/heads/*) printf '+refs/backlog/%s:%s\t%s\t%s\n' "${ref#refs/}" "$ref" "$ref" "$new" >>"$work/heads" ;;
        *) printf '+refs/backlog/%s:%s\t%s\t%s\n' "${ref#refs/}" "$ref" "$ref" "$new" >>"$work/tags" ;;
      esac
    else
      destructive+=("$ref")
      case "$ref" in refs/heads/*) deleted_heads+=("${ref#refs/heads/}") ;; esac
      printf ':%s\t%s\t0\n' "$ref" "$ref" >>"$work/deletes"
    fi
  done <<<"$changes"

  # The default branch cannot be deleted in CodeCommit: when the push deletes the current default,
  # it first moves to Backlog's HEAD (or another branch Backlog keeps), or is kept if none is left.
  if [ "${#deleted_heads[@]}" -gt 0 ]; then
    actual=$(aws codecommit get-repository --repository-name "$CODECOMMIT_REPOSITORY" \
      --query repositoryMetadata.defaultBranch --output text) ||
      fail "could not read the default branch of CodeCommit $CODECOMMIT_REPOSITORY"
    if printf '%s\n' "${deleted_heads[@]}" | grep -q -F -x -e "$actual"; then
      target=$(pushable_branch)
      if [ -z "$target" ]; then
        log "WARNING: CodeCommit cannot delete its default branch $actual and Backlog has no other branch: $actual is kept"
        grep -v -F -x -e ":refs/heads/$actual"$'\t'"refs/heads/$actual"$'\t0' "$work/deletes" >"$work/deletes.kept" || true
        mv "$work/deletes.kept" "$work/deletes"
        mapfile -t destructive < <(printf '%s\n' "${destructive[@]}" | grep -v -F -x -e "refs/heads/$actual" || true)
      fi
    fi
  fi

  [ "${#destructive[@]}" -eq 0 ] || [ -z "${destructive[0]}" ] || backup_history "${destructive[@]}"

  while IFS=$'\t' read -r _ ref new; do
    push_history "$ref" "$new" </dev/null || return $?
  done <"$work/heads"
  push_batches "$work/heads" || return $?
  # CodeCommit's default branch follows Backlog's HEAD, once CodeCommit holds that branch.
  if [ -n "$target" ]; then
    desired=$target
  elif [ -n "$BACKLOG_HEAD" ] && [ "$(g config --get mirror.codecommitDefaultBranch || true)" != "$BACKLOG_HEAD" ] &&
    g show-ref --verify --quiet "refs/heads/$BACKLOG_HEAD"; then
    desired=$BACKLOG_HEAD
  fi
  [ -z "$desired" ] || set_default_branch "$desired"
  push_batches "$work/tags" || return $?
  push_batches "$work/deletes" || return $?
  rm -rf "$work"

  [ -z "$skipped" ] || log "WARNING: skipped refs CodeCommit refuses:${skipped%;}"
  count=0
  [ -z "$changes" ] || count=$(wc -l <<<"$changes")
  log "fetch #$FETCH_NUMBER: $count ref change(s) pushed in $PUSHES push(es)"
}

# Git LFS without the setting lfs (or a repository with lfs: false): CodeCommit gets the pointer
# files, and the sync moves no LFS object (with lfs: lfs_mirror, lib/buildspec/lfs-mirror.sh). When
# the .gitattributes of a mirrored head or tag marks files `filter=lfs`, one warning counts the
# distinct LFS objects the tips of the mirrored refs point at: pointer files are blobs of less than
# 1024 bytes that start with the spec's version line, then `oid sha256:HEX` after any `ext-` keys
# (git-lfs, docs/spec.md). Bounded: a repository without LFS costs one `cat-file` of its tips'
# .gitattributes; one with LFS an `ls-tree` of at most LFS_SCAN_TREES distinct tip trees. (No `{64}`
# interval in the awk: mawk, the awk of Debian and Ubuntu images, does not support it.)
readonly LFS_SCAN_TREES=100
report_lfs() {
  local trees total count at=''
  [ -n "$(g for-each-ref --count=1 refs/heads refs/tags)" ] || return 0
  # (grep reads all of its input: with -q, cat-file would die of SIGPIPE and pipefail would hide the match)
  g for-each-ref --format='%(objectname):.gitattributes' refs/heads refs/tags | sort -u | g cat-file --batch 2>/dev/null |
    grep -E '(^|[[:space:]])filter=lfs([[:space:]]|$)' >/dev/null || return 0
  trees=$(g for-each-ref --format='%(objectname)^{tree}' refs/heads refs/tags | g cat-file --batch-check='%(objectname)' | sort -u)
  total=$(wc -l <<<"$trees")
  if [ "$total" -gt "$LFS_SCAN_TREES" ]; then
    trees=$(head -n "$LFS_SCAN_TREES" <<<"$trees")
    at='at least '
  fi
  count=$(while read -r tree; do g ls-tree -r -l "$tree"; done <<<"$trees" |
    awk '$2 == "blob" && $4 < 1024 { print $3 }' | sort -u | g cat-file --batch |
    awk '/^version https:\/\/git-lfs\.github\.com\/spec\/v1$/ { p = 1; next }
      p && /^ext-/ { next }
      p && /^oid sha256:[0-9a-f]+$/ && length($0) == 75 { print substr($0, 12) }
      { p = 0 }' | sort -u | wc -l)
  [ "$count" -gt 0 ] || return 0
  log "WARNING: $REPOSITORY_KEY uses Git LFS: ${at}$count LFS object(s) of the mirrored refs are not mirrored; CodeCommit holds their pointer files only (README, What it does not do)"
}

# Foreground maintenance while the lock is held: git gc --auto repacks and prunes when its
# thresholds are reached (never in the background, where the end of the build would kill it).
maintain_mirror() {
  bounded gc --auto --quiet || log "WARNING: git gc --auto failed in $MIRROR_PATH (the mirror is still usable)"
}


# One sync in a subshell with its own errexit (never called as a condition, where bash would ignore
# errexit inside); its status in RC. A damaged mirror (exit 3) is created again and the sync retried
# once; any other failure ends the build with the sync's own message.
run_sync() {
  set +e
  (
    set -e
    sync_once
  )
  RC=$?
  set -e
}

# The next build of this project goes on where this one stopped (see the header); $1 says what is left.
continue_in_next_build() {
  local out
  out=$(aws codebuild start-build --project-name "${CODEBUILD_BUILD_ID%%:*}" --query build.id --output text 2>&1) ||
    fail "$1; could not start the next build: $(tail -n 1 <<<"$out")"
  log "$1 at the time budget, progress kept: $out goes on"
  exit 0
}

FETCH_NUMBER=0
while :; do
  with_state claim_fetch
  run_sync
  if [ "$RC" -eq 3 ]; then
    log "the mirror at $MIRROR_PATH is damaged (fsck failed); creating it again and retrying once"
    rm -rf "$MIRROR"
    run_sync
  fi
  case "$RC" in
    0) ;;
    6) PUSHES=1 && continue ;;
    4) continue_in_next_build "sync incomplete" ;;
    5) fail "no increment fit in the time budget ($WORK_DEADLINE s): raise build.timeoutMinutes" ;;
    *) exit "$RC" ;;
  esac
  with_state
  [ "$REQUESTED" -gt "$STARTED" ] || break
  if [ "$SECONDS" -ge "$HOLD_BUDGET" ]; then
    log "later builds asked for another fetch; leaving it to them (this sync used half the lock timeout)"
    break
  fi
  log "builds started during this sync asked for another fetch"
done
maintain_mirror
log "mirrored $(g for-each-ref --format=x refs/heads refs/tags | wc -l) refs of $MIRROR_PATH to $CODECOMMIT_REPOSITORY"
if lfs_enabled; then
  lfs_mirror
  case "$LFS_STATUS" in
    1) exit 1 ;;
    4) continue_in_next_build "LFS objects left" ;;
  esac
else
  report_lfs
fi
