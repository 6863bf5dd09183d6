import { availableParallelism } from 'node:os';

// Tiny flag parser shared by the kernel and training benchmarks: --name value, --flag.
export function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  return v === undefined || v.startsWith('--') ? '' : v;
}

export function numFlag(argv: readonly string[], name: string, dflt: number): number {
  const v = flag(argv, name);
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${v}'`);
  return n;
}

/**
 * The benchmarks measure the machine, so they run on every core (`--threads N` to choose),
 * not on the engine's default of one thread when the machine looks busy (addon.ts).
 * Call before the addon loads.
 */
export function benchThreads(argv: readonly string[]): number {
  const n = numFlag(argv, 'threads', Number(process.env.FLOTILLA_NATIVE_THREADS) || availableParallelism());
  process.env.FLOTILLA_NATIVE_THREADS = String(n);
  return n;
}
