/**
 * The lr schedule against train.py's own mechanism, replayed statefully: a LambdaLR that starts
 * at lr0·lf(0) with last_epoch −1, warmup that overwrites the group lr (towards lr0·lf(epoch))
 * while ni <= nw, a value that sticks between writes, the epoch's logged lr taken before
 * `scheduler.step()`, which then sets lr0·lf(last_epoch + 1). The closed form in schedule.ts
 * must give the same lr at every iteration and the same per-epoch trace (results.csv x/lr).
 */
import t from 'tap';
import { interp, iterationSettings, lrFactor, type LrKind, type ScheduleConfig } from '../../worker/engine/train/index.ts';

interface Trace {
  perIter: number[][];
  perEpoch: number[][];
}

/** train.py's loop, line by line (float64, as PyTorch keeps param_group lr in Python floats). */
function trainPyTrace(kind: LrKind, epochs: number, nb: number, nw: number, h: { lr0: number; lrf: number; warmupBiasLr: number }): Trace {
  const lf = (e: number) => lrFactor(kind, e, epochs, h.lrf);
  // LambdaLR.__init__: last_epoch −1 → step() → last_epoch 0, lr = initial_lr·lf(0)
  let lastEpoch = 0;
  const groups = [h.lr0 * lf(0), h.lr0 * lf(0), h.lr0 * lf(0)];
  lastEpoch = -1; // scheduler.last_epoch = start_epoch − 1 (start_epoch 0)
  const perIter: number[][] = [],
    perEpoch: number[][] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = 0; i < nb; i++) {
      const ni = i + nb * epoch;
      // train.py's nw is at least 100; nw 0 is our switch for no warmup at all
      if (nw > 0 && ni <= nw) {
        for (let j = 0; j < 3; j++) groups[j] = interp(ni, 0, nw, j === 0 ? h.warmupBiasLr : 0, h.lr0 * lf(epoch));
      }
      perIter.push([...groups]);
    }
    perEpoch.push([...groups]); // lr = [x['lr'] for x in optimizer.param_groups]
    lastEpoch += 1; // scheduler.step()
    for (let j = 0; j < 3; j++) groups[j] = h.lr0 * lf(lastEpoch);
  }
  return { perIter, perEpoch };
}

function ourTrace(cfg: ScheduleConfig, nb: number): Trace {
  const perIter: number[][] = [],
    perEpoch: number[][] = [];
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    let lr: number[] = [];
    for (let i = 0; i < nb; i++) {
      lr = iterationSettings(cfg, i + nb * epoch, epoch).lr;
      perIter.push(lr);
    }
    perEpoch.push(lr);
  }
  return { perIter, perEpoch };
}

const H = { lr0: 0.01, lrf: 0.01, warmupBiasLr: 0.1 };
const cases: Array<{ kind: LrKind; epochs: number; nb: number; nw: number; what: string }> = [
  { kind: 'linear', epochs: 40, nb: 8, nw: 100, what: 'warmup ends mid-epoch 12' },
  { kind: 'cosine', epochs: 40, nb: 8, nw: 100, what: 'warmup ends mid-epoch 12' },
  { kind: 'linear', epochs: 10, nb: 25, nw: 99, what: 'warmup ends at the last batch of epoch 3' },
  { kind: 'cosine', epochs: 10, nb: 25, nw: 100, what: 'warmup ends at the first batch of epoch 4' },
  { kind: 'linear', epochs: 6, nb: 5, nw: 0, what: 'no warmup' },
  { kind: 'cosine', epochs: 6, nb: 5, nw: 0, what: 'no warmup' },
];

for (const c of cases) {
  t.test(`${c.kind} lr, ${c.what}: same trace as train.py`, async (t) => {
    const cfg: ScheduleConfig = {
      kind: c.kind,
      epochs: c.epochs,
      lr0: H.lr0,
      lrf: H.lrf,
      momentum: 0.937,
      warmupMomentum: 0.8,
      warmupBiasLr: H.warmupBiasLr,
      nw: c.nw,
      batchesPerEpoch: c.nb,
      batchSize: 16,
    };
    const ref = trainPyTrace(c.kind, c.epochs, c.nb, c.nw, H);
    const ours = ourTrace(cfg, c.nb);
    const bad = ref.perIter.findIndex((r, k) => r.some((v, j) => Math.abs(v - ours.perIter[k][j]) > 1e-15 * Math.max(1, Math.abs(v))));
    t.equal(bad, -1, `every iteration${bad >= 0 ? ` (first difference at ni ${bad}: ${ours.perIter[bad]} vs ${ref.perIter[bad]})` : ''}`);
    t.same(
      ours.perEpoch.map((r) => r.map((v) => v.toPrecision(12))),
      ref.perEpoch.map((r) => r.map((v) => v.toPrecision(12))),
      'per-epoch x/lr0..2',
    );
    // after warmup, epoch e trains at lf(e − 1): the lag the issue measured
    const last = c.epochs - 1;
    t.ok(
      Math.abs(ours.perEpoch[last][1] - H.lr0 * lrFactor(c.kind, last - 1, c.epochs, H.lrf)) < 1e-15,
      `epoch ${last} at lf(${last - 1})`,
    );
  });
}

t.test("the issue's figures: 40 epochs linear, lf(13) at epoch 14 and lf(39) at epoch 40", async (t) => {
  const lf = (e: number) => 0.01 * lrFactor('linear', e, 40, 0.01);
  const cfg: ScheduleConfig = {
    kind: 'linear',
    epochs: 40,
    lr0: 0.01,
    lrf: 0.01,
    momentum: 0.937,
    warmupMomentum: 0.8,
    warmupBiasLr: 0.1,
    nw: 100,
    batchesPerEpoch: 8,
    batchSize: 16,
  };
  // results.csv's epoch column is 0-based: the 14th/40th rows are epochs 13 and 39
  t.equal(iterationSettings(cfg, 13 * 8 + 7, 13).lr[1].toFixed(5), lf(12).toFixed(5));
  t.equal(lf(12).toFixed(5), '0.00703', 'train.py wrote 0.00703 in row 14');
  t.equal(iterationSettings(cfg, 39 * 8 + 7, 39).lr[1].toFixed(5), '0.00060', 'train.py wrote 0.00060 in row 40');
});
