/**
 * The search methods (head/tune/search.ts) against a reference written from train.py's evolve
 * loop in this file (parents from the best min(5, n) rows by fitness, one picked as
 * random.choices does with weights fitness - min + 1e-6, the mutation multipliers drawn as numpy
 * draws them, bounds, rounding), on the same seeded stream; and the study artifacts.
 */
import t from 'tap';
import { parse } from 'yaml';
import { seededRand, studyRand, type Rand } from '../../head/tune/rand.ts';
import { constrain, evolveNext, fitness, mutate, randomNext, selectParent, type Gene, type Point } from '../../head/tune/search.ts';
import { YOLOV5_META } from '../../shared/tune-space.ts';
import { StudySpec, type StudyRecord } from '../../shared/schemas/study.ts';
import { basePoint, genesOf, trialSpec } from '../../head/tune/space.ts';
import { evolveCsv, hypEvolveYaml } from '../../head/tune/artifacts.ts';
import { evolveSvg } from '../../head/tune/plot.ts';
import { sampleTrial } from '../../head/tune/runner.ts';
import { ashaStops, percentile, rungEpochs } from '../../head/tune/asha.ts';
import { Hyp } from '../../worker/engine/hyp/index.ts';

const GENES: Gene[] = Object.entries(YOLOV5_META).map(([key, [gain, lower, upper]]) => ({ key, gain, lower, upper }));
const KEYS = GENES.map((g) => g.key);

/** train.py, step by step: rows are [P, R, mAP50, mAP, box, obj, cls, ...hyp] as evolve.csv's. */
function referenceEvolve(rows: number[][], rand: Rand): Record<string, number> {
  const fit = (x: number[]) => 0 * x[0] + 0 * x[1] + 0.1 * x[2] + 0.9 * x[3];
  const n = Math.min(5, rows.length);
  const x = rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => fit(b.r) - fit(a.r) || a.i - b.i)
    .slice(0, n)
    .map((e) => e.r);
  const w = x.map((r) => fit(r) - Math.min(...x.map(fit)) + 1e-6);
  // random.choices(range(n), weights=w): bisect(cum_weights, random() * total)
  const cum: number[] = [];
  w.reduce((a, b, i) => (cum[i] = a + b), 0);
  const pick = rand.uniform() * cum[cum.length - 1];
  let j = 0;
  while (j < cum.length - 1 && pick >= cum[j]) j++;
  const parent = x[j];
  const mp = 0.8,
    s = 0.2;
  const g = KEYS.map((k) => YOLOV5_META[k][0]);
  let v = g.map(() => 1);
  while (v.every((e) => e === 1)) {
    const u = g.map(() => rand.uniform());
    const nr = g.map(() => rand.normal());
    const r = rand.uniform();
    v = g.map((gi, i) => Math.min(3.0, Math.max(0.3, gi * (u[i] < mp ? 1 : 0) * nr[i] * r * s + 1)));
  }
  const hyp: Record<string, number> = {};
  KEYS.forEach((k, i) => {
    hyp[k] = parent[i + 7] * v[i];
  });
  for (const k of KEYS) hyp[k] = Math.round(Math.min(Math.max(hyp[k], YOLOV5_META[k][1]), YOLOV5_META[k][2]) * 1e5) / 1e5;
  return hyp;
}

const base = constrain(
  Object.fromEntries(
    Object.entries(
      Hyp.parse({
        lr0: 0.01,
        lrf: 0.01,
        momentum: 0.937,
        weight_decay: 0.0005,
        warmup_epochs: 3,
        warmup_momentum: 0.8,
        warmup_bias_lr: 0.1,
        box: 0.05,
        cls: 0.5,
        cls_pw: 1,
        obj: 1,
        obj_pw: 1,
        iou_t: 0.2,
        anchor_t: 4,
        fl_gamma: 0,
        hsv_h: 0.015,
        hsv_s: 0.7,
        hsv_v: 0.4,
        degrees: 0,
        translate: 0.1,
        scale: 0.5,
        shear: 0,
        perspective: 0,
        flipud: 0,
        fliplr: 0.5,
        mosaic: 1,
        mixup: 0,
        copy_paste: 0,
      }),
    ).filter(([k]) => k in YOLOV5_META),
  ),
  GENES,
);

