// A connector agent whose directory the test writes: it dials the worker over the real
// tunnel (WebSocket, its credential checked before the upgrade, pages acknowledged) and answers each
// search from a function. It stands in for the real agent only where a test needs the
// directory to misbehave in one exact way (a lookup cut short), which no real DC does on
// request; the real agent's own handling of such answers is tested against Samba.
import {
  type AgentMessage,
  type AgentOperation,
  agentConnectPath,
  agentHeaders,
  agentProtocolVersion,
  type SearchCompleteness,
  type WireEntry,
  type WorkerMessage,
} from "../../schema/src/agent-protocol.ts";

export type SearchOperation = Extract<AgentOperation, { op: "search" }>;

export interface ScriptedAnswer {
  entries: WireEntry[];
  complete?: boolean;
  reason?: string;
}

export interface ScriptedAgent {
  /** Every search the worker sent, in order. */
  readonly searches: SearchOperation[];
  /** Resolves once the worker has accepted the socket. */
  readonly connected: Promise<void>;
  close(): void;
}

const PAGE = 500;

export function startScriptedAgent(options: {
  url: string;
  /** Its credential (enrollAgent), as an enrolled agent has it. */
  credential: string;
  id: string;
  answer: (search: SearchOperation) => ScriptedAnswer;
}): ScriptedAgent {
  const url = new URL(agentConnectPath, options.url);
  url.protocol = "ws:";
  const socket = new WebSocket(url, {
    headers: {
      Authorization: `Bearer ${options.credential}`,
      [agentHeaders.id]: options.id,
      [agentHeaders.hostname]: "scripted.test",
      [agentHeaders.version]: "test",
      [agentHeaders.protocol]: String(agentProtocolVersion),
    },
  } as never);
  const searches: SearchOperation[] = [];
  const acks = new Map<string, () => void>();
  const send = (message: AgentMessage) => socket.send(JSON.stringify(message));
  const connected = new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("close", (e) => reject(new Error(`the worker closed the scripted agent's socket (${e.code} ${e.reason})`)));
  });
  connected.catch(() => {});

  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as WorkerMessage;
    if (message.type === "ack") acks.get(message.id)?.();
    if (message.type !== "request") return;
    const { id, operation } = message;
    if (operation.op !== "search") {
      send({ type: "error", id, error: { code: "unsupported", message: `the scripted agent answers searches only, not ${operation.op}` } });
      return;
    }
    searches.push(operation);
    void (async () => {
      const answer = options.answer(operation);
      let pages = 0;
      for (let i = 0; i < answer.entries.length; i += PAGE) {
        // One page in flight at a time: the worker acknowledges each as it takes it in.
        const acked = new Promise<void>((resolve) => acks.set(id, resolve));
        send({ type: "page", id, entries: answer.entries.slice(i, i + PAGE) });
        pages++;
        await acked;
      }
      const complete = answer.complete ?? true;
      const result: SearchCompleteness = {
        complete,
        pages: Math.max(1, pages),
        entries: answer.entries.length,
        ...(complete ? {} : { reason: answer.reason ?? "the size limit was reached" }),
      };
      acks.delete(id);
      send({ type: "result", id, result, complete: result });
    })();
  });
  return { searches, connected, close: () => socket.close(1000, "test done") };
}

/** A user entry as a DC sends it: objectGUID in binary, numbered `i`. */
export function scriptedUser(i: number, ou = "OU=Staff,DC=example,DC=com"): WireEntry {
  const guid = Buffer.alloc(16, 0);
  guid.writeUInt32BE(i, 12);
  return {
    dn: `CN=User ${i},${ou}`,
    attributes: {
      objectGUID: [guid.toString("base64")],
      cn: [`User ${i}`],
      displayName: [`User ${i}`],
      sAMAccountName: [`user${i}`],
      userPrincipalName: [`user${i}@example.com`],
      userAccountControl: ["512"],
    },
    binary: ["objectGUID"],
  };
}

/**
 * Which search of a run this is: the scope's, the lookup of synced users by objectGUID, or a
 * nested group's (the groups inside it, or the users in any of them).
 */
export function searchKind(search: SearchOperation): "scope" | "lookup" | "nested" {
  if (search.filter.includes("objectGUID=")) return "lookup";
  if (search.filter.startsWith("(&(objectClass=group)") || search.filter.includes("(|(memberOf=")) return "nested";
  return "scope";
}
