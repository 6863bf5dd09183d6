// computeLoss against a slow, obvious float64 loss written here from the definition, on a
// hand-built batch: loss items exactly, gradients against central differences of the float64
// loss (with the objectness targets and the CIoU α held fixed, as the reference gradient does).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { buildTargets, computeLoss, type LossHyp } from '../../worker/engine/loss/index.ts';

await tf.setBackend('cpu');

const STRIDES = [8, 16, 32];
const ANCHORS_PX = [
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
const ANCHORS = ANCHORS_PX.map((l, i) => l.map(([w, h]) => [w / STRIDES[i], h / STRIDES[i]]));
const H = 64,
  W = 96,
  B = 2;

// [img, cls, xc, yc, w, h] in pixels; two overlapping boxes in image 0 share slots.
const BOXES_PX = [
  [0, 0, 20.3, 13.2, 12.1, 18.3],
  [0, 2, 50.2, 40.3, 40.4, 30.1],
  [0, 1, 51.1, 41.2, 36.3, 28.2],
  [1, 1, 70.3, 20.2, 8.2, 10.1],
  [1, 0, 30.2, 45.1, 60.3, 50.2],
  [1, 2, 88.1, 57.8, 14.2, 9.3],
  [1, 2, 44.6, 30.7, 90.2, 61.1],
];

function targetsFor(nc: number): Float32Array {
  return Float32Array.from(BOXES_PX.flatMap(([b, c, x, y, w, h]) => [b, c % nc, x / W, y / H, w / W, h / H]));
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}

interface Level {
  shape: number[];
  data: Float64Array;
}

function makePreds(nc: number, seed: number): Level[] {
  const g = rng(seed);
  return STRIDES.map((s) => {
    const shape = [B, 3, H / s, W / s, 5 + nc];
    const data = new Float64Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(1.5 * g());
    return { shape, data };
  });
}

// ---- the slow float64 loss -------------------------------------------------------------
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
function bce(x: number, y: number, pw: number, gamma: number): number {
  let l = (1 - y) * x + (1 + (pw - 1) * y) * softplus(-x);
  if (gamma > 0) {
    const p = sig(x);
    const pt = y * p + (1 - y) * (1 - p);
    l *= (y * 0.25 + (1 - y) * 0.75) * (1 - pt) ** gamma;
  }
  return l;
}

/** CIoU of [xc, yc, w, h] boxes; `alphaFixed` replaces α when given. */
function ciou(p: number[], q: number[], alphaFixed?: number): { ciou: number; iou: number; alpha: number } {
  const eps = 1e-7;
  const [ax1, ax2, ay1, ay2] = [p[0] - p[2] / 2, p[0] + p[2] / 2, p[1] - p[3] / 2, p[1] + p[3] / 2];
  const [bx1, bx2, by1, by2] = [q[0] - q[2] / 2, q[0] + q[2] / 2, q[1] - q[3] / 2, q[1] + q[3] / 2];
  const inter = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1)) * Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const iou = inter / (p[2] * p[3] + q[2] * q[3] - inter + eps);
  const c2 = (Math.max(ax2, bx2) - Math.min(ax1, bx1)) ** 2 + (Math.max(ay2, by2) - Math.min(ay1, by1)) ** 2 + eps;
  const rho2 = (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2;
  const v = (4 / Math.PI ** 2) * (Math.atan(q[2] / q[3]) - Math.atan(p[2] / p[3])) ** 2;
  const alpha = alphaFixed ?? v / (v - iou + 1 + eps);
  return { ciou: iou - (rho2 / c2 + alpha * v), iou, alpha };
}

interface Assignment {
  key: [number, number, number];
  b: number;
  a: number;
  cx: number;
  cy: number;
  tb: number[];
  cls: number;
}

