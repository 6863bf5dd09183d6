import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, startNatsCluster } from './nats-server.ts';

t.test('single server: pub/sub round trip and JetStream enabled', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const sub = nc.subscribe('kit.echo', { max: 1 });
  nc.publish('kit.echo', 'hello');
  for await (const m of sub) t.equal(m.string(), 'hello');
  const jsm = await jetstreamManager(nc);
  const info = await jsm.getAccountInfo();
  t.ok(info.limits, 'JetStream account info available');
});

t.test('3-server cluster: JetStream replicated stream', async (t) => {
  const c = await startNatsCluster(3);
  t.teardown(() => c.stop());
  const nc = await connect(c.options());
  t.teardown(() => nc.close());
  let created = false;
  for (let i = 0; i < 100 && !created; i++) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      await jsm.streams.add({ name: 'KIT', subjects: ['kit.>'], num_replicas: 3 });
      created = true;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    } // meta leader election
  }
  t.ok(created, 'an R3 stream was created');
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.info('KIT');
  t.equal(si.config.num_replicas, 3);
});
