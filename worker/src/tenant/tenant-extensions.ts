// The built-in PBX directory as the portal sees it: the extensions list, and extensions made
// by hand, which sync never touches.
import { ApiError } from "../api-error.ts";
import { type BuiltinPbx, type ExtensionView, PbxError } from "../pbx/builtin/builtin-pbx.ts";

export class TenantExtensions {
  readonly #pbx: Pick<BuiltinPbx, "count" | "views" | "createManual">;

  constructor(pbx: Pick<BuiltinPbx, "count" | "views" | "createManual">) {
    this.#pbx = pbx;
  }

  list(options: { q?: string; offset?: number; limit?: number }): { total: number; extensions: ExtensionView[] } {
    return { total: this.#pbx.count(), extensions: this.#pbx.views(options) };
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
