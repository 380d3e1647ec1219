// <ad-sync-integration>: the Integrations > Active Directory page as one custom element, so
// any host portal can mount it. Everything renders into a shadow root: the host's styles do
// not reach in, and ours do not leak out.
import { ApiClient, ApiProblem } from "./api-client.ts";
import { fill, h } from "./dom.ts";
import { type PageContext, SavedConfig, type Section, type SectionId } from "./page-context.ts";
import { agentsSection } from "./sections/agents.ts";
import { connectionSection } from "./sections/connection.ts";
import { extensionsSection } from "./sections/extensions.ts";
import { logSection } from "./sections/log.ts";
import { previewSection } from "./sections/preview.ts";
import { scheduleSection } from "./sections/schedule.ts";
import { synchronizationSection } from "./sections/synchronization.ts";
import { styles } from "./styles.ts";

export const elementName = "ad-sync-integration";
const agentPollMs = 30_000;

export class AdSyncIntegration extends HTMLElement {
  #tokenSource: (() => string | Promise<string>) | undefined;

  /** Set by the host: returns a current bearer token for the API (renewed by the host as needed). */
  get getToken(): (() => string | Promise<string>) | undefined {
    return this.#tokenSource;
  }

  set getToken(source: (() => string | Promise<string>) | undefined) {
    this.#tokenSource = source;
  }

  constructor() {
    super();
    // A host may set getToken before the element is defined: that made an own property that
    // would hide the accessor, so move its value behind the accessor.
    const early = Object.getOwnPropertyDescriptor(this, "getToken");
    if (early) {
      delete (this as { getToken?: unknown }).getToken;
      this.getToken = early.value as (() => string) | undefined;
    }
  }

  #ctx: PageContext | undefined;
  #sections: Section[] = [];
  #tabs = new Map<SectionId, HTMLButtonElement>();
  #banner: HTMLElement | undefined;
  #agentPill: HTMLElement | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;

