/**
 * A worker's join token: its NATS creds (user JWT + seed) in one pasteable string,
 * `FLOJOIN1.<base64url(creds)>`. The JWT's name, `worker:<nodeId>:<tokenId>`, says which node
 * the credential speaks for; the agent takes its node id from there.
 */
import { FlotillaError } from './errors.ts';
import { credsJwt, jwtClaims } from './nats-connect.ts';

const PREFIX = 'FLOJOIN1.';

export function joinTokenOf(creds: string): string {
  return PREFIX + Buffer.from(creds, 'utf8').toString('base64url');
}

export interface JoinCredential { creds: string; nodeId: string; tokenId: string }

/** Decodes a join token (or a creds text/path given instead) into creds and the node it names. */
export function parseJoinToken(token: string): JoinCredential {
  const t = token.trim();
  if (!t.startsWith(PREFIX)) throw new FlotillaError('FLO_CONFIG', 'not a join token (it starts with FLOJOIN1.): create one with `flotilla token create --role worker`');
  const creds = Buffer.from(t.slice(PREFIX.length), 'base64url').toString('utf8');
  return { creds, ...workerIdentity(creds) };
}

/** The node id and token id a worker's creds name. */
export function workerIdentity(creds: string): { nodeId: string; tokenId: string } {
  const name = jwtClaims(credsJwt(creds)).name ?? '';
  const m = /^worker:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]+)$/.exec(name);
  if (!m) throw new FlotillaError('FLO_CONFIG', `NATS credentials of '${name}' are not a worker's`);
  return { nodeId: m[1], tokenId: m[2] };
}
