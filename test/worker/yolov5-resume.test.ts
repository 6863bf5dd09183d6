/**
 * One checkpoint format across the two entry points: `flotilla train` (trainSession) and a
 * 1-rank YOLOv5 job run the same loop on the same data, so the job's weights equal the
 * one-process run's, a job resumed from a `flotilla train` checkpoint (`trainer.resume`) ends
 * where the uninterrupted run ends, and `flotilla train --resume` of a job's checkpoint does too.
 */
import t from 'tap';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { initBackend } from '../../worker/engine/backend.ts';
import { decodeCheckpoint, loadCheckpoint, type CheckpointContent } from '../../worker/engine/checkpoint/index.ts';
import { trainSession } from '../../worker/engine/train/index.ts';
import { actorSpec, control, exits, jobSpec, natsEnv, startTestAgent, type Env } from './helpers.ts';

// The actors' self-fencing lease (3 s by default) would expire on a loaded machine while a
// step or AutoAnchor runs; these tests are about training, not fencing.
const LOADED_LEASE_MS = 120_000;
const TINY = fileURLToPath(new URL('./fixtures/tiny-yolov5.yaml', import.meta.url));
const RUN = { img: 64, epochs: 2, batch: 2, nbs: 2, seed: 0 } as const; // nbs = batch: an optimizer step every batch
const SYNTH = { train: 4, val: 2, seed: 0 } as const;

function modelBits(c: CheckpointContent): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of c.tensors)
    if (k.startsWith('model/') || k.startsWith('ema/')) out.set(k, Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength));
  return out;
}

function differing(a: CheckpointContent, b: CheckpointContent): string[] {
  const x = modelBits(a),
    y = modelBits(b);
  const keys = new Set([...x.keys(), ...y.keys()]);
  return [...keys].filter((k) => !x.get(k) || !y.get(k) || !x.get(k)!.equals(y.get(k)!));
}

async function runJob(env: Env, jobId: string, trainer: Record<string, unknown>): Promise<void> {
  const ex = exits(env.nc, env.s);
  const job = jobSpec({
    workers: 1,
    checkpoint_every: 1000,
    trainer: { kind: 'yolov5', cfg: TINY, data: 'synthetic', ...RUN, synthetic: SYNTH, hyp: { warmup_epochs: 0 }, ...trainer } as never,
  });
  const r = await control(env.nc, env.s.nodeControl('node-rs'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId, actorId: `${jobId}-r0`, nodeId: 'node-rs', job }), leaseMs: LOADED_LEASE_MS },
  });
  if (!r.ok) throw new Error(`spawn failed: ${JSON.stringify(r)}`);
  const e = await ex.next((x) => x.actorId === `${jobId}-r0`);
  ex.close();
  if (e.outcome.kind !== 'succeeded') throw new Error(`job ${jobId}: ${e.outcome.kind}: ${e.outcome.message}`);
}

t.test('flotilla train and a 1-rank job resume each other bit for bit', async (t) => {
  const backend = await initBackend();
  t.comment(`backend: ${backend.backend}`);
  const dir = mkdtempSync(join(tmpdir(), 'yv-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = await natsEnv(t, 'yr');
  await startTestAgent(t, env, { nodeId: 'node-rs', slots: 1 });
  // each job's own stores (made by the spawn, as the head does)
  const store = (jobId: string, kind: 'art' | 'ckpt') => new Objm(env.nc).open(env.s.jobStore(jobId, kind));
  const session = {
    data: 'synthetic',
    cfg: TINY,
    ...RUN,
    synthTrain: SYNTH.train,
    synthVal: SYNTH.val,
    hypOverrides: { warmup_epochs: 0 },
    project: dir,
    existOk: true,
  };

  // the reference: flotilla train, 2 epochs; keep its checkpoint after epoch 0
  const afterEpoch0 = join(dir, 'train-epoch0.ckpt');
  const ref = await trainSession({
    ...session,
    name: 'ref',
    onEvent: (e) => {
      if (e.type === 'checkpoint' && e.kind === 'last' && e.epochEnd && e.epoch === 1) copyFileSync(e.path, afterEpoch0);
    },
  });
  const refLast = loadCheckpoint(ref.lastPath);

  // a job from scratch trains the same weights
  await runJob(env, 'jscratch', {});
  const jobLast = decodeCheckpoint((await (await store('jscratch', 'art')).getBlob('jscratch/last.ckpt'))!);
  t.same(differing(jobLast, refLast), [], 'a 1-rank job and flotilla train end with bit-identical model and EMA');

  // a job resumes flotilla train's epoch-0 checkpoint
  await runJob(env, 'jresume', { resume: afterEpoch0 });
  const resumedLast = decodeCheckpoint((await (await store('jresume', 'art')).getBlob('jresume/last.ckpt'))!);
  t.match(resumedLast.meta, { job: 'jresume', fit: { cursor: { epoch: 2 } } });
  t.same(differing(resumedLast, refLast), [], 'job resumed from a flotilla train checkpoint == uninterrupted run');
  const csv = new TextDecoder()
    .decode((await (await store('jresume', 'art')).getBlob('jresume/results.csv'))!)
    .trim()
    .split('\n');
  t.same(
    csv.slice(1).map((r) => Number(r.split(',')[0])),
    [1],
    'the resumed job trained epoch 1 only',
  );

  // flotilla train resumes the job's epoch-0 checkpoint (the job keeps one per epoch end)
  const names = (await (await store('jscratch', 'ckpt')).list())
    .map((i) => i.name)
    .filter((n) => n.startsWith('jscratch/'))
    .sort();
  t.equal(names.length, 2, 'two epoch-end checkpoints');
  const jobEpoch0 = join(dir, 'job-epoch0.ckpt');
  writeFileSync(jobEpoch0, (await (await store('jscratch', 'ckpt')).getBlob(names[0]))!);
  const fromJob = await trainSession({ data: '', resume: jobEpoch0, project: dir, name: 'fromjob' });
  t.equal(fromJob.epochsRun, 1, 'one epoch left');
  t.not(fromJob.saveDir, ref.saveDir, "a job's checkpoint gets its own run folder");
  t.same(differing(loadCheckpoint(fromJob.lastPath), refLast), [], 'flotilla train resumed from a job checkpoint == uninterrupted run');
});