  connectedCallback(): void {
    if (this.shadowRoot) return;
    const apiBaseUrl = this.getAttribute("api-base-url") ?? "/api/v1";
    const tenant = this.getAttribute("tenant");
    const root = this.attachShadow({ mode: "open" });
    root.append(h("style", {}, styles));
    if (!tenant) {
      root.append(h("p", { class: "error", role: "alert" }, "This page needs the host portal to name the tenant (the tenant attribute)."));
      return;
    }
    const api = new ApiClient({
      apiBaseUrl: new URL(apiBaseUrl, location.href).href,
      tenant,
      getToken: () => {
        if (!this.getToken) throw new ApiProblem(401, "unauthorized", "The portal has not passed a sign-in session to this page.");
        return this.getToken();
      },
    });
    const locale = this.getAttribute("locale") ?? navigator.language;
    const dates = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" });
    this.#ctx = {
      api,
      assetBaseUrl: new URL(".", import.meta.url).href,
      apiOrigin: new URL(apiBaseUrl, location.href).origin,
      theme: () => (this.getAttribute("theme") === "dark" ? "dark" : "light"),
      formatTime: (at) => (at === null ? "—" : dates.format(new Date(at))),
      report: (error, where) => this.#report(error, where),
      saved: new SavedConfig(() => api.getConfig()),
      show: (id) => this.#show(id),
    };
    this.#render(root, this.#ctx);
  }

  disconnectedCallback(): void {
    clearInterval(this.#poll);
  }

  #render(root: ShadowRoot, ctx: PageContext): void {
    this.#sections = [
      connectionSection(ctx),
      synchronizationSection(ctx),
      previewSection(ctx),
      scheduleSection(ctx),
      logSection(ctx),
      agentsSection(ctx),
      extensionsSection(ctx),
    ];
    this.#banner = h("div", { class: "banner", role: "alert", hidden: true });
    this.#agentPill = h("span", { class: "pill", role: "status" }, "Checking agents…");
    const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Active Directory sections" });
    const panels = h("div", { class: "panels" });
    for (const section of this.#sections) {
      const tab = h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${section.id}`,
          "aria-controls": `panel-${section.id}`,
          "aria-selected": "false",
          tabIndex: -1,
        },
        section.title,
      );
      tab.addEventListener("click", () => this.#show(section.id));
      tab.addEventListener("keydown", (e) => this.#tabKey(e, section.id));
      this.#tabs.set(section.id, tab);
      tablist.append(tab);
      panels.append(
        h(
          "section",
          { role: "tabpanel", id: `panel-${section.id}`, "aria-labelledby": `tab-${section.id}`, hidden: true, tabIndex: 0 },
          h("h2", {}, section.title),
          section.element,
        ),
      );
    }
    root.append(
      h("div", { class: "page" }, h("header", {}, h("h1", {}, "Active Directory"), this.#agentPill), this.#banner, tablist, panels),
    );
    this.#show("connection");
    void this.#checkAgents();
    this.#poll = setInterval(() => void this.#checkAgents(), agentPollMs);
    // Interactive once the saved configuration has filled the first section in.
    void ctx.saved.get().then(
      () => this.#markReady(),
      (error: unknown) => {
        this.#report(error, this.#banner as HTMLElement);
        this.#markReady();
      },
    );
  }

  #markReady(): void {
    performance.mark("adsync:interactive");
    this.dispatchEvent(new CustomEvent("adsync-ready", { bubbles: true, composed: true }));
  }

  #show(id: SectionId): void {
    const root = this.shadowRoot;
    if (!root) return;
    for (const section of this.#sections) {
      const active = section.id === id;
      const tab = this.#tabs.get(section.id) as HTMLButtonElement;
      tab.setAttribute("aria-selected", String(active));
      tab.tabIndex = active ? 0 : -1;
      (root.getElementById(`panel-${section.id}`) as HTMLElement).hidden = !active;
      if (active) section.shown?.();
    }
  }

  #tabKey(event: KeyboardEvent, id: SectionId): void {
    const ids = this.#sections.map((s) => s.id);
    const at = ids.indexOf(id);
    const to =
      event.key === "ArrowRight"
        ? ids[(at + 1) % ids.length]
        : event.key === "ArrowLeft"
          ? ids[(at - 1 + ids.length) % ids.length]
          : event.key === "Home"
            ? ids[0]
            : event.key === "End"
              ? ids[ids.length - 1]
              : undefined;
    if (!to) return;
    event.preventDefault();
    this.#show(to);
    this.#tabs.get(to)?.focus();
  }

  async #checkAgents(): Promise<void> {
    const pill = this.#agentPill;
    if (!pill || !this.#ctx) return;
    try {
      const agents = await this.#ctx.api.agents();
      const online = agents.filter((a) => a.connected);
      pill.className = `pill ${online.length > 0 ? "online" : "offline"}`;
      pill.textContent = online.length > 0 ? `Agent connected: ${online.map((a) => a.hostname).join(", ")}` : "No agent connected";
    } catch (error) {
      pill.className = "pill offline";
      pill.textContent = "Agent status unknown";
      if (error instanceof ApiProblem && error.kind === "session") this.#report(error, pill);
    }
  }

  #report(error: unknown, where: HTMLElement): void {
    const problem =
      error instanceof ApiProblem
        ? error
        : new ApiProblem(0, "page_error", `Something went wrong on this page: ${(error as Error)?.message ?? String(error)}`);
    const banner = this.#banner;
    if (where !== banner && where !== this.#agentPill)
      fill(
        where,
        h("p", { class: "error", role: "alert", "data-code": problem.code }, problem.message),
        problem.problems.length > 0
          ? h(
              "ul",
              { class: "problems" },
              ...problem.problems.map((p) => h("li", { class: p.severity }, h("code", {}, p.path || "/"), " ", p.message)),
            )
          : null,
      );
    if (!banner) return;
    if (problem.kind === "session") {
      const retry = h("button", { type: "button" }, "I have signed in again");
      retry.addEventListener("click", () => {
        banner.hidden = true;
        void this.#checkAgents();
      });
      fill(
        banner,
        h("strong", {}, problem.code === "session_expired" ? "Your session has expired." : "You are not signed in."),
        " Sign in to the portal again; nothing you typed on this page is lost.",
        retry,
      );
      banner.className = "banner session";
      banner.hidden = false;
      this.dispatchEvent(new CustomEvent("adsync-session-expired", { bubbles: true, composed: true, detail: { code: problem.code } }));
    } else if (problem.kind === "agent") {
      const open = h("button", { type: "button" }, "Open Agents");
      open.addEventListener("click", () => this.#show("agents"));
      fill(banner, h("strong", {}, "No connector agent is connected."), " The agent inside your network must be running for this.", open);
      banner.className = "banner agent";
      banner.hidden = false;
      void this.#checkAgents();
    } else if (where === banner) {
      fill(banner, problem.message);
      banner.className = "banner";
      banner.hidden = false;
    }
  }
}

if (!customElements.get(elementName)) customElements.define(elementName, AdSyncIntegration);
