// Connection: where the domain controllers are, how to reach them safely, and the read-only
// account the agent signs in with. Test Connection tries the form as it stands, before saving.
import { ApiProblem } from "../api-client.ts";
import type { StoredConfig, TestConnectionResult } from "../api-types.ts";
import { field, fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";
import { stepItem } from "./connection-steps.ts";
import { pbxPanel } from "./pbx-panel.ts";

type Security = "ldaps" | "starttls" | "insecurePlainLdap";

interface ConnectionConfig {
  domainControllers: Array<{ host: string; port?: number }>;
  security?: Security;
  caCertificate?: string;
  insecureSkipVerify?: boolean;
  bindUsername?: string;
  bindPassword?: { source: string; variable?: string; path?: string };
  baseDn?: string;
  [setting: string]: unknown;
}

const defaultPort: Record<Security, number> = { ldaps: 636, starttls: 389, insecurePlainLdap: 389 };

export function connectionSection(ctx: PageContext): Section {
  const controllers = h("textarea", { rows: 2, spellcheck: false, placeholder: "dc1.example.com\ndc2.example.com:636" });
  const security = h(
    "select",
    {},
    h("option", { value: "ldaps" }, "LDAPS (TLS, port 636)"),
    h("option", { value: "starttls" }, "StartTLS (port 389)"),
    h("option", { value: "insecurePlainLdap" }, "Plain LDAP (insecure: passwords cross the network readable)"),
  );
  const port = h("input", { type: "number", min: 1, max: 65535, inputMode: "numeric", placeholder: "636" });
  const bindUser = h("input", {
    type: "text",
    autocomplete: "off",
    spellcheck: false,
    placeholder: "svc-pbx@example.com or CN=svc-pbx,OU=Service,DC=example,DC=com",
  });
  const password = h("input", { type: "password", autocomplete: "new-password" });
  const passwordNote = h("small", { class: "hint" });
  const baseDn = h("input", { type: "text", spellcheck: false, placeholder: "DC=example,DC=com" });
  const caFile = h("input", { type: "file", accept: ".pem,.crt,.cer,application/x-pem-file" });
  const caStatus = h("span", { class: "hint", "aria-live": "polite" });
  const caRemove = h("button", { type: "button", class: "link", hidden: true }, "Remove certificate");
  const skipVerify = h("input", { type: "checkbox" });
  const testButton = h("button", { type: "button", class: "primary" }, "Test Connection");
  const saveButton = h("button", { type: "button" }, "Save connection");
  const status = h("div", { class: "status", role: "status", "aria-live": "polite" });
  const steps = h("ol", { class: "steps", "aria-label": "Test Connection steps" });
  let caCertificate: string | undefined;

  const portFor = () => defaultPort[security.value as Security];
  security.addEventListener("change", () => {
    port.placeholder = String(portFor());
  });

  caFile.addEventListener("change", async () => {
    const file = caFile.files?.[0];
    if (!file) return;
    const text = await file.text();
    if (!/-----BEGIN CERTIFICATE-----/.test(text)) {
      caStatus.textContent = `${file.name} is not a PEM certificate (it has no "BEGIN CERTIFICATE" line).`;
      caFile.value = "";
      return;
    }
    caCertificate = text.trim();
    showCa(`${file.name} loaded`);
  });
  caRemove.addEventListener("click", () => {
    caCertificate = undefined;
    caFile.value = "";
    showCa("");
  });
  function showCa(text: string): void {
    const count = caCertificate ? (caCertificate.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length : 0;
    caStatus.textContent = caCertificate
      ? `${text || "Certificate set"}: ${count} certificate${count === 1 ? "" : "s"} trusted.`
      : "System trust store only.";
    caRemove.hidden = !caCertificate;
  }

  // What the administrator has typed wins over a saved configuration arriving late.
  let edited = false;

  function load(stored: StoredConfig): void {
    const c = (stored.config?.connection ?? {}) as Partial<ConnectionConfig>;
    showPasswordNote(stored, c);
    if (edited) return;
    const sec = c.security ?? "ldaps";
    security.value = sec;
    const ports = new Set((c.domainControllers ?? []).map((d) => d.port).filter((p) => p !== undefined));
    const common = ports.size === 1 ? [...ports][0] : undefined;
    port.value = common === undefined ? "" : String(common);
    port.placeholder = String(defaultPort[sec]);
    controllers.value = (c.domainControllers ?? [])
      .map((d) => (d.port !== undefined && d.port !== common ? `${d.host}:${d.port}` : d.host))
      .join("\n");
    bindUser.value = c.bindUsername ?? "";
    baseDn.value = c.baseDn ?? "";
    skipVerify.checked = c.insecureSkipVerify === true;
    caCertificate = c.caCertificate;
    showCa("");
    password.value = "";
  }

  function showPasswordNote(stored: StoredConfig, c: Partial<ConnectionConfig>): void {
    const source = c.bindPassword?.source ?? "stored";
    if (source === "agent")
      passwordNote.textContent = "The agent holds the password, set on its host (--bind-password-file or ADSYNC_BIND_PASSWORD).";
    else
      passwordNote.textContent = stored.bindPasswordSet
        ? "A password is saved. It is never shown; type a new one to replace it."
        : "No password saved yet.";
    password.placeholder = source === "stored" && stored.bindPasswordSet ? "•••••••• (saved)" : "";
  }

  /** The connection as the form describes it; errors name the field to fix. */
  function formConnection(): ConnectionConfig {
    const previous = (ctx.saved.current?.config?.connection ?? {}) as Partial<ConnectionConfig>;
    const fallbackPort = port.value.trim() === "" ? undefined : Number(port.value);
    const domainControllers = controllers.value
      .split(/[\n,;]+/)
      .map((line) => line.trim())
      .filter((line) => line !== "")
      .map((line) => {
        const m = /^(.*?)(?::(\d+))?$/.exec(line) as RegExpExecArray;
        const p = m[2] !== undefined ? Number(m[2]) : fallbackPort;
        return p === undefined ? { host: m[1] as string } : { host: m[1] as string, port: p };
      });
    const connection: ConnectionConfig = {
      ...previous,
      domainControllers,
      security: security.value as Security,
      bindUsername: bindUser.value.trim(),
      baseDn: baseDn.value.trim(),
    };
    if (caCertificate) connection.caCertificate = caCertificate;
    else delete connection.caCertificate;
    if (skipVerify.checked) connection.insecureSkipVerify = true;
    else delete connection.insecureSkipVerify;
    // A password typed here is stored by the worker, whatever the saved source said.
    if (password.value !== "") connection.bindPassword = { source: "stored" };
    return connection;
  }

  function draftConfig(): Record<string, unknown> {
    return { ...(ctx.saved.current?.config ?? {}), connection: formConnection() };
  }

  function missing(): string | null {
    if (controllers.value.trim() === "") return "Enter at least one domain controller.";
    if (bindUser.value.trim() === "") return "Enter the bind account (a UPN such as svc-pbx@example.com, or its DN).";
    if (baseDn.value.trim() === "") return "Enter the base DN, such as DC=example,DC=com.";
    return null;
  }

  testButton.addEventListener("click", async () => {
    const gap = missing();
    if (gap) {
      fill(status, h("p", { class: "error", role: "alert" }, gap));
      return;
    }
    testButton.disabled = true;
    fill(status, h("p", { class: "progress" }, "Testing the connection through the agent…"));
    steps.replaceChildren();
    const bindPassword = password.value !== "" ? { bindPassword: password.value } : {};
    try {
      let result: TestConnectionResult;
      let note: string | null = null;
      try {
        result = await ctx.api.testConnection({ config: draftConfig(), ...bindPassword });
      } catch (error) {
        // Settings saved for another domain (say, OUs outside this base DN) need not stop a
        // test of the connection itself: test it alone, and say what was left out.
        const outside =
          error instanceof ApiProblem && error.code === "invalid_config" ? error.problems.filter((p) => p.severity === "error") : [];
        if (outside.length === 0 || outside.some((p) => p.path.startsWith("/connection"))) throw error;
        result = await ctx.api.testConnection({ config: { connection: formConnection() }, ...bindPassword });
        note = `The saved sync settings do not fit this connection (${outside[0]?.message ?? ""}), so the scope step counted the whole base DN. Fix them under Synchronization.`;
      }
      showResult(result);
      if (note) status.append(h("p", { class: "warning" }, note));
    } catch (error) {
      ctx.report(error, status);
    } finally {
      testButton.disabled = false;
    }
  });

  saveButton.addEventListener("click", async () => {
    const gap = missing();
    if (gap) {
      fill(status, h("p", { class: "error", role: "alert" }, gap));
      return;
    }
    saveButton.disabled = true;
    try {
      let stored = await ctx.api.putConfig(draftConfig());
      if (password.value !== "") stored = (await ctx.api.setBindPassword(password.value)) as StoredConfig;
      edited = false;
      ctx.saved.set(stored);
      fill(status, h("p", { class: "ok" }, "Connection saved."));
    } catch (error) {
      ctx.report(error, status);
    } finally {
      saveButton.disabled = false;
    }
  });

  function showResult(result: TestConnectionResult): void {
    fill(
      status,
      result.ok
        ? h("p", { class: "ok" }, `Connection works${result.server ? ` (${result.server})` : ""}.`, counts(result))
        : h("p", { class: "error", role: "alert" }, "The connection test failed. The failed step below says what to fix."),
    );
    fill(steps, ...result.steps.map(stepItem));
  }

  const form = h(
    "form",
    {
      class: "grid",
      onsubmit: (e: Event) => e.preventDefault(),
      oninput: () => {
        edited = true;
      },
    },
    field("Domain controllers", controllers, "One per line: host name or IP address, optionally :port. They are tried in order."),
    field("Security", security),
    field("Port", port, "Used for every domain controller without its own :port."),
    field("Bind account (UPN or DN)", bindUser, "A read-only account; the agent never writes to AD."),
    h(
      "div",
      { class: "field" },
      h("label", { for: "bind-password" }, "Bind password"),
      Object.assign(password, { id: "bind-password" }),
      passwordNote,
    ),
    field("Base DN", baseDn),
    h(
      "div",
      { class: "field" },
      h("label", { for: "ca-file" }, "CA certificate"),
      Object.assign(caFile, { id: "ca-file" }),
      h("div", {}, caStatus, " ", caRemove),
    ),
    h("div", { class: "field checkbox" }, h("label", {}, skipVerify, " Skip certificate verification (insecure: for testing only)")),
  );
  password.setAttribute("aria-describedby", "bind-password-note");
  passwordNote.id = "bind-password-note";

  const element = h(
    "div",
    {},
    h(
      "p",
      { class: "intro" },
      "The connector agent inside your network connects to these domain controllers. Nothing here needs to be reachable from the internet.",
    ),
    form,
    h("div", { class: "actions" }, testButton, saveButton),
    status,
    steps,
    pbxPanel(ctx),
  );

  ctx.saved.listen(load);
  return {
    id: "connection",
    title: "Connection",
    element,
    shown: () => {
      ctx.saved.get().catch((error: unknown) => ctx.report(error, status));
    },
  };
}

function counts(result: TestConnectionResult): string {
  const c = result.counts;
  if (!c) return "";
  const parts = Object.entries(c).map(([k, v]) => `${v} ${k.replace(/([A-Z])/g, " $1").toLowerCase()}`);
  return ` ${parts.join(", ")}.`;
}
