import { describe, expect, it } from "vitest";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { type AllowedDc, ConnectionPolicy, parseAllowedDc } from "./connection-policy.ts";

const target = (dcs: Array<{ host: string; port?: number }>, more: Record<string, unknown> = {}): LdapTarget =>
  ({
    connection: { domainControllers: dcs, bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: "DC=example,DC=com", ...more },
  }) as LdapTarget;
const policy = (
  dcs: AllowedDc[],
  more: { domains?: string[]; allowInsecureLdap?: boolean } = {},
  lookup?: (name: string) => Promise<Array<{ name: string; port: number; priority: number; weight: number }>>,
) => new ConnectionPolicy({ dcs, domains: more.domains ?? [], allowInsecureLdap: more.allowInsecureLdap ?? false }, lookup as never);
const refusal = async (p: ConnectionPolicy, t: LdapTarget) => {
  try {
    await p.check(t);
    return undefined;
  } catch (e) {
    return {
      code: (e as { code: string }).code,
      message: (e as Error).message,
      fix: (e as { fix?: string }).fix,
      server: (e as { server?: string }).server,
    };
  }
};

describe("parseAllowedDc", () => {
  it.each([
    ["dc1.example.com", { host: "dc1.example.com" }],
    ["DC1.Example.com:636", { host: "dc1.example.com", port: 636 }],
    ["127.0.0.11", { host: "127.0.0.11" }],
    ["10.0.0.5:3269", { host: "10.0.0.5", port: 3269 }],
    ["[::1]:636", { host: "::1", port: 636 }],
    [" dc2 ", { host: "dc2" }],
  ])("reads %s", (text, dc) => {
    expect(parseAllowedDc(text)).toEqual(dc);
  });

  it.each(["", "dc1:", "dc1:0", "dc1:70000", "dc1:abc", "ldaps://dc1", "dc 1", "dc1/x"])("refuses %j", (text) => {
    expect(() => parseAllowedDc(text)).toThrow(/is not HOST or HOST:PORT|has no valid port/);
  });
});

describe("ConnectionPolicy", () => {
  it("allows a named DC on the standard LDAP ports, whatever its case, and a port named with it only on that port", async () => {
    const p = policy([{ host: "dc1.example.com" }, { host: "10.0.0.5", port: 10636 }]);
    for (const port of [undefined, 389, 636, 3268, 3269])
      expect(await refusal(p, target([{ host: "DC1.example.com", ...(port ? { port } : {}) }]))).toBeUndefined();
    expect(await refusal(p, target([{ host: "10.0.0.5", port: 10636 }]))).toBeUndefined();
    expect(await refusal(p, target([{ host: "dc1.example.com", port: 22 }]))).toMatchObject({
      code: "dc_not_allowed",
      server: "dc1.example.com:22",
    });
    expect(await refusal(p, target([{ host: "10.0.0.5" }]))).toMatchObject({ code: "dc_not_allowed", server: "10.0.0.5:636" });
  });

  it("refuses the whole target when any of its DCs is not allowed, naming it and what is", async () => {
    const p = policy([{ host: "dc1.example.com" }]);
    expect(
      await refusal(p, target([{ host: "dc1.example.com" }, { host: "evil.example.com", port: 389 }], { security: "starttls" })),
    ).toEqual({
      code: "dc_not_allowed",
      message: "This agent does not connect to evil.example.com:389: its host allows dc1.example.com.",
      fix: expect.stringContaining("--dc"),
      server: "evil.example.com:389",
    });
  });

  it("takes the default port from the transport: 636 for LDAPS, 389 for StartTLS", async () => {
    const p = policy([{ host: "dc1", port: 389 }]);
    expect(await refusal(p, target([{ host: "dc1" }], { security: "starttls" }))).toBeUndefined();
    expect((await refusal(p, target([{ host: "dc1" }], { security: "ldaps" })))?.server).toBe("dc1:636");
    expect((await refusal(p, target([{ host: "dc1" }])))?.server).toBe("dc1:636");
  });

  it("refuses everything when the agent's host named no DC", async () => {
    expect(await refusal(policy([]), target([{ host: "dc1" }]))).toMatchObject({
      code: "dc_not_allowed",
      message: "This agent has no list of domain controllers it may connect to, so it connects to none.",
    });
    expect(policy([]).configured).toBe(false);
  });

  it("refuses plain LDAP and skipped verification unless the agent's host allowed them", async () => {
    const strict = policy([{ host: "dc1" }]);
    expect(await refusal(strict, target([{ host: "dc1" }], { security: "insecurePlainLdap" }))).toMatchObject({
      code: "insecure_not_allowed",
      fix: expect.stringContaining("--allow-insecure-ldap"),
    });
    expect(await refusal(strict, target([{ host: "dc1" }], { insecureSkipVerify: true }))).toMatchObject({ code: "insecure_not_allowed" });
    const lax = policy([{ host: "dc1" }], { allowInsecureLdap: true });
    expect(await refusal(lax, target([{ host: "dc1" }], { security: "insecurePlainLdap" }))).toBeUndefined();
    expect(await refusal(lax, target([{ host: "dc1" }], { insecureSkipVerify: true }))).toBeUndefined();
    // Allowing insecure transport allows no other host.
    expect(await refusal(lax, target([{ host: "dc2" }], { security: "insecurePlainLdap" }))).toMatchObject({ code: "dc_not_allowed" });
  });

  it("allows the DCs DNS names for an allowed domain, on the standard ports, asking DNS at most once a minute", async () => {
    const asked: string[] = [];
    const lookup = async (name: string) => {
      asked.push(name);
      return [
        { name: "DC1.corp.example.com.", port: 389, priority: 0, weight: 100 },
        { name: "dc2.corp.example.com", port: 389, priority: 0, weight: 100 },
      ];
    };
    const p = policy([], { domains: ["corp.example.com"] }, lookup);
    expect(p.describe()).toBe("the DCs of corp.example.com");
    expect(await refusal(p, target([{ host: "dc1.corp.example.com" }, { host: "dc2.corp.example.com", port: 389 }]))).toBeUndefined();
    expect(await refusal(p, target([{ host: "dc3.corp.example.com" }]))).toMatchObject({ code: "dc_not_allowed" });
    expect(await refusal(p, target([{ host: "dc1.corp.example.com", port: 8080 }]))).toMatchObject({ code: "dc_not_allowed" });
    expect(asked).toEqual(["_ldap._tcp.dc._msdcs.corp.example.com"]);
  });

  it("allows nothing through a domain DNS does not answer for", async () => {
    const p = policy([], { domains: ["corp.example.com"] }, async () => {
      throw Object.assign(new Error("queryDns ENOTFOUND"), { code: "ENOTFOUND" });
    });
    expect(await refusal(p, target([{ host: "dc1.corp.example.com" }]))).toMatchObject({ code: "dc_not_allowed" });
  });
});
