// The part of Monaco this editor ships: the core API, the JSON language (tokens, schema
// completions, hovers, formatting, folding) and the editor features an administrator uses
// on a JSON document. Everything else (other languages, diff editor actions, command
// palette, inlay hints, sticky scroll, …) stays out of the chunk.
import "monaco-editor/features/codicon/register";
import "monaco-editor/features/hover/register";
// features/suggest/register brings only the inline-completion bridge; the suggest widget
// itself is the controller.
import "monaco-editor/editor/contrib/suggest/browser/suggestController";
import "monaco-editor/features/suggest/register";
import "monaco-editor/features/snippet/register";
import "monaco-editor/features/format/register";
import "monaco-editor/features/folding/register";
import "monaco-editor/features/bracketMatching/register";
import "monaco-editor/features/find/register";
import "monaco-editor/features/gotoError/register";
import "monaco-editor/features/clipboard/register";
import "monaco-editor/features/contextmenu/register";
import "monaco-editor/features/cursorUndo/register";
import "monaco-editor/features/wordOperations/register";
import "monaco-editor/features/linesOperations/register";
import "monaco-editor/features/multicursor/register";
import "monaco-editor/features/indentation/register";
import "monaco-editor/features/smartSelect/register";
import "monaco-editor/features/readOnlyMessage/register";

export { editor, KeyCode, KeyMod, languages, MarkerSeverity, Range, Uri } from "monaco-editor/editor";
export { jsonDefaults } from "monaco-editor/languages/features/json/register";
