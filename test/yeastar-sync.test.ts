// Sync into a Yeastar P-Series, end to end: the bundled worker in workerd, a real agent, the
// Samba DC of the test run, and the Yeastar simulator (which refuses what Yeastar refuses) as
// the PBX.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { isDisabled, sam, targetFor, usersUnder } from "../agent/src/ldap/test-support.ts";
import { type Json, type Stack, startStack } from "./support/stack.ts";
import { storeSecretAndTest, syncThroughOutage } from "./support/target-e2e.ts";
import { startYeastarSimulator, type YeastarSimulator } from "./support/yeastar-simulator.ts";

const dc = inject("samba");
const STAFF = `OU=Staff,${dc.baseDn}`;
const enabledStaff = usersUnder(STAFF).filter((u) => !isDisabled(u));
const secret = "Yeastar-Client-Secret-Never-Shown-42";

describe("sync into Yeastar P-Series", () => {
  let sim: YeastarSimulator;
  let stack: Stack;
  const config = () => ({
    connection: targetFor(dc).connection,
    scope: { users: "ous", ous: [{ dn: STAFF }] },
    extensionNumbers: { source: "sequential", ranges: [{ start: "3000", end: "3099" }] },
    organisation: { departments: { from: "ouTree" } },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "delete", whenOutOfScope: "delete" },
    // The tests narrow the scope on purpose; the delete gate has its own tests.
    safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    schedule: { mode: "manual" },
    pbx: { kind: "yeastar", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" }, concurrency: 4 },
  });
  const sync = async () => {
    const started = await stack.api("POST", "/sync");
    expect(started.status, started.text).toBe(202);
    return stack.finished(started.body.id, 60_000);
  };

  beforeAll(async () => {
    sim = await startYeastarSimulator({ organizationManagement: true, clientSecret: secret });
    // A hand-made extension, as the PBX's administrator made it before sync was set up.
    sim.addExtension({ number: "3000", first_name: "Reception", last_name: "Desk" });
    stack = await startStack(dc, { tenant: "yeastarco", config: config() });
  });
  afterAll(async () => {
    await stack?.stop();
    await sim?.close();
  });

  it("takes the secret write-only, and Test Connection checks the PBX with it", async () => {
    const details = await storeSecretAndTest(stack, secret);
    expect(details.at(-1)).toMatch(/The PBX has 1 extension/);
    expect(details[0]).toMatch(/Open API v1\.0 \(P-Series Cloud Edition, firmware 84\.23\.0\.20\)/);
    // The check gave its token back.
    expect(sim.liveAccessTokens()).toBe(0);
  });

  it("refuses a configuration that asks the PBX for what it cannot do", async () => {
    const res = await stack.api("PUT", "/config", { ...config(), deprovisioning: { whenDeleted: "disable" } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "/deprovisioning/whenDeleted", message: expect.stringMatching(/cannot disable/) }),
      ]),
    );
  });

  it("previews and syncs every enabled user into Yeastar, around the hand-made extension, with no second write on a re-sync", async () => {
    const preview = await stack.api("POST", "/preview?limit=1000");
    expect(preview.body.run.summary.create).toBe(enabledStaff.length);
    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded" });
    const extensions = sim.extensions();
    expect(extensions).toHaveLength(enabledStaff.length + 1);
    expect(extensions.find((e) => e.number === "3000")).toMatchObject({ first_name: "Reception", handMade: true });
    const emails = extensions
      .filter((e) => !e.handMade)
      .map((e) => e.email_addr)
      .sort();
    expect(emails).toEqual(
      enabledStaff
        .map((u) => String(u.attributes.mail?.[0] ?? ""))
        .filter(Boolean)
        .sort(),
    );
    expect(sim.organizations().map((o) => o.name)).toEqual(expect.arrayContaining(["Staff", "Sales"]));

    // The Extensions view shows Yeastar's extensions as the PBX has them, and which ones sync manages.
    const listed = (await stack.api("GET", "/extensions?limit=100")).body;
    expect(listed.total).toBe(enabledStaff.length + 1);
    expect(listed.extensions.find((e: Json) => e.number === "3000")).toMatchObject({ origin: "manual", displayName: "Reception Desk" });
    expect(listed.extensions.filter((e: Json) => e.origin === "ad")).toHaveLength(enabledStaff.length);

    const writes = sim.writes().length;
    const again = await sync();
    expect(again).toMatchObject({ status: "succeeded", summary: { create: 0, update: 0, delete: 0 } });
    expect(sim.writes().length).toBe(writes);
  });

  it("rides out an expired token and a storm of 429s in the middle of a run", async () => {
    const narrower = { ...config(), scope: { users: "ous", ous: [{ dn: `OU=Sales,${STAFF}` }] } };
    expect((await stack.api("PUT", "/config", narrower)).status).toBe(200);
    sim.expireAccessTokens();
    sim.rateLimit(3, 1);
    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded" });
    const sales = usersUnder(`OU=Sales,${STAFF}`)
      .filter((u) => !isDisabled(u))
      .map(sam);
    expect(run.summary.delete).toBe(enabledStaff.length - sales.length);
    expect(sim.extensions().filter((e) => !e.handMade)).toHaveLength(sales.length);
  });

  it("fails what the PBX could not take while it went down mid-apply, says why, and the next run finishes it without duplicates", {
    timeout: 180_000,
  }, async () => {
    expect((await stack.api("PUT", "/config", config())).status).toBe(200);
    await syncThroughOutage(stack, sim, /Yeastar did not answer extension\/(create|search)/);
    const numbers = sim.extensions().map((e) => e.number);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(sim.extensions()).toHaveLength(enabledStaff.length + 1);
    // Nothing said the secret or a token.
    expect(stack.logs.join("\n")).not.toContain(secret);
    expect(stack.logs.join("\n")).not.toMatch(/access_token=[^[]/);
  });
});