function assign(targets: Float32Array, level: number, ny: number, nx: number, anchorT: number): Assignment[] {
  const out: Assignment[] = [];
  for (let ti = 0; ti < targets.length / 6; ti++) {
    const [b, cls, x, y, w, h] = Array.from(targets.subarray(ti * 6, ti * 6 + 6));
    const gx = x * nx,
      gy = y * ny,
      gw = w * nx,
      gh = h * ny;
    ANCHORS[level].forEach(([aw, ah], a) => {
      if (Math.max(gw / aw, aw / gw, gh / ah, ah / gh) >= anchorT) return;
      const cx = Math.floor(gx),
        cy = Math.floor(gy),
        fx = gx - cx,
        fy = gy - cy;
      const cells: Array<[number, number, number]> = [[0, cx, cy]];
      if (fx < 0.5 && gx > 1) cells.push([1, cx - 1, cy]);
      if (fy < 0.5 && gy > 1) cells.push([2, cx, cy - 1]);
      if (fx > 0.5 && gx < nx - 1) cells.push([3, cx + 1, cy]);
      if (fy > 0.5 && gy < ny - 1) cells.push([4, cx, cy + 1]);
      for (const [o, i, j] of cells) out.push({ key: [o, a, ti], b, a, cx: i, cy: j, tb: [gx - i, gy - j, gw, gh], cls });
    });
  }
  return out.sort((p, q) => p.key[0] - q.key[0] || p.key[1] - q.key[1] || p.key[2] - q.key[2]);
}

interface Frozen {
  tobj: Map<number, number>[];
  alpha: number[][];
}

function slowLoss(preds: Level[], targets: Float32Array, nc: number, hyp: LossHyp, imgsz: number, frozen?: Frozen) {
  const nl = preds.length;
  const gBox = (hyp.box * 3) / nl,
    gObj = (hyp.obj * (imgsz / 640) ** 2 * 3) / nl,
    gCls = (((hyp.cls * nc) / 80) * 3) / nl;
  const balance = [4, 1, 0.4];
  const cp = 1 - hyp.label_smoothing / 2,
    cn = hyp.label_smoothing / 2;
  let lbox = 0,
    lobj = 0,
    lcls = 0;
  const fz: Frozen = { tobj: [], alpha: [] };
  const counts: number[] = [],
    dups: number[] = [];
  preds.forEach(({ shape, data }, l) => {
    const [bs, na, ny, nx, no] = shape;
    const at = (b: number, a: number, j: number, i: number, c: number) => data[(((b * na + a) * ny + j) * nx + i) * no + c];
    const asg = assign(targets, l, ny, nx, hyp.anchor_t);
    counts.push(asg.length);
    const tobj = new Map<number, number>();
    const hits = new Map<number, number>();
    const alphas: number[] = [];
    let boxSum = 0,
      clsSum = 0;
    asg.forEach((m, k) => {
      const px = sig(at(m.b, m.a, m.cy, m.cx, 0)) * 2 - 0.5,
        py = sig(at(m.b, m.a, m.cy, m.cx, 1)) * 2 - 0.5;
      const pw = (sig(at(m.b, m.a, m.cy, m.cx, 2)) * 2) ** 2 * ANCHORS[l][m.a][0];
      const ph = (sig(at(m.b, m.a, m.cy, m.cx, 3)) * 2) ** 2 * ANCHORS[l][m.a][1];
      const r = ciou([px, py, pw, ph], m.tb, frozen?.alpha[l][k]);
      alphas.push(r.alpha);
      boxSum += 1 - r.ciou;
      const slot = ((m.b * na + m.a) * ny + m.cy) * nx + m.cx;
      tobj.set(slot, Math.max(r.ciou, 0));
      hits.set(slot, (hits.get(slot) ?? 0) + 1);
      for (let c = 0; c < nc; c++) clsSum += bce(at(m.b, m.a, m.cy, m.cx, 5 + c), c === m.cls ? cp : cn, hyp.cls_pw, hyp.fl_gamma);
    });
    dups.push([...hits.values()].filter((h) => h > 1).length);
    const tgt = frozen?.tobj[l] ?? tobj;
    fz.tobj.push(tobj);
    fz.alpha.push(alphas);
    if (asg.length) {
      lbox += boxSum / asg.length;
      if (nc > 1) lcls += clsSum / (asg.length * nc);
    }
    let objSum = 0;
    for (let s = 0; s < bs * na * ny * nx; s++) objSum += bce(data[s * no + 4], tgt.get(s) ?? 0, hyp.obj_pw, hyp.fl_gamma);
    lobj += (balance[l] * objSum) / (bs * na * ny * nx);
  });
  lbox *= gBox;
  lobj *= gObj;
  lcls *= gCls;
  return { lbox, lobj, lcls, total: (lbox + lobj + lcls) * preds[0].shape[0], frozen: fz, counts, dups };
}

