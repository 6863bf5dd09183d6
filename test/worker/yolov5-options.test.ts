/**
 * train.py's options through a YOLOv5 job spec (label_smoothing, single_cls, optimizer,
 * save_period) reach the one training loop: the job's checkpoint records them and save_period's
 * epochN.ckpt files arrive as artifacts.
 */
import t from 'tap';
import { Objm } from '@nats-io/obj';
import { decode } from '../../shared/codec.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { decodeCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { actorSpec, Collector, control, exits, jobSpec, natsEnv, startTestAgent, tinyYolov5 } from './helpers.ts';

const LOADED_LEASE_MS = 120_000;

t.test('yolov5 job: label_smoothing, single_cls, optimizer, save_period', async (t) => {
  const env = await natsEnv(t, 'yo');
  const ex = exits(env.nc, env.s);
  const events = new Collector(env.nc, env.s.jobEvents('jyo'), (m) => decode(JobEvent, m.data));
  await startTestAgent(t, env, { nodeId: 'node-yo', slots: 1 });
  const job = jobSpec({
    workers: 1,
    checkpoint_every: 100,
    trainer: tinyYolov5({ epochs: 3, label_smoothing: 0.1, single_cls: true, optimizer: 'AdamW', save_period: 2 }),
  });
  const r = await control(env.nc, env.s.nodeControl('node-yo'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'jyo', actorId: 'yo-r0', rank: 0, worldSize: 1, nodeId: 'node-yo', job }), leaseMs: LOADED_LEASE_MS },
  });
  t.equal(r.ok, true, 'spawned');
  const e0 = await ex.next((e) => e.actorId === 'yo-r0');
  t.equal(e0.outcome.kind, 'succeeded', e0.outcome.message);
  await events.next((e) => e.type === 'artifact' && e.name === 'best.ckpt');
  const artifacts = events.items.filter((e) => e.type === 'artifact').map((e) => (e as { name: string }).name);
  t.same(
    artifacts.filter((n) => n.startsWith('epoch')),
    ['epoch0.ckpt', 'epoch2.ckpt'],
    'save_period 2 over epochs 0..2',
  );
  const os = await new Objm(env.nc).open(env.s.jobStore('jyo', 'art'));
  const last = decodeCheckpoint((await os.getBlob('jyo/last.ckpt'))!);
  t.match(
    last.meta,
    { nc: 1, names: ['item'], singleCls: true, optimizer: 'AdamW', hyp: { label_smoothing: 0.1 } },
    'the run the spec asked for',
  );
  t.match(last.meta.train, { adam: { kind: 'AdamW' } }, 'AdamW state in the checkpoint');
  const e0ck = decodeCheckpoint((await os.getBlob('jyo/epoch0.ckpt'))!);
  t.match(e0ck.meta, { fit: { cursor: { epoch: 1 } } }, 'epoch0.ckpt holds the state after epoch 0');
});
