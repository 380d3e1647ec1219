// A PBX target driven as a run drives it, for the targets' own tests: the target's current
// state, the engine's plan against it, then the plan's structure and operations applied in
// order, each failure kept with its message instead of ending the run. And directory users
// as the agent reads them, in a few words.
import { applyItem, applyStructure } from "../../engine/apply-item.ts";
import type { DirectoryUser } from "../../engine/directory-user.ts";
import { mapUser } from "../../engine/map-user.ts";
import type { PbxDirectory } from "../../engine/pbx/pbx-port.ts";
import { type Plan, planSync } from "../../engine/plan.ts";
import { isOperation } from "../../engine/plan-actions.ts";
import type { SyncConfig } from "../../schema/generated/config.ts";

export const testBaseDn = "DC=example,DC=com";

/** A user `sam` under `ou` with names, UPN and mail from the account name; `attrs` add or replace attributes. */
export function directoryUser(sam: string, attrs: Record<string, string> = {}, ou = "OU=Sales,OU=Staff"): DirectoryUser {
  const guid = `00000000-0000-4000-8000-${Buffer.from(sam).toString("hex").padStart(12, "0").slice(-12)}`;
  const [first, last] = (attrs.displayName ?? `${sam} Tester`).split(" ");
  const attributes: Record<string, string[]> = {
    displayname: [attrs.displayName ?? `${first} ${last}`],
    givenname: [first ?? sam],
    sn: [last ?? "Tester"],
    samaccountname: [sam],
    userprincipalname: [`${sam}@example.com`],
    mail: [`${sam}@example.com`],
  };
  for (const [k, v] of Object.entries(attrs)) attributes[k.toLowerCase()] = [v];
  return { guid, dn: `CN=${sam},${ou},${testBaseDn}`, disabled: attrs.userAccountControl === "514", attributes };
}

export async function runAgainst(
  pbx: PbxDirectory,
  users: DirectoryUser[],
  config: SyncConfig,
): Promise<{ plan: Plan; failures: string[] }> {
  const plan = planSync({
    config,
    users: users.map((u) => mapUser(config, u, true)),
    extensions: await pbx.listExtensions(),
    departments: await pbx.listDepartments(),
    extensionGroups: await pbx.listExtensionGroups(),
    capabilities: pbx.capabilities,
    complete: true,
  });
  await applyStructure(plan, pbx);
  const failures: string[] = [];
  for (const item of plan.items) {
    if (!isOperation(item)) continue;
    try {
      await applyItem(item, pbx);
    } catch (error) {
      failures.push(`${item.name}: ${(error as Error).message}`);
    }
  }
  return { plan, failures };
}
