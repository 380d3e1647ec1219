/**
 * AES-256-GCM for secrets kept at rest (the bind password). The key comes from a Workers
 * secret, so a copy of the Durable Object's storage alone reveals nothing.
 */
export interface SecretBox {
  seal(plaintext: string, context: string): Promise<string>;
  open(sealed: string, context: string): Promise<string>;
}

export async function secretBox(base64Key: string | undefined): Promise<SecretBox> {
  if (!base64Key) throw new Error("CONFIG_ENCRYPTION_KEY is not set: the worker cannot store secrets");
  const raw = Uint8Array.from(atob(base64Key), (ch) => ch.charCodeAt(0));
  if (raw.length !== 32) throw new Error("CONFIG_ENCRYPTION_KEY must be 32 bytes, base64-encoded");
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const encoder = new TextEncoder();
  return {
    // `context` (e.g. the tenant) is bound as additional data, so a sealed value moved to
    // another tenant's storage does not open there.
    async seal(plaintext, context) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
        key,
        encoder.encode(plaintext),
      );
      return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
    },
    async open(sealed, context) {
      const [version, iv, data] = sealed.split(".");
      if (version !== "v1" || !iv || !data) throw new Error("sealed value has an unknown format");
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromBase64(iv), additionalData: encoder.encode(context) },
        key,
        fromBase64(data),
      );
      return new TextDecoder().decode(plain);
    },
  };
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}
