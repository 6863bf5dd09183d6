/** Client-disconnect advisories of the nodes' connections, fed to supervisor/hints.ts. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import type { subjects } from '../../shared/subjects.ts';
import { credsJwt, credsText, jwtClaims, natsOptions } from '../../shared/nats-connect.ts';
import { readRevoker } from '../auth/revocations.ts';
import type { Controller } from '../controller.ts';
import type { HeadOptions } from '../head-options.ts';
import { DisconnectHints } from './hints.ts';
import { watchDisconnects } from './disconnects.ts';
import { pingNode } from './spawn.ts';

/**
 * Client-disconnect advisories through the system-account user of revoker.json: confirmed
 * closes end a node at once (supervisor/hints.ts). A user the server refuses leaves the head on
 * heartbeats alone, with a warning.
 */
export async function watchNodeConnections(
  o: HeadOptions,
  id: string,
  nc: NatsConnection,
  ctl: Controller,
  s: ReturnType<typeof subjects>,
  log: Logger,
  stops: Array<() => Promise<void> | void>,
): Promise<void> {
  const account = jwtClaims(credsJwt(credsText(o.natsCreds as string))).nats?.issuer_account;
  let sysNc: NatsConnection;
  try {
    if (!account) throw new Error('the head creds name no issuer account');
    sysNc = await connect(
      natsOptions(o.natsUrl, readRevoker(o.natsRevoker as string).sys_creds, {
        name: `${id}-advisories`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 5000,
      }),
    );
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'no client-disconnect advisories (system-account user refused): dead nodes are found by heartbeats alone',
    );
    return;
  }
  const hints = new DisconnectHints({
    ping: (nodeId) =>
      pingNode(nc, s, nodeId, 250).then(
        () => true,
        () => false,
      ),
    beats: (nodeId) => ctl.nodes.get(nodeId)?.beats,
    gone: (nodeId, why) => ctl.nodeGone(nodeId, why),
    onVerdict: (node, v) =>
      log.info({ node, ...v }, v.gone ? 'node connection closed: confirmed gone' : 'node connection closed: still alive'),
  });
  const sub = watchDisconnects(sysNc, account, hints, (err) => log.warn({ err }, 'ignoring a malformed disconnect advisory'));
  await sysNc.flush();
  stops.push(async () => {
    hints.stop();
    sub.unsubscribe();
    await sysNc.close().catch(() => undefined);
  });
}
