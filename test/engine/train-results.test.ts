import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  RESULTS_COLUMNS,
  appendResults,
  formatG,
  pixelLabels,
  validate,
  type TrainBatch,
  type TrainableModel,
} from '../../worker/engine/train/index.ts';

t.test("formatG is Python's %.5g", async (t) => {
  // expected strings printed by CPython 3: '%.5g' % x
  const cases: Array<[number, string]> = [
    [0.086472123, '0.086472'],
    [0.0079606, '0.0079606'],
    [1e-5, '1e-05'],
    [0.01, '0.01'],
    [123456.7, '1.2346e+05'],
    [12345.67, '12346'],
    [0.0001, '0.0001'],
    [0.00012345678, '0.00012346'],
    [1.5, '1.5'],
    [0, '0'],
    [-2.5e-7, '-2.5e-07'],
    [100000, '1e+05'],
  ];
  for (const [x, s] of cases) t.equal(formatG(x), s, `${x}`);
});

t.test('results.csv: reference header, one row per call', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'results-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'results.csv');
  appendResults(f, [0, 0.1, 0.02, 0.03, 0.5, 0.4, 0.3, 0.2, 0.11, 0.021, 0.031, 0.07, 0.001, 0.001]);
  appendResults(f, [1, 0.09, 0.02, 0.03, 0.5, 0.4, 0.3, 0.2, 0.11, 0.021, 0.031, 0.07, 0.001, 0.001]);
  const lines = readFileSync(f, 'utf8').trimEnd().split('\n');
  t.equal(lines.length, 3);
  t.same(
    lines[0].split(',').map((s) => s.trim()),
    [...RESULTS_COLUMNS],
  );
  t.equal(lines[0].split(',')[0], '               epoch', '20-wide right aligned');
  t.same(
    lines[2]
      .split(',')
      .map((s) => s.trim())
      .slice(0, 3),
    ['1', '0.09', '0.02'],
  );
  t.throws(() => appendResults(f, [1, 2]), RangeError);
});

/** A model whose decode returns fixed detections (pixels), to test validation end to end. */
function fixedModel(rows: number[][], perImage: number): TrainableModel {
  return {
    nc: 2,
    strides: [8],
    anchors: [[[1, 1]]],
    forward: (x) => [tf.zeros([x.shape[0], 1, 1, 1, 7])],
    decode: (raw) => tf.tensor3d(Array.from({ length: raw[0].shape[0] }, () => rows).flat(2), [raw[0].shape[0], perImage, 7]),
    namedTensors: () => [],
    stateDict: () => new Map(),
    loadStateDict: () => undefined,
  };
}

t.test('validate: NMS + matching give mAP 1 for exact boxes and 0 for misplaced ones', async (t) => {
  await tf.setBackend('cpu');
  // every image: a class-0 box centred (16,16) 8×8 and a class-1 box centred (40,40) 16×16 in a 64×64 image
  const targets = (bs: number) =>
    Float32Array.from(Array.from({ length: bs }, (_, b) => [b, 0, 0.25, 0.25, 0.125, 0.125, b, 1, 0.625, 0.625, 0.25, 0.25]).flat());
  const batch: TrainBatch = { images: new Float32Array(2 * 64 * 64 * 3), batchSize: 2, height: 64, width: 64, targets: targets(2) };
  t.same(pixelLabels(batch, 1), [0, 12, 12, 20, 20, 1, 32, 32, 48, 48]);
  const exact = fixedModel(
    [
      [16, 16, 8, 8, 0.9, 0.95, 0.01],
      [40, 40, 16, 16, 0.8, 0.02, 0.9],
    ],
    2,
  );
  const m = await validate(exact, [batch, batch]);
  t.equal(m.images, 4);
  t.equal(m.labels, 8);
  // the reference's 101-point interpolated AP of a perfect detector is 0.995 (the curve ends at recall 1 with precision 0)
  t.ok(Math.abs(m.map50 - 0.995) < 1e-9 && Math.abs(m.map - 0.995) < 1e-9, `exact: mAP50 ${m.map50}, mAP ${m.map}`);
  t.ok(m.mp > 0.9 && m.mr > 0.99, `exact: P ${m.mp}, R ${m.mr}`);
  const off = fixedModel(
    [
      [50, 10, 8, 8, 0.9, 0.95, 0.01],
      [10, 50, 16, 16, 0.8, 0.02, 0.9],
    ],
    2,
  );
  const z = await validate(off, [batch]);
  t.equal(z.map50, 0, `misplaced: mAP50 ${z.map50}, P ${z.mp}, R ${z.mr}`);
  // half right: only class 0 found → mAP50 = (0.995 + 0) / 2 over the two labelled classes
  const half = fixedModel(
    [
      [16, 16, 8, 8, 0.9, 0.95, 0.01],
      [10, 50, 16, 16, 0.8, 0.02, 0.9],
    ],
    2,
  );
  const h = await validate(half, [batch]);
  t.ok(Math.abs(h.map50 - 0.995 / 2) < 1e-9, `half: mAP50 ${h.map50}`);
});
