/**
 * A pool join token kept in a file, as k3s keeps its node-token: a head started with
 * `--join-token-file F` (FLOTILLA_JOIN_TOKEN_FILE) writes a pool worker token to F (mode 0600)
 * when F holds none that is still valid, and workers that share F (a Compose volume) read it
 * from there (`flotilla worker --join-token-file F`). So a platform that starts workers by
 * count still needs no token pasted by hand and no anonymous NATS access.
 *
 * A token in F is kept across head restarts while its KV record exists and is not revoked; a
 * revoked one is replaced at the next start, so revoking it (`flotilla token revoke ID`) and
 * restarting the head rotates the credential.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FlotillaError } from '../../shared/errors.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import type { TokenStore } from './token-store.ts';
import type { CredentialMinter } from './minter.ts';

/** The name the token's record carries (`flotilla token list`). */
export const JOIN_FILE_TOKEN_NAME = 'join-token-file';

/** The pool token in `file` when it parses and its record is live, else undefined. */
async function liveToken(file: string, tokens: TokenStore): Promise<{ id: string } | undefined> {
  if (!existsSync(file)) return undefined;
  let tokenId: string;
  try {
    const cred = parseJoinToken(readFileSync(file, 'utf8'));
    if (cred.kind !== 'pool') return undefined;
    tokenId = cred.tokenId;
  } catch {
    return undefined;
  }
  const rec = (await tokens.list()).find((t) => t.id === tokenId);
  return rec && rec.role === 'worker' && !rec.revoked_at ? { id: rec.id } : undefined;
}

/**
 * Makes sure `file` holds a valid pool join token; returns its id and whether it was written now.
 * Written through a temporary file and a rename, so a worker never reads half a token.
 */
export async function ensureJoinTokenFile(
  file: string,
  tokens: TokenStore | undefined,
  minter: CredentialMinter | undefined,
): Promise<{ id: string; created: boolean }> {
  if (!tokens) throw new FlotillaError('FLO_CONFIG', '--join-token-file needs authentication on (it was started with --insecure)');
  if (!minter) throw new FlotillaError('FLO_CONFIG', '--join-token-file needs the NATS signing key (--signing-key) to issue a join token');
  const kept = await liveToken(file, tokens);
  if (kept) return { ...kept, created: false };
  const { info, token } = await tokens.create('worker', JOIN_FILE_TOKEN_NAME, { token: (id) => minter.pool(id) });
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return { id: info.id, created: true };
}
