// Enrollment on its own: node:sqlite for the tenant's storage and a clock the test moves, so
// that a token's expiry, its single use and the migration of older tenants are seen exactly.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { agentHeaders } from "../../../schema/src/agent-protocol.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { AgentEnrollment, defaultTokenHours } from "./agent-enrollment.ts";
import { AgentEvents, agentEventsKept } from "./agent-events.ts";
import { type SocketState, TenantAgents } from "./tenant-agents.ts";

const HOUR = 3_600_000;
const noSockets = { getWebSockets: () => [] } as unknown as SocketState;

function setup(db = new DatabaseSync(":memory:")) {
  const sql = sqliteStorage(db);
  const clock = { now: Date.UTC(2026, 0, 5, 9) };
  const now = () => clock.now;
  const events = new AgentEvents(sql, now);
  const agents = new TenantAgents(sql, noSockets, events);
  const enrollment = new AgentEnrollment(sql, agents, events, now);
  const enroll = async (token: string, agentId: string) => {
    const response = await enrollment.enroll(
      new Request("http://worker.test/api/v1/agent/enroll", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          [agentHeaders.id]: agentId,
          [agentHeaders.hostname]: `${agentId}.corp.test`,
          [agentHeaders.version]: "1.2.3",
          "CF-Connecting-IP": "203.0.113.7",
        },
      }),
    );
    return { status: response.status, body: (await response.json()) as { credential?: string; error?: { code: string; message: string } } };
  };
  return { db, sql, clock, events, agents, enrollment, enroll };
}

describe("enrollment tokens", () => {
  it("enroll one agent each, and are refused as spent afterwards, saying by whom", async () => {
    const { enrollment, enroll } = setup();
    const { token } = await enrollment.createToken("acme", "Berlin", "admin@acme", defaultTokenHours);
    const first = await enroll(token, "srv-app01");
    expect(first.status).toBe(201);
    expect(first.body.credential).toMatch(/^adsc_acme_[a-f0-9]{16}_/);
    const second = await enroll(token, "srv-app02");
    expect(second).toMatchObject({ status: 401, body: { error: { code: "enrollment_token_used" } } });
    expect(second.body.error?.message).toMatch(/already used, by the agent srv-app01 on 2026-01-05T09:00:00\.000Z.*make a new token/);
    expect(enrollment.listTokens()).toEqual([expect.objectContaining({ status: "used", usedBy: "srv-app01" })]);
  });

  it("expire at the hour chosen, to the millisecond", async () => {
    const { clock, enrollment, enroll } = setup();
    const { token: late } = await enrollment.createToken("acme", "late", "admin@acme", 2);
    const { token: onTime } = await enrollment.createToken("acme", "on time", "admin@acme", 2);
    clock.now += 2 * HOUR - 1;
    expect((await enroll(onTime, "in-time")).status).toBe(201);
    clock.now += 1;
    const refused = await enroll(late, "too-late");
    expect(refused).toMatchObject({ status: 401, body: { error: { code: "enrollment_token_expired" } } });
    expect(refused.body.error?.message).toMatch(/expired on 2026-01-05T11:00:00\.000Z; make a new one in Agents > Add agent/);
    expect(enrollment.listTokens().map((t) => [t.label, t.status])).toEqual([
      ["late", "expired"],
      ["on time", "used"],
    ]);
  });

  it("are refused when revoked, forged or unknown, and a spent one cannot be revoked", async () => {
    const { enrollment, enroll } = setup();
    const revoked = await enrollment.createToken("acme", "withdrawn", "admin@acme", 24);
    enrollment.revokeToken(revoked.id, "admin@acme");
    expect((await enroll(revoked.token, "a")).body.error?.code).toBe("enrollment_token_revoked");
    const real = await enrollment.createToken("acme", "real", "admin@acme", 24);
    expect((await enroll(`${real.token.slice(0, -43)}${"A".repeat(43)}`, "b")).body.error?.code).toBe("invalid_enrollment_token");
    expect((await enroll(`adsa_acme_0123456789abcdef_${"A".repeat(43)}`, "c")).body.error?.code).toBe("invalid_enrollment_token");
    expect((await enroll(real.token, "d")).status).toBe(201);
    expect(() => enrollment.revokeToken(real.id, "admin@acme")).toThrow(/already enrolled the agent d; revoke that agent instead/);
  });

  it("refuse an id another enrolled agent holds, and free it once that agent is revoked", async () => {
    const { enrollment, enroll, agents } = setup();
    const make = async () => (await enrollment.createToken("acme", "t", "admin@acme", 24)).token;
    expect((await enroll(await make(), "srv-app01")).status).toBe(201);
    const taken = await enroll(await make(), "srv-app01");
    expect(taken).toMatchObject({ status: 409, body: { error: { code: "agent_id_taken" } } });
    expect(taken.body.error?.message).toMatch(/already enrolled \(host srv-app01\.corp\.test\).*another --id/);
    agents.revoke("srv-app01", "admin@acme");
    expect((await enroll(await make(), "srv-app01")).status).toBe(201);
    expect(agents.list(new Map()).find((a) => a.id === "srv-app01")).toMatchObject({ revokedAt: null, tokenLabel: "t" });
  });

  it("give a token made by an earlier version the default lifetime from when it was made", async () => {
    const db = new DatabaseSync(":memory:");
    db.exec(`CREATE TABLE enrollment_tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL, label TEXT NOT NULL,
      created_at INTEGER NOT NULL, created_by TEXT NOT NULL, revoked_at INTEGER);
      INSERT INTO enrollment_tokens VALUES ('0123456789abcdef', 'x', 'old', 1000, 'admin@acme', NULL);
      CREATE TABLE agents (id TEXT PRIMARY KEY, token_id TEXT NOT NULL, hostname TEXT NOT NULL, version TEXT NOT NULL,
      first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
      INSERT INTO agents VALUES ('old-agent', '0123456789abcdef', 'old.corp.test', '0.1', 1, 2);`);
    const { enrollment, agents, enroll } = setup(db);
    expect(enrollment.listTokens()).toEqual([expect.objectContaining({ expiresAt: 1000 + 24 * HOUR, status: "expired" })]);
    // An agent from before credentials has none: it cannot connect, and its id may be enrolled.
    expect(agents.holder("old-agent")).toBeUndefined();
    expect((await enroll((await enrollment.createToken("acme", "t", "admin@acme", 24)).token, "old-agent")).status).toBe(201);
  });
});

