#!/usr/bin/env bash
# The ref selection (settings sync.refs and repositories[].refs, docs/how-it-works.md#ref-selection)
# for the build scripts: functions only, no side effect when sourced. The sync (mirror-sync.sh) and
# the safety net (verify-mirrors.sh) source this file from their own folder, so that a ref the sync
# mirrors is exactly a ref the safety net compares.
#
# A selection is two lists of git ref patterns, each joined by "," ("-" for none; lib/mirror-inputs.ts
# refPatternList writes them): `*` matches any characters, `/` included. A ref is selected when it
# matches an include pattern and no exclude pattern.

REF_INCLUDES=()
REF_EXCLUDES=()

# Makes patterns $1 (included) and $2 (excluded) the selection ref_selected reads. The lists become
# arrays with `read -a`, which splits without expanding the patterns as file names.
ref_selection_set() {
  IFS=, read -r -a REF_INCLUDES <<<"${1#-}"
  IFS=, read -r -a REF_EXCLUDES <<<"${2#-}"
}

# Whether ref $1 is in the selection. No subshell: it runs once per ref.
ref_selected() {
  local p
  for p in "${REF_EXCLUDES[@]}"; do
    # shellcheck disable=SC2053 # the pattern is matched as a glob on purpose
    [[ $1 == $p ]] && return 1
  done
  for p in "${REF_INCLUDES[@]}"; do
    # shellcheck disable=SC2053
    [[ $1 == $p ]] && return 0
  done
  return 1
}
