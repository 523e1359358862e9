#!/usr/bin/env bash
# Runs every test: type-check, then node:test over the explicit list of test files
# (Node 20's --test does not expand globs and silently runs nothing on a pattern it cannot find).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/tsx ] || npm ci --no-audit --no-fund
bash scripts/ensure-system-packages.sh chromium
# The kernel blocklist's test uses nft when it can; without it, it checks the shield's fallback.
bash scripts/ensure-system-packages.sh nftables || echo "nftables could not be installed: the kernel blocklist test checks the fallback only" >&2
npx tsc -p tsconfig.check.json
npx tsc -p web/console/tsconfig.json
# The console's Playwright tests need its built assets (dist/console); rebuilt only when sources changed.
node scripts/ensure-console.mjs
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-reporter=spec --test-timeout=120000 "${files[@]}"
