#!/usr/bin/env bash
# Git LFS mirroring for mirror-sync.sh (setting `lfs`, docs/lfs.md): functions only, no side effect
# when sourced. mirror-sync.sh sources this file from its own folder and, once the refs are pushed,
# calls lfs_mirror while it still holds the mirror's lock.
#
# Settings (project environment variables, lib/buildspec.ts and lib/mirror-build.ts):
#   LFS_ENDPOINT               the repository's LFS server, https://SPACE.DOMAIN/git/PROJECT/REPO.git/info/lfs
#                              ("" for a repository that opted out: lfs_enabled is false)
#   LFS_CREDENTIALS_PARAMETER  SSM SecureString holding USER:PASSWORD (setting lfs.credentialsParameter)
#   BACKUP_BUCKET              the stack's bucket
# and from mirror-sync.sh: g, log, MIRROR, REPOSITORY_KEY, WORK_DEADLINE, LAST_START, HOLD_BUDGET,
# with_state (STARTED/REQUESTED), SECONDS. (mirror-sync.sh defines a function `cut`: the command
# is called as `command cut` here.)
#
# What a sync moves: the LFS objects that the pointer files of the mirrored history name (every
# commit reachable from refs/heads/* and refs/tags/*), each once. Pointer files are blobs of less
# than 1024 bytes in the spec's format (git-lfs docs/spec.md): "version https://git-lfs.github.com/spec/v1",
# any "ext-" lines, "oid sha256:HEX" (64 hex digits), "size N". Each object is fetched from
# Backlog's LFS Batch API (git-lfs docs/api/batch.md: POST ENDPOINT/objects/batch, operation
# "download", transfer "basic"), its SHA-256 and size checked, and uploaded to
#   s3://BACKUP_BUCKET/lfs/PROJECT/REPO/objects/OID[0:2]/OID[2:4]/OID
# with `If-None-Match: *`, so an object already there is never overwritten (S3 User Guide, "How to
# prevent object overwrites with conditional writes": the write fails with 412 Precondition Failed
# when the key exists). The bucket's default encryption applies (SSE-S3, or SSE-KMS with the stack's key).
#
# The credentials: read with `aws ssm get-parameter` into a shell variable (command substitution:
# no file, no argument, no exported variable) and handed to curl through a pipe as a config file on
# stdin (`--config -`; printf is a builtin: no argument list). They are sent only to the LFS
# server's own origin, over HTTPS only (`--proto =https`); a download action on another host gets
# only the headers the Batch API returned for it (which travel the same way). Nothing of them is logged.
#
# State, in the bare mirror on EFS (lost with a re-created mirror, then rebuilt from one listing of
# the bucket), all sorted (LC_ALL=C):
#   lfs-mirror/scanned   the tips whose history was scanned: the next scan starts from them
#   lfs-mirror/stored    OIDs known to be in the bucket
#   lfs-mirror/seeded    present once `stored` was completed from a listing of the bucket
#   lfs-mirror/pending   "OID<TAB>SIZE<TAB>PATH": found, not yet stored (retried by every sync)
#   lfs-mirror/missing   OIDs Backlog said it does not have (404/410): reported as an error once
#
# The outcome (LFS_STATUS): 0 all stored; 1 a failure that fails the build after the refs were
# pushed (credentials refused or unreadable, a transfer or upload that failed, an object newly found
# missing at Backlog), each with one ERROR line; 4 stopped at the time budget with objects left (the
# caller starts the next build). An object still missing that was already reported is one WARNING
# line and does not fail the build again.

# Objects per Batch API request (git-lfs's own default, lfs.transfer.batchSize = 100).
readonly LFS_BATCH_SIZE=100
# S3: "With a single PUT operation, you can upload a single object up to 5 GB in size" (S3 User
# Guide, "Uploading objects"): a larger object is named in an error line and left pending.
readonly LFS_MAX_PUT_BYTES=5368709120
# A download slower than 1 KB/s for 60 s ends (as the push does).
readonly LFS_LOW_SPEED_LIMIT=1000 LFS_LOW_SPEED_TIME=60

