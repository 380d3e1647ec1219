// Connection > PBX: which phone system sync writes to (the built-in directory, or a Yeastar
// P-Series through its Open API), with its own Test and a write-only secret. It edits the
// `pbx` part of the same configuration document the editor shows.
import type { StoredConfig } from "../api-types.ts";
import { field, fill, h } from "../dom.ts";
import type { PageContext } from "../page-context.ts";
import { stepItem } from "./connection-steps.ts";

interface PbxSettings {
  kind: "builtin" | "yeastar";
  baseUrl?: string;
  clientId?: string;
  secret?: { source: "stored" };
  [setting: string]: unknown;
}

export function pbxPanel(ctx: PageContext): HTMLElement {
  const kind = h(
    "select",
    { id: "pbx-kind" },
    h("option", { value: "builtin" }, "Built-in PBX directory"),
    h("option", { value: "yeastar" }, "Yeastar P-Series (Open API)"),
  );
  const baseUrl = h("input", { type: "url", spellcheck: false, placeholder: "https://acme.ras.yeastar.com" });
  const clientId = h("input", { type: "text", spellcheck: false, autocomplete: "off" });
  const secret = h("input", { type: "password", autocomplete: "new-password" });
  const secretNote = h("small", { class: "hint" });
  const test = h("button", { type: "button" }, "Test PBX");
  const save = h("button", { type: "button" }, "Save PBX");
  const status = h("div", { class: "status", role: "status", "aria-live": "polite" });
  const steps = h("ol", { class: "steps", "aria-label": "PBX test steps" });
  const vendorFields = h(
    "div",
    {},
    field("PBX address", baseUrl, "Cloud Edition: https://<name>.ras.yeastar.com; Software Edition: https://<host>:8088."),
    field("Client ID", clientId, "Integrations > API on the PBX: the application's Client ID."),
    field("Client Secret", secret),
    secretNote,
  );

  let extra: Record<string, unknown> = {};
  // Edits not saved yet survive a save elsewhere on the page (Save connection).
  let dirty = false;
  for (const control of [kind, baseUrl, clientId, secret])
    control.addEventListener(control === kind ? "change" : "input", () => {
      dirty = true;
    });
  const load = (stored: StoredConfig) => {
    secretNote.textContent = stored.pbxSecretSet ? "A secret is stored; leave empty to keep it." : "No secret stored yet.";
    if (dirty) return;
    const pbx = (stored.config?.pbx ?? { kind: "builtin" }) as PbxSettings;
    const { kind: k, baseUrl: u, clientId: c, secret: _s, ...rest } = pbx;
    extra = rest;
    kind.value = k;
    baseUrl.value = u ?? "";
    clientId.value = c ?? "";
    secret.value = "";
    shown();
  };
  const shown = () => {
    vendorFields.hidden = kind.value === "builtin";
  };
  kind.addEventListener("change", shown);

  /** The saved document with this panel's `pbx`; every other setting stays as saved. */
  const draft = (): Record<string, unknown> => {
    const saved = (ctx.saved.current?.config ?? {}) as Record<string, unknown>;
    const { pbx: _old, ...rest } = saved;
    if (kind.value === "builtin") return rest;
    return {
      ...rest,
      pbx: { ...extra, kind: "yeastar", baseUrl: baseUrl.value.trim(), clientId: clientId.value.trim(), secret: { source: "stored" } },
    };
  };

  test.addEventListener("click", async () => {
    test.disabled = true;
    status.textContent = "Testing the PBX…";
    fill(steps);
    try {
      const result = await ctx.api.testPbx({ config: draft(), ...(secret.value !== "" ? { secret: secret.value } : {}) });
      fill(steps, ...result.steps.map(stepItem));
      status.textContent = result.ok ? "The PBX answers, and the sync may manage its extensions." : "The PBX test failed: see the steps.";
    } catch (error) {
      ctx.report(error, status);
    } finally {
      test.disabled = false;
    }
  });

  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      let stored = await ctx.api.putConfig(draft());
      if (secret.value !== "") stored = await ctx.api.setPbxSecret(secret.value);
      dirty = false;
      ctx.saved.set(stored);
      status.textContent = "PBX saved.";
    } catch (error) {
      ctx.report(error, status);
    } finally {
      save.disabled = false;
    }
  });

  ctx.saved.listen(load);
  if (ctx.saved.current) load(ctx.saved.current);
  return h(
    "section",
    { class: "pbx-panel", "aria-labelledby": "pbx-heading" },
    h("h3", { id: "pbx-heading" }, "PBX"),
    h("p", { class: "intro" }, "The phone system sync writes to. The secret is stored encrypted and never shown again."),
    field("PBX", kind),
    vendorFields,
    h("div", { class: "actions" }, test, save),
    status,
    steps,
  );
}
