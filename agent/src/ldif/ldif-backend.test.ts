// The agent's directory-file backend on its own: what Test Connection says when the
// configuration does not fit the file, and that domain login is refused rather than faked.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { ldifBackend } from "./ldif-backend.ts";
import { LdifDirectory } from "./ldif-directory.ts";

const directory = await LdifDirectory.fromFile(fileURLToPath(new URL("../../../sample/directory.ldif", import.meta.url)));
const backend = ldifBackend(directory, "directory.ldif");
const target = (baseDn: string): LdapTarget => ({
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn },
});

describe("ldifBackend", () => {
  it("fails Test Connection at the base DN when the file holds another domain, naming the file's", async () => {
    const result = await backend.testConnection(target("DC=example,DC=com"));
    expect(result.ok).toBe(false);
    expect(result.steps.map((s) => [s.id, s.status])).toEqual([
      ["reachable", "ok"],
      ["tls", "skipped"],
      ["bind", "skipped"],
      ["baseDn", "failed"],
      ["scope", "skipped"],
    ]);
    expect(result.steps[3]).toMatchObject({ code: "no_such_object", fix: expect.stringContaining("DC=harbourline,DC=example") });
  });

  it("fails the scope step for an OU the file does not have", async () => {
    const result = await backend.testConnection(target("DC=harbourline,DC=example"), {
      users: "ous",
      ous: [{ dn: "OU=Paris,OU=People,DC=harbourline,DC=example" }],
    });
    expect(result.ok).toBe(false);
    expect(result.steps.at(-1)).toMatchObject({ id: "scope", status: "failed", code: "scope_ou_not_found" });
  });

  it("refuses every domain login: a file holds no passwords", async () => {
    expect(await backend.authenticate(target("DC=harbourline,DC=example"), "amara@harbourline.example", "x")).toEqual({
      ok: false,
      reason: "directory_unavailable",
    });
  });
});