// ---- the tests -------------------------------------------------------------------------
const variants: Array<{ name: string; nc: number; over: Record<string, number> }> = [
  { name: 'defaults, nc=3', nc: 3, over: {} },
  { name: 'label smoothing, focal, pos weights, nc=4', nc: 4, over: { label_smoothing: 0.1, fl_gamma: 1.5, cls_pw: 1.3, obj_pw: 0.8 } },
  { name: 'single class (no class loss)', nc: 1, over: {} },
];

for (const [vi, v] of variants.entries()) {
  t.test(v.name, async (t) => {
    const hyp = loadHyp(undefined, v.over);
    const imgsz = Math.max(H, W);
    const meta = { nc: v.nc, anchors: ANCHORS, strides: STRIDES, imgsz };
    const preds = makePreds(v.nc, 17 + vi);
    const targets = targetsFor(v.nc);
    const slow = slowLoss(preds, targets, v.nc, hyp, imgsz);

    const levels = buildTargets(
      targets,
      ANCHORS,
      preds.map((p) => ({ batch: B, ny: p.shape[2], nx: p.shape[3] })),
      hyp.anchor_t,
    );
    t.same(
      levels.map((l) => l.n),
      slow.counts,
      `assignments per level ${slow.counts}`,
    );
    t.same(
      levels.map((l) => l.duplicateSlots),
      slow.dups,
      `duplicate slots per level ${slow.dups}`,
    );
    if (vi === 0)
      t.ok(
        slow.dups.some((d) => d > 0),
        'the batch exercises the duplicate-slot rule',
      );

    const tp = preds.map((p) => tf.tensor(Float32Array.from(p.data), p.shape));
    const r = computeLoss(tp, targets, meta, hyp);
    for (const k of ['lbox', 'lobj', 'lcls', 'total'] as const) {
      const got = r[k].dataSync()[0],
        want = slow[k];
      t.ok(Math.abs(got - want) <= 2e-6 * Math.abs(want) + 1e-9, `${k}: ${got} vs float64 ${want}`);
    }
    if (v.nc === 1) t.equal(r.lcls.dataSync()[0], 0, 'lcls is 0 with one class');

    const grads = tf.grads((...ps: tf.Tensor[]) => computeLoss(ps, targets, meta, hyp).total)(tp);
    const h = 1e-4;
    let worst = 0,
      where = '';
    preds.forEach((p, l) => {
      const g = grads[l].dataSync();
      for (let e = 0; e < p.data.length; e++) {
        const x0 = p.data[e];
        p.data[e] = x0 + h;
        const up = slowLoss(preds, targets, v.nc, hyp, imgsz, slow.frozen).total;
        p.data[e] = x0 - h;
        const dn = slowLoss(preds, targets, v.nc, hyp, imgsz, slow.frozen).total;
        p.data[e] = x0;
        const fd = (up - dn) / (2 * h);
        const err = Math.abs(g[e] - fd) / (1e-5 * Math.abs(fd) + 1e-8);
        if (err > worst) {
          worst = err;
          where = `level ${l} element ${e}: ${g[e]} vs ${fd}`;
        }
      }
    });
    t.ok(
      worst <= 1,
      `every gradient element within 1e-5·|fd| + 1e-8 of the float64 central difference (worst ratio ${worst.toFixed(3)} at ${where})`,
    );
    tf.dispose([...tp, ...grads, r.total, r.lbox, r.lobj, r.lcls]);
  });
}
