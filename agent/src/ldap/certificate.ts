// What a domain controller's TLS certificate says, and every reason it would not be trusted
// for the name we dialled. Node's own verification (rejectUnauthorized) guards every
// connection that carries a password; this is for explaining: Node refuses a certificate
// without showing it, so a second look with verification off (sending nothing) tells the
// administrator whose certificate it was and exactly why, and with insecureSkipVerify it
// says what verification would have found.
import { X509Certificate } from "node:crypto";
import { checkServerIdentity, type TLSSocket } from "node:tls";

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** DNS names and IP addresses the certificate is valid for, e.g. "DNS:dc1.example.com". */
  subjectAltNames: string[];
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
  /** SHA-256 fingerprint, colon-separated hex, for comparing with what the DC shows. */
  fingerprint256: string;
  selfSigned: boolean;
}

export type TlsProblemCode = "tls_untrusted" | "tls_hostname_mismatch" | "tls_expired" | "tls_not_yet_valid";

export interface TlsProblem {
  code: TlsProblemCode;
  message: string;
  fix: string;
}

export function describeCertificate(socket: TLSSocket): CertificateInfo | undefined {
  // Not getPeerX509Certificate(): in Node 24 it returns undefined when called a second time
  // on a TLS 1.3 socket (and a later use of the socket crashed the process). The raw DER of
  // getPeerCertificate() can be read any number of times.
  const raw = socket.getPeerCertificate()?.raw;
  if (raw === undefined) return undefined;
  const cert = new X509Certificate(raw);
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    subjectAltNames: (cert.subjectAltName ?? "")
      .split(", ")
      .filter((name) => name !== "")
      .map((name) => name.replace(/^IP Address:/, "IP:")),
    validFrom: cert.validFromDate.toISOString(),
    validTo: cert.validToDate.toISOString(),
    fingerprint256: cert.fingerprint256,
    selfSigned: cert.subject === cert.issuer,
  };
}

// X509Certificate.subject is one RDN per line.
function oneLine(name: string): string {
  return name.split("\n").filter(Boolean).join(", ");
}

// OpenSSL verify results (X509_V_ERR_*) as Node reports them in authorizationError.
const EXPIRED = new Set(["CERT_HAS_EXPIRED"]);
const NOT_YET_VALID = new Set(["CERT_NOT_YET_VALID"]);

/**
 * Every reason the peer certificate of `socket` is not good for `host`, most important
 * first; empty when it is trusted. `host` is the name or address the agent dialled.
 */
export function certificateProblems(socket: TLSSocket, host: string): TlsProblem[] {
  const problems: TlsProblem[] = [];
  const info = describeCertificate(socket);
  if (!socket.authorized) {
    // Typed as Error, but Node hands over OpenSSL's code as a string.
    const code = String((socket.authorizationError as unknown) ?? "UNKNOWN");
    if (EXPIRED.has(code)) {
      problems.push({
        code: "tls_expired",
        message: `the domain controller's certificate expired on ${info?.validTo ?? "an earlier date"}`,
        fix: "Renew the domain controller's certificate (with AD Certificate Services, re-enrol it from the Domain Controller or Kerberos Authentication template) and restart the DC's LDAP service or reboot it.",
      });
    } else if (NOT_YET_VALID.has(code)) {
      problems.push({
        code: "tls_not_yet_valid",
        message: `the domain controller's certificate is not valid before ${info?.validFrom ?? "a later date"}`,
        fix: "Check the clock of the agent host and of the domain controller (both should follow the domain's time source).",
      });
    } else {
      const selfSigned = info?.selfSigned === true || code === "DEPTH_ZERO_SELF_SIGNED_CERT";
      problems.push({
        code: "tls_untrusted",
        message: selfSigned
          ? `the domain controller's certificate is self-signed (${info?.subject ?? "no subject"}) and not in the trusted CA list (${code})`
          : `the domain controller's certificate was issued by "${info?.issuer ?? "an unknown issuer"}", which is not a trusted certificate authority here (${code})`,
        fix: selfSigned
          ? "Paste this self-signed certificate (PEM) into connection.caCertificate, or better, give the DC a certificate from your enterprise CA."
          : "Paste the PEM of the certificate authority that issued the DC's certificate (your enterprise root CA, and any intermediate) into connection.caCertificate.",
      });
    }
  }
  const peer = socket.getPeerCertificate();
  // Node's own check (RFC 6125 rules, IP addresses against IP SANs only) as tls.connect runs it.
  const mismatch = peer && Object.keys(peer).length > 0 ? checkServerIdentity(stripBrackets(host), peer) : undefined;
  if (mismatch !== undefined) {
    const names = info?.subjectAltNames.join(", ") || info?.subject || "no names";
    problems.push({
      code: "tls_hostname_mismatch",
      message: `the domain controller's certificate is for ${names}, not for "${host}"`,
      fix: "Enter the domain controller as one of the names in its certificate (usually its full DNS name, e.g. dc1.corp.example.com), or reissue the certificate with this name in its subject alternative names.",
    });
  }
  return problems;
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
