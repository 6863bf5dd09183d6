/**
 * `flotilla train --data DATA.yaml|synthetic --cfg yolov5n.yaml --img 320 --epochs N --batch B`:
 * trains one process, printing the backend, per-epoch losses and validation, and writing
 * runs/train/expN/{results.csv, weights/last.ckpt, weights/best.ckpt}.
 */
import { SyncOptions } from '../../shared/schemas/sync.ts';
import { z } from 'zod';
import { defineCommand, flag, intList, parse, usageError } from './parse.ts';
import { progressBar, wantsBar, type ProgressView } from './progress.ts';

export const spec = defineCommand({
  name: 'train',
  synopsis: '--data DATA.yaml|synthetic [options]',
  flags: z.object({
    data: flag.str('FILE', "dataset yaml (YOLO format), or 'synthetic' for the generated shape set"),
    cfg: flag.str('FILE', 'model yaml: a path or yolov5n/s/m/l/x (default yolov5n)'),
    img: flag.int('PX', 'train/val image size, a multiple of 32 (default 640)', 32),
    epochs: flag.int('N', '(default 100)', 1),
    batch: flag.int('N', 'batch size (default 16)', 1),
    hyp: flag.str('FILE', 'hyperparameter yaml (default hyp.scratch-low)'),
    set: flag.str('K=V,...', 'override hyperparameters, e.g. --set lr0=0.02,mosaic=0'),
    seed: flag.int('S', 'model init and data order seed (default 0)', 0),
    'cos-lr': flag.bool('cosine lr schedule (default linear)'),
    noautoanchor: flag.bool("keep the model's anchors (no AutoAnchor check and re-fit)"),
    'label-smoothing': flag.num('EPS', 'class label smoothing (BCE targets 1-EPS/2 and EPS/2; default 0)', 0, 1),
    optimizer: flag.oneOf(['SGD', 'Adam', 'AdamW'], 'O', 'SGD (Nesterov, default) | Adam | AdamW (betas: hyp momentum, 0.999)'),
    'single-cls': flag.bool("train as one class: every label is class 0, named 'item'"),
    rect: flag.bool('rectangular training batches (aspect-sorted, pad 0; no mosaic, no shuffle)'),
    'multi-scale': flag.bool('resize each batch to a size in [0.5, 1.5]x img (multiple of 32)'),
    'image-weights': flag.bool("draw each epoch's images by class weights ((1-mAP)^2 / class count)"),
    cache: flag.oneOf(
      ['ram', 'disk', 'encoded', 'none'],
      'MODE',
      'decoded images kept in RAM, in IMAGE.<img>.rgb files beside the images, the encoded files kept in RAM, or decoded for every batch\n(default: ram when the set needs <= 1 GiB and 1/10 of free memory, else none)',
    ),
    patience: flag.int('N', 'early stopping patience in epochs (default 100, 0 = never)', 0),
    freeze: intList('N[,M..]', 'freeze layers 0..N-1, or the listed layers', 0),
    nbs: flag.int('N', 'nominal batch size for gradient accumulation (default 64)', 1),
    noval: flag.bool('validate only after the final epoch'),
    noplots: flag.bool('draw no pictures (results.png, PR/F1/P/R curves, confusion matrix, labels, batches)'),
    'save-every': flag.int('N', 'also write last.ckpt every N iterations', 1),
    'save-period': flag.int('N', 'also keep weights/epochK.ckpt after every epoch K with K % N == 0 (default 0: none)', 0),
    sync: flag.str('MODE', 'allreduce (default) | local-sgd | diloco | streaming: outer steps (docs/sync.md)'),
    'sync-every': flag.num('H', 'optimizer steps between outer steps (default 16)'),
    'outer-lr': flag.num('X', 'diloco/streaming outer learning rate (default 0.7)'),
    'outer-momentum': flag.num('X', 'diloco/streaming outer Nesterov momentum (default 0.9)'),
    fragments: flag.num('N', 'streaming: fragments (default 4)'),
    overlap: flag.num('N', 'streaming: steps in flight (default 1)'),
    compress: flag.str('C', 'none | fp16 | bf16 | int8: what the outer delta is rounded to (default none)'),
    resume: flag.str('FILE', 'continue a run from its weights/last.ckpt'),
    weights: flag.str(
      'FILE',
      'start from pretrained weights: a YOLOv5 .pt (Ultralytics) or a flotilla .ckpt;\nwithout --cfg the model is the one the file holds',
    ),
    project: flag.str('DIR', '(default runs/train)'),
    name: flag.str('NAME', '(default exp; numbered exp2, exp3 … unless --exist-ok)'),
    'exist-ok': flag.bool('reuse runs/train/NAME'),
    'synth-train': flag.int('N', 'synthetic set: training images (default 256)', 1),
    'synth-val': flag.int('N', 'synthetic set: validation images (default 64)', 1),
    json: flag.bool('print only the result as JSON (save dir, epochs run, final metrics)'),
    'no-progress': flag.bool('no progress bar even on a terminal (also FLOTILLA_PROGRESS=0)'),
  }),
});

