import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import standaloneCode from "ajv/dist/standalone/index.js";
import { compile } from "json-schema-to-typescript";

const schemaDir = fileURLToPath(new URL("../schema/", import.meta.url));
export const schemaPath = `${schemaDir}config.schema.json`;

/** Editor-only keywords (VS Code / Monaco); ajv's strict mode must know them to accept the schema. */
export const editorKeywords = ["markdownDescription", "defaultSnippets", "deprecationMessage", "errorMessage"];

const banner = (what: string) =>
  `/* ${what}, generated from schema/config.schema.json by \`adsync types\`. Do not edit: change the schema and regenerate. */`;

export interface GeneratedFile {
  path: string;
  contents: string;
}

/**
 * The schema's derived files: TypeScript types, and the validator as ajv standalone code.
 * The validator is compiled here, at build time, because Workers refuse `new Function`,
 * which is how ajv compiles at run time.
 */
export async function generateSchemaArtifacts(schemaText?: string): Promise<GeneratedFile[]> {
  const schema = JSON.parse(schemaText ?? (await readFile(schemaPath, "utf8"))) as Record<string, unknown>;

  const ajv = new Ajv2020.default({
    allErrors: true,
    strict: true,
    strictRequired: false,
    code: { source: true, esm: true },
    keywords: editorKeywords,
  });
  const validate = ajv.compile(schema);
  const validatorSource = [banner("Schema validator"), "// @ts-nocheck", inlineRuntime(standaloneCode.default(ajv, validate)), ""].join(
    "\n",
  );
  const validatorTypes = [
    banner("Types of the schema validator"),
    'import type { ErrorObject } from "ajv";',
    "export interface SchemaValidator {",
    "  (data: unknown): boolean;",
    "  errors?: ErrorObject[] | null;",
    "}",
    "declare const validate: SchemaValidator;",
    "export default validate;",
    "",
  ].join("\n");

  const types = await compile(schema as never, "SyncConfig", {
    bannerComment: banner("Types of a sync configuration"),
    additionalProperties: false,
    unreachableDefinitions: false,
    strictIndexSignatures: true,
    unknownAny: true,
    format: true,
    style: { printWidth: 120, singleQuote: false, trailingComma: "all" },
  });

  return [
    { path: `${schemaDir}generated/config.ts`, contents: types },
    { path: `${schemaDir}generated/validate-schema.js`, contents: validatorSource },
    { path: `${schemaDir}generated/validate-schema.d.ts`, contents: validatorTypes },
  ];
}

/**
 * ajv's ESM standalone output still `require`s its runtime helpers (ajv-validator/ajv#2209),
 * which neither Workers nor browsers have. The only one this schema uses is ucs2length
 * (maxLength counts code points, not UTF-16 units); inline it, and refuse any other.
 */
function inlineRuntime(source: string): string {
  const inlined = source.replace(
    /const (\w+) = require\("ajv\/dist\/runtime\/ucs2length"\)\.default;/g,
    "const $1 = (s) => { let n = 0; for (const _ of s) n++; return n; };",
  );
  const leftover = /require\("[^"]+"\)/.exec(inlined);
  if (leftover) throw new Error(`the generated validator needs ${leftover[0]}; inline it in cli/codegen.ts`);
  return inlined;
}

/** Files whose committed contents differ from what the schema generates now. */
export async function staleArtifacts(schemaText?: string): Promise<string[]> {
  const stale: string[] = [];
  for (const file of await generateSchemaArtifacts(schemaText)) {
    const current = await readFile(file.path, "utf8").catch(() => "");
    if (current !== file.contents) stale.push(file.path);
  }
  return stale;
}

export async function writeSchemaArtifacts(): Promise<string[]> {
  const files = await generateSchemaArtifacts();
  for (const file of files) await writeFile(file.path, file.contents);
  return files.map((f) => f.path);
}
