// Where a domain controller's copy of the directory stands, the ground an incremental read
// stands on. Update sequence numbers are a DC's own (MS-ADTS 3.1.1.1.9): every change this DC
// applies, its own or replicated, gets the next USN, and an object's uSNChanged is the USN of
// its last change here. So after a read at highestCommittedUSN N, (uSNChanged>=N+1) on the
// same DC finds exactly what changed since; on another DC the numbers mean nothing. A DC
// restored from a backup takes a new invocationId (its database's identity) and reuses USNs it
// had already given out, so a stored position is valid only with the invocationId it was
// read with.
import type { DirectoryPosition } from "../../../schema/src/agent-protocol.ts";
import { filter } from "../../../schema/src/ldap-filter.ts";
import type { DirectoryConnection } from "./connection.ts";
import { SearchError } from "./errors.ts";
import { searchPages } from "./search.ts";

export type { DirectoryPosition };

/**
 * The invocationId read on each connection, by the DC it named: a database restored under a
 * DC starts with its samba or NTDS service, which drops every connection, so on one
 * connection it cannot change. The USN is read every time.
 */
const identities = new WeakMap<DirectoryConnection, { dsServiceName: string; invocationId: string }>();

export async function readDirectoryPosition(connection: DirectoryConnection): Promise<DirectoryPosition> {
  const root = await first(connection, { base: "", filter: "(objectClass=*)", attributes: ["highestCommittedUSN", "dsServiceName"] });
  const usn = root?.attributes.highestCommittedUSN?.[0];
  const dsServiceName = root?.attributes.dsServiceName?.[0];
  if (usn === undefined || !/^[0-9]+$/.test(usn) || dsServiceName === undefined)
    throw new SearchError("no_position", "the domain controller's rootDSE has no highestCommittedUSN or dsServiceName", {
      fix: "Point the connection at an Active Directory domain controller (not a global catalog port or another LDAP server).",
    });
  const known = identities.get(connection);
  if (known?.dsServiceName === dsServiceName)
    return { server: connection.server, dsServiceName, invocationId: known.invocationId, highestCommittedUsn: usn };
  const settings = await first(connection, {
    base: dsServiceName,
    filter: filter`(objectClass=${"nTDSDSA"})`,
    attributes: ["invocationId"],
    binaryAttributes: ["invocationId"],
  });
  const id = settings?.attributes.invocationId?.[0];
  if (id === undefined)
    throw new SearchError("no_position", `the domain controller's NTDS Settings (${dsServiceName}) show no invocationId`, {
      fix: "Check that the service account may read the Configuration partition (every authenticated user may, unless it was changed).",
    });
  const invocationId = Buffer.from(id, "base64").toString("hex");
  identities.set(connection, { dsServiceName, invocationId });
  return { server: connection.server, dsServiceName, invocationId, highestCommittedUsn: usn };
}

async function first(
  connection: DirectoryConnection,
  spec: { base: string; filter: string; attributes: string[]; binaryAttributes?: string[] },
): Promise<{ attributes: Record<string, string[]> } | undefined> {
  for await (const page of searchPages(connection, { scope: "base", ...spec })) return page[0];
  return undefined;
}
