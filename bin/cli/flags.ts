/**
 * What the one-process commands (train, val, detect) share in reading their flags: strict
 * parseArgs with -h/--help, a bad flag answered with its message and the usage (exit 2), and
 * numeric flags checked against their range.
 */
import { parseArgs } from 'node:util';

export type Flags = Record<string, string | boolean | undefined>;
type Option = { type: 'string' | 'boolean'; short?: string };

/** The flag values, or the exit code when the command is done: 0 after --help, 2 after a bad flag (both printed). */
export function parseFlags(argv: string[], options: Record<string, Option>, usage: string): { values: Flags } | { exit: number } {
  let values: Flags;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (e) {
    return { exit: usageError((e as Error).message, usage) };
  }
  if (values.help) {
    console.log(usage);
    return { exit: 0 };
  }
  return { values };
}

/** Prints the message and the usage; the exit code 2. */
export function usageError(message: string, usage: string): number {
  console.error(`${message}\n\n${usage}`);
  return 2;
}

/** A numeric flag (undefined when not given) in [min, max] (max optional), an integer unless integer is false; throws naming the flag. */
export function flagNumber(
  name: string,
  v: string | undefined,
  min: number,
  { max, integer = true }: { max?: number; integer?: boolean } = {},
): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x < min || (max !== undefined && x > max) || (integer && !Number.isInteger(x))) {
    throw new Error(
      `--${name} must be ${integer ? 'an integer' : 'a number'} ${max !== undefined ? `in [${min}, ${max}]` : `>= ${min}`} (got '${v}')`,
    );
  }
  return x;
}
