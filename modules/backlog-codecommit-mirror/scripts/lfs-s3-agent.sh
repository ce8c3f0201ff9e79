#!/usr/bin/env bash
# A git-lfs standalone custom transfer agent for the objects the mirror stores (docs/lfs.md): it
# downloads LFS objects from the stack's bucket, where the sync put them at
#   s3://BUCKET/lfs/PROJECT/REPO/objects/OID[0:2]/OID[2:4]/OID
# with the AWS CLI and the caller's AWS credentials (a consumer's build role with the stack's
# read policy for the repository). No LFS server is involved: git-lfs asks the agent directly
# (`lfs.standalonetransferagent`, git-lfs-config(1)). Downloads only; the mirror is read-only.
#
# Configuration (in the consumer's clone of the CodeCommit copy, before `git lfs pull`):
#   git config lfs.standalonetransferagent backlog-mirror
#   git config lfs.customtransfer.backlog-mirror.path /path/to/lfs-s3-agent.sh
#   git config lfs.customtransfer.backlog-mirror.args s3://BUCKET/lfs/PROJECT/REPO/objects
#
# Protocol (git-lfs docs/custom-transfers.md): line-delimited JSON on stdin/stdout. git-lfs sends
# {"event":"init","operation":"download",...} (answered {}), then one {"event":"download","oid":..,
# "size":..} at a time, each answered with a progress event and {"event":"complete","oid":..,
# "path":FILE} (git-lfs moves FILE into its store and checks its SHA-256) or a "complete" with an
# "error" {code, message}, which does not end the agent; finally {"event":"terminate"}, after which
# the agent exits. A fatal error exits non-zero with a line on stderr.
set -uo pipefail

base=${1:-}
case "$base" in
  s3://?*/*) base=${base%/} ;;
  *)
    echo "lfs-s3-agent: usage: lfs-s3-agent.sh s3://BUCKET/lfs/PROJECT/REPO/objects (lfs.customtransfer.NAME.args)" >&2
    exit 2
    ;;
esac
command -v jq >/dev/null || { echo "lfs-s3-agent: jq is required" >&2; exit 2; }
command -v aws >/dev/null || { echo "lfs-s3-agent: the AWS CLI is required" >&2; exit 2; }

# Downloads go into git-lfs's own temporary folder, on the file system it moves them within.
tmp=$(git rev-parse --git-path lfs/tmp 2>/dev/null || echo "${TMPDIR:-/tmp}")
mkdir -p "$tmp" || exit 2

reply() { printf '%s\n' "$1"; }
complete_error() { reply "$(jq -c -n --arg oid "$1" --arg m "$2" '{event: "complete", oid: $oid, error: {code: 2, message: $m}}')"; }

while IFS= read -r line; do
  event=$(printf '%s' "$line" | jq -r '.event // empty' 2>/dev/null) || event=''
  case "$event" in
    init)
      operation=$(printf '%s' "$line" | jq -r '.operation // empty')
      if [ "$operation" = download ]; then
        reply '{}'
      else
        reply "$(jq -c -n --arg op "$operation" '{error: {code: 32, message: ("lfs-s3-agent only downloads (the mirror is read-only), not " + $op)}}')"
      fi
      ;;
    download)
      oid=$(printf '%s' "$line" | jq -r '.oid // empty')
      size=$(printf '%s' "$line" | jq -r '.size // 0')
      if ! [[ $oid =~ ^[0-9a-f]{64}$ ]]; then
        complete_error "$oid" "not a SHA-256 object id"
        continue
      fi
      file=$(mktemp "$tmp/s3-agent-$oid.XXXXXX")
      if ! err=$(aws s3 cp --only-show-errors "$base/${oid:0:2}/${oid:2:2}/$oid" "$file" 2>&1 >/dev/null); then
        rm -f "$file"
        complete_error "$oid" "not in $base: $(printf '%s' "$err" | tr '\n' ' ' | cut -c1-300)"
        continue
      fi
      reply "$(jq -c -n --arg oid "$oid" --argjson n "$size" '{event: "progress", oid: $oid, bytesSoFar: $n, bytesSinceLast: $n}')"
      reply "$(jq -c -n --arg oid "$oid" --arg path "$file" '{event: "complete", oid: $oid, path: $path}')"
      ;;
    upload)
      oid=$(printf '%s' "$line" | jq -r '.oid // empty')
      complete_error "$oid" "lfs-s3-agent only downloads: push LFS objects to Backlog, the mirror copies them"
      ;;
    terminate) exit 0 ;;
    *)
      echo "lfs-s3-agent: unexpected message from git-lfs: $(printf '%s' "$line" | cut -c1-200)" >&2
      exit 1
      ;;
  esac
done
