#!/usr/bin/env bash
# The safety net: finds the mirrors whose refs differ from Backlog's and starts the sync of those
# only, so one scheduled run costs one short build whatever the number of repositories.
#
# Run by `NAME-verify` (lib/verify-buildspec.ts) after backlog-ssh.sh and these settings:
#   STACK_NAME             the stack's name (metric dimension `Stack`)
#   BACKLOG_USER           the SSH user (the space key)
#   BACKLOG_HOST           SPACE.git.DOMAIN
#   HOST_KEY_MODE          "pinned" (keys in BACKLOG_HOST_KEYS) or "scan" (trust on first use)
#   METRIC_NAMESPACE       CloudWatch namespace of the health metric
#   OLDEST_AGE_METRIC      per-stack metric: seconds since the least recently in-sync repository was
#   PARALLEL_CHECKS        repositories checked at once
#   IN_SYNC_STATE_URI      s3://BUCKET/KEY: when each repository was last found in sync, or first
#                          seen, if never ("PROJECT/REPO EPOCH" lines), read at the start of a run
#                          and written at its end
#   ALERT_STATE_MACHINE_ARN the alert state machine (lib/alert-states.ts)
#   OUT_OF_SYNC_ALERT_SECONDS a repository out of sync this long is reported to it (the alarm window)
# and from CodeBuild: REPOSITORY_LIST_URI (s3://BUCKET/KEY, one line per repository: "PROJECT/REPO
# CODECOMMIT_NAME SYNC_PROJECT INCLUDE EXCLUDE", the last two its ref selection: patterns joined by
# ",", "-" for none), SRC_GIT_CREDENTIAL, BACKLOG_HOST_KEYS, AWS_REGION, CODEBUILD_BUILD_ID.
#
# For each repository (PARALLEL_CHECKS at once), `git ls-remote` lists Backlog's heads and tags over
# SSH and CodeCommit's over HTTPS. Equal: in sync, its time is recorded. Different: its sync
# is started, and NOT waited for. The syncs queue on the same platform and compute type as this
# build (ARM), and CodeBuild runs at most the account's quota of those at once and drops a queued
# build whose queued timeout ends (CodeBuild User Guide, "Builds in AWS CodeBuild"; the quota
# "Concurrently running builds for ARM/Small environment" can be 1, "Quotas for AWS CodeBuild"): a
# verifier that waited for its syncs would hold the very slot they wait for. So a repository whose
# sync this run started is not in sync in this run; the next run compares it again (in sync then,
# or started again), a sync that fails raises its own alert (lib/alerts.ts), and the out-of-sync
# alarm judges a repository that stays behind (lib/safety-net.ts). A repository that cannot be
# listed is reported, not started. Then OLDEST_AGE_METRIC: 0 when all are in sync, else the oldest
# time since a repository was last found in sync (since it was first seen, if never: a new
# repository is not late before its first sync had a chance); each repository out of
# sync for OUT_OF_SYNC_ALERT_SECONDS or more is reported to the alert state machine, which notifies
# once (lib/alert-states.ts). The times are one S3 object, not a metric per repository: a custom
# metric costs USD 0.30 a month each (Amazon CloudWatch pricing), USD 60 for 200 repositories.
#
# Exits 1 when a repository could not be checked or a sync could not be started, after publishing.
set -euo pipefail

log() { printf '[verify] %s\n' "$*"; }
fail() {
  printf '[verify] ERROR: %s\n' "$*" >&2
  exit 1
}

# The ref selection: ref_selection_set, ref_selected.
# shellcheck source=lib/buildspec/ref-selection.sh
. "$(dirname "${BASH_SOURCE[0]}")/ref-selection.sh"

# PutMetricData takes at most 1,000 metrics per request (CloudWatch API Reference, PutMetricData).
readonly METRICS_PER_PUT=1000

# ls-remote lines ("OID<TAB>REF") on stdin; out: the refs a sync mirrors, sorted, as "OID REF".
# Peeled tags ("^{}") are left out, and so are branch names CodeCommit refuses (exactly 40
# hexadecimal digits, or longer than 256 characters: CodeCommit User Guide, "Quotas"), which the
# sync skips: they are no difference.
verify_comparable_refs() {
  awk -F '\t' '
    $2 ~ /\^\{\}$/ { next }
    $2 ~ /^refs\/heads\// {
      name = substr($2, 12)
      if (length(name) > 256 || (length(name) == 40 && name ~ /^[0-9a-fA-F]+$/)) next
      print $1 " " $2; next
    }
    $2 ~ /^refs\/tags\// { print $1 " " $2 }
  ' | LC_ALL=C sort
}

