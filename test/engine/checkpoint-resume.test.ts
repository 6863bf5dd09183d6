/**
 * Resume equivalence: N steps straight vs k steps, checkpoint through bytes, a fresh model
 * (other init) loaded from it, N − k steps → bit-identical weights, EMA and momentum.
 * The split falls in the middle of a gradient accumulation, so the pending sum must travel too.
 */
import t from 'tap';
import { buildModel } from '../../worker/engine/model/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { initBackend } from '../../worker/engine/backend.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import {
  Trainer,
  restoreTrainer,
  trainerCheckpoint,
  CheckpointMismatchError,
  type TrainerOptions,
} from '../../worker/engine/train/index.ts';
import { TINY_YAML, syntheticBatch } from './train-fixtures.ts';

const IMG = 64;
const BS = 2;
const N = 7;
const K = 3;

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

t.test('k steps + save + load into a fresh replica + N−k steps == N steps, bit for bit', async (t) => {
  const backend = await initBackend();
  t.comment(`backend: ${backend.backend} (${backend.device})`);
  // nbs 4 with batch 2 and no warmup: accumulate 2, optimizer steps after iterations 1, 3, 5
  const opts: TrainerOptions = {
    hyp: loadHyp(undefined, { warmup_epochs: 0 }),
    epochs: 3,
    batchSize: BS,
    batchesPerEpoch: 3,
    imgsz: IMG,
    nbs: 4,
  };
  const epochOf = (ni: number) => Math.floor(ni / opts.batchesPerEpoch);
  const run = (tr: Trainer, from: number, to: number) => {
    for (let ni = from; ni < to; ni++) {
      tr.counters.epoch = epochOf(ni);
      tr.step(syntheticBatch(ni, BS, IMG));
    }
  };

  const a = new Trainer(buildModel(TINY_YAML, { seed: 1 }), opts);
  run(a, 0, N);

  const b = new Trainer(buildModel(TINY_YAML, { seed: 1 }), opts);
  run(b, 0, K);
  t.ok(
    b.accumulated.some((v) => v !== 0),
    'the split falls inside an accumulation',
  );
  const bytes = encodeCheckpoint(trainerCheckpoint(b, { note: 'resume test' }));
  b.model.loadStateDict(new Map([...b.model.stateDict()].map(([k, v]) => [k, v.map(() => 0)]))); // the original replica is wrecked
  const c = new Trainer(buildModel(TINY_YAML, { seed: 99 }), opts);
  restoreTrainer(c, decodeCheckpoint(bytes));
  t.equal(c.counters.ni, K, 'counters restored');
  run(c, K, N);

  t.comment(`checkpoint ${bytes.length} bytes; optimizer steps ${a.counters.optimizerSteps}`);
  t.ok(a.counters.optimizerSteps >= 3, 'several optimizer steps were taken');
  t.same(c.counters, a.counters, 'counters equal');
  const sa = a.model.stateDict();
  const sc = c.model.stateDict();
  t.same([...sc.keys()], [...sa.keys()]);
  const badW = [...sa].filter(([k, v]) => !sameBits(v, sc.get(k)!)).map(([k]) => k);
  t.same(badW, [], 'model weights and BN buffers bit-identical');
  const badE = [...a.ema.state].filter(([k, v]) => !sameBits(v, c.ema.state.get(k)!)).map(([k]) => k);
  t.same(badE, [], 'EMA bit-identical');
  t.equal(c.ema.updates, a.ema.updates);
  t.ok(sameBits(a.optimizer.velocity, c.optimizer.velocity), 'momentum bit-identical');
  t.ok(sameBits(a.accumulated, c.accumulated), 'pending gradient bit-identical');
  // and training did move the weights away from the init
  const init = buildModel(TINY_YAML, { seed: 1 }).stateDict();
  t.ok(
    [...sa].some(([k, v]) => !sameBits(v, init.get(k)!)),
    'weights changed during training',
  );
  for (const tr of [a, b, c]) tr.model.dispose?.();
});

t.test('a checkpoint for another layout is refused', async (t) => {
  const opts: TrainerOptions = { hyp: loadHyp(), epochs: 1, batchSize: BS, batchesPerEpoch: 1, imgsz: IMG };
  const a = new Trainer(buildModel(TINY_YAML, { seed: 1 }), opts);
  const frozen = new Trainer(buildModel(TINY_YAML, { seed: 1 }), { ...opts, freeze: [2] });
  t.ok(frozen.layout.size < a.layout.size, 'freezing removes parameters from the optimizer');
  t.throws(() => restoreTrainer(frozen, decodeCheckpoint(encodeCheckpoint(trainerCheckpoint(a)))), CheckpointMismatchError);
  t.throws(() => restoreTrainer(a, { tensors: new Map(), meta: {} }), CheckpointMismatchError);
});
