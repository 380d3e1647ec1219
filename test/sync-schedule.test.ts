// The schedule, end to end: the Durable Object's alarm starts a sync at the configured time
// for a tenant whose agent is connected, and logs the run as missed for one with no agent.
// Both tenants share one worker and one scheduled minute, so the test waits for that minute once.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { isDisabled, targetFor, usersUnder } from "../agent/src/ldap/test-support.ts";
import { adminToken, type Json, type Stack, startStack } from "./support/stack.ts";

const dc = inject("samba");
const SALES = `OU=Sales,OU=Staff,${dc.baseDn}`;
const salesUsers = usersUnder(SALES).filter((u) => !isDisabled(u)).length;

/** The next whole UTC minute at least 10 s away, as "HH:MM", and its instant. */
function nextMinute(): { time: string; at: number } {
  const at = Math.ceil((Date.now() + 10_000) / 60_000) * 60_000;
  return { time: new Date(at).toISOString().slice(11, 16), at };
}

describe("scheduled sync", () => {
  let stack: Stack;
  const config = {
    connection: targetFor(dc).connection,
    scope: { users: "ous", ous: [{ dn: SALES }] },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    schedule: { mode: "manual" },
  };
  beforeAll(async () => {
    stack = await startStack(dc, { tenant: "daily", config });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs at the configured time when an agent is connected, and logs a missed run when none is", async () => {
    const lonely = await adminToken("lonely");
    const asLonely = (method: string, path: string, body?: unknown) => stack.api(method, `/api/v1/tenants/lonely${path}`, body, lonely);
    // The slot is chosen once the stack is up, however long starting it took.
    const slot = nextMinute();
    const daily = { ...config, schedule: { mode: "daily", time: slot.time, timeZone: "UTC" } };
    expect((await stack.api("PUT", "/config", daily)).status).toBe(200);
    expect((await asLonely("PUT", "/config", daily)).status).toBe(200);

    const expected = new Date(slot.at).toISOString();
    expect((await stack.api("GET", "/schedule")).body).toEqual({ mode: "daily", timeZone: "UTC", nextRunAt: expected });
    expect((await asLonely("GET", "/schedule")).body.nextRunAt).toBe(expected);
    expect((await stack.api("GET", "/runs")).body).toEqual([]);

    const deadline = slot.at + 60_000;
    let scheduled: Json;
    let missed: Json;
    while (!(scheduled && missed)) {
      if (Date.now() > deadline) throw new Error(`no scheduled run by ${new Date(deadline).toISOString()}`);
      await new Promise((r) => setTimeout(r, 500));
      scheduled = (await stack.api("GET", "/runs")).body.find((r: Json) => r.trigger === "schedule");
      missed = (await asLonely("GET", "/runs")).body.find((r: Json) => r.trigger === "schedule");
    }
    expect(scheduled.startedAt).toBeGreaterThanOrEqual(slot.at);
    expect(scheduled.requestedBy).toBeNull();
    const done = await stack.finished(scheduled.id);
    expect(done).toMatchObject({ status: "succeeded", summary: { create: salesUsers } });
    expect((await stack.api("GET", "/extensions")).body.total).toBe(salesUsers);

    expect(missed).toMatchObject({ status: "missed", error: "no connector agent was connected" });
    const events = (await asLonely("GET", `/runs/${missed.id}/events`)).body;
    expect(events.map((e: Json) => e.event)).toEqual(["Scheduled sync missed: no connector agent was connected"]);

    // Both move on to the same time tomorrow.
    const tomorrow = new Date(slot.at + 86_400_000).toISOString();
    expect((await stack.api("GET", "/schedule")).body.nextRunAt).toBe(tomorrow);
    expect((await asLonely("GET", "/schedule")).body.nextRunAt).toBe(tomorrow);
  }, 150_000);
});
