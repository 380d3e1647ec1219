// Monaco's stylesheets reach this module through the esbuild plugin in ../bundle-entries.ts:
// each `import "….css"` inside monaco-editor becomes a call to registerMonacoCss, in import
// order. They are then adopted into the shadow root the editor is mounted in, never into
// the host page's document, except for @font-face rules: Chrome ignores fonts declared
// inside a shadow root, so the codicon font is declared at document level.

/** Prefix of the placeholders the bundler plugin puts where a stylesheet referred to a file. */
export const assetPlaceholder = "pbx-ad-sync-asset:";

const parts: Array<{ css: string; assets: readonly string[] }> = [];

/** Called by the bundle, once per Monaco stylesheet; `assets` are the URLs of the bundled files its placeholders stand for. */
export function registerMonacoCss(css: string, assets: readonly string[] = []): void {
  parts.push({ css, assets });
  built = undefined;
}

let built: { baseUrl: string; rules: CSSStyleSheet; fonts: CSSStyleSheet } | undefined;
const users = new Map<Document | ShadowRoot, number>();

export interface StyleScope {
  /** The number of stylesheets Monaco registered; 0 means the bundle lacks the plugin. */
  readonly registered: number;
  dispose(): void;
}

/**
 * Makes Monaco's styles apply inside `root`. The bundle gives the codicon font's URL as an
 * absolute one; a relative one (another bundler) is taken relative to `assetBaseUrl`.
 */
export function adoptMonacoStyles(root: Document | ShadowRoot, assetBaseUrl: string): StyleScope {
  const sheets = stylesheets(assetBaseUrl);
  const document = root.ownerDocument ?? (root as Document);
  adopt(document, sheets.fonts);
  adopt(root, sheets.rules);
  users.set(root, (users.get(root) ?? 0) + 1);
  let disposed = false;
  return {
    registered: parts.length,
    dispose() {
      if (disposed) return;
      disposed = true;
      const left = (users.get(root) ?? 1) - 1;
      if (left > 0) {
        users.set(root, left);
        return;
      }
      users.delete(root);
      root.adoptedStyleSheets = root.adoptedStyleSheets.filter((s) => s !== sheets.rules);
      // The font stays declared: removing it would only make a later editor fetch it again.
    },
  };
}

function stylesheets(baseUrl: string): { rules: CSSStyleSheet; fonts: CSSStyleSheet } {
  if (built?.baseUrl === baseUrl) return built;
  const fontFaces: string[] = [];
  const rules = parts
    .map(({ css, assets }) => resolveAssets(css, assets, baseUrl))
    .join("\n")
    .replace(/@font-face\s*\{[^}]*\}/g, (rule) => {
      fontFaces.push(rule);
      return "";
    });
  // One constructed sheet shared by every root: parsed once, however many editors are open.
  built = { baseUrl, rules: sheet(rules), fonts: sheet(fontFaces.join("\n")) };
  return built;
}

function resolveAssets(css: string, assets: readonly string[], baseUrl: string): string {
  // Minified CSS may have dropped the quotes around the placeholder; the URL gets them back.
  return css.replace(new RegExp(`url\\((["']?)${assetPlaceholder}(\\d+)\\1\\)`, "g"), (_, _quote: string, i: string) => {
    const asset = assets[Number(i)];
    return asset === undefined ? "none" : `url(${JSON.stringify(new URL(asset, baseUrl).href)})`;
  });
}

function sheet(text: string): CSSStyleSheet {
  const s = new CSSStyleSheet();
  s.replaceSync(text);
  return s;
}

function adopt(root: Document | ShadowRoot, s: CSSStyleSheet): void {
  if (!root.adoptedStyleSheets.includes(s)) root.adoptedStyleSheets = [...root.adoptedStyleSheets, s];
}
