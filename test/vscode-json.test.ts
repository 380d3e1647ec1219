import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { CompletionList, Diagnostic, LanguageService, Position, Range } from "vscode-json-languageservice";
import jsonService from "vscode-json-languageservice";

// The package is CommonJS (UMD); Node's named-export detection misses most of its exports.
const { getLanguageService, TextDocument, ClientCapabilities, DiagnosticSeverity, ErrorCode, isSchemaResolveError } = jsonService;

interface SchemaNode {
  description?: string;
  markdownDescription?: string;
  type?: string;
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  defaultSnippets?: Array<{ label: string; body?: unknown }>;
  $defs?: Record<string, SchemaNode>;
}

const schemaDir = new URL("../schema/", import.meta.url);
const templatesDir = new URL("templates/", schemaDir);
const schemaUri = new URL("config.schema.json", schemaDir).href;
const schema = JSON.parse(await readFile(new URL(schemaUri), "utf8")) as SchemaNode;
const templateNames = (await readdir(templatesDir)).filter((name) => name.endsWith(".json")).sort();
const templateUri = (name: string) => new URL(name, templatesDir).href;
const readTemplate = (name: string) => readFile(new URL(templateUri(name)), "utf8");
// In-memory documents sit next to the real templates so their "../config.schema.json" resolves the same way.
const scratchUri = templateUri("untitled-partner-config.json");

const def = (name: string): SchemaNode => {
  const node = schema.$defs?.[name];
  if (!node) throw new Error(`schema has no $defs/${name}`);
  return node;
};
const prop = (node: SchemaNode, name: string): SchemaNode => {
  const child = node.properties?.[name];
  if (!child) throw new Error(`schema node has no property ${name}`);
  return child;
};

// Mirrors the VS Code JSON language server: no schema associations, a workspace context that resolves
// $schema against the document's folder, and a request service that reads file:// URIs from disk.
const createService = () => {
  const requested: string[] = [];
  const resolved: Array<{ relativePath: string; resource: string; result: string }> = [];
  const service = getLanguageService({
    schemaRequestService: async (uri) => {
      requested.push(uri);
      if (!uri.startsWith("file:")) throw new Error(`test has no network: ${uri}`);
      return readFile(fileURLToPath(uri), "utf8");
    },
    workspaceContext: {
      resolveRelativePath: (relativePath, resource) => {
        const base = resource.substring(0, resource.lastIndexOf("/") + 1);
        const result = new URL(relativePath, base).href;
        resolved.push({ relativePath, resource, result });
        return result;
      },
    },
    clientCapabilities: ClientCapabilities.LATEST,
  });
  service.configure({ validate: true, allowComments: true, schemas: [] });
  return { service, requested, resolved };
};

const open = (service: LanguageService, uri: string, text: string) => {
  const document = TextDocument.create(uri, "json", 1, text);
  return { document, jsonDocument: service.parseJSONDocument(document) };
};

// VS Code's settings for languageId "json" (as opposed to "jsonc").
const validate = (service: LanguageService, uri: string, text: string) => {
  const { document, jsonDocument } = open(service, uri, text);
  return service.doValidation(document, jsonDocument, { comments: "error", trailingCommas: "error" });
};

// Computed from the raw text, independently of the language service's own line bookkeeping.
const positionAt = (text: string, offset: number): Position => {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length - 1, character: (before.at(-1) ?? "").length };
};
const rangeOf = (text: string, needle: string, from = 0): Range => {
  const offset = text.indexOf(needle, from);
  if (offset < 0) throw new Error(`${needle} not found`);
  if (text.indexOf(needle, offset + 1) >= 0) throw new Error(`${needle} occurs more than once`);
  return { start: positionAt(text, offset), end: positionAt(text, offset + needle.length) };
};

const messageOf = (d: Diagnostic) => (typeof d.message === "string" ? d.message : d.message.value);
const isSchemaLoadProblem = (d: Diagnostic) =>
  (typeof d.code === "number" && (isSchemaResolveError(d.code) || d.code === ErrorCode.SchemaUnsupportedFeature)) ||
  /unable to load|problems loading|can not be resolved|not yet supported|not supported|unable to parse/i.test(messageOf(d));

const complete = async (service: LanguageService, textWithCursor: string) => {
  const offset = textWithCursor.indexOf("|");
  const text = textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1);
  const { document, jsonDocument } = open(service, scratchUri, text);
  const list: CompletionList | null = await service.doComplete(document, positionAt(text, offset), jsonDocument);
  return list?.items ?? [];
};

