import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, startNatsCluster, uniquePrefix } from '../kit/nats-server.ts';
import { jsManager, detectClusterSize, defaultReplicas, ensureKv, ensureStream } from '../../shared/js-assets.ts';
import { withJsRetry } from '../../shared/js-retry.ts';
import { openResources } from '../../head/resources.ts';
import { subjects } from '../../shared/subjects.ts';

t.test('a standalone server counts as 1: every asset R1', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  t.equal(await detectClusterSize(await jetstreamManager(nc)), 1);
  const res = await openResources(nc, subjects(uniquePrefix()));
  t.equal(res.replicas, 1);
  t.same(
    res.assets.map((a) => a.replicas),
    res.assets.map(() => 1),
  );
  t.equal(defaultReplicas(5), 3, 'capped at 3');
  t.equal(defaultReplicas(3, 1), 1, 'configured wins');
});

t.test('3-server cluster: detected as 3, every asset R3, an existing R1 bucket is raised', async (t) => {
  const c = await startNatsCluster(3);
  t.teardown(() => c.stop());
  const nc = await connect(c.options());
  t.teardown(() => nc.close());
  const retry = { budgetMs: 30_000, attempts: 60 };
  const jsm = await jsManager(nc, retry);
  t.equal(await detectClusterSize(jsm, retry), 3);
  const s = subjects(uniquePrefix());
  // an R1 bucket made by an older version
  await withJsRetry('old bucket', () => new Kvm(jetstream(nc)).create(s.jobsBucket, { history: 1, replicas: 1 }), retry);
  const res = await withJsRetry('open', () => openResources(nc, s), retry);
  t.equal(res.clusterSize, 3);
  t.equal(res.replicas, 3);
  for (const a of res.assets) t.equal(a.replicas, 3, `${a.stream}: R3 (${a.action})`);
  const jobs = res.assets.find((a) => a.stream === `KV_${s.jobsBucket}`);
  t.equal(jobs?.action, 'raised', 'the R1 jobs bucket was raised in place');
  t.equal((await jsm.streams.info(`KV_${s.jobsBucket}`)).config.num_replicas, 3, 'the server says R3');
  // idempotent: a second open changes nothing
  const again = await openResources(nc, s);
  t.same(
    again.assets.map((a) => a.action),
    again.assets.map(() => 'exists'),
  );
  // a stream and a KV asked for more replicas than there are servers keep what they can
  const kept = await ensureStream(jsm, { name: `${s.eventsStream}_X`, subjects: [`${s.prefix}.x.>`] }, 1, retry);
  t.equal(kept.action, 'created');
  const up = await ensureKv(jetstream(nc), jsm, `${s.prefix}_five`, 5, {}, { attempts: 2 }).catch((e: Error) => e);
  t.ok(up instanceof Error, `R5 on 3 servers is refused: ${(up as Error).message}`);
});
