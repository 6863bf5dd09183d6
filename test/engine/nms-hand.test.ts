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
const A = [0, 0, 10, 10], C = [4, 0, 14, 10], D = A, E = [100, 100, 120, 120];
const det = (box: number[], conf: number, cls: number) => [...box, conf, cls];
const input = (rows: number[][]) => Float32Array.from(rows.flat());
const shape = [2, ROWS.length, 7] as const;
const batch = input([...ROWS, ...ROWS.map((r) => [r[0], r[1], r[2], r[3], 0.0001, r[5], r[6]])]);

function same(t: Test, got: Float32Array, want: number[][], msg: string) {
  const w = want.flat();
  t.equal(got.length, w.length, `${msg}: ${got.length / 6} kept, expected ${want.length}`);
  t.ok(w.every((v, i) => Math.abs(got[i] - v) <= 1e-6 * Math.abs(v) + 1e-6), `${msg}: ${Array.from(got).map((v) => +v.toFixed(4))}`);
}

t.test('class-aware, multi-label (defaults)', async (t) => {
  const [d0, d1] = nonMaxSuppression(batch, { shape });
  same(t, d0, [det(A, f(0.9), 0), det(D, f(0.85), 1), det(C, f(0.7), 0), det(E, f(0.5), 0), det(E, f(f(0.4) * 1), 1)], 'B suppressed by A; D kept (other class); E twice');
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
