// The page's styles, inside its shadow root. `all: initial` on the host cuts every inherited
// property the host page sets (fonts, line height, colours, text alignment), so a host's CSS
// can neither leak in nor break the layout; only the --adsync-* custom properties pass, on purpose.
export const styles = `
:host {
  all: initial;
  display: block;
  container-type: inline-size;
  --accent: var(--adsync-accent, #0b62c4);
  --bg: var(--adsync-background, #ffffff);
  --fg: var(--adsync-foreground, #1d2430);
  --muted: #5b6576;
  --line: #d7dce4;
  --panel: #f5f7fa;
  --ok: #1b7f3b;
  --warn: #9a5b00;
  --bad: #b3261e;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg);
  background: var(--bg);
}
:host([theme="dark"]) {
  --accent: var(--adsync-accent, #5aa2ff);
  --bg: var(--adsync-background, #161a21);
  --fg: var(--adsync-foreground, #e6e9ef);
  --muted: #a0a9b8;
  --line: #343b47;
  --panel: #1f242d;
  --ok: #5cc47d;
  --warn: #e0a84a;
  --bad: #ff7b72;
  color-scheme: dark;
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.page { padding: 16px 20px 32px; max-width: 1200px; }
header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; justify-content: space-between; }
h1 { font-size: 22px; margin: 0 0 8px; font-weight: 600; }
h2 { font-size: 18px; margin: 0 0 8px; font-weight: 600; }
h3 { font-size: 15px; margin: 16px 0 8px; }
h4 { font-size: 14px; margin: 0 0 4px; }
p { margin: 6px 0; }
.intro, .hint { color: var(--muted); }
small.hint { display: block; font-size: 12px; margin-top: 2px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
button {
  font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: 6px 14px; cursor: pointer; min-height: 32px;
}
button:hover:not(:disabled) { border-color: var(--accent); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); border-color: var(--bad); }
button.link { border: none; background: none; color: var(--accent); padding: 0; min-height: 0; text-decoration: underline; }
button.small { padding: 2px 8px; min-height: 0; }
button:disabled { opacity: .5; cursor: not-allowed; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
input, select, textarea {
  font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: 6px 8px; width: 100%; min-height: 32px;
}
textarea { resize: vertical; }
input[type="checkbox"] { width: auto; min-height: 0; }
label { font-weight: 600; display: block; margin-bottom: 4px; }
.field { margin: 0; min-width: 0; }
.field.checkbox label { font-weight: normal; display: flex; gap: 8px; align-items: center; }
.field.inline { display: flex; align-items: center; gap: 8px; }
.field.inline label { margin: 0; white-space: nowrap; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px 20px; margin: 12px 0; }
.actions, .toolbar { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; margin: 12px 0; }
.toolbar .counts { margin-left: auto; color: var(--muted); }
.toolbar .counts.has-errors { color: var(--bad); font-weight: 600; }
.inline-form { display: flex; gap: 8px; align-items: end; margin: 12px 0; flex-wrap: wrap; }
.inline-form .field { flex: 1 1 240px; }
.tabs { display: flex; gap: 2px; border-bottom: 1px solid var(--line); margin: 12px 0 16px; overflow-x: auto; scrollbar-width: thin; }
.tabs [role="tab"] { border: none; border-bottom: 3px solid transparent; border-radius: 0; background: none; padding: 8px 14px; white-space: nowrap; }
.tabs [role="tab"][aria-selected="true"] { border-bottom-color: var(--accent); color: var(--accent); font-weight: 600; }
section[role="tabpanel"]:focus { outline: none; }
.banner { border-radius: 8px; padding: 10px 14px; margin: 8px 0; background: #fdecea; color: #611a15; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.banner.agent { background: #fff4e5; color: #663c00; }
.banner button { margin-left: auto; }
.pill { display: inline-block; border-radius: 999px; padding: 2px 10px; font-size: 12px; background: var(--panel); border: 1px solid var(--line); }
.pill.online { color: var(--ok); border-color: var(--ok); }
.pill.offline { color: var(--bad); border-color: var(--bad); }
.error { color: var(--bad); }
.ok { color: var(--ok); }
.warning { color: var(--warn); }
.progress, .progress-text { color: var(--muted); }
progress { width: 100%; height: 10px; accent-color: var(--accent); }
.steps { list-style: none; padding: 0; margin: 12px 0; display: grid; gap: 8px; }
.step { border: 1px solid var(--line); border-left-width: 4px; border-radius: 6px; padding: 8px 12px; display: grid; grid-template-columns: auto 1fr auto; gap: 2px 10px; align-items: baseline; }
.step.ok { border-left-color: var(--ok); }
.step.failed { border-left-color: var(--bad); }
.step.warning { border-left-color: var(--warn); }
.step.skipped { opacity: .7; }
.step .badge { font-size: 12px; font-weight: 600; text-transform: uppercase; }
.step.ok .badge { color: var(--ok); }
.step.failed .badge { color: var(--bad); }
.step.warning .badge { color: var(--warn); }
.step .duration { color: var(--muted); font-size: 12px; }
.step .detail, .step .fix { grid-column: 1 / -1; margin: 2px 0; }
.step .fix { background: var(--panel); border-radius: 4px; padding: 6px 8px; }
.editor-host { height: 460px; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; position: relative; }
.editor-host > .progress { padding: 16px; }
.problems { list-style: none; padding: 0; margin: 8px 0; font-size: 13px; }
.problems li { padding: 3px 0; }
.problems li.error::before { content: "✕ "; color: var(--bad); }
.problems li.warning::before { content: "! "; color: var(--warn); font-weight: 700; }
.problems .where { color: var(--muted); }
.problems code { margin-left: 6px; color: var(--muted); }
.gallery { border: 1px solid var(--line); border-radius: 8px; padding: 12px; margin: 8px 0; background: var(--panel); }
.cards { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px; display: flex; flex-direction: column; gap: 6px; }
.card p { flex: 1; font-size: 13px; color: var(--muted); }
.tag { display: inline-block; font-size: 11px; background: var(--panel); border-radius: 4px; padding: 1px 6px; margin-right: 4px; }
.changes li.added strong { color: var(--ok); }
.changes li.removed strong { color: var(--bad); }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; position: sticky; top: 0; }
tr.selected td { background: var(--panel); }
tr.disabled td { color: var(--muted); }
td.number { font-variant-numeric: tabular-nums; white-space: nowrap; }
.dn { color: var(--muted); font-size: 12px; word-break: break-all; }
.diff { margin: 0; padding-left: 16px; }
del { color: var(--bad); }
ins { color: var(--ok); text-decoration: none; }
.summary { display: flex; gap: 6px; flex-wrap: wrap; margin: 8px 0; }
.chip { display: inline-block; border-radius: 999px; padding: 2px 10px; font-size: 12px; border: 1px solid var(--line); background: var(--panel); min-height: 0; }
button.chip[aria-pressed="true"] { outline: 2px solid var(--accent); }
.chip.create, .chip.enable, .chip.adopt { color: var(--ok); }
.chip.update { color: var(--accent); }
.chip.disable, .chip.conflict { color: var(--warn); }
.chip.delete { color: var(--bad); }
.filters { display: flex; gap: 16px; flex-wrap: wrap; margin: 8px 0; }
.held { border: 1px solid var(--warn); border-radius: 8px; padding: 10px 14px; margin: 12px 0; }
.run-status.failed, .run-status.partial, .type.error { color: var(--bad); }
.run-status.succeeded, .run-status.previewed { color: var(--ok); }
.type.warning, .run-status.awaiting-approval, .run-status.missed, .run-status.cancelled { color: var(--warn); }
.login-outcome.success { color: var(--ok); }
.login-outcome.failure { color: var(--bad); }
.login-outcome.blocked, .login-outcome.unavailable { color: var(--warn); }
.created { margin: 12px 0; }
.created:empty { display: none; }
@container (max-width: 720px) {
  .page { padding: 12px; }
  .grid { grid-template-columns: minmax(0, 1fr); }
  .toolbar .counts { margin-left: 0; width: 100%; }
  .editor-host { height: 360px; }
  /* Tables keep readable columns and scroll inside their wrapper instead of squeezing. */
  .table-wrap > table { min-width: 640px; }
  .step { grid-template-columns: auto 1fr; }
  .step .duration { grid-column: 1 / -1; }
}
`;
