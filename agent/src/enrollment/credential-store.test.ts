import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CredentialStore, defaultStateDir } from "./credential-store.ts";

const saved = {
  worker: "https://pbx.example.com",
  tenant: "acme",
  agentId: "srv-app01",
  credential: "adsc_acme_0123456789abcdef_secret",
  enrolledAt: "2026-01-05T09:00:00.000Z",
};

describe("the agent's credential store", () => {
  it("writes the credential for the agent's account only, and reads it back", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "adsync-store-")), "state");
    const store = new CredentialStore(dir);
    expect(store.read(() => {})).toBeUndefined();
    store.ensureWritable();
    store.save(saved);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(store.read(() => {})).toEqual(saved);
  });

  it("closes a file others could read, and says what that may mean", () => {
    const store = new CredentialStore(mkdtempSync(join(tmpdir(), "adsync-store-")));
    store.save(saved);
    chmodSync(store.file, 0o644);
    const warnings: string[] = [];
    expect(store.read((w) => warnings.push(w))).toEqual(saved);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(warnings.join()).toMatch(/readable by other accounts \(mode 644\); made it 600.*revoke this agent/);
  });

  it("treats a damaged file as an error with the way out, not as a fresh start", () => {
    const store = new CredentialStore(mkdtempSync(join(tmpdir(), "adsync-store-")));
    writeFileSync(store.file, "{", { mode: 0o600 });
    expect(() => store.read(() => {})).toThrow(/is not JSON; delete it and enroll the agent again/);
    writeFileSync(store.file, JSON.stringify({ ...saved, credential: "" }), { mode: 0o600 });
    expect(() => store.read(() => {})).toThrow(/has no credential/);
    expect(readFileSync(store.file, "utf8")).toContain("srv-app01");
  });

  it.each([
    ["a systemd unit's StateDirectory", { STATE_DIRECTORY: "/var/lib/pbx-ad-sync" }, "linux", 0, "/var/lib/pbx-ad-sync"],
    ["/var/lib for root", {}, "linux", 0, "/var/lib/pbx-ad-sync-agent"],
    ["the XDG state home", { XDG_STATE_HOME: "/home/svc/.state" }, "linux", 1000, "/home/svc/.state/pbx-ad-sync-agent"],
    ["~/.local/state", {}, "linux", 1000, join(homedir(), ".local", "state", "pbx-ad-sync-agent")],
    [
      "Windows",
      { LOCALAPPDATA: "C:\\Users\\svc\\AppData\\Local" },
      "win32",
      undefined,
      join("C:\\Users\\svc\\AppData\\Local", "pbx-ad-sync", "agent"),
    ],
    ["macOS", {}, "darwin", 501, join(homedir(), "Library", "Application Support", "pbx-ad-sync-agent")],
  ] as const)("defaults to %s", (_where, env, platform, uid, expected) => {
    expect(defaultStateDir(env as NodeJS.ProcessEnv, platform, uid)).toBe(expected);
  });
});
