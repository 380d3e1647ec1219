// How a Test Connection step of a PBX target measures one call: its value or its error, and
// how long it took either way (the step shows both).

export type Timed<T> = { value: T; ms: number } | { error: Error; ms: number };

export async function timed<T>(run: () => Promise<T>): Promise<Timed<T>> {
  const started = Date.now();
  try {
    return { value: await run(), ms: Date.now() - started };
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started };
  }
}
