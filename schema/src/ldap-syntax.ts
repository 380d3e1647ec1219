/**
 * Lexical pieces shared by the RFC 4514 DN parser and the RFC 4515 filter checker: both
 * grammars build on RFC 4512's ALPHA, DIGIT and HEX, and both report the first error with
 * its offset.
 */
export class LdapSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

export function fail(message: string, offset: number): never {
  throw new LdapSyntaxError(message, offset);
}

export function isAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= "A" && c <= "Z") || (c >= "a" && c <= "z"));
}

export function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

export function isHex(c: string | undefined): boolean {
  return isDigit(c) || (c !== undefined && ((c >= "A" && c <= "F") || (c >= "a" && c <= "f")));
}
