/**
 * The head's credential minting: worker and actor creds with the permissions of
 * nats-permissions.ts, signed by the account signing key. A head without a signing key (a
 * server without auth) mints nothing and its actors connect anonymously.
 *
 * Every actor gets its own JWT (its job's subjects only), all for one user key per node and
 * head (kept in memory, made at the node's first placement): what a join token's revocation
 * must name grows with the nodes it admitted, not with every actor they ever ran (a pool token
 * recorded one key per actor: ~60 bytes a spawn, past NATS's 1 MB message limit after ~16,000
 * actors, when its record could no longer be written and placements on its nodes failed). The
 * actors of a node share the key's seed, as they share the node's OS user and its agent's creds
 * on disk; each holds only the JWTs of its own job. A node that registers (a new agent) gets a
 * new key, so a key whose seed a revoked node kept is never signed for again.
 */
import { readFileSync } from 'node:fs';
import { FlotillaError } from '../../shared/errors.ts';
import { credsJwt, credsText, jwtClaims } from '../../shared/nats-connect.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { actorPermissions, joinerPermissions, workerPermissions } from './nats-permissions.ts';
import { mintCreds, mintJwt, minterFromSeed, type Minter } from './nats-trust.ts';
import { joinTokenOf } from '../../shared/join-token.ts';
import { nativeKeyPair } from '../../shared/native-nkey.ts';
import { createUser, type KeyPair } from '@nats-io/nkeys';

export interface CredentialMinter {
  /** creds text of an actor of `jobId` on node `nodeId` (that node's actor user, this actor's JWT) */
  actor(jobId: string, actorId: string, nodeId: string): Promise<string>;
  /** node `nodeId` registered (a new agent): its next actors get a new user key */
  forgetNode(nodeId: string): void;
  /** a join token for node `nodeId` (its creds, id inside) */
  worker(nodeId: string, tokenId: string): Promise<string>;
  /**
   * a pool join token: any number of workers, each names itself and gets its own node credentials
   * (`grant`); `expiresInS`: the joiner creds expire then, so the servers refuse later joins
   */
  pool(tokenId: string, expiresInS?: number): Promise<string>;
  /** the JWT of node `nodeId` for the key a joining worker generated */
  grant(nodeId: string, publicKey: string, tokenId: string): Promise<string>;
}

/** A minter from the signing key (seed text or a file) and the head's own creds (which name the account). */
export function credentialMinter(s: Subjects, signingKey: string, headCreds: string): CredentialMinter {
  const seed = signingKey.trim().startsWith('SA') ? signingKey : readSeed(signingKey);
  const account = jwtClaims(credsJwt(credsText(headCreds))).nats?.issuer_account;
  if (!account)
    throw new FlotillaError('FLO_CONFIG', 'the head creds name no issuer account: they were not signed by an account signing key');
  const m: Minter = minterFromSeed(seed, account);
  const actorKeys = new Map<string, KeyPair>();
  const actorKey = (nodeId: string): KeyPair => {
    let k = actorKeys.get(nodeId);
    if (!k) {
      k = nativeKeyPair(createUser());
      actorKeys.set(nodeId, k);
    }
    return k;
  };
  return {
    actor: (jobId, actorId, nodeId) => mintCreds(m, `actor:${actorId}`, actorPermissions(s, jobId, actorId), undefined, actorKey(nodeId)),
    forgetNode: (nodeId) => {
      actorKeys.delete(nodeId);
    },
    async worker(nodeId, tokenId) {
      return joinTokenOf(await mintCreds(m, `worker:${nodeId}:${tokenId}`, workerPermissions(s, nodeId)));
    },
    async pool(tokenId, expiresInS) {
      return joinTokenOf(await mintCreds(m, `joiner:${tokenId}`, joinerPermissions(s, tokenId), expiresInS));
    },
    grant: (nodeId, publicKey, tokenId) => mintJwt(m, `worker:${nodeId}:${tokenId}`, publicKey, workerPermissions(s, nodeId)),
  };
}

function readSeed(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new FlotillaError('FLO_CONFIG', `cannot read the NATS signing key ${path}: ${(e as Error).message}`);
  }
}
