// The sync configuration editor the portal plugin embeds: Monaco with the configuration's
// JSON Schema for completions and hovers, the same validation the server runs as markers,
// and directory-aware completions. The plugin loads this module lazily, so all of Monaco
// stays out of the page until the Synchronization section is opened.
import configSchema from "../../schema/config.schema.json" with { type: "json" };
import { directoryCompletionContext, groupQuery } from "./completion-context.ts";
import { countBySeverity, diagnose, type LocatedProblem, type ProblemSource, placeServerProblems } from "./diagnose.ts";
import { DirectoryCache, type DirectoryLookups, type Lookup } from "./directory-cache.ts";
import { editor, jsonDefaults, KeyCode, KeyMod, languages, MarkerSeverity, Range, Uri } from "./monaco.ts";
import { adoptMonacoStyles } from "./monaco-styles.ts";

export type { ProblemSource } from "./diagnose.ts";
export type { DirectoryAttribute, DirectoryGroup, DirectoryLookups, DirectoryOu } from "./directory-cache.ts";

export interface EditorProblem {
  severity: "error" | "warning";
  message: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** JSON pointer of the value concerned; "" for syntax errors. */
  path: string;
  source: ProblemSource;
}

export interface EditorState {
  text: string;
  /** Errors the server would refuse the text for: syntax errors, validateConfig's errors and those of the last refused save. */
  errors: number;
  warnings: number;
  problems: EditorProblem[];
}

export interface ConfigEditorOptions {
  value: string;
  /** Base URL where the bundled Monaco worker scripts live, ending in "/" (the plugin build emits them next to its bundle: `${assetBaseUrl}editor.worker.js`, `${assetBaseUrl}json.worker.js`). */
  assetBaseUrl: string;
  theme?: "light" | "dark";
  readOnly?: boolean;
  ariaLabel?: string;
  directory?: DirectoryLookups;
  /** Debounced, after markers are updated. */
  onDidChange?(state: EditorState): void;
  /** Ctrl/Cmd+S: formats the document first, then calls this. */
  onSave?(text: string): void;
}

export interface ConfigEditor {
  getValue(): string;
  /** Replaces the document (and its undo history), e.g. with the configuration just loaded or saved. */
  setValue(text: string): void;
  state(): EditorState;
  format(): Promise<void>;
  /** Problems returned by the server's PUT /config (JSON pointers), shown as markers at their place until the text changes. */
  setServerProblems(problems: Array<{ path: string; message: string; severity: "error" | "warning" }>): void;
  focus(): void;
  dispose(): void;
}

const markerOwner = "pbx-ad-sync";
const diagnoseDelayMs = 250;
/** A pause before asking the directory for groups, so a fast typist causes one search, not one per key. */
const groupSearchDelayMs = 150;
const schemaUri = configSchema.$id;
/**
 * Models live at inmemory://pbx-ad-sync/editor-N/sync-config.json, so a document whose
 * `$schema` is the repository-relative "../schema/config.schema.json" (as in sample/) still
 * resolves to the bundled schema; JSON's language service otherwise follows `$schema`.
 */
const relativeSchemaUri = "inmemory://pbx-ad-sync/schema/config.schema.json";
const modelFileName = "sync-config.json";
let modelCount = 0;
let jsonConfigured = false;

