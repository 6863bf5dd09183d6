/**
 * A worker's join token: NATS creds (user JWT + seed) in one pasteable string,
 * `FLOJOIN1.<base64url(creds)>`. Two kinds, told apart by the JWT's name:
 * - `worker:<nodeId>:<tokenId>`: the credential of one node; the agent takes its node id from it;
 * - `joiner:<tokenId>` (a pool token, for platforms that name their nodes, like a ReplicaSet):
 *   it may only ask the head (`join`) for the credentials of the node id the worker chose, for
 *   a key the worker generated (the seed never travels).
 */
import { FlotillaError } from './errors.ts';
import { credsJwt, jwtClaims } from './nats-connect.ts';

const PREFIX = 'FLOJOIN1.';

export function joinTokenOf(creds: string): string {
  return PREFIX + Buffer.from(creds, 'utf8').toString('base64url');
}

export type JoinCredential =
  | { kind: 'node'; creds: string; nodeId: string; tokenId: string }
  | { kind: 'pool'; creds: string; tokenId: string };

/** Decodes a join token into its creds and what they name. */
export function parseJoinToken(token: string): JoinCredential {
  const t = token.trim();
  if (!t.startsWith(PREFIX))
    throw new FlotillaError(
      'FLO_CONFIG',
      'not a join token (it starts with FLOJOIN1.): create one with `flotilla token create --role worker`',
    );
  const creds = Buffer.from(t.slice(PREFIX.length), 'base64url').toString('utf8');
  const pool = /^joiner:([A-Za-z0-9_-]+)$/.exec(jwtClaims(credsJwt(creds)).name ?? '');
  if (pool) return { kind: 'pool', creds, tokenId: pool[1] };
  return { kind: 'node', creds, ...workerIdentity(creds) };
}

/** The node id and token id a worker's creds name. */
export function workerIdentity(creds: string): { nodeId: string; tokenId: string } {
  const name = jwtClaims(credsJwt(creds)).name ?? '';
  const m = /^worker:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]+)$/.exec(name);
  if (!m) throw new FlotillaError('FLO_CONFIG', `NATS credentials of '${name}' are not a worker's`);
  return { nodeId: m[1], tokenId: m[2] };
}