# "OID REF" lines on stdin; out: those whose ref is in the selection of patterns $1 (included)
# and $2 (excluded), as the sync selects them (ref-selection.sh). Runs in a pipeline's subshell.
verify_selected_refs() {
  local oid ref
  ref_selection_set "$1" "$2"
  while read -r oid ref; do
    if [ -n "$ref" ] && ref_selected "$ref"; then printf '%s %s\n' "$oid" "$ref"; fi
  done
}

# Lists the heads and tags of remote $1 into file $2 (comparable form, selected by patterns $4 and
# $5); stderr into file $3.
verify_list_refs() {
  local out
  out=$(git ls-remote --heads --tags "$1" 2>"$3") || return 1
  printf '%s\n' "$out" | verify_comparable_refs | verify_selected_refs "$4" "$5" >"$2"
}

# Checks repository $2 (PROJECT/REPO) against CodeCommit repository $3, the refs selected by $4
# and $5 only; writes "same", "differs" or "error" to $WORK/verdicts/$1. Runs in a background subshell.
verify_check() {
  local i=$1 key=$2 codecommit=$3 include=$4 exclude=$5 remote url err msg
  local dir="$WORK/checks/$i"
  mkdir -p "$dir"
  echo error >"$WORK/verdicts/$i"
  remote="${BACKLOG_USER}@${BACKLOG_HOST}:/${key}.git"
  url="https://git-codecommit.${AWS_REGION}.amazonaws.com/v1/repos/${codecommit}"
  # One retry: a busy SSH server may drop a connection before authentication (OpenSSH's
  # MaxStartups); the second attempt comes 2 s later.
  if ! verify_list_refs "$remote" "$dir/backlog" "$dir/backlog.err" "$include" "$exclude"; then
    sleep 2
    if ! verify_list_refs "$remote" "$dir/backlog" "$dir/backlog.err" "$include" "$exclude"; then
      err=$(cat "$dir/backlog.err")
      # A host key mismatch, a refused key or a stall gets the sync's own one-line explanation.
      msg=$(backlog_ssh_explain_failure "$err" "$remote" 2>&1) || true
      [ -n "$msg" ] || msg="[verify] ERROR: cannot list $remote: $(tail -n 2 <<<"$err" | tr '\n' ' ')"
      printf '%s\n' "$msg" >&2
      return 0
    fi
  fi
  if ! verify_list_refs "$url" "$dir/codecommit" "$dir/codecommit.err" "$include" "$exclude"; then
    printf '[verify] ERROR: cannot list CodeCommit %s: %s\n' "$codecommit" "$(tail -n 2 "$dir/codecommit.err" | tr '\n' ' ')" >&2
    return 0
  fi
  if cmp -s "$dir/backlog" "$dir/codecommit"; then
    echo same >"$WORK/verdicts/$i"
  else
    echo differs >"$WORK/verdicts/$i"
  fi
}

# One MetricDatum as JSON. Names and keys were validated at synthesis (letters, digits, _ . - /),
# so they need no JSON escaping.
verify_datum() { # NAME UNIT VALUE [REPOSITORY]
  local dims="{\"Name\":\"Stack\",\"Value\":\"$STACK_NAME\"}"
  [ -z "${4:-}" ] || dims="$dims,{\"Name\":\"Repository\",\"Value\":\"$4\"}"
  printf '{"MetricName":"%s","Unit":"%s","Value":%s,"Dimensions":[%s]}\n' "$1" "$2" "$3" "$dims"
}

# Publishes the MetricDatum lines of file $1, METRICS_PER_PUT per request.
verify_put_metrics() {
  local batch="$WORK/put.json" n part
  n=$(wc -l <"$1")
  [ "$n" -gt 0 ] || return 0
  split -l "$METRICS_PER_PUT" "$1" "$WORK/put."
  for part in "$WORK"/put.a*; do
    { printf '['; paste -sd, "$part"; printf ']'; } >"$batch"
    aws cloudwatch put-metric-data --namespace "$METRIC_NAMESPACE" --metric-data "file://$batch"
  done
}

