/**
 * Reproducible multi-rank jobs: the same 2-rank YOLOv5 job run twice ends with bit-identical
 * weights; a 1-rank job with the same total batch sees the same images per step and ends close
 * to it (not equal: each rank normalises BatchNorm over its own half batch and averages the
 * box/cls loss over its own targets, as DDP without SyncBatchNorm does). The measured gap is
 * printed.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { decodeCheckpoint, type CheckpointContent } from '../../worker/engine/checkpoint/index.ts';
import { actorSpec, control, exits, jobSpec, natsEnv, startTestAgent, type Env } from './helpers.ts';

// The actors' self-fencing lease (3 s by default) would expire on a loaded machine while a
// step or AutoAnchor runs; these tests are about training, not fencing.
const LOADED_LEASE_MS = 120_000;
const TINY = fileURLToPath(new URL('./fixtures/tiny-yolov5.yaml', import.meta.url));

async function runJob(env: Env, jobId: string, workers: number): Promise<CheckpointContent> {
  const ex = exits(env.nc, env.s);
  const job = jobSpec({
    workers,
    checkpoint_every: 1000,
    allreduce: { algorithm: 'multicast' },
    trainer: {
      kind: 'yolov5',
      cfg: TINY,
      data: 'synthetic',
      img: 64,
      epochs: 2,
      batch: 4,
      nbs: 4,
      synthetic: { train: 8, val: 2, seed: 1 },
      hyp: { warmup_epochs: 0 },
    },
  } as never);
  for (let rank = 0; rank < workers; rank++) {
    const r = await control(env.nc, env.s.nodeControl('node-rp'), {
      op: 'spawn',
      actor: {
        ...actorSpec({ jobId, actorId: `${jobId}-r${rank}`, rank, worldSize: workers, nodeId: 'node-rp', job }),
        leaseMs: LOADED_LEASE_MS,
      },
    });
    if (!r.ok) throw new Error(`spawn failed: ${JSON.stringify(r)}`);
  }
  for (let rank = 0; rank < workers; rank++) {
    const e = await ex.next((x) => x.actorId === `${jobId}-r${rank}`);
    if (e.outcome.kind !== 'succeeded') throw new Error(`${jobId} rank ${rank}: ${e.outcome.kind}: ${e.outcome.message}`);
  }
  ex.close();
  const os = await new Objm(env.nc).open(env.s.jobStore(jobId, 'art'));
  return decodeCheckpoint((await os.getBlob(`${jobId}/last.ckpt`))!);
}

function compare(
  a: CheckpointContent,
  b: CheckpointContent,
  prefix: string,
  skip = /$^/,
): { identical: boolean; maxAbs: number; relL2: number; tensors: number } {
  let identical = true,
    maxAbs = 0,
    num = 0,
    den = 0,
    tensors = 0;
  for (const [k, ta] of a.tensors) {
    if (!k.startsWith(prefix) || skip.test(k)) continue;
    const x = ta.data as Float32Array,
      y = b.tensors.get(k)!.data as Float32Array;
    tensors++;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) identical = false;
      const d = Math.abs(x[i] - y[i]);
      maxAbs = Math.max(maxAbs, d);
      num += d * d;
      den += y[i] * y[i];
    }
  }
  return { identical, maxAbs, relL2: Math.sqrt(num / den), tensors };
}

t.test('a 2-rank job run twice: bit-identical weights; against 1 rank with the same total batch: close', async (t) => {
  const env = await natsEnv(t, 'rp');
  await startTestAgent(t, env, { nodeId: 'node-rp', slots: 2 });
  const a = await runJob(env, 'jrpa', 2);
  const b = await runJob(env, 'jrpb', 2);
  const one = await runJob(env, 'jrp1', 1);
  const twice = compare(a, b, 'model/');
  t.ok(twice.tensors > 10, `${twice.tensors} model tensors compared`);
  t.ok(twice.identical, '2 ranks, run twice: bit-identical model');
  t.ok(compare(a, b, 'ema/').identical, '2 ranks, run twice: bit-identical EMA');
  const vs1 = compare(a, one, 'model/');
  const params = compare(a, one, 'model/', /running_(mean|var)|num_batches/);
  t.comment(
    `2-rank vs 1-rank model after 2 epochs (4 optimizer steps): all tensors max |Δ| ${vs1.maxAbs.toExponential(3)}, relative L2 ${vs1.relL2.toExponential(3)}; parameters only max |Δ| ${params.maxAbs.toExponential(3)}, relative L2 ${params.relL2.toExponential(3)}`,
  );
  t.ok(vs1.relL2 < 0.05, 'the 1-rank run stays close (same images, same schedule)');
});
