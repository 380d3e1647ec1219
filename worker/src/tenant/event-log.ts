/** One JSON line per tenant event; callers pass no secret, and nothing here reads one. */
export function logEvent(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}
