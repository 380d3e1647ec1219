// Preview and Sync Now: the plan as a table the administrator can filter and search, a held
// run's approve/reject, and a sync's live progress (with Cancel) followed by what it did.
import { type PlanAction, type PlanItem, planActions, type RunInfo, summaryText } from "../api-types.ts";
import { fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";

const pageSize = 200;
const ended = new Set(["succeeded", "partial", "failed", "rejected", "missed", "previewed", "cancelled"]);

const actionLabel: Record<PlanAction, string> = {
  create: "Create",
  adopt: "Adopt",
  update: "Update",
  recreate: "Recreate",
  enable: "Enable",
  disable: "Disable",
  delete: "Delete",
  unchanged: "Unchanged",
  conflict: "Conflict",
  excluded: "Excluded",
};

export function previewSection(ctx: PageContext): Section {
  const previewButton = h("button", { type: "button" }, "Preview");
  const syncButton = h("button", { type: "button", class: "primary" }, "Sync Now");
  // After a complete sync, runs read only what changed in AD since; this reads everything.
  const fullRead = h("input", { type: "checkbox" });
  // Shown only while a sync is followed: a run that is stuck otherwise holds the lock for good.
  const cancelButton = h("button", { type: "button", class: "danger", hidden: true }, "Cancel sync");
  const status = h("div", { class: "status", "aria-live": "polite" });
  const progress = h("progress", { max: 1, hidden: true, "aria-label": "Sync progress" });
  const progressText = h("p", { class: "progress-text", role: "status", "aria-live": "polite" });
  const held = h("div", { class: "held", hidden: true, role: "region", "aria-label": "Run waiting for approval" });
  const summary = h("div", { class: "summary", role: "group", "aria-label": "Filter by action" });
  const actionFilter = h(
    "select",
    { id: "plan-action" },
    h("option", { value: "" }, "All actions"),
    ...planActions.map((a) => h("option", { value: a }, actionLabel[a])),
  );
  const search = h("input", { id: "plan-search", type: "search", placeholder: "Name or number", autocomplete: "off" });
  const table = h("table", { class: "plan" });
  const more = h("button", { type: "button", class: "link", hidden: true }, "Show more");
  const tableCaption = h("p", { class: "hint", "aria-live": "polite" });
  const results = h(
    "div",
    { class: "results", hidden: true },
    summary,
    h(
      "div",
      { class: "filters" },
      h("div", { class: "field inline" }, h("label", { for: "plan-action" }, "Action"), actionFilter),
      h("div", { class: "field inline" }, h("label", { for: "plan-search" }, "Search"), search),
    ),
    tableCaption,
    h("div", { class: "table-wrap" }, table),
    more,
  );
  let run: RunInfo | null = null;
  /** The run whose progress is being followed, for Cancel. */
  let following: RunInfo | null = null;
  let shownItems = 0;
  let query = 0;

  previewButton.addEventListener("click", async () => {
    busy(true);
    fill(status, h("p", { class: "progress" }, "Reading the directory through the agent and planning…"));
    held.hidden = true;
    try {
      const result = await ctx.api.preview(pageSize, { full: fullRead.checked });
      run = result.run;
      fill(status, h("p", { class: "ok" }, planSentence(result.run, "Preview")));
      showSummary(result.run);
      actionFilter.value = "";
      search.value = "";
      showItems(result.items, result.total, false);
    } catch (error) {
      ctx.report(error, status);
    } finally {
      busy(false);
    }
  });

  syncButton.addEventListener("click", async () => {
    busy(true);
    held.hidden = true;
    fill(status, h("p", { class: "progress" }, "Starting the sync…"));
    try {
      await follow(await ctx.api.startSync({ full: fullRead.checked }));
    } catch (error) {
      ctx.report(error, status);
    } finally {
      busy(false);
    }
  });

  cancelButton.addEventListener("click", async () => {
    if (!following) return;
    cancelButton.disabled = true;
    try {
      // The loop in follow() sees the run cancelled on its next look and shows what it did.
      await ctx.api.cancelRun(following.id);
      progressText.textContent = "Cancelling the sync…";
    } catch (error) {
      // A 409 says the run ended meanwhile: follow() shows how.
      ctx.report(error, status);
      cancelButton.disabled = false;
    }
  });

  async function follow(started: RunInfo): Promise<void> {
    let current = started;
    progress.hidden = false;
    following = current;
    cancelButton.disabled = false;
    cancelButton.hidden = false;
    try {
      while (!ended.has(current.status) && current.status !== "awaiting-approval") {
        showProgress(current);
        await new Promise((r) => setTimeout(r, 600));
        current = await ctx.api.run(current.id);
      }
    } finally {
      following = null;
      cancelButton.hidden = true;
    }
    progress.hidden = true;
    progressText.textContent = "";
    run = current;
    showSummary(current);
    actionFilter.value = "";
    search.value = "";
    await reload();
    if (current.status === "awaiting-approval") showHeld(current);
    else showEnd(current);
  }

  function showProgress(r: RunInfo): void {
    const p = r.progress;
    if (r.status === "applying" && p?.total) {
      progress.max = p.total;
      progress.value = p.done ?? 0;
      progressText.textContent = `Applying: ${p.done ?? 0} of ${p.total} changes${p.failed ? `, ${p.failed} failed` : ""}.`;
    } else {
      progress.removeAttribute("value");
      progressText.textContent =
        r.status === "planning"
          ? `Planning the changes for the ${p?.read ?? 0} users read: ${p?.planning ?? "sorting the users read"}…`
          : p?.read !== undefined
            ? `Reading the directory: ${p.read} users read.`
            : `${capital(r.status)}…`;
    }
    fill(status);
  }

  function showEnd(r: RunInfo): void {
    const failed = r.status === "failed" || r.status === "partial" || r.status === "cancelled";
    fill(
      status,
      h("p", { class: failed ? "error" : "ok", role: failed ? "alert" : null }, planSentence(r, "Sync")),
      r.error ? h("p", { class: "detail" }, r.error) : null,
    );
  }

  function showHeld(r: RunInfo): void {
    held.hidden = false;
    const approve = h("button", { type: "button", class: "primary" }, "Approve and apply");
    const reject = h("button", { type: "button", class: "danger" }, "Reject");
    const decide = async (yes: boolean) => {
      approve.disabled = reject.disabled = true;
      try {
        const next = yes ? await ctx.api.approve(r.id) : await ctx.api.reject(r.id);
        held.hidden = true;
        if (yes) await follow(next);
        else showEnd(next);
      } catch (error) {
        ctx.report(error, held);
        approve.disabled = reject.disabled = false;
      }
    };
    approve.addEventListener("click", () => void decide(true));
    reject.addEventListener("click", () => void decide(false));
    fill(
      held,
      h("h3", {}, "Waiting for your approval"),
      h("p", {}, r.held?.reason ?? "The safety limits held this run back."),
      h("p", { class: "hint" }, "Review the deletes below; nothing has been changed yet."),
      h("div", { class: "actions" }, approve, reject),
    );
    fill(status);
  }

  function showSummary(r: RunInfo): void {
    results.hidden = false;
    const counts = r.summary;
    fill(
      summary,
      ...(counts
        ? planActions
            .filter((a) => counts[a] > 0)
            .map((a) => {
              const chip = h(
                "button",
                { type: "button", class: `chip ${a}`, "aria-pressed": "false" },
                `${counts[a]} ${actionLabel[a].toLowerCase()}`,
              );
              chip.addEventListener("click", () => {
                actionFilter.value = actionFilter.value === a ? "" : a;
                void reload();
              });
              return chip;
            })
        : []),
    );
  }

  async function reload(append = false): Promise<void> {
    if (!run) return;
    const ticket = ++query;
    try {
      const page = await ctx.api.runItems(run.id, {
        action: (actionFilter.value || undefined) as PlanAction | undefined,
        q: search.value.trim() || undefined,
        limit: pageSize,
        offset: append ? shownItems : 0,
      });
      if (ticket !== query) return;
      showItems(page.items, page.total, append);
    } catch (error) {
      ctx.report(error, status);
    }
  }

  function showItems(items: Array<PlanItem & { status?: string; error?: string | null }>, total: number, append: boolean): void {
    for (const chip of summary.querySelectorAll<HTMLButtonElement>(".chip"))
      chip.setAttribute("aria-pressed", String(chip.classList.contains(actionFilter.value)));
    const body = append ? (table.tBodies[0] ?? h("tbody")) : h("tbody");
    const applied = items.some((i) => i.status === "done" || i.status === "failed");
    for (const item of items) body.append(row(item, applied));
    if (!append) {
      fill(
        table,
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Action", "Name", "Number", "Reason", "Changes", ...(applied ? ["Result"] : [])].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        body,
      );
      shownItems = 0;
    }
    shownItems += items.length;
    tableCaption.textContent = total === 0 ? "No rows match." : `Showing ${shownItems} of ${total} rows.`;
    more.hidden = shownItems >= total;
  }

  actionFilter.addEventListener("change", () => void reload());
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => void reload(), 250);
  });
  more.addEventListener("click", () => void reload(true));

  function busy(on: boolean): void {
    previewButton.disabled = on;
    syncButton.disabled = on;
    fullRead.disabled = on;
  }

  const element = h(
    "div",
    {},
    h(
      "p",
      { class: "intro" },
      "Preview reads the directory and shows exactly what a sync would do, without changing anything. Sync Now applies it; deletes beyond the safety limits wait for your approval. After a complete sync, both read only what changed in AD since.",
    ),
    h("div", { class: "actions" }, previewButton, syncButton, cancelButton),
    h("div", { class: "field checkbox" }, h("label", {}, fullRead, " Read the whole directory, not only what changed (a full read)")),
    progress,
    progressText,
    status,
    held,
    results,
  );

  return {
    id: "preview",
    title: "Preview & Sync",
    element,
    shown: async () => {
      if (run) return;
      // Pick up a run still going (started elsewhere, or before a reload) so its progress shows.
      try {
        const [latest] = await ctx.api.runs(1);
        if (latest && latest.kind === "sync" && !ended.has(latest.status)) {
          busy(true);
          await follow(latest).finally(() => busy(false));
        }
      } catch (error) {
        ctx.report(error, status);
      }
    },
  };
}

