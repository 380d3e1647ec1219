import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verify } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { devSecrets, devToken, parseDevTokenArgs } from "./dev-token.ts";

describe("adsync dev-token", () => {
  it("makes the development secrets once, private to the user, and keeps them", () => {
    const path = join(mkdtempSync(join(tmpdir(), "adsync-dev-")), ".dev.vars");
    const first = devSecrets(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first.ADMIN_JWT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(Buffer.from(first.CONFIG_ENCRYPTION_KEY, "base64")).toHaveLength(32);
    expect(devSecrets(path)).toEqual(first);
    expect(readFileSync(path, "utf8")).toContain(`ADMIN_JWT_SECRET=${first.ADMIN_JWT_SECRET}`);
  });

  it("signs a token the worker's admin auth accepts: tenant, role and expiry as asked", async () => {
    const secret = "a-development-secret-of-enough-length";
    const token = await devToken(parseDevTokenArgs(["--tenant", "demo", "--role", "viewer", "--hours", "1"]), secret);
    const claims = await verify(token, secret, "HS256");
    expect(claims).toMatchObject({ tenant: "demo", role: "viewer", sub: "developer@localhost" });
    expect((claims.exp as number) - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);
    await expect(verify(token, "another-secret-of-the-same-length-xx", "HS256")).rejects.toThrow();
  });

  it.each([
    [[], /--tenant is required/],
    [["--tenant", "Demo"], /lower-case/],
    [["--tenant", "demo", "--role", "owner"], /admin or viewer/],
    [["--tenant", "demo", "--hours", "0"], /--hours/],
    [["--tenant", "demo", "--hours", "25"], /--hours is a number from 0 to 24/],
    [["--tenant"], /needs a value/],
    [["--tenant", "demo", "--expires", "1"], /unknown option --expires/],
  ])("refuses %j", (args, message) => {
    expect(() => parseDevTokenArgs(args)).toThrow(message);
  });
});
