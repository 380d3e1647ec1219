// Log: every run with its events (Date, Type, Event), exportable as CSV or JSON, and clearable.
import { type RunEvent, type RunInfo, summaryText } from "../api-types.ts";
import { download, fill, h } from "../dom.ts";
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
              h("td", {}, `${r.kind === "preview" ? "Preview" : "Sync"} (${r.trigger === "schedule" ? "scheduled" : "manual"})`),
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
  refreshButton.addEventListener("click", () => void refresh());

  const element = h(
    "div",
    {},
    h("div", { class: "toolbar" }, refreshButton, exportCsv, exportJson, clear),
    status,
    h("div", { class: "table-wrap" }, runList),
    heading,
    h("div", { class: "table-wrap" }, events),
  );
  return { id: "log", title: "Log", element, shown: () => void refresh() };
}
