/**
 * Trading a pool join token for this node's credentials: connect as the token's joiner (it may
 * only ask), send the node id and a freshly generated user public key, get back the node's JWT
 * signed by the head. The seed is made here and never travels. Retried until a head answers
 * and while it answers with a retryable refusal (the node id is still held by a node that left);
 * a final one (a revoked token) is thrown.
 */
import { connectClear } from '../../shared/nats-refusals.ts';
import { createUser } from '@nats-io/nkeys';
import { fmtCreds } from '@nats-io/jwt';
import { FlotillaError } from '../../shared/errors.ts';
import { call } from '../../shared/endpoint.ts';
import { PoolJoin } from '../../shared/endpoints.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { assertServerVersion } from '../../shared/nats-version.ts';
import type { JoinRequest } from '../../shared/schemas/index.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { abortableSleep } from '../actor/index.ts';

export async function joinPool(
  natsUrl: string,
  joinerCreds: string,
  tokenId: string,
  nodeId: string,
  s: Subjects,
  signal?: AbortSignal,
): Promise<string> {
  const nc = await connectClear(
    natsOptions(natsUrl, joinerCreds, { name: `flotilla-join-${nodeId}`, maxReconnectAttempts: -1, waitOnFirstConnect: true }),
    `worker ${nodeId} (joining with a pool token)`,
  );
  try {
    await assertServerVersion(nc);
    const kp = createUser();
    const req: JoinRequest = { nodeId, publicKey: kp.getPublicKey() };
    let backoff = 250;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const grant = await call(nc, PoolJoin, s.join(tokenId), req, { timeoutMs: 2000 });
        return new TextDecoder().decode(fmtCreds(grant.jwt, kp));
      } catch (e) {
        if (!(e instanceof FlotillaError) || !e.retryable) throw e; // no reply (NoReply) is retryable
      }
      await abortableSleep(backoff, signal);
      backoff = Math.min(backoff * 2, 2000);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
