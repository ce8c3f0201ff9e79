#!/usr/bin/env bash
# The safety net: finds the mirrors whose refs differ from Backlog's and starts the sync of those
# only, so one scheduled run costs one short build whatever the number of repositories.
#
# Run by `NAME-verify` (lib/verify-buildspec.ts) after backlog-ssh.sh and these settings:
#   STACK_NAME             the stack's name (metric dimension `Stack`)
#   BACKLOG_USER           the SSH user (the space key)
#   BACKLOG_HOST           SPACE.git.DOMAIN
#   HOST_KEY_MODE          "pinned" (keys in BACKLOG_HOST_KEYS) or "scan" (trust on first use)
#   METRIC_NAMESPACE       CloudWatch namespace of the health metrics
#   IN_SYNC_METRIC         per-repository metric: 1 when a repository was found in sync
#   OLDEST_AGE_METRIC      per-stack metric: seconds since the least recently in-sync repository was
#   PARALLEL_CHECKS        repositories checked at once
#   LOOKBACK_HOURS         how far back an out-of-sync repository's last in-sync point is looked for
# and from CodeBuild: REPOSITORY_LIST_URI (s3://BUCKET/KEY, one line per repository: "PROJECT/REPO
# CODECOMMIT_NAME SYNC_PROJECT"), SRC_GIT_CREDENTIAL, BACKLOG_HOST_KEYS, AWS_REGION.
#
# For each repository (PARALLEL_CHECKS at once), `git ls-remote` lists Backlog's heads and tags over
# SSH and CodeCommit's over HTTPS. Equal: in sync, IN_SYNC_METRIC is published. Different: its sync
# is started, and NOT waited for. The syncs queue on the same platform and compute type as this
# build (ARM), and CodeBuild runs at most the account's quota of those at once and drops a queued
# build whose queued timeout ends (CodeBuild User Guide, "Builds in AWS CodeBuild"; the quota
# "Concurrently running builds for ARM/Small environment" can be 1, "Quotas for AWS CodeBuild"): a
# verifier that waited for its syncs would hold the very slot they wait for. So a repository whose
# sync this run started is not in sync in this run; the next run compares it again (in sync then,
# or started again), a sync that fails raises its own alert (lib/alerts.ts), and the out-of-sync
# alarm judges a repository that stays behind (lib/safety-net.ts). A repository that cannot be
# listed is reported, not started. Then OLDEST_AGE_METRIC: 0 when all are in sync, else the age of
# the oldest IN_SYNC_METRIC point of the others (LOOKBACK_HOURS if none).
#
# Exits 1 when a repository could not be checked or a sync could not be started, after publishing.
set -euo pipefail

log() { printf '[verify] %s\n' "$*"; }
fail() {
  printf '[verify] ERROR: %s\n' "$*" >&2
  exit 1
}

# PutMetricData takes at most 1,000 metrics per request (CloudWatch API Reference, PutMetricData).
readonly METRICS_PER_PUT=1000
# GetMetricData takes at most 500 queries and returns at most 100,800 data points per call
# (CloudWatch API Reference, GetMetricData): 100 queries of LOOKBACK_HOURS x 12 five-minute points
# stay under it for LOOKBACK_HOURS up to 84.
readonly QUERIES_PER_GET=100
readonly LOOKBACK_PERIOD_SECONDS=300

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

# Lists the heads and tags of remote $1 into file $2 (comparable form); stderr into file $3.
verify_list_refs() {
  local out
  out=$(git ls-remote --heads --tags "$1" 2>"$3") || return 1
  printf '%s\n' "$out" | verify_comparable_refs >"$2"
}

