// Agents: which connector agents are enrolled and connected, Add agent, which shows a
// single-use, expiring enrollment token and the command that installs and starts an agent
// with it, and the agents' activity (who enrolled from where, with whose token; revocations).
import type { AgentEvent, AgentInfo, EnrollmentTokenInfo } from "../api-types.ts";
import { field, fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";

export function agentsSection(ctx: PageContext): Section {
  const table = h("table", { class: "agents" });
  const tokens = h("table", { class: "tokens" });
  const activity = h("table", { class: "agent-events" });
  const label = h("input", { type: "text", maxLength: 100, placeholder: "e.g. SRV-APP01 (Berlin)" });
  const lifetime = h(
    "select",
    {},
    h("option", { value: "1" }, "1 hour"),
    h("option", { value: "24", selected: true }, "24 hours"),
    h("option", { value: "168" }, "7 days"),
  );
  const add = h("button", { type: "button", class: "primary" }, "Add agent");
  const created = h("div", { class: "created", "aria-live": "polite" });
  const status = h("div", { class: "status", "aria-live": "polite" });

  async function refresh(): Promise<void> {
    try {
      const [agents, list, events] = await Promise.all([ctx.api.agents(), ctx.api.enrollmentTokens(), ctx.api.agentEvents()]);
      showAgents(agents);
      showTokens(list);
      showActivity(events);
    } catch (error) {
      ctx.report(error, status);
    }
  }

  function showAgents(agents: AgentInfo[]): void {
    fill(
      table,
      h("caption", {}, agents.length === 0 ? "No agent has connected yet." : "Connector agents"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Host", "Status", "Version", "Since / last seen", "Enrolled", "Agent ID", ""].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        ...agents.map((a) =>
          h(
            "tr",
            {},
            h("td", {}, a.hostname),
            h(
              "td",
              {},
              a.revokedAt !== null
                ? h("span", { class: "pill offline" }, "Revoked")
                : h("span", { class: `pill ${a.connected ? "online" : "offline"}` }, a.connected ? "Connected" : "Offline"),
            ),
            h("td", {}, a.version),
            h("td", {}, a.connected && a.connectedSince ? `since ${ctx.formatTime(a.connectedSince)}` : ctx.formatTime(a.lastSeen)),
            h("td", {}, enrolledText(a)),
            h("td", { class: "mono" }, a.id),
            // Revoking one agent disconnects it for good; the other agents of its token stay.
            h("td", {}, a.revokedAt === null ? revokeButton(`Revoke agent ${a.hostname} (${a.id})`, () => ctx.api.revokeAgent(a.id)) : ""),
          ),
        ),
      ),
    );
  }

  /** A Revoke button: it does `revoke`, then shows the lists again; a failure is reported and the button works again. */
  function revokeButton(label: string, revoke: () => Promise<unknown>): HTMLElement {
    const button = h("button", { type: "button", class: "danger small", "aria-label": label }, "Revoke");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await revoke();
        await refresh();
      } catch (error) {
        ctx.report(error, status);
        button.disabled = false;
      }
    });
    return button;
  }

  function enrolledText(a: AgentInfo): string {
    if (a.enrolledAt === null) return "before enrollment tokens";
    const from = a.enrolledFrom && a.enrolledFrom !== "unknown" ? ` from ${a.enrolledFrom}` : "";
    return `${ctx.formatTime(a.enrolledAt)}${from}, token "${a.tokenLabel ?? a.tokenId}" by ${a.enrolledBy ?? "?"}`;
  }

  const tokenStatus = (t: EnrollmentTokenInfo) =>
    t.status === "used"
      ? `Used by ${t.usedBy} ${t.usedAt === null ? "" : ctx.formatTime(t.usedAt)}`
      : t.status[0]?.toUpperCase() + t.status.slice(1);

  function showTokens(list: EnrollmentTokenInfo[]): void {
    // The newest first; a token enrolls one agent, so once used it is history.
    const shown = [...list].reverse().slice(0, 20);
    fill(
      tokens,
      h("caption", {}, "Enrollment tokens (each enrolls one agent, once, before it expires)"),
      h("thead", {}, h("tr", {}, ...["Label", "Created", "By", "Expires", "Status", ""].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        ...shown.map((t) =>
          h(
            "tr",
            {},
            h("td", {}, t.label),
            h("td", {}, ctx.formatTime(t.createdAt)),
            h("td", {}, t.createdBy),
            h("td", {}, ctx.formatTime(t.expiresAt)),
            h("td", {}, h("span", { class: `pill ${t.status === "pending" ? "online" : "offline"}` }, tokenStatus(t))),
            h("td", {}, t.status === "pending" ? revokeButton(`Revoke token ${t.label}`, () => ctx.api.revokeEnrollmentToken(t.id)) : ""),
          ),
        ),
      ),
    );
  }

  const eventText: Record<AgentEvent["type"], string> = {
    token_created: "Token made",
    token_revoked: "Token revoked",
    enrolled: "Agent enrolled",
    enrollment_refused: "Enrollment refused",
    connection_refused: "Connection refused",
    revoked: "Agent revoked",
    protocol_violation: "Disconnected: protocol broken",
  };

  function showActivity(events: AgentEvent[]): void {
    fill(
      activity,
      h("caption", {}, "Activity"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["When", "What", "Agent", "Host", "Address", "Token (made by)", "By", "Detail"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        ...events.map((e) =>
          h(
            "tr",
            { "data-event": e.type },
            h("td", {}, ctx.formatTime(e.at)),
            h("td", {}, eventText[e.type] ?? e.type),
            h("td", { class: "mono" }, e.agentId ?? ""),
            h("td", {}, e.hostname ?? ""),
            h("td", { class: "mono" }, e.address ?? ""),
            h("td", {}, e.tokenLabel ? `${e.tokenLabel}${e.tokenBy ? ` (${e.tokenBy})` : ""}` : ""),
            h("td", {}, e.by ?? ""),
            h("td", {}, e.detail ?? ""),
          ),
        ),
      ),
    );
  }

  add.addEventListener("click", async () => {
    add.disabled = true;
    try {
      const token = await ctx.api.createEnrollmentToken(label.value.trim() || "agent", Number(lifetime.value));
      await showCreated(token.token, token.expiresAt);
      label.value = "";
      await refresh();
    } catch (error) {
      ctx.report(error, status);
    } finally {
      add.disabled = false;
    }
  });

  async function showCreated(token: string, expiresAt: number): Promise<void> {
    const origin = ctx.apiOrigin;
    // The agent connects only to the DCs its host names: those of the saved connection, or a placeholder.
    const saved = await ctx.api.getConfig().catch(() => undefined);
    const dcs = saved?.config?.connection?.domainControllers.map((d) => (d.port === undefined ? d.host : `${d.host}:${d.port}`)) ?? [];
    const dcFlags = (dcs.length > 0 ? dcs : ["dc1.example.com"]).map((d) => `--dc ${d}`).join(" ");
    // The token goes in the environment, not in the process's arguments, where other users of
    // the host could read it; the agent's first start spends it for a credential of its own.
    const command = [
      `curl -fsSLO ${origin}/downloads/adsync-agent.mjs`,
      `ADSYNC_TOKEN=${token} node --max-semi-space-size=1 --max-old-space-size=256 adsync-agent.mjs --url ${origin} ${dcFlags}`,
    ].join(" && \\\n  ");
    const tokenBox = h("input", { type: "text", readOnly: true, value: token, class: "mono", id: "new-agent-token" });
    const commandBox = h("textarea", { readOnly: true, rows: 3, class: "mono", id: "install-command" }, command);
    const copy = h("button", { type: "button" }, "Copy install command");
    const copied = h("span", { class: "hint", role: "status" });
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(command);
        copied.textContent = "Copied.";
      } catch {
        // Clipboard access needs a secure context or a permission; selecting lets Ctrl+C do it.
        commandBox.select();
        copied.textContent = "Press Ctrl+C to copy the selected command.";
      }
    });
    fill(
      created,
      h("h3", {}, "New agent token"),
      h("p", { class: "warning" }, "This token is shown once. Copy it now: it cannot be shown again, only revoked."),
      h(
        "p",
        { class: "hint" },
        `It enrolls one agent, once, until ${ctx.formatTime(expiresAt)}. The agent's first start exchanges it for a credential of its own, ` +
          "kept on that server in a file only the agent's account can read; later starts need no token. " +
          "The agent connects only to the domain controllers named with --dc.",
      ),
      field("Token", tokenBox),
      field("Install and start on a server in your network (Node.js 22 or newer)", commandBox),
      h("div", { class: "actions" }, copy, copied),
    );
    tokenBox.focus();
    tokenBox.select();
  }

  const element = h(
    "div",
    {},
    h(
      "p",
      { class: "intro" },
      "The connector agent runs inside your network, dials out to the PBX over HTTPS and does all LDAP work. Run two on different servers for redundancy.",
    ),
    h("div", { class: "table-wrap" }, table),
    h(
      "form",
      { class: "inline-form", onsubmit: (e: Event) => e.preventDefault() },
      field("Label for the new agent", label),
      field("Token valid for", lifetime),
      add,
    ),
    created,
    status,
    h("div", { class: "table-wrap" }, tokens),
    h("div", { class: "table-wrap" }, activity),
  );
  return { id: "agents", title: "Agents", element, shown: () => void refresh() };
}
