// The partner templates under schema/templates/, put in by plugin/build.ts at build time.
declare module "adsync:templates" {
  export const templates: ReadonlyArray<{ file: string; document: Record<string, unknown> }>;
}
