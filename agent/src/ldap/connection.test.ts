// Against the Samba DC of the test run (read-only), a private DC that accepts plain-LDAP
// binds (127.0.0.42), and stand-in TLS servers for certificates that are wrong on purpose.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type SambaDc, startSambaDc } from "../../../test/support/samba-dc.ts";
import { connectionSettings, openConnection, resolveBindPassword } from "./connection.ts";
import { BindError, BindPasswordError, ConnectError, type DirectoryError, StrongAuthRequiredError, TlsError } from "./errors.ts";
import { type TlsStandIn, targetFor, tlsStandIn } from "./test-support.ts";

const dc = inject("samba");

async function failure(promise: Promise<unknown>): Promise<DirectoryError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, "expected a failure").toBeDefined();
  return outcome as DirectoryError;
}

describe("openConnection", () => {
  it.each([
    ["ldaps", 636, "TLSv1"],
    ["starttls", 389, "TLSv1"],
  ] as const)("binds over %s to port %i and reports the DC and its certificate", async (security, port, protocol) => {
    const connection = await openConnection(targetFor(dc, { security }));
    try {
      expect(connection.server).toBe(`${dc.ip}:${port}`);
      expect(connection.tls?.protocol).toContain(protocol);
      expect(connection.tls?.certificate?.subjectAltNames).toContain(`IP:${dc.ip}`);
      expect(connection.tls?.problems).toEqual([]);
      const { searchEntries } = await connection.client.search(dc.baseDn, { scope: "base", attributes: ["objectClass"] });
      expect(searchEntries).toHaveLength(1);
    } finally {
      await connection.close();
    }
  });

  it("is refused over plain LDAP with advice to use LDAPS or StartTLS", async () => {
    const error = await failure(openConnection(targetFor(dc, { security: "insecurePlainLdap" })));
    expect(error).toBeInstanceOf(StrongAuthRequiredError);
    expect(error.code).toBe("strong_auth_required");
    expect(error.server).toBe(`${dc.ip}:389`);
    expect(error.fix).toMatch(/"ldaps".*"starttls"/);
  });

  it.each(["ldaps", "starttls"] as const)("refuses %s to a DC whose CA is not trusted, naming the issuer", async (security) => {
    const error = await failure(openConnection(targetFor(dc, { security, caCertificate: (await tlsStandInCa()).caPem })));
    expect(error).toBeInstanceOf(TlsError);
    expect(error.code).toBe("tls_untrusted");
    expect(error.message).toContain("pbx-ad-sync test CA");
    expect((error as TlsError).certificate?.subject).toBe("CN=dc1.example.com");
    expect(error.fix).toMatch(/caCertificate/);
  });

  it("accepts any certificate with insecureSkipVerify, and says what verification would have found", async () => {
    const connection = await openConnection(targetFor(dc, { caCertificate: (await tlsStandInCa()).caPem, insecureSkipVerify: true }));
    try {
      expect(connection.tls?.problems.map((p) => p.code)).toEqual(["tls_untrusted"]);
    } finally {
      await connection.close();
    }
  });

  it("reports the AD sub-code of a wrong password and does not try the next DC", async () => {
    const target = targetFor(dc, { domainControllers: [{ host: dc.ip }, { host: "127.0.0.99" }] }, "not-the-password");
    const error = await failure(openConnection(target));
    expect(error).toBeInstanceOf(BindError);
    expect(error.code).toBe("ad_52e");
    expect((error as BindError).adCode).toBe("52e");
    // Only the first DC was asked: a second refusal would only count towards a lockout.
    expect(error.server).toBe(`${dc.ip}:636`);
    expect(error.message).not.toContain("127.0.0.99");
    expect(error.message).not.toContain("not-the-password");
  });

  it.each([
    ["an unknown UPN", "nobody@example.com"],
    ["an unknown DN", "CN=Nobody,OU=Service Accounts,DC=example,DC=com"],
  ])("refuses %s with Samba's 52e (Windows may say 525)", async (_, bindUsername) => {
    const error = await failure(openConnection(targetFor(dc, { bindUsername })));
    expect(error.code).toBe("ad_52e");
  });

  it("fails over from a dead DC to the next one", async () => {
    const connection = await openConnection(targetFor(dc, { domainControllers: [{ host: "127.0.0.99", port: 636 }, { host: dc.ip }] }));
    try {
      expect(connection.server).toBe(`${dc.ip}:636`);
    } finally {
      await connection.close();
    }
  });

  it.each([
    ["an unknown host", { host: "dc1.nonexistent.invalid" }, "dns_not_found"],
    ["a closed port", { host: dc.ip, port: 1 }, "connection_refused"],
  ])("reports %s", async (_, domainController, code) => {
    const error = await failure(openConnection(targetFor(dc, { domainControllers: [domainController] })));
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.code).toBe(code);
    expect(error.fix).toBeDefined();
  });

  it("names every DC when none can be used", async () => {
    const error = await failure(openConnection(targetFor(dc, { domainControllers: [{ host: dc.ip, port: 1 }, { host: "127.0.0.99" }] })));
    expect(error.code).toBe("connection_refused");
    expect(error.message).toContain(`${dc.ip}:1`);
    expect(error.message).toContain("127.0.0.99:636");
  });

  it("refuses an empty password before connecting", async () => {
    const error = await failure(openConnection(targetFor(dc, { domainControllers: [{ host: "127.0.0.99" }] }, "")));
    expect(error).toBeInstanceOf(BindPasswordError);
    expect(error.code).toBe("bind_password_empty");
  });

  describe("certificates that are wrong in one way", () => {
    let mismatch: TlsStandIn;
    let expired: TlsStandIn;
    beforeAll(async () => {
      mismatch = await tlsStandIn("DNS:other.example.com", 2);
      expired = await tlsStandIn("IP:127.0.0.1", -1);
    });
    afterAll(async () => {
      await mismatch.close();
      await expired.close();
    });

    it("names the names a certificate is for when the DC's is not among them", async () => {
      const target = targetFor(dc, { domainControllers: [{ host: mismatch.host, port: mismatch.port }], caCertificate: mismatch.caPem });
      const error = await failure(openConnection(target));
      expect(error.code).toBe("tls_hostname_mismatch");
      expect(error.message).toContain("DNS:other.example.com");
      expect(error.fix).toMatch(/names in its certificate/);
    });

    it("says when a certificate has expired", async () => {
      const target = targetFor(dc, { domainControllers: [{ host: expired.host, port: expired.port }], caCertificate: expired.caPem });
      const error = await failure(openConnection(target));
      expect(error.code).toBe("tls_expired");
      expect(error.message).toMatch(/expired on \d{4}-\d\d-\d\d/);
    });

    it("fails over from a DC with a bad certificate to a good one", async () => {
      const target = targetFor(dc, { domainControllers: [{ host: expired.host, port: expired.port }, { host: dc.ip }] });
      const connection = await openConnection(target);
      await connection.close();
      expect(connection.server).toBe(`${dc.ip}:636`);
    });
  });

  describe("a DC that allows plain-LDAP binds", () => {
    let plain: SambaDc;
    beforeAll(async () => {
      plain = await startSambaDc({ ip: "127.0.0.42", allowPlainLdapBinds: true });
    });
    afterAll(async () => {
      await plain?.destroy();
    });

    it("binds with insecurePlainLdap, without TLS", async () => {
      const connection = await openConnection(targetFor(plain, { security: "insecurePlainLdap" }));
      try {
        expect(connection.server).toBe("127.0.0.42:389");
        expect(connection.tls).toBeUndefined();
      } finally {
        await connection.close();
      }
    });
  });
});

