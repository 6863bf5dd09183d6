/**
 * One-process training and validation from a dataset yaml (or the synthetic set) and a model
 * yaml: the pieces train.py wires together, for the CLI, the tests and the demo.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { join, resolve } from 'node:path';
import { loadCheckpoint, type CheckpointContent } from '../checkpoint/index.ts';
import { createLoader, loadDataset, type CacheMode, type YoloDataset } from '../data/index.ts';
import { hypOverridesWith, loadHyp, type Hyp } from '../hyp/index.ts';
import type { YoloModel } from '../model/index.ts';
import { SyncStrategy, soloComm, type SyncSettings } from '../sync/index.ts';
import { fit, type FitEvent, type FitResult } from './fit.ts';
import { ensureData, runSettingsOf, setupRun, synthesize, type RunSettings } from './run-setup.ts';
import { modelFromPretrained, readPretrained, WeightsError, type Pretrained } from '../weights/index.ts';
import { PLOTTED_BATCHES, plotValBatch, plotValidation } from '../plots/index.ts';
import type { TrainBatch, ValMetrics } from './types.ts';
import { validate } from './validate.ts';

/** Options of {@link trainSession}; defaults as train.py's flags. */
export interface TrainSessionOptions {
  /** dataset yaml, or 'synthetic' to generate the synthetic set under the run folder */
  data: string;
  /** model yaml: a path or a built-in name; default 'yolov5n' */
  cfg?: string;
  /** image size, default 640 */
  img?: number;
  /** default 100 */
  epochs?: number;
  /** default 16 */
  batch?: number;
  /** hyp yaml (default hyp.scratch-low) and key overrides */
  hyp?: string;
  hypOverrides?: Record<string, number>;
  /** runs/train/<name>N; defaults 'runs/train' and 'exp' */
  project?: string;
  name?: string;
  /** reuse the folder instead of numbering a new one */
  existOk?: boolean;
  /** seed of the model init and the data order; default 0 */
  seed?: number;
  cosLr?: boolean;
  /** skip AutoAnchor (--noautoanchor) */
  noAutoanchor?: boolean;
  patience?: number;
  /** class label smoothing epsilon (train.py --label-smoothing): BCE class targets 1 − ε/2 and ε/2; overrides hyp label_smoothing */
  labelSmoothing?: number;
  /** train.py --single-cls: every label is class 0 of one class ('item', or the dataset's only name) */
  singleCls?: boolean;
  /** train.py --optimizer: SGD (default), Adam or AdamW */
  optimizer?: 'SGD' | 'Adam' | 'AdamW';
  /** train.py --rect: aspect-sorted rectangular training batches (pad 0), no mosaic, no shuffle */
  rect?: boolean;
  /** train.py --multi-scale: each batch resized to a seeded size in [0.5, 1.5]·img, a stride multiple */
  multiScale?: boolean;
  /** train.py --image-weights: each epoch's images drawn with replacement by class and mAP weights */
  imageWeights?: boolean;
  freeze?: number[];
  /** train.py --cache: 'ram' | 'disk' | 'encoded' | 'none' (worker/engine/data/cache.ts); default: ram for a small set */
  cache?: CacheMode;
  noVal?: boolean;
  /** nominal batch; default 64 */
  nbs?: number;
  /** continue from this checkpoint (last.ckpt of an earlier run); its folder is reused */
  resume?: string;
  /**
   * pretrained weights: a YOLOv5 .pt (Ultralytics checkpoint or state dict) or our checkpoint,
   * transferred where names and shapes match (train.py --weights). Without `cfg` the model is
   * the one the file records; with `cfg` the file's anchors are not transferred, as train.py.
   */
  weights?: string;
  /** synthetic set size when data = 'synthetic' (default 256 train, 64 val) */
  synthTrain?: number;
  synthVal?: number;
  /** synthetic generator overrides */
  synthOptions?: { classes?: string[]; objects?: [number, number]; sizes?: [number, number]; backgroundFraction?: number };
  /** write last.ckpt every this many iterations too */
  saveEvery?: number;
  /** also keep weights/epochN.ckpt every this many epochs (train.py --save-period); default 0 (none) */
  savePeriod?: number;
  /** draw no pictures (train.py --noplots); default false */
  noPlots?: boolean;
  /**
   * outer steps for one process (docs/sync.md): diloco/streaming take an outer Nesterov step on the
   * parameter delta every `every` optimizer steps; allreduce and local-sgd change nothing alone.
   * A resumed run keeps its checkpoint's setting.
   */
  sync?: SyncSettings;
  signal?: AbortSignal;
  onEvent?: (e: SessionEvent) => void;
}

