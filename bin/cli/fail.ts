/**
 * The one error printer of the CLI: what a command threw, as one message and its exit code.
 * A UsageError (a bad invocation found after parsing): its problems and the usage line, exit 2.
 * A FlotillaError: `flotilla CMD: CODE: message` and a hint for the codes that have one, exit 1
 * (FLO_CONFIG has none: each such message names the setting at fault and what to do, e.g. a
 * NATS server's refusal of a worker's credentials).
 * Anything else: its message, exit 1.
 */
import { FlotillaError, type ErrorCode } from '../../shared/errors.ts';
import { UsageError, usageError } from './parse.ts';

const HINTS: Partial<Record<ErrorCode, string>> = {
  FLO_UNAVAILABLE: 'is the head running? --server URL (env FLOTILLA_URL) names it',
  FLO_UNAUTHENTICATED: 'give a token: --token T, FLOTILLA_TOKEN, or the ~/.flotilla/credentials entry `flotilla token` writes',
  FLO_FORBIDDEN: "this token's role may not do that (flotilla token create --role …)",
  FLO_NO_CAPACITY: 'flotilla status lists the workers and their free slots',
};

/** Prints `e` for command `name`; the exit code. */
export function printError(name: string, e: unknown): number {
  if (e instanceof UsageError) return usageError(e.spec, ...e.problems);
  if (e instanceof FlotillaError) {
    const hint = HINTS[e.code];
    console.error(`flotilla ${name}: ${e.code}: ${e.message}${hint ? `\n  (${hint})` : ''}`);
    return 1;
  }
  console.error(`flotilla ${name}: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}
