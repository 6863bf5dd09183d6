/**
 * The dead-node decision on real heartbeats through a real nats-server: a node whose beats
 * arrive late (sent long before they are delivered, as behind a saturated link) is granted
 * that lateness, a node that stops is still found after the dead period; and the replica
 * count comes from config (jetstream.replicas, FLOTILLA_JS_REPLICAS) with one clear error.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { subjects } from '../../shared/subjects.ts';
import { encode } from '../../shared/codec.ts';
import { loadConfig } from '../../shared/config.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { until } from './helpers/wait.ts';

t.test('a late but live node is not declared dead; a silent one is', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const prefix = uniquePrefix('sl');
  const s = subjects(prefix);
  const deadAfterMs = 1000;
  const head = await startHead({ natsUrl: nats.url, ...nats.auth?.headOptions, prefix, port: null, deadAfterMs, tickMs: 50 });
  t.teardown(() => head.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const info = (nodeId: string) => ({
    nodeId,
    host: 'h',
    slots: 1,
    backend: 'cpu',
    device: 'd',
    pid: process.pid,
    started_at: new Date().toISOString(),
  });
  for (const id of ['slow', 'dead']) await nc.request(s.nodeRegister(id), encode(info(id)), { timeout: 5000 });
  let seq = 0;
  const beat = (nodeId: string, sentAgoMs: number) =>
    nc.publish(s.nodeHeartbeat(nodeId), encode({ nodeId, ts: Date.now() - sentAgoMs, seq: seq++, slots: 1, actors: [], draining: false }));
  // both beat on time for a while (the baseline); then 'dead' stops and 'slow' falls behind as
  // behind a filling queue: beats arrive 0.7 s after they were sent, then in bursts 1.5 s
  // apart (longer than the dead period) 1.2 s after they were sent
  let stopAt = 0;
  for (let i = 0; i < 10; i++) {
    beat('slow', 0);
    beat('dead', 0);
    stopAt = Date.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  const deadGone = until('the silent node is declared dead', () => !head.ctl.nodes.has('dead') && Date.now());
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 300));
    beat('slow', 700);
  }
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 1500));
    beat('slow', 1200);
  }
  const gone = await deadGone;
  t.ok(gone - stopAt >= deadAfterMs, `the silent node went after ${gone - stopAt} ms of silence (dead period ${deadAfterMs} ms)`);
  t.ok(head.ctl.nodes.has('slow'), 'the node whose beats ran 1.2 s late is still a member after 1.5 s gaps');
  t.ok((head.ctl.nodes.get('slow')?.lateMs ?? 0) >= 1100, `its lateness was measured: ${head.ctl.nodes.get('slow')?.lateMs} ms`);
});

t.test('jetstream.replicas from config and env, one clear error when bad', async (t) => {
  t.equal(loadConfig({ env: {} }).jetstream.replicas, undefined, 'default: detected at start');
  t.equal(loadConfig({ env: { FLOTILLA_JS_REPLICAS: '1' } }).jetstream.replicas, 1);
  t.equal(loadConfig({ env: {}, overrides: { jetstream: { replicas: 3 } } }).jetstream.replicas, 3);
  const err = (() => {
    try {
      loadConfig({ env: { FLOTILLA_JS_REPLICAS: 'x' } });
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof FlotillaError && err.code === 'FLO_CONFIG', 'FLO_CONFIG');
  t.match((err as Error).message, /jetstream\.replicas/);
});
