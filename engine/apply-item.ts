// One plan item as PBX operations. Each is idempotent on the PBX side (see PbxDirectory), so
// a run that resumes may apply the item it was in the middle of once more.

import type { PbxDirectory } from "./pbx/pbx-port.ts";
import type { Plan, PlanItem } from "./plan.ts";

export type PhotoSource = (guid: string) => Promise<Uint8Array | undefined>;

/** Departments and extension groups the plan's extensions need; before any extension is written. */
export async function applyStructure(plan: Pick<Plan, "departmentsToCreate" | "groupsToCreate">, pbx: PbxDirectory): Promise<void> {
  for (const path of plan.departmentsToCreate) await pbx.createDepartment(path);
  for (const name of plan.groupsToCreate) await pbx.createExtensionGroup(name);
}

export async function applyItem(item: PlanItem, pbx: PbxDirectory, photos?: PhotoSource): Promise<void> {
  const photo = async () => (item.guid && item.state?.avatarHash ? await photos?.(item.guid) : undefined);
  switch (item.action) {
    case "create": {
      if (!item.state || !item.guid || !item.dn) throw new Error("a create item needs state, guid and dn");
      await pbx.createExtension(
        {
          state: item.state,
          guid: item.guid,
          dn: item.dn,
          numberSource: item.numberSource ?? "sequential",
          login: item.login ?? { upn: null, sam: null },
          ...(item.template !== undefined ? { template: item.template } : {}),
        },
        await photo(),
      );
      return;
    }
    case "adopt": {
      if (!item.state || !item.guid || !item.dn || item.number === null) throw new Error("an adopt item needs state, guid, dn and number");
      await pbx.adoptExtension(item.number, {
        state: item.state,
        guid: item.guid,
        dn: item.dn,
        numberSource: item.numberSource ?? "sequential",
        login: item.login ?? { upn: null, sam: null },
      });
      return;
    }
    case "update":
    case "enable": {
      if (!item.state || item.number === null) throw new Error("an update item needs state and number");
      const avatarChanged = item.changes?.some((c) => c.field === "avatar") === true;
      await pbx.updateExtension(
        item.number,
        {
          state: item.state,
          ...(item.dn !== null ? { dn: item.dn } : {}),
          ...(item.numberSource ? { numberSource: item.numberSource } : {}),
          ...(item.login ? { login: item.login } : {}),
        },
        avatarChanged ? await photo() : undefined,
      );
      if (item.action === "enable") await pbx.enableExtension(item.state.number);
      return;
    }
    case "recreate": {
      // The target cannot renumber: the old extension goes, then the user's comes back with
      // its new number. Repeated after a restart, the delete finds nothing and the create
      // finds what it made.
      if (!item.state || !item.guid || !item.dn || item.number === null)
        throw new Error("a recreate item needs state, guid, dn and number");
      await pbx.deleteExtension(item.number, item.archive);
      await pbx.createExtension(
        {
          state: item.state,
          guid: item.guid,
          dn: item.dn,
          numberSource: item.numberSource ?? "sequential",
          login: item.login ?? { upn: null, sam: null },
        },
        await photo(),
      );
      return;
    }
    case "disable":
      await pbx.disableExtension(item.number as string);
      return;
    case "delete":
      await pbx.deleteExtension(item.number as string, item.archive);
      return;
    default:
      return;
  }
}