t.test('fitness is 0.1 mAP@0.5 + 0.9 mAP@0.5:0.95, P and R weigh nothing', async (t) => {
  t.equal(fitness({ precision: 0.9, recall: 0.8, map50: 0.5, map: 0.3 }), 0.1 * 0.5 + 0.9 * 0.3);
  t.equal(fitness({ precision: 1, recall: 1, map50: 0, map: 0 }), 0);
});

t.test('evolve mutates as train.py: same parents, same multipliers, same bounds and rounding', async (t) => {
  // a history of 7 results with distinct fitness, built from mutations of the base
  const history: { hyp: Point; fitness: number; row: number[] }[] = [];
  const hr = seededRand(99);
  for (let i = 0; i < 7; i++) {
    const hyp = mutate(base, GENES, hr);
    const m = [hr.uniform(), hr.uniform(), hr.uniform(), hr.uniform() * 0.5, 0.05, 0.02, 0.01];
    history.push({
      hyp,
      fitness: fitness({ precision: m[0], recall: m[1], map50: m[2], map: m[3] }),
      row: [...m, ...KEYS.map((k) => hyp[k])],
    });
  }
  let differs = 0;
  for (let seed = 0; seed < 50; seed++) {
    const ours = evolveNext(
      7,
      base,
      history.map(({ hyp, fitness }) => ({ hyp, fitness })),
      GENES,
      studyRand(seed, 7),
    );
    const ref = referenceEvolve(
      history.map((h) => h.row),
      studyRand(seed, 7),
    );
    t.same(ours, ref, `seed ${seed}: the mutation equals the reference`);
    const parent = selectParent(
      history.map(({ hyp, fitness }) => ({ hyp, fitness })),
      studyRand(seed, 7),
    );
    if (KEYS.some((k) => ours[k] !== parent[k])) differs++;
  }
  t.equal(differs, 50, 'every mutation differs from its parent (drawn again while all multipliers are 1)');
});

t.test('evolve: the first trial is the base; before any result the base is the parent; gain-0 genes never move; bounds hold', async (t) => {
  t.same(evolveNext(0, base, [], GENES, studyRand(1, 0)), base, 'trial 0 trains the base hyperparameters');
  const fixed = GENES.filter((g) => g.gain === 0).map((g) => g.key);
  t.same(fixed.sort(), ['fl_gamma', 'fliplr', 'iou_t', 'perspective'], "train.py's fixed genes");
  let results = [{ hyp: base, fitness: 0.1 }];
  let moved = 0;
  for (let n = 1; n < 300; n++) {
    const p = evolveNext(n, base, results, GENES, studyRand(7, n));
    for (const g of GENES) {
      if (!(p[g.key] >= g.lower && p[g.key] <= g.upper)) t.fail(`trial ${n}: ${g.key}=${p[g.key]} outside [${g.lower}, ${g.upper}]`);
      if (Math.round(p[g.key] * 1e5) / 1e5 !== p[g.key]) t.fail(`trial ${n}: ${g.key} not rounded to 5 decimals`);
    }
    for (const k of fixed) if (p[k] !== base[k]) t.fail(`trial ${n}: ${k} moved`);
    if (p.lr0 !== base.lr0) moved++;
    results = [...results, { hyp: p, fitness: ((n * 7919) % 101) / 100 }];
  }
  t.ok(moved > 150, `lr0 (gain 1, mutation probability 0.8) moved in ${moved} of 299 trials`);
  t.pass('299 trials within bounds, rounded, fixed genes fixed');
});

