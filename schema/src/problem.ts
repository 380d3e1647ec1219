/** One finding about a configuration document, positioned by JSON pointer (RFC 6901). */
export interface Problem {
  /** JSON pointer into the document, e.g. "/scope/ous/0/dn"; "" is the whole document. */
  path: string;
  message: string;
  /** error: the configuration cannot be saved or run. warning: it can, but probably not as meant. */
  severity: "error" | "warning";
}

/** Appends RFC 6901-escaped segments to a JSON pointer. */
export function pointer(base: string, ...segments: Array<string | number>): string {
  return segments.reduce<string>((p, s) => `${p}/${String(s).replaceAll("~", "~0").replaceAll("/", "~1")}`, base);
}

/** Splits a JSON pointer into its unescaped segments. */
export function pointerSegments(path: string): string[] {
  if (path === "") return [];
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}
