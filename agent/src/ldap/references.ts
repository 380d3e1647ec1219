// Continuation references (RFC 4511 section 4.5.3) and whether leaving one unread makes a
// directory read partial. A subtree search from a domain's root always gets references to
// the naming contexts hanging below it in the namespace: the Configuration partition (and
// the Schema inside it) and the DomainDnsZones / ForestDnsZones application partitions.
// They hold no users, so skipping them loses nothing. Any other reference (a child domain,
// or one whose DN cannot be read) points at part of the scope this DC does not hold.
import { parseDn } from "../../../schema/src/dn.ts";

const NO_USER_PARTITIONS = new Set(["cn=configuration", "dc=domaindnszones", "dc=forestdnszones"]);

/** The DN an LDAP URL (RFC 4516) points at: "" when it names none, undefined if unreadable. */
export function referenceDn(uri: string): string | undefined {
  const match = /^ldaps?:\/\/[^/?]*(?:\/([^?]*))?/i.exec(uri);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1] ?? "");
  } catch {
    return undefined;
  }
}

/** True when the reference leads only into a partition that holds no users. */
export function isHarmlessReference(uri: string): boolean {
  const dn = referenceDn(uri);
  if (dn === undefined || dn === "") return false;
  const parsed = parseDn(dn);
  if (!parsed.ok) return false;
  return parsed.dn.some((rdn) => {
    const only = rdn.length === 1 ? rdn[0] : undefined;
    return only !== undefined && NO_USER_PARTITIONS.has(`${only.type.toLowerCase()}=${only.value.toLowerCase()}`);
  });
}