describe("resolveBindPassword", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "bind-password-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const withSource = (bindPassword: { source: "stored" | "agent" }, stored: string | null = null) =>
    targetFor(dc, { bindPassword }, stored);
  const agentHeld = withSource({ source: "agent" });

  it("takes a stored password from the request", async () => {
    expect(await resolveBindPassword(withSource({ source: "stored" }, "s3cret"))).toBe("s3cret");
    const error = await failure(resolveBindPassword(withSource({ source: "stored" })));
    expect(error.code).toBe("bind_password_missing");
  });

  it("takes the agent's own ADSYNC_BIND_PASSWORD, never a password that came with the request, and says how to set one", async () => {
    expect(await resolveBindPassword(agentHeld, { ADSYNC_BIND_PASSWORD: "from-env" })).toBe("from-env");
    expect(await resolveBindPassword(withSource({ source: "agent" }, "from-the-cloud"), { ADSYNC_BIND_PASSWORD: "from-env" })).toBe(
      "from-env",
    );
    const missing = await failure(resolveBindPassword(withSource({ source: "agent" }, "from-the-cloud"), {}));
    expect(missing.code).toBe("bind_password_missing");
    expect(missing.fix).toMatch(/--bind-password-file PATH.*ADSYNC_BIND_PASSWORD/);
    const empty = await failure(resolveBindPassword(agentHeld, { ADSYNC_BIND_PASSWORD: "" }));
    expect(empty.code).toBe("bind_password_empty");
  });

  it("reads the first line of the agent's --bind-password-file, without a BOM or line ending, before the variable", async () => {
    const file = path.join(dir, "password");
    writeFileSync(file, "\uFEFFfirst line \r\nsecond line\r\n");
    expect(await resolveBindPassword(agentHeld, { ADSYNC_BIND_PASSWORD_FILE: file, ADSYNC_BIND_PASSWORD: "not this" })).toBe("first line ");
    writeFileSync(file, "\nsecond line\n");
    expect((await failure(resolveBindPassword(agentHeld, { ADSYNC_BIND_PASSWORD_FILE: file }))).code).toBe("bind_password_empty");
    const missing = await failure(resolveBindPassword(agentHeld, { ADSYNC_BIND_PASSWORD_FILE: path.join(dir, "absent") }));
    expect(missing.code).toBe("bind_password_missing");
    expect(missing.message).toContain(path.join(dir, "absent"));
  });

  it("binds with the password the agent holds", async () => {
    const before = process.env.ADSYNC_BIND_PASSWORD;
    process.env.ADSYNC_BIND_PASSWORD = dc.servicePassword;
    try {
      const connection = await openConnection(targetFor(dc, { bindPassword: { source: "agent" } }, null));
      await connection.close();
    } finally {
      if (before === undefined) delete process.env.ADSYNC_BIND_PASSWORD;
      else process.env.ADSYNC_BIND_PASSWORD = before;
    }
  });
});

