/**
 * Polls until a condition holds. The limit is a safety net that names what never happened
 * (instead of a bare tap timeout), not a timing assertion: keep it far above normal.
 */
export async function until<T>(
  what: string,
  f: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  limitMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
