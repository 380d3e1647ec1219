// Connection > PBX: which phone system sync writes to (the built-in directory, a Yeastar
// P-Series through its Open API, a 3CX V20 through its Configuration API, or a SCIM 2.0 service), with its own Test and a write-only
// secret. It edits the `pbx` part of the same configuration document the editor shows.
import type { StoredConfig } from "../api-types.ts";
import { field, fill, h } from "../dom.ts";
import type { PageContext } from "../page-context.ts";
import { stepItem } from "./connection-steps.ts";

type VendorKind = "yeastar" | "3cx" | "scim";

interface PbxSettings {
  kind: "builtin" | VendorKind;
  baseUrl?: string;
  clientId?: string;
  secret?: { source: "stored" };
  [setting: string]: unknown;
}

/** What each vendor target asks for, in its console's words. */
const vendors: Record<VendorKind, { label: string; placeholder: string; address: string; clientId?: string; secret: string }> = {
  yeastar: {
    label: "Yeastar P-Series (Open API)",
    placeholder: "https://acme.ras.yeastar.com",
    address: "Cloud Edition: https://<name>.ras.yeastar.com; Software Edition: https://<host>:8088.",
    clientId: "Integrations > API on the PBX: the application's Client ID.",
    secret: "Client Secret",
  },
  "3cx": {
    label: "3CX V20 (Configuration API)",
    placeholder: "https://acme.3cx.eu",
    address: "The 3CX's FQDN, as its web client is reached.",
    clientId: "Admin > Integrations > API in 3CX: the client's Client ID.",
    secret: "API key",
  },
  scim: {
    label: "SCIM 2.0 service (RingCentral, Zoom Phone, Dialpad, 8x8…)",
    placeholder: "https://scim.example.com/scim/v2",
    address: "The service's SCIM base URL: the one /Users is under.",
    secret: "Bearer token",
  },
};

export function pbxPanel(ctx: PageContext): HTMLElement {
  const kind = h(
    "select",
    { id: "pbx-kind" },
    h("option", { value: "builtin" }, "Built-in PBX directory"),
    ...Object.entries(vendors).map(([value, v]) => h("option", { value }, v.label)),
  );
  const baseUrl = h("input", { type: "url", spellcheck: false, placeholder: "https://acme.ras.yeastar.com" });
  const clientId = h("input", { type: "text", spellcheck: false, autocomplete: "off" });
  const secret = h("input", { type: "password", autocomplete: "new-password" });
  const secretNote = h("small", { class: "hint" });
  const test = h("button", { type: "button" }, "Test PBX");
  const save = h("button", { type: "button" }, "Save PBX");
  const status = h("div", { class: "status", role: "status", "aria-live": "polite" });
  const steps = h("ol", { class: "steps", "aria-label": "PBX test steps" });
  const addressField = field("PBX address", baseUrl, vendors.yeastar.address);
  const clientIdField = field("Client ID", clientId, vendors.yeastar.clientId);
  const secretField = field("Client Secret", secret);
  const vendorFields = h("div", {}, addressField, clientIdField, secretField, secretNote);

  // The target's other settings as saved (concurrency, adopt…), kept while the kind stays.
  let extra: Record<string, unknown> = {};
  let savedKind = "builtin";
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
    savedKind = k;
    kind.value = k;
    baseUrl.value = u ?? "";
    clientId.value = c ?? "";
    secret.value = "";
    shown();
  };
  const shown = () => {
    const vendor = vendors[kind.value as VendorKind];
    vendorFields.hidden = vendor === undefined;
    if (vendor === undefined) return;
    baseUrl.placeholder = vendor.placeholder;
    setHint(addressField, vendor.address);
    clientIdField.hidden = vendor.clientId === undefined;
    setHint(clientIdField, vendor.clientId ?? "");
    setLabel(secretField, vendor.secret);
  };
  kind.addEventListener("change", shown);

  /** The saved document with this panel's `pbx`; every other setting stays as saved. */
  const draft = (): Record<string, unknown> => {
    const saved = (ctx.saved.current?.config ?? {}) as Record<string, unknown>;
    const { pbx: _old, ...rest } = saved;
    const vendor = vendors[kind.value as VendorKind];
    if (vendor === undefined) return rest;
    return {
      ...rest,
      pbx: {
        ...(kind.value === savedKind ? extra : {}),
        kind: kind.value,
        baseUrl: baseUrl.value.trim(),
        ...(vendor.clientId === undefined ? {} : { clientId: clientId.value.trim() }),
        secret: { source: "stored" },
      },
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

function setHint(wrapper: HTMLElement, text: string): void {
  const hint = wrapper.querySelector("small");
  if (hint) hint.textContent = text;
}

function setLabel(wrapper: HTMLElement, text: string): void {
  const label = wrapper.querySelector("label");
  if (label) label.textContent = text;
}