describe("connectionSettings", () => {
  it("applies the schema's defaults and AD's page-size cap", () => {
    const settings = connectionSettings({
      domainControllers: [{ host: "dc1.example.com" }, { host: "fd00::1", port: 3269 }],
      bindUsername: "svc@example.com",
      bindPassword: { source: "stored" },
      baseDn: "DC=example,DC=com",
    });
    expect(settings.security).toBe("ldaps");
    expect(settings.endpoints.map((e) => e.server)).toEqual(["dc1.example.com:636", "[fd00::1]:3269"]);
    expect(settings.connectTimeoutMs).toBe(10_000);
    expect(settings.timeLimitSeconds).toBe(120);
    expect(settings.operationTimeoutMs).toBeGreaterThan(120_000);
    expect(settings.pageSize).toBe(500);
    expect(settings.insecureSkipVerify).toBe(false);
    expect(connectionSettings({ ...baseConnection(), security: "starttls", pageSize: 5000 }).endpoints[0]?.port).toBe(389);
    expect(connectionSettings({ ...baseConnection(), pageSize: 5000 }).pageSize).toBe(1000);
  });
});

function baseConnection() {
  return {
    domainControllers: [{ host: "dc1.example.com" }] as [{ host: string }],
    bindUsername: "svc@example.com",
    bindPassword: { source: "stored" as const },
    baseDn: "DC=example,DC=com",
  };
}

// A CA that signed nothing the DC presents.
let unrelatedCa: TlsStandIn | undefined;
async function tlsStandInCa(): Promise<TlsStandIn> {
  unrelatedCa ??= await tlsStandIn("DNS:unrelated.example.com", 2);
  return unrelatedCa;
}
afterAll(async () => {
  await unrelatedCa?.close();
});
