import { describe, expect, it } from "vitest";
import configSchema from "../../schema/config.schema.json" with { type: "json" };
import { type DirectoryValueKind, directoryCompletionContext, groupQuery } from "./completion-context.ts";

/** The text with "|" removed, and the offset where it was. */
function at(textWithCursor: string): [string, number] {
  const offset = textWithCursor.indexOf("|");
  return [textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1), offset];
}

function contextAt(textWithCursor: string) {
  return directoryCompletionContext(...at(textWithCursor));
}

describe("directoryCompletionContext", () => {
  it("asks for OUs inside a scope OU's dn, replacing the whole string", () => {
    const [text, offset] = at('{"scope": {"users": "ous", "ous": [{"dn": "OU=Sa|les,DC=example,DC=com"}]}}');
    const context = directoryCompletionContext(text, offset);
    expect(context?.kind).toBe("ou");
    expect(context?.typed).toBe("OU=Sa");
    expect(text.slice(context?.replace.offset, (context?.replace.offset ?? 0) + (context?.replace.length ?? 0))).toBe(
      '"OU=Sales,DC=example,DC=com"',
    );
  });

  it("asks for a value where none is typed yet", () => {
    const [text, offset] = at('{"extensionNumbers": {"ouRanges": [{"ou": |}]}}');
    expect(directoryCompletionContext(text, offset)).toEqual({
      kind: "ou",
      replace: { offset, length: 0 },
      typed: "",
      path: ["extensionNumbers", "ouRanges", 0, "ou"],
    });
  });

  it("knows every place the schema expects an OU, a group or an attribute", () => {
    const cases: Array<[string, DirectoryValueKind]> = [
      ['{"scope": {"ous": [{"dn": "|"}]}}', "ou"],
      ['{"extensionNumbers": {"ouRanges": [{"ranges": [], "ou": "|"}]}}', "ou"],
      ['{"organisation": {"templateExtensions": [{"ou": "|", "extension": "100"}]}}', "ou"],
      ['{"scope": {"groups": [{"dn": "|"}]}}', "group"],
      ['{"organisation": {"extensionGroups": {"groups": [{}, {"dn": "|"}]}}}', "group"],
      ['{"extensionNumbers": {"attribute": "|"}}', "attribute"],
      ['{"fields": {"mobile": {"attribute": "|"}}}', "attribute"],
      ['{"scope": {"exclude": [{"attribute": "|"}]}}', "attribute"],
      ['{"organisation": {"departments": {"attribute": "|"}}}', "attribute"],
      ['{"organisation": {"extensionGroups": {"attribute": "|"}}}', "attribute"],
    ];
    for (const [text, kind] of cases) expect(contextAt(text)?.kind, text).toBe(kind);
  });

  it("offers nothing at keys, elsewhere, deeper down or past the value", () => {
    expect(contextAt('{"scope": {"ous": [{"|dn": ""}]}}')).toBeUndefined();
    expect(contextAt('{"connection": {"baseDn": "|"}}')).toBeUndefined();
    expect(contextAt('{"scope": {"users": "|"}}')).toBeUndefined();
    expect(contextAt('{"scope": {"ous": [{"dn": {"x": "|"}}]}}')).toBeUndefined();
    expect(contextAt('{"scope": {"ous": [{"dn": [|]}]}}')).toBeUndefined();
    expect(contextAt('{"fields": {"mobile": {"attribute": "mobile", |}}}')).toBeUndefined();
  });

  it("unescapes what was typed, and copes with a half-typed escape", () => {
    expect(contextAt('{"scope": {"groups": [{"dn": "CN=Support \\\\(Tier|"}]}}')?.typed).toBe("CN=Support \\(Tier");
    expect(contextAt('{"scope": {"groups": [{"dn": "CN=A\\|"}]}}')?.typed).toBe("CN=A\\");
  });

  it("works in a document that is not valid JSON yet", () => {
    expect(contextAt('{"scope": {"ous": [{"dn": "OU=|')?.kind).toBe("ou");
    expect(contextAt('{"fields": {"email": {"attribute": "ma|" "sync": true}')?.typed).toBe("ma");
  });

  // The table in completion-context.ts is written by hand; this walks the schema for every
  // property typed as a DN or an attribute name, so a new one cannot be forgotten.
  it("covers every DN and attribute-name property of the schema", () => {
    const found = schemaPlaces();
    expect(found.length).toBeGreaterThan(10);
    for (const { path, ref } of found) {
      const text = documentWithValueAt(path);
      const kind = directoryCompletionContext(text, text.indexOf("|"))?.kind;
      if (ref === "attributeName") expect(kind, path.join("/")).toBe("attribute");
      // The base DN is usually the domain root, which is not an OU the directory lists.
      else if (path.join("/") === "connection/baseDn") expect(kind).toBeUndefined();
      else expect(["ou", "group"], path.join("/")).toContain(kind);
    }
  });
});

describe("groupQuery", () => {
  it("searches by the first RDN's value when a DN is being typed", () => {
    expect(groupQuery("CN=Sales Te")).toBe("Sales Te");
    expect(groupQuery("cn = Support \\(Tier 1\\),OU=Groups")).toBe("Support (Tier 1)");
    expect(groupQuery("CN=A\\,B,OU=x")).toBe("A,B");
  });

  it("searches by the text itself otherwise", () => {
    expect(groupQuery(" Sales ")).toBe("Sales");
    expect(groupQuery("")).toBe("");
  });
});

type SchemaNode = { $ref?: string; properties?: Record<string, SchemaNode>; items?: SchemaNode; allOf?: SchemaNode[] };

function schemaPlaces(): Array<{ path: string[]; ref: string }> {
  const defs = (configSchema as unknown as { $defs: Record<string, SchemaNode> }).$defs;
  const out: Array<{ path: string[]; ref: string }> = [];
  const walk = (node: SchemaNode | undefined, path: string[], depth: number) => {
    if (!node || depth > 20) return;
    const ref = node.$ref?.replace("#/$defs/", "");
    if (ref === "dn" || ref === "attributeName") out.push({ path, ref });
    else if (ref) walk(defs[ref], path, depth + 1);
    for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, [...path, name], depth + 1);
    if (node.items) walk(node.items, [...path, "0"], depth + 1);
    for (const part of node.allOf ?? []) walk(part, path, depth + 1);
  };
  walk(configSchema as unknown as SchemaNode, [], 0);
  return out;
}

/** A document with an empty string and the cursor at `path` ("0" segments are array items). */
function documentWithValueAt(path: string[]): string {
  let text = '"|"';
  for (let i = path.length - 1; i >= 0; i--) text = path[i] === "0" ? `[${text}]` : `{${JSON.stringify(path[i])}: ${text}}`;
  return text;
}
