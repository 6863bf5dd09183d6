import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  createLoader,
  resumeIndex,
  generateSyntheticDataset,
  loadDataset,
  type AugmentHyp,
  type Batch,
  type YoloDataset,
} from '../../worker/engine/data/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';

const HYP = loadHyp();
const NONE: AugmentHyp = {
  hsv_h: 0,
  hsv_s: 0,
  hsv_v: 0,
  degrees: 0,
  translate: 0,
  scale: 0,
  shear: 0,
  perspective: 0,
  flipud: 0,
  fliplr: 0,
  mosaic: 0,
  mixup: 0,
};
const IMG = 96;

async function synth(dir: string, train: number): Promise<YoloDataset> {
  const { yamlPath } = await generateSyntheticDataset({ dir, train, val: 2, img: IMG, seed: 11 });
  return loadDataset(yamlPath, 'train');
}

async function all(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

t.test('batches honour the contract (mosaic on)', async (t) => {
  const dataset = await synth(t.testdir({}), 10);
  const L = createLoader({ dataset, batchSize: 4, img: IMG, augment: true, hyp: { ...HYP, mixup: 0.5 }, seed: 1 });
  t.equal(L.length, 3);
  const batches = await all(L.epochBatches(0));
  t.same(
    batches.map((b) => b.batchSize),
    [4, 4, 2],
  );
  for (const b of batches) {
    t.equal(b.height, IMG);
    t.equal(b.width, IMG);
    t.equal(b.images.length, b.batchSize * IMG * IMG * 3);
    t.ok(
      b.images.every((v) => v >= 0 && v <= 1),
      'pixels in [0, 1]',
    );
    t.equal(b.targets.length % 6, 0);
    for (let i = 0; i < b.targets.length; i += 6) {
      const [im, cls, xc, yc, w, h] = b.targets.subarray(i, i + 6);
      if (
        !(
          Number.isInteger(im) &&
          im >= 0 &&
          im < b.batchSize &&
          cls >= 0 &&
          cls < dataset.nc &&
          w > 0 &&
          h > 0 &&
          xc - w / 2 >= -1e-5 &&
          xc + w / 2 <= 1 + 1e-5 &&
          yc - h / 2 >= -1e-5 &&
          yc + h / 2 <= 1 + 1e-5
        )
      )
        t.fail(`bad target row ${Array.from(b.targets.subarray(i, i + 6))}`);
    }
    t.ok(b.targets.length > 0, 'batch has targets');
  }
  t.same(L.cursor(), { epoch: 1, index: 0 });
});

t.test('a batch is a function of (seed, epoch, index)', async (t) => {
  const dataset = await synth(t.testdir({}), 8);
  const mk = (seed: number) => createLoader({ dataset, batchSize: 4, img: IMG, augment: true, hyp: HYP, seed });
  const a = await mk(3).getBatch(0, 1),
    b = await mk(3).getBatch(0, 1),
    c = await mk(4).getBatch(0, 1),
    d = await mk(3).getBatch(1, 1);
  t.ok(same(a.images, b.images) && same(a.targets, b.targets), 'same seed, same batch');
  t.notOk(same(a.images, c.images), 'another seed, another batch');
  t.notOk(same(a.images, d.images), 'another epoch, another batch');
});

t.test('sharding: ranks cover the epoch exactly once and together equal one process with the global batch', async (t) => {
  const dataset = await synth(t.testdir({}), 24);
  const W = 3,
    b = 3;
  const single = await all(createLoader({ dataset, batchSize: W * b, img: IMG, augment: true, hyp: HYP, seed: 9 }).epochBatches(2));
  const ranks = await Promise.all(
    Array.from({ length: W }, (_, rank) =>
      all(createLoader({ dataset, batchSize: b, img: IMG, augment: true, hyp: HYP, seed: 9, rank, worldSize: W }).epochBatches(2)),
    ),
  );
  t.same(
    ranks.map((r) => r.length),
    [3, 3, 3],
  );
  t.same(
    ranks.map((r) => r.map((x) => x.batchSize)),
    [
      [3, 3, 2],
      [3, 3, 2],
      [3, 3, 2],
    ],
    'equal-size parts',
  );
  const seen = ranks.flatMap((r) => r.flatMap((x) => x.indices)).sort((x, y) => x - y);
  t.same(
    seen,
    Array.from({ length: 24 }, (_, i) => i),
    'every image exactly once',
  );
  const px = IMG * IMG * 3;
  for (let k = 0; k < single.length; k++) {
    t.same(
      ranks.flatMap((r) => r[k].indices),
      single[k].indices,
      `step ${k}: same images as one process`,
    );
    ranks.forEach((r, rank) => {
      const c = r[k].batchSize;
      for (let j = 0; j < c; j++) {
        const g = rank * c + j;
        if (!same(r[k].images.subarray(j * px, (j + 1) * px), single[k].images.subarray(g * px, (g + 1) * px)))
          t.fail(`step ${k} rank ${rank} image ${j}: pixels differ`);
      }
      const mine = [],
        theirs = [];
      for (let i = 0; i < r[k].targets.length; i += 6) mine.push([r[k].targets[i] + rank * c, ...r[k].targets.subarray(i + 1, i + 6)]);
      for (let i = 0; i < single[k].targets.length; i += 6) {
        const im = single[k].targets[i];
        if (im >= rank * c && im < (rank + 1) * c) theirs.push(Array.from(single[k].targets.subarray(i, i + 6)));
      }
      t.same(mine, theirs, `step ${k} rank ${rank}: same augmented targets`);
    });
  }
  // 22 images on 4 ranks: padded by wrap-around to 24, all covered
  const small = { ...dataset, items: dataset.items.slice(0, 22) };
  const parts = await Promise.all(
    Array.from({ length: 4 }, (_, rank) =>
      all(
        createLoader({
          dataset: small,
          batchSize: 4,
          img: IMG,
          augment: false,
          hyp: NONE,
          seed: 1,
          rank,
          worldSize: 4,
          shuffle: true,
        }).epochBatches(0),
      ),
    ),
  );
  const idx = parts.flatMap((p) => p.flatMap((x) => x.indices));
  t.equal(idx.length, 24);
  t.equal(new Set(idx).size, 22, 'every image at least once, 2 repeats to even out the ranks');
  t.same(
    parts.map((p) => p.map((x) => x.batchSize)),
    [
      [4, 2],
      [4, 2],
      [4, 2],
      [4, 2],
    ],
  );
});

t.test('resuming from a cursor continues with the same batches', async (t) => {
  const dataset = await synth(t.testdir({}), 12);
  const opts = { dataset, batchSize: 2, img: IMG, augment: true, hyp: HYP, seed: 5 };
  const A = createLoader(opts);
  await all(A.epochBatches(0));
  const a1: Batch[] = [];
  for await (const b of A.epochBatches(1)) {
    a1.push(b);
    if (a1.length === 2) break;
  }
  const st = A.state();
  t.same(st, { seed: 5, epoch: 1, index: 2, position: 4 });
  t.equal(resumeIndex(st.position, 2, 1), 2, 'two ranks of batch 1 resume at batch 2');
  const rest = await all(A.epochBatches(1, 2));
  const B = createLoader({ ...opts, seed: st.seed, cursor: { epoch: st.epoch, index: st.index } });
  const resumed = await all(B.epochBatches(1));
  t.equal(resumed.length, 4);
  t.same(
    resumed.map((b) => b.index),
    [2, 3, 4, 5],
  );
  t.ok(
    resumed.every((b, i) => same(b.images, rest[i].images) && same(b.targets, rest[i].targets)),
    'identical batches after the resume',
  );
});

t.test('fliplr mirrors the image and the boxes', async (t) => {
  const dataset = await synth(t.testdir({}), 4);
  const base = { dataset, batchSize: 4, img: IMG, augment: true, seed: 2 };
  const plain = await createLoader({ ...base, hyp: NONE }).getBatch(0, 0);
  const flipped = await createLoader({ ...base, hyp: { ...NONE, fliplr: 1 } }).getBatch(0, 0);
  t.same(flipped.indices, plain.indices);
  let bad = 0;
  for (let b = 0; b < 4; b++)
    for (let y = 0; y < IMG; y++)
      for (let x = 0; x < IMG; x++)
        for (let c = 0; c < 3; c++) {
          if (flipped.images[((b * IMG + y) * IMG + x) * 3 + c] !== plain.images[((b * IMG + y) * IMG + (IMG - 1 - x)) * 3 + c]) bad++;
        }
  t.equal(bad, 0, 'pixels mirrored');
  t.ok(plain.targets.length > 0);
  const mirrored = Array.from(plain.targets).map((v, i) => (i % 6 === 2 ? 1 - v : v));
  t.same(
    Array.from(flipped.targets).map((v) => +v.toFixed(5)),
    mirrored.map((v) => +v.toFixed(5)),
    'xc → 1 - xc',
  );
});

t.test('validation letterbox and rect batches map boxes onto the drawn objects', async (t) => {
  const dir = t.testdir({});
  await mkdir(join(dir, 'images'), { recursive: true });
  await mkdir(join(dir, 'labels'), { recursive: true });
  const W0 = 200,
    H0 = 100;
  const px = new Uint8Array(W0 * H0 * 3).fill(60);
  for (let y = 20; y < 60; y++) for (let x = 40; x < 80; x++) px.set([255, 0, 0], (y * W0 + x) * 3);
  await sharp(px, { raw: { width: W0, height: H0, channels: 3 } })
    .png()
    .toFile(join(dir, 'images', 'a.png'));
  await writeFile(join(dir, 'labels', 'a.txt'), '0 0.3 0.4 0.2 0.4\n');
  await writeFile(join(dir, 'd.yaml'), 'train: images\nval: images\nnames: [red]\n');
  const dataset = await loadDataset(join(dir, 'd.yaml'), 'val');
  for (const rect of [false, true]) {
    const b = await createLoader({ dataset, batchSize: 1, img: 128, augment: false, hyp: HYP, seed: 0, rect }).getBatch(0, 0);
    t.same([b.height, b.width], rect ? [96, 160] : [128, 128], `rect=${rect}: batch shape`);
    let x1 = Infinity,
      y1 = Infinity,
      x2 = 0,
      y2 = 0;
    for (let y = 0; y < b.height; y++)
      for (let x = 0; x < b.width; x++) {
        const o = (y * b.width + x) * 3;
        if (b.images[o] > 0.8 && b.images[o + 1] < 0.25) {
          x1 = Math.min(x1, x);
          y1 = Math.min(y1, y);
          x2 = Math.max(x2, x + 1);
          y2 = Math.max(y2, y + 1);
        }
      }
    const [, , xc, yc, w, h] = b.targets;
    const box = [(xc - w / 2) * b.width, (yc - h / 2) * b.height, (xc + w / 2) * b.width, (yc + h / 2) * b.height];
    const err = Math.max(...[x1, y1, x2, y2].map((v, k) => Math.abs(v - box[k])));
    t.ok(err <= 1.5, `rect=${rect}: target ${box.map((v) => v.toFixed(1))} vs red pixels ${[x1, y1, x2, y2]}`);
    const s = b.shapes[0]!;
    t.same([s.origWidth, s.origHeight], [200, 100]);
    t.ok(
      Math.abs(40 * s.gainX + s.padX - box[0]) < 1e-3 && Math.abs(20 * s.gainY + s.padY - box[1]) < 1e-3,
      'shapes map original pixels to batch pixels',
    );
  }
});

t.test('worker threads build the same batches as the calling thread', async (t) => {
  const dataset = await synth(t.testdir({}), 6);
  const opts = { dataset, batchSize: 2, img: IMG, augment: true, hyp: HYP, seed: 4 };
  const pooled = createLoader({ ...opts, workers: 2 });
  t.teardown(() => pooled.close());
  const a = await all(pooled.epochBatches(1));
  const b = await all(createLoader(opts).epochBatches(1));
  t.equal(a.length, 3);
  t.ok(
    a.every(
      (x, i) => x.index === i && same(x.images, b[i].images) && same(x.targets, b[i].targets) && x.paths.join() === b[i].paths.join(),
    ),
    'identical batches, in order',
  );
  t.same(pooled.cursor(), { epoch: 2, index: 0 });
  const broken = createLoader({
    ...opts,
    dataset: { ...dataset, items: [{ ...dataset.items[0], imagePath: '/nonexistent/x.jpg' }] },
    workers: 1,
  });
  t.teardown(() => broken.close());
  await t.rejects(
    broken.getBatch(0, 0),
    { name: 'ImageDecodeError', message: /\/nonexistent\/x\.jpg/ },
    'errors come back with their name and file',
  );
});
