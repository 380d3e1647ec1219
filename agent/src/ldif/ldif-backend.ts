// The agent answering from a directory file instead of a domain controller: the sample
// directory `npm start` runs on, or a customer's export for a dry run. Searches, the OU tree,
// Test Connection's base DN and scope checks are the same code as against a DC; what only a
// DC has (a network path, TLS, a bind, passwords to check) is reported as not applicable.
import type { AuthenticateResult, TestConnectionResult, UserAttribute } from "../../../schema/src/agent-protocol.ts";
import { byAttributeName, readOuTree } from "../ldap/directory.ts";
import { ALWAYS_BINARY, type PagedSearch } from "../ldap/search.ts";
import { checkBaseDn, checkScope, connectionStep } from "../ldap/test-connection.ts";
import type { DirectoryBackend } from "../operations.ts";
import type { LdifDirectory } from "./ldif-directory.ts";

const USERS = "(&(objectCategory=person)(objectClass=user))";
const binary = new Set(ALWAYS_BINARY.map((a) => a.toLowerCase()));

export function ldifBackend(directory: LdifDirectory, source: string): DirectoryBackend {
  const search: PagedSearch = (spec) => directory.search(spec);
  return {
    async testConnection(target, scope): Promise<TestConnectionResult> {
      const started = performance.now();
      const baseDn = target.connection.baseDn;
      const steps = [
        connectionStep(
          "reachable",
          {
            status: "ok",
            detail: `This agent reads the directory file ${source} (${directory.size} entries) instead of a domain controller.`,
            code: "directory_file",
          },
          performance.now() - started,
        ),
        connectionStep("tls", { status: "skipped", detail: "Not applicable: no network connection to a domain controller." }, 0),
        connectionStep("bind", { status: "skipped", detail: "Not applicable: a directory file has no sign-in." }, 0),
      ];
      let at = performance.now();
      const base = await checkBaseDn(baseDn, search, source);
      steps.push(connectionStep("baseDn", base, performance.now() - at));
      if (base.status === "failed") {
        steps.push(connectionStep("scope", { status: "skipped", detail: "Not checked: an earlier step failed." }, 0));
        return { ok: false, server: source, steps };
      }
      at = performance.now();
      const inScope = await checkScope(baseDn, search, scope);
      steps.push(connectionStep("scope", inScope, performance.now() - at));
      const result: TestConnectionResult = { ok: inScope.status !== "failed", server: source, steps };
      if (inScope.counts !== undefined) result.counts = inScope.counts;
      return result;
    },

    listOus: (target) => readOuTree(search, target.connection.baseDn),

    // A file carries no schema: the attributes its users actually have are what it can offer.
    async listUserAttributes(target): Promise<UserAttribute[]> {
      const seen = new Map<string, UserAttribute>();
      for await (const page of search({ base: target.connection.baseDn, scope: "sub", filter: USERS, attributes: [] })) {
        for (const entry of page) {
          for (const [name, values] of Object.entries(entry.attributes)) {
            const key = name.toLowerCase();
            const known = seen.get(key);
            const multiValued = (known?.multiValued ?? false) || values.length > 1;
            seen.set(key, { name: known?.name ?? name, syntax: binary.has(key) ? "OctetString" : "DirectoryString", multiValued });
          }
        }
      }
      return [...seen.values()].sort(byAttributeName);
    },

    async authenticate(): Promise<AuthenticateResult> {
      // An export holds no passwords; nobody can be checked against it.
      return { ok: false, reason: "directory_unavailable" };
    },

    async *search(_target, spec) {
      const result = yield* directory.search(spec);
      // An export is a copy at one moment: it has no DC, and no changes to follow.
      return spec.position === true ? { ...result, positionUnavailable: "a directory file has no update sequence numbers" } : result;
    },
    readEntries: (_target, dns, attributes, binaryAttributes) => directory.readEntries(dns, attributes, binaryAttributes),
  };
}