# Reads the in-sync times into file $1 ("KEY EPOCH" lines): empty when the object does not exist
# yet (the first run); any other error fails the run, which would otherwise report every
# repository as never in sync.
verify_read_in_sync_times() {
  local err
  if ! err=$(aws s3 cp --only-show-errors "$IN_SYNC_STATE_URI" "$1" 2>&1); then
    case "$err" in
      *"(404)"* | *NoSuchKey* | *"Not Found"*) : >"$1" ;;
      *) fail "cannot read the in-sync times $IN_SYNC_STATE_URI: $(tail -n 2 <<<"$err" | tr '\n' ' ')" ;;
    esac
  fi
}

# For each key in file $2, prints "KEY SECONDS": the time since its in-sync time in file $1 (now:
# $3), or 0 when it has none (seen for the first time).
verify_in_sync_ages() {
  awk -v now="$3" '
    NR == FNR { last[$1] = $2; next }
    { print $1, ($1 in last && now > last[$1]) ? now - last[$1] : 0 }
  ' "$1" "$2"
}

# The next in-sync times: file $2's keys (found in sync this run) at $3, the other keys of the
# repository list $4 with their time from file $1, or $3 when they have none (first seen); keys no
# longer listed are dropped.
verify_next_in_sync_times() {
  awk -v now="$3" '
    FILENAME == ARGV[1] { last[$1] = $2; next }
    FILENAME == ARGV[2] { same[$1] = 1; next }
    $1 == "" { next }
    { print $1, ($1 in same || !($1 in last)) ? now : last[$1] }
  ' "$1" "$2" "$4"
}

# Reports repository $1 (sync project $2), out of sync for $3 seconds, to the alert state machine.
verify_report_out_of_sync() {
  local input
  input=$(printf '{"project":"%s","status":"OUT_OF_SYNC","time":"%s","build":"%s","reason":"%s"}' \
    "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${CODEBUILD_BUILD_ID:-verify}" \
    "the safety net found $1 out of sync with Backlog for $(($3 / 3600)) hours or more")
  aws stepfunctions start-execution --state-machine-arn "$ALERT_STATE_MACHINE_ARN" --input "$input" >/dev/null
}

