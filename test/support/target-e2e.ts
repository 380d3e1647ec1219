// What the end-to-end tests of the PBX targets share: the OUs they add to a private DC, people
// as an administrator adds them, Sync Now and Preview through the API, and a run the PBX drops
// out of half-way.
import { Attribute, Change, type Client } from "ldapts";
import { expect } from "vitest";
import type { Json, Stack } from "./stack.ts";

/** OU=Voice with East and West below it, under `baseDn`. */
export function voiceOus(baseDn: string): { voice: string; east: string; west: string } {
  const voice = `OU=Voice,${baseDn}`;
  return { voice, east: `OU=East,${voice}`, west: `OU=West,${voice}` };
}

export async function addVoiceOus(admin: Client, baseDn: string): Promise<void> {
  const { voice, east, west } = voiceOus(baseDn);
  for (const ou of [voice, east, west])
    await admin.add(ou, [new Attribute({ type: "objectClass", values: ["top", "organizationalUnit"] })]);
}

/** The attributes of a person named first last, mail first@example.com, and `more`. */
export function person(first: string, last: string, more: Record<string, string[]> = {}): Record<string, string[]> {
  return { givenName: [first], sn: [last], displayName: [`${first} ${last}`], mail: [`${first.toLowerCase()}@example.com`], ...more };
}

/** Replaces an attribute's values, as an administrator editing the user does. */
export function replaceAttribute(admin: Client, dn: string, type: string, values: string[]): Promise<void> {
  return admin.modify(dn, new Change({ operation: "replace", modification: new Attribute({ type, values }) }));
}

/** Sync and Preview; `full` reads the whole scope, where an incremental read would do. */
export function runsOf(stack: Stack): {
  sync(options?: { full?: boolean }): Promise<Json>;
  previewItems(options?: { full?: boolean }): Promise<Record<string, Json>>;
} {
  return {
    async sync(options = {}) {
      const started = await stack.api("POST", `/sync${options.full ? "?full=true" : ""}`);
      expect(started.status, started.text).toBe(202);
      return stack.finished(started.body.id, 60_000);
    },
    async previewItems(options = {}) {
      const res = await stack.api("POST", `/preview?limit=100${options.full ? "&full=true" : ""}`);
      expect(res.status, res.text).toBe(200);
      return Object.fromEntries((res.body.items as Json[]).map((i) => [i.name, i]));
    },
  };
}

/**
 * Test PBX before a secret is stored (the sign-in step fails and says so), then the secret
 * stored write-only and Test Connection with every PBX step ok; answers the steps' details.
 */
export async function storeSecretAndTest(stack: Stack, secret: string): Promise<string[]> {
  const before = await stack.api("POST", "/pbx/test", {});
  expect(before.body).toMatchObject({ ok: false, steps: [{ id: "pbxAuth", status: "failed", code: "pbx_auth_failed" }] });
  expect((await stack.api("PUT", "/config/pbx-secret", { secret })).status).toBe(200);
  const stored = await stack.api("GET", "/config");
  expect(stored.body).toMatchObject({ pbxSecretSet: true });
  expect(stored.text).not.toContain(secret);
  const tested = await stack.api("POST", "/test-connection", {});
  expect(tested.body.ok, JSON.stringify(tested.body)).toBe(true);
  const steps = (tested.body.steps as Json[]).filter((s) => String(s.id).startsWith("pbx"));
  expect(steps.map((s) => [s.id, s.status])).toEqual([
    ["pbxReachable", "ok"],
    ["pbxAuth", "ok"],
    ["pbxAccess", "ok"],
  ]);
  expect(stack.logs.join("\n")).not.toContain(secret);
  return steps.map((s) => String(s.detail));
}

/** A vendor's stand-in, as far as an outage needs it. */
export interface Droppable {
  latencyMs: number;
  writes(): unknown[];
  down(isDown: boolean): void;
  downAfterWrites(n: number): void;
}

/**
 * A Sync Now the PBX drops out of once it took two writes: the run ends partial, each failure
 * saying `unanswered`. Then, after the ten seconds a target leaves a PBX alone, another run,
 * which must succeed (it is returned).
 */
export async function syncThroughOutage(stack: Stack, pbx: Droppable, unanswered: RegExp): Promise<Json> {
  pbx.latencyMs = 150;
  const before = pbx.writes().length;
  // Down the moment the second write is done, in the stand-in itself: a test that polled for
  // it could be late under load, by when the run had written everything.
  pbx.downAfterWrites(before + 2);
  const started = await stack.api("POST", "/sync");
  expect(started.status).toBe(202);
  const down = await stack.finished(started.body.id, 120_000);
  pbx.down(false);
  pbx.latencyMs = 0;
  expect(down.status, JSON.stringify(down)).toBe("partial");
  const events = (await stack.api("GET", `/runs/${down.id}/events`)).body as Json[];
  expect(
    events
      .filter((e) => e.type === "error")
      .map((e) => e.event)
      .join("\n"),
  ).toMatch(unanswered);
  await new Promise((r) => setTimeout(r, 10_500));
  const again = await stack.api("POST", "/sync");
  expect(again.status).toBe(202);
  const run = await stack.finished(again.body.id, 60_000);
  const errors = ((await stack.api("GET", `/runs/${run.id}/events`)).body as Json[]).filter((e) => e.type === "error");
  expect(run, JSON.stringify({ run, errors })).toMatchObject({ status: "succeeded" });
  return run;
}
