// `adsync preview`: the plan a sync would make, worked out offline from an LDIF export instead
// of a domain controller, so a partner can try a configuration template on a customer's
// export (or the bundled sample) without a DC, an agent or a worker. It runs the same read,
// mapping and planning code as a tenant's Preview; only the directory and the PBX differ.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { forEachPage } from "../agent/src/ldap/search.ts";
import { LdifDirectory } from "../agent/src/ldif/ldif-directory.ts";
import type { DesiredUser } from "../engine/map-user.ts";
import { blankExtension, type Extension, extensionFields } from "../engine/pbx/pbx-port.ts";
import { type Plan, type PlanItem, planSync, summaryText } from "../engine/plan.ts";
import { type OutsideUser, readDirectory, usersForPlan } from "../engine/read-directory.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import { parseJsonDocument } from "../schema/src/json-document.ts";
import { validateConfig } from "../schema/src/validate-config.ts";
import { readFailure, UsageError } from "./validate.ts";

interface Output {
  write(text: string): unknown;
}

export const previewUsage = `preview --config FILE --ldif EXPORT [--extensions FILE] [--json]
                     the plan a sync would make, offline: users from an LDIF export
                     (ldifde -f, or ldapsearch -LLL output) instead of a DC; the PBX is
                     empty unless --extensions gives its extensions (JSON, as GET …/extensions
                     returns them). Exit 1 when the configuration has errors.`;

export interface OfflinePreview {
  read: { complete: boolean; reason?: string; inScope: number; outside: number; skipped: number; warnings: string[] };
  plan: Plan;
}

/** The plan for `config` over the users of `directory`, against a PBX holding `extensions`. */
export async function previewOffline(config: SyncConfig, directory: LdifDirectory, extensions: Extension[] = []): Promise<OfflinePreview> {
  const connection = config.connection ?? {
    // A partner template may leave the connection to the customer: the export's domain will do.
    domainControllers: [{ host: "offline" }],
    bindUsername: "offline",
    bindPassword: { source: "stored" as const },
    baseDn: directory.defaultNamingContext,
  };
  const inScope: DesiredUser[] = [];
  const outside: OutsideUser[] = [];
  const warnings: string[] = [];
  const known = extensions.flatMap((e) => (e.origin === "ad" && e.guid ? [e.guid] : []));
  const read = await readDirectory(config, { connection }, known, (spec, page) => forEachPage(directory.search(spec), page), {
    user: (_guid, data) => inScope.push(JSON.parse(data) as DesiredUser),
    present: (guid, dn, name, disabled) => outside.push({ guid, dn, name, disabled }),
    progress: () => {},
    warn: (message) => warnings.push(message),
    notStaged: (guids) => {
      const staged = new Set(inScope.map((u) => u.guid));
      return guids.filter((g) => !staged.has(g));
    },
  });
  const { users, present } = usersForPlan(config, inScope, outside);
  const departments = [...new Set(extensions.flatMap((e) => (e.departmentPath ? [e.departmentPath] : [])))];
  const groups = [...new Set(extensions.flatMap((e) => e.groups ?? []))];
  const plan = planSync({
    config,
    users,
    present,
    extensions,
    departments,
    extensionGroups: groups,
    complete: read.complete,
    ...(read.reason !== undefined ? { incompleteReason: read.reason } : {}),
  });
  return {
    read: {
      complete: read.complete,
      ...(read.reason !== undefined ? { reason: read.reason } : {}),
      inScope: read.inScope,
      outside: read.present,
      skipped: read.skipped,
      warnings,
    },
    plan,
  };
}