function overrides(v: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!v) return out;
  for (const kv of v.split(',')) {
    const [k, x] = kv.split('=');
    const n = Number(x);
    if (!k || x === undefined || !Number.isFinite(n)) throw new Error(`--set: expected KEY=NUMBER pairs, got '${kv}'`);
    out[k.trim()] = n;
  }
  return out;
}

/** --sync and its companions, checked by the job schema's own SyncOptions (every bad field named). */
function syncFlags(v: Record<string, unknown>): { sync?: SyncOptions; problems: string[] } {
  const raw: Record<string, unknown> = {};
  const pairs: Array<[string, string]> = [
    ['sync', 'mode'],
    ['sync-every', 'every'],
    ['outer-lr', 'outer_lr'],
    ['outer-momentum', 'outer_momentum'],
    ['fragments', 'fragments'],
    ['overlap', 'overlap'],
    ['compress', 'compress'],
  ];
  const flagOf = new Map(pairs.map(([f, k]) => [k, f]));
  for (const [flag, key] of pairs) if (v[flag] !== undefined) raw[key] = v[flag];
  if (!Object.keys(raw).length) return { problems: [] };
  const r = SyncOptions.safeParse(raw);
  if (r.success) return { sync: r.data, problems: [] };
  return { problems: r.error.issues.map((i) => `--${flagOf.get(String(i.path[0])) ?? 'sync'}: ${i.message}`) };
}

const f = (x: number, w = 10, p = 4) => x.toFixed(p).padStart(w);

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const problems: string[] = [];
  if (!values.data && !values.resume) problems.push('--data (or --resume) is required');
  let hypOverrides: Record<string, number> = {};
  try {
    hypOverrides = overrides(values.set);
  } catch (e) {
    problems.push((e as Error).message);
  }
  const sync = syncFlags(values);
  problems.push(...sync.problems);
  if (problems.length) return usageError(spec, ...problems);
  const opts = {
    data: values.data ?? '',
    cfg: values.cfg,
    img: values.img,
    epochs: values.epochs,
    batch: values.batch,
    hyp: values.hyp,
    hypOverrides,
    seed: values.seed,
    cosLr: Boolean(values['cos-lr']),
    noAutoanchor: Boolean(values.noautoanchor),
    labelSmoothing: values['label-smoothing'],
    singleCls: Boolean(values['single-cls']),
    rect: Boolean(values.rect),
    multiScale: Boolean(values['multi-scale']),
    imageWeights: Boolean(values['image-weights']),
    cache: values.cache,
    optimizer: values.optimizer,
    patience: values.patience,
    freeze: values.freeze,
    nbs: values.nbs,
    noVal: Boolean(values.noval),
    noPlots: Boolean(values.noplots),
    saveEvery: values['save-every'],
    savePeriod: values['save-period'],
    resume: values.resume,
    weights: values.weights,
    project: values.project,
    name: values.name,
    existOk: Boolean(values['exist-ok']),
    synthTrain: values['synth-train'],
    synthVal: values['synth-val'],
    sync: sync.sync,
  };
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
