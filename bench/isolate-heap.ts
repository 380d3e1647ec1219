// The worker isolate's JavaScript heap, read through workerd's inspector (the Chrome DevTools
// Protocol): what a Durable Object's 128 MB is a limit of. The process's RSS says less: it
// also holds workerd itself, SQLite's caches and whatever the allocator has not given back.

/**
 * Samples the isolate's used heap (garbage not yet collected included) until `stop`. (workerd's
 * inspector answers Runtime.getHeapUsage, but not HeapProfiler.collectGarbage.)
 */
export async function watchIsolateHeap(
  inspectorPort: number,
  everyMs = 100,
): Promise<{ stop(): Promise<{ peakUsedMb: number; samples: number; longestBlockMs: number }> }> {
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
    const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result ?? {});
  });
  // The isolate answers on its own thread, so a long synchronous stretch of work delays the
  // answer: the longest wait is what the run blocked its object for.
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const n = ++id;
      waiting.set(n, (result) => {
        waiting.delete(n);
        resolve(result);
      });
      socket.send(JSON.stringify({ id: n, method }));
    });
  let peak = 0;
  let samples = 0;
  let longestWait = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const asked = performance.now();
      const usage = await call("Runtime.getHeapUsage");
      longestWait = Math.max(longestWait, performance.now() - asked);
      peak = Math.max(peak, Number(usage.usedSize ?? 0));
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
  return {
    async stop() {
      running = false;
      await sampling;
      socket.close();
      return { peakUsedMb: mb(peak), samples, longestBlockMs: Math.round(longestWait) };
    },
  };
}
