// The directory as this agent's host allows it: every operation that would open a connection
// is checked against the local connection policy first. Test Connection reports a refusal as
// a failed step of its own, with the fix, so the administrator sees it where they look.
import type { ConnectionStep } from "../../../schema/src/agent-protocol.ts";
import { DirectoryError } from "../ldap/errors.ts";
import type { DirectoryBackend } from "../operations.ts";
import type { ConnectionPolicy } from "./connection-policy.ts";

export function guardedBackend(backend: DirectoryBackend, policy: ConnectionPolicy): DirectoryBackend {
  return {
    async testConnection(target, scope) {
      const started = Date.now();
      try {
        await policy.check(target);
      } catch (e) {
        if (!(e instanceof DirectoryError)) throw e;
        const step: ConnectionStep = {
          id: "policy",
          title: "Allowed by the agent's host",
          status: "failed",
          durationMs: Date.now() - started,
          detail: e.message,
          code: e.code,
          ...(e.fix === undefined ? {} : { fix: e.fix }),
        };
        return { ok: false, steps: [step] };
      }
      return backend.testConnection(target, scope);
    },
    async listOus(target) {
      await policy.check(target);
      return backend.listOus(target);
    },
    async listUserAttributes(target) {
      await policy.check(target);
      return backend.listUserAttributes(target);
    },
    async authenticate(target, username, password, objectGuid) {
      await policy.check(target);
      return backend.authenticate(target, username, password, objectGuid);
    },
    async *search(target, spec) {
      await policy.check(target);
      return yield* backend.search(target, spec);
    },
    async *readEntries(target, dns, attributes, binaryAttributes) {
      await policy.check(target);
      return yield* backend.readEntries(target, dns, attributes, binaryAttributes);
    },
  };
}
