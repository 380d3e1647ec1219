// The globals the engine and the schema it imports may use: part of the API that workerd,
// Node and browsers all ship (WinterTC's Minimum Common Web Platform API). Declared here, and
// nothing else, so that `tsc -p engine` refuses any other platform API in the pure core.

declare function atob(data: string): string;
declare function structuredClone<T>(value: T): T;

declare class TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}

declare const crypto: {
  readonly subtle: {
    digest(algorithm: "SHA-256", data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  };
};
