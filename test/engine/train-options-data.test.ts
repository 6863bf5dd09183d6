/**
 * train.py's data options in the one training loop: --multi-scale (the per-batch size draw and the
 * resize), --rect (training batch shapes by train.py's formula, sorted, no mosaic), --image-weights
 * (class and image weights, the seeded weighted draw sharded over ranks), each also through a
 * short `flotilla train` session and the job spec's field. Expected values are worked by hand
 * from train.py's code (utils/general.py labels_to_*_weights, utils/dataloaders.py batch_shapes).
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Yolov5Trainer } from '../../shared/schemas/job.ts';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { createLoader, encodeImage, generateSyntheticDataset, loadDataset, rectShape } from '../../worker/engine/data/index.ts';
import { classWeights, epochClassWeights, imageWeights, weightedDraw } from '../../worker/engine/data/image-weights.ts';
import { multiScaleBatch, multiScaleShape, multiScaleSize, resizeNhwc } from '../../worker/engine/train/multi-scale.ts';
import { trainSession } from '../../worker/engine/train/index.ts';
import { classMaps } from '../../worker/engine/train/validate.ts';
import { TINY_YAML } from './train-fixtures.ts';

t.test('--multi-scale: the size draw is in [0.5, 1.5]·img, a stride multiple, keyed by (seed, epoch, batch)', async (t) => {
  const m = { img: 640, stride: 32, seed: 7 };
  const seen = new Set<number>();
  let bad = 0;
  for (let e = 0; e < 4; e++)
    for (let k = 0; k < 500; k++) {
      const s = multiScaleSize(m, e, k);
      if (!(s >= 320 && s <= 960 && s % 32 === 0)) bad++;
      seen.add(s);
      // two ranks (or a resumed run) ask with the same key: the same size, no message needed
      if (multiScaleSize({ ...m }, e, k) !== s) bad++;
    }
  t.equal(bad, 0, 'every draw in 320..960, a multiple of 32, and identical when asked again');
  // train.py: randrange(320, 992) // 32 * 32 reaches both ends; 21 sizes in all
  t.same(
    [...seen].sort((a, b) => a - b),
    Array.from({ length: 21 }, (_, i) => 320 + 32 * i),
    'all 21 sizes 320..960 occur',
  );
  const steps = Array.from({ length: 20 }, (_, k) => multiScaleSize(m, 0, k));
  t.ok(new Set(steps).size > 5, `the size changes across steps (${steps.join(' ')})`);
  t.not(
    Array.from({ length: 20 }, (_, k) => multiScaleSize({ ...m, seed: 8 }, 0, k)).join(),
    steps.join(),
    'another seed draws another sequence',
  );
  // img 64: randrange(32, 96 + 32) // 32 * 32 → 32, 64, 96
  const small = new Set(Array.from({ length: 300 }, (_, k) => multiScaleSize({ img: 64, stride: 32, seed: 0 }, 0, k)));
  t.same(
    [...small].sort((a, b) => a - b),
    [32, 64, 96],
  );
});

t.test('--multi-scale: the batch shape and the bilinear resize, as train.py (interpolate, align_corners=False)', async (t) => {
  t.same(multiScaleShape(640, 640, 320, 32), [320, 320]);
  t.same(multiScaleShape(640, 640, 640, 32), [640, 640], 'sf 1: unchanged');
  // sf = 480/640 = 0.75: ceil(384·0.75/32)·32 = ceil(9)·32 = 288, 640·0.75 = 480
  t.same(multiScaleShape(384, 640, 480, 32), [288, 480]);
  // sf = 0.5: 352·0.5 = 176 → ceil(5.5)·32 = 192
  t.same(multiScaleShape(352, 640, 320, 32), [192, 320]);
  // 2×2 → 4×4, one image, the same value in all three channels: torch gives rows
  // [0 .25 .75 1] [.5 .75 1.25 1.5] [1.5 1.75 2.25 2.5] [2 2.25 2.75 3]
  const src = Float32Array.from([0, 1, 2, 3].flatMap((v) => [v, v, v]));
  const out = resizeNhwc(src, 1, 2, 2, 4, 4);
  const want = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
  t.same(
    Array.from({ length: 16 }, (_, i) => out[i * 3 + 1]),
    want,
  );
  // 4×4 → 2×2 (no antialias): each output samples the centre of its 2×2 block, e.g. mean(0, .25, .5, .75)
  const down = resizeNhwc(Float32Array.from(want.flatMap((v) => [v, v, v])), 1, 4, 4, 2, 2);
  t.same(
    Array.from({ length: 4 }, (_, i) => down[i * 3]),
    [0.375, 1.125, 1.875, 2.625],
  );
  // a batch: images resized, normalised targets untouched
  const m = { img: 64, stride: 32, seed: 0 };
  const k = Array.from({ length: 50 }, (_, i) => i).find((i) => multiScaleSize(m, 0, i) === 96)!;
  const batch = {
    images: new Float32Array(2 * 64 * 64 * 3).fill(0.5),
    batchSize: 2,
    height: 64,
    width: 64,
    targets: Float32Array.of(0, 1, 0.5, 0.5, 0.2, 0.2),
  };
  const big = multiScaleBatch(batch, m, 0, k);
  t.same([big.height, big.width, big.images.length], [96, 96, 2 * 96 * 96 * 3]);
  t.equal(big.targets, batch.targets, 'targets unchanged');
  t.ok(
    big.images.every((v) => Math.abs(v - 0.5) < 1e-6),
    'a flat image stays flat',
  );
});

t.test("--rect: batch shapes by train.py's ceil(shape·img/stride + pad)·stride", async (t) => {
  // aspect ratios are height / width; train.py: wide batches [maxi, 1], tall batches [1, 1/mini]
  t.same(rectShape([0.5, 0.75], 640, 32, 0), [480, 640], 'wide, pad 0: 0.75·640 = 480');
  // the pad goes on both sides: the long side too becomes ceil(20 + 0.5)·32 = 672 (val.py's 640 → 672)
  t.same(rectShape([0.5, 0.75], 640, 32, 0.5), [512, 672], 'wide, pad 0.5 (val): ceil(15.5)·32 = 512 by ceil(20.5)·32 = 672');
  t.same(rectShape([1.5, 2], 640, 32, 0), [640, 448], 'tall: 640/1.5 = 426.7 → ceil(13.33)·32 = 448');
  t.same(rectShape([0.5, 1.5], 640, 32, 0), [640, 640], 'mixed: square');
  t.same(rectShape([0.5], 640, 32, 0), [320, 640], '0.5·640/32 = 10 exactly');
  t.same(rectShape([0.5], 640, 32, 0.5), [352, 672], 'with pad 0.5: ceil(10.5)·32 = 352');
  t.same(rectShape([0.6], 64, 32, 0), [64, 64], 'img 64: 38.4 → ceil(1.2)·32 = 64');
});

t.test('--rect: training batches sorted by aspect ratio, one rect shape each, no mosaic', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rect-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // six images, width × height, aspect ratios (h/w) 0.5 0.5 0.75 1 1.5 2, listed out of order
  const sizes: Array<[number, number]> = [
    [48, 48],
    [64, 32],
    [32, 64],
    [64, 48],
    [64, 32],
    [32, 48],
  ];
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'labels'), { recursive: true });
  for (const [i, [w, h]] of sizes.entries()) {
    const img = { data: new Uint8Array(w * h * 3).fill(90 + i * 20), width: w, height: h };
    writeFileSync(join(dir, 'images', `im${i}.png`), await encodeImage(img, 'png'));
    writeFileSync(join(dir, 'labels', `im${i}.txt`), '0 0.5 0.5 0.4 0.4\n');
  }
  writeFileSync(join(dir, 'data.yaml'), stringify({ path: dir, train: 'images', val: 'images', names: ['circle'] }));
  const set = await loadDataset(join(dir, 'data.yaml'), 'train');
  const loader = createLoader({ dataset: set, batchSize: 2, img: 128, augment: true, seed: 1, rect: true, pad: 0 });
  const got: string[] = [],
    order0: string[] = [];
  let mosaics = 0;
  for await (const b of loader.epochBatches(0)) {
    order0.push(b.indices.join());
    got.push(`${b.indices.map((i) => sizes[i].join('x')).join(',')}:${b.height}x${b.width}`);
    mosaics += b.shapes.filter((s) => s === null).length;
  }
  // by hand: [0.5, 0.5] → h = ceil(0.5·128/32)·32 = 64, w 128; [0.75, 1] mixed → 128 × 128;
  // [1.5, 2] tall → w = ceil(128/1.5/32) = ceil(2.67)·32 = 96, h 128
  t.same(
    got,
    ['64x32,64x32:64x128', '64x48,48x48:128x128', '32x48,32x64:128x96'],
    'sorted by aspect ratio (no shuffle), one shape per batch',
  );
  t.equal(mosaics, 0, 'no mosaic in rect training');
  const again: string[] = [];
  for await (const b of loader.epochBatches(1)) again.push(b.indices.join());
  t.same(again, order0, 'the next epoch has the same batches (no shuffle)');
  await loader.close();
});

t.test("--image-weights: train.py's class and image weights", async (t) => {
  // image 0: classes 0, 0, 1; image 1: class 0; image 2: no labels; nc 3
  const row = (c: number) => [c, 0.5, 0.5, 0.1, 0.1];
  const labels = [Float32Array.from([...row(0), ...row(0), ...row(1)]), Float32Array.from(row(0)), new Float32Array(0)];
  // counts [3, 1, 0→1] → 1/count [1/3, 1, 1], sum 7/3 → [1/7, 3/7, 3/7]
  const cw = classWeights(labels, 3);
  [1 / 7, 3 / 7, 3 / 7].forEach((w, c) => t.ok(Math.abs(cw[c] - w) < 1e-12, `class ${c}: ${cw[c]} = ${w}`));
  // before any validation (maps 0): class_weights·nc·1/nc = the same
  const e0 = epochClassWeights(labels, 3);
  const iw0 = imageWeights(labels, e0);
  [5 / 7, 1 / 7, 0].forEach((w, i) => t.ok(Math.abs(iw0[i] - w) < 1e-12, `image ${i}: ${iw0[i]} = ${w}`));
  // class 0 detected at mAP 0.5: its weight ·(1 − 0.5)² = 1/28
  const e1 = epochClassWeights(labels, 3, [0.5, 0, 0.9]);
  [1 / 28, 3 / 7, (3 / 7) * 0.01].forEach((w, c) => t.ok(Math.abs(e1[c] - w) < 1e-12, `maps: class ${c}: ${e1[c]} = ${w}`));
  const iw1 = imageWeights(labels, e1);
  t.ok(Math.abs(iw1[0] - (2 / 28 + 3 / 7)) < 1e-12 && Math.abs(iw1[1] - 1 / 28) < 1e-12, 'image weights follow the class weights');
  // val.py's maps: classes without labels get the mean mAP
  t.same(classMaps([{ cls: 1, ap50_95: 0.3 }], 3, 0.3), [0.3, 0.3, 0.3]);
  t.same(
    classMaps(
      [
        { cls: 0, ap50_95: 0.2 },
        { cls: 2, ap50_95: 0.6 },
      ],
      3,
      0.4,
    ),
    [0.2, 0.4, 0.6],
  );
  t.ok(Yolov5Trainer.parse({ kind: 'yolov5', image_weights: true }).image_weights, 'job spec image_weights');
  t.ok(Yolov5Trainer.parse({ kind: 'yolov5', multi_scale: true }).multi_scale, 'job spec multi_scale');
  t.ok(Yolov5Trainer.parse({ kind: 'yolov5', rect: true }).rect, 'job spec rect');
  const off = Yolov5Trainer.parse({ kind: 'yolov5' });
  t.same([off.rect, off.multi_scale, off.image_weights], [false, false, false], 'all off by default');
});

t.test('--image-weights: the seeded draw follows the weights; ranks share one draw, sharded', async (t) => {
  const w = [1, 1, 50, 0, 2];
  const d = weightedDraw(w, 10_000, 3, 0);
  const counts = [0, 0, 0, 0, 0];
  for (const i of d) counts[i]++;
  t.equal(counts[3], 0, 'a zero-weight image is never drawn');
  t.ok(counts[2] > 9000, `the heavy image is drawn ~50/54 of the time (${counts[2]} of 10000)`);
  t.ok(counts[4] > counts[0] * 1.4 && counts[0] > 100, `weight 2 drawn about twice weight 1 (${counts[4]} vs ${counts[0]})`);
  t.same(weightedDraw(w, 100, 3, 0), d.subarray(0, 100), 'same seed and epoch: the same draw');
  t.not(weightedDraw(w, 100, 3, 1).join(), d.subarray(0, 100).join(), 'another epoch: another draw');
  const uniform = weightedDraw([0, 0, 0], 300, 0, 0);
  t.same(new Set(uniform).size, 3, 'all-zero weights (no labels anywhere): uniform');
  t.throws(() => weightedDraw([1, -1], 1, 0, 0), /finite and >= 0/);

  // two ranks of a loader take disjoint shards of the same draw; together they are the whole draw
  const dir = mkdtempSync(join(tmpdir(), 'image-weights-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = await generateSyntheticDataset({ dir, train: 8, val: 2, img: 64, seed: 4, classes: ['circle', 'square'], objects: [1, 2] });
  const set = await loadDataset(ds.yamlPath, 'train');
  const iw = Float64Array.from({ length: 8 }, (_, i) => (i === 5 ? 40 : 1));
  const hyp = { mosaic: 0 };
  const { loadHyp } = await import('../../worker/engine/hyp/index.ts');
  const h = loadHyp(undefined, hyp);
  const seen: number[] = [];
  for (const rank of [0, 1]) {
    const l = createLoader({ dataset: set, batchSize: 2, img: 64, augment: true, hyp: h, seed: 9, rank, worldSize: 2 });
    l.setImageWeights(2, iw);
    for await (const b of l.epochBatches(2)) seen.push(...b.indices);
    await l.close();
  }
  t.same([...seen].sort(), [...weightedDraw(iw, 8, 9, 2)].sort(), "the ranks' images are exactly the one seeded draw");
  t.ok(seen.filter((i) => i === 5).length >= 5, `the heavy image fills the epoch (${seen.join(' ')})`);
  // epochs the weights were not set for keep the plain permutation
  const plain = createLoader({ dataset: set, batchSize: 8, img: 64, augment: true, hyp: h, seed: 9 });
  plain.setImageWeights(2, iw);
  const e0 = (await plain.getBatch(0, 0)).indices;
  t.same([...e0].sort(), [0, 1, 2, 3, 4, 5, 6, 7], 'another epoch: every image once');
  await plain.close();
  // a worker-thread loader draws the same
  const threaded = createLoader({ dataset: set, batchSize: 8, img: 64, augment: true, hyp: h, seed: 9, workers: 1 });
  threaded.setImageWeights(2, iw);
  const inThread = (await threaded.getBatch(2, 0)).indices;
  await threaded.close();
  t.same(inThread, [...weightedDraw(iw, 8, 9, 2)], 'loader threads get the weights too');
});

t.test('flotilla train with --rect, --multi-scale, --image-weights: runs complete and record the option', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'train-data-opts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const base = {
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 1,
    batch: 4,
    nbs: 4,
    synthTrain: 8,
    synthVal: 2,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] as [number, number] },
    project: dir,
    noAutoanchor: true,
    noPlots: true,
  };
  for (const [name, opt, key] of [
    ['rect', { rect: true }, 'rect'],
    ['multiscale', { multiScale: true }, 'multiScale'],
    ['imgweights', { imageWeights: true, epochs: 2 }, 'imageWeights'],
  ] as const) {
    const r = await trainSession({ ...base, ...opt, name });
    const rows = readFileSync(r.resultsPath, 'utf8').trim().split('\n');
    t.equal(rows.length, 1 + r.epochsRun, `${name}: results.csv has a row per epoch`);
    const losses = rows[1].split(',').slice(1, 4).map(Number);
    t.ok(
      losses.every((x) => Number.isFinite(x) && x > 0),
      `${name}: finite losses ${losses}`,
    );
    const ck = loadCheckpoint(r.lastPath);
    t.equal(ck.meta[key], true, `${name}: the checkpoint records ${key} (a resume keeps it)`);
    if (key === 'imageWeights') {
      const maps = (ck.meta.fit as { maps?: number[] }).maps;
      t.equal(maps?.length, 2, `the last validation's per-class mAP is kept for the next draw (${maps})`);
    }
  }
});

t.test('--multi-scale with --image-weights: an interrupted and resumed run ends where the straight run ends', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'train-ms-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const base = {
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 2,
    batch: 2,
    nbs: 2,
    seed: 5,
    synthTrain: 6,
    synthVal: 2,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] as [number, number] },
    project: dir,
    existOk: true,
    noAutoanchor: true,
    noPlots: true,
    saveEvery: 1,
    multiScale: true,
    imageWeights: true,
  };
  const straight = await trainSession({ ...base, name: 'straight' });
  const ac = new AbortController();
  await t.rejects(
    trainSession({
      ...base,
      name: 'cut',
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'batch' && e.epoch === 1 && e.index === 1) ac.abort(new Error('simulated crash'));
      },
    }),
    /simulated crash/,
  );
  const resumed = await trainSession({ ...base, data: '', resume: join(dir, 'cut', 'weights', 'last.ckpt') });
  const a = loadCheckpoint(straight.lastPath),
    b = loadCheckpoint(resumed.lastPath);
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const bad = [...a.tensors]
    .filter(([k, v]) => {
      const w = b.tensors.get(k);
      return !w || !bytes(v.data as Float32Array).equals(bytes(w.data as Float32Array));
    })
    .map(([k]) => k);
  t.same(bad, [], 'model, EMA and momentum bit-identical: the resumed run drew the same sizes and images');
  t.same(readFileSync(resumed.resultsPath, 'utf8'), readFileSync(straight.resultsPath, 'utf8'), 'results.csv identical');
});
