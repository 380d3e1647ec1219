// Synchronization: the whole configuration in the editor. Monaco arrives in its own chunk
// when this section is first opened, so the rest of the page never waits for it.
import { templates } from "adsync:templates";
import type { ConfigEditor, EditorState } from "../../../editor/src/config-editor.ts";
import { ApiProblem } from "../api-client.ts";
import type { OuNode, StoredConfig } from "../api-types.ts";
import { applyTemplate, type ConfigChange, configChanges } from "../config-diff.ts";
import { fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";

export function synchronizationSection(ctx: PageContext): Section {
  const host = h("div", { class: "editor-host" }, h("p", { class: "progress", role: "status" }, "Loading the editor…"));
  const saveButton = h("button", { type: "button", class: "primary", disabled: true }, "Save");
  const formatButton = h("button", { type: "button", disabled: true }, "Format");
  const revertButton = h("button", { type: "button", disabled: true }, "Discard changes");
  const galleryButton = h("button", { type: "button", "aria-expanded": "false" }, "Start from a template…");
  const counts = h("span", { class: "counts", role: "status", "aria-live": "polite" });
  const status = h("div", { class: "status", "aria-live": "polite" });
  const problemList = h("ul", { class: "problems", "aria-label": "Problems in the configuration" });
  const gallery = h("div", { class: "gallery", hidden: true });
  let editor: ConfigEditor | null = null;
  let loading = false;
  let savedText = "";

  function textOf(stored: StoredConfig): string {
    return `${JSON.stringify(stored.config ?? {}, null, 2)}\n`;
  }

  function update(state: EditorState): void {
    const dirty = state.text !== savedText;
    saveButton.disabled = state.errors > 0 || !dirty;
    saveButton.title =
      state.errors > 0 ? "Fix the errors first: a configuration with errors cannot be saved." : dirty ? "" : "Nothing changed.";
    revertButton.disabled = !dirty;
    counts.textContent = `${plural(state.errors, "error")}, ${plural(state.warnings, "warning")}${dirty ? " · unsaved changes" : ""}`;
    counts.className = `counts ${state.errors > 0 ? "has-errors" : ""}`;
    fill(
      problemList,
      ...state.problems.map((p) =>
        h(
          "li",
          { class: p.severity },
          h("span", { class: "where" }, `Line ${p.line}, column ${p.column}`),
          " ",
          h("span", {}, p.message),
          p.path ? h("code", {}, p.path) : null,
        ),
      ),
    );
  }

  async function loadEditor(): Promise<void> {
    const stored = await ctx.saved.get();
    savedText = textOf(stored);
    const { createConfigEditor } = await import("../../../editor/src/config-editor.ts");
    host.replaceChildren();
    editor = await createConfigEditor(host, {
      value: savedText,
      assetBaseUrl: ctx.assetBaseUrl,
      theme: ctx.theme(),
      ariaLabel: "Sync configuration (JSON)",
      directory: directoryLookups(ctx),
      onDidChange: update,
      onSave: () => {
        if (!saveButton.disabled) void save();
      },
    });
    formatButton.disabled = false;
    update(editor.state());
  }

  async function save(): Promise<void> {
    if (!editor) return;
    let document: unknown;
    try {
      document = JSON.parse(editor.getValue());
    } catch (error) {
      fill(status, h("p", { class: "error", role: "alert" }, `The configuration is not valid JSON: ${(error as Error).message}`));
      return;
    }
    saveButton.disabled = true;
    fill(status, h("p", { class: "progress" }, "Saving…"));
    try {
      const stored = await ctx.api.putConfig(document);
      savedText = editor.getValue();
      editor.setServerProblems([]);
      ctx.saved.set(stored);
      fill(status, h("p", { class: "ok" }, `Saved ${ctx.formatTime(stored.updatedAt)}.`));
    } catch (error) {
      // The server's problems go into the editor at their place, and under it as a list.
      if (error instanceof ApiProblem) editor.setServerProblems(error.problems);
      ctx.report(error, status);
    } finally {
      if (editor) update(editor.state());
    }
  }

  saveButton.addEventListener("click", () => void save());
  formatButton.addEventListener("click", () => void editor?.format());
  revertButton.addEventListener("click", () => {
    editor?.setValue(savedText);
    fill(status);
  });
  galleryButton.addEventListener("click", () => {
    gallery.hidden = !gallery.hidden;
    galleryButton.setAttribute("aria-expanded", String(!gallery.hidden));
    if (!gallery.hidden) showGallery();
  });

  function current(): Record<string, unknown> | null {
    try {
      const value = JSON.parse(editor?.getValue() ?? savedText) as unknown;
      return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    } catch {
      return (ctx.saved.current?.config as Record<string, unknown> | null) ?? null;
    }
  }

  function showGallery(): void {
    const detail = h("div", { class: "template-detail", "aria-live": "polite" });
    const cards = templates.map((t) => {
      const meta = (t.document.metadata ?? {}) as { title?: string; description?: string; tags?: string[]; author?: string };
      const choose = h("button", { type: "button" }, "Show changes");
      choose.addEventListener("click", () => showTemplate(t.document, meta.title ?? t.file, detail));
      return h(
        "li",
        { class: "card" },
        h("h4", {}, meta.title ?? t.file),
        h("p", {}, meta.description ?? ""),
        meta.tags ? h("p", { class: "tags" }, ...meta.tags.map((tag) => h("span", { class: "tag" }, tag))) : null,
        choose,
      );
    });
    fill(gallery, h("h3", {}, "Partner templates"), h("ul", { class: "cards" }, ...cards), detail);
  }

  function showTemplate(template: Record<string, unknown>, title: string, detail: HTMLElement): void {
    const before = current();
    const after = applyTemplate(before, template);
    const changes = configChanges(before ?? {}, after);
    const apply = h("button", { type: "button", class: "primary", disabled: !editor }, "Use this template");
    apply.addEventListener("click", () => {
      editor?.setValue(`${JSON.stringify(after, null, 2)}\n`);
      gallery.hidden = true;
      galleryButton.setAttribute("aria-expanded", "false");
      fill(status, h("p", { class: "ok" }, `“${title}” is in the editor. Review it, then Save.`));
      editor?.focus();
    });
    fill(
      detail,
      h("h4", {}, `What “${title}” would change`),
      h("p", { class: "hint" }, "Your connection stays as it is. Nothing is saved until you click Save."),
      changes.length === 0
        ? h("p", {}, "Nothing: the editor already holds this configuration.")
        : h("ul", { class: "changes" }, ...changes.map(changeItem)),
      apply,
    );
  }

  ctx.saved.listen((stored) => {
    const text = textOf(stored);
    if (!editor) {
      savedText = text;
      return;
    }
    if (editor.getValue() === savedText && text !== savedText) editor.setValue(text);
    savedText = text;
    update(editor.state());
  });

  const element = h(
    "div",
    {},
    h(
      "p",
      { class: "intro" },
      "The whole sync configuration. Errors are marked as you type; hover a setting for its description; Ctrl+Space suggests settings, OUs, groups and attributes from your directory. Ctrl+S formats and saves.",
    ),
    h("div", { class: "toolbar" }, galleryButton, formatButton, revertButton, saveButton, counts),
    gallery,
    host,
    status,
    problemList,
  );

  return {
    id: "synchronization",
    title: "Synchronization",
    element,
    shown: () => {
      if (loading) return;
      loading = true;
      loadEditor().catch((error: unknown) => {
        loading = false;
        fill(host);
        ctx.report(error, host);
      });
    },
  };
}

function changeItem(change: ConfigChange): HTMLElement {
  const show = (v: unknown) => h("code", {}, JSON.stringify(v));
  if (change.kind === "added") return h("li", { class: "added" }, h("strong", {}, change.path), " added: ", show(change.to));
  if (change.kind === "removed")
    return h("li", { class: "removed" }, h("strong", {}, change.path), " removed (was ", show(change.from), ")");
  return h("li", { class: "changed" }, h("strong", {}, change.path), ": ", show(change.from), " → ", show(change.to));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function directoryLookups(ctx: PageContext) {
  return {
    ous: async () => {
      const flat: Array<{ dn: string; name: string }> = [];
      const walk = (node: OuNode): void => {
        flat.push({ dn: node.dn, name: node.name });
        for (const child of node.children) walk(child);
      };
      walk(await ctx.api.ous());
      return flat;
    },
    groups: async (query: string) => (await ctx.api.groups(query)).groups,
    attributes: async () =>
      (await ctx.api.attributes()).map((a) => ({ name: a.name, ...(a.syntax ? { description: `LDAP syntax ${a.syntax}` } : {}) })),
  };
}