function row(item: PlanItem & { status?: string; error?: string | null }, applied: boolean): HTMLTableRowElement {
  return h(
    "tr",
    { class: item.action },
    h("td", {}, h("span", { class: `chip ${item.action}` }, actionLabel[item.action])),
    h("td", {}, item.name, item.dn ? h("div", { class: "dn" }, item.dn) : null),
    h("td", { class: "number" }, item.number ?? "—"),
    h("td", {}, item.reason),
    h(
      "td",
      {},
      item.changes && item.changes.length > 0
        ? h(
            "ul",
            { class: "diff" },
            ...item.changes.map((c) =>
              h("li", {}, h("strong", {}, c.field), ": ", h("del", {}, c.from ?? "(empty)"), " → ", h("ins", {}, c.to ?? "(empty)")),
            ),
          )
        : null,
    ),
    applied ? h("td", {}, item.error ? h("span", { class: "error" }, item.error) : (resultLabel[item.status ?? ""] ?? "—")) : null,
  );
}

const resultLabel: Record<string, string> = { done: "Done", failed: "Failed", pending: "Not applied", applying: "Applying" };

function planSentence(r: RunInfo, what: string): string {
  if (r.status === "cancelled") {
    const p = r.progress;
    return `${what} was cancelled: ${p?.total && p.done ? `${p.done} of ${p.total} changes were applied and stay applied` : "nothing was changed"}.`;
  }
  const result =
    r.status === "previewed"
      ? "done"
      : r.status === "succeeded"
        ? "finished"
        : r.status === "partial"
          ? "finished with failures"
          : r.status === "failed"
            ? "failed"
            : r.status === "rejected"
              ? "was rejected; nothing changed"
              : r.status;
  const incomplete =
    r.complete === false ? ` The read was incomplete (${r.incompleteReason ?? "see the log"}), so nothing is disabled or deleted.` : "";
  const read =
    r.read?.mode === "incremental"
      ? " It read only what changed in AD since the last sync."
      : r.read?.reason
        ? ` It read the whole directory: ${r.read.reason}.`
        : "";
  return `${what} ${result}: ${r.summary ? summaryText(r.summary) : "nothing to do"}.${incomplete}${read}`;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
