/**
 * The non-finite gradient guard of the one training loop (fit) on a tiny YOLOv5: a step whose
 * summed gradient holds a NaN is skipped (the weights, their BatchNorm statistics and the EMA
 * are bit-for-bit what they were before the step), counted in a `skip` event, and five in
 * a row end fit with a NonFiniteGradientError that says what to change. allFinite against a
 * plain check.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../worker/engine/backend.ts';
import { buildModel } from '../../worker/engine/model/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { NonFiniteGradientError, Trainer, allFinite, fit, type BatchSource, type FitEvent } from '../../worker/engine/train/index.ts';
import { tinyYaml } from './model-tiny.ts';
import { syntheticBatch } from './train-fixtures.ts';

const IMG = 32;

function source(n: number): BatchSource {
  return {
    length: n,
    async *epochBatches(epoch: number, from = 0) {
      for (let i = from; i < n; i++) yield syntheticBatch(epoch * n + i, 2, IMG);
    },
  };
}

function trainer(): Trainer {
  return new Trainer(buildModel(tinyYaml()), {
    hyp: loadHyp(undefined, { warmup_epochs: 0 }),
    epochs: 1,
    batchSize: 2,
    batchesPerEpoch: 8,
    imgsz: IMG,
    nbs: 2,
  });
}

function snapshot(tr: Trainer): Float32Array[] {
  return [...tr.model.stateDict().values(), ...tr.ema.state.values()].map((v) => Float32Array.from(v));
}

t.test('allFinite', async (t) => {
  t.ok(allFinite(Float32Array.of(0, -1, 3e38, -3e38)));
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    const a = new Float32Array(1000);
    a[777] = bad;
    t.notOk(allFinite(a), `${bad} found`);
  }
});

t.test('fit skips a NaN step on every rank alike and stops after five in a row', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'finite-guard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tr = trainer();
  const nanAt = new Set([3]);
  let before: Float32Array[] = [];
  let after: Float32Array[] = [];
  const events: FitEvent[] = [];
  await fit(tr, {
    train: source(6),
    saveDir: join(dir, 'one'),
    onEvent: (e) => {
      events.push(e);
    },
    hooks: {
      beforeStep: async (step) => {
        if (step === 3) before = snapshot(tr);
        if (step === 4) after = snapshot(tr);
      },
      // another rank's NaN: the sum every rank receives holds it
      reduceGradients: async (g) => {
        if (nanAt.has(tr.counters.ni + 1)) g[5] = Number.NaN;
      },
    },
  });
  const skips = events.filter((e) => e.type === 'skip');
  t.same(
    skips.map((e) => e.type === 'skip' && [e.step, e.consecutive, e.skipped]),
    [[3, 1, 1]],
    'step 3 skipped, counted once',
  );
  t.equal(events.filter((e) => e.type === 'batch').length, 5, 'the other five steps trained');
  t.equal(tr.counters.ni, 6, 'the counter moved past the skipped batch');
  t.equal(before.length, after.length);
  t.ok(
    before.every((v, i) => Buffer.from(v.buffer).equals(Buffer.from(after[i].buffer))),
    'weights, BatchNorm statistics and EMA unchanged by the skipped step',
  );
  t.ok(
    snapshot(tr).every((v) => allFinite(v)),
    'no NaN reached the model',
  );

  const tr2 = trainer();
  const err = await fit(tr2, {
    train: source(8),
    saveDir: join(dir, 'two'),
    hooks: {
      reduceGradients: async (g) => {
        if (tr2.counters.ni + 1 >= 2) g[0] = Number.POSITIVE_INFINITY;
      },
    },
  }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof NonFiniteGradientError, 'five non-finite steps in a row end fit');
  t.match((err as Error).message, /5 consecutive steps \(up to step 6\).*lower the learning rate/, (err as Error).message);
});
