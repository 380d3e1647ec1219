// A session on workerd's inspector (the Chrome DevTools Protocol), on the isolate it lists
// first: what the benchmark reads the worker's heap and CPU profile through. One session for
// all of it: workerd answers nothing on a second one, nor on the first once a second opened.

export interface InspectorSession {
  /** Sends `method`; answers its result, or `{ error }` when the inspector refused it. */
  call(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

export async function openInspector(inspectorPort: number): Promise<InspectorSession> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = targets.find((t) => t.webSocketDebuggerUrl !== undefined)?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`workerd's inspector on port ${inspectorPort} lists no isolate`);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
  });
  let id = 0;
  const waiting = new Map<number, (result: Record<string, unknown>) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: unknown };
    if (message.id !== undefined)
      waiting.get(message.id)?.(message.error === undefined ? (message.result ?? {}) : { error: message.error });
  });
  return {
    call: (method, params) =>
      new Promise((resolve) => {
        const n = ++id;
        waiting.set(n, (result) => {
          waiting.delete(n);
          resolve(result);
        });
        socket.send(JSON.stringify({ id: n, method, ...(params ? { params } : {}) }));
      }),
    close: () => socket.close(),
  };
}
