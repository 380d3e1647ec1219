// A password for a new Yeastar extension. extension/create requires one, and refuses one that
// does not mix digits, upper- and lower-case letters, is not 10 to 63 characters, holds four
// consecutive or identical digits, or contains the number or the user's names (developer
// guide, "Add an extension", user_password). Users log in with their AD account, so nobody types it: it is random, long,
// and never logged or stored.

const upper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const lower = "abcdefghijkmnopqrstuvwxyz";
const digits = "23456789";
const all = upper + lower + digits;

function pick(set: string, bytes: Uint8Array, i: number): string {
  return set[(bytes[i] as number) % set.length] as string;
}

/** Whether Yeastar would take `password` for an extension with this number and these names. */
export function acceptablePassword(password: string, number: string, names: Array<string | null | undefined>): boolean {
  if (password.length < 10 || password.length > 63) return false;
  if (!/[0-9]/.test(password) || !/[a-z]/.test(password) || !/[A-Z]/.test(password)) return false;
  const lowered = password.toLowerCase();
  if (number !== "" && lowered.includes(number.toLowerCase())) return false;
  for (const name of names) if (name && name.length >= 3 && lowered.includes(name.toLowerCase())) return false;
  for (let i = 0; i + 3 < password.length; i++) {
    const run = password.slice(i, i + 4);
    if (!/^\d{4}$/.test(run)) continue;
    const d = [...run].map(Number) as [number, number, number, number];
    const same = d.every((x) => x === d[0]);
    const up = d[1] === d[0] + 1 && d[2] === d[1] + 1 && d[3] === d[2] + 1;
    const down = d[1] === d[0] - 1 && d[2] === d[1] - 1 && d[3] === d[2] - 1;
    if (same || up || down) return false;
  }
  return true;
}

export function yeastarPassword(number: string, names: Array<string | null | undefined>): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    // One of each class first, so every candidate mixes them; then letters and digits.
    const chars = [pick(upper, bytes, 0), pick(lower, bytes, 1), pick(digits, bytes, 2)];
    for (let i = 3; i < 20; i++) chars.push(pick(all, bytes, i));
    const candidate = chars.join("");
    if (acceptablePassword(candidate, number, names)) return candidate;
  }
}
