// A TCP relay in front of a DC that holds back every chunk the DC sends, so a directory read
// takes long enough for a test to pull the plug in the middle of it. TLS passes through
// untouched: the relay listens on the DC's own address, which the DC's certificate names.
import net from "node:net";

export interface SlowProxy {
  port: number;
  /** Drops every relayed connection and stops listening, as if the DC went away. */
  cut(): Promise<void>;
}

export async function startSlowProxy(target: { host: string; port: number }, delayMs: number, listenPort = 0): Promise<SlowProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    // One chunk at a time, each after the delay, in order.
    let queue = Promise.resolve();
    upstream.on("data", (chunk: Buffer) => {
      upstream.pause();
      queue = queue
        .then(() => new Promise((r) => setTimeout(r, delayMs)))
        .then(() => {
          if (!client.destroyed) client.write(chunk);
          upstream.resume();
        });
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, target.host, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    async cut() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
