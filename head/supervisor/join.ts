/**
 * Pool joins: a worker holding a pool join token asks on `join.<tokenId>` (only that token's
 * holders may publish there) for the credentials of the node id it chose; the head signs a
 * worker JWT for the key the worker sent, unless the token is revoked or the node id belongs to
 * a node the head still knows (which would let a joiner take over a live node's identity).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { serve } from '../../shared/endpoint.ts';
import { PoolJoin } from '../../shared/endpoints.ts';
import type { CredentialMinter } from '../auth/minter.ts';

export interface JoinDeps {
  minter: CredentialMinter;
  /** a node id the head knows (registered, not yet declared dead) */
  known(nodeId: string): boolean;
  /** the pool token was revoked */
  revoked(tokenId: string): boolean;
  /** records the NATS user a join admitted and its node id (before the grant is sent), so revoking the token revokes it and the node's actors */
  granted?(tokenId: string, publicKey: string, nodeId: string): Promise<void>;
}

export function serveJoins(nc: NatsConnection, s: Subjects, d: JoinDeps, log: Logger): Subscription {
  return serve(nc, PoolJoin, s.allJoin, async (req, { msg }) => {
    const tokenId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    if (d.revoked(tokenId)) {
      log.warn({ token: tokenId, node: req.nodeId }, 'refused a join with a revoked token');
      throw new FlotillaError('FLO_FORBIDDEN', `join token ${tokenId} was revoked`);
    }
    if (d.known(req.nodeId)) throw new FlotillaError('FLO_CONFLICT', `node id ${req.nodeId} is in use by a live node`);
    await d.granted?.(tokenId, req.publicKey, req.nodeId);
    const jwt = await d.minter.grant(req.nodeId, req.publicKey, tokenId);
    log.info({ token: tokenId, node: req.nodeId }, 'node joined with a pool token');
    return { jwt };
  });
}
