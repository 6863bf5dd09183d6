// Metrics on hand-built detections, checked against values worked out by hand.
import t from 'tap';
import {
  boxIou,
  bboxCiou,
  computeAp,
  fitness,
  interp,
  matchDetections,
  MetricsAccumulator,
  roundHalfEven,
  smooth,
} from '../../worker/engine/metrics/index.ts';

const near = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;

t.test('IoU of known boxes', async (t) => {
  const m = boxIou(
    [
      [0, 0, 2, 2],
      [0, 0, 10, 10],
    ],
    [
      [1, 1, 3, 3],
      [5, 0, 15, 10],
      [20, 20, 30, 30],
      [0, 0, 10, 10],
    ],
  );
  t.ok(near(m[0][0], 1 / 7, 1e-8), `overlap 1 of union 7: ${m[0][0]}`);
  t.ok(near(m[1][1], 50 / 150, 1e-9), `half-shifted square: ${m[1][1]}`);
  t.equal(m[1][2], 0, 'disjoint');
  t.ok(near(m[1][3], 1, 1e-9), 'identical');
});

t.test('CIoU of known boxes', async (t) => {
  t.ok(near(bboxCiou([5, 5, 10, 10], [5, 5, 10, 10]), 1, 1e-8), 'identical boxes: 1');
  t.ok(near(bboxCiou([0, 0, 4, 4], [0, 0, 2, 2]), 0.25, 1e-8), 'concentric, same shape: the IoU 4/16');
  // Same shape, disjoint: IoU 0, centres 4 apart, enclosing box 6×2 → −16/40.
  t.ok(near(bboxCiou([0, 0, 2, 2], [4, 0, 2, 2]), -0.4, 1e-8), 'disjoint: −ρ²/c² = −0.4');
  // Concentric 2×2 in 4×2: IoU 1/2, ρ = 0, v = (4/π²)(atan 2 − atan 1)², α = v / (v + 1/2).
  const v = (4 / Math.PI ** 2) * (Math.atan(2) - Math.atan(1)) ** 2;
  t.ok(near(bboxCiou([0, 0, 2, 2], [0, 0, 4, 2]), 0.5 - (v * v) / (v + 0.5), 1e-8), 'aspect-ratio term');
});

t.test('numpy.interp rules', async (t) => {
  const xp = [0, 0.5, 0.5, 1],
    fp = [1, 1, 0.5, 0];
  t.equal(interp(0.25, xp, fp), 1);
  t.equal(interp(0.5, xp, fp), 0.5, 'at a repeated xp the last value wins');
  t.equal(interp(0.75, xp, fp), 0.25);
  t.equal(interp(1, xp, fp), 0, 'at the end: the last value');
  t.equal(interp(-1, xp, fp, 7), 7, 'left');
  t.equal(interp(2, xp, fp), 0, 'right defaults to the last value');
});

