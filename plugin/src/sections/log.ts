// Log: every run with its events (Date, Type, Event), exportable as CSV or JSON, and clearable;
// below, the domain login attempts with the reason only an administrator sees.
import { type AttemptOutcome, type RunEvent, type RunInfo, summaryText } from "../api-types.ts";
import { download, field, fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";

export function logSection(ctx: PageContext): Section {
  const runList = h("table", { class: "runs" });
  const events = h("table", { class: "events" });
  const heading = h("h3", { tabIndex: -1 });
  const exportCsv = h("button", { type: "button", disabled: true }, "Export CSV");
  const exportJson = h("button", { type: "button", disabled: true }, "Export JSON");
  const clear = h("button", { type: "button", class: "danger" }, "Clear log");
  const refreshButton = h("button", { type: "button" }, "Refresh");
  const status = h("div", { class: "status", "aria-live": "polite" });
  let selected: { run: RunInfo; events: RunEvent[] } | null = null;
  let confirming = false;

  async function refresh(): Promise<void> {
    try {
      const runs = await ctx.api.runs(50);
      fill(
        runList,
        h("caption", {}, "Runs, newest first"),
        h("thead", {}, h("tr", {}, ...["Date", "Run", "Status", "Result"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          ...runs.map((r) => {
            const open = h("button", { type: "button", class: "link" }, ctx.formatTime(r.startedAt));
            open.addEventListener("click", () => void select(r));
            return h(
              "tr",
              { class: selected?.run.id === r.id ? "selected" : "" },
              h("td", {}, open),
              h(
                "td",
                {},
                `${r.kind === "preview" ? "Preview" : "Sync"} (${r.trigger === "schedule" ? "scheduled" : "manual"}` +
                  `${r.read ? `, ${r.read.mode} read` : ""})`,
              ),
              h("td", {}, h("span", { class: `run-status ${r.status}` }, r.status)),
              h("td", {}, r.error ?? (r.summary ? summaryText(r.summary) : "")),
            );
          }),
        ),
      );
      if (runs.length === 0) {
        fill(events);
        heading.textContent = "The log is empty.";
        selected = null;
      } else if (!selected || !runs.some((r) => r.id === selected?.run.id)) await select(runs[0] as RunInfo);
      exportCsv.disabled = exportJson.disabled = selected === null;
    } catch (error) {
      ctx.report(error, status);
    }
  }

  async function select(run: RunInfo): Promise<void> {
    try {
      selected = { run, events: await ctx.api.runEvents(run.id) };
      heading.textContent = `Events of the ${run.kind} of ${ctx.formatTime(run.startedAt)}`;
      for (const tr of runList.querySelectorAll("tbody tr")) tr.classList.remove("selected");
      fill(
        events,
        h("thead", {}, h("tr", {}, ...["Date", "Type", "Event"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          ...selected.events.map((e) =>
            h(
              "tr",
              { class: e.type },
              h("td", {}, ctx.formatTime(e.at)),
              h("td", {}, h("span", { class: `type ${e.type}` }, e.type)),
              h("td", {}, e.event),
            ),
          ),
        ),
      );
      exportCsv.disabled = exportJson.disabled = false;
    } catch (error) {
      ctx.report(error, status);
    }
  }

  exportCsv.addEventListener("click", async () => {
    if (!selected) return;
    try {
      download(`sync-log-${selected.run.id}.csv`, "text/csv", await ctx.api.runEventsCsv(selected.run.id));
    } catch (error) {
      ctx.report(error, status);
    }
  });
  exportJson.addEventListener("click", () => {
    if (selected) download(`sync-log-${selected.run.id}.json`, "application/json", `${JSON.stringify(selected.events, null, 2)}\n`);
  });
  clear.addEventListener("click", async () => {
    if (!confirming) {
      confirming = true;
      clear.textContent = "Click again to clear the whole log";
      setTimeout(() => {
        confirming = false;
        clear.textContent = "Clear log";
      }, 5000);
      return;
    }
    confirming = false;
    clear.textContent = "Clear log";
    try {
      const { removed } = await ctx.api.clearRuns();
      selected = null;
      fill(status, h("p", { class: "ok" }, `Cleared ${removed} run${removed === 1 ? "" : "s"}. A run in progress is kept.`));
      await refresh();
    } catch (error) {
      ctx.report(error, status);
    }
  });
  refreshButton.addEventListener("click", () => {
    void refresh();
    void refreshLogins();
  });

  const logins = h("table", { class: "logins" });
  const loginStatus = h("div", { class: "status", "aria-live": "polite" });
  const outcome = h(
    "select",
    {},
    ...[
      ["", "All outcomes"],
      ["success", "Success"],
      ["failure", "Failure"],
      ["blocked", "Paused (too many failures)"],
      ["unavailable", "Unavailable"],
    ].map(([value, label]) => h("option", { value: value as string }, label as string)),
  );
  const exportLogins = h("button", { type: "button" }, "Export logins (CSV)");

  async function refreshLogins(): Promise<void> {
    try {
      const { total, attempts } = await ctx.api.loginAttempts({ outcome: (outcome.value || undefined) as AttemptOutcome | undefined });
      fill(
        logins,
        h(
          "caption",
          {},
          total > attempts.length ? `The newest ${attempts.length} of ${total} attempts` : `${total} attempts, newest first`,
        ),
        h(
          "thead",
          {},
          h("tr", {}, ...["Date", "User name", "Source", "Outcome", "Reason", "Extension"].map((c) => h("th", { scope: "col" }, c))),
        ),
        h(
          "tbody",
          {},
          ...attempts.map((a) =>
            h(
              "tr",
              { class: a.outcome },
              // A spray's repeats are one row: "×40, until 10:02".
              h(
                "td",
                {},
                ctx.formatTime(a.at),
                (a.repeats ?? 1) > 1 ? h("span", { class: "hint" }, ` ×${a.repeats}, until ${ctx.formatTime(a.lastAt ?? a.at)}`) : "",
              ),
              h("td", {}, a.username),
              h("td", {}, a.source),
              h("td", {}, h("span", { class: `login-outcome ${a.outcome}` }, a.outcome)),
              h("td", { title: a.detail }, `${a.reason}${a.adCode ? ` (AD ${a.adCode})` : ""}: ${a.detail}`),
              h("td", {}, a.extension ?? ""),
            ),
          ),
        ),
      );
    } catch (error) {
      ctx.report(error, loginStatus);
    }
  }
  outcome.addEventListener("change", () => void refreshLogins());
  exportLogins.addEventListener("click", async () => {
    try {
      download("domain-logins.csv", "text/csv", await ctx.api.loginAttemptsCsv());
    } catch (error) {
      ctx.report(error, loginStatus);
    }
  });

  const element = h(
    "div",
    {},
    h("div", { class: "toolbar" }, refreshButton, exportCsv, exportJson, clear),
    status,
    h("div", { class: "table-wrap" }, runList),
    heading,
    h("div", { class: "table-wrap" }, events),
    h("h3", {}, "Domain logins"),
    h(
      "p",
      { class: "hint" },
      "Every login to the UC client with AD credentials: who (as typed), from where, and why it failed. Passwords are never kept.",
    ),
    h("div", { class: "toolbar" }, field("Outcome", outcome), exportLogins),
    loginStatus,
    h("div", { class: "table-wrap" }, logins),
  );
  return {
    id: "log",
    title: "Log",
    element,
    shown: () => {
      void refresh();
      void refreshLogins();
    },
  };
}
