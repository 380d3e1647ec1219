// The tenant's PBX as the portal sees it: the extensions list (the built-in directory's, or
// the vendor target's as it answers now, each marked synced or hand-made), and, on the
// built-in directory, extensions made by hand, which sync never touches.
import type { Extension } from "../../../engine/pbx/pbx-port.ts";
import { ApiError } from "../api-error.ts";
import { type BuiltinPbx, type ExtensionView, PbxError } from "../pbx/builtin/builtin-pbx.ts";

/** The vendor target, when the configuration names one: its extensions, read from the PBX. */
export interface VendorTarget {
  vendor(): { listExtensions(): Promise<Extension[]> } | undefined;
}

export class TenantExtensions {
  readonly #pbx: Pick<BuiltinPbx, "count" | "views" | "createManual">;
  readonly #target: VendorTarget | undefined;

  constructor(pbx: Pick<BuiltinPbx, "count" | "views" | "createManual">, target?: VendorTarget) {
    this.#pbx = pbx;
    this.#target = target;
  }

  async list(options: { q?: string; offset?: number; limit?: number }): Promise<{ total: number; extensions: ExtensionView[] }> {
    const vendor = this.#target?.vendor();
    if (vendor === undefined) return { total: this.#pbx.count(), extensions: this.#pbx.views(options) };
    const q = options.q?.toLowerCase();
    const all = (await vendor.listExtensions())
      .filter(
        (e) => q === undefined || [e.number, e.displayName, e.firstName, e.lastName, e.email].some((v) => v?.toLowerCase().includes(q)),
      )
      .sort((a, b) => a.number.localeCompare(b.number, "en", { numeric: true }));
    const offset = options.offset ?? 0;
    const page = all.slice(offset, offset + (options.limit ?? 100));
    // What the vendor keeps itself (settings, voicemail) is its own console's business.
    return {
      total: all.length,
      extensions: page.map((e) => ({ ...e, settings: {}, voicemails: 0, recordings: 0, createdAt: 0, updatedAt: 0 })),
    };
  }

  createManual(number: unknown, displayName: unknown, settings: unknown): ExtensionView {
    if (typeof number !== "string" || typeof displayName !== "string" || displayName.trim() === "")
      throw new ApiError(400, "invalid_extension", "Send { number, displayName } with a 2-10 digit number.");
    try {
      return this.#pbx.createManual(
        number,
        displayName.trim(),
        typeof settings === "object" && settings !== null ? (settings as Record<string, unknown>) : {},
      );
    } catch (e) {
      if (e instanceof PbxError) throw new ApiError(e.code === "number_taken" ? 409 : 400, e.code, e.message);
      throw e;
    }
  }
}
