/**
 * A worker's join token read from a file that the head writes (`flotilla head --join-token-file`,
 * head/auth/join-token-file.ts) on a volume both share. Workers of a Compose project start
 * alongside the head, so the file may not be there yet: the agent waits for it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlotillaError } from '../../shared/errors.ts';
import { parseJoinToken } from '../../shared/join-token.ts';

/** How long an agent waits for the head to write the file (default 5 min: a first start makes the cluster's KV). */
export const JOIN_FILE_WAIT_MS = 300_000;

/** The token in `file` once it holds a well-formed one; FLO_CONFIG after `waitMs` without. */
export async function waitJoinTokenFile(
  file: string,
  opts: { waitMs?: number; pollMs?: number; onWait?: () => void } = {},
): Promise<string> {
  const deadline = Date.now() + (opts.waitMs ?? JOIN_FILE_WAIT_MS);
  let told = false;
  let last = 'it does not exist';
  for (;;) {
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim();
      try {
        parseJoinToken(token);
        return token;
      } catch (e) {
        last = (e as Error).message;
      }
    }
    if (Date.now() >= deadline) {
      throw new FlotillaError(
        'FLO_CONFIG',
        `no join token in ${file} (${last}): start the head with --join-token-file ${file} on a volume this worker shares, or pass --join-token`,
      );
    }
    if (!told) {
      opts.onWait?.();
      told = true;
    }
    await sleep(opts.pollMs ?? 500);
  }
}