LFS_STATUS=0 LFS_WORK='' LFS_STATE='' LFS_CONFIG=''

lfs_enabled() { [ -n "${LFS_ENDPOINT:-}" ] && [ -n "${LFS_CREDENTIALS_PARAMETER:-}" ]; }

# "OID<TAB>SIZE<TAB>PATH" of every LFS pointer in the history reachable from the mirrored refs and
# not from the tips of file $1 (one commit per line), first path of each OID.
lfs_scan() {
  { g for-each-ref --format='%(objectname)' refs/heads refs/tags; sed 's/^/^/' "$1"; } |
    g rev-list --objects --filter=blob:limit=1024 --ignore-missing --stdin |
    g cat-file --batch-check='%(objecttype) %(objectname) %(objectsize) %(rest)' |
    awk '$1 == "blob" && $3 < 1024 { print substr($0, 6) }' | command cut -d' ' -f1,3- |
    g cat-file --batch='%(objectname) %(objectsize) %(rest)' | tr '\000' ' ' |
    LC_ALL=C awk '
      function pointer(   i, oid) {
        if (n < 3 || lines[0] != "version https://git-lfs.github.com/spec/v1") return
        for (i = 1; i < n && lines[i] ~ /^ext-/; i++) ;
        if (lines[i] !~ /^oid sha256:[0-9a-f]+$/ || length(lines[i]) != 75) return
        oid = substr(lines[i], 12)
        if (i + 1 >= n || lines[i + 1] !~ /^size [0-9]+$/) return
        printf "%s\t%s\t%s\n", oid, substr(lines[i + 1], 6), path
      }
      need <= 0 {
        size = $2; path = $0; sub(/^[^ ]+ [^ ]+ ?/, "", path); need = size + 1; n = 0; next
      }
      { lines[n++] = $0; need -= length($0) + 1; if (need <= 0) pointer() }' |
    LC_ALL=C sort -t "$(printf '\t')" -k1,1 -u
}

# curl's config for the LFS server's origin: the user and password, quoted for a config file.
lfs_auth_config() {
  local v=${1//\\/\\\\}
  v=${v//\"/\\\"}
  printf 'user = "%s"\n' "$v"
}

# Common curl options: HTTPS only, bounded by the time left, one line of error.
lfs_curl() {
  local left=$((WORK_DEADLINE - SECONDS))
  [ "$left" -gt 5 ] || left=5
  curl --silent --show-error --config - --proto '=https' --proto-redir '=https' --connect-timeout 20 \
    --speed-limit "$LFS_LOW_SPEED_LIMIT" --speed-time "$LFS_LOW_SPEED_TIME" --max-time "$left" "$@"
}

# The origin (scheme://host[:port]) of URL $1.
lfs_origin() { printf '%s\n' "$1" | sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*).*#\1#'; }

lfs_error() {
  printf '[mirror] ERROR: %s\n' "$*" >&2
  LFS_STATUS=1
}

# Reads the credentials into LFS_CONFIG (curl config text); 1 with one ERROR line when they cannot be read.
lfs_credentials() {
  local value err
  if ! value=$(aws ssm get-parameter --name "$LFS_CREDENTIALS_PARAMETER" --with-decryption \
    --query Parameter.Value --output text 2>"$LFS_WORK/ssm.err"); then
    err=$(grep -o -E '\((ParameterNotFound|AccessDenied[A-Za-z]*|[A-Za-z]+Exception)\)' "$LFS_WORK/ssm.err" | head -n 1)
    lfs_error "could not read the Git LFS credentials from SSM parameter $LFS_CREDENTIALS_PARAMETER${err:+ $err} (setting lfs.credentialsParameter); the refs were pushed, no LFS object was mirrored"
    return 1
  fi
  case "$value" in
    ?*:*) ;;
    *)
      unset value
      lfs_error "SSM parameter $LFS_CREDENTIALS_PARAMETER does not hold USER:PASSWORD (setting lfs.credentialsParameter); the refs were pushed, no LFS object was mirrored"
      return 1
      ;;
  esac
  LFS_CONFIG=$(lfs_auth_config "$value")
  unset value
}

