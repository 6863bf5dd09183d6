/**
 * train.py's data options through a two-rank YOLOv5 job spec (rect, multi_scale, image_weights):
 * both ranks finish the run together (the multi-scale size and the image-weights draw are keyed
 * by seed and step, so the ranks agree without a message) and the checkpoint records them.
 */
import t from 'tap';
import { Objm } from '@nats-io/obj';
import { decode } from '../../shared/codec.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { decodeCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { actorSpec, Collector, control, exits, jobSpec, natsEnv, startTestAgent, tinyYolov5 } from './helpers.ts';

const LOADED_LEASE_MS = 120_000;

t.test('yolov5 job on two ranks: rect, multi_scale, image_weights', async (t) => {
  const env = await natsEnv(t, 'yd');
  const ex = exits(env.nc, env.s);
  const events = new Collector(env.nc, env.s.jobEvents('jyd'), (m) => decode(JobEvent, m.data));
  await startTestAgent(t, env, { nodeId: 'node-yd', slots: 2 });
  const job = jobSpec({
    workers: 2,
    checkpoint_every: 100,
    trainer: tinyYolov5({ epochs: 2, rect: true, multi_scale: true, image_weights: true }),
  });
  for (const rank of [0, 1]) {
    const r = await control(env.nc, env.s.nodeControl('node-yd'), {
      op: 'spawn',
      actor: {
        ...actorSpec({ jobId: 'jyd', actorId: `yd-r${rank}`, rank, worldSize: 2, nodeId: 'node-yd', job }),
        leaseMs: LOADED_LEASE_MS,
      },
    });
    t.equal(r.ok, true, `rank ${rank} spawned`);
  }
  for (const rank of [0, 1]) {
    const e = await ex.next((x) => x.actorId === `yd-r${rank}`);
    t.equal(e.outcome.kind, 'succeeded', e.outcome.message);
  }
  await events.next((e) => e.type === 'artifact' && e.name === 'best.ckpt');
  const os = await new Objm(env.nc).open(env.s.jobStore('jyd', 'art'));
  const last = decodeCheckpoint((await os.getBlob('jyd/last.ckpt'))!);
  t.match(
    last.meta,
    { rect: true, multiScale: true, imageWeights: true, fit: { cursor: { epoch: 2, index: 0 } } },
    'the run the spec asked for, finished',
  );
  const maps = (last.meta.fit as { maps?: number[] }).maps;
  t.equal(maps?.length, last.meta.nc, `per-class mAP kept for the next epoch's draw (${maps})`);
  ex.close();
  events.close();
});
