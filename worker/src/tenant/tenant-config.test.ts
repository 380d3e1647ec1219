import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { TenantConfig } from "./tenant-config.ts";

const KEY = Buffer.alloc(32, 7).toString("base64");
const config = (baseDn: string): SyncConfig => ({
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc@example.com", bindPassword: { source: "stored" }, baseDn },
  extensionNumbers: { source: "sequential", ranges: [{ start: "1000", end: "1999" }] },
  schedule: { mode: "manual" },
});

describe("TenantConfig", () => {
  it("answers what was saved last, whichever write it was", async () => {
    const store = new TenantConfig(sqliteStorage(), KEY);
    expect(store.config()).toBeNull();
    store.save("acme", config("DC=one,DC=com"), "admin");
    expect(store.config()?.connection?.baseDn).toBe("DC=one,DC=com");
    store.save("acme", config("DC=two,DC=com"), "admin");
    expect(store.config()?.connection?.baseDn).toBe("DC=two,DC=com");
    expect(store.stored().bindPasswordSet).toBe(false);
    await store.setBindPassword("acme", "secret-1", "admin");
    expect(store.stored()).toMatchObject({ bindPasswordSet: true, updatedBy: "admin" });
    expect(store.config()).toEqual(config("DC=two,DC=com"));
  });

  it("hands out a configuration nobody can change under the others", () => {
    const store = new TenantConfig(sqliteStorage(), KEY);
    store.save("acme", config("DC=one,DC=com"), "admin");
    const shared = store.config() as SyncConfig;
    expect(() => {
      (shared.connection as { baseDn: string }).baseDn = "DC=evil,DC=com";
    }).toThrow(TypeError);
    expect(store.config()?.connection?.baseDn).toBe("DC=one,DC=com");
  });
});
