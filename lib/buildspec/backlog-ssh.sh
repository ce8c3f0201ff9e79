#!/usr/bin/env bash
# SSH access to Backlog for the build scripts: functions only, no side effect when sourced.
# The buildspec sources this file before the script that uses it (mirror-sync.sh, the verifier), both
# from the project's source folder (lib/buildspec.ts runScriptsCommand, lib/build-scripts.ts); run on
# their own, those scripts source it from their own directory.
#
# The caller defines `log MESSAGE` and `fail MESSAGE` (fail exits), sets BACKLOG_HOST and
# HOST_KEY_MODE ("pinned" or "scan"), and has from the environment CodeBuild provides:
#   SRC_GIT_CREDENTIAL   SSH private key (env.parameter-store)
#   BACKLOG_HOST_KEYS    pinned host keys, one per line: "TYPE BASE64 [comment]" or, as ssh-keyscan
#                        prints them, "HOST TYPE BASE64" (HOST must name BACKLOG_HOST); blank lines
#                        and lines starting with # are ignored
# Usage:
#   trap backlog_ssh_cleanup EXIT
#   backlog_ssh_setup          # agent with the key, known_hosts, exports GIT_SSH_COMMAND

# Bounds of one SSH connection: a host that does not answer the TCP/SSH handshake within
# BACKLOG_SSH_CONNECT_TIMEOUT seconds, or a connection whose server stops answering ssh's keepalives
# for INTERVAL x COUNT_MAX seconds (a dead network path, a NAT that dropped the flow), ends the
# transfer instead of holding the build (and the mirror's lock) until the build timeout.
# Keepalives are answered by sshd itself, so a server that is slowly computing a large pack is not
# cut off.
BACKLOG_SSH_CONNECT_TIMEOUT=20
BACKLOG_SSH_ALIVE_INTERVAL=10
BACKLOG_SSH_ALIVE_COUNT_MAX=3

# BACKLOG_SSH_KEY_TYPES, the host-key types a pinned key may have, comes from the buildspec
# (env.variables), as the configuration's rule writes it (lib/rules.ts HOST_KEY_TYPE_PATTERN): an
# extended regular expression for a whole type field.

BACKLOG_SSH_DIR=''

# Stops the agent and removes the known_hosts directory. Safe to call more than once.
backlog_ssh_cleanup() {
  if [ -n "${SSH_AGENT_PID:-}" ]; then
    ssh-agent -k >/dev/null 2>&1 || true
    unset SSH_AGENT_PID SSH_AUTH_SOCK
  fi
  if [ -n "$BACKLOG_SSH_DIR" ]; then
    rm -rf "$BACKLOG_SSH_DIR"
    BACKLOG_SSH_DIR=''
  fi
}

# Loads SRC_GIT_CREDENTIAL into a fresh ssh-agent. The variable is unset before the agent starts,
# so neither the agent nor any later process inherits the key: it travels from this shell's memory
# through a pipe to ssh-add only (printf is a builtin: no argument list, no file).
backlog_ssh_load_key() {
  local key err agent
  [ -n "${SRC_GIT_CREDENTIAL:-}" ] || fail "SRC_GIT_CREDENTIAL is empty: the SSH key parameter was not read"
  key=$SRC_GIT_CREDENTIAL
  unset SRC_GIT_CREDENTIAL
  agent=$(ssh-agent -s) || fail "ssh-agent could not be started"
  eval "$agent" >/dev/null
  # SSH_ASKPASS_REQUIRE=never: a key with a passphrase fails at once instead of prompting.
  if ! err=$(printf '%s\n' "$key" | SSH_ASKPASS_REQUIRE=never ssh-add -q - 2>&1); then
    unset key
    # ssh-add's own reason (e.g. "invalid format", "incorrect passphrase"), never the key itself.
    case "$err" in *"Enter passphrase"*) err="the key is protected by a passphrase, which a build cannot enter" ;; esac
    err=$(printf '%s' "$err" | tr -s '\n' ' ' | cut -c1-300)
    fail "the SSH private key from SSM could not be loaded by ssh-add: ${err:-no reason given}"
  fi
  unset key
}

