/**
 * AutoAnchor against values computed independently: the ratio metric, BPR and anchors/target
 * by hand; k-means against blob means and a brute-force distortion; check_anchors on labels
 * the default anchors cannot reach (thin tall boxes) re-fits to BPR >= 0.98, prints the
 * reference's lines, is seeded; a fresh run's model (and its checkpoint) carries the new
 * anchors, `noautoanchor` keeps the cfg's.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anchorFit, assign, checkAnchors, kmeans, ratioMetric, type LabelShapes } from '../../worker/engine/anchors/index.ts';
import { Rng } from '../../worker/engine/data/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { setupRun, synthesize, trainerCheckpoint } from '../../worker/engine/train/index.ts';
import { TINY_YAML } from './train-fixtures.ts';
import { stringify } from 'yaml';

t.test('ratio metric, BPR and anchors/target by hand', async (t) => {
  const wh = [10, 20, 100, 10],
    k = [10, 10, 50, 50];
  t.equal(ratioMetric(wh, 0, k, 0), 0.5);
  t.equal(ratioMetric(wh, 0, k, 1), 0.2);
  t.equal(ratioMetric(wh, 1, k, 0), 0.1);
  t.equal(ratioMetric(wh, 1, k, 1), 0.2);
  const f = anchorFit(wh, k, 4);
  t.equal(f.bpr, 0.5, 'label 0 reaches 1/4, label 1 (best 0.2) does not');
  t.equal(f.aat, 0.5, 'one (label, anchor) pair past 1/4 over two labels');
  t.ok(Math.abs(f.bestMean - 0.35) < 1e-12);
  t.ok(Math.abs(f.allMean - 0.25) < 1e-12);
  t.ok(Math.abs(f.fitness - 0.25) < 1e-12, 'mean of best·(best > 1/thr)');
  t.equal(f.pastThrMean, 0.5);
});

t.test('k-means finds three separated blobs: centroids = blob means, distortion = brute force', async (t) => {
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  const rng = new Rng(5);
  const pts: number[] = [],
    blob: number[] = [];
  centres.forEach(([x, y], b) => {
    for (let i = 0; i < 40; i++) {
      pts.push(x + rng.normal() * 0.5, y + rng.normal() * 0.5);
      blob.push(b);
    }
  });
  const r = await kmeans(pts, 2, 3, new Rng(1));
  t.equal(r.centroids.length, 6);
  const means = centres.map((_, b) => {
    let sx = 0,
      sy = 0,
      n = 0;
    blob.forEach((bb, i) => {
      if (bb === b) {
        sx += pts[2 * i];
        sy += pts[2 * i + 1];
        n++;
      }
    });
    return [sx / n, sy / n];
  });
  for (const m of means) {
    const hit = [0, 1, 2].some((j) => Math.abs(r.centroids[2 * j] - m[0]) < 1e-9 && Math.abs(r.centroids[2 * j + 1] - m[1]) < 1e-9);
    t.ok(hit, `a centroid at the blob mean ${m.map((v) => v.toFixed(3))}`);
  }
  let brute = 0;
  for (let i = 0; i < pts.length / 2; i++)
    brute += Math.min(...[0, 1, 2].map((j) => Math.hypot(pts[2 * i] - r.centroids[2 * j], pts[2 * i + 1] - r.centroids[2 * j + 1])));
  // the returned distortion is the one measured before the last (no-op) update, as scipy's
  t.ok(Math.abs(r.distortion - brute / (pts.length / 2)) < 1e-9, 'mean Euclidean distance to the nearest centroid');
  t.same(
    [...assign([0.1, 0.2, 9.8, 0.1], 2, r.centroids).code].map((c) => r.centroids[2 * c] > 5),
    [false, true],
  );
});

/** Labels the default P3–P5 anchors (10×13 … 373×326 px) reach only half of at 320: thin tall and thin wide boxes. */
function thinLabels(): LabelShapes {
  const wh: number[] = [],
    imageSize: number[] = [],
    image: number[] = [];
  for (let i = 0; i < 60; i++) {
    const tall = i % 2 === 0;
    // normalised on 640×640 images, letterboxed to 320: 4–6 px × 60 px, or 100 px × 4–6 px
    wh.push(tall ? 0.0125 + 0.0001 * i : 0.3125, tall ? 0.1875 : 0.0125 + 0.0001 * i);
    imageSize.push(640, 640);
    image.push(i);
  }
  return { wh, imageSize, image, images: 60 };
}

const DEFAULT_PX = [
  [
    [10, 13],
    [16, 30],
    [33, 23],
  ],
  [
    [30, 61],
    [62, 45],
    [59, 119],
  ],
  [
    [116, 90],
    [156, 198],
    [373, 326],
  ],
];

