#!/usr/bin/env node
import { launch } from "../scripts/node-launcher.js";

await launch(new URL("./src/main.ts", import.meta.url));