/** `adsync preview …`: prints the plan; exit 0, 1 for an invalid configuration, 2 for unreadable input. */
export async function previewCommand(args: string[], out: Output, err: Output): Promise<number> {
  let values: { config?: string; ldif?: string; extensions?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { config: { type: "string" }, ldif: { type: "string" }, extensions: { type: "string" }, json: { type: "boolean" } },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!values.config) throw new UsageError("preview needs --config FILE");
  if (!values.ldif) throw new UsageError("preview needs --ldif EXPORT");

  const configText = await readText(values.config, err);
  if (configText === undefined) return 2;
  const doc = parseJsonDocument(configText);
  if (doc.syntaxErrors.length > 0) {
    err.write(`${values.config}: not JSON: ${doc.syntaxErrors[0]?.message}\n`);
    return 2;
  }
  const problems = validateConfig(doc.value).filter((p) => p.severity === "error");
  if (problems.length > 0) {
    for (const p of problems) err.write(`${values.config}: error: ${p.message} (${p.path || "/"})\n`);
    err.write(`${values.config}: fix the errors above (adsync validate shows where they are) and preview again\n`);
    return 1;
  }
  let directory: LdifDirectory;
  try {
    directory = await LdifDirectory.fromFile(values.ldif);
  } catch (e) {
    err.write(`${values.ldif}: ${readFailure(e)}\n`);
    return 2;
  }
  let extensions: Extension[] = [];
  if (values.extensions) {
    const text = await readText(values.extensions, err);
    if (text === undefined) return 2;
    try {
      extensions = extensionsFrom(JSON.parse(text));
    } catch (e) {
      err.write(`${values.extensions}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  let result: OfflinePreview;
  try {
    result = await previewOffline(doc.value as SyncConfig, directory, extensions);
  } catch (e) {
    // A base DN or OU the export does not hold: the same error a DC would give.
    err.write(`adsync preview: ${(e as Error).message}\n`);
    return 1;
  }
  out.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatPreview(result, values.ldif));
  return 0;
}

async function readText(file: string, err: Output): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    err.write(`${file}: ${readFailure(e)}\n`);
    return undefined;
  }
}

/** The extensions of a PBX as GET …/extensions returns them ({ extensions: [...] }) or as a plain array. */
function extensionsFrom(json: unknown): Extension[] {
  const list = Array.isArray(json) ? json : (json as { extensions?: unknown })?.extensions;
  if (!Array.isArray(list)) throw new Error('expected a JSON array of extensions, or { "extensions": [...] }');
  return list.map((raw, i) => {
    const e = raw as Partial<Extension>;
    if (typeof e?.number !== "string" || e.number === "") throw new Error(`extension ${i + 1} has no "number"`);
    const text = (v: unknown) => (typeof v === "string" ? v : null);
    return blankExtension(e.number, {
      origin: e.origin === "ad" ? "ad" : "manual",
      guid: text(e.guid),
      dn: text(e.dn),
      enabled: e.enabled !== false,
      disabledBySync: e.disabledBySync === true,
      numberSource: e.numberSource === "attribute" || e.numberSource === "sequential" ? e.numberSource : null,
      ...Object.fromEntries(extensionFields.map((f) => [f, text(e[f])])),
      avatarHash: text(e.avatarHash),
      departmentPath: text(e.departmentPath),
      groups: Array.isArray(e.groups) ? e.groups.filter((g): g is string => typeof g === "string") : [],
    });
  });
}

/** The plan as a table an administrator reads: the summary, then one line per user. */
export function formatPreview({ read, plan }: OfflinePreview, source: string): string {
  const lines: string[] = [];
  lines.push(
    `Read ${source}: ${read.inScope} users in scope` +
      (read.outside > 0 ? `, ${read.outside} synced users outside it` : "") +
      (read.complete ? "" : ` (incomplete: ${read.reason}; nothing will be disabled or deleted)`),
  );
  for (const w of read.warnings) lines.push(`warning: ${w}`);
  lines.push(`Plan: ${summaryText(plan.summary)}`);
  if (plan.held) lines.push(`Held for approval: ${plan.held.reason}`);
  if (plan.departmentsToCreate.length > 0) lines.push(`Departments to create: ${plan.departmentsToCreate.join("; ")}`);
  if (plan.groupsToCreate.length > 0) lines.push(`Extension groups to create: ${plan.groupsToCreate.join("; ")}`);
  const rows = plan.items.map((item) => [item.action, item.number ?? "-", item.name, detail(item)]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] as string).length), 0));
  lines.push("");
  for (const row of rows)
    lines.push(
      row
        .map((cell, c) => (c < 3 ? cell.padEnd(widths[c] as number) : cell))
        .join("  ")
        .trimEnd(),
    );
  return `${lines.join("\n")}\n`;
}

function detail(item: PlanItem): string {
  if (item.action === "update" && item.changes?.length) {
    return item.changes.map((c) => `${c.field}: ${c.from ?? "(none)"} → ${c.to ?? "(none)"}`).join("; ");
  }
  if (item.action === "create") return item.state?.departmentPath ?? "";
  return item.reason ?? "";
}
