/**
 * The run pictures (worker/engine/plots): the confusion matrix counts by hand and against the
 * metric statistics, the curves the numbers are read from, a hand-made batch whose box must
 * frame its shape pixel for pixel, a real mosaic whose boxes land on the synthetic shapes, and a
 * one-epoch training run on the synthetic set with a class that never appears: every picture of
 * train.py written, the absent class's column of confusion_matrix.png empty, its bar in
 * labels.jpg missing, the others in their palette colours.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parse, stringify } from 'yaml';
import { createLoader, generateSyntheticDataset, loadDataset } from '../../worker/engine/data/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { ConfusionMatrix, MetricsAccumulator } from '../../worker/engine/metrics/index.ts';
import {
  blues,
  boxLineWidth,
  classHex,
  classRgb,
  confusionLayout,
  gridLayout,
  normalisedColumns,
  plotBatch,
  plotTrainBatch,
  RESULTS_SIZE,
  targetBoxes,
} from '../../worker/engine/plots/index.ts';
import { trainSession, type SessionEvent } from '../../worker/engine/train/index.ts';
import { lcg } from './train-fixtures.ts';

const TINY = new URL('../worker/fixtures/tiny-yolov5.yaml', import.meta.url).pathname;

interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  at(x: number, y: number): [number, number, number];
}
async function pixels(file: string): Promise<Pixels> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): [number, number, number] => {
    const o = (Math.round(y) * info.width + Math.round(x)) * info.channels;
    return [data[o], data[o + 1], data[o + 2]];
  };
  return { data, width: info.width, height: info.height, at };
}
const dist = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

t.test('palette: fixed per class, repeating after 20', async (t) => {
  t.equal(classHex(0), '#FF3838');
  t.equal(classHex(20), classHex(0), "class 20 shares class 0's colour");
  t.same(classRgb(1), [0xff, 0x9d, 0x97]);
  t.not(classHex(1), classHex(2));
});

t.test('confusion matrix: counts by hand, background row and column, an absent class stays empty', async (t) => {
  // labels [cls, x1, y1, x2, y2]; detections [x1, y1, x2, y2, conf, cls]
  const labels = [0, 0, 0, 10, 10, 0, 20, 20, 30, 30, 1, 40, 40, 50, 50];
  const dets = [
    0,
    0,
    10,
    10,
    0.9,
    0, // right
    40,
    40,
    50,
    50,
    0.8,
    0, // on the class-1 label, called 0
    60,
    60,
    70,
    70,
    0.7,
    1, // on nothing: a false alarm
    20,
    20,
    30,
    30,
    0.2,
    0, // under conf 0.25: ignored, so that label is missed
  ];
  const cm = new ConfusionMatrix(3);
  cm.add(dets, labels);
  t.same(
    cm.rows(),
    [
      [1, 1, 0, 0],
      [0, 0, 0, 1],
      [0, 0, 0, 0],
      [1, 0, 0, 0],
    ],
    'rows predicted (last: background = missed), columns true (last: background = false alarm)',
  );
  t.same(cm.labelsPerClass(), [2, 1, 0], 'every label lands in exactly one cell of its column');
  t.same(
    normalisedColumns(cm).map((r) => r[2]),
    [0, 0, 0, 0],
    'the column of a class without labels stays empty when normalised',
  );

  // the accumulator fills it from the very detections and labels of P/R/mAP
  const acc = new MetricsAccumulator({ nc: 3 });
  acc.add(dets, labels);
  const m = acc.compute();
  t.same(m.confusion?.rows(), cm.rows(), 'MetricsAccumulator carries the same matrix');
  t.same(m.confusion?.labelsPerClass(), m.labelsPerClass, 'column sums = the labels per class of the metrics');
});

t.test('metric statistics: curves, P/R and the matrix come from one accumulation, also across ranks', async (t) => {
  const r = lcg(7);
  const nc = 3;
  const whole = new MetricsAccumulator({ nc });
  const shards = [new MetricsAccumulator({ nc }), new MetricsAccumulator({ nc })];
  for (let img = 0; img < 40; img++) {
    const labels: number[] = [],
      dets: number[] = [];
    for (let k = 0; k < 3; k++) {
      const x = r() * 200,
        y = r() * 200,
        w = 20 + r() * 40,
        h = 20 + r() * 40;
      const cls = Math.floor(r() * 2); // class 2 never appears
      labels.push(cls, x, y, x + w, y + h);
      if (r() < 0.8) {
        const j = (r() - 0.5) * 12;
        dets.push(x + j, y + j, x + w + j, y + h + j, 0.3 + 0.7 * r(), r() < 0.85 ? cls : 1 - cls);
      }
    }
    for (let k = 0; k < 2; k++) {
      const x = r() * 200,
        y = r() * 200;
      dets.push(x, y, x + 30, y + 30, r(), Math.floor(r() * 3));
    }
    // NMS order: descending confidence
    const rows = Array.from({ length: dets.length / 6 }, (_, i) => dets.slice(i * 6, i * 6 + 6))
      .sort((a, b) => b[4] - a[4])
      .flat();
    whole.add(rows, labels);
    shards[img % 2].add(rows, labels);
  }
  const m = whole.compute();
  const c = m.curves!;
  t.ok(c, 'curves are returned with the metrics');
  t.same(
    c.classes,
    m.perClass.map((p) => p.cls),
    'one curve per class with labels',
  );
  m.perClass.forEach((pc, i) => {
    const k = c.p[i].findIndex((v, j) => Math.abs(v - pc.p) < 1e-12 && Math.abs(c.r[i][j] - pc.r) < 1e-12);
    t.ok(k >= 0, `class ${pc.cls}: P ${pc.p.toFixed(3)} and R ${pc.r.toFixed(3)} are a point of its P and R curves`);
    let area = 0;
    for (let j = 1; j < c.px.length; j++) area += ((c.px[j] - c.px[j - 1]) * (c.pr[i][j] + c.pr[i][j - 1])) / 2;
    t.ok(
      Math.abs(area - pc.ap50) < 0.01,
      `class ${pc.cls}: the area under PR_curve ${area.toFixed(4)} is its AP@0.5 ${pc.ap50.toFixed(4)}`,
    );
  });
  t.same(m.confusion!.labelsPerClass(), m.labelsPerClass, 'matrix column sums = labels per class');
  t.equal(m.confusion!.labelsPerClass()[2], 0, 'the class that never appears has an empty column');

  const merged = new MetricsAccumulator({ nc });
  for (const s of shards) merged.addPacked(s.pack());
  t.same(merged.compute().confusion!.rows(), m.confusion!.rows(), "two ranks' packed statistics give the same matrix");
});

t.test('a box frames its shape: a hand-made batch, checked pixel by pixel', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'plots-hand-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const S = 64;
  const images = new Float32Array(S * S * 3).fill(0.5);
  for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) images.set([0, 0, 1], (y * S + x) * 3); // a blue square
  const batch = { images, batchSize: 1, height: S, width: S, targets: Float32Array.of(0, 1, 0.5, 0.5, 0.5, 0.5) };
  const file = await plotBatch(batch, targetBoxes(batch), ['circle', 'square'], join(dir, 'b.jpg'));
  const L = gridLayout(1, S, S);
  const px = await pixels(file);
  t.equal(px.width, L.width, `the picture is the grid's size (${L.width} px: small images scaled ×${L.scale})`);
  const edge = 16 * L.scale,
    far = 48 * L.scale,
    lw = boxLineWidth(L),
    mid = 40 * L.scale;
  t.ok(dist(px.at(mid, far), classRgb(1)) < 40, `bottom edge in class 1's colour ${classHex(1)} (got ${px.at(mid, far)})`);
  t.ok(dist(px.at(far, mid), classRgb(1)) < 40, `right edge in class 1's colour (got ${px.at(far, mid)})`);
  t.ok(dist(px.at(edge, mid), classRgb(1)) < 40, `left edge in class 1's colour (got ${px.at(edge, mid)})`);
  t.ok(dist(px.at(mid, far - lw - 3), [0, 0, 255]) < 40, 'just inside the box: the shape');
  t.ok(dist(px.at(mid, far + lw + 3), [128, 128, 128]) < 40, 'just outside the box: the background');
  // the class name is written on a tag in the class colour above the box: dark text on it
  let dark = 0;
  for (let y = edge - 14; y < edge - 2; y++) for (let x = edge; x < edge + 40; x++) if (Math.max(...px.at(x, y)) < 90) dark++;
  t.ok(dark > 10, `the name tag has text on it (${dark} dark pixels)`);
});

t.test('train mosaic: the boxes land on the synthetic shapes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'plots-mosaic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = await generateSyntheticDataset({ dir: join(dir, 'data'), train: 8, val: 2, img: 128, seed: 5, backgroundFraction: 0 });
  const dataset = await loadDataset(ds.yamlPath, 'train');
  // mosaic and geometry on; colour jitter off, so that the shapes stay vivid and the backgrounds muted
  const hyp = { ...loadHyp(), hsv_h: 0, hsv_s: 0, hsv_v: 0, mosaic: 1 };
  const loader = createLoader({ dataset, batchSize: 4, img: 128, augment: true, hyp, seed: 3, stride: 32 });
  let batch;
  for await (const b of loader.epochBatches(0, 0)) {
    batch = b;
    break;
  }
  await loader.close();
  const file = await plotTrainBatch(dir, 0, batch!, ds.names);
  const px = await pixels(file);
  const L = gridLayout(batch!.batchSize, batch!.height, batch!.width);
  const boxes = targetBoxes(batch!).filter((b) => b.x2 - b.x1 >= 10 && b.y2 - b.y1 >= 10);
  t.ok(boxes.length >= 4, `${boxes.length} boxes of at least 10 px`);
  const vivid = (img: number, x: number, y: number) => {
    const o = ((img * batch!.height + y) * batch!.width + x) * 3;
    const v = batch!.images.subarray(o, o + 3),
      hi = Math.max(...v),
      lo = Math.min(...v);
    return hi > 0.3 && (hi - lo) / hi > 0.5;
  };
  let inside = 0,
    insideN = 0,
    outside = 0,
    outsideN = 0,
    edges = 0;
  const inAny = (img: number, x: number, y: number) => boxes.some((b) => b.image === img && x >= b.x1 && x < b.x2 && y >= b.y1 && y < b.y2);
  for (let img = 0; img < batch!.batchSize; img++) {
    for (let y = 0; y < batch!.height; y++)
      for (let x = 0; x < batch!.width; x++) {
        if (inAny(img, x, y)) {
          insideN++;
          if (vivid(img, x, y)) inside++;
        } else {
          outsideN++;
          if (vivid(img, x, y)) outside++;
        }
      }
  }
  for (const b of boxes) {
    const ox = (b.image % L.ns) * L.tileW,
      oy = Math.floor(b.image / L.ns) * L.tileH;
    const cx = ox + ((b.x1 + b.x2) / 2) * L.scale,
      by = oy + b.y2 * L.scale,
      rx = ox + b.x2 * L.scale,
      cy = oy + ((b.y1 + b.y2) / 2) * L.scale;
    if (
      dist(px.at(cx, Math.min(by, oy + L.tileH - 1)), classRgb(b.cls)) < 60 ||
      dist(px.at(Math.min(rx, ox + L.tileW - 1), cy), classRgb(b.cls)) < 60
    )
      edges++;
  }
  const fi = inside / insideN,
    fo = outside / Math.max(outsideN, 1);
  t.ok(fi > 0.3 && fi > 3 * fo, `vivid (shape) pixels: ${(100 * fi).toFixed(0)}% inside the boxes, ${(100 * fo).toFixed(0)}% outside`);
  t.ok(
    edges >= Math.ceil(0.8 * boxes.length),
    `${edges}/${boxes.length} boxes drawn in their class colour where the labels put them in train_batch0.jpg`,
  );
});

t.test('one epoch on the synthetic set with an absent class: every picture, from the metric statistics', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'plots-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = await generateSyntheticDataset({
    dir: join(dir, 'data'),
    train: 8,
    val: 4,
    img: 64,
    seed: 2,
    classes: ['circle', 'square', 'triangle'],
    backgroundFraction: 0,
  });
  // a fourth class the set never draws
  const y = parse(readFileSync(ds.yamlPath, 'utf8'));
  y.names = ['circle', 'square', 'triangle', 'hexagon'];
  delete y.nc;
  writeFileSync(ds.yamlPath, stringify(y));
  const events: SessionEvent[] = [];
  const r = await trainSession({
    data: ds.yamlPath,
    cfg: TINY,
    img: 64,
    epochs: 1,
    batch: 4,
    nbs: 4,
    project: dir,
    name: 'run',
    noAutoanchor: true,
    hypOverrides: { warmup_epochs: 0 },
    onEvent: (e) => {
      events.push(e);
    },
  });
  const plots = events.filter((e): e is Extract<SessionEvent, { type: 'plots' }> => e.type === 'plots');
  t.same(
    plots.filter((p) => p.error).map((p) => p.error),
    [],
    'no picture failed',
  );
  const expected = [
    'labels.jpg',
    'labels_correlogram.jpg',
    'train_batch0.jpg',
    'train_batch1.jpg',
    'confusion_matrix.png',
    'PR_curve.png',
    'F1_curve.png',
    'P_curve.png',
    'R_curve.png',
    'results.png',
    'val_batch0_labels.jpg',
    'val_batch0_pred.jpg',
  ];
  const written = new Set(plots.flatMap((p) => p.files).map((f) => f.slice(r.saveDir.length + 1)));
  t.same([...written].sort(), [...expected].sort(), 'the pictures train.py writes (2 batches per epoch: train_batch0..1)');
  for (const f of expected) t.ok(existsSync(join(r.saveDir, f)), `${f} in the run folder`);
  const doc = readFileSync(new URL('../../docs/pictures.md', import.meta.url), 'utf8');
  t.same(
    expected.filter((f) => !doc.includes(`\`${f}\``)),
    [],
    'docs/pictures.md names every picture a run writes',
  );
  t.ok(
    plots.findIndex((p) => p.files.some((f) => f.endsWith('labels.jpg'))) < events.findIndex((e) => e.type === 'batch'),
    'labels.jpg before the first step',
  );

  const m = r.metrics!;
  const cm = m.stats!.confusion!;
  t.same(cm.labelsPerClass(), m.stats!.labelsPerClass.slice(0, 4), 'matrix column sums = the labels per class of the printed metrics');
  t.equal(
    cm.labelsPerClass().reduce((a, b) => a + b, 0),
    m.labels,
    'every validation label is in the matrix once',
  );
  t.same(
    cm.rows().map((row) => row[3]),
    [0, 0, 0, 0, 0],
    'hexagon never appears: its column is empty',
  );

  // confusion_matrix.png: every cell's colour is its column-normalised count; hexagon's column is white
  const L = confusionLayout(4);
  const cmp = await pixels(join(r.saveDir, 'confusion_matrix.png'));
  t.equal(cmp.width, L.width);
  const norm = normalisedColumns(cm);
  for (let p = 0; p < 5; p++) {
    for (let c = 0; c < 5; c++) {
      const got = cmp.at(L.left + c * L.cell + 4, L.top + p * L.cell + 4);
      const want = norm[p][c] >= 0.005 ? blues(norm[p][c]) : [255, 255, 255];
      t.ok(dist(got, want) < 6, `cell (${p}, ${c}) = ${norm[p][c].toFixed(2)}: ${got} ≈ ${want}`);
    }
  }
  // labels.jpg: a bar per class in its palette colour; none for hexagon
  const lp = await pixels(join(r.saveDir, 'labels.jpg'));
  const counts = [0, 1, 2, 3].map((c) => lp.at(110 + (c + 0.5) * 110, 50 + 440 - 4));
  for (let c = 0; c < 3; c++)
    t.ok(
      dist(counts[c]!, classRgb(c)) < 40,
      `labels.jpg: the ${['circle', 'square', 'triangle'][c]} bar in ${classHex(c)} (got ${counts[c]})`,
    );
  t.ok(dist(counts[3]!, [255, 255, 255]) < 20, 'labels.jpg: no bar for hexagon');
  const rp = await pixels(join(r.saveDir, 'results.png'));
  t.same([rp.width, rp.height], [RESULTS_SIZE.width, RESULTS_SIZE.height], 'results.png');
});
