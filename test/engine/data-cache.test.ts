// --cache ram|disk|encoded (worker/engine/data/cache.ts): the same batches as no cache, disk
// files reused and rebuilt when their image changes, and the memory budget's refusal.
import t from 'tap';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { Yolov5Trainer } from '../../shared/schemas/job.ts';
import { initBackend } from '../../worker/engine/backend.ts';
import {
  CacheBudgetError,
  checkCacheBudget,
  createLoader,
  diskCachePath,
  generateSyntheticDataset,
  ImageStore,
  loadDataset,
  type Batch,
  type CacheMode,
  type YoloDataset,
} from '../../worker/engine/data/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { trainSession } from '../../worker/engine/train/index.ts';
import { TINY_YAML } from './train-fixtures.ts';

const HYP = { ...loadHyp(), mixup: 0.5 };
const IMG = 64; // the set's images are 96 px: every load resizes

async function synth(dir: string, train = 9): Promise<YoloDataset> {
  const { yamlPath } = await generateSyntheticDataset({ dir, train, val: 2, img: 96, seed: 5 });
  return loadDataset(yamlPath, 'train');
}

async function epochs(dataset: YoloDataset, cache: CacheMode | undefined, augment = true): Promise<Batch[]> {
  const L = createLoader({ dataset, batchSize: 4, img: IMG, augment, hyp: HYP, seed: 3, ...(cache ? { cache } : {}) });
  const out: Batch[] = [];
  for (const e of [0, 1]) for await (const b of L.epochBatches(e)) out.push(b);
  await L.close();
  return out;
}

const equal = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

t.test("ram, disk and encoded caches give the pixels and targets of 'none' (same seed, two epochs)", async (t) => {
  const dataset = await synth(t.testdir({}));
  const plain = await epochs(dataset, 'none');
  for (const mode of ['ram', 'disk', 'encoded'] as const) {
    // disk twice: the second run reads the files the first wrote
    for (const run of mode === 'disk' ? [1, 2] : [1]) {
      const got = await epochs(dataset, mode);
      t.equal(got.length, plain.length);
      t.ok(
        got.every((b, i) => equal(b.images, plain[i].images) && equal(b.targets, plain[i].targets)),
        `--cache ${mode}${run === 2 ? ' (files reused)' : ''}: every batch pixel-equal`,
      );
    }
  }
  for (const it of dataset.items) t.ok(statSync(diskCachePath(it.imagePath, IMG)).isFile());
});

