/**
 * Node membership over NATS: `nodeRegister` requests (the NodeRegister endpoint, shared/endpoints.ts),
 * `nodeHeartbeat` publishes (a heartbeat of a node this head does not know triggers a `ping`
 * for its NodeInfo: a node that joined while no head ran), and `nodeLeaving` (draining).
 * Each arrives on a subject naming its node, which only that node's NATS user may publish:
 * a body that speaks for another node is refused (register) or dropped.
 */
import type { NatsConnection, Subscription, Msg } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import { nodeOfSubject, type Subjects } from '../../shared/subjects.ts';
import { decode } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { serve } from '../../shared/endpoint.ts';
import { NodeRegister } from '../../shared/endpoints.ts';
import { NodeHeartbeat } from '../../shared/schemas/node.ts';
import type { Controller } from '../controller.ts';
import { pingNode } from './spawn.ts';

export interface Membership {
  stop(): void;
}

export function watchMembership(nc: NatsConnection, s: Subjects, ctl: Controller, log: Logger, headId: string): Membership {
  const pinging = new Map<string, number>();
  const subs: Subscription[] = [];
  const impostor = (m: Msg, nodeId: string): boolean => {
    if (nodeOfSubject(m.subject) === nodeId) return false;
    log.warn({ subject: m.subject, claimed: nodeId }, 'dropped a node message that speaks for another node');
    return true;
  };

  subs.push(
    serve(nc, NodeRegister, s.allNodeRegister, async (info, { msg }) => {
      if (impostor(msg, info.nodeId))
        throw new FlotillaError('FLO_FORBIDDEN', `a registration of node ${info.nodeId} must come on its own subject`);
      await ctl.registerNode(info, { fresh: true });
      log.info({ node: info.nodeId, slots: info.slots, backend: info.backend, host: info.host }, 'node registered');
      return { headId };
    }),
  );

  subs.push(
    nc.subscribe(s.allNodeHeartbeats, {
      callback: (err, m) => {
        if (err) return;
        let hb: NodeHeartbeat;
        try {
          hb = decode(NodeHeartbeat, m.data);
        } catch {
          return;
        }
        if (impostor(m, hb.nodeId)) return;
        const before = ctl.nodes.get(hb.nodeId)?.record;
        const wasDraining = before?.draining ?? false;
        const hadActors = before?.actors.length ?? 0;
        void ctl
          .heartbeat(hb)
          .then(async (known) => {
            if (known) {
              if (hb.draining && !wasDraining) await ctl.onNodeLeaving(hb.nodeId);
              else if (hb.actors.length < hadActors) ctl.slotFreed();
              return;
            }
            const last = pinging.get(hb.nodeId) ?? 0;
            if (Date.now() - last < 2000) return;
            pinging.set(hb.nodeId, Date.now());
            const info = await pingNode(nc, s, hb.nodeId, 2000);
            await ctl.registerNode(info, { hb });
            log.info({ node: info.nodeId, slots: info.slots }, 'node adopted from its heartbeat');
          })
          .catch((e: Error) => log.debug({ node: hb.nodeId, err: e.message }, 'heartbeat not applied'));
      },
    }),
  );

  subs.push(
    nc.subscribe(s.allNodeLeaving, {
      callback: (err, m) => {
        if (err) return;
        let hb: NodeHeartbeat;
        try {
          hb = decode(NodeHeartbeat, m.data);
        } catch {
          return;
        }
        if (impostor(m, hb.nodeId)) return;
        log.info({ node: hb.nodeId }, 'node is leaving');
        void ctl.onNodeLeaving(hb.nodeId).catch((e: Error) => log.warn({ node: hb.nodeId, err: e.message }, 'drain failed'));
      },
    }),
  );

  return {
    stop() {
      for (const sub of subs) sub.unsubscribe();
    },
  };
}
