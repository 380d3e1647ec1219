// The tunnel against a stand-in worker (a plain WebSocket server on loopback), for what the
// real worker cannot be made to do on demand: hold back acknowledgements, drop the socket at
// a chosen moment, refuse a credential.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket as ServerSocket, WebSocketServer } from "ws";
import type { AgentMessage, AgentOperation, WireEntry, WorkerMessage } from "../../schema/src/agent-protocol.ts";
import { pageWindow } from "../../schema/src/agent-protocol.ts";
import type { OperationContext, OperationOutput } from "./operations.ts";
import { Tunnel } from "./tunnel.ts";

interface StandIn {
  url: string;
  sockets: ServerSocket[];
  upgrades: IncomingMessage[];
  received: AgentMessage[];
  connected(count: number): Promise<ServerSocket>;
  close(): Promise<void>;
}

async function standIn(options: { refuse?: boolean } = {}): Promise<StandIn> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(options.refuse ? 401 : 426, { "Content-Type": "application/json" });
    res.end(
      options.refuse ? JSON.stringify({ error: { code: "agent_revoked", message: "The agent agent-1 was revoked (Agents)." } }) : "{}",
    );
  });
  const wss = new WebSocketServer({ noServer: true });
  const state: StandIn = {
    url: "",
    sockets: [],
    upgrades: [],
    received: [],
    connected: async (count) => {
      while (state.sockets.length < count) await new Promise((r) => setTimeout(r, 10));
      return state.sockets[count - 1] as ServerSocket;
    },
    close: async () => {
      for (const s of state.sockets) s.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
  server.on("upgrade", (req, socket, head) => {
    if (options.refuse) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.upgrades.push(req);
      state.sockets.push(ws);
      ws.on("message", (data) => {
        const text = String(data);
        if (text === "ping") ws.send("pong");
        else state.received.push(JSON.parse(text));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}

const tunnels: Tunnel[] = [];
const servers: StandIn[] = [];
afterEach(async () => {
  for (const t of tunnels.splice(0)) t.stop();
  for (const s of servers.splice(0)) await s.close();
});

function tunnelTo(
  server: StandIn,
  handle: (op: AgentOperation, ctx: OperationContext) => Promise<OperationOutput>,
  extra: Partial<ConstructorParameters<typeof Tunnel>[0]> = {},
) {
  const lines: string[] = [];
  const tunnel = new Tunnel({
    url: server.url,
    credential: "adsc_acme_0123456789abcdef_secret",
    agentId: "agent-1",
    hostname: "host-1",
    version: "9.9.9",
    handle,
    log: (line) => lines.push(line),
    minBackoffMs: 20,
    maxBackoffMs: 100,
    ...extra,
  });
  tunnels.push(tunnel);
  tunnel.start();
  return { tunnel, lines };
}

const request = (id: string, operation: Partial<AgentOperation>, timeoutMs = 5000): string =>
  JSON.stringify({ type: "request", id, operation: { target: { connection: {} }, ...operation }, timeoutMs } as WorkerMessage);

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

describe("Tunnel", () => {
  it("says who it is in the upgrade request, with its credential in a header", async () => {
    const server = await standIn();
    servers.push(server);
    tunnelTo(server, async () => ({ result: null }));
    await server.connected(1);
    const headers = server.upgrades[0]?.headers ?? {};
    expect(headers.authorization).toBe("Bearer adsc_acme_0123456789abcdef_secret");
    expect(headers["x-adsync-agent-id"]).toBe("agent-1");
    expect(headers["x-adsync-agent-hostname"]).toBe("host-1");
    expect(headers["x-adsync-agent-version"]).toBe("9.9.9");
    expect(server.upgrades[0]?.url).toBe("/api/v1/agent/connect");
  });

  it("never has more than the window of unacknowledged pages out, and resumes on each ack", async () => {
    const server = await standIn();
    servers.push(server);
    const pages = 7;
    let produced = 0;
    tunnelTo(server, async (_op, ctx) => {
      for (let i = 0; i < pages; i++) {
        produced++;
        await ctx.sendPage([{ dn: `CN=${i}`, attributes: {} } satisfies WireEntry]);
      }
      return { result: null, complete: { complete: true, pages, entries: pages } };
    });
    const ws = await server.connected(1);
    ws.send(request("r1", { op: "search" }));
    const pagesIn = () => server.received.filter((m) => m.type === "page").length;
    await until(() => pagesIn() === pageWindow, "the first pages");
    await new Promise((r) => setTimeout(r, 100));
    // Held at the window while the worker takes nothing in; the producer waits with it.
    expect(pagesIn()).toBe(pageWindow);
    expect(produced).toBe(pageWindow + 1);
    for (let acked = 0; acked < pages; acked++) {
      ws.send(JSON.stringify({ type: "ack", id: "r1" }));
      await until(() => pagesIn() >= Math.min(pages, acked + 1 + pageWindow), `page ${acked + 1 + pageWindow}`);
    }
    await until(() => server.received.some((m) => m.type === "result"), "the result");
    expect(server.received.at(-1)).toMatchObject({ type: "result", id: "r1", complete: { complete: true, pages } });
  });

  it("reports a failure with its code and fix, and aborts an operation the worker cancels", async () => {
    const server = await standIn();
    servers.push(server);
    let aborted = false;
    tunnelTo(server, async (op, ctx) => {
      if (op.op === "listOus") throw Object.assign(new Error("no base DN"), { code: "no_such_object", fix: "use DC=x" });
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      aborted = true;
      throw Object.assign(new Error("cancelled"), { code: "cancelled" });
    });
    const ws = await server.connected(1);
    ws.send(request("r1", { op: "listOus" }));
    await until(() => server.received.length === 1, "the error");
    expect(server.received[0]).toEqual({
      type: "error",
      id: "r1",
      error: { code: "no_such_object", message: "no base DN", fix: "use DC=x" },
    });
    ws.send(request("r2", { op: "testConnection" }));
    await new Promise((r) => setTimeout(r, 50));
    ws.send(JSON.stringify({ type: "cancel", id: "r2" }));
    await until(() => aborted, "the abort");
  });

  it("aborts an operation that makes no progress within the request's timeout", async () => {
    const server = await standIn();
    servers.push(server);
    tunnelTo(server, async (_op, ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      throw Object.assign(new Error("stopped"), { code: "cancelled" });
    });
    const ws = await server.connected(1);
    ws.send(request("r1", { op: "testConnection" }, 100));
    await until(() => server.received.length === 1, "the error");
    expect(server.received[0]).toMatchObject({ type: "error", error: { code: "cancelled" } });
  });

  it("reconnects with backoff when the worker drops the socket", async () => {
    const server = await standIn();
    servers.push(server);
    const { lines } = tunnelTo(server, async () => ({ result: null }));
    (await server.connected(1)).terminate();
    await server.connected(2);
    expect(lines.join("\n")).toMatch(/disconnected \(1006\); reconnecting in \d+\.\d s/);
  });

  it("stops for good when the worker refuses its credential, and passes on what the worker said", async () => {
    const server = await standIn({ refuse: true });
    servers.push(server);
    let refused = "";
    let code = "";
    const { lines } = tunnelTo(server, async () => ({ result: null }), {
      onRefused: (reason, why) => {
        refused = reason;
        code = why;
      },
    });
    await until(() => refused !== "", "the refusal");
    expect({ refused, code }).toEqual({ refused: "The agent agent-1 was revoked (Agents).", code: "agent_revoked" });
    await new Promise((r) => setTimeout(r, 200));
    expect(lines.filter((l) => /reconnecting/.test(l))).toHaveLength(0);
  });

  it("stops when the worker closes with 'revoked' (4007), and does not reconnect", async () => {
    const server = await standIn();
    servers.push(server);
    let refused = "";
    tunnelTo(server, async () => ({ result: null }), { onRefused: (reason) => (refused = reason) });
    (await server.connected(1)).close(4007, "agent revoked");
    await until(() => refused !== "", "the stop");
    expect(refused).toMatch(/revoked/);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.sockets).toHaveLength(1);
  });

  it("stops at once when told it was revoked, before the socket has wound down", async () => {
    const server = await standIn();
    servers.push(server);
    let code = "";
    tunnelTo(server, async () => ({ result: null }), { onRefused: (_reason, why) => (code = why) });
    const socket = await server.connected(1);
    socket.send(JSON.stringify({ type: "revoked", reason: "revoked by admin@acme" } satisfies WorkerMessage));
    await until(() => code !== "", "the stop");
    expect(code).toBe("agent_revoked");
    await new Promise((r) => setTimeout(r, 200));
    expect(server.sockets).toHaveLength(1);
  });
});
