/**
 * The sync strategies' arithmetic (worker/engine/sync/strategy.ts) on real ranks: N ranks in this
 * process, each with its own NATS connections and collective group on a real nats-server, train
 * logistic regression on their own rows; the result must equal, bit for bit, a one-process
 * reference written here that keeps all N replicas in arrays and does each outer step by the
 * formulas of docs/sync.md (float32 rounding after every operation, sums in rank order).
 */
import t, { type Test } from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startRanks } from '../collective/kit.ts';
import { syncComm } from '../../worker/actor/sync-comm.ts';
import {
  SyncStrategy,
  decode,
  encode,
  sumOverRanks,
  type SyncComm,
  type SyncSettings,
  type SyncTarget,
} from '../../worker/engine/sync/index.ts';
import { batchRows, generateDataset, gradientSums, type Dataset } from '../../worker/trainers/logreg-math.ts';

const server = await startNatsServer({ auth: false, jetstream: false });
t.teardown(() => server.stop());

const f32 = Math.fround;
const F = 8,
  PER_RANK = 16,
  LR = 0.5,
  SEED = 5;
const data = generateDataset(SEED, 400, F);
const base: SyncSettings = {
  mode: 'diloco',
  every: 4,
  compress: 'none',
  outer_lr: 0.7,
  outer_momentum: 0.9,
  fragments: 1,
  overlap: 0,
  error_feedback: true,
};

/** One inner step of rank r's replica in place: its rows' gradient (scaled by W as the strategy does) and plain SGD. */
function innerStep(d: Dataset, params: Float32Array, k: number, r: number, W: number, buf: Float32Array, scale: boolean): void {
  gradientSums(d, params, batchRows(SEED, k, d.n, PER_RANK * W, r, W), buf);
  if (scale && W > 1) for (let i = 0; i < buf.length; i++) buf[i] *= W;
  const count = buf[F + 2];
  for (let j = 0; j <= F; j++) params[j] -= (LR * buf[j]) / count;
}

/** What each rank runs: the strategy with the real collective. */
async function runRank(comm: SyncComm, s: SyncSettings, steps: number): Promise<Float32Array> {
  const params = new Float32Array(F + 1);
  const strategy = new SyncStrategy(s, F + 1);
  const target: SyncTarget = { params: { size: F + 1, read: (o) => o.set(params), write: (v) => params.set(v) } };
  strategy.begin(target);
  const buf = new Float32Array(F + 3);
  for (let k = 1; k <= steps; k++) {
    gradientSums(data, params, batchRows(SEED, k, data.n, PER_RANK * comm.worldSize, comm.rank, comm.worldSize), buf);
    await strategy.afterBackward(buf, comm);
    const count = buf[F + 2];
    for (let j = 0; j <= F; j++) params[j] -= (LR * buf[j]) / count;
    await strategy.afterStep(target, k, comm);
  }
  await strategy.flush(target, steps, comm);
  return params;
}