t.test('parent selection keeps to the best five, weighted by fitness', async (t) => {
  const results = [0.1, 0.5, 0.2, 0.9, 0.3, 0.7, 0.05].map((f, i) => ({ hyp: { i }, fitness: f }));
  const seen = new Map<number, number>();
  const r = seededRand(3);
  for (let k = 0; k < 4000; k++) {
    const p = selectParent(results, r);
    seen.set(p.i, (seen.get(p.i) ?? 0) + 1);
  }
  t.notOk(seen.has(0) || seen.has(6), 'the two worst are never parents');
  t.ok(
    (seen.get(3) ?? 0) > (seen.get(1) ?? 0) && (seen.get(1) ?? 0) > (seen.get(4) ?? 0),
    `higher fitness, more often (${[...seen].sort().join(' ')})`,
  );
  t.ok((seen.get(2) ?? 0) < 20, 'the fifth best (weight 1e-6 above the minimum) almost never');
});

t.test('random samples uniformly within the bounds, the same for the same seed', async (t) => {
  const genes: Gene[] = [
    { key: 'lr0', gain: 1, lower: 0.001, upper: 0.05 },
    { key: 'mixup', gain: 1, lower: 0.2, upper: 0.4 },
  ];
  const xs = Array.from({ length: 2000 }, (_, n) => randomNext(genes, studyRand(5, n)));
  for (const x of xs)
    if (!(x.lr0 >= 0.001 && x.lr0 <= 0.05 && x.mixup >= 0.2 && x.mixup <= 0.4)) t.fail(`out of bounds: ${JSON.stringify(x)}`);
  const mean = xs.reduce((a, x) => a + x.mixup, 0) / xs.length;
  t.ok(Math.abs(mean - 0.3) < 0.01, `mean ${mean.toFixed(4)} near the middle`);
  t.same(randomNext(genes, studyRand(5, 17)), xs[17], 'reproducible');
  t.not(JSON.stringify(randomNext(genes, studyRand(6, 17))), JSON.stringify(xs[17]), 'another seed, another sample');
});

