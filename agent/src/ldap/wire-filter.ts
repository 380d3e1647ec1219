// A filter string as the BER the DC receives, byte for byte. ldapts's own string parser turns
// each \XX escape into one UTF-16 code unit and writes the value back as UTF-8, so an escaped
// byte of 0x80 or more arrives as two other bytes: an objectGUID lookup finds nobody, and an
// escaped UTF-8 name (Zo\c3\ab) does not match. Here the decoded bytes are written unchanged.
import { type BerWriter, Filter, type SearchFilter } from "ldapts";
import { type AssertionValue, type FilterNode, parseFilterAst } from "../../../schema/src/filter-ast.ts";

type FilterType = (typeof SearchFilter)[keyof typeof SearchFilter];

// RFC 4511 section 4.5.1: the Filter CHOICE tags, and those inside substrings and extensible matches.
const TAG = {
  and: 0xa0,
  or: 0xa1,
  not: 0xa2,
  equality: 0xa3,
  substrings: 0xa4,
  greaterOrEqual: 0xa5,
  lessOrEqual: 0xa6,
  present: 0x87,
  approx: 0xa8,
  extensible: 0xa9,
} as const;
const OCTET_STRING = 0x04;

class EncodedFilter extends Filter {
  readonly type: FilterType;
  readonly #text: string;
  readonly #body: (writer: BerWriter) => void;

  constructor(type: number, text: string, body: (writer: BerWriter) => void) {
    super();
    this.type = type as FilterType;
    this.#text = text;
    this.#body = body;
  }

  protected override writeFilter(writer: BerWriter): void {
    this.#body(writer);
  }

  override toString(): string {
    return this.#text;
  }
}

const bytes = (value: AssertionValue) => Buffer.from(value.bytes.buffer, value.bytes.byteOffset, value.bytes.byteLength);

function encode(node: FilterNode, text: string): Filter {
  switch (node.kind) {
    case "and":
    case "or": {
      const children = node.filters.map((f) => encode(f, text));
      return new EncodedFilter(TAG[node.kind], text, (w) => {
        for (const child of children) child.write(w);
      });
    }
    case "not": {
      const child = encode(node.filter, text);
      return new EncodedFilter(TAG.not, text, (w) => child.write(w));
    }
    case "equality":
    case "approx":
    case "greaterOrEqual":
    case "lessOrEqual":
      return new EncodedFilter(TAG[node.kind], text, (w) => {
        w.writeString(node.attribute);
        w.writeBuffer(bytes(node.value), OCTET_STRING);
      });
    case "present":
      // present is [7] IMPLICIT AttributeDescription: the name is the whole content.
      return new EncodedFilter(TAG.present, text, (w) => {
        for (let i = 0; i < node.attribute.length; i++) w.writeByte(node.attribute.charCodeAt(i));
      });
    case "substrings":
      return new EncodedFilter(TAG.substrings, text, (w) => {
        w.writeString(node.attribute);
        w.startSequence();
        if (node.initial) w.writeBuffer(bytes(node.initial), 0x80);
        for (const any of node.any) w.writeBuffer(bytes(any), 0x81);
        if (node.final) w.writeBuffer(bytes(node.final), 0x82);
        w.endSequence();
      });
    case "extensible":
      return new EncodedFilter(TAG.extensible, text, (w) => {
        if (node.rule !== undefined) w.writeString(node.rule, 0x81);
        if (node.attribute !== undefined) w.writeString(node.attribute, 0x82);
        w.writeBuffer(bytes(node.value), 0x83);
        if (node.dnAttributes) w.writeBoolean(true, 0x84);
      });
  }
}

/** The filter for ldapts's search; throws LdapSyntaxError for a filter that is not RFC 4515. */
export function wireFilter(text: string): Filter {
  return encode(parseFilterAst(text), text);
}