describe("which agents requests go to", () => {
  it("only sockets whose agent holds a valid credential now: not a revoked one, not one enrolled since", async () => {
    const sockets: Array<{ readyState: number; attachment: { agentId: string }; closed?: number; sent: string[] }> = [];
    const state = {
      // Tagged agent:<id>, as the Durable Object tags them.
      getWebSockets: (tag?: string) =>
        sockets
          .filter((s) => tag === undefined || tag === `agent:${s.attachment.agentId}`)
          .map((s) => ({
            readyState: s.readyState,
            deserializeAttachment: () => s.attachment,
            send: (text: string) => s.sent.push(text),
            close: (code: number) => {
              s.closed = code;
            },
          })),
      getWebSocketAutoResponseTimestamp: () => null,
    } as unknown as SocketState;
    const sql = sqliteStorage(new DatabaseSync(":memory:"));
    const events = new AgentEvents(sql);
    const agents = new TenantAgents(sql, state, events);
    const enrollment = new AgentEnrollment(sql, agents, events);
    const enroll = async (agentId: string) => {
      const { token } = await enrollment.createToken("acme", agentId, "admin@acme", 24);
      const res = await enrollment.enroll(
        new Request("http://worker.test/", { method: "POST", headers: { Authorization: `Bearer ${token}`, [agentHeaders.id]: agentId } }),
      );
      const credential = ((await res.json()) as { credential: string }).credential;
      return credential.split("_")[2] as string;
    };
    const socketOf = (agentId: string, credentialId: string) =>
      sockets.push({
        readyState: WebSocket.OPEN,
        attachment: { agentId, credentialId, hostname: agentId, version: "1", connectedAt: 0 } as { agentId: string },
        sent: [],
      });
    socketOf("kept", await enroll("kept"));
    socketOf("revoked", await enroll("revoked"));
    const stale = await enroll("renewed");
    socketOf("renewed", stale);
    // A socket that claims an agent with a made-up credential id.
    socketOf("kept", "0123456789abcdef");
    agents.revoke("revoked", "admin@acme");
    // The revoked agent is told, and its socket closed; the fake sockets stay open after
    // close(), which is what a socket is between revocation and its close.
    expect(sockets[1]).toMatchObject({ closed: 4007, sent: [expect.stringContaining('"type":"revoked"')] });
    expect(sockets[0]?.closed).toBeUndefined();
    agents.revoke("renewed", "admin@acme");
    await enroll("renewed");
    expect(agents.open().map((o) => o.agent.agentId)).toEqual(["kept"]);
    expect(agents.connected()).toBe(true);
  });
});

describe("the agents' log", () => {
  it("records who made the token, the host and address that enrolled, and each refusal", async () => {
    const { enrollment, enroll, events } = setup();
    const { token, id } = await enrollment.createToken("acme", "Berlin", "admin@acme", 24);
    await enroll(token, "srv-app01");
    await enroll(token, "srv-evil");
    expect(events.list(10).map(({ seq, at, ...e }) => e)).toEqual([
      expect.objectContaining({ type: "enrollment_refused", agentId: "srv-evil", address: "203.0.113.7", detail: "enrollment_token_used" }),
      expect.objectContaining({
        type: "enrolled",
        agentId: "srv-app01",
        hostname: "srv-app01.corp.test",
        address: "203.0.113.7",
        tokenId: id,
        tokenLabel: "Berlin",
        tokenBy: "admin@acme",
        detail: "adsync-agent 1.2.3",
      }),
      expect.objectContaining({ type: "token_created", tokenId: id, by: "admin@acme", detail: "valid for 24 h" }),
    ]);
  });

  it("keeps the newest entries only, however many refusals arrive", async () => {
    const { enrollment, enroll, events, sql } = setup();
    const { token } = await enrollment.createToken("acme", "once", "admin@acme", 24);
    await enroll(token, "first");
    for (let i = 0; i < agentEventsKept + 50; i++) await enroll(token, `retry-${i}`);
    expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM agent_events").one().n).toBe(agentEventsKept);
    expect(events.list(1)[0]).toMatchObject({ agentId: `retry-${agentEventsKept + 49}` });
  });
});
