// The reference every benchmark compares against: OpenLDAP's ldapsearch paging through the
// same entries from the same DC (what the DC can serve, with a C client's overhead).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** One paged search (500 per page, as the agent asks); its time and the number of entries read. */
export async function ldapsearch(
  dc: SambaDcInfo,
  search: { base: string; scope?: "base" | "one" | "sub"; filter: string; attributes: string[] },
): Promise<{ ms: number; entries: number }> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    "ldapsearch",
    [
      "-LLL",
      "-o",
      "ldif-wrap=no",
      "-H",
      dc.ldapsUrl,
      "-x",
      "-D",
      dc.serviceUpn,
      "-w",
      dc.servicePassword,
      "-b",
      search.base,
      "-s",
      search.scope ?? "sub",
      "-E",
      "pr=500/noprompt",
      search.filter,
      ...search.attributes,
    ],
    { env: { ...process.env, LDAPTLS_CACERT: dc.caPath }, maxBuffer: 1 << 30 },
  );
  return { ms: performance.now() - started, entries: stdout.split("\n").filter((l) => l.startsWith("dn:")).length };
}
