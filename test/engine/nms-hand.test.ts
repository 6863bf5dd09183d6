// nonMaxSuppression on a hand-built set of boxes whose IoUs are known.
import t, { type Test } from 'tap';
import { nonMaxSuppression } from '../../worker/engine/metrics/index.ts';

// Rows [xc, yc, w, h, obj, p0, p1] (nc = 2). Boxes in xyxy:
// A [0,0,10,10] c0 .9 | B [1,0,11,10] c0 .8, IoU(A,B) = 90/110 | C [4,0,14,10] c0 .7, IoU(A,C) = 60/140
// D [0,0,10,10] c1 .85 (same box as A, other class) | E [100,100,120,120] p = .5/.4 (two labels)
// F obj .0005 (below conf_thres) | G obj .5 with p = .001/.0015 (conf below conf_thres)
const ROWS = [
  [5, 5, 10, 10, 0.9, 1, 0],
  [6, 5, 10, 10, 0.8, 1, 0],
  [9, 5, 10, 10, 0.7, 1, 0],
  [5, 5, 10, 10, 0.85, 0, 1],
  [110, 110, 20, 20, 1, 0.5, 0.4],
  [50, 50, 10, 10, 0.0005, 1, 1],
  [70, 70, 10, 10, 0.5, 0.001, 0.0015],
];
const f = Math.fround;
const A = [0, 0, 10, 10],
  C = [4, 0, 14, 10],
  D = A,
  E = [100, 100, 120, 120];
const det = (box: number[], conf: number, cls: number) => [...box, conf, cls];
const input = (rows: number[][]) => Float32Array.from(rows.flat());
const shape = [2, ROWS.length, 7] as const;
const batch = input([...ROWS, ...ROWS.map((r) => [r[0], r[1], r[2], r[3], 0.0001, r[5], r[6]])]);

function same(t: Test, got: Float32Array, want: number[][], msg: string) {
  const w = want.flat();
  t.equal(got.length, w.length, `${msg}: ${got.length / 6} kept, expected ${want.length}`);
  t.ok(
    w.every((v, i) => Math.abs(got[i] - v) <= 1e-6 * Math.abs(v) + 1e-6),
    `${msg}: ${Array.from(got.subarray(0, 18)).map((v) => +v.toFixed(4))}${got.length > 18 ? ' …' : ''}`,
  );
}

t.test('class-aware, multi-label (defaults)', async (t) => {
  const [d0, d1] = nonMaxSuppression(batch, { shape });
  same(
    t,
    d0,
    [det(A, f(0.9), 0), det(D, f(0.85), 1), det(C, f(0.7), 0), det(E, f(0.5), 0), det(E, f(f(0.4) * 1), 1)],
    'B suppressed by A; D kept (other class); E twice',
  );
  t.equal(d1.length, 0, 'an image with every obj below conf_thres has no detections');
});

t.test('agnostic', async (t) => {
  const [d0] = nonMaxSuppression(batch, { shape, agnostic: true });
  same(t, d0, [det(A, f(0.9), 0), det(C, f(0.7), 0), det(E, f(0.5), 0)], 'D and the second label of E suppressed across classes');
});

t.test('single label', async (t) => {
  const [d0] = nonMaxSuppression(batch, { shape, multiLabel: false });
  same(t, d0, [det(A, f(0.9), 0), det(D, f(0.85), 1), det(C, f(0.7), 0), det(E, f(0.5), 0)], 'best class per box');
});

t.test('maxDet, classes, iouThres', async (t) => {
  same(t, nonMaxSuppression(batch, { shape, maxDet: 2 })[0], [det(A, f(0.9), 0), det(D, f(0.85), 1)], 'maxDet 2');
  same(t, nonMaxSuppression(batch, { shape, classes: [1] })[0], [det(D, f(0.85), 1), det(E, f(0.4), 1)], 'classes [1]');
  // IoU(A,B) = .818: kept once iouThres is above it; IoU(B,C) = 70/130 < .85 too.
  const loose = nonMaxSuppression(batch, { shape, iouThres: 0.85 })[0];
  t.equal(loose.length / 6, 6, 'iouThres 0.85 keeps B');
  same(t, nonMaxSuppression(batch, { shape, iouThres: 0.4 })[0].subarray(0, 12), [det(A, f(0.9), 0), det(D, f(0.85), 1)], 'iouThres 0.4');
  t.equal(nonMaxSuppression(batch, { shape, iouThres: 0.4 })[0].length / 6, 4, 'iouThres 0.4 also removes C (IoU .43)');
});

t.test('a bare Float32Array needs its shape', async (t) => {
  t.throws(() => nonMaxSuppression(batch), /shape/);
});

t.test('maxNms keeps only the most confident candidates', async (t) => {
  // Candidates by conf: A .9, D .85, B .8, C .7, E .5, E .4 → the top 3 are A, D, B; B falls to A.
  same(t, nonMaxSuppression(batch, { shape, maxNms: 3 })[0], [det(A, f(0.9), 0), det(D, f(0.85), 1)], 'maxNms 3');
});

t.test('random boxes: equal to a slow, obvious NMS', async (t) => {
  let s = 12345;
  const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const n = 400,
    nc = 3,
    no = nc + 5;
  const x = new Float32Array(n * no);
  for (let i = 0; i < n; i++) {
    x.set([r() * 200, r() * 200, 10 + r() * 60, 10 + r() * 60, r(), r(), r() * 0.5, r() * 0.1], i * no);
  }
  const slow = (maxNms: number, maxDet: number) => {
    const c: { box: number[]; conf: number; cls: number }[] = [];
    for (let i = 0; i < n; i++) {
      const [xc, yc, w, h, obj] = x.subarray(i * no, i * no + 5);
      if (obj <= 0.001) continue;
      for (let k = 0; k < nc; k++) {
        const conf = Math.fround(obj * x[i * no + 5 + k]);
        if (conf > 0.001) c.push({ box: [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2].map(Math.fround), conf, cls: k });
      }
    }
    c.sort((a, b) => b.conf - a.conf);
    const kept: typeof c = [];
    for (const d of c.slice(0, maxNms)) {
      const iou = (a: number[], b: number[]) => {
        const inter = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
      };
      if (kept.every((k) => k.cls !== d.cls || iou(k.box, d.box) <= 0.6)) kept.push(d);
    }
    return kept.slice(0, maxDet).map((d) => [...d.box, d.conf, d.cls]);
  };
  for (const [maxNms, maxDet] of [
    [30000, 300],
    [150, 300],
    [30000, 40],
  ]) {
    const got = nonMaxSuppression(x, { shape: [1, n, no], maxNms, maxDet })[0];
    same(t, got, slow(maxNms, maxDet), `maxNms ${maxNms}, maxDet ${maxDet}`);
  }
});