t.test("a study spec: the sampled values go into the trial job's trainer.hyp; artifacts as train.py writes them", async (t) => {
  const spec = StudySpec.parse({
    base: { trainer: { kind: 'yolov5', img: 64, epochs: 1, hyp: { warmup_epochs: 0, lr0: 0.02 } } },
    space: { lr0: [0.001, 0.05], hsv_h: [0, 0.1] },
    trials: 3,
    concurrency: 2,
  });
  t.same(
    genesOf(spec).map((g) => g.key),
    ['lr0', 'hsv_h'],
  );
  t.same(basePoint(spec), { lr0: 0.02, hsv_h: 0.015 }, "the base's own value over hyp.scratch-low's");
  const job = trialSpec(spec, { lr0: 0.0123, hsv_h: 0.05 }, 'x trial 1');
  t.match(job.trainer, { kind: 'yolov5', hyp: { warmup_epochs: 0, lr0: 0.0123, hsv_h: 0.05 } }, 'applied over the base overrides');
  const st: StudyRecord = {
    id: 'sx',
    spec,
    state: 'running',
    created_at: '',
    updated_at: '',
    trials: [
      {
        n: 0,
        job_id: 'sx-t0',
        hyp: { lr0: 0.02, hsv_h: 0.015 },
        state: 'succeeded',
        fitness: 0.3,
        attempts: 1,
        metrics: { precision: 0.5, recall: 0.4, map50: 0.6, map: 0.2667, val_box: 0.1, val_obj: 0.2, val_cls: 0.01 },
      },
      { n: 1, job_id: 'sx-t1', hyp: { lr0: 0.03, hsv_h: 0.02 }, state: 'failed', fitness: 0, attempts: 1 },
      { n: 2, job_id: 'sx-t2', hyp: { lr0: 0.01, hsv_h: 0.01 }, state: 'running', fitness: null, attempts: 1 },
    ],
  };
  const csv = evolveCsv(st).trimEnd().split('\n');
  t.equal(csv.length, 3, 'a header and one row per trial with a fitness');
  t.same(
    csv[0].split(',').map((c) => c.trim()),
    [
      'metrics/precision',
      'metrics/recall',
      'metrics/mAP_0.5',
      'metrics/mAP_0.5:0.95',
      'val/box_loss',
      'val/obj_loss',
      'val/cls_loss',
      'lr0',
      'hsv_h',
    ],
  );
  t.ok(
    csv.every((l) => l.split(',').every((c) => c.length === 20)),
    "'%20s' / '%20.5g' cells",
  );
  t.same(csv[1].split(',').map(Number), [0.5, 0.4, 0.6, 0.2667, 0.1, 0.2, 0.01, 0.02, 0.015]);
  t.same(csv[2].split(',').map(Number), [0, 0, 0, 0, 0, 0, 0, 0.03, 0.02], 'a failed trial: zeros');
  const y = hypEvolveYaml(st)!;
  t.match(y, /# Best generation: 0\n# Last generation: 1\n/);
  t.match(parse(y), { lr0: 0.02, hsv_h: 0.015, warmup_epochs: 0, momentum: 0.937 }, 'the whole hyp: best trial over the base');
  const svg = evolveSvg(st)!;
  t.same(
    [...svg.matchAll(/data-key="(\w+)"/g)].map((m) => m[1]),
    ['lr0', 'hsv_h'],
    'evolve.svg: a panel per searched key',
  );
  t.equal((svg.match(/<circle class="trial"/g) ?? []).length, 4, 'a dot per scored trial in each panel');
  t.match(svg, /lr0 = 0\.02</, 'titled with the best value');
  t.equal(evolveSvg({ ...st, trials: [st.trials[2]] }), null, 'no plot before a fitness');
  const again = sampleTrial({ ...st, trials: st.trials.slice(0, 2) }, 2);
  t.same(sampleTrial({ ...st, trials: st.trials.slice(0, 2) }, 2), again, "a trial's sample depends on seed, number and results only");
  t.ok(again.lr0 >= 0.001 && again.lr0 <= 0.05 && again.hsv_h >= 0 && again.hsv_h <= 0.1, "within the study's own bounds");
});

t.test('ASHA: rungs at grace * rf^k epochs, the lower (1 - 1/rf) of a rung stops', async (t) => {
  t.same(rungEpochs(1, 3, 10), [1, 3, 9]);
  t.same(rungEpochs(1, 3, 9), [1, 3], 'no rung at the last epoch (the trial ends there anyway)');
  t.same(rungEpochs(2, 3, 20), [2, 6, 18]);
  t.equal(percentile([4, 1, 3, 2], 50), 2.5, "numpy's linear percentile");
  t.ok(Math.abs(percentile([1, 2, 3, 4], 200 / 3) - 3) < 1e-12);
  t.notOk(ashaStops(0.1, [0.1], 3), 'the first at a rung goes on');
  t.ok(ashaStops(0.2, [0.5, 0.2], 3), 'below the 2/3 quantile of what the rung has seen: stopped');
  t.notOk(ashaStops(0.9, [0.5, 0.2, 0.9], 3), 'the top third goes on');
  const seen = [0.3, 0.1, 0.8, 0.5, 0.7, 0.2, 0.6, 0.4, 0.9];
  const kept = seen.filter((v, i) => !ashaStops(v, seen.slice(0, i + 1), 3));
  // by hand: 0.1 < 0.233 (cutoff of 0.3, 0.1), 0.2 < 0.567, 0.4 < 0.567 stop; the first to arrive always goes on
  t.same(kept, [0.3, 0.8, 0.5, 0.7, 0.6, 0.9], 'in arrival order (asynchronous: a rung decides on what it has seen so far)');
});
