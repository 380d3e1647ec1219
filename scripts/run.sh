#!/usr/bin/env bash
# Entry point behind the npm scripts, so that `npm start` and `npm test` work on a fresh
# clone whatever Node the machine has: set up first, then run the task with Node >= 22.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=setup.sh
source scripts/setup.sh
export WRANGLER_SEND_METRICS=false
task="${1:-}"
shift || true
case "$task" in
  generate)  node cli/main.ts types ;;
  typecheck) tsc -p tsconfig.json && tsc -p worker/tsconfig.json ;;
  lint)      biome check . ;;
  format)    biome check --write . ;;
  build)     node cli/main.ts types --check && wrangler deploy --dry-run --outdir dist/worker --config wrangler.toml ;;
  test)
    node cli/main.ts types --check
    tsc -p tsconfig.json
    tsc -p worker/tsconfig.json
    biome check .
    vitest run "$@"
    ;;
  start)
    echo "npm start: the local product (worker, portal page and agent) is not built yet; npm test runs what exists." >&2
    exit 1
    ;;
  *) echo "usage: scripts/run.sh start|test|build|generate|lint|format|typecheck" >&2; exit 2 ;;
esac