t.test('check_anchors re-fits a poor fit to BPR >= 0.98, with the reference printout', async (t) => {
  const l = thinLabels();
  // independent of checkAnchors: the unscaled pixel sizes, by the brute-force metric checked above
  const px: number[] = [];
  for (let i = 0; i < 60; i++) px.push(l.wh[2 * i] * 320, l.wh[2 * i + 1] * 320);
  const before = anchorFit(px, DEFAULT_PX.flat(2), 4);
  const r = await checkAnchors(l, DEFAULT_PX, { imgsz: 320, seed: 0, thr: 4 });
  t.ok(before.bpr < 0.98, `the default anchors reach ${before.bpr.toFixed(3)} of these labels`);
  t.ok(
    Math.abs(r.bpr - before.bpr) <= 0.1,
    `reported BPR ${r.bpr.toFixed(3)} (labels scaled 0.9–1.1) near the unscaled ${before.bpr.toFixed(3)}`,
  );
  t.match(
    r.lines[0],
    /^AutoAnchor: \d+\.\d\d anchors\/target, \d\.\d{3} Best Possible Recall \(BPR\)\. Anchors are a poor fit to dataset ⚠️, attempting to improve\.\.\.$/,
  );
  t.ok(r.lines.some((s) => /^AutoAnchor: Running kmeans for 9 anchors on 60 points\.\.\.$/.test(s)));
  t.ok(r.lines.some((s) => /^AutoAnchor: thr=0\.25: \d\.\d{4} best possible recall, \d+\.\d\d anchors past thr$/.test(s)));
  t.ok(
    r.lines.some((s) =>
      /^AutoAnchor: n=9, img_size=320, metric_all=\d\.\d{3}\/\d\.\d{3}-mean\/best, past_thr=\d\.\d{3}-mean: (\d+,\d+, ){8}\d+,\d+$/.test(s),
    ),
  );
  t.equal(r.lines.at(-1), 'AutoAnchor: Done ✅ (optional: update model *.yaml to use these anchors in the future)');
  t.equal(r.replaced, true);
  const after = anchorFit(px, r.anchors.flat(2), 4);
  t.ok(after.bpr >= 0.98, `new anchors reach ${after.bpr.toFixed(3)} (brute force, unscaled)`);
  const areas = r.anchors.map((lv) => lv.reduce((s, [w, h]) => s + w * h, 0));
  t.ok(areas[0] <= areas[1] && areas[1] <= areas[2], 'small anchors on the fine levels');
  t.same((await checkAnchors(l, DEFAULT_PX, { imgsz: 320, seed: 0 })).anchors, r.anchors, 'seeded: every rank gets the same anchors');
});

t.test('a good fit is kept', async (t) => {
  const wh: number[] = [],
    imageSize: number[] = [],
    image: number[] = [];
  for (let i = 0; i < 30; i++) {
    wh.push(0.1 + 0.01 * i, 0.12 + 0.01 * i);
    imageSize.push(320, 240);
    image.push(i);
  }
  const r = await checkAnchors({ wh, imageSize, image, images: 30 }, DEFAULT_PX, { imgsz: 320, seed: 0 });
  t.equal(r.replaced, false);
  t.same(r.anchors, DEFAULT_PX);
  t.match(r.lines, [
    /^AutoAnchor: \d+\.\d\d anchors\/target, 1\.000 Best Possible Recall \(BPR\)\. Current anchors are a good fit to dataset ✅$/,
  ]);
});

t.test('a fresh run trains with the new anchors and saves them; noautoanchor keeps the cfg', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'autoanchor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const data = await synthesize({ train: 6, val: 2, img: 64, seed: 0 }, join(dir, 'ds'));
  // rewrite every training label as a thin 1×40 px box (at 64 px): far from every anchor
  const labels = join(dir, 'ds', 'labels', 'train');
  for (const f of readdirSync(labels)) writeFileSync(join(labels, f), '0 0.5 0.5 0.03 0.6\n1 0.3 0.3 0.6 0.03\n');
  const s = {
    data,
    cfg,
    imgsz: 64,
    epochs: 1,
    batch: 2,
    seed: 0,
    lrKind: 'linear' as const,
    freeze: [],
    nbs: 64,
    hyp: loadHyp(),
    patience: 100,
  };
  const plain = await setupRun({ ...s, noautoanchor: true }, { fresh: true });
  const cfgAnchors = plain.model.anchors;
  t.equal(plain.autoanchor, undefined, 'noautoanchor: no check');
  await plain.dispose();
  const run = await setupRun(s, { fresh: true });
  t.teardown(() => run.dispose());
  t.ok(run.autoanchor?.replaced, 'thin boxes: AutoAnchor replaced the anchors');
  t.notSame(run.model.anchors, cfgAnchors, 'the model has new anchors');
  const grid = run.autoanchor!.anchors.map((lv, i) => lv.map(([w, h]) => [w / run.model.strides[i], h / run.model.strides[i]]));
  const saved = trainerCheckpoint(run.trainer).tensors;
  const key = [...saved.keys()].find((k) => k.startsWith('model/') && k.endsWith('.anchors'))!;
  t.same([...(saved.get(key)!.data as Float32Array)], grid.flat(2).map(Math.fround), 'the checkpoint holds them (grid units)');
  const ema = [...saved.keys()].find((k) => k.startsWith('ema/') && k.endsWith('.anchors'))!;
  t.same([...(saved.get(ema)!.data as Float32Array)], grid.flat(2).map(Math.fround), 'and so does the EMA');
  const resumed = await setupRun(s, { fresh: false });
  t.equal(resumed.autoanchor, undefined, 'a resumed run takes its anchors from the checkpoint');
  await resumed.dispose();
});
