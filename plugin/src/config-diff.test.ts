import { describe, expect, it } from "vitest";
import { applyTemplate, configChanges } from "./config-diff.ts";

describe("configChanges", () => {
  it("names each added, removed and changed setting by its path", () => {
    const before = { scope: { users: "all", includeDisabled: false }, schedule: { mode: "interval" } };
    const after = { scope: { users: "ous", ous: [{ dn: "OU=Sales,DC=x" }], includeDisabled: false }, safety: { maxDeletesPerRun: 5 } };
    expect(configChanges(before, after)).toEqual([
      { path: "scope.users", kind: "changed", from: "all", to: "ous" },
      { path: "scope.ous", kind: "added", to: [{ dn: "OU=Sales,DC=x" }] },
      { path: "schedule", kind: "removed", from: { mode: "interval" } },
      { path: "safety", kind: "added", to: { maxDeletesPerRun: 5 } },
    ]);
  });

  it("finds nothing between equal documents", () => {
    expect(configChanges({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
  });

  it("compares arrays as whole values", () => {
    expect(configChanges({ a: [1, 2] }, { a: [1, 3] })).toEqual([{ path: "a", kind: "changed", from: [1, 2], to: [1, 3] }]);
  });
});

describe("applyTemplate", () => {
  const connection = { domainControllers: [{ host: "dc1.corp.test" }], baseDn: "DC=corp,DC=test" };

  it("keeps the tenant's connection and takes everything else from the template", () => {
    const current = { connection, scope: { users: "all" }, schedule: { mode: "manual" } };
    const template = { $schema: "../config.schema.json", metadata: { title: "T" }, scope: { users: "ous" } };
    expect(applyTemplate(current, template)).toEqual({ metadata: { title: "T" }, connection, scope: { users: "ous" } });
  });

  it("never takes a connection from a template", () => {
    const template = { connection: { domainControllers: [{ host: "dc.partner.example" }] }, scope: { users: "all" } };
    expect(applyTemplate(null, template)).toEqual({ scope: { users: "all" } });
    expect(applyTemplate({ connection }, template)).toEqual({ connection, scope: { users: "all" } });
  });

  it("puts metadata and connection first", () => {
    const result = applyTemplate({ connection }, { scope: {}, metadata: { title: "T" } });
    expect(Object.keys(result)).toEqual(["metadata", "connection", "scope"]);
  });
});
