/**
 * A 2-rank YOLOv5 job (tiny model, synthetic set, real agent and actor processes) with
 * `sync: diloco`: both ranks succeed, each epoch is validated and written to results.csv, and
 * the job's last.ckpt carries the outer state (anchor, outer momentum, schedule) and the setting,
 * and rank 0's epoch metrics report the outer steps and bytes, with the number of outer steps the schedule gives: 8 optimizer steps, H = 2, the epoch end at
 * step 4 falling on a sync (nothing more to send there), so outer steps at 2, 4, 6 and 8.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { decodeCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { decode } from '../../shared/codec.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { Collector, actorSpec, control, exits, jobSpec, natsEnv, startTestAgent } from '../worker/helpers.ts';

type Metric = Extract<JobEvent, { type: 'metric' }>;

const LOADED_LEASE_MS = 120_000; // training, not fencing, is under test (see test/worker/yolov5.test.ts)
const TINY = fileURLToPath(new URL('../worker/fixtures/tiny-yolov5.yaml', import.meta.url));

t.test('yolov5 job with sync diloco on two ranks', async (t) => {
  const env = await natsEnv(t, 'ydl');
  const ex = exits(env.nc, env.s);
  const events = new Collector(env.nc, env.s.jobEvents('jdl'), (m) => decode(JobEvent, m.data));
  await startTestAgent(t, env, { nodeId: 'node-dl', slots: 2 });
  const job = jobSpec({
    workers: 2,
    checkpoint_every: 1000,
    sync: { mode: 'diloco', every: 2 },
    trainer: {
      kind: 'yolov5',
      cfg: TINY,
      data: 'synthetic',
      img: 64,
      epochs: 2,
      batch: 2,
      nbs: 2,
      synthetic: { train: 8, val: 2, seed: 3 },
      hyp: { warmup_epochs: 0 },
    },
  });
  for (const rank of [0, 1]) {
    const r = await control(env.nc, env.s.nodeControl('node-dl'), {
      op: 'spawn',
      actor: {
        ...actorSpec({ jobId: 'jdl', actorId: `dl-r${rank}`, rank, worldSize: 2, nodeId: 'node-dl', job }),
        leaseMs: LOADED_LEASE_MS,
      },
    });
    t.equal(r.ok, true, `rank ${rank} spawned`);
  }
  for (const rank of [0, 1]) {
    const e = await ex.next((x) => x.actorId === `dl-r${rank}`);
    t.equal(e.outcome.kind, 'succeeded', `rank ${rank}: ${e.outcome.message ?? ''}`);
  }
  const perEpoch = events.items.filter((e): e is Metric => e.type === 'metric' && 'map50' in e.values);
  t.same(
    perEpoch.map((e) => e.values.sync_outer_steps),
    [2, 4],
    'rank 0 reports the outer steps applied by each epoch end',
  );
  t.ok(
    perEpoch.every((e) => e.values.sync_bytes_sent > 0),
    'and the bytes it sent',
  );
  const os = await new Objm(env.nc).open(env.s.jobStore('jdl', 'art'));
  const rows = new TextDecoder()
    .decode((await os.getBlob('jdl/results.csv'))!)
    .trim()
    .split('\n');
  t.equal(rows.length, 3, 'results.csv: a header and one row per epoch');
  const last = decodeCheckpoint((await os.getBlob('jdl/last.ckpt'))!);
  const sync = last.meta.sync as { mode: string; outerSteps: number[]; lastSent: number[] };
  t.equal(sync.mode, 'diloco');
  t.same(sync.outerSteps, [4], 'outer steps at optimizer steps 2, 4, 6, 8');
  t.match(
    last.meta.syncSettings,
    { mode: 'diloco', every: 2, outer_lr: 0.7, outer_momentum: 0.9 },
    'the setting travels with the checkpoint',
  );
  t.ok(last.tensors.get('sync/anchor') && last.tensors.get('sync/velocity'), 'anchor and outer momentum stored');
  t.match(last.meta, { fit: { cursor: { epoch: 2, index: 0 } } }, 'the finished run');
  t.ok(decodeCheckpoint((await os.getBlob('jdl/best.ckpt'))!).tensors.size > 0, 'best.ckpt written');
});
