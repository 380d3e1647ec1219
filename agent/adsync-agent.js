#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=256
// The V8 flags above (also in agent/build.ts, agentNodeFlags): left to its defaults, V8 lets
// the heap of a long read grow to 250 MB and more before collecting; with a 1 MB semi-space
// short-lived page objects die young and the agent stays near 100 MB at any directory size.
import { existsSync } from "node:fs";
import { launch } from "../scripts/node-launcher.js";

// The bundle (npm run build) is what ships and what uses least memory; a checkout that has
// not built it yet runs the TypeScript source.
const bundle = new URL("./dist/adsync-agent.mjs", import.meta.url);
await launch(existsSync(bundle) ? bundle : new URL("./src/main.ts", import.meta.url));
