// What a build that bundles editor/ must add to its esbuild options (Node side; the plugin's
// build imports this). With these, `await import(".../editor/src/config-editor.ts")` from an
// entry bundled with `splitting: true, format: "esm"` puts Monaco in chunks of its own:
//
//   await esbuild.build({
//     entryPoints: { index: "plugin/src/index.ts", ...editorWorkerEntryPoints },
//     bundle: true, splitting: true, format: "esm", outdir, minify: true,
//     loader: { ...editorLoaders }, plugins: [...editorPlugins],
//   });
//
// and the page passes `assetBaseUrl` = the URL of `outdir` (ending in "/") to
// createConfigEditor. The workers may also be built separately (any format, no splitting);
// they only have to land in that directory as editor.worker.js and json.worker.js, and
// are started as module workers.
//
// CSS: Monaco's ESM files import their stylesheets (`import "./x.css"`). Left to esbuild,
// these would be gathered into a .css file next to the bundle that the page would have to
// link, at document level, where it cannot style an editor inside a shadow root. The
// plugin below instead turns each of them into a call to registerMonacoCss() in
// src/monaco-styles.ts, so the CSS travels in the Monaco chunk, in import order, and only
// for the features the editor imports; createConfigEditor then adopts it into the
// container's shadow root as one constructed stylesheet. The codicon font file is emitted
// by the `file` loader (below, e.g. assets/codicon-HASH.ttf), found from the chunk's
// import.meta.url, and its @font-face is declared at document level, where Chrome loads
// fonts.
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Loader, Plugin } from "esbuild";

// By file path, not import.meta.resolve(): vitest's module runner (which loads this through
// the plugin build in the tests' global setup) does not implement import.meta.resolve.
const monaco = (path: string): string => fileURLToPath(new URL(`../node_modules/monaco-editor/esm/vs/${path}`, import.meta.url));

/** Output name (without .js) → module: Monaco's editor worker and JSON language worker. */
export const editorWorkerEntryPoints: Record<string, string> = {
  "editor.worker": monaco("editor/editor.worker.js"),
  "json.worker": monaco("languages/features/json/json.worker.js"),
};

/** The codicon font Monaco's stylesheet refers to, emitted next to the bundle. */
export const editorLoaders: Record<string, Loader> = { ".ttf": "file" };

const stylesModule = fileURLToPath(new URL("./src/monaco-styles.ts", import.meta.url));
const assetPlaceholder = "pbx-ad-sync-asset:"; // as in src/monaco-styles.ts
const monacoEsm = /[\\/]node_modules[\\/]monaco-editor[\\/]esm[\\/]/;

/** Delivers Monaco's stylesheets to src/monaco-styles.ts instead of a separate .css output. */
export const monacoCssPlugin: Plugin = {
  name: "pbx-ad-sync-monaco-css",
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      if (!monacoEsm.test(args.path)) return undefined;
      const assets: string[] = [];
      const source = (await readFile(args.path, "utf8")).replace(/url\((['"]?)([^'")]+)\1\)/g, (whole, _quote: string, target: string) => {
        if (/^(data:|https?:|#)/.test(target)) return whole;
        assets.push(target);
        return `url("${assetPlaceholder}${assets.length - 1}")`;
      });
      // The text goes into a JS string, where esbuild's CSS minifier would not reach it.
      const css = build.initialOptions.minify ? (await build.esbuild.transform(source, { loader: "css", minify: true })).code : source;
      const imports = assets.map((a, i) => `import asset${i} from ${JSON.stringify(a.startsWith(".") ? a : `./${a}`)};`);
      // The file loader gives a path relative to the chunk the import ends up in, which is
      // this module's own URL once bundled.
      const list = assets.map((_, i) => `new URL(asset${i}, import.meta.url).href`).join(", ");
      return {
        contents: `${imports.join("\n")}
import { registerMonacoCss } from ${JSON.stringify(stylesModule)};
registerMonacoCss(${JSON.stringify(css)}, [${list}]);
`,
        loader: "js",
        resolveDir: dirname(args.path),
      };
    });
  },
};

/**
 * Works around microsoft/monaco-editor#5162 (0.55 to at least 0.57): the JSON language's
 * worker client imports internal/common/workers.js, which imports every editor feature for
 * its side effects, undoing the per-feature entry points src/monaco.ts picks from. Only
 * those bare imports are dropped; what the module exports is untouched. Saves about 550 KiB
 * of minified code (145 KiB gzip) on opening the editor.
 */
export const monacoFeatureTrimPlugin: Plugin = {
  name: "pbx-ad-sync-monaco-feature-trim",
  setup(build) {
    build.onLoad({ filter: /[\\/]monaco-editor[\\/]esm[\\/]vs[\\/]internal[\\/]common[\\/]workers\.js$/ }, async (args) => ({
      contents: (await readFile(args.path, "utf8")).replace(/^import ['"][^'"]+['"];\s*$/gm, ""),
      loader: "js",
      resolveDir: dirname(args.path),
    }));
  },
};

export const editorPlugins: Plugin[] = [monacoCssPlugin, monacoFeatureTrimPlugin];
