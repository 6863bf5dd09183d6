/**
 * The server's client-disconnect advisories, read through the system-account user of the
 * trust dir's revoker.json (nats-trust.ts), turned into DisconnectHints: only a close by the client
 * itself ("Client Closed": its process ended, or it closed the connection) of a node agent's
 * control or heartbeat connection. The node comes from the user JWT's name, which the server
 * reports (`worker:<node>:<token>`); the role from the connection name the agent gives
 * (`flotilla-worker-<node>`, `…-heartbeat`; worker/agent/start.ts). Anything else is ignored.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ClientDisconnectAdvisory, CLIENT_CLOSED_REASON } from '../../shared/schemas/advisory.ts';
import type { ConnRole, DisconnectHints } from './hints.ts';

const WORKER_NAME = /^worker:([A-Za-z0-9_-]{1,64}):/;

/** The subject of the server's advisory when a client of `account` disconnects (system account). */
export const disconnectAdvisorySubject = (account: string): string => `$SYS.ACCOUNT.${account}.DISCONNECT`;

/** The node and role of a disconnect, or null when it is not a node agent closing its own connection. */
export function nodeConnection(a: ClientDisconnectAdvisory): { nodeId: string; role: ConnRole } | null {
  if (a.reason !== CLIENT_CLOSED_REASON) return null;
  const nodeId = WORKER_NAME.exec(a.client.name_tag ?? '')?.[1];
  if (!nodeId) return null;
  if (a.client.name === `flotilla-worker-${nodeId}`) return { nodeId, role: 'control' };
  if (a.client.name === `flotilla-worker-${nodeId}-heartbeat`) return { nodeId, role: 'heartbeat' };
  return null;
}

export function watchDisconnects(
  sysNc: NatsConnection,
  account: string,
  hints: DisconnectHints,
  onBad: (err: unknown) => void,
): Subscription {
  return sysNc.subscribe(disconnectAdvisorySubject(account), {
    callback: (err, m) => {
      if (err) {
        onBad(err);
        return;
      }
      let a: ClientDisconnectAdvisory;
      try {
        a = ClientDisconnectAdvisory.parse(m.json());
      } catch (e) {
        onBad(e);
        return;
      }
      const c = nodeConnection(a);
      if (c) hints.closed(c.nodeId, c.role);
    },
  });
}
