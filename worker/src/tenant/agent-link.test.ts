import { describe, expect, it, vi } from "vitest";
import {
  type AgentMessage,
  agentCloseCodes,
  maxMessageBytes,
  maxPageEntries,
  type WorkerMessage,
} from "../../../schema/src/agent-protocol.ts";
import { ApiError } from "../api-error.ts";
import { type AgentAttachment, AgentLink } from "./agent-link.ts";

/** Agents as the link sees them: sockets it can send to, and what was sent to each. */
function fakeAgents(...ids: string[]) {
  const sent = new Map<string, WorkerMessage[]>(ids.map((id) => [id, []]));
  const open = new Set(ids);
  const sockets = ids.map((agentId) => ({
    agent: { agentId, credentialId: "t", hostname: agentId, version: "1", connectedAt: 0 } satisfies AgentAttachment,
    socket: {
      send: (text: string) => {
        if (!open.has(agentId)) throw new Error("closed");
        sent.get(agentId)?.push(JSON.parse(text));
      },
    } as unknown as WebSocket,
  }));
  const link = new AgentLink({ open: () => sockets.filter((s) => open.has(s.agent.agentId)) });
  /** The agent that was sent request `id`, last. */
  const holderOf = (id: string) =>
    [...sent].filter(([, messages]) => messages.some((m) => m.type === "request" && m.id === id)).at(-1)?.[0] ?? "";
  const reply = (message: AgentMessage, from = holderOf(message.id)) => link.receive(JSON.stringify(message), from);
  const requestsTo = (id: string) => (sent.get(id) ?? []).filter((m) => m.type === "request");
  const drop = (id: string) => {
    open.delete(id);
    link.agentGone(id);
  };
  return { link, sent, reply, requestsTo, drop };
}

