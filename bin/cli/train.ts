/**
 * `flotilla train --data DATA.yaml|synthetic --cfg yolov5n.yaml --img 320 --epochs N --batch B`:
 * trains one process, printing the backend, per-epoch losses and validation, and writing
 * runs/train/expN/{results.csv, weights/last.ckpt, weights/best.ckpt}.
 */
import { SyncOptions } from '../../shared/schemas/sync.ts';
import { flagNumber, parseFlags, usageError } from './flags.ts';
import { progressBar, wantsBar, type ProgressView } from './progress.ts';

const USAGE = `usage: flotilla train --data DATA.yaml|synthetic [options]

  --data FILE        dataset yaml (YOLO format), or 'synthetic' for the generated shape set
  --cfg FILE         model yaml: a path or yolov5n/s/m/l/x (default yolov5n)
  --img PX           train/val image size, a multiple of 32 (default 640)
  --epochs N         (default 100)
  --batch N          batch size (default 16)
  --hyp FILE         hyperparameter yaml (default hyp.scratch-low)
  --set K=V,...      override hyperparameters, e.g. --set lr0=0.02,mosaic=0
  --seed S           model init and data order seed (default 0)
  --cos-lr           cosine lr schedule (default linear)
  --noautoanchor     keep the model's anchors (no AutoAnchor check and re-fit)
  --label-smoothing EPS  class label smoothing (BCE targets 1-EPS/2 and EPS/2; default 0)
  --optimizer O      SGD (Nesterov, default) | Adam | AdamW (betas: hyp momentum, 0.999)
  --single-cls       train as one class: every label is class 0, named 'item'
  --patience N       early stopping patience in epochs (default 100, 0 = never)
  --freeze N[,M..]   freeze layers 0..N-1, or the listed layers
  --nbs N            nominal batch size for gradient accumulation (default 64)
  --cache MODE       ram | disk | encoded | none: decoded images kept in RAM, in IMAGE.<img>.rgb files
                     beside the images, the encoded files kept in RAM, or decoded for every batch
                     (default: ram when the set needs <= 1 GiB and 1/10 of free memory, else none)
  --noval            validate only after the final epoch
  --noplots          draw no pictures (results.png, PR/F1/P/R curves, confusion matrix, labels, batches)
  --save-every N     also write last.ckpt every N iterations
  --save-period N    also keep weights/epochK.ckpt after every epoch K with K % N == 0 (default 0: none)
  --sync MODE        allreduce (default) | local-sgd | diloco | streaming: outer steps (docs/sync.md)
  --sync-every H     optimizer steps between outer steps (default 16)
  --outer-lr X       diloco/streaming outer learning rate (default 0.7)
  --outer-momentum X diloco/streaming outer Nesterov momentum (default 0.9)
  --fragments N      streaming: fragments (default 4)   --overlap N  streaming: steps in flight (default 1)
  --compress C       none | fp16 | bf16 | int8: what the outer delta is rounded to (default none)
  --resume FILE      continue a run from its weights/last.ckpt
  --weights FILE     start from pretrained weights: a YOLOv5 .pt (Ultralytics) or a flotilla .ckpt;
                     without --cfg the model is the one the file holds
  --project DIR      (default runs/train)
  --name NAME        (default exp; numbered exp2, exp3 … unless --exist-ok)
  --exist-ok         reuse runs/train/NAME
  --synth-train N    synthetic set: training images (default 256)
  --synth-val N      synthetic set: validation images (default 64)
  --json             print only the result as JSON (save dir, epochs run, final metrics)
  --no-progress      no progress bar even on a terminal (also FLOTILLA_PROGRESS=0)`;

const num = (name: string, v: string | undefined, min: number) => flagNumber(name, v, min);

function optimizerFlag(v: string | undefined): 'SGD' | 'Adam' | 'AdamW' | undefined {
  if (v === undefined || v === 'SGD' || v === 'Adam' || v === 'AdamW') return v;
  throw new Error(`--optimizer must be SGD, Adam or AdamW (got '${v}')`);
}

function cacheFlag(v: string | undefined): 'ram' | 'disk' | 'encoded' | 'none' | undefined {
  if (v === undefined || v === 'ram' || v === 'disk' || v === 'encoded' || v === 'none') return v;
  throw new Error(`--cache must be ram, disk, encoded or none (got '${v}')`);
}