const hoverText = async (service: LanguageService, uri: string, text: string, key: string) => {
  const { document, jsonDocument } = open(service, uri, text);
  const keyRange = rangeOf(text, key);
  const hover = await service.doHover(document, { ...keyRange.start, character: keyRange.start.character + 1 }, jsonDocument);
  const contents = hover?.contents;
  return { range: hover?.range, text: Array.isArray(contents) ? contents.join("\n") : JSON.stringify(contents), keyRange };
};

// doHover turns a plain description into markdown by backslash-escaping punctuation.
const unescapeMarkdown = (s: string) => s.replace(/\\(.)/g, "$1");

describe("partner templates in VS Code's JSON language service", () => {
  it("has templates to check", () => {
    expect(templateNames.length).toBeGreaterThan(0);
  });

  it.each(templateNames)("%s validates cleanly against the schema named by its own $schema", async (name) => {
    const text = await readTemplate(name);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)[0]).toBe("$schema");
    expect(parsed.$schema).toBe("../config.schema.json");

    const { service, requested, resolved } = createService();
    const diagnostics = await validate(service, templateUri(name), text);

    expect(diagnostics.filter(isSchemaLoadProblem)).toEqual([]);
    expect(diagnostics).toEqual([]);
    expect(resolved).toContainEqual({ relativePath: "../config.schema.json", resource: templateUri(name), result: schemaUri });
    expect(requested).toEqual([schemaUri]);
    const { document, jsonDocument } = open(service, templateUri(name), text);
    expect(service.getLanguageStatus(document, jsonDocument).schemas).toEqual([schemaUri]);

    // The same service, same folder, one unknown key: proves the zero above came from applying our schema.
    const broken = JSON.stringify({ ...parsed, bogusSetting: true }, null, 2);
    const brokenDiagnostics = await validate(service, scratchUri, broken);
    expect(brokenDiagnostics).toEqual([
      expect.objectContaining({ range: rangeOf(broken, '"bogusSetting"'), message: expect.stringMatching(/bogusSetting.*not allowed/) }),
    ]);
  });
});

describe("diagnostics on a broken copy of a template", () => {
  const baseName = "whole-domain-sequential.json";
  interface TemplateConfig {
    scope: Record<string, unknown>;
    extensionNumbers: Record<string, unknown>;
    [key: string]: unknown;
  }
  const brokenCopy = async (mutate: (config: TemplateConfig) => void) => {
    const config = JSON.parse(await readTemplate(baseName)) as TemplateConfig;
    mutate(config);
    const text = JSON.stringify(config, null, 2);
    const { service } = createService();
    return { text, diagnostics: await validate(service, scratchUri, text) };
  };

  it("flags an unknown property on the property name", async () => {
    const { text, diagnostics } = await brokenCopy((c) => {
      c.scope.password = "x";
    });
    expect(diagnostics).toEqual([
      expect.objectContaining({
        range: rangeOf(text, '"password"'),
        message: expect.stringMatching(/\bpassword\b.*not allowed/),
        severity: DiagnosticSeverity.Warning,
      }),
    ]);
  });

  it("flags a value outside the enum on the value and lists the allowed values", async () => {
    const { text, diagnostics } = await brokenCopy((c) => {
      c.schedule = { mode: "weekly" };
    });
    expect(diagnostics).toEqual([
      expect.objectContaining({
        range: rangeOf(text, '"weekly"'),
        code: ErrorCode.EnumValueMismatch,
        severity: DiagnosticSeverity.Warning,
      }),
    ]);
    const allowed = prop(def("schedule"), "mode").enum ?? [];
    expect(allowed.length).toBeGreaterThan(0);
    const message = diagnostics[0] ? messageOf(diagnostics[0]) : "";
    for (const value of allowed) expect(message).toContain(JSON.stringify(value));
  });

  it("flags a range without its end on the range object", async () => {
    const { text, diagnostics } = await brokenCopy((c) => {
      c.extensionNumbers.ranges = [{ start: "1000" }];
    });
    // A missing property in an array item is reported on the item's opening brace.
    const brace = text.indexOf("{", text.indexOf('"ranges": ['));
    expect(diagnostics).toEqual([
      expect.objectContaining({
        range: { start: positionAt(text, brace), end: positionAt(text, brace + 1) },
        message: expect.stringMatching(/Missing property "end"/),
        severity: DiagnosticSeverity.Warning,
      }),
    ]);
  });

  it("flags a string where the connection wants an integer", async () => {
    const { text, diagnostics } = await brokenCopy((c) => {
      c.connection = {
        domainControllers: [{ host: "dc1.example.com" }],
        bindUsername: "svc-pbx@example.com",
        bindPassword: { source: "stored" },
        baseDn: "DC=example,DC=com",
        pageSize: "500",
      };
    });
    const expectedType = prop(def("connection"), "pageSize").type;
    expect(expectedType).toBe("integer");
    expect(diagnostics).toEqual([
      expect.objectContaining({
        range: rangeOf(text, '"500"'),
        message: expect.stringContaining(`Expected "${expectedType}"`),
        severity: DiagnosticSeverity.Warning,
      }),
    ]);
  });
});

