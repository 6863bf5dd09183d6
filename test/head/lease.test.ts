/** The head lease: one leader per prefix; a standby takes over from a stopped or silent leader. */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { acquireLease } from '../../head/lease.ts';
import { silentLogger } from '../../shared/logger.ts';
import { until } from './helpers/wait.ts';

t.test('a standby waits for the leader, takes over from a silent one; a displaced leader learns it', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const kv = await new Kvm(nc).create(`${uniquePrefix('lease')}_head`);
  const log = silentLogger();
  const holder = async () => (await kv.get('leader'))?.json<{ head: string }>().head;
  const a = await acquireLease(kv, { headId: 'A', leaseMs: 300, log, onLost: () => undefined });
  let bHeld = false;
  const bP = acquireLease(kv, { headId: 'B', leaseMs: 300, log, onLost: () => undefined }).then((l) => {
    bHeld = true;
    return l;
  });
  const rev0 = (await kv.get('leader'))!.revision;
  await until('A renewed 5 times (more than a lease period)', async () => (await kv.get('leader'))!.revision >= rev0 + 5);
  t.notOk(bHeld, 'B stands by while A renews');
  t.equal(await holder(), 'A');
  await a.release();
  const b = await bP;
  t.equal(await holder(), 'B', 'B leads once A released');
  await b.release();

  // a holder that went silent (wrote once, never renews): C takes over
  await kv.put('leader', new TextEncoder().encode(JSON.stringify({ head: 'silent' })));
  let lostC = false;
  const c = await acquireLease(kv, {
    headId: 'C',
    leaseMs: 300,
    log,
    onLost: () => {
      lostC = true;
    },
  });
  t.equal(await holder(), 'C', 'C took over from a silent holder');
  // someone else forces the key: C's next renewal sees it and reports the loss
  await kv.put('leader', new TextEncoder().encode(JSON.stringify({ head: 'D' })));
  await until('C noticed', () => lostC);
  t.pass('C was told it lost the lease');
  await c.release();
  t.equal(await holder(), 'D', "a displaced head does not delete the new holder's key");
});
