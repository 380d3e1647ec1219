#!/usr/bin/env bash
# Entry point behind the npm scripts, so that `npm start` and `npm test` work on a fresh
# clone whatever Node the machine has: set up first, then run the task with Node >= 22.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=setup.sh
source scripts/setup.sh
export WRANGLER_SEND_METRICS=false
# The local runtime would fetch a sample Request.cf object from Cloudflare; a placeholder does.
export CLOUDFLARE_CF_FETCH_ENABLED=false
# The project's TypeScript 7. Stryker's checker needs TypeScript 5's compiler API, installed as
# typescript5, whose package also names its binary tsc: call ours by path, never by the link.
tsc() { node node_modules/typescript/bin/tsc "$@"; }
task="${1:-}"
shift || true
case "$task" in
  generate)  node cli/main.ts types ;;
  typecheck) tsc -p tsconfig.json && tsc -p engine/tsconfig.json && tsc -p worker/tsconfig.json && tsc -p plugin/tsconfig.json ;;
  lint)      biome check . ;;
  format)    biome check --write . ;;
  bench)     node --expose-gc bench/main.ts "$@" ;;
  mutation)  stryker run test/mutation/stryker.config.mjs "$@" ;;
  build)     node cli/main.ts types --check && node plugin/build.ts && wrangler deploy --dry-run --outdir dist/worker --config wrangler.toml ;;
  test)
    node cli/main.ts types --check
    tsc -p tsconfig.json
    tsc -p engine/tsconfig.json
    tsc -p worker/tsconfig.json
    tsc -p plugin/tsconfig.json
    biome check .
    mkdir -p test-results
    status=0
    vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?
    # One plain closing line, whatever the reporter above printed.
    node -e 'const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
      console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);' || true
    exit "$status"
    ;;
  start)
    # The worker in local workerd, the sample configuration, an agent on the sample directory
    # (scripts/start.ts); development secrets come from .dev.vars, made on first use.
    node cli/main.ts dev-token --tenant demo > /dev/null
    exec node scripts/start.ts
    ;;
  *) echo "usage: scripts/run.sh start|test|bench|mutation|build|generate|lint|format|typecheck" >&2; exit 2 ;;
esac
