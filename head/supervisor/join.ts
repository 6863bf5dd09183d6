/**
 * Pool joins: a worker holding a pool join token asks on `join.<tokenId>` (only that token's
 * holders may publish there) for the credentials of the node id it chose; the head signs a
 * worker JWT for the key the worker sent, unless the token is revoked or the node id belongs to
 * a node the head still knows (which would let a joiner take over a live node's identity).
 */
import type { NatsConnection, Subscription, Msg } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { decode, encode } from '../../shared/codec.ts';
import { FlotillaError, toWire } from '../../shared/errors.ts';
import { JoinRequest, type ControlReply, type JoinGrant } from '../../shared/schemas/index.ts';
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
  const reply = (m: Msg, r: ControlReply) => { if (m.reply) m.respond(encode(r)); };
  return nc.subscribe(s.allJoin, {
    callback: (err, m) => {
      if (err) return;
      const tokenId = m.subject.slice(m.subject.lastIndexOf('.') + 1);
      let req: JoinRequest;
      try { req = decode(JoinRequest, m.data); } catch (e) { reply(m, { ok: false, error: toWire(e) }); return; }
      if (d.revoked(tokenId)) {
        log.warn({ token: tokenId, node: req.nodeId }, 'refused a join with a revoked token');
        reply(m, { ok: false, error: toWire(new FlotillaError('FLO_FORBIDDEN', `join token ${tokenId} was revoked`)) });
        return;
      }
      if (d.known(req.nodeId)) {
        reply(m, { ok: false, error: toWire(new FlotillaError('FLO_CONFLICT', `node id ${req.nodeId} is in use by a live node`)) });
        return;
      }
      void (d.granted ? d.granted(tokenId, req.publicKey, req.nodeId) : Promise.resolve()).then(() => d.minter.grant(req.nodeId, req.publicKey, tokenId)).then(
        (jwt) => {
          log.info({ token: tokenId, node: req.nodeId }, 'node joined with a pool token');
          const grant: JoinGrant = { jwt };
          reply(m, { ok: true, result: grant });
        },
        (e: unknown) => reply(m, { ok: false, error: toWire(e) }),
      );
    },
  });
}
