import { readFile } from "node:fs/promises";
import { schemaPath, staleArtifacts, writeSchemaArtifacts } from "./codegen.ts";
import { devToken, parseDevTokenArgs } from "./dev-token.ts";
import { previewCommand, previewUsage } from "./preview.ts";
import { UsageError, validateFiles } from "./validate.ts";

const usage = `usage: adsync <command> [options]

commands:
  validate FILE...   check sync configurations and partner templates against the schema
                     (file:line:col diagnostics; exit 1 on any error, 2 on unreadable input)
  schema             print the configuration JSON Schema
  types [--check]    regenerate the TypeScript types and validator from the schema
                     (--check: only report whether the committed ones are stale)
  ${previewUsage}
  dev-token --tenant T [--role admin|viewer] [--hours 8]
                     print an administrator token for the local worker (npm start),
                     signed with the development secret in .dev.vars (made if missing)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "validate":
      return validateFiles(args, process.stdout, process.stderr);
    case "schema":
      process.stdout.write(await readFile(schemaPath, "utf8"));
      return 0;
    case "types": {
      if (args.includes("--check")) {
        const stale = await staleArtifacts();
        for (const file of stale) process.stderr.write(`adsync: ${file} is stale: run \`adsync types\` (npm run generate) and commit it\n`);
        return stale.length > 0 ? 1 : 0;
      }
      for (const file of await writeSchemaArtifacts()) process.stdout.write(`wrote ${file}\n`);
      return 0;
    }
    case "preview":
      return previewCommand(args, process.stdout, process.stderr);
    case "dev-token":
      process.stdout.write(`${await devToken(parseDevTokenArgs(args))}\n`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${usage}\n`);
      return 0;
    default:
      throw new UsageError(command === undefined ? "no command given" : `unknown command "${command}"`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`adsync: ${e.message}\n${usage}\n`);
    process.exitCode = 2;
  } else {
    // A partner's terminal gets one line, never a stack trace.
    process.stderr.write(`adsync: unexpected failure: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 70;
  }
}
