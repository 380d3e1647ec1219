// Which attributes this agent reads for the cloud. The list of secrets is the agent's, not
// the configuration's: the cloud can ask for any attribute, and the customer's agent decides.
import type { SearchSpec, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { type FilterNode, parseFilterAst } from "../../../schema/src/filter-ast.ts";
import { attributeKey, secretAttributes } from "../../../schema/src/secret-attributes.ts";
import { DirectoryError } from "../ldap/errors.ts";

export class AttributePolicy {
  readonly #denied: Set<string>;

  /** The built-in secrets, and `extra` names the agent host adds (--deny-attribute). */
  constructor(extra: readonly string[] = []) {
    this.#denied = new Set([...secretAttributes, ...extra].map(attributeKey).filter((a) => a !== ""));
  }

  denies(description: string): boolean {
    return this.#denied.has(attributeKey(description));
  }

  /** Refuses a read that asks for a denied attribute, for every attribute ("*", "+"), or filters on one. */
  checkRead(spec: Pick<SearchSpec, "attributes" | "binaryAttributes"> & { filter?: string }): void {
    for (const name of [...spec.attributes, ...(spec.binaryAttributes ?? [])]) {
      if (name === "*" || name === "+")
        throw refusal(`"${name}" (every attribute) would include secrets`, "Name the attributes to read instead of a wildcard.");
      if (this.denies(name)) throw refusal(`${name} holds a secret`, fixFor(name));
    }
    if (spec.filter !== undefined) {
      for (const name of filterAttributes(parseFilterAst(spec.filter)))
        if (this.denies(name)) throw refusal(`a filter on ${name} would reveal it`, fixFor(name));
    }
  }

  /** An entry without any denied attribute, whatever the directory returned. */
  strip(entry: WireEntry): WireEntry {
    const names = Object.keys(entry.attributes);
    if (!names.some((n) => this.denies(n))) return entry;
    const attributes = Object.fromEntries(Object.entries(entry.attributes).filter(([n]) => !this.denies(n)));
    const binary = entry.binary?.filter((n) => !this.denies(n));
    return { dn: entry.dn, attributes, ...(binary ? { binary } : {}) };
  }
}

function refusal(what: string, fix: string): DirectoryError {
  return new DirectoryError("attribute_denied", `This agent never reads that: ${what}.`, { fix });
}

function fixFor(name: string): string {
  return `Map no field, exclusion, number or group to ${name} in the sync configuration; the agent's list of secret attributes (and --deny-attribute on the agent host) decides what it never reads.`;
}

function* filterAttributes(node: FilterNode): Generator<string> {
  switch (node.kind) {
    case "and":
    case "or":
      for (const f of node.filters) yield* filterAttributes(f);
      return;
    case "not":
      yield* filterAttributes(node.filter);
      return;
    case "extensible":
      if (node.attribute !== undefined) yield node.attribute;
      return;
    default:
      yield node.attribute;
  }
}
