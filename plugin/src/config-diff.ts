// What applying a template would change, as an administrator reads it: one line per setting
// that is added, removed or changed, by its dotted path. Arrays compare as whole values,
// because "scope.ous[1].dn changed" says less than the old and new list side by side.

export interface ConfigChange {
  path: string;
  kind: "added" | "removed" | "changed";
  from?: unknown;
  to?: unknown;
}

export function configChanges(before: unknown, after: unknown, path = ""): ConfigChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => {
      const at = path === "" ? key : `${path}.${key}`;
      if (!(key in after)) return [{ path: at, kind: "removed" as const, from: before[key] }];
      if (!(key in before)) return [{ path: at, kind: "added" as const, to: after[key] }];
      return configChanges(before[key], after[key], at);
    });
  }
  return sameValue(before, after) ? [] : [{ path, kind: "changed", from: before, to: after }];
}

/**
 * A template describes a sync, not a site: applying it keeps the tenant's own connection and
 * replaces the rest, so a partner's example domain never lands in a customer's connection.
 */
export function applyTemplate(current: Record<string, unknown> | null, template: Record<string, unknown>): Record<string, unknown> {
  // $schema points into the partner's checkout; the editor has the schema already.
  const { connection: _ignored, $schema: _path, ...rest } = template;
  const result: Record<string, unknown> = { ...rest };
  if (current?.connection !== undefined) result.connection = current.connection;
  // Keep the order a reader expects: metadata, connection, then the template's sections.
  const ordered: Record<string, unknown> = {};
  for (const key of ["metadata", "connection"]) if (key in result) ordered[key] = result[key];
  for (const [key, value] of Object.entries(result)) if (!(key in ordered)) ordered[key] = value;
  return ordered;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
