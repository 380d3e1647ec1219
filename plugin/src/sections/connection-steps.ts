// One Test Connection step as the page shows it: status, title, time, what happened, the fix.
import type { ConnectionStep } from "../api-types.ts";
import { h } from "../dom.ts";

const statusText: Record<ConnectionStep["status"], string> = { ok: "Passed", failed: "Failed", warning: "Warning", skipped: "Skipped" };

export function stepItem(step: ConnectionStep): HTMLElement {
  return h(
    "li",
    { class: `step ${step.status}`, "data-step": step.id },
    h("span", { class: "badge" }, statusText[step.status]),
    h("strong", {}, step.title),
    h("span", { class: "duration" }, `${step.durationMs} ms`),
    h("p", { class: "detail" }, step.detail),
    step.fix ? h("p", { class: "fix" }, h("strong", {}, "How to fix: "), step.fix) : null,
  );
}
