/**
 * The partition fault's cut layer against a real nats-server: a cut closes the process's live
 * connections (all of them: it is process-wide), refuses reconnects while it lasts, and the
 * connections come back with their subscriptions once it is over.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../kit/nats-server.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { cutConnections, isCut } from '../../shared/nats-cut.ts';
import { until } from '../head/helpers/wait.ts';

t.test('a cut drops the connection, refuses reconnects while it lasts, then it reconnects', async (t) => {
  const nats = await startNatsServer({ auth: false });
  t.teardown(() => nats.stop());
  const nc = await connect(natsOptions(nats.url, undefined, { maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
  const other = await connect(natsOptions(nats.url, undefined, { maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
  t.teardown(async () => {
    await nc.close();
    await other.close();
  });
  const got: string[] = [];
  nc.subscribe('cut.test', {
    callback: (_e, m) => {
      got.push(m.string());
    },
  });
  await nc.flush();
  const statuses: string[] = [];
  const otherStatuses: string[] = [];
  void (async () => {
    for await (const s of nc.status()) statuses.push(s.type);
  })();
  void (async () => {
    for await (const s of other.status()) otherStatuses.push(s.type);
  })();
  const t0 = Date.now();
  t.equal(cutConnections(1500), 2, 'both live connections of this process were cut');
  t.ok(isCut(), 'the cut is in force');
  await until('disconnect seen', () => statuses.includes('disconnect'));
  await until('reconnected', () => statuses.includes('reconnect'), 20_000);
  const back = Date.now() - t0;
  t.ok(back >= 1400, `no reconnect before the cut ended (back after ${back} ms)`);
  await until('the other reconnected', () => otherStatuses.includes('reconnect'), 20_000);
  await nc.flush();
  other.publish('cut.test', 'after');
  await until('message after the cut', () => got.includes('after'));
  t.pass('the subscription works again after the cut');
});
