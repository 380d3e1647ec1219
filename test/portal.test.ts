// The portal page end to end, as an administrator uses it: Debian's Chromium opens the demo
// host portal that `npm start` serves, the plugin loads through its manifest, and every click
// goes through the worker in local workerd and a real agent to the Samba DC of the test run.
// Screenshots of each step land in test-results/portal/.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sign } from "hono/jwt";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { LdifDirectory } from "../agent/src/ldif/ldif-directory.ts";
import { devSecrets } from "../cli/dev-token.ts";
import { previewOffline } from "../cli/preview.ts";
import { blankExtension } from "../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import { artifactDir, launchChromium, snap } from "./support/browser.ts";
import { type Product, startProduct } from "./support/product.ts";
import { seedLdifPath } from "./support/samba-dc.ts";
import type { Json } from "./support/stack.ts";
import { startYeastarSimulator } from "./support/yeastar-simulator.ts";

const dc = inject("samba");
const STAFF = `OU=Staff,${dc.baseDn}`;

/** The sync settings the administrator types into the editor (the connection comes from the form). */
const sync = {
  scope: { users: "ous", ous: [{ dn: STAFF }] },
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
  organisation: { departments: { from: "ouTree" } },
  deprovisioning: { whenOutOfScope: "delete", archive: { extension: "0999" } },
  schedule: { mode: "manual" },
};