# One Batch API request for the objects of file $1 ("OID<TAB>SIZE<TAB>PATH"); the response's
# objects as "OID<TAB>SIZE<TAB>ERRORCODE<TAB>HREF" in $2 and the whole response in LFS_RESPONSE.
# 1 with one ERROR line when the server refuses the request.
LFS_RESPONSE=''
lfs_batch() {
  local out code message
  jq -R -s -c 'split("\n") | map(select(length > 0) | split("\t") | {oid: .[0], size: (.[1] | tonumber)})
    | {operation: "download", transfers: ["basic"], objects: ., hash_algo: "sha256"}' <"$1" >"$LFS_WORK/request.json"
  # The response may carry action headers (tokens): kept in memory, never in a file.
  out=$(printf '%s' "$LFS_CONFIG" | lfs_curl -X POST -H 'Accept: application/vnd.git-lfs+json' \
    -H 'Content-Type: application/vnd.git-lfs+json' --data-binary "@$LFS_WORK/request.json" \
    -w '\n%{http_code}' "$LFS_ENDPOINT/objects/batch" 2>"$LFS_WORK/curl.err") || {
    lfs_error "the Git LFS Batch API at $LFS_ENDPOINT did not answer: $(tail -n 1 "$LFS_WORK/curl.err"); the refs were pushed"
    return 1
  }
  code=${out##*$'\n'}
  LFS_RESPONSE=${out%$'\n'*}
  case "$code" in
    200) ;;
    401 | 403)
      lfs_error "Backlog refused the Git LFS credentials of SSM parameter $LFS_CREDENTIALS_PARAMETER (HTTP $code from $LFS_ENDPOINT; setting lfs.credentialsParameter); the refs were pushed, no LFS object was mirrored"
      return 1
      ;;
    *)
      message=$(printf '%s' "$LFS_RESPONSE" | jq -r '.message // empty' 2>/dev/null | head -c 200 || true)
      lfs_error "the Git LFS Batch API at $LFS_ENDPOINT answered HTTP $code${message:+: $message}; the refs were pushed"
      return 1
      ;;
  esac
  printf '%s' "$LFS_RESPONSE" | jq -r '.objects[]? | [.oid, (.size | tostring), ((.error.code // 0) | tostring), (.actions.download.href // "")] | @tsv' >"$2" 2>/dev/null || {
    lfs_error "the Git LFS Batch API at $LFS_ENDPOINT answered with a body that is not a batch response; the refs were pushed"
    return 1
  }
}

