import t from 'tap';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SHAPES, Rng, drawShape, generateSyntheticDataset, loadDataset } from '../../worker/engine/data/index.ts';

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const sub of ['images/train', 'images/val', 'labels/train', 'labels/val']) {
    for (const f of (await readdir(join(dir, sub))).sort()) out.set(`${sub}/${f}`, await readFile(join(dir, sub, f)));
  }
  return out;
}

t.test('the synthetic set is deterministic for a seed, and differs across seeds', async (t) => {
  const dir = t.testdir({});
  const a = await generateSyntheticDataset({ dir: join(dir, 'a'), train: 6, val: 3, img: 96, seed: 5 });
  await generateSyntheticDataset({ dir: join(dir, 'b'), train: 6, val: 3, img: 96, seed: 5 });
  await generateSyntheticDataset({ dir: join(dir, 'c'), train: 6, val: 3, img: 96, seed: 6 });
  const fa = await files(join(dir, 'a')),
    fb = await files(join(dir, 'b')),
    fc = await files(join(dir, 'c'));
  t.equal(fa.size, 18);
  t.ok([...fa.keys()].some((k) => k.endsWith('.png')) && [...fa.keys()].some((k) => k.endsWith('.jpg')), 'both PNG and JPEG written');
  for (const [k, v] of fa) t.ok(v.equals(fb.get(k)!), `${k}: same bytes for the same seed`);
  const differing = [...fa].filter(([k, v]) => k.startsWith('images') && !v.equals(fc.get(k)!)).length;
  t.equal(differing, 9, 'every image differs for another seed');
  t.match(
    await readFile(a.yamlPath, 'utf8'),
    /train: images\/train\nval: images\/val\nnc: 3\nnames:\n  - circle\n  - square\n  - triangle/,
  );
});

t.test('the synthetic set has the promised content and loads as a YOLO dataset', async (t) => {
  const dir = t.testdir({});
  const { yamlPath, objects } = await generateSyntheticDataset({
    dir,
    train: 60,
    val: 4,
    img: 64,
    seed: 1,
    classes: ['circle', 'ring', 'cross', 'hexagon'],
  });
  const ds = await loadDataset(yamlPath, 'train');
  t.same(ds.names, ['circle', 'ring', 'cross', 'hexagon']);
  t.equal(ds.items.length, 60);
  t.ok(ds.backgrounds >= 1 && ds.backgrounds <= 15, `${ds.backgrounds} background images`);
  let total = 0;
  const perClass = [0, 0, 0, 0];
  for (const it of ds.items) {
    const n = it.labels.length / 5;
    total += n;
    t.ok(n === 0 || (n >= 2 && n <= 6), `${it.imagePath}: ${n} objects`);
    for (let i = 0; i < it.labels.length; i += 5) {
      perClass[it.labels[i]]++;
      const [xc, yc, w, h] = it.labels.subarray(i + 1, i + 5);
      if (!(xc - w / 2 >= 0 && xc + w / 2 <= 1 && yc - h / 2 >= 0 && yc + h / 2 <= 1)) t.fail(`${it.imagePath}: box outside the image`);
    }
  }
  t.equal(total, objects.train);
  t.ok(
    perClass.every((c) => c > 10),
    `every class drawn: ${perClass}`,
  );
  await t.rejects(generateSyntheticDataset({ dir, train: 1, val: 1, classes: ['blob'] }), /unknown class 'blob'/);
});

t.test('every shape touches all four sides of its box (labels are tight)', async (t) => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    const W = 80,
      H = 70;
    const img = new Float32Array(W * H * 3).fill(100);
    drawShape(img, W, H, shape, 12, 9, 52, 61, [250, 0, 0], new Rng(1));
    let x1 = W,
      y1 = H,
      x2 = 0,
      y2 = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        if (img[(y * W + x) * 3] !== 100) {
          x1 = Math.min(x1, x);
          y1 = Math.min(y1, y);
          x2 = Math.max(x2, x + 1);
          y2 = Math.max(y2, y + 1);
        }
      }
    t.same([x1, y1, x2, y2], [12, 9, 52, 61], `${name} fills its box exactly`);
  }
});