t.test('disk cache files are read on a later run, and rebuilt when the image changes', async (t) => {
  const dataset = await synth(t.testdir({}), 4);
  await epochs(dataset, 'disk', false);
  const item = dataset.items[0];
  const file = diskCachePath(item.imagePath, IMG);
  const bytes = readFileSync(file);
  // tamper with the cached pixels (the header still matches the image): a run that reads the file shows them
  bytes.fill(7, 40);
  writeFileSync(file, bytes);
  const first = (await epochs(dataset, 'disk', false))[0];
  const at = first.indices.indexOf(0);
  const px = first.images.subarray(at * IMG * IMG * 3, (at + 1) * IMG * IMG * 3);
  const sevens = px.filter((v) => Math.abs(v - 7 / 255) < 1e-6).length;
  t.ok(sevens > px.length / 2, `the cached file was used (${sevens} of ${px.length} values are the tampered 7/255)`);

  // a new image at the same path: the file no longer belongs to it and is rebuilt
  const before = statSync(item.imagePath);
  await sharp({ create: { width: 96, height: 80, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .png()
    .toFile(item.imagePath);
  t.not(statSync(item.imagePath).mtimeMs, before.mtimeMs);
  const plain = await epochs(dataset, undefined, false);
  const rebuilt = await epochs(dataset, 'disk', false);
  t.ok(
    rebuilt.every((b, i) => equal(b.images, plain[i].images)),
    'after the image changed, the disk cache gives the new pixels',
  );
  const again = readFileSync(file);
  t.equal(again.length, 40 + 64 * 54 * 3, 'rewritten at the new image size (96x80 -> 64x54)');
  t.notOk(
    again.subarray(40).every((v) => v === 7),
    'the tampered pixels are gone',
  );
});

t.test('a cache that does not fit the budget is refused, naming the bytes needed and available', async (t) => {
  const dataset = await synth(t.testdir({}), 4);
  const paths = dataset.items.map((it) => it.imagePath);
  const L = createLoader({ dataset, batchSize: 2, img: IMG, augment: false, seed: 0, cache: 'ram', cacheBudget: 1000 });
  await t.rejects(L.getBatch(0, 0), CacheBudgetError);
  const err = await L.getBatch(0, 0).catch((e: Error) => e);
  // 4 images of 64x64 at most: ~49 kB + 10 %
  t.match(
    (err as Error).message,
    /^--cache ram: caching 4 images at img 64 needs [\d.]+ GB \(\d+ bytes\) .* but 0\.00 GB \(1000 bytes\) are available; use --cache encoded or --cache disk, or no --cache$/,
  );
  t.equal((err as CacheBudgetError).retryable, false, 'a job fails (no retry) with it');
  // encoded: the files' own sizes
  const sizes = paths.reduce((s, p) => s + statSync(p).size, 0);
  const ok = await checkCacheBudget(paths, IMG, 'encoded', 10 * sizes);
  t.equal(ok.need, sizes, "'encoded' needs the files' bytes");
  await t.rejects(checkCacheBudget(paths, IMG, 'encoded', sizes), /--cache encoded: .* are available; use --cache disk, or no --cache/);
  t.equal((await checkCacheBudget(paths, IMG, 'disk', 0)).need, 0, "'disk' needs no memory");
});

t.test("'none' keeps only the last two batches' images, 'ram' all; the default picks by the set's size", async (t) => {
  const dataset = await synth(t.testdir({}), 9);
  const paths = dataset.items.map((it) => it.imagePath);
  const none = new ImageStore(paths, IMG, { mode: 'none' });
  const ram = new ImageStore(paths, IMG, { mode: 'ram' });
  const small = new ImageStore(paths, IMG); // 9 images of ~12 kB: fits a tenth of any machine
  const tight = new ImageStore(paths, IMG, { budget: 1000 }); // a tenth of 1000 bytes holds none
  for (const s of [none, ram, small, tight])
    for (const batch of [
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7, 8],
    ])
      await s.ensure(batch);
  t.equal(none.size, 5, "'none': the images of the last two ensure calls");
  t.throws(() => none.get(0), /not loaded/);
  t.equal(ram.size, 9);
  t.equal(small.cacheMode, 'ram', 'default on a small set: ram');
  t.equal(small.size, 9);
  t.equal(tight.cacheMode, 'none', 'default on a set over a tenth of the budget: none');
  t.equal(tight.size, 5);
  const plain = await epochs(dataset, 'none');
  t.ok(
    (await epochs(dataset, undefined)).every((b, i) => equal(b.images, plain[i].images)),
    'the default gives the batches of none',
  );
});

t.test('--cache disk through a training run writes IMAGE.<img>.rgb beside every image; the job spec field', async (t) => {
  await initBackend();
  const dir = t.testdir({});
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const r = await trainSession({
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 1,
    batch: 2,
    nbs: 2,
    synthTrain: 2,
    synthVal: 2,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] },
    project: dir,
    name: 'cache',
    noAutoanchor: true,
    noPlots: true,
    cache: 'disk',
  });
  const yaml = join(r.saveDir, 'synthetic', 'data.yaml');
  for (const split of ['train', 'val'] as const) {
    const ds = await loadDataset(yaml, split);
    t.ok(
      ds.items.every((it) => existsSync(diskCachePath(it.imagePath, 64))),
      `${split}: a cache file beside each of its ${ds.items.length} images`,
    );
  }
  t.equal(Yolov5Trainer.parse({ kind: 'yolov5', cache: 'disk' }).cache, 'disk', 'job spec field');
  t.equal(Yolov5Trainer.parse({ kind: 'yolov5' }).cache, undefined, 'absent by default');
  const bad = Yolov5Trainer.safeParse({ kind: 'yolov5', cache: 'gpu' });
  t.ok(!bad.success && bad.error.issues[0].path.join('.') === 'cache', "a bad value is refused naming 'cache'");
});
