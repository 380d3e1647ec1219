// vitest globalSetup: the agent bundle and the portal site, and one real Samba AD DC for the whole test run, on 127.0.0.11.
// Test files read its connection details with inject("samba").
import type { TestProject } from "vitest/node";
import { buildPlugin } from "../plugin/build.ts";
import { type SambaDcInfo, startSambaDc } from "./support/samba-dc.ts";

declare module "vitest" {
  export interface ProvidedContext {
    samba: SambaDcInfo;
  }
}

const SAMBA_IP = "127.0.0.11";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Agent processes in tests run what ships: the bundle, built from the source under test. The
  // plugin's site is built with it, since the worker serves it and wrangler wants it present.
  await buildPlugin();
  const started = Date.now();
  const dc = await startSambaDc({
    ip: SAMBA_IP,
    log: (line) => process.stderr.write(`samba: ${line}\n`),
  });
  project.provide("samba", dc.info);
  const took = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`samba: ready on ${dc.info.ldapsUrl} (${dc.info.hostname}, ${dc.info.baseDn}) in ${took} s\n`);
  return async () => {
    await dc.destroy();
  };
}