# Writes BACKLOG_HOST's pinned keys from BACKLOG_HOST_KEYS into known_hosts file $1, line by line.
# A line that is not a host key, or whose host column names another host, fails the build naming
# the line (host keys are public: the line is shown).
backlog_ssh_pinned_known_hosts() {
  local file=$1 n=0 count=0 line hosts type body name match shown
  local -a fields names
  [ -n "${BACKLOG_HOST_KEYS:-}" ] || fail "no pinned host key for $BACKLOG_HOST (BACKLOG_HOST_KEYS is empty)"
  [ -n "${BACKLOG_SSH_KEY_TYPES:-}" ] || fail "BACKLOG_SSH_KEY_TYPES is empty: the buildspec sets the host-key types"
  : >"$file"
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%$'\r'}
    line=${line#"${line%%[![:space:]]*}"}
    case "$line" in '' | '#'*) continue ;; esac
    shown=$(printf '%s' "$line" | cut -c1-120)
    read -r -a fields <<<"$line"
    if [[ ${fields[0]} =~ $BACKLOG_SSH_KEY_TYPES ]]; then
      type=${fields[0]} body=${fields[1]:-}
    else
      hosts=${fields[0]} type=${fields[1]:-} body=${fields[2]:-}
      case "$hosts" in
        '@'*) fail "line $n of the pinned host keys has a marker ($hosts), which is not supported: $shown" ;;
        '|'*) fail "line $n of the pinned host keys has a hashed host name, which cannot be checked against $BACKLOG_HOST; give it as 'TYPE BASE64' or '$BACKLOG_HOST TYPE BASE64'" ;;
      esac
      [[ $type =~ $BACKLOG_SSH_KEY_TYPES ]] ||
        fail "line $n of the pinned host keys is not 'TYPE BASE64' or 'HOST TYPE BASE64': $shown"
      match=no
      IFS=, read -r -a names <<<"$hosts"
      for name in "${names[@]}"; do
        if [ "$name" = "$BACKLOG_HOST" ] || [ "$name" = "[$BACKLOG_HOST]:22" ]; then match=yes; fi
      done
      [ "$match" = yes ] ||
        fail "line $n of the pinned host keys is for host $hosts, not $BACKLOG_HOST: $shown"
    fi
    [[ $body =~ ^[A-Za-z0-9+/]+={0,2}$ ]] ||
      fail "line $n of the pinned host keys has no base64 key after $type: $shown"
    printf '%s %s\n' "$type" "$body" | ssh-keygen -l -f - >/dev/null 2>&1 ||
      fail "line $n of the pinned host keys is not a valid $type key: $shown"
    printf '%s %s %s\n' "$BACKLOG_HOST" "$type" "$body" >>"$file"
    count=$((count + 1))
  done <<<"$BACKLOG_HOST_KEYS"
  [ "$count" -gt 0 ] || fail "no pinned host key for $BACKLOG_HOST (BACKLOG_HOST_KEYS has only comments or blank lines)"
  log "host key of $BACKLOG_HOST pinned ($count key(s))"
}

# Key in an agent, host key pinned (or trusted on first use when HOST_KEY_MODE=scan), and
# GIT_SSH_COMMAND exported with the connection bounds above.
backlog_ssh_setup() {
  local known_hosts strict=yes
  : "${BACKLOG_HOST:?}" "${HOST_KEY_MODE:?}"
  BACKLOG_SSH_DIR=$(mktemp -d)
  known_hosts="$BACKLOG_SSH_DIR/known_hosts"
  backlog_ssh_load_key
  case "$HOST_KEY_MODE" in
    pinned) backlog_ssh_pinned_known_hosts "$known_hosts" ;;
    scan)
      # Trust on first use, at every build: ssh itself records the key of the first connection (same
      # host resolution as the sync, unlike ssh-keyscan) and later connections of this build must match it.
      log "WARNING: trusting whatever host key $BACKLOG_HOST presents (scanHostKey is on)"
      : >"$known_hosts"
      strict=accept-new
      ;;
    *) fail "HOST_KEY_MODE must be pinned or scan, got: $HOST_KEY_MODE" ;;
  esac
  export GIT_SSH_COMMAND="ssh -o BatchMode=yes -o StrictHostKeyChecking=$strict -o UserKnownHostsFile=$known_hosts -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=$BACKLOG_SSH_CONNECT_TIMEOUT -o ServerAliveInterval=$BACKLOG_SSH_ALIVE_INTERVAL -o ServerAliveCountMax=$BACKLOG_SSH_ALIVE_COUNT_MAX"
  export GIT_TERMINAL_PROMPT=0
}

# Classifies a failed ssh/git read from Backlog (stderr in $1) and fails with one clear line;
# returns 1 when the failure is none of these (the caller decides). $2 names the remote.
backlog_ssh_explain_failure() {
  local err=$1 remote=$2
  case "$err" in
    *"REMOTE HOST IDENTIFICATION HAS CHANGED"* | *"Host key verification failed"* | *"host key for"*"differs"*)
      fail "host key verification failed for $BACKLOG_HOST: it does not match the pinned key; nothing was pushed" ;;
    *"Timeout, server"*"not responding"*)
      fail "the transfer from $BACKLOG_HOST stalled: the server stopped answering for $((BACKLOG_SSH_ALIVE_INTERVAL * BACKLOG_SSH_ALIVE_COUNT_MAX))s (ssh keepalive); nothing was pushed" ;;
    *"Connection timed out"* | *"connect to host"*"timed out"*)
      fail "cannot connect to $BACKLOG_HOST within ${BACKLOG_SSH_CONNECT_TIMEOUT}s; nothing was pushed" ;;
    *"Could not read from remote repository"*)
      # What ssh/git said, without git's generic "make sure you have access" trailer.
      fail "cannot read $remote: $(grep -v -e '^fatal: Could not read from remote' -e '^Please make sure' \
        -e '^and the repository exists' -e '^$' <<<"$err" | tail -n 3 | tr '\n' ' ')" ;;
  esac
  return 1
}