export async function createConfigEditor(container: HTMLElement, options: ConfigEditorOptions): Promise<ConfigEditor> {
  const root = container.getRootNode();
  if (!(root instanceof ShadowRoot) && !(root instanceof Document)) {
    throw new Error("createConfigEditor: the container must be in a document or a shadow root before the editor is created");
  }
  const styles = adoptMonacoStyles(root, options.assetBaseUrl);
  if (styles.registered === 0) {
    console.warn("pbx-ad-sync editor: no Monaco stylesheets were bundled; build with the plugins from editor/bundle-entries.ts");
  }
  useWorkersFrom(options.assetBaseUrl);
  configureJson();

  const readOnly = options.readOnly ?? false;
  // Monaco leaves some of what it adds to the container behind on dispose; remembered so
  // dispose() can take it away.
  const ownChildren = new Set(container.children);
  const headBefore = new Set(document.head.children);
  const model = editor.createModel(options.value, "json", Uri.parse(`inmemory://pbx-ad-sync/editor-${++modelCount}/${modelFileName}`));
  // The server and the CLI format with two spaces; the formatter reads the model's options.
  model.updateOptions({ tabSize: 2, insertSpaces: true });
  const codeEditor = editor.create(container, {
    model,
    theme: options.theme === "dark" ? "vs-dark" : "vs",
    readOnly,
    ariaLabel: options.ariaLabel ?? "Synchronization configuration (JSON)",
    // Screen reader announcements otherwise go to a live region in document.body, where
    // Monaco's stylesheet (in the shadow root) cannot hide it.
    ariaContainerElement: container,
    automaticLayout: true,
    minimap: { enabled: false },
    scrollBeyondLastLine: false,
    fixedOverflowWidgets: false,
    tabSize: 2,
    insertSpaces: true,
    detectIndentation: false,
    // Suggestions come from the schema and the directory; words of the document would only add noise.
    wordBasedSuggestions: "off",
    suggest: { showWords: false },
    // Most values a configuration needs (DNs, attribute names, enums) are typed inside strings.
    quickSuggestions: { other: "on", strings: "on", comments: "off" },
    // Problems stay visible in a read-only editor (the default hides them there).
    renderValidationDecorations: "on",
    formatOnPaste: false,
  });

  const disposables: Array<{ dispose(): void }> = [];
  if (root instanceof ShadowRoot) keepInShadowRoot(root, container, headBefore, disposables);
  let local: LocatedProblem[] = [];
  let server: LocatedProblem[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The text changed since the markers were last computed. */
  let stale = true;
  let disposed = false;

  const problems = (): LocatedProblem[] => [...local, ...server].sort((a, b) => a.offset - b.offset);

  const currentState = (): EditorState => {
    const all = problems();
    return {
      text: model.getValue(),
      ...countBySeverity(all),
      problems: all.map(({ severity, message, line, column, path, source }) => ({ severity, message, line, column, path, source })),
    };
  };

  const showMarkers = () => {
    editor.setModelMarkers(
      model,
      markerOwner,
      problems().map((p) => {
        const start = model.getPositionAt(p.offset);
        const end = model.getPositionAt(p.offset + p.length);
        return {
          severity: p.severity === "error" ? MarkerSeverity.Error : MarkerSeverity.Warning,
          message: p.message,
          source: p.source,
          startLineNumber: start.lineNumber,
          startColumn: start.column,
          endLineNumber: end.lineNumber,
          endColumn: end.column,
        };
      }),
    );
  };

  const notify = () => {
    try {
      options.onDidChange?.(currentState());
    } catch (error) {
      // A failing host callback must not stop the editor from validating the next edit.
      console.error(error);
    }
  };

  /** Brings the markers up to date with the text, if they are not. */
  const flush = () => {
    if (!stale) return;
    stale = false;
    local = diagnose(model.getValue());
    showMarkers();
  };

  // state() may bring the markers up to date early; the host still hears of the edit here.
  const schedule = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      flush();
      notify();
    }, diagnoseDelayMs);
  };

  disposables.push(
    model.onDidChangeContent(() => {
      stale = true;
      // Server problems belong to the text that was refused; any edit may have fixed them.
      server = [];
      schedule();
    }),
  );

  if (options.directory) {
    disposables.push(registerDirectoryCompletions(model, new DirectoryCache(options.directory)));
  }

  const format = async (): Promise<void> => {
    if (readOnly) return;
    await codeEditor.getAction("editor.action.formatDocument")?.run();
  };

  disposables.push(
    codeEditor.addAction({
      id: "pbx-ad-sync.formatAndSave",
      label: "Format and Save",
      // Bound even without onSave, so Ctrl+S never opens the browser's "Save page" dialog.
      keybindings: [KeyMod.CtrlCmd | KeyCode.KeyS],
      run: async () => {
        if (readOnly) return;
        await format();
        options.onSave?.(model.getValue());
      },
    }),
  );

  flush();
  // The host learns the initial error count the same way it learns later ones.
  schedule();

  return {
    getValue: () => model.getValue(),
    setValue(text: string) {
      if (text !== model.getValue()) model.setValue(text);
    },
    state() {
      flush();
      return currentState();
    },
    format,
    setServerProblems(list) {
      flush();
      server = placeServerProblems(model.getValue(), list, local);
      showMarkers();
      notify();
    },
    focus: () => codeEditor.focus(),
    dispose() {
      if (disposed) return;
      disposed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const d of disposables) d.dispose();
      codeEditor.dispose();
      model.dispose();
      for (const child of [...container.children]) if (!ownChildren.has(child)) child.remove();
      styles.dispose();
    },
  };
}

/** Works around what Monaco gets wrong inside a shadow root. */
function keepInShadowRoot(
  root: ShadowRoot,
  container: HTMLElement,
  headBefore: Set<Element>,
  disposables: Array<{ dispose(): void }>,
): void {
  // The first editor's services put a stylesheet into document.head (context menu motion,
  // whose selectors standalone Monaco never matches); it belongs with the editor's styles.
  for (const child of [...document.head.children]) if (!headBefore.has(child) && child instanceof HTMLStyleElement) root.append(child);
  // microsoft/monaco-editor#3409: Monaco notices the mouse leaving the editor through a
  // document-level mousemove listener, which sees the shadow host as the target and so
  // hides every hover as soon as it opens. Moves over the editor need not reach the document.
  const keepMoveInside = (event: MouseEvent) => event.stopPropagation();
  container.addEventListener("mousemove", keepMoveInside);
  disposables.push({ dispose: () => container.removeEventListener("mousemove", keepMoveInside) });
}