function overrides(v: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!v) return out;
  for (const kv of v.split(',')) {
    const [k, x] = kv.split('=');
    const n = Number(x);
    if (!k || x === undefined || !Number.isFinite(n)) throw new Error(`--set expects KEY=NUMBER pairs (got '${kv}')`);
    out[k.trim()] = n;
  }
  return out;
}

/** --sync and its companions, checked by the job schema's own SyncOptions (one error naming every bad field). */
function syncFlags(s: (k: string) => string | undefined) {
  const raw: Record<string, unknown> = {};
  const pairs: Array<[string, string, boolean]> = [
    ['sync', 'mode', false],
    ['sync-every', 'every', true],
    ['outer-lr', 'outer_lr', true],
    ['outer-momentum', 'outer_momentum', true],
    ['fragments', 'fragments', true],
    ['overlap', 'overlap', true],
    ['compress', 'compress', false],
  ];
  for (const [flag, key, numeric] of pairs) {
    const v = s(flag);
    if (v !== undefined) raw[key] = numeric ? Number(v) : v;
  }
  if (!Object.keys(raw).length) return undefined;
  const r = SyncOptions.safeParse(raw);
  if (!r.success) throw new Error(`bad sync flags: ${r.error.issues.map((i) => `${i.path.join('.') || 'sync'}: ${i.message}`).join('; ')}`);
  return r.data;
}