/** The same training in one process: W replicas side by side, outer steps by the formulas. */
function reference(s: SyncSettings, W: number, steps: number): Float32Array[] {
  const n = F + 1;
  const P = Array.from({ length: W }, () => new Float32Array(n));
  const anchor = new Float32Array(n),
    vel = new Float32Array(n);
  const local = s.mode === 'local-sgd';
  const lr = local ? 1 : s.outer_lr,
    mu = local ? 0 : s.outer_momentum;
  const nf = s.mode === 'streaming' ? s.fragments : 1;
  const overlap = s.mode === 'streaming' ? s.overlap : 0;
  const range = (f: number) => [Math.floor((f * n) / nf), Math.floor(((f + 1) * n) / nf)];
  const offset = (f: number) => Math.floor((f * s.every) / nf);
  const lastSent = Array.from({ length: nf }, (_, f) => -offset(f));
  const outerDone = new Array(nf).fill(0);
  const residual = P.map(() => new Float32Array(n));
  type Q = { f: number; due: number; mean: Float32Array; sent: Float32Array[]; zeroSkip: boolean };
  let queue: Q[] = [];
  const meanDelta = (f: number): Float32Array => {
    const [b, e] = range(f);
    const sum = new Float32Array(e - b);
    for (let r = 0; r < W; r++) {
      const d = new Float32Array(e - b);
      for (let i = b; i < e; i++) d[i - b] = anchor[i] - P[r][i];
      if (s.compress === 'int8' || s.compress === 'bf16') {
        const res = residual[r].subarray(b, e);
        for (let i = 0; i < d.length; i++) d[i] += res[i];
        const p = encode(s.compress, d);
        const got = new Float32Array(d.length);
        decode(s.compress, p, got);
        for (let i = 0; i < d.length; i++) res[i] = d[i] - got[i];
        for (let i = 0; i < d.length; i++) sum[i] += got[i];
      } else for (let i = 0; i < d.length; i++) sum[i] += d[i];
    }
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i] / W;
    return sum;
  };
  const apply = (q: Q) => {
    if (q.zeroSkip && q.mean.every((x) => x === 0)) return;
    const [b, e] = range(q.f);
    const first = outerDone[q.f] === 0;
    for (let i = b; i < e; i++) {
      const g = q.mean[i - b];
      const v = first ? g : f32(f32(mu * vel[i]) + g);
      vel[i] = v;
      anchor[i] = f32(anchor[i] - f32(lr * f32(g + f32(mu * v))));
      for (let r = 0; r < W; r++) P[r][i] = f32(anchor[i] + f32(P[r][i] - q.sent[r][i - b]));
    }
    outerDone[q.f] += 1;
  };
  const applyDue = (k: number) => {
    while (queue.length && queue[0].due <= k) apply(queue.shift()!);
  };
  const sendF = (f: number, k: number, due: number, zeroSkip = false) => {
    const [b, e] = range(f);
    queue.push({ f, due, mean: meanDelta(f), sent: P.map((p) => p.slice(b, e)), zeroSkip });
    lastSent[f] = k;
  };
  const buf = new Float32Array(F + 3);
  for (let k = 1; k <= steps; k++) {
    for (let r = 0; r < W; r++) innerStep(data, P[r], k, r, W, buf, true);
    applyDue(k);
    for (let f = 0; f < nf; f++) if (k - lastSent[f] >= s.every) sendF(f, k, k + overlap);
    applyDue(k);
  }
  applyDue(Number.POSITIVE_INFINITY);
  for (let f = 0; f < nf; f++) if (steps - lastSent[f] > 0) sendF(f, steps, steps, true);
  applyDue(steps);
  queue = [];
  return P;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

async function compare(t: Test, name: string, s: SyncSettings, W: number, steps: number): Promise<void> {
  const ranks = await startRanks(server.url, uniquePrefix('sync'), W, { algorithm: 'multicast' });
  try {
    const got = await Promise.all(ranks.groups.map((g) => runRank(syncComm(g), s, steps)));
    const want = reference(s, W, steps);
    t.same(got.map(bits), want.map(bits), `${name}: every rank equals the one-process reference bit for bit`);
    t.equal(new Set(got.map(bits)).size, 1, `${name}: all ranks end with the same parameters`);
    // the outer steps did something: the result is not what plain allreduce-free training gives
    const alone = reference({ ...s, mode: 'local-sgd', every: 1_000_000 }, W, steps);
    t.not(bits(got[0]), bits(alone[0]), `${name}: the syncs changed the trajectory`);
  } finally {
    await ranks.close();
  }
}

t.test('local-sgd, H=3, 3 ranks', (t) => compare(t, 'local-sgd', { ...base, mode: 'local-sgd', every: 3 }, 3, 10));
t.test('diloco ending on a sync step (the flush sends nothing), 2 ranks', (t) => compare(t, 'diloco-aligned', base, 2, 12));
t.test('diloco, H=4, outer lr 0.7 momentum 0.9, 3 ranks', (t) => compare(t, 'diloco', base, 3, 13));
t.test('streaming, 3 fragments, H=6, overlap 2, 2 ranks', (t) =>
  compare(t, 'streaming', { ...base, mode: 'streaming', every: 6, fragments: 3, overlap: 2 }, 2, 20),
);
t.test('diloco + int8 with error feedback, 3 ranks', (t) => compare(t, 'diloco+int8', { ...base, compress: 'int8' }, 3, 13));
t.test('local-sgd + bf16, 2 ranks', (t) => compare(t, 'local-sgd+bf16', { ...base, mode: 'local-sgd', every: 2, compress: 'bf16' }, 2, 9));

t.test('int8/bf16 sums: the same bits on every rank, within the codec bound of the exact sum', async (t) => {
  const W = 3,
    n = 3000;
  const ranks = await startRanks(server.url, uniquePrefix('sum'), W);
  try {
    for (const c of ['int8', 'bf16'] as const) {
      const inputs = ranks.groups.map((_, r) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + r) * (1 + (i % 7))));
      const exact = new Float64Array(n);
      for (const x of inputs)
        x.forEach((v, i) => {
          exact[i] += v;
        });
      const bufs = inputs.map((x) => x.slice());
      await Promise.all(ranks.groups.map((g, r) => sumOverRanks(syncComm(g), bufs[r], c, new Float32Array(n))));
      t.equal(new Set(bufs.map(bits)).size, 1, `${c}: identical bits on the ${W} ranks`);
      let worst = 0;
      bufs[0].forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - exact[i]));
      });
      // int8: each rank's error <= 7/254 (chunk max 7), bf16: <= 7·2^-8 per rank
      const bound = c === 'int8' ? (W * 7) / 254 : W * 7 * 2 ** -8 + 1e-5;
      t.ok(worst <= bound, `${c}: worst error ${worst.toExponential(3)} <= ${bound.toExponential(3)}`);
    }
  } finally {
    await ranks.close();
  }
});

