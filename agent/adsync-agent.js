#!/usr/bin/env node
import { existsSync } from "node:fs";
import { launch } from "../scripts/node-launcher.js";

// The bundle (npm run build) is what ships and what uses least memory; a checkout that has
// not built it yet runs the TypeScript source.
const bundle = new URL("./dist/adsync-agent.mjs", import.meta.url);
await launch(existsSync(bundle) ? bundle : new URL("./src/main.ts", import.meta.url));