verify_main() {
  : "${STACK_NAME:?}" "${BACKLOG_USER:?}" "${BACKLOG_HOST:?}" "${HOST_KEY_MODE:?}" "${METRIC_NAMESPACE:?}"
  : "${OLDEST_AGE_METRIC:?}" "${PARALLEL_CHECKS:?}" "${IN_SYNC_STATE_URI:?}"
  : "${ALERT_STATE_MACHINE_ARN:?}" "${OUT_OF_SYNC_ALERT_SECONDS:?}"
  [ -n "${AWS_REGION:-}" ] || fail "AWS_REGION is not set"
  [ -n "${REPOSITORY_LIST_URI:-}" ] || fail "REPOSITORY_LIST_URI is not set: the project has no repository list"
  local began now i running=0 key codecommit project build verdict same=0 differs=0 started=0 errors=0 start_failures=0 oldest=0 age
  local reported=0 report_failures=0
  local -a keys codecommits projects includes excludes
  local -A project_of
  began=$(date +%s%N)
  WORK=$(mktemp -d)
  trap 'backlog_ssh_cleanup; rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/verdicts" "$WORK/checks"

  aws s3 cp --quiet "$REPOSITORY_LIST_URI" "$WORK/list" ||
    fail "cannot read the repository list $REPOSITORY_LIST_URI (Terraform writes it; apply the configuration again)"
  while read -r key codecommit project include exclude; do
    [ -n "$key" ] || continue
    # Terraform writes the list before the project takes these scripts (lib/safety-net.ts), so
    # every line has its selection.
    [ -n "$exclude" ] || fail "the repository list $REPOSITORY_LIST_URI has no ref selection for $key (Terraform writes it; apply the configuration again)"
    keys+=("$key") codecommits+=("$codecommit") projects+=("$project") includes+=("$include") excludes+=("$exclude")
    project_of[$key]=$project
  done <"$WORK/list"
  [ "${#keys[@]}" -gt 0 ] || fail "the repository list $REPOSITORY_LIST_URI is empty"
  verify_read_in_sync_times "$WORK/in-sync.prev"
  log "checking ${#keys[@]} repositories, $PARALLEL_CHECKS at a time"

  backlog_ssh_setup
  # CodeCommit over HTTPS: a listing that stalls (under 1,000 bytes/s for 30 s) ends instead of
  # holding the run until the build timeout (SSH is bounded by backlog-ssh.sh's keepalives).
  export GIT_HTTP_LOW_SPEED_LIMIT=1000 GIT_HTTP_LOW_SPEED_TIME=30
  for i in "${!keys[@]}"; do
    if [ "$running" -ge "$PARALLEL_CHECKS" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    verify_check "$i" "${keys[$i]}" "${codecommits[$i]}" "${includes[$i]}" "${excludes[$i]}" &
    running=$((running + 1))
  done
  wait

  : >"$WORK/metrics"
  : >"$WORK/not-in-sync"
  : >"$WORK/in-sync"
  for i in "${!keys[@]}"; do
    verdict=$(cat "$WORK/verdicts/$i")
    case "$verdict" in
      same)
        same=$((same + 1))
        echo "${keys[$i]}" >>"$WORK/in-sync"
        ;;
      differs)
        differs=$((differs + 1))
        # Not in sync in this run, whether its sync starts or not: the next run compares it again.
        echo "${keys[$i]}" >>"$WORK/not-in-sync"
        if build=$(aws codebuild start-build --project-name "${projects[$i]}" --query build.id --output text 2>&1); then
          log "${keys[$i]} differs from Backlog: started $build"
          started=$((started + 1))
        else
          start_failures=$((start_failures + 1))
          printf '[verify] ERROR: %s differs from Backlog, and its sync %s could not be started: %s\n' \
            "${keys[$i]}" "${projects[$i]}" "$(tail -n 2 <<<"$build" | tr '\n' ' ')" >&2
        fi
        ;;
      *)
        errors=$((errors + 1))
        echo "${keys[$i]}" >>"$WORK/not-in-sync"
        ;;
    esac
  done

  [ "$started" -eq 0 ] ||
    log "the $started sync(s) started are not waited for (they may queue behind this build): the next run compares those repositories again, and a sync that fails raises its own alert"

  now=$(date +%s)
  if [ -s "$WORK/not-in-sync" ]; then
    while read -r key age; do
      log "$key: last in sync (or first seen) $((age / 60)) minutes ago"
      [ "$age" -le "$oldest" ] || oldest=$age
      if [ "$age" -ge "$OUT_OF_SYNC_ALERT_SECONDS" ]; then
        # The state machine notifies once per episode: a repository already reported is quiet.
        if verify_report_out_of_sync "$key" "${project_of[$key]}" "$age"; then
          reported=$((reported + 1))
        else
          report_failures=$((report_failures + 1))
          printf '[verify] ERROR: %s is out of sync past the alarm window and could not be reported to %s\n' "$key" "$ALERT_STATE_MACHINE_ARN" >&2
        fi
      fi
    done < <(verify_in_sync_ages "$WORK/in-sync.prev" "$WORK/not-in-sync" "$now")
  fi
  verify_next_in_sync_times "$WORK/in-sync.prev" "$WORK/in-sync" "$now" "$WORK/list" >"$WORK/in-sync.next"
  aws s3 cp --quiet "$WORK/in-sync.next" "$IN_SYNC_STATE_URI" || fail "cannot write the in-sync times $IN_SYNC_STATE_URI"
  verify_datum "$OLDEST_AGE_METRIC" Seconds "$oldest" >>"$WORK/metrics"
  verify_put_metrics "$WORK/metrics"

  log "${#keys[@]} repositories: $same in sync, $differs differ (syncs started: $started), $errors could not be checked; oldest in-sync age ${oldest}s; $reported reported out of sync; $((($(date +%s%N) - began) / 1000000)) ms"
  if [ "$errors" -gt 0 ] || [ "$start_failures" -gt 0 ] || [ "$report_failures" -gt 0 ]; then
    fail "$errors repositories could not be checked, $start_failures syncs could not be started, $report_failures out-of-sync reports failed"
  fi
}

# Sourced with VERIFY_MIRRORS_FUNCTIONS_ONLY=1 (by the unit tests), only the functions are defined.
[ "${VERIFY_MIRRORS_FUNCTIONS_ONLY:-}" = 1 ] || verify_main
