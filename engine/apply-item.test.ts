import { describe, expect, it } from "vitest";
import { applyItem, applyStructure } from "./apply-item.ts";
import { pagesOf } from "./pbx/extension-pages.ts";
import { fullCapabilities } from "./pbx/pbx-capabilities.ts";
import type { ExtensionState, PbxDirectory } from "./pbx/pbx-port.ts";
import type { PlanItem } from "./plan.ts";
import { isOperation } from "./plan-actions.ts";

/** A PBX that records every call it gets, with its arguments. */
function recordingPbx() {
  const calls: unknown[][] = [];
  const record =
    (name: string) =>
    async (...args: unknown[]) => {
      calls.push([name, ...args]);
    };
  const pbx: PbxDirectory = {
    capabilities: fullCapabilities,
    concurrency: 1,
    requestsPerOperation: 0,
    listExtensions: async () => [],
    syncedGuids: async () => [],
    listExtensionPages: () => pagesOf(Promise.resolve([]), 1),
    findExtensions: async () => ({ extensions: [], synced: 0 }),
    listDepartments: async () => [],
    listExtensionGroups: async () => [],
    createDepartment: record("createDepartment"),
    createExtensionGroup: record("createExtensionGroup"),
    createExtension: record("createExtension"),
    adoptExtension: record("adoptExtension"),
    updateExtension: record("updateExtension"),
    disableExtension: record("disableExtension"),
    enableExtension: record("enableExtension"),
    deleteExtension: record("deleteExtension"),
  };
  return { pbx, calls };
}

const state = (number: string, avatarHash: string | null = null): ExtensionState => ({
  number,
  firstName: "Ann",
  lastName: null,
  displayName: "Ann",
  email: null,
  mobile: null,
  workPhone: null,
  department: null,
  jobTitle: null,
  avatarHash,
  departmentPath: null,
  groups: [],
});
const item = (fields: Partial<PlanItem> & Pick<PlanItem, "action">): PlanItem => ({
  guid: "g-ann",
  dn: "CN=Ann,DC=example,DC=com",
  name: "Ann",
  number: "1000",
  reason: "",
  ...fields,
});
const photo = new Uint8Array([9, 9]);
const photos = async (guid: string) => (guid === "g-ann" ? photo : undefined);

describe("applyItem", () => {
  it.each([
    [
      "a create, with its template, login names and photo",
      item({
        action: "create",
        state: state("1000", "h1"),
        numberSource: "attribute",
        login: { upn: "ann@example.com", sam: "ann" },
        template: "900",
      }),
      [
        [
          "createExtension",
          {
            state: state("1000", "h1"),
            guid: "g-ann",
            dn: "CN=Ann,DC=example,DC=com",
            numberSource: "attribute",
            login: { upn: "ann@example.com", sam: "ann" },
            template: "900",
          },
          photo,
        ],
      ],
    ],
    [
      "a create without a photo, numbered from the ranges, with no login names",
      item({ action: "create", state: state("1000") }),
      [
        [
          "createExtension",
          {
            state: state("1000"),
            guid: "g-ann",
            dn: "CN=Ann,DC=example,DC=com",
            numberSource: "sequential",
            login: { upn: null, sam: null },
          },
          undefined,
        ],
      ],
    ],
    [
      "an update whose photo changed",
      item({
        action: "update",
        state: state("1001", "h2"),
        changes: [{ field: "avatar", from: "h1", to: "h2" }],
        numberSource: "sequential",
        login: { upn: null, sam: "ann" },
      }),
      [
        [
          "updateExtension",
          "1000",
          { state: state("1001", "h2"), dn: "CN=Ann,DC=example,DC=com", numberSource: "sequential", login: { upn: null, sam: "ann" } },
          photo,
        ],
      ],
    ],
    [
      "an update with the same photo: no photo sent",
      item({ action: "update", state: state("1000", "h1"), changes: [{ field: "jobTitle", from: null, to: "Boss" }], dn: null }),
      [["updateExtension", "1000", { state: state("1000", "h1") }, undefined]],
    ],
    [
      "an enable: the update, then the enable under the new number",
      item({ action: "enable", state: state("1002"), changes: [] }),
      [
        ["updateExtension", "1000", { state: state("1002"), dn: "CN=Ann,DC=example,DC=com" }, undefined],
        ["enableExtension", "1002"],
      ],
    ],
    ["a disable", item({ action: "disable" }), [["disableExtension", "1000"]]],
    [
      "a delete with its archive",
      item({ action: "delete", archive: { extension: "0999", voicemail: true, recordings: false } }),
      [["deleteExtension", "1000", { extension: "0999", voicemail: true, recordings: false }]],
    ],
    ["a delete without an archive", item({ action: "delete" }), [["deleteExtension", "1000", undefined]]],
    ["nothing for unchanged", item({ action: "unchanged" }), []],
    ["nothing for a conflict", item({ action: "conflict", number: null }), []],
    ["nothing for an excluded user", item({ action: "excluded", number: null }), []],
  ])("makes %s", async (_what, planned, expected) => {
    const { pbx, calls } = recordingPbx();
    await applyItem(planned, pbx, photos);
    expect(calls).toEqual(expected);
  });

  it("refuses items that lack what their operation needs, and calls nothing", async () => {
    const { pbx, calls } = recordingPbx();
    await expect(applyItem(item({ action: "create" }), pbx)).rejects.toThrow("a create item needs state, guid and dn");
    await expect(applyItem(item({ action: "create", state: state("1000"), guid: null }), pbx)).rejects.toThrow(/needs state, guid and dn/);
    await expect(applyItem(item({ action: "create", state: state("1000"), dn: null }), pbx)).rejects.toThrow(/needs state, guid and dn/);
    await expect(applyItem(item({ action: "update" }), pbx)).rejects.toThrow("an update item needs state and number");
    await expect(applyItem(item({ action: "enable", state: state("1000"), number: null }), pbx)).rejects.toThrow(/needs state and number/);
    expect(calls).toEqual([]);
  });

  it("sends no photo when the plan has none, whatever the source holds", async () => {
    const { pbx, calls } = recordingPbx();
    await applyItem(item({ action: "create", state: state("1000", "h1"), guid: "g-bob" }), pbx, photos);
    await applyItem(item({ action: "create", state: state("1001", "h1") }), pbx);
    expect(calls.map((c) => c[2])).toEqual([undefined, undefined]);
  });
});

describe("applyStructure and isOperation", () => {
  it("creates the departments, then the extension groups, in the plan's order", async () => {
    const { pbx, calls } = recordingPbx();
    await applyStructure({ departmentsToCreate: ["Staff", "Staff > Sales"], groupsToCreate: ["All Staff"] }, pbx);
    expect(calls).toEqual([
      ["createDepartment", "Staff"],
      ["createDepartment", "Staff > Sales"],
      ["createExtensionGroup", "All Staff"],
    ]);
  });

  it("counts create, update, enable, disable and delete as operations, nothing else", () => {
    const actions = ["create", "update", "enable", "disable", "delete", "unchanged", "conflict", "excluded"] as const;
    expect(actions.filter((action) => isOperation({ action }))).toEqual(["create", "update", "enable", "disable", "delete"]);
  });
});