export type SessionEvent =
  | FitEvent
  | { type: 'autoanchor'; lines: string[]; replaced: boolean; bpr: number; newBpr?: number }
  | {
      type: 'start';
      scan: string[];
      saveDir: string;
      data: string;
      trainImages: number;
      valImages: number;
      nc: number;
      names: string[];
      parameters: number;
      batchesPerEpoch: number;
      accumulate: number;
      resumedFrom?: string;
      pretrained?: string;
    };

export interface TrainSessionResult extends FitResult {
  saveDir: string;
}

/** runs/train/exp, exp2, exp3 … (increment_path). */
export function nextRunDir(project: string, name: string, existOk = false): string {
  const base = join(project, name);
  if (existOk || !existsSync(base)) return base;
  const taken = new Set(existsSync(project) ? readdirSync(project) : []);
  for (let i = 2; ; i++) if (!taken.has(`${name}${i}`)) return join(project, `${name}${i}`);
}

/** The cfg a run without --cfg builds from `w`: its recorded cfg name, or its yaml written to `saveDir`/model.yaml. */
function cfgOfWeights(w: Pretrained, saveDir: string): string {
  if (typeof w.cfg === 'string') return w.cfg;
  if (!w.cfg) throw new WeightsError(`${w.file} is a bare state dict without its architecture: pass --cfg (e.g. yolov5n)`);
  const file = resolve(saveDir, 'model.yaml');
  writeFileSync(file, stringify(w.cfg));
  return file;
}

/** Trains one process end to end; returns where it wrote and the final metrics. */
export async function trainSession(o: TrainSessionOptions): Promise<TrainSessionResult> {
  let resume: CheckpointContent | undefined;
  let saveDir: string;
  let settings: RunSettings;
  let pretrained: Pretrained | undefined;
  if (o.resume) {
    resume = loadCheckpoint(o.resume);
    // On resume the run's own settings win, as train.py --resume does. A job's checkpoint
    // (meta.job) gets a fresh run folder here; a run of our own continues in its folder.
    settings = runSettingsOf(resume);
    const own = resume.meta.job === undefined && typeof resume.meta.saveDir === 'string';
    saveDir = own ? String(resume.meta.saveDir) : nextRunDir(o.project ?? 'runs/train', o.name ?? 'exp', o.existOk);
    if (o.patience !== undefined) settings = { ...settings, patience: o.patience };
    if (o.cache) settings = { ...settings, cache: o.cache };
    mkdirSync(saveDir, { recursive: true });
    settings = await ensureData(settings, saveDir);
  } else {
    saveDir = nextRunDir(o.project ?? 'runs/train', o.name ?? 'exp', o.existOk);
    mkdirSync(saveDir, { recursive: true });
    const img = o.img ?? 640,
      seed = o.seed ?? 0;
    const synthetic =
      o.data === 'synthetic' ? { train: o.synthTrain ?? 256, val: o.synthVal ?? 64, img, seed, ...o.synthOptions } : undefined;
    const data = synthetic ? await synthesize(synthetic, join(saveDir, 'synthetic')) : o.data;
    let cfg = o.cfg ?? 'yolov5n';
    if (o.weights) {
      pretrained = readPretrained(o.weights);
      if (!o.cfg) cfg = cfgOfWeights(pretrained, saveDir);
    }
    settings = {
      ...(o.weights ? { weights: resolve(o.weights), weightsAnchors: !o.cfg } : {}),
      data: resolve(data),
      ...(synthetic ? { synthetic } : {}),
      cfg,
      imgsz: img,
      epochs: o.epochs ?? 100,
      batch: o.batch ?? 16,
      seed,
      lrKind: o.cosLr ? 'cosine' : 'linear',
      freeze: o.freeze ?? [],
      nbs: o.nbs ?? 64,
      hyp: loadHyp(o.hyp, hypOverridesWith(o.hypOverrides, { labelSmoothing: o.labelSmoothing })),
      patience: o.patience ?? 100,
      noautoanchor: o.noAutoanchor ?? false,
      ...(o.singleCls ? { singleCls: true } : {}),
      ...(o.optimizer ? { optimizer: o.optimizer } : {}),
      ...(o.rect ? { rect: true } : {}),
      ...(o.multiScale ? { multiScale: true } : {}),
      ...(o.imageWeights ? { imageWeights: true } : {}),
      ...(o.sync ? { sync: o.sync } : {}),
      ...(o.cache ? { cache: o.cache } : {}),
    };
  }
  const run = await setupRun(settings, { fresh: !resume, ...(pretrained ? { pretrained } : {}) });
  try {
    const { trainer, train, trainSet, valSet, model } = run;
    const aa = run.autoanchor;
    if (aa)
      o.onEvent?.({
        type: 'autoanchor',
        lines: aa.lines,
        replaced: aa.replaced,
        bpr: aa.bpr,
        ...(aa.newBpr === undefined ? {} : { newBpr: aa.newBpr }),
      });
    o.onEvent?.({
      type: 'start',
      scan: run.scan,
      saveDir,
      data: settings.data,
      trainImages: trainSet.items.length,
      valImages: valSet.items.length,
      nc: trainSet.nc,
      names: trainSet.names,
      parameters: model.paramCount(),
      batchesPerEpoch: train.length,
      accumulate: trainer.accumulate,
      ...(o.resume ? { resumedFrom: o.resume } : {}),
      ...(run.pretrained ? { pretrained: run.pretrained.message } : {}),
    });
    const result = await fit(trainer, {
      ...run.fitOptions,
      train,
      val: run.val,
      saveDir,
      patience: settings.patience,
      noVal: o.noVal,
      meta: { ...run.meta, saveDir },
      resume,
      saveEvery: o.saveEvery,
      savePeriod: o.savePeriod,
      signal: o.signal,
      onEvent: o.onEvent,
      ...(o.noPlots ? {} : { plots: { names: trainSet.names, labels: trainSet.items.map((i) => i.labels) } }),
      ...(settings.sync && settings.sync.mode !== 'allreduce'
        ? { hooks: { sync: { strategy: new SyncStrategy(settings.sync, trainer.layout.size), comm: soloComm } } }
        : {}),
    });
    return { ...result, saveDir };
  } finally {
    await run.dispose();
  }
}

