/**
 * The node's registration with the head, retried (backoff 250 ms to 2 s) until a head answers
 * or the agent closes. When no one answers for long (no responders: a leaf server that does not
 * forward this node id), it says so (unregistered.ts): once through `onUnregistrable` when given
 * (the node joined, so a head is up), else as a warning every 30 s.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import type { Subjects } from '../../shared/subjects.ts';
import type { NodeInfo } from '../../shared/schemas/index.ts';
import { call, NoReply } from '../../shared/endpoint.ts';
import { NodeRegister } from '../../shared/endpoints.ts';
import { abortableSleep } from '../actor/index.ts';
import { isNoResponders, NO_RESPONDERS_LIMIT, unregisteredMessage } from './unregistered.ts';

/** True once a head accepted the registration; false when the agent closed or gave up. */
export async function registerUntilAnswered(d: {
  nc: NatsConnection;
  s: Subjects;
  info: NodeInfo;
  log: Logger;
  signal: AbortSignal;
  joined?: boolean;
  onUnregistrable?: (message: string) => void;
}): Promise<boolean> {
  let backoff = 250;
  let noResponders = 0;
  let warnedAt = 0;
  while (!d.signal.aborted) {
    try {
      await call(d.nc, NodeRegister, d.s.nodeRegister(d.info.nodeId), d.info, { timeoutMs: 2000 });
      return true;
    } catch (err) {
      if (err instanceof NoReply) d.log.debug({ err }, 'no head answered the registration; retrying');
      else d.log.warn({ err }, 'registration refused; retrying');
      noResponders = isNoResponders(err) ? noResponders + 1 : 0;
      if (noResponders >= NO_RESPONDERS_LIMIT) {
        const nc = d.nc;
        // a server without JetStream that Flotilla talks to is a leaf (JetStream is the cluster's, across it)
        const line = unregisteredMessage(d.info.nodeId, nc.getServer(), nc.info?.jetstream !== true, d.joined === true);
        if (d.joined && d.onUnregistrable) {
          d.log.error({}, line);
          d.onUnregistrable(line);
          return false;
        }
        if (Date.now() - warnedAt > 30_000) {
          warnedAt = Date.now();
          d.log.warn({}, line);
        }
      }
    }
    await abortableSleep(backoff, d.signal);
    backoff = Math.min(backoff * 2, 2000);
  }
  return false;
}