# Checks repository $2 (PROJECT/REPO) against CodeCommit repository $3; writes "same", "differs"
# or "error" to $WORK/verdicts/$1. Runs in a background subshell.
verify_check() {
  local i=$1 key=$2 codecommit=$3 remote url err msg
  local dir="$WORK/checks/$i"
  mkdir -p "$dir"
  echo error >"$WORK/verdicts/$i"
  remote="${BACKLOG_USER}@${BACKLOG_HOST}:/${key}.git"
  url="https://git-codecommit.${AWS_REGION}.amazonaws.com/v1/repos/${codecommit}"
  # One retry: a busy SSH server may drop a connection before authentication (OpenSSH's
  # MaxStartups); the second attempt comes 2 s later.
  if ! verify_list_refs "$remote" "$dir/backlog" "$dir/backlog.err"; then
    sleep 2
    if ! verify_list_refs "$remote" "$dir/backlog" "$dir/backlog.err"; then
      err=$(cat "$dir/backlog.err")
      # A host key mismatch, a refused key or a stall gets the sync's own one-line explanation.
      msg=$(backlog_ssh_explain_failure "$err" "$remote" 2>&1) || true
      [ -n "$msg" ] || msg="[verify] ERROR: cannot list $remote: $(tail -n 2 <<<"$err" | tr '\n' ' ')"
      printf '%s\n' "$msg" >&2
      return 0
    fi
  fi
  if ! verify_list_refs "$url" "$dir/codecommit" "$dir/codecommit.err"; then
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

# For each repository key in file $1, prints "KEY SECONDS": the time since its newest
# IN_SYNC_METRIC point in the last LOOKBACK_HOURS, or LOOKBACK_HOURS when there is none.
verify_in_sync_ages() {
  local now start end lookback=$((LOOKBACK_HOURS * 3600)) part q id ts epoch
  local -a keys
  now=$(date +%s)
  start=$(date -u -d "@$((now - lookback))" +%Y-%m-%dT%H:%M:%SZ)
  # A minute ahead: a point published in this very second is inside the range.
  end=$(date -u -d "@$((now + 60))" +%Y-%m-%dT%H:%M:%SZ)
  split -l "$QUERIES_PER_GET" "$1" "$WORK/ages."
  for part in "$WORK"/ages.a*; do
    mapfile -t keys <"$part"
    q="$WORK/queries.json"
    {
      printf '['
      for id in "${!keys[@]}"; do
        [ "$id" -eq 0 ] || printf ','
        printf '{"Id":"m%d","ReturnData":true,"MetricStat":{"Period":%d,"Stat":"Maximum","Metric":{"Namespace":"%s","MetricName":"%s","Dimensions":[{"Name":"Stack","Value":"%s"},{"Name":"Repository","Value":"%s"}]}}}' \
          "$id" "$LOOKBACK_PERIOD_SECONDS" "$METRIC_NAMESPACE" "$IN_SYNC_METRIC" "$STACK_NAME" "${keys[$id]}"
      done
      printf ']'
    } >"$q"
    # Timestamps come newest first (ScanBy defaults to TimestampDescending).
    aws cloudwatch get-metric-data --metric-data-queries "file://$q" --start-time "$start" --end-time "$end" \
      --query 'MetricDataResults[].[Id, Timestamps[0]]' --output text >"$WORK/ages.out"
    while read -r id ts; do
      id=${id#m}
      if [ -z "$ts" ] || [ "$ts" = None ]; then
        printf '%s %d\n' "${keys[$id]}" "$lookback"
      else
        # ISO 8601 (AWS CLI v2's default output) or epoch seconds (CLI v1 prints what it received).
        if [[ $ts =~ ^[0-9]+(\.[0-9]+)?$ ]]; then epoch=${ts%.*}; else epoch=$(date -d "$ts" +%s); fi
        printf '%s %d\n' "${keys[$id]}" "$((now > epoch ? now - epoch : 0))"
      fi
    done <"$WORK/ages.out"
  done
}

verify_main() {
  : "${STACK_NAME:?}" "${BACKLOG_USER:?}" "${BACKLOG_HOST:?}" "${HOST_KEY_MODE:?}" "${METRIC_NAMESPACE:?}"
  : "${IN_SYNC_METRIC:?}" "${OLDEST_AGE_METRIC:?}" "${PARALLEL_CHECKS:?}" "${LOOKBACK_HOURS:?}"
  [ -n "${AWS_REGION:-}" ] || fail "AWS_REGION is not set"
  [ -n "${REPOSITORY_LIST_URI:-}" ] || fail "REPOSITORY_LIST_URI is not set: the project has no repository list"
  local began i running=0 key codecommit project build verdict same=0 differs=0 started=0 errors=0 start_failures=0 oldest=0 age
  local -a keys codecommits projects
  began=$(date +%s%N)
  WORK=$(mktemp -d)
  trap 'backlog_ssh_cleanup; rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/verdicts" "$WORK/checks"

  aws s3 cp --quiet "$REPOSITORY_LIST_URI" "$WORK/list" ||
    fail "cannot read the repository list $REPOSITORY_LIST_URI (Terraform writes it; apply the configuration again)"
  while read -r key codecommit project; do
    [ -n "$key" ] || continue
    keys+=("$key") codecommits+=("$codecommit") projects+=("$project")
  done <"$WORK/list"
  [ "${#keys[@]}" -gt 0 ] || fail "the repository list $REPOSITORY_LIST_URI is empty"
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
    verify_check "$i" "${keys[$i]}" "${codecommits[$i]}" &
    running=$((running + 1))
  done
  wait

  : >"$WORK/metrics"
  : >"$WORK/not-in-sync"
  for i in "${!keys[@]}"; do
    verdict=$(cat "$WORK/verdicts/$i")
    case "$verdict" in
      same)
        same=$((same + 1))
        verify_datum "$IN_SYNC_METRIC" Count 1 "${keys[$i]}" >>"$WORK/metrics"
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

  if [ -s "$WORK/not-in-sync" ]; then
    while read -r key age; do
      log "$key: last in sync $((age / 60)) minutes ago$([ "$age" -lt $((LOOKBACK_HOURS * 3600)) ] || echo ' or more')"
      [ "$age" -le "$oldest" ] || oldest=$age
    done < <(verify_in_sync_ages "$WORK/not-in-sync")
  fi
  verify_datum "$OLDEST_AGE_METRIC" Seconds "$oldest" >>"$WORK/metrics"
  verify_put_metrics "$WORK/metrics"

  log "${#keys[@]} repositories: $same in sync, $differs differ (syncs started: $started), $errors could not be checked; oldest in-sync age ${oldest}s; $((($(date +%s%N) - began) / 1000000)) ms"
  if [ "$errors" -gt 0 ] || [ "$start_failures" -gt 0 ]; then
    fail "$errors repositories could not be checked, $start_failures syncs could not be started"
  fi
}

# Sourced with VERIFY_MIRRORS_FUNCTIONS_ONLY=1 (by the unit tests), only the functions are defined.
[ "${VERIFY_MIRRORS_FUNCTIONS_ONLY:-}" = 1 ] || verify_main