describe("hover", () => {
  it("shows the schema's description over includeDisabled", async () => {
    const name = "sales-support-ipphone.json";
    const text = await readTemplate(name);
    const includeDisabled = prop(def("scope"), "includeDisabled");
    const expected = includeDisabled.markdownDescription ?? includeDisabled.description ?? "";
    expect(expected).toContain("userAccountControl");

    const { service } = createService();
    const hover = await hoverText(service, templateUri(name), text, '"includeDisabled"');
    expect(hover.range).toEqual(hover.keyRange);
    expect(includeDisabled.markdownDescription ? hover.text : unescapeMarkdown(hover.text)).toContain(expected);
  });

  it("prefers markdownDescription, verbatim, over description", async () => {
    const name = "telephone-last-three-digits.json";
    const text = await readTemplate(name);
    const filter = prop(def("scope"), "filter");
    expect(filter.markdownDescription).toBeDefined();
    expect(filter.markdownDescription).not.toBe(filter.description);

    const { service } = createService();
    const hover = await hoverText(service, templateUri(name), text, '"filter"');
    expect(hover.text).toContain(filter.markdownDescription);
  });
});

describe("hover on properties that share a definition", () => {
  // The language service copies a $ref'd definition over the property; the property's own
  // text must survive, so shared definitions carry no description of their own.
  it.each<[string, string, string, string]>([
    ["whole-domain-sequential.json", '"end"', "numberRange", "end"],
    ["whole-domain-sequential.json", '"whenDeleted"', "deprovisioning", "whenDeleted"],
    ["phone-users-group-archive.json", '"extension"', "archive", "extension"],
  ])("%s: %s shows its own description", async (name, key, definition, property) => {
    const text = await readTemplate(name);
    const node = definition === "archive" ? prop(prop(def("deprovisioning"), "archive"), property) : prop(def(definition), property);
    const { service } = createService();
    const hover = await hoverText(service, templateUri(name), text, key);
    expect(unescapeMarkdown(hover.text)).toContain(node.description);
  });
});

describe("completion", () => {
  const topLevel = Object.keys(schema.properties ?? {});

  it("offers every top-level property in an empty configuration", async () => {
    const items = await complete(createService().service, '{\n  "$schema": "../config.schema.json",\n  |\n}');
    const labels = items.map((i) => i.label);
    expect(labels).toEqual(expect.arrayContaining(["connection", "scope", "extensionNumbers"]));
    expect(new Set(labels)).toEqual(new Set(topLevel.filter((k) => k !== "$schema")));
  });

  it("offers only the top-level properties a template does not have yet", async () => {
    const text = await readTemplate("whole-domain-sequential.json");
    const present = Object.keys(JSON.parse(text) as object);
    const cursorAfter = text.indexOf("{") + 1;
    const items = await complete(createService().service, `${text.slice(0, cursorAfter)}\n  |${text.slice(cursorAfter)}`);
    expect(new Set(items.map((i) => i.label))).toEqual(new Set(topLevel.filter((k) => !present.includes(k))));
  });

  it("offers the schedule snippets as the value of schedule", async () => {
    const snippets = def("schedule").defaultSnippets ?? [];
    expect(snippets.map((s) => s.label)).toContain("Daily");

    const { service } = createService();
    // Picking "schedule" from the property list inserts just the key and re-triggers suggest, landing here.
    const property = (await complete(service, '{\n  "$schema": "../config.schema.json",\n  |\n}')).find((i) => i.label === "schedule");
    expect(property?.command?.command).toBe("editor.action.triggerSuggest");

    const items = await complete(service, '{\n  "$schema": "../config.schema.json",\n  "schedule": |\n}');
    expect(items.map((i) => i.label)).toEqual(snippets.map((s) => s.label));
    const daily = items.find((i) => i.label === "Daily");
    expect(daily?.insertText).toMatch(/"mode": "daily"/);
  });

  it("offers the schedule's properties inside its braces", async () => {
    const items = await complete(createService().service, '{\n  "$schema": "../config.schema.json",\n  "schedule": { | }\n}');
    expect(new Set(items.map((i) => i.label))).toEqual(new Set(Object.keys(def("schedule").properties ?? {})));
  });
});