/** Where Monaco finds its workers: the plugin build emits them next to its bundle. */
function useWorkersFrom(assetBaseUrl: string): void {
  const previous = globalThis.MonacoEnvironment;
  globalThis.MonacoEnvironment = {
    ...previous,
    getWorker: (_workerId: string, label: string) => {
      const url = new URL(label === "json" ? "json.worker.js" : "editor.worker.js", assetBaseUrl);
      if (url.origin === location.origin) return new Worker(url, { type: "module", name: label });
      // Browsers only start workers from the page's origin; a same-origin module that imports
      // the real one works wherever the asset host allows CORS (a CDN serving the plugin).
      const bootstrap = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};`], { type: "text/javascript" }));
      return new Worker(bootstrap, { type: "module", name: label });
    },
  };
}

/**
 * The JSON language is configured once per page (its defaults are global to Monaco): the
 * schema drives completions, hovers and snippets, while Monaco's own diagnostics stay off
 * because validateConfig's markers replace them (see diagnose.ts).
 */
function configureJson(): void {
  if (jsonConfigured) return;
  jsonConfigured = true;
  jsonDefaults.setDiagnosticsOptions({
    validate: false,
    allowComments: false,
    enableSchemaRequest: false,
    schemas: [
      { uri: schemaUri, fileMatch: [modelFileName], schema: configSchema },
      { uri: relativeSchemaUri, schema: configSchema },
    ],
  });
  jsonDefaults.setModeConfiguration({
    documentFormattingEdits: true,
    documentRangeFormattingEdits: true,
    completionItems: true,
    hovers: true,
    documentSymbols: false,
    tokens: true,
    colors: false,
    foldingRanges: true,
    diagnostics: false,
    selectionRanges: true,
  });
}

function registerDirectoryCompletions(model: editor.ITextModel, cache: DirectoryCache): { dispose(): void } {
  return languages.registerCompletionItemProvider("json", {
    triggerCharacters: ['"'],
    async provideCompletionItems(m, position, _context, token) {
      // The provider is registered for the language; other editors' models are not ours.
      if (m !== model) return undefined;
      const offset = m.getOffsetAt(position);
      const context = directoryCompletionContext(m.getValue(), offset);
      if (!context) return undefined;
      const start = m.getPositionAt(context.replace.offset);
      const end = m.getPositionAt(context.replace.offset + context.replace.length);
      // One range for inserting and replacing, as the JSON language's own suggestions have:
      // accepting replaces the whole string, closing quote included.
      const range = new Range(start.lineNumber, start.column, end.lineNumber, end.column);
      let lookup: Lookup<languages.CompletionItem>;
      if (context.kind === "ou") {
        const ous = await cache.ous();
        lookup = {
          complete: ous.complete,
          items: ous.items.map((ou) => ({
            label: { label: ou.dn, description: ou.name },
            kind: languages.CompletionItemKind.Folder,
            detail: "Organizational unit in the directory",
            insertText: JSON.stringify(ou.dn),
            filterText: JSON.stringify(ou.dn),
            sortText: `0${ou.dn}`,
            range,
          })),
        };
      } else if (context.kind === "group") {
        await new Promise((resolve) => setTimeout(resolve, groupSearchDelayMs));
        if (token.isCancellationRequested) return { suggestions: [], incomplete: true };
        const groups = await cache.groups(groupQuery(context.typed));
        // The directory already matched the typed text against names and descriptions, so
        // every answer is kept rather than filtered again against the DN.
        const typed = m.getValueInRange(new Range(start.lineNumber, start.column, position.lineNumber, position.column));
        lookup = {
          complete: false,
          items: groups.items.map((g) => ({
            label: { label: g.name, description: g.dn },
            kind: languages.CompletionItemKind.Reference,
            detail: g.description ?? "Group in the directory",
            documentation: g.dn,
            insertText: JSON.stringify(g.dn),
            filterText: typed,
            sortText: `0${g.name}`,
            range,
          })),
        };
      } else {
        const attributes = await cache.attributes();
        lookup = {
          complete: attributes.complete,
          items: attributes.items.map((a) => ({
            label: a.name,
            kind: languages.CompletionItemKind.Field,
            detail: "Attribute in the directory",
            ...(a.description ? { documentation: a.description } : {}),
            insertText: JSON.stringify(a.name),
            filterText: JSON.stringify(a.name),
            sortText: `0${a.name}`,
            range,
          })),
        };
      }
      // Incomplete lists are asked for again as the user types: groups for the new text, and
      // lookups that were still on their way.
      return { suggestions: lookup.items, incomplete: !lookup.complete };
    },
  });
}
