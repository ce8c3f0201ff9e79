#!/usr/bin/env bash
# Builds dist/main.js: the app and everything it imports (cdktf, the provider classes it uses, zod,
# yaml) bundled by esbuild into one CommonJS file, which Node loads about a third faster than the
# same code spread over ~1,000 modules. Type checking is `npm test` / `npm run typecheck`.
#
# The bundle is rebuilt only when a source is newer than it (about 0.7 s when it is), and the
# buildspec shell is copied next to it, where lib/buildspec.ts looks for it (`__dirname/buildspec`).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/main.js
if [ -f "$out" ] && [ -z "$(find main.ts lib package-lock.json scripts/build.sh -newer "$out" -print -quit)" ]; then
  exit 0
fi
node_modules/.bin/esbuild main.ts --bundle --platform=node --format=cjs --target=node20 \
  --minify-whitespace --minify-syntax --outfile="$out" --log-level=warning \
  --alias:jsonc-parser=jsonc-parser/lib/esm/main.js # its UMD build requires files at run time
mkdir -p dist/buildspec
cp lib/buildspec/*.sh dist/buildspec/
