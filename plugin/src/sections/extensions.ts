// Extensions: the built-in PBX's directory, to see what a sync made.
import type { Extension } from "../api-types.ts";
import { fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";

const pageSize = 100;

export function extensionsSection(ctx: PageContext): Section {
  const search = h("input", { type: "search", id: "extension-search", placeholder: "Name, number or email", autocomplete: "off" });
  const table = h("table", { class: "extensions" });
  const caption = h("p", { class: "hint", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "link", hidden: true }, "Show more");
  const status = h("div", { class: "status", "aria-live": "polite" });
  let shown = 0;
  let ticket = 0;

  async function load(append = false): Promise<void> {
    const mine = ++ticket;
    try {
      const page = await ctx.api.extensions(search.value.trim(), pageSize, append ? shown : 0);
      if (mine !== ticket) return;
      const body = append ? (table.tBodies[0] ?? h("tbody")) : h("tbody");
      body.append(...page.extensions.map(row));
      if (!append) {
        fill(
          table,
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Number", "Name", "Email", "Department", "Groups", "Status", "Source"].map((c) => h("th", { scope: "col" }, c)),
            ),
          ),
          body,
        );
        shown = 0;
      }
      shown += page.extensions.length;
      caption.textContent =
        page.total === 0 ? "No extensions yet." : `Showing ${shown} of ${page.total} extensions${search.value.trim() ? " matching" : ""}.`;
      more.hidden = page.extensions.length < pageSize;
      fill(status);
    } catch (error) {
      ctx.report(error, status);
    }
  }

  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => void load(), 250);
  });
  more.addEventListener("click", () => void load(true));

  const element = h(
    "div",
    {},
    h("div", { class: "field inline" }, h("label", { for: "extension-search" }, "Search"), search),
    status,
    caption,
    h("div", { class: "table-wrap" }, table),
    more,
  );
  return { id: "extensions", title: "Extensions", element, shown: () => void load() };
}

function row(e: Extension): HTMLTableRowElement {
  return h(
    "tr",
    { class: e.enabled ? "" : "disabled" },
    h("td", { class: "number" }, e.number),
    h("td", {}, e.displayName ?? ([e.firstName, e.lastName].filter(Boolean).join(" ") || "—")),
    h("td", {}, e.email ?? ""),
    h("td", {}, e.departmentPath ?? e.department ?? ""),
    h("td", {}, e.groups.join(", ")),
    h("td", {}, h("span", { class: `pill ${e.enabled ? "online" : "offline"}` }, e.enabled ? "Enabled" : "Disabled")),
    h("td", {}, e.origin === "ad" ? "Active Directory" : "Manual"),
  );
}