describe("the portal page", { timeout: 90_000 }, () => {
  let product: Product;
  let browser: Browser;
  let page: Page;
  let shots: string;
  const consoleErrors: string[] = [];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    // The agent uses the domain controllers the administrator saves, not the sample file.
    // Its host allows the test run's DC, as the README's install says (ADSYNC_DCS).
    [product, browser, shots] = await Promise.all([
      startProduct({ ADSYNC_DIRECTORY_FILE: "", ADSYNC_DCS: `${dc.ip},${dc.hostname}` }),
      launchChromium(),
      artifactDir("portal"),
    ]);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  }, 180_000);

  // A failed step leaves a picture of what the page showed.
  afterEach(async (context) => {
    if (context.task.result?.state === "fail" && page)
      await snap(page, shots, `failed-${context.task.name.slice(0, 40).replace(/\W+/g, "-")}`);
  });

  afterAll(async () => {
    await writeFile(join(shots ?? ".", "timings.json"), `${JSON.stringify(timings, null, 2)}\n`).catch(() => {});
    await browser?.close();
    await product?.stop();
  });

  it("opens from the printed URL, loads the plugin through the manifest and is usable before Monaco", async () => {
    const scripts: string[] = [];
    page.on("request", (r) => {
      if (r.resourceType() === "script") scripts.push(new URL(r.url()).pathname);
    });
    await page.goto(product.portalUrl);
    await page.getByRole("tab", { name: "Connection" }).waitFor();
    await page.waitForFunction(() => performance.getEntriesByName("adsync:interactive").length > 0);
    timings.interactiveMs = await page.evaluate(() => Math.round(performance.getEntriesByName("adsync:interactive")[0]?.startTime ?? -1));
    // The session left the address bar; the page is the plugin's, mounted under the host's menu.
    expect(page.url()).not.toContain("session=");
    await expect(page.getByRole("heading", { name: "Active Directory", level: 1 }).isVisible()).resolves.toBe(true);
    expect(scripts.some((s) => /\/plugin\/\d+\.\d+\.\d+\/ad-sync-integration\.js$/.test(s))).toBe(true);
    // Monaco (every chunk) is not loaded until the Synchronization section opens.
    expect(scripts.filter((s) => s.includes("/chunks/"))).toEqual([]);
    // The host's global styles (uppercase serif buttons) do not reach into the plugin.
    const style = await page.getByRole("button", { name: "Test Connection" }).evaluate((b) => {
      const s = b.ownerDocument.defaultView?.getComputedStyle(b);
      return { transform: s?.textTransform, font: s?.fontFamily };
    });
    expect(style.transform).toBe("none");
    expect(style.font).not.toMatch(/Georgia/);
    await page.getByText(/^Agent connected: /).waitFor();
    await snap(page, shots, "01-opened");
  });

  it("Test Connection succeeds with the DC's details and the uploaded CA certificate", async () => {
    await page.getByLabel("Domain controllers").fill(dc.ip);
    await page.getByLabel("Security").selectOption("ldaps");
    await page.getByLabel("Port", { exact: true }).fill("636");
    await page.getByLabel("Bind account (UPN or DN)").fill(dc.serviceUpn);
    await page.getByLabel("Bind password").fill(dc.servicePassword);
    await page.getByLabel("Base DN").fill(dc.baseDn);
    await page.getByLabel("CA certificate").setInputFiles(dc.caPath);
    await page.getByText(/1 certificate trusted/).waitFor();
    await page.getByRole("button", { name: "Test Connection" }).click();
    await page.getByText(/Connection works/).waitFor({ timeout: 30_000 });
    const steps = await page
      .locator(".step")
      .evaluateAll((els) => els.map((e) => [e.getAttribute("data-step"), e.querySelector(".badge")?.textContent]));
    expect(steps).toEqual([
      ["agent", "Passed"],
      ["reachable", "Passed"],
      ["tls", "Passed"],
      ["bind", "Passed"],
      ["baseDn", "Passed"],
      ["scope", "Passed"],
    ]);
    await snap(page, shots, "02-test-connection-ok");
  });

  it("Test Connection fails with a wrong password and says how to fix it", async () => {
    await page.getByLabel("Bind password").fill("not-the-password");
    await page.getByRole("button", { name: "Test Connection" }).click();
    await page.getByText(/The connection test failed/).waitFor({ timeout: 30_000 });
    const failed = page.locator('.step.failed[data-step="bind"]');
    await failed.waitFor();
    expect(await failed.locator(".detail").textContent()).toMatch(/password|credentials/i);
    expect(await failed.locator(".fix").textContent()).toMatch(/How to fix:.+\S/);
    await snap(page, shots, "03-test-connection-wrong-password");

    await page.getByLabel("Bind password").fill(dc.servicePassword);
    await page.getByRole("button", { name: "Save connection" }).click();
    await page.getByText("Connection saved.").waitFor();
    const saved = (await product.api("GET", "/config")).body as Json;
    expect(saved.bindPasswordSet).toBe(true);
    expect(saved.config.connection).toMatchObject({
      domainControllers: [{ host: dc.ip, port: 636 }],
      bindUsername: dc.serviceUpn,
      baseDn: dc.baseDn,
    });
    expect(saved.config.connection.caCertificate).toContain("BEGIN CERTIFICATE");
  });

  it("marks an invalid configuration in the editor and refuses to save it; saves it once fixed", async () => {
    await page.getByRole("tab", { name: "Synchronization" }).click();
    const started = Date.now();
    const editor = page.locator(".monaco-editor");
    await editor.waitFor({ timeout: 30_000 });
    timings.editorLoadMs = Date.now() - started;
    const connection = ((await product.api("GET", "/config")).body as Json).config.connection;
    const document = { connection, ...sync };

    await replaceText(page, JSON.stringify({ ...document, scope: { ...document.scope, users: "everyone" } }, null, 2));
    await page.getByText(/^1 error/).waitFor({ timeout: 15_000 });
    // The squiggle sits where the problem is: "everyone", near the top.
    await page.keyboard.press("ControlOrMeta+Home");
    const squiggle = page.locator(".squiggly-error").first();
    await squiggle.waitFor();
    const [mark, line] = await Promise.all([squiggle.boundingBox(), page.locator(".view-line", { hasText: '"everyone"' }).boundingBox()]);
    expect(Math.abs((mark?.y ?? 0) - (line?.y ?? 1000))).toBeLessThan(12);
    expect(await page.getByRole("button", { name: "Save", exact: true }).isDisabled()).toBe(true);
    expect(await page.locator(".problems li.error").first().textContent()).toMatch(/users/);
    await snap(page, shots, "04-editor-invalid");

    await replaceText(page, JSON.stringify(document, null, 2));
    await page.getByText(/^0 errors/).waitFor({ timeout: 15_000 });
    const save = page.getByRole("button", { name: "Save", exact: true });
    await expect.poll(() => save.isDisabled()).toBe(false);
    await save.click();
    await page.getByText(/^Saved /).waitFor();
    const saved = ((await product.api("GET", "/config")).body as Json).config;
    expect(saved.scope).toEqual(expect.objectContaining({ users: "ous", ous: [expect.objectContaining({ dn: STAFF })] }));
    await snap(page, shots, "05-editor-saved");
  });

  it("suggests OUs of the DC, through the agent, where the configuration wants an OU", async () => {
    const connection = ((await product.api("GET", "/config")).body as Json).config.connection;
    // Pasted text ends inside the value, so the cursor is where the OU goes.
    await replaceText(page, `{"connection": ${JSON.stringify(connection)}, "scope": {"users": "ous", "ous": [{"dn": "`);
    await page.keyboard.press("Control+Space");
    const suggestions = page.locator(".suggest-widget .monaco-list-row");
    await expect.poll(async () => (await suggestions.allTextContents()).join("\n"), { timeout: 15_000 }).toContain(`OU=Sales,${STAFF}`);
    await snap(page, shots, "06-editor-ou-completions");
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Discard changes" }).click();
    await page.getByText(/^0 errors, \d+ warnings?$/).waitFor();
  });

  it("shows what a partner template would change before it is used", async () => {
    await page.getByRole("button", { name: "Start from a template…" }).click();
    const card = page.locator(".card", { hasText: "Sales and Support OUs" });
    await card.getByRole("button", { name: "Show changes" }).click();
    const changes = await page.locator(".changes li").allTextContents();
    expect(changes).toContainEqual(expect.stringMatching(/^extensionNumbers\.source: "attributeThenSequential" → "attribute"$/));
    expect(changes.some((c) => c.startsWith("connection"))).toBe(false);
    await snap(page, shots, "06-template-changes");
    await page.getByRole("button", { name: "Start from a template…" }).click();
  });

  it("Preview shows the rows the planner expects, filterable and searchable", async () => {
    const expected = await previewOffline({ ...sync } as unknown as SyncConfig, await LdifDirectory.fromFile(seedLdifPath), [
      blankExtension("0999", { displayName: "Leavers archive" }),
      blankExtension("1000", { displayName: "Reception" }),
    ]);
    await page.getByRole("tab", { name: "Preview & Sync" }).click();
    await page.getByRole("button", { name: "Preview" }).click();
    await page.getByText(/^Preview done/).waitFor({ timeout: 60_000 });
    const rows = await tableRows(page, "table.plan");
    const want = expected.plan.items.map((i) => [capital(i.action), i.name, i.number ?? "—"]);
    expect(rows.map((r) => [r[0], r[1], r[2]]).sort()).toEqual(want.sort());
    await snap(page, shots, "07-preview");

    const creates = expected.plan.items.filter((i) => i.action === "create");
    await page.locator("#plan-action").selectOption("create");
    await expect.poll(async () => (await tableRows(page, "table.plan")).length).toBe(creates.length);
    const someone = creates[0]?.name as string;
    await page.locator("#plan-search").fill(someone);
    await expect.poll(async () => (await tableRows(page, "table.plan")).map((r) => r[1])).toEqual([someone]);
    await snap(page, shots, "08-preview-filtered");
  });

  it("Sync Now applies the plan with progress, and the Extensions view lists what it made", async () => {
    await page.getByRole("button", { name: "Sync Now" }).click();
    const finished = page.getByText(/^Sync finished/);
    await finished.waitFor({ timeout: 60_000 });
    const summary = await finished.textContent();
    const created = Number(/(\d+) create/.exec(summary ?? "")?.[1]);
    expect(created).toBeGreaterThan(0);
    await snap(page, shots, "09-synced");

    await page.getByRole("tab", { name: "Extensions" }).click();
    await page.getByText(new RegExp(`of ${created + 2} extensions`)).waitFor();
    const rows = await tableRows(page, "table.extensions");
    expect(rows.filter((r) => r[6] === "Active Directory")).toHaveLength(created);
    expect(rows.some((r) => r[0] === "1000" && r[1] === "Reception" && r[6] === "Manual")).toBe(true);
    await snap(page, shots, "10-extensions");
  });

  it("exports the log as CSV", async () => {
    await page.getByRole("tab", { name: "Log" }).click();
    await page.getByRole("heading", { name: /Events of the sync/ }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^sync-log-.+\.csv$/);
    const path = join(shots, "sync-log.csv");
    await download.saveAs(path);
    const csv = await import("node:fs/promises").then((fs) => fs.readFile(path, "utf8"));
    const lines = csv.trim().split(/\r?\n/);
    // Every cell quoted, so that no reader, whatever its separator, finds a formula.
    expect(lines[0]).toBe('"Date","Type","Event","User","Operation"');
    expect(lines.length).toBeGreaterThan(3);
    await snap(page, shots, "11-log");
  });

  it("after a sync, Preview reads only what changed in AD, and the whole directory when asked", async () => {
    await page.getByRole("tab", { name: "Preview & Sync" }).click();
    await page.getByRole("button", { name: "Preview" }).click();
    await page.getByText(/^Preview done: .*It read only what changed in AD since the last sync\.$/).waitFor({ timeout: 60_000 });
    const full = page.getByLabel("Read the whole directory, not only what changed (a full read)");
    await full.check();
    await page.getByRole("button", { name: "Preview" }).click();
    await page.getByText(/^Preview done: .*It read the whole directory: a full read was asked for\.$/).waitFor({ timeout: 60_000 });
    await full.uncheck();
  });

  it("shows domain login attempts in the Log, with the reason only an administrator sees", async () => {
    // Domain login switched on for the saved configuration: a tenant with it off logs nothing.
    const saved = ((await product.api("GET", "/config")).body as Json).config;
    const on = await product.api("PUT", "/config", { ...saved, domainLogin: { enabled: true } });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    const res = await fetch(`${product.origin}/api/v1/tenants/demo/auth/domain-login`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": "192.0.2.44" },
      body: JSON.stringify({ username: "jjones@example.com", password: "not-shown-anywhere" }),
    });
    expect(res.status).toBe(401);
    await page.getByRole("tab", { name: "Log" }).click();
    await page.getByRole("button", { name: "Refresh" }).click();
    const row = page.locator("table.logins tbody tr").first();
    await row.waitFor();
    const cells = (await row.locator("td").allTextContents()).map((t) => t.trim());
    expect(cells.slice(1, 4)).toEqual(["jjones@example.com", "192.0.2.44", "failure"]);
    expect(cells[4]).toMatch(/^not_synced: No synced user with an extension logs in with this name/);
    expect(await page.locator("table.logins").textContent()).not.toContain("not-shown-anywhere");
    await snap(page, shots, "11-log-domain-logins");
  });

  it("moves between sections with the keyboard", async () => {
    await page.getByRole("tab", { name: "Log" }).focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByRole("tab", { name: "Agents" }).getAttribute("aria-selected")).toBe("true");
    await page.keyboard.press("Home");
    expect(await page.getByRole("tab", { name: "Connection" }).getAttribute("aria-selected")).toBe("true");
    await page.keyboard.press("Tab");
    // The panel itself is next in the tab order, then its first control.
    expect(await page.evaluate<string>("document.activeElement.shadowRoot.activeElement.id")).toBe("panel-connection");
  });

  it("shows in Agents how the agent enrolled: with which token, by whom, from where", async () => {
    await page.getByRole("tab", { name: "Agents" }).click();
    const row = page.locator("table.agents tbody tr", { hasText: "demo-agent" });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/token "npm start" by developer@localhost/);
    const enrolled = page.locator('table.agent-events tr[data-event="enrolled"]', { hasText: "demo-agent" });
    await enrolled.first().waitFor();
    expect(await enrolled.first().textContent()).toContain("npm start (developer@localhost)");
    await page
      .locator("table.tokens tbody tr", { hasText: /Used by demo-agent/ })
      .first()
      .waitFor();
  });

  it("is usable at a narrow width: nothing spills sideways", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ["Connection", "Preview & Sync", "Agents"]) {
      await page.getByRole("tab", { name: tab }).click();
      if (tab === "Agents") await page.locator("table.agents tbody tr").first().waitFor();
      const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
      expect(overflow, `horizontal overflow on ${tab}`).toBeLessThanOrEqual(0);
    }
    await snap(page, shots, "12-narrow-agents");
    await page.getByRole("button", { name: "Dark theme" }).click();
    await page.getByRole("tab", { name: "Preview & Sync" }).click();
    await snap(page, shots, "12-narrow-dark");
    await page.getByRole("button", { name: "Light theme" }).click();
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("logged no console error while Monaco loaded and the steps ran", () => {
    expect(consoleErrors).toEqual([]);
  });

  it("shows an expired session as such, not as a generic failure", async () => {
    const expired = await sign(
      // Past the 60 seconds of leeway the worker gives the portal's clock.
      { sub: "developer@localhost", tenant: "demo", role: "admin", exp: Math.floor(Date.now() / 1000) - 120 },
      devSecrets().ADMIN_JWT_SECRET,
    );
    const other = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await other.goto(`${product.origin}/#session=${expired}`);
    await other.getByText("Your session has expired.").waitFor();
    await other.getByText(/The portal session has expired/).waitFor();
    await snap(other, shots, "13-session-expired");
    await other.close();
  });

  it("connects a Yeastar PBX from Connection > PBX: its own Test, and a secret that is stored and never shown", async () => {
    const sim = await startYeastarSimulator({ clientSecret: "Portal-Secret-Not-Shown-7" });
    const token = await sign(
      { sub: "admin@pbxco", tenant: "pbxco", role: "admin", exp: Math.floor(Date.now() / 1000) + 600 },
      devSecrets().ADMIN_JWT_SECRET,
    );
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const put = (config: unknown) =>
      fetch(`${product.origin}/api/v1/tenants/pbxco/config`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(config),
      });
    const connection = {
      domainControllers: [{ host: dc.ip }],
      bindUsername: dc.serviceUpn,
      bindPassword: { source: "stored" },
      baseDn: dc.baseDn,
    };
    try {
      expect((await put({ connection })).status).toBe(200);
      await other.goto(`${product.origin}/#session=${token}`);
      await other.waitForFunction(() => performance.getEntriesByName("adsync:interactive").length > 0);
      await other.getByRole("combobox", { name: "PBX", exact: true }).selectOption("yeastar");
      await other.getByLabel("PBX address").fill(sim.url);
      await other.getByLabel("Client ID").fill(sim.clientId);
      await other.getByLabel("Client Secret").fill("not-the-secret");
      await other.getByRole("button", { name: "Test PBX" }).click();
      await other.locator('.pbx-panel .step.failed[data-step="pbxAuth"]').waitFor();
      expect(await other.locator('.pbx-panel .step[data-step="pbxAuth"] .fix').textContent()).toMatch(/Integrations > API/);
      await other.getByLabel("Client Secret").fill(sim.clientSecret);
      await other.getByRole("button", { name: "Test PBX" }).click();
      await other.locator('.pbx-panel .step.ok[data-step="pbxAccess"]').waitFor();
      await snap(other, shots, "15-pbx-yeastar-tested");
      // Leavers are disabled by default, which Yeastar cannot do: the save says so, and saves nothing.
      await other.getByRole("button", { name: "Save PBX" }).click();
      await other.locator(".pbx-panel .status", { hasText: /cannot disable an extension/ }).waitFor();
      // The administrator chose to keep leavers (in Synchronization); the page has that document now.
      const keep = { whenDeleted: "keep", whenDisabled: "keep", whenOutOfScope: "keep" };
      expect((await put({ connection, deprovisioning: keep })).status).toBe(200);
      await other.reload();
      await other.waitForFunction(() => performance.getEntriesByName("adsync:interactive").length > 0);
      await other.getByRole("combobox", { name: "PBX", exact: true }).selectOption("yeastar");
      await other.getByLabel("PBX address").fill(sim.url);
      await other.getByLabel("Client ID").fill(sim.clientId);
      await other.getByLabel("Client Secret").fill(sim.clientSecret);
      await other.getByRole("button", { name: "Save PBX" }).click();
      await other.getByText("PBX saved.").waitFor();
      const stored = await fetch(`${product.origin}/api/v1/tenants/pbxco/config`, { headers: { Authorization: `Bearer ${token}` } });
      const text = await stored.text();
      expect(JSON.parse(text)).toMatchObject({
        pbxSecretSet: true,
        config: { pbx: { kind: "yeastar", baseUrl: sim.url, clientId: sim.clientId } },
      });
      expect(text).not.toContain(sim.clientSecret);
      expect(await other.getByLabel("Client Secret").inputValue()).toBe("");
      await other.getByText("A secret is stored; leave empty to keep it.").waitFor();
      // Another target asks in its own words: a SCIM service has a bearer token and no client id.
      await other.getByRole("combobox", { name: "PBX", exact: true }).selectOption("scim");
      await other.getByLabel("Bearer token").waitFor();
      expect(await other.getByLabel("Client ID").isVisible()).toBe(false);
      expect(await other.getByLabel("PBX address").getAttribute("placeholder")).toBe("https://scim.example.com/scim/v2");
      await other.getByRole("combobox", { name: "PBX", exact: true }).selectOption("3cx");
      await other.getByLabel("API key").waitFor();
      expect(await other.getByLabel("Client ID").isVisible()).toBe(true);
    } finally {
      await other.close();
      await sim.close();
    }
  });

  it("shows an offline agent as such, with the way to fix it", async () => {
    // A tenant with a saved connection and no agent.
    const token = await sign(
      { sub: "admin@lonely", tenant: "lonely", role: "admin", exp: Math.floor(Date.now() / 1000) + 600 },
      devSecrets().ADMIN_JWT_SECRET,
    );
    const other = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await other.goto(`${product.origin}/#session=${token}`);
    await other.waitForFunction(() => performance.getEntriesByName("adsync:interactive").length > 0);
    await other.getByLabel("Domain controllers").fill(dc.ip);
    await other.getByLabel("Bind account (UPN or DN)").fill(dc.serviceUpn);
    await other.getByLabel("Bind password").fill(dc.servicePassword);
    await other.getByLabel("Base DN").fill(dc.baseDn);
    await other.getByRole("button", { name: "Test Connection" }).click();
    const agentStep = other.locator('.step.failed[data-step="agent"]');
    await agentStep.waitFor();
    expect(await agentStep.locator(".fix").textContent()).toMatch(/Agents > Add agent/);
    await other.getByRole("button", { name: "Save connection" }).click();
    await other.getByText("Connection saved.").waitFor();
    await other.getByRole("tab", { name: "Preview & Sync" }).click();
    await other.getByRole("button", { name: "Preview" }).click();
    await other.getByText("No connector agent is connected.").waitFor();
    await other.getByRole("button", { name: "Open Agents" }).click();
    await other.getByRole("button", { name: "Add agent" }).click();
    const command = await other.getByLabel(/Install and start/).inputValue();
    // The token travels in the environment, and the agent is told which DC it may connect to: the saved one.
    expect(command).toMatch(
      new RegExp(`ADSYNC_TOKEN=adsa_lonely_\\S+ node .*adsync-agent\\.mjs --url ${product.origin} --dc ${dc.ip.replace(/\./g, "\\.")}`),
    );
    expect(command).not.toContain("--token");
    // It says what the token is good for, and lists it as pending until an agent spends it.
    await other.getByText(/It enrolls one agent, once, until/).waitFor();
    await other.locator("table.tokens tbody tr", { hasText: "Pending" }).first().waitFor();
    await other.locator('table.agent-events tr[data-event="token_created"]').first().waitFor();
    await snap(other, shots, "14-agent-offline-add-agent");
    // The command's download is real.
    expect((await fetch(`${product.origin}/downloads/adsync-agent.mjs`)).status).toBe(200);
    await other.close();
  });
});

/** Replaces the editor's whole text as a person does: select all, then paste (a real paste event). */
async function replaceText(page: Page, text: string): Promise<void> {
  await page.locator(".monaco-editor .view-lines").click();
  await page.keyboard.press("ControlOrMeta+A");
  // Runs in the page; a string, because this file is type-checked without the DOM library.
  await page.evaluate(`(() => {
    let at = document.activeElement;
    while (at && at.shadowRoot && at.shadowRoot.activeElement) at = at.shadowRoot.activeElement;
    const data = new DataTransfer();
    data.setData("text/plain", ${JSON.stringify(text)});
    at.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  })()`);
}

async function tableRows(page: Page, selector: string): Promise<string[][]> {
  return page
    .locator(`${selector} tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td.firstChild?.textContent ?? "").trim())));
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