/** Options of {@link valSession}. */
export interface ValSessionOptions {
  /** a checkpoint written by training (its EMA weights are validated, as val.py does with ckpt['ema']) or a YOLOv5 .pt */
  weights: string;
  /** dataset yaml; default the one the checkpoint was trained on (a .pt needs it) */
  data?: string;
  /** model yaml for a bare state-dict .pt (default: the architecture the file records) */
  cfg?: string;
  /** image size; default the training one (640 for a .pt) */
  img?: number;
  batch?: number;
  confThres?: number;
  iouThres?: number;
  /** 'val' (default) or 'train' */
  split?: 'train' | 'val';
  /** where val.py's pictures go (confusion matrix, PR/F1/P/R curves, val_batchN); absent: none */
  saveDir?: string;
}

/** Validates a checkpoint or .pt on a dataset split. */
export async function valSession(
  o: ValSessionOptions,
): Promise<{ metrics: ValMetrics; dataset: YoloDataset; model: { cfg: string; nc: number }; pictures: string[] }> {
  const w = readPretrained(o.weights);
  // our checkpoints record the dataset and hyp they were trained with (the tensors are read again: small files)
  const meta = w.format === 'flotilla' ? loadCheckpoint(o.weights).meta : {};
  const data = o.data ?? (typeof meta.data === 'string' ? meta.data : undefined);
  if (!data) throw new WeightsError(`${o.weights} records no dataset: pass --data`);
  const img = o.img ?? w.imgsz ?? 640;
  const dataset = await loadDataset(data, o.split ?? 'val', { skipCorrupt: true, singleCls: meta.singleCls === true });
  const nc = w.nc ?? dataset.nc;
  if (dataset.nc !== nc) throw new Error(`the weights have ${nc} classes, the dataset ${dataset.nc}`);
  const model: YoloModel = modelFromPretrained(w, o.cfg);
  const cfg = o.cfg ?? (typeof w.cfg === 'string' ? w.cfg : `${w.file} (its model.yaml)`);
  try {
    const hyp = (meta.hyp as unknown as Hyp | undefined) ?? loadHyp();
    const loader = createLoader({
      dataset,
      batchSize: o.batch ?? 32,
      img,
      augment: false,
      hyp,
      seed: 0,
      rect: true,
      stride: Math.max(...model.strides),
    });
    const pictures: string[] = [];
    const dir = o.saveDir;
    const onBatch = dir
      ? async (i: number, b: TrainBatch, dets: readonly Float32Array[]) => {
          if (i < PLOTTED_BATCHES) pictures.push(...(await plotValBatch(dir, i, b, dets, dataset.names)));
        }
      : undefined;
    const metrics = await validate(model, loader.epochBatches(0, 0), {
      confThres: o.confThres,
      iouThres: o.iouThres,
      hyp,
      imgsz: img,
      ...(onBatch ? { onBatch } : {}),
    });
    if (dir && metrics.stats) pictures.push(...(await plotValidation(dir, metrics.stats, dataset.names)));
    return { metrics, dataset, model: { cfg, nc }, pictures };
  } finally {
    model.dispose();
  }
}
