import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { decode } from '../../shared/codec.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { decodeCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { RESULTS_COLUMNS } from '../../worker/engine/train/index.ts';
import { actorSpec, Collector, control, exits, jobSpec, natsEnv, startTestAgent } from './helpers.ts';

type Metric = Extract<JobEvent, { type: 'metric' }>;
// The actors' self-fencing lease (3 s by default) would expire on a loaded machine while a
// step or AutoAnchor runs; these tests are about training, not fencing.
const LOADED_LEASE_MS = 120_000;
const TINY = fileURLToPath(new URL('./fixtures/tiny-yolov5.yaml', import.meta.url));

t.test('yolov5 trainer: two ranks on a tiny model and the synthetic set', async (t) => {
  const env = await natsEnv(t, 'yv');
  const ex = exits(env.nc, env.s);
  const events = new Collector(env.nc, env.s.jobEvents('jyv'), (m) => decode(JobEvent, m.data));
  await startTestAgent(t, env, { nodeId: 'node-yv', slots: 2 });
  const job = jobSpec({
    workers: 2,
    checkpoint_every: 2,
    trainer: {
      kind: 'yolov5',
      cfg: TINY,
      data: 'synthetic',
      img: 64,
      epochs: 2,
      batch: 2,
      synthetic: { train: 4, val: 2, seed: 3 },
      hyp: { warmup_epochs: 0 },
    },
  });
  for (const rank of [0, 1]) {
    const r = await control(env.nc, env.s.nodeControl('node-yv'), {
      op: 'spawn',
      actor: {
        ...actorSpec({ jobId: 'jyv', actorId: `yv-r${rank}`, rank, worldSize: 2, nodeId: 'node-yv', job }),
        leaseMs: LOADED_LEASE_MS,
      },
    });
    t.equal(r.ok, true, `rank ${rank} spawned`);
  }
  const e0 = await ex.next((e) => e.actorId === 'yv-r0');
  const e1 = await ex.next((e) => e.actorId === 'yv-r1');
  t.equal(e0.outcome.kind, 'succeeded', e0.outcome.message);
  t.equal(e1.outcome.kind, 'succeeded', e1.outcome.message);
  const m = events.items.filter((e): e is Metric => e.type === 'metric');
  const steps = m.filter((x) => 'box' in x.values).map((x) => x.step);
  t.same(steps, [1, 2, 3, 4], '4 images / (2 ranks x 1) = 2 batches per epoch, 2 epochs, each step once');
  const perEpoch = m.filter((x) => 'map50' in x.values);
  t.same(
    perEpoch.map((x) => [x.step, x.epoch]),
    [
      [2, 0],
      [4, 1],
    ],
    'P/R/mAP after every epoch',
  );
  for (const x of perEpoch)
    for (const k of ['precision', 'recall', 'map50', 'map', 'fitness', 'val_box', 'lr0'])
      t.type(x.values[k], 'number', `epoch ${x.epoch} ${k}`);
  t.ok(
    m.every((x) => x.rank === 0),
    'rank 0 reports',
  );
  t.same(
    events.items.filter((e) => e.type === 'checkpoint').map((e) => (e as { step: number }).step),
    [2, 4],
    'a checkpoint at every epoch end',
  );
  await events.next((e) => e.type === 'artifact' && e.name === 'best.ckpt');
  const artifacts = events.items.filter((e) => e.type === 'artifact').map((e) => (e as { name: string }).name);
  const isPicture = (n: string) => /\.(png|jpg)$/.test(n);
  t.same(
    artifacts.filter((n) => !isPicture(n)),
    ['results.csv', 'results.csv', 'last.ckpt', 'best.ckpt'],
    'results.csv after every epoch, then last and best',
  );
  const pictures = new Set(artifacts.filter(isPicture));
  t.same(
    [...pictures].sort(),
    [
      'F1_curve.png',
      'PR_curve.png',
      'P_curve.png',
      'R_curve.png',
      'confusion_matrix.png',
      'labels.jpg',
      'labels_correlogram.jpg',
      'results.png',
      'train_batch0.jpg',
      'train_batch1.jpg',
      'val_batch0_labels.jpg',
      'val_batch0_pred.jpg',
    ],
    'rank 0 uploads the pictures as artifacts',
  );
  t.ok(artifacts.indexOf('labels.jpg') < artifacts.indexOf('results.csv'), 'the label statistics before the first epoch ends');
  const os = await new Objm(env.nc).open(env.s.jobStore('jyv', 'art'));
  const csv = async () =>
    new TextDecoder()
      .decode((await os.getBlob('jyv/results.csv'))!)
      .trim()
      .split('\n');
  const rows = await csv();
  t.same(
    rows[0].split(',').map((c) => c.trim()),
    [...RESULTS_COLUMNS],
    'the reference columns',
  );
  t.same(
    rows.slice(1).map((r) => Number(r.split(',')[0])),
    [0, 1],
    'one row per epoch',
  );
  const png = (await os.getBlob('jyv/confusion_matrix.png'))!;
  t.same([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "confusion_matrix.png is a PNG in the job's artifacts");
  const last = decodeCheckpoint((await os.getBlob('jyv/last.ckpt'))!);
  t.match(
    last.meta,
    { job: 'jyv', epochs: 2, batch: 2, fit: { cursor: { epoch: 2, index: 0 } } },
    'last.ckpt is a flotilla train checkpoint of the finished run',
  );
  t.ok(decodeCheckpoint((await os.getBlob('jyv/best.ckpt'))!).tensors.size > 0, 'best.ckpt is a checkpoint');

  // Generation 1 with a third epoch: resumes from the checkpoint at step 4 (cursor epoch 2).
  const job3 = jobSpec({ ...job, trainer: { ...job.trainer, epochs: 3 } } as Parameters<typeof jobSpec>[0]);
  for (const rank of [0, 1]) {
    await control(env.nc, env.s.nodeControl('node-yv'), {
      op: 'spawn',
      actor: {
        ...actorSpec({ jobId: 'jyv', actorId: `yv1-r${rank}`, generation: 1, rank, worldSize: 2, nodeId: 'node-yv', job: job3 }),
        leaseMs: LOADED_LEASE_MS,
      },
    });
  }
  for (const rank of [0, 1]) {
    const e = await ex.next((x) => x.actorId === `yv1-r${rank}`);
    t.equal(e.outcome.kind, 'succeeded', e.outcome.message);
  }
  const resumed = events.items.filter((e): e is Metric => e.type === 'metric' && e.generation === 1 && 'box' in e.values);
  t.same(
    resumed.map((x) => [x.step, x.epoch]),
    [
      [5, 2],
      [6, 2],
    ],
    'resumed after step 4 in epoch 2: no step twice',
  );
  // best.ckpt comes again only if epoch 2 is a new best; last.ckpt always
  await events.next((e) => e.type === 'artifact' && e.generation === 1 && e.name === 'last.ckpt');
  t.same(
    (await csv()).slice(1).map((r) => Number(r.split(',')[0])),
    [0, 1, 2],
    'results.csv continues across generations',
  );
  ex.close();
  events.close();
});

t.test('yolov5 trainer: a bad dataset path is fatal', async (t) => {
  const env = await natsEnv(t, 'yv');
  const ex = exits(env.nc, env.s);
  await startTestAgent(t, env, { nodeId: 'node-yb', slots: 1 });
  const job = jobSpec({ trainer: { kind: 'yolov5', cfg: TINY, data: '/nonexistent/data.yaml', img: 64 } });
  await control(env.nc, env.s.nodeControl('node-yb'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'jyb', actorId: 'yb', nodeId: 'node-yb', job }), leaseMs: LOADED_LEASE_MS },
  });
  const e = await ex.next((x) => x.actorId === 'yb');
  t.match(e.outcome, { kind: 'fatal', message: /bad dataset/ });
  ex.close();
});
