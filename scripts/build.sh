#!/usr/bin/env bash
# Transpiles the TypeScript sources to dist/ with esbuild (tens of milliseconds; type checking is
# `npm run typecheck`), and copies the buildspec shell next to the code that reads it.
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/esbuild main.ts lib/*.ts --outdir=dist --platform=node --format=cjs --target=node20 --log-level=warning
mkdir -p dist/lib/buildspec
cp lib/buildspec/*.sh dist/lib/buildspec/