t.test('BatchNorm statistics: mean at every sync; EMA: each rank its own until the flush, then the mean', async (t) => {
  const W = 2,
    n = 5;
  const ranks = await startRanks(server.url, uniquePrefix('bn'), W);
  try {
    const run = async (comm: SyncComm) => {
      const r = comm.rank;
      const params = new Float32Array(n),
        bn = Float32Array.from({ length: 3 }, (_, i) => i + 10 * r),
        ema = Float32Array.from({ length: 4 }, (_, i) => i * (r + 1));
      const vec = (a: Float32Array) => ({ size: a.length, read: (o: Float32Array) => o.set(a), write: (v: Float32Array) => a.set(v) });
      const target: SyncTarget = { params: vec(params), buffers: vec(bn), ema: vec(ema) };
      const s = new SyncStrategy({ ...base, mode: 'local-sgd', every: 2 }, n);
      s.begin(target);
      params.fill(r + 1);
      await s.afterStep(target, 1, comm);
      const afterStep1 = { bn: Array.from(bn), ema: Array.from(ema) };
      await s.afterStep(target, 2, comm);
      const afterSync = { params: Array.from(params), bn: Array.from(bn), ema: Array.from(ema) };
      await s.flush(target, 2, comm);
      return { afterStep1, afterSync, afterFlush: { ema: Array.from(ema) } };
    };
    const [a, b] = await Promise.all(ranks.groups.map((g) => run(syncComm(g))));
    t.same(a.afterStep1.bn, [0, 1, 2], 'between syncs a rank keeps its own statistics');
    t.same(a.afterSync.params, [1.5, 1.5, 1.5, 1.5, 1.5], 'local-sgd: the mean of the replicas');
    t.same(
      [a.afterSync.bn, b.afterSync.bn],
      [
        [5, 6, 7],
        [5, 6, 7],
      ],
      'BN statistics: their mean at the sync',
    );
    t.same(
      [a.afterSync.ema, b.afterSync.ema],
      [
        [0, 1, 2, 3],
        [0, 2, 4, 6],
      ],
      'EMA: not exchanged at a sync',
    );
    t.same(
      [a.afterFlush.ema, b.afterFlush.ema],
      [
        [0, 1.5, 3, 4.5],
        [0, 1.5, 3, 4.5],
      ],
      'EMA: the mean at the flush',
    );
  } finally {
    await ranks.close();
  }
});

t.test('EMA at the flush as model + mean(EMA − model), int8: within the codec bound of the mean', async (t) => {
  const W = 2,
    n = 600;
  const ranks = await startRanks(server.url, uniquePrefix('ema'), W);
  try {
    const emas = [0, 1].map((r) => Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 3 + 0.01 * (r + 1) * Math.sin(i * 0.7)));
    const model = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 3); // the synced model, the same on both ranks
    const want = Float64Array.from({ length: n }, (_, i) => (emas[0][i] + emas[1][i]) / 2);
    const out = await Promise.all(
      ranks.groups.map(async (g, r) => {
        const ema = emas[r].slice();
        const params = new Float32Array(4);
        const vec = (a: Float32Array) => ({ size: a.length, read: (o: Float32Array) => o.set(a), write: (v: Float32Array) => a.set(v) });
        const s = new SyncStrategy({ ...base, mode: 'diloco', compress: 'int8' }, 4);
        const target: SyncTarget = { params: vec(params), ema: vec(ema), emaModel: { size: n, read: (o) => o.set(model) } };
        s.begin(target);
        await s.flush(target, 1, syncComm(g));
        return { ema, bytes: s.bytesSent };
      }),
    );
    t.equal(bits(out[0].ema), bits(out[1].ema), 'both ranks hold the same EMA');
    let worst = 0;
    out[0].ema.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - want[i]));
    });
    // each rank's EMA − model is at most 0.02: int8 error <= 0.02/254 per rank, halved by the mean, plus float32 rounding of ~3
    t.ok(worst <= 0.02 / 254 + 1e-6, `worst error ${worst.toExponential(3)}`);
    t.ok(out[0].bytes < 4 * n, `sent ${out[0].bytes} bytes, under the ${4 * n} of float32`);
  } finally {
    await ranks.close();
  }
});
