// npm start as a person runs it: one command brings up the worker in local workerd serving
// the demo portal, the sample configuration and an agent on the sample directory; the printed
// session works; Ctrl-C leaves nothing running.
import { afterAll, describe, expect, it } from "vitest";
import { type Product, startProduct } from "./support/product.ts";
import type { Json } from "./support/stack.ts";

describe("npm start", () => {
  let product: Product | undefined;
  afterAll(() => {
    if (product?.child.exitCode === null) product.child.kill("SIGKILL");
  });

  it("runs the product on the sample directory until Ctrl-C", async () => {
    product = await startProduct();
    const { origin, port } = product;
    expect(product.out()).toContain(`pbx-ad-sync is running on http://127.0.0.1:${port}`);
    expect(product.portalUrl).toMatch(new RegExp(`^${origin}/#session=ey`));

    // The demo portal, and the plugin it loads through the manifest.
    const portal = await fetch(`${origin}/`);
    expect(portal.headers.get("content-type")).toMatch(/text\/html/);
    expect(await portal.text()).toContain("Integrations");
    const manifest = (await (await fetch(`${origin}/plugin/manifest.json`)).json()) as Json;
    expect(manifest).toMatchObject({ element: "ad-sync-integration", version: expect.any(String) });
    const module = await fetch(new URL(manifest.module, `${origin}/plugin/`));
    expect(module.status).toBe(200);
    expect(module.headers.get("content-type")).toMatch(/javascript/);
    expect((await fetch(`${origin}/downloads/adsync-agent.mjs`)).status).toBe(200);

    const preview = (await product.api("POST", "/preview?limit=1")).body as Json;
    expect(preview.run).toMatchObject({ status: "previewed", complete: true, summary: { create: 291, conflict: 2, excluded: 7 } });
    const extensions = (await product.api("GET", "/extensions")).body as Json;
    expect(extensions.extensions.map((e: { number: string }) => e.number).sort()).toEqual(["0999", "1000"]);

    product.child.kill("SIGINT");
    expect(await product.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/api/v1/health`)).rejects.toThrow();
  }, 150_000);
});