t.test('smooth, half-even rounding', async (t) => {
  // f = 0.1 on 20 points: round(4) // 2 + 1 = 3 taps, one copy of each end value as padding.
  const y = [0, 3, 6, ...new Array(16).fill(0), 9];
  const s = smooth(y, 0.1);
  t.equal(s.length, 20);
  const want = [1, 3, 3, 2, ...new Array(14).fill(0), 3, 6];
  t.ok(
    want.every((v, i) => near(s[i], v, 1e-12)),
    `${Array.from(s)}`,
  );
  t.equal(smooth(new Array(1000).fill(0.5), 0.1).length, 1000, '101 taps keep 1000 points');
  t.same([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

t.test('AP of a hand-made curve', async (t) => {
  // TP, FP, TP over 2 labels: recall .5 .5 1, precision 1 .5 2/3; the envelope is 1 up to recall
  // .5 and 2/3 after, so AP = .49 + .01·(1 + 2/3)/2 + .49·2/3 + .01·(2/3)/2.
  t.ok(near(computeAp([0.5, 0.5, 1], [1, 0.5, 2 / 3]), 0.49 + 0.01 * (5 / 6) + 0.49 * (2 / 3) + 0.01 / 3, 1e-12));
});

t.test('matching: highest-IoU label per detection, earliest detection per label', async (t) => {
  const L = [0, 0, 0, 10, 10, 0, 4, 0, 14, 10];
  // D1 (conf .9) overlaps L1 by 90/110, L2 by 70/130; D2 (conf .8) is L1 exactly.
  const a = matchDetections([1, 0, 11, 10, 0.9, 0, 0, 0, 10, 10, 0.8, 0], L);
  t.same(Array.from(a.subarray(0, 10)), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 'D1 holds L1 while IoU .818 ≥ t');
  t.same(Array.from(a.subarray(10)), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1], 'D2 gets L1 only once D1 no longer qualifies');
  // D2 prefers L1 (IoU .727) over L2 (.583); L1 is taken by D1, and D2 does not fall back.
  const b = matchDetections([0, 0, 10, 10, 0.9, 0, 2, 0, 11, 10, 0.8, 0], L);
  t.same(Array.from(b.subarray(10)), new Array(10).fill(0), 'no fall-back to the second-best label');
  const c = matchDetections([0, 0, 10, 10, 0.9, 1], L);
  t.same(Array.from(c), new Array(10).fill(0), 'another class never matches');
});

t.test('mAP, P, R and fitness on a hand-built set', async (t) => {
  const acc = new MetricsAccumulator({ nc: 3 });
  // Image 0: class 0 labels L1, L2 and a class-1 label nobody detects.
  // D1 = L1 (IoU 1), D2 hits nothing, D3 covers L2 with IoU 100/110 (TP up to t = 0.9).
  acc.add(
    [0, 0, 10, 10, 0.9, 0, 50, 50, 60, 60, 0.8, 0, 20, 20, 30, 31, 0.7, 0],
    [0, 0, 0, 10, 10, 0, 20, 20, 30, 30, 1, 100, 100, 120, 120],
  );
  // Image 1: a detection of class 2, which has no labels: ignored.
  acc.add([0, 0, 5, 5, 0.95, 2], []);
  const m = acc.compute();
  t.same(m.labelsPerClass, [2, 1, 0]);
  t.same(
    m.perClass.map((c) => c.cls),
    [0, 1],
    'classes with labels only',
  );
  const c0 = m.perClass[0];
  // t ≤ 0.9: TP FP TP → AP 0.8283…; t = 0.95: TP FP FP → envelope 1 then the line from (.5, 1/3) to (1, 0): .49 + .01·(4/3)/2 + .5·(1/3)/2 = .58.
  const ap50 = 0.49 + 0.01 * (5 / 6) + 0.49 * (2 / 3) + 0.01 / 3;
  t.ok(near(c0.ap50, ap50, 1e-12), `class 0 AP50 ${c0.ap50}`);
  t.ok(near(c0.ap[9], 0.58, 1e-12), `class 0 AP95 ${c0.ap[9]}`);
  t.ok(near(c0.ap50_95, (9 * ap50 + 0.58) / 10, 1e-12), `class 0 AP50-95 ${c0.ap50_95}`);
  // Max F1 lies at the low-confidence end: P = 2/3, R = 1, F1 = 0.8.
  t.ok(near(c0.p, 2 / 3, 1e-12) && near(c0.r, 1, 1e-12) && near(c0.f1, 0.8, 1e-12), `class 0 p ${c0.p} r ${c0.r} f1 ${c0.f1}`);
  t.same([c0.tp, c0.fp], [2, 1], 'tp 2, fp 1');
  t.same([m.perClass[1].ap50, m.perClass[1].p, m.perClass[1].r], [0, 0, 0], 'the undetected class scores 0');
  t.ok(near(m.map50, ap50 / 2, 1e-12), `map50 ${m.map50}`);
  t.ok(near(m.map, (9 * ap50 + 0.58) / 20, 1e-12), `map ${m.map}`);
  t.ok(near(m.mp, 1 / 3, 1e-12) && near(m.mr, 0.5, 1e-12), `mp ${m.mp} mr ${m.mr}`);
  t.ok(near(m.fitness, 0.1 * m.map50 + 0.9 * m.map, 1e-15), 'fitness = 0.1·map50 + 0.9·map');
  t.equal(fitness({ map50: 0.5, map: 0.25 }), 0.05 + 0.225);
});

t.test('no true positive at all: zeros, as val.py', async (t) => {
  const acc = new MetricsAccumulator();
  acc.add([50, 50, 60, 60, 0.9, 0], [0, 0, 0, 10, 10]);
  const m = acc.compute();
  t.same([m.mp, m.mr, m.map50, m.map, m.fitness], [0, 0, 0, 0, 0]);
  t.same(m.labelsPerClass, [1]);
  const empty = new MetricsAccumulator({ nc: 2 }).compute();
  t.same([empty.map, empty.labelsPerClass], [0, [0, 0]], 'no images');
});