# curl config for downloading OID $1 from HREF $2: the action's headers, and the credentials when
# the href is on the LFS server's own origin.
lfs_download_config() {
  local header v
  while IFS= read -r header; do
    v=${header//\\/\\\\}
    v=${v//\"/\\\"}
    printf 'header = "%s"\n' "$v"
  done < <(printf '%s' "$LFS_RESPONSE" | jq -r --arg oid "$1" '.objects[] | select(.oid == $oid) | .actions.download.header // {} | to_entries[] | "\(.key): \(.value)"')
  [ "$(lfs_origin "$2")" != "$(lfs_origin "$LFS_ENDPOINT")" ] || printf '%s\n' "$LFS_CONFIG"
}

# Downloads OID $1 of SIZE $2 from HREF $3, checks it and uploads it (if absent) to the bucket.
# 0 stored (or already there), 1 failed (one ERROR line naming the object and path $4).
lfs_transfer() {
  local oid=$1 size=$2 href=$3 path=$4 file="$LFS_WORK/object" got sum key
  key="lfs/$REPOSITORY_KEY/objects/${oid:0:2}/${oid:2:2}/$oid"
  if [ "$size" -gt "$LFS_MAX_PUT_BYTES" ]; then
    lfs_error "LFS object $oid ($path) has $size bytes, more than one S3 PUT takes (5 GB); it is not mirrored"
    return 1
  fi
  rm -f "$file"
  if ! lfs_download_config "$oid" "$href" | lfs_curl --fail --location -o "$file" "$href" 2>"$LFS_WORK/curl.err"; then
    lfs_error "could not download LFS object $oid ($path) from Backlog: $(tail -n 1 "$LFS_WORK/curl.err")"
    return 1
  fi
  got=$(stat -c %s "$file")
  sum=$(sha256sum "$file" | command cut -d' ' -f1)
  if [ "$got" != "$size" ] || [ "$sum" != "$oid" ]; then
    lfs_error "LFS object $oid ($path) from Backlog does not match its pointer (got $got bytes with SHA-256 $sum); it is not mirrored"
    return 1
  fi
  if ! aws s3api put-object --bucket "$BACKUP_BUCKET" --key "$key" --body "$file" --if-none-match '*' \
    --content-type application/octet-stream >/dev/null 2>"$LFS_WORK/put.err"; then
    if grep -q -E 'PreconditionFailed|\(412\)' "$LFS_WORK/put.err"; then
      LFS_ALREADY=$((LFS_ALREADY + 1))
      return 0
    fi
    lfs_error "could not upload LFS object $oid ($path) to s3://$BACKUP_BUCKET/$key: $(tail -n 1 "$LFS_WORK/put.err")"
    return 1
  fi
  LFS_STORED=$((LFS_STORED + 1)) LFS_BYTES=$((LFS_BYTES + size))
}

# OIDs already under the repository's prefix in the bucket, added to `stored` (once per mirror).
lfs_seed_stored() {
  local keys
  keys=$(aws s3api list-objects-v2 --bucket "$BACKUP_BUCKET" --prefix "lfs/$REPOSITORY_KEY/objects/" \
    --query 'Contents[].Key' --output text 2>"$LFS_WORK/list.err") || {
    lfs_error "could not list s3://$BACKUP_BUCKET/lfs/$REPOSITORY_KEY/objects/: $(tail -n 1 "$LFS_WORK/list.err"); the refs were pushed"
    return 1
  }
  { printf '%s\n' "$keys" | tr '\t' '\n' | sed 's#.*/##' | grep -E '^[0-9a-f]{64}$' || true; cat "$LFS_STATE/stored"; } |
    LC_ALL=C sort -u >"$LFS_STATE/stored.tmp"
  mv -f "$LFS_STATE/stored.tmp" "$LFS_STATE/stored"
  : >"$LFS_STATE/seeded"
}

# The objects of `pending` and of the history new since `scanned`, minus `stored`, into $1.
lfs_todo() {
  LC_ALL=C sort -t "$(printf '\t')" -k1,1 -u "$LFS_STATE/pending" "$LFS_WORK/found" |
    LC_ALL=C join -t "$(printf '\t')" -v 1 - "$LFS_STATE/stored" >"$1"
}

# The LFS step of a sync (see the header); its outcome in LFS_STATUS.
LFS_STORED=0 LFS_BYTES=0 LFS_ALREADY=0
lfs_mirror() {
  local f total chunk oid size code href path stopped='' missing_new='' missing_old='' left already=
  LFS_STATUS=0
  LFS_STATE="$MIRROR/lfs-mirror"
  mkdir -p "$LFS_STATE"
  for f in scanned stored pending missing; do [ -e "$LFS_STATE/$f" ] || : >"$LFS_STATE/$f"; done
  [ -n "$(g for-each-ref --count=1 refs/heads refs/tags)" ] || return 0
  LFS_WORK=$(mktemp -d)
  g for-each-ref --format='%(objectname)' refs/heads refs/tags | LC_ALL=C sort -u >"$LFS_WORK/tips"
  lfs_scan "$LFS_STATE/scanned" >"$LFS_WORK/found"
  lfs_todo "$LFS_WORK/todo"
  if [ -s "$LFS_WORK/todo" ] && [ ! -e "$LFS_STATE/seeded" ]; then
    lfs_seed_stored || { rm -rf "$LFS_WORK"; return 0; }
    lfs_todo "$LFS_WORK/todo"
  fi
  # Kept before anything moves: an object found now is never forgotten by a later scan.
  cp "$LFS_WORK/todo" "$LFS_STATE/pending"
  cp "$LFS_WORK/tips" "$LFS_STATE/scanned"
  total=$(wc -l <"$LFS_WORK/todo")
  if [ "$total" -eq 0 ]; then
    rm -rf "$LFS_WORK"
    return 0
  fi
  log "LFS: $total object(s) of the mirrored history are not in the bucket yet"
  lfs_credentials || { rm -rf "$LFS_WORK"; return 0; }
  : >"$LFS_WORK/done"
  split -l "$LFS_BATCH_SIZE" "$LFS_WORK/todo" "$LFS_WORK/chunk."
  for chunk in "$LFS_WORK"/chunk.*; do
    if [ "$SECONDS" -gt "$LAST_START" ]; then stopped=budget; break; fi
    lfs_batch "$chunk" "$LFS_WORK/answer" || break
    while IFS=$'\t' read -r oid size code href; do
      path=$(awk -F '\t' -v o="$oid" '$1 == o { print $3; exit }' "$chunk")
      [ -n "$path" ] || continue # not an object this request asked for
      case "$code" in
        0) ;;
        404 | 410)
          if grep -q -x -F "$oid" "$LFS_STATE/missing"; then missing_old+=" $oid ($path)"; else missing_new+=" $oid ($path)"; fi
          printf '%s\n' "$oid" >>"$LFS_WORK/missing"
          continue
          ;;
        *)
          lfs_error "Backlog's Git LFS server refused LFS object $oid ($path) with error $code"
          continue
          ;;
      esac
      if [ -z "$href" ]; then
        lfs_error "Backlog's Git LFS server gave no download for LFS object $oid ($path)"
        continue
      fi
      if [ "$SECONDS" -gt "$LAST_START" ]; then stopped=budget; break 2; fi
      with_state
      if [ "$SECONDS" -ge "$HOLD_BUDGET" ] && [ "$REQUESTED" -gt "$STARTED" ]; then stopped=waiting; break 2; fi
      lfs_transfer "$oid" "$size" "$href" "$path" || continue
      printf '%s\n' "$oid" >>"$LFS_WORK/done"
    done <"$LFS_WORK/answer"
  done
  unset LFS_CONFIG LFS_RESPONSE
  # The record: what is stored leaves `pending` and joins `stored`; what Backlog lacks is `missing`.
  LC_ALL=C sort -u "$LFS_STATE/stored" "$LFS_WORK/done" >"$LFS_STATE/stored.tmp" && mv -f "$LFS_STATE/stored.tmp" "$LFS_STATE/stored"
  LC_ALL=C sort -u -o "$LFS_WORK/done" "$LFS_WORK/done"
  LC_ALL=C join -t "$(printf '\t')" -v 1 "$LFS_STATE/pending" "$LFS_WORK/done" >"$LFS_STATE/pending.tmp" && mv -f "$LFS_STATE/pending.tmp" "$LFS_STATE/pending"
  if [ -e "$LFS_WORK/missing" ]; then LC_ALL=C sort -u "$LFS_WORK/missing" >"$LFS_STATE/missing"; else : >"$LFS_STATE/missing"; fi
  left=$(wc -l <"$LFS_STATE/pending")
  [ "$LFS_ALREADY" -eq 0 ] || already=" ($LFS_ALREADY were there already)"
  log "LFS: stored $LFS_STORED new object(s), $LFS_BYTES bytes, in s3://$BACKUP_BUCKET/lfs/$REPOSITORY_KEY/objects/$already; $left left"
  if [ -n "$missing_new" ]; then
    lfs_error "LFS object(s) of $REPOSITORY_KEY missing at Backlog (the refs were pushed; CodeCommit holds their pointers):$missing_new"
  fi
  [ -z "$missing_old" ] || log "WARNING: LFS object(s) of $REPOSITORY_KEY still missing at Backlog (reported before):$missing_old"
  case "$stopped" in
    budget) [ "$LFS_STATUS" -ne 0 ] || LFS_STATUS=4 ;;
    waiting) log "LFS: a build waiting for the lock goes on with the $left object(s) left" ;;
  esac
  rm -rf "$LFS_WORK"
}