const f = (x: number, w = 10, p = 4) => x.toFixed(p).padStart(w);

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    {
      data: { type: 'string' },
      cfg: { type: 'string' },
      img: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      hyp: { type: 'string' },
      set: { type: 'string' },
      seed: { type: 'string' },
      'cos-lr': { type: 'boolean' },
      noautoanchor: { type: 'boolean' },
      'label-smoothing': { type: 'string' },
      'single-cls': { type: 'boolean' },
      optimizer: { type: 'string' },
      patience: { type: 'string' },
      freeze: { type: 'string' },
      nbs: { type: 'string' },
      noval: { type: 'boolean' },
      cache: { type: 'string' },
      noplots: { type: 'boolean' },
      'save-every': { type: 'string' },
      'save-period': { type: 'string' },
      resume: { type: 'string' },
      weights: { type: 'string' },
      project: { type: 'string' },
      name: { type: 'string' },
      'exist-ok': { type: 'boolean' },
      'synth-train': { type: 'string' },
      'synth-val': { type: 'string' },
      json: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      sync: { type: 'string' },
      'sync-every': { type: 'string' },
      'outer-lr': { type: 'string' },
      'outer-momentum': { type: 'string' },
      fragments: { type: 'string' },
      overlap: { type: 'string' },
      compress: { type: 'string' },
    },
    USAGE,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const s = (k: string) => values[k] as string | undefined;
  if (!s('data') && !s('resume')) return usageError('--data (or --resume) is required', USAGE);
  let opts;
  try {
    const freeze = s('freeze')
      ?.split(',')
      .map((x) => num('freeze', x, 0)!);
    opts = {
      data: s('data') ?? '',
      cfg: s('cfg'),
      img: num('img', s('img'), 32),
      epochs: num('epochs', s('epochs'), 1),
      batch: num('batch', s('batch'), 1),
      hyp: s('hyp'),
      hypOverrides: overrides(s('set')),
      seed: num('seed', s('seed'), 0),
      cosLr: Boolean(values['cos-lr']),
      noAutoanchor: Boolean(values.noautoanchor),
      labelSmoothing: flagNumber('label-smoothing', s('label-smoothing'), 0, { max: 1, integer: false }),
      singleCls: Boolean(values['single-cls']),
      optimizer: optimizerFlag(s('optimizer')),
      patience: num('patience', s('patience'), 0),
      freeze,
      nbs: num('nbs', s('nbs'), 1),
      noVal: Boolean(values.noval),
      cache: cacheFlag(s('cache')),
      noPlots: Boolean(values.noplots),
      saveEvery: num('save-every', s('save-every'), 1),
      savePeriod: num('save-period', s('save-period'), 0),
      resume: s('resume'),
      weights: s('weights'),
      project: s('project'),
      name: s('name'),
      existOk: Boolean(values['exist-ok']),
      synthTrain: num('synth-train', s('synth-train'), 1),
      synthVal: num('synth-val', s('synth-val'), 1),
      sync: syncFlags(s),
    };
  } catch (e) {
    return usageError((e as Error).message, USAGE);
  }
  const { initBackend } = await import('../../worker/engine/backend.ts');
  const backend = await initBackend();
  // On a terminal a bar follows the batches and the epoch table prints above it; --json prints only the result.
  let bar: ProgressView | undefined = !values.json && !values['no-progress'] && wantsBar() ? progressBar('train') : undefined;
  const say = (line: string) => {
    if (values.json) return;
    if (bar) bar.line(line);
    else console.log(line);
  };
  let epochs = opts.epochs;
  say(`backend: ${backend.backend} (${backend.device})`);
  const { trainSession } = await import('../../worker/engine/train/index.ts');
  const ac = new AbortController();
  const onSig = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSig);
  const t0 = performance.now();
  try {
    const r = await trainSession({
      ...opts,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'batch') {
          bar?.tick({
            step: e.epoch * e.batches + e.index + 1,
            totalSteps: epochs ? epochs * e.batches : undefined,
            epoch: e.epoch,
            epochs,
            losses: { ...e.mean },
          });
        } else if (e.type === 'autoanchor') {
          for (const line of e.lines) say(line);
        } else if (e.type === 'start') {
          if (e.pretrained) say(e.pretrained);
          for (const line of e.scan) say(line);
          say(`${e.resumedFrom ? `resuming from ${e.resumedFrom}; ` : ''}results to ${e.saveDir}`);
          say(`data: ${e.data} (${e.trainImages} train, ${e.valImages} val images; ${e.nc} classes: ${e.names.join(', ')})`);
          say(`model: ${e.parameters} parameters; ${e.batchesPerEpoch} batches/epoch, accumulate ${e.accumulate}`);
          say(
            `${'Epoch'.padStart(11)}${'box_loss'.padStart(11)}${'obj_loss'.padStart(11)}${'cls_loss'.padStart(11)}${'P'.padStart(11)}${'R'.padStart(11)}${'mAP50'.padStart(11)}${'mAP50-95'.padStart(11)}${'time'.padStart(9)}`,
          );
        } else if (e.type === 'epoch') {
          epochs = e.epochs;
          const m = e.metrics;
          const cols = m ? [m.mp, m.mr, m.map50, m.map].map((v) => f(v, 11, 3)).join('') : ''.padStart(44);
          say(
            `${`${e.epoch}/${e.epochs - 1}`.padStart(11)}${f(e.train.box, 11)}${f(e.train.obj, 11)}${f(e.train.cls, 11)}${cols}${`${((performance.now() - t0) / 1000).toFixed(0)}s`.padStart(9)}`,
          );
        } else if (e.type === 'skip') {
          say(`step ${e.step} skipped: its gradient is NaN/Inf (${e.consecutive} in a row, ${e.skipped} in all)`);
        } else if (e.type === 'plots' && e.error) {
          say(`WARNING: a picture could not be drawn: ${e.error}`);
        } else if (e.type === 'stop' && e.reason === 'patience') {
          say(`stopping early: no improvement in the last epochs (best at epoch ${e.epoch})`);
        }
      },
    });
    bar?.stop();
    bar = undefined;
    const m = r.metrics;
    if (values.json) {
      const { stats: _stats, ...numbers } = m ?? { stats: undefined };
      console.log(
        JSON.stringify({
          saveDir: r.saveDir,
          epochsRun: r.epochsRun,
          seconds: Math.round((performance.now() - t0) / 1000),
          metrics: m ? numbers : null,
        }),
      );
      return 0;
    }
    console.log(`\n${r.epochsRun} epochs completed in ${((performance.now() - t0) / 3600000).toFixed(3)} hours.`);
    if (m) {
      console.log(
        `${'Class'.padStart(22)}${'Images'.padStart(11)}${'Instances'.padStart(11)}${'P'.padStart(11)}${'R'.padStart(11)}${'mAP50'.padStart(11)}${'mAP50-95'.padStart(11)}`,
      );
      console.log(
        `${'all'.padStart(22)}${String(m.images).padStart(11)}${String(m.labels).padStart(11)}${[m.mp, m.mr, m.map50, m.map].map((v) => f(v, 11, 3)).join('')}`,
      );
    }
    console.log(
      `results saved to ${r.saveDir} (results.csv, weights/last.ckpt, weights/best.ckpt${opts.noPlots ? '' : ', results.png and the other pictures'})`,
    );
    return 0;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSig);
  }
}
