// The agent's side of the protocol: each read operation the worker may ask for, mapped onto
// the LDAP layer. Searches stream their pages through `sendPage`, which waits while the
// worker is behind, so a search of any size holds about one page in memory.
import type { Scope } from "../../schema/generated/config.ts";
import type {
  AgentOperation,
  AuthenticateResult,
  LdapTarget,
  OuNode,
  SearchCompleteness,
  SearchSpec,
  TestConnectionResult,
  UserAttribute,
  WireEntry,
} from "../../schema/src/agent-protocol.ts";
import { authenticate } from "./ldap/authenticate.ts";
import { openConnection } from "./ldap/connection.ts";
import { listOus, listUserAttributes } from "./ldap/directory.ts";
import { DirectoryError } from "./ldap/errors.ts";
import { LoginPool } from "./ldap/login-pool.ts";
import { forEachPage, readEntries, search } from "./ldap/search.ts";
import { testConnection } from "./ldap/test-connection.ts";
import { AttributePolicy } from "./policy/attribute-policy.ts";

export interface OperationContext {
  /** Aborted when the worker cancels the request, it times out, or the tunnel drops. */
  signal: AbortSignal;
  /** Hands one page to the worker; resolves when there is room for the next. */
  sendPage(entries: WireEntry[]): Promise<void>;
}

export interface OperationOutput {
  result: unknown;
  /** For paged operations: whether everything asked for was read. */
  complete?: SearchCompleteness;
}

export class OperationCancelled extends DirectoryError {
  constructor() {
    super("cancelled", "the request was cancelled before it finished");
    this.name = "OperationCancelled";
  }
}

/** Where operations are answered: Active Directory over LDAP, or a directory file. */
export interface DirectoryBackend {
  testConnection(target: LdapTarget, scope?: Scope): Promise<TestConnectionResult>;
  listOus(target: LdapTarget): Promise<OuNode>;
  listUserAttributes(target: LdapTarget): Promise<UserAttribute[]>;
  authenticate(target: LdapTarget, username: string, password: string, objectGuid?: string): Promise<AuthenticateResult>;
  search(target: LdapTarget, spec: SearchSpec): AsyncGenerator<WireEntry[], SearchCompleteness, undefined>;
  readEntries(
    target: LdapTarget,
    dns: string[],
    attributes: string[],
    binaryAttributes: string[],
  ): AsyncGenerator<WireEntry[], SearchCompleteness, undefined>;
}

const defaultPolicy = new AttributePolicy();

// Logins come one by one from many people; their connections stay open between them.
const loginPool = new LoginPool();

export const ldapBackend: DirectoryBackend = {
  testConnection,
  listOus,
  listUserAttributes,
  authenticate: (target, username, password, objectGuid) =>
    authenticate(target, username, password, loginPool, objectGuid === undefined ? {} : { objectGuid }),
  search,
  async *readEntries(target, dns, attributes, binaryAttributes) {
    const connection = await openConnection(target);
    try {
      return yield* readEntries(connection, dns, attributes, binaryAttributes);
    } finally {
      await connection.close();
    }
  },
};

export async function runOperation(
  operation: AgentOperation,
  context: OperationContext,
  backend: DirectoryBackend = ldapBackend,
  policy: AttributePolicy = defaultPolicy,
): Promise<OperationOutput> {
  switch (operation.op) {
    case "testConnection":
      return { result: await backend.testConnection(operation.target, operation.scope) };
    case "listOus":
      return { result: await backend.listOus(operation.target) };
    case "listUserAttributes":
      // The editor offers what a mapping may name: not what the agent would refuse to read.
      return { result: (await backend.listUserAttributes(operation.target)).filter((a) => !policy.denies(a.name)) };
    case "authenticate":
      return { result: await backend.authenticate(operation.target, operation.username, operation.password, operation.objectGuid) };
    case "search": {
      const { op: _op, target, ...spec } = operation;
      policy.checkRead(spec);
      const complete = await stream(backend.search(target, spec), context, policy);
      return { result: complete, complete };
    }
    case "readEntries": {
      policy.checkRead({ attributes: operation.attributes, binaryAttributes: operation.binaryAttributes ?? [] });
      const pages = backend.readEntries(operation.target, operation.dns, operation.attributes, operation.binaryAttributes ?? []);
      const complete = await stream(pages, context, policy);
      return { result: complete, complete };
    }
    default: {
      const unknown: { op?: unknown } = operation;
      throw new DirectoryError("unknown_operation", `this agent does not know the operation ${JSON.stringify(unknown.op)}`, {
        fix: "Update the connector agent to the version the server expects.",
      });
    }
  }
}

/** Sends each page on, without any denied attribute, checking between pages whether the request was cancelled. */
function stream(
  pages: AsyncGenerator<WireEntry[], SearchCompleteness, undefined>,
  context: OperationContext,
  policy: AttributePolicy,
): Promise<SearchCompleteness> {
  return forEachPage(pages, async (page) => {
    if (context.signal.aborted) throw new OperationCancelled();
    await context.sendPage(page.map((entry) => policy.strip(entry)));
    if (context.signal.aborted) throw new OperationCancelled();
  });
}