const op = { op: "listOus", target: { connection: {} } } as never;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("AgentLink", () => {
  it("correlates answers by id, whatever order they come in", async () => {
    const { link, requestsTo, reply } = fakeAgents("a");
    const first = link.call(op, 1000);
    const second = link.call(op, 1000);
    const [r1, r2] = requestsTo("a");
    reply({ type: "result", id: (r2 as { id: string }).id, result: "second" });
    reply({ type: "result", id: (r1 as { id: string }).id, result: "first" });
    expect(await Promise.all([first, second])).toEqual(["first", "second"]);
    expect(link.inFlight().size).toBe(0);
  });

  it("fails at once with agent_offline when no agent is connected", async () => {
    const { link } = fakeAgents();
    await expect(link.call(op, 1000)).rejects.toMatchObject({ status: 503, code: "agent_offline" });
  });

  it("times out, and tells the agent to stop", async () => {
    vi.useFakeTimers();
    try {
      const { link, sent } = fakeAgents("a");
      const answer = link.call(op, 5000).catch((e) => e);
      vi.advanceTimersByTime(5001);
      expect(await answer).toMatchObject({ status: 504, code: "agent_timeout" });
      expect(sent.get("a")?.at(-1)).toMatchObject({ type: "cancel" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("sends each request to the least busy agent, and moves it when that agent drops", async () => {
    const { link, requestsTo, reply, drop } = fakeAgents("a", "b");
    const one = link.call(op, 1000);
    const two = link.call(op, 1000);
    expect(requestsTo("a")).toHaveLength(1);
    expect(requestsTo("b")).toHaveLength(1);
    drop("a");
    expect(requestsTo("b")).toHaveLength(2);
    for (const r of requestsTo("b")) reply({ type: "result", id: (r as { id: string }).id, result: "ok" });
    expect(await Promise.all([one, two])).toEqual(["ok", "ok"]);
  });

  it("fails with agent_disconnected when the last agent drops mid-request", async () => {
    const { link, drop } = fakeAgents("a");
    const answer = link.call(op, 1000);
    drop("a");
    await expect(answer).rejects.toMatchObject({ status: 503, code: "agent_disconnected" });
  });

  it("passes on the agent's error code and fix", async () => {
    const { link, requestsTo, reply } = fakeAgents("a");
    const answer = link.call(op, 1000);
    const id = (requestsTo("a")[0] as { id: string }).id;
    reply({ type: "error", id, error: { code: "no_such_object", message: "no base DN", fix: "Use DC=example,DC=com" } });
    const error = await answer.catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, code: "no_such_object", details: { fix: "Use DC=example,DC=com" } });
  });

  describe("paged reads", () => {
    const search = { op: "search", target: { connection: {} }, base: "DC=x", scope: "sub", filter: "(a=*)", attributes: [] } as never;
    const page = (id: string, n: number): AgentMessage => ({ type: "page", id, entries: [{ dn: `CN=${n}`, attributes: {} }] });

    it("hands pages over in order, acknowledges each once taken in, and answers after the last", async () => {
      const { link, sent, requestsTo, reply } = fakeAgents("a");
      const taken: string[] = [];
      let release: () => void = () => {};
      const slow = new Promise<void>((r) => {
        release = r;
      });
      const done = link.stream(search, 1000, {
        page: async (entries) => {
          if (taken.length === 0) await slow;
          taken.push(...entries.map((e) => e.dn));
        },
      });
      const id = (requestsTo("a")[0] as { id: string }).id;
      reply(page(id, 1));
      reply(page(id, 2));
      reply({ type: "result", id, result: null, complete: { complete: true, pages: 2, entries: 2 } });
      await tick();
      // The first page is still being taken in: nothing acknowledged, nothing answered.
      expect(sent.get("a")?.filter((m) => m.type === "ack")).toHaveLength(0);
      release();
      expect(await done).toEqual({ complete: true, pages: 2, entries: 2 });
      expect(taken).toEqual(["CN=1", "CN=2"]);
      expect(sent.get("a")?.filter((m) => m.type === "ack")).toHaveLength(2);
    });

    it("starts a read over on another agent when its agent drops after some pages", async () => {
      const { link, requestsTo, reply, drop } = fakeAgents("a", "b");
      const taken: string[] = [];
      const restart = vi.fn(() => {
        taken.length = 0;
      });
      const done = link.stream(search, 1000, { page: (entries) => void taken.push(...entries.map((e) => e.dn)), restart });
      const first = requestsTo("a")[0] ?? requestsTo("b")[0];
      const firstAgent = requestsTo("a").length > 0 ? "a" : "b";
      const id = (first as { id: string }).id;
      reply(page(id, 1));
      drop(firstAgent);
      await tick();
      expect(restart).toHaveBeenCalledOnce();
      const other = firstAgent === "a" ? "b" : "a";
      expect(requestsTo(other)).toHaveLength(1);
      reply(page(id, 1));
      reply(page(id, 2));
      reply({ type: "result", id, result: null, complete: { complete: true, pages: 2, entries: 2 } });
      expect((await done).complete).toBe(true);
      expect(taken).toEqual(["CN=1", "CN=2"]);
    });

    it("fails a read that cannot start over when its agent drops after some pages", async () => {
      const { link, requestsTo, reply, drop } = fakeAgents("a", "b");
      const done = link.stream(search, 1000, { page: () => {} });
      const firstAgent = requestsTo("a").length > 0 ? "a" : "b";
      reply(page((requestsTo(firstAgent)[0] as { id: string }).id, 1));
      drop(firstAgent);
      await expect(done).rejects.toMatchObject({ code: "agent_disconnected" });
    });

    it("times out on the gap between pages, not on the whole read", async () => {
      vi.useFakeTimers();
      try {
        const { link, requestsTo, reply } = fakeAgents("a");
        const done = link.stream(search, 1000, { page: () => {} }).catch((e) => e);
        const id = (requestsTo("a")[0] as { id: string }).id;
        for (let i = 0; i < 5; i++) {
          vi.advanceTimersByTime(800);
          reply(page(id, i));
          await vi.advanceTimersByTimeAsync(0);
        }
        vi.advanceTimersByTime(1001);
        expect(await done).toMatchObject({ code: "agent_timeout", message: expect.stringMatching(/no further page/) });
      } finally {
        vi.useRealTimers();
      }
    });
  });

  describe("what an agent may send", () => {
    const search = { op: "search", target: { connection: {} }, base: "DC=x", scope: "sub", filter: "(a=*)", attributes: [] } as never;
    const entry = (n: number) => ({ dn: `CN=${n}`, attributes: { cn: [`${n}`] } });

    it.each([
      [
        "a message over the byte limit",
        () => JSON.stringify({ type: "page", id: "x", entries: [{ dn: "CN=x", attributes: { p: ["A".repeat(maxMessageBytes)] } }] }),
        agentCloseCodes.messageTooBig,
      ],
      ["text that is not JSON", () => "{not json", agentCloseCodes.malformed],
      ["null", () => "null", agentCloseCodes.malformed],
      ["an array", () => "[]", agentCloseCodes.malformed],
      ["a message of an unknown type", () => JSON.stringify({ type: "hello", id: "x" }), agentCloseCodes.malformed],
      ["a message without an id", () => JSON.stringify({ type: "result", result: 1 }), agentCloseCodes.malformed],
    ])("refuses %s", async (_what, text, code) => {
      const { link } = fakeAgents("a");
      const pending = link.call(op, 1000).catch(() => undefined);
      expect(link.receive(text(), "a")).toMatchObject({ ok: false, code });
      void pending;
    });

    it("refuses an answer to a request the agent was not given, and takes a late one to a request it had", async () => {
      vi.useFakeTimers();
      try {
        const { link, requestsTo, reply } = fakeAgents("a", "b");
        const answer = link.call(op, 1000).catch((e) => e);
        const id = (requestsTo("a")[0] ?? requestsTo("b")[0]) as { id: string };
        const holder = requestsTo("a").length > 0 ? "a" : "b";
        const other = holder === "a" ? "b" : "a";
        expect(reply({ type: "result", id: id.id, result: "forged" }, other)).toMatchObject({
          ok: false,
          code: agentCloseCodes.foreignRequest,
          reason: "an answer to a request this agent was not given",
        });
        expect(reply({ type: "result", id: "never-issued", result: "x" }, holder)).toMatchObject({
          ok: false,
          code: agentCloseCodes.foreignRequest,
        });
        vi.advanceTimersByTime(1001);
        expect(await answer).toMatchObject({ code: "agent_timeout" });
        // The request timed out; its own agent answering late is the race of cancellation, not an attack.
        expect(reply({ type: "result", id: id.id, result: "late" }, holder)).toEqual({ ok: true });
        expect(reply({ type: "result", id: id.id, result: "late" }, other)).toMatchObject({ ok: false });
      } finally {
        vi.useRealTimers();
      }
    });

    it("refuses a page beyond the acknowledgement window, and pages that are too long or malformed", async () => {
      const { link, requestsTo, reply } = fakeAgents("a");
      let release: () => void = () => {};
      const stuck = new Promise<void>((r) => {
        release = r;
      });
      const done = link.stream(search, 1000, { page: () => stuck }).catch((e) => e);
      const id = (requestsTo("a")[0] as { id: string }).id;
      expect(reply({ type: "page", id, entries: [entry(1)] })).toEqual({ ok: true });
      expect(reply({ type: "page", id, entries: [entry(2)] })).toEqual({ ok: true });
      expect(reply({ type: "page", id, entries: [entry(3)] })).toEqual({
        ok: false,
        code: agentCloseCodes.windowExceeded,
        reason: "more than 2 pages without waiting for their acknowledgement",
      });
      release();
      await tick();
      // Acknowledged, the window is open again.
      expect(reply({ type: "page", id, entries: [entry(3)] })).toEqual({ ok: true });
      const tooMany = Array.from({ length: maxPageEntries + 1 }, (_, i) => entry(i));
      await tick();
      expect(reply({ type: "page", id, entries: tooMany })).toMatchObject({ ok: false, code: agentCloseCodes.pageTooLarge });
      for (const entries of [
        null,
        [null],
        [{ dn: 1, attributes: {} }],
        [{ dn: "CN=x", attributes: { cn: "not a list" } }],
        [{ dn: "CN=x", attributes: { cn: [1] } }],
      ])
        expect(reply({ type: "page", id, entries } as never)).toMatchObject({ ok: false, code: agentCloseCodes.malformed });
      expect(reply({ type: "result", id, result: null, complete: { complete: "yes" } } as never)).toMatchObject({
        ok: false,
        code: agentCloseCodes.malformed,
      });
      expect(reply({ type: "error", id, error: { message: "no code" } } as never)).toMatchObject({
        ok: false,
        code: agentCloseCodes.malformed,
      });
      expect(reply({ type: "result", id, result: null, complete: { complete: true, pages: 2, entries: 3 } })).toEqual({ ok: true });
      expect(await done).toEqual({ complete: true, pages: 2, entries: 3 });
    });
  });
});
