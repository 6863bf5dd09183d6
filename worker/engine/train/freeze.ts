/**
 * Layer freezing as train.py --freeze: one number N freezes layers 0..N-1 (N=10 is the
 * backbone of the P5 models); several numbers freeze exactly those layers.
 */

/** The name prefixes to freeze, e.g. [10] → model.0. … model.9.; [0] or [] → none. */
export function freezePrefixes(freeze: readonly number[]): string[] {
  const layers = freeze.length > 1 ? [...freeze] : Array.from({ length: freeze[0] ?? 0 }, (_, i) => i);
  return layers.map((i) => `model.${i}.`);
}

/** True when a state-dict name (`model.3.conv.weight`) lies in a frozen layer. */
export function isFrozen(name: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => name.startsWith(p));
}
