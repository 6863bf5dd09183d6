/**
 * The settings of one training run and what they build (datasets, model, loaders, Trainer),
 * shared by `flotilla train` (one process) and every rank of a cluster job, so both write the
 * same checkpoint meta and either can resume the other's checkpoint.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkAnchors, labelShapes, type CheckAnchorsResult } from '../anchors/index.ts';
import type { CheckpointContent, Json } from '../checkpoint/index.ts';
import {
  checkCacheBudget,
  createLoader,
  generateSyntheticDataset,
  loadDataset,
  scanReport,
  type CacheMode,
  type Loader,
  type SyntheticOptions,
  type YoloDataset,
} from '../data/index.ts';
import type { Hyp } from '../hyp/index.ts';
import { buildModel, type YoloModel } from '../model/index.ts';
import type { SyncSettings } from '../sync/index.ts';
import { readPretrained, transferPretrained, type Pretrained, type TransferReport } from '../weights/index.ts';
import type { LrKind } from './schedule.ts';
import type { FitOptions } from './fit.ts';
import { Trainer, type OptimizerKind } from './trainer.ts';
import { EngineError } from '../errors.ts';

/** The synthetic generator's options, minus the folder (regenerated where needed: same seed, same bytes). */
export type SyntheticSpec = Omit<SyntheticOptions, 'dir'>;

/** What a run is; stored in every checkpoint's meta. */
export interface RunSettings {
  /** dataset yaml path as read (absolute) */
  data: string;
  /** set when `data` was generated: how to generate it again */
  synthetic?: SyntheticSpec;
  cfg: string;
  imgsz: number;
  epochs: number;
  /** total batch over all ranks */
  batch: number;
  seed: number;
  lrKind: LrKind;
  freeze: number[];
  nbs: number;
  hyp: Hyp;
  patience: number;
  /** skip AutoAnchor (train.py --noautoanchor); default false */
  noautoanchor?: boolean;
  /** train.py --single-cls: both splits as one class 'item' (loadDataset singleCls); default false */
  singleCls?: boolean;
  /** train.py --optimizer; absent: SGD */
  optimizer?: OptimizerKind;
  /** train.py --rect: training batches of aspect-ratio-sorted images, letterboxed to one shape per batch (pad 0), no mosaic, no shuffle; default false */
  rect?: boolean;
  /** train.py --multi-scale: each batch resized to a seeded size in [0.5, 1.5]·imgsz (the same on every rank); default false */
  multiScale?: boolean;
  /** train.py --image-weights: each epoch's images drawn with replacement by class- and mAP-derived weights; default false */
  imageWeights?: boolean;
  /** how ranks (or, for one process, outer steps) sync (engine/sync); absent: allreduce */
  sync?: SyncSettings;
  /**
   * pretrained weights (a .pt or our checkpoint) transferred into a fresh run's model where
   * names and shapes match, before AutoAnchor and the EMA copy (train.py --weights)
   */
  weights?: string;
  /**
   * train.py --cache: keep decoded images in RAM ('ram'), beside the images on disk ('disk') or
   * the encoded files in RAM ('encoded'), or decode for each batch ('none'); absent: 'ram' for a
   * small set, else 'none' (cache.ts). Not in checkpoint meta:
   * it is this machine's choice, passed again on resume.
   */
  cache?: CacheMode;
  /** transfer the file's anchors too (train.py does unless --cfg or hyp anchors are given); default false */
  weightsAnchors?: boolean;
}

export class RunSettingsError extends EngineError {
  override name = 'RunSettingsError';
  readonly retryable = false;
}

const KEYS = ['data', 'cfg', 'imgsz', 'epochs', 'batch', 'seed', 'lrKind', 'freeze', 'nbs', 'hyp', 'patience'] as const;

/** The settings a checkpoint was written with (both entry points write them). */
export function runSettingsOf(content: CheckpointContent): RunSettings {
  const m = content.meta;
  const missing = KEYS.filter((k) => m[k] === undefined);
  if (missing.length)
    throw new RunSettingsError(`checkpoint meta lacks ${missing.join(', ')} (not written by flotilla train or a flotilla job)`);
  return {
    data: String(m.data),
    cfg: String(m.cfg),
    imgsz: Number(m.imgsz),
    epochs: Number(m.epochs),
    batch: Number(m.batch),
    seed: Number(m.seed),
    lrKind: m.lrKind === 'cosine' ? 'cosine' : 'linear',
    freeze: (m.freeze as number[]).map(Number),
    nbs: Number(m.nbs),
    hyp: m.hyp as unknown as Hyp,
    patience: Number(m.patience),
    noautoanchor: m.noautoanchor === true,
    ...(m.singleCls === true ? { singleCls: true } : {}),
    ...(m.optimizer === 'Adam' || m.optimizer === 'AdamW' ? { optimizer: m.optimizer } : {}),
    ...(m.rect === true ? { rect: true } : {}),
    ...(m.multiScale === true ? { multiScale: true } : {}),
    ...(m.imageWeights === true ? { imageWeights: true } : {}),
    ...(m.syncSettings && typeof m.syncSettings === 'object' ? { sync: m.syncSettings as unknown as SyncSettings } : {}),
    ...(m.synthetic && typeof m.synthetic === 'object' ? { synthetic: m.synthetic as unknown as SyntheticSpec } : {}),
    ...(typeof m.weights === 'string' ? { weights: m.weights, weightsAnchors: m.weightsAnchors === true } : {}),
  };
}

/** The meta entries of `s` (merged into every checkpoint). */
export function runSettingsMeta(s: RunSettings, names: string[], nc: number): { [k: string]: Json } {
  return {
    data: s.data,
    cfg: s.cfg,
    nc,
    names,
    imgsz: s.imgsz,
    epochs: s.epochs,
    batch: s.batch,
    seed: s.seed,
    lrKind: s.lrKind,
    freeze: s.freeze,
    nbs: s.nbs,
    hyp: s.hyp as unknown as Json,
    patience: s.patience,
    noautoanchor: s.noautoanchor ?? false,
    ...(s.singleCls ? { singleCls: true } : {}),
    ...(s.optimizer && s.optimizer !== 'SGD' ? { optimizer: s.optimizer } : {}),
    ...(s.rect ? { rect: true } : {}),
    ...(s.multiScale ? { multiScale: true } : {}),
    ...(s.imageWeights ? { imageWeights: true } : {}),
    ...(s.synthetic ? { synthetic: s.synthetic as unknown as Json } : {}),
    ...(s.sync && s.sync.mode !== 'allreduce' ? { syncSettings: s.sync as unknown as Json } : {}),
    ...(s.weights ? { weights: s.weights, weightsAnchors: s.weightsAnchors ?? false } : {}),
  };
}

/** Generates the synthetic set into `dir`; returns the yaml path. */
export async function synthesize(spec: SyntheticSpec, dir: string): Promise<string> {
  return (await generateSyntheticDataset({ ...spec, dir })).yamlPath;
}

/** `s.data`, regenerated into `dir`/synthetic when it was synthetic and is not on this machine. */
export async function ensureData(s: RunSettings, dir: string): Promise<RunSettings> {
  if (existsSync(s.data) || !s.synthetic) return s;
  return { ...s, data: resolve(await synthesize(s.synthetic, join(dir, 'synthetic'))) };
}

export interface RunSetup {
  trainSet: YoloDataset;
  valSet: YoloDataset;
  model: YoloModel;
  trainer: Trainer;
  train: Loader;
  /** this rank's part of the validation set (every `worldSize`-th image from `rank`) */
  val: Loader;
  /** checkpoint meta: the settings, classes and names */
  meta: { [k: string]: Json };
  /** the scan report of both splits (scanReport) */
  scan: string[];
  /** what AutoAnchor found and printed, when it ran */
  autoanchor?: CheckAnchorsResult;
  /** what the pretrained weights transfer did (fresh runs with `weights`) */
  pretrained?: TransferReport;
  /** the fit options the settings ask for (multi-scale, image weights): pass them to `fit` */
  fitOptions: Pick<FitOptions, 'multiScale' | 'imageWeights'>;
  dispose(): Promise<void>;
}

/**
 * Builds a run; rank `rank` of `worldSize` gets batch/worldSize images of every global batch.
 * `fresh` (a run that does not resume a checkpoint) runs AutoAnchor unless `s.noautoanchor`,
 * before the Trainer copies the model into its EMA; a resumed run gets its anchors from the
 * checkpoint.
 */
export async function setupRun(
  s: RunSettings,
  o: { rank?: number; worldSize?: number; fresh?: boolean; pretrained?: Pretrained } = {},
): Promise<RunSetup> {
  const rank = o.rank ?? 0,
    worldSize = o.worldSize ?? 1;
  const perRank = Math.floor(s.batch / worldSize);
  if (perRank < 1 || perRank * worldSize !== s.batch)
    throw new RunSettingsError(`batch ${s.batch} does not split evenly over ${worldSize} ranks`);
  // as train.py: corrupt images and label files are left out and named in the scan report
  const trainSet = await loadDataset(s.data, 'train', { skipCorrupt: true, singleCls: s.singleCls });
  const valSet = await loadDataset(s.data, 'val', { skipCorrupt: true, singleCls: s.singleCls });
  // both splits' caches must fit together: refuse before the model is built, not at the first batch
  if (s.cache === 'ram' || s.cache === 'encoded')
    await checkCacheBudget(
      [...trainSet.items, ...valSet.items].map((it) => it.imagePath),
      s.imgsz,
      s.cache,
    );
  const model = buildModel(s.cfg, { nc: trainSet.nc, seed: s.seed });
  try {
    const stride = Math.max(...model.strides);
    if (s.imgsz % stride !== 0) throw new RunSettingsError(`img ${s.imgsz} must be a multiple of the model's max stride ${stride}`);
    let pretrained: TransferReport | undefined;
    if (o.fresh && s.weights) {
      try {
        pretrained = transferPretrained(model, o.pretrained ?? readPretrained(s.weights), { excludeAnchors: !s.weightsAnchors });
      } catch (e) {
        throw new RunSettingsError((e as Error).message, { cause: e });
      }
    }
    let autoanchor: CheckAnchorsResult | undefined;
    if (o.fresh && !s.noautoanchor) {
      const px = model.anchors.map((l, i) => l.map(([w, h]) => [w * model.strides[i], h * model.strides[i]]));
      autoanchor = await checkAnchors(await labelShapes(trainSet), px, { imgsz: s.imgsz, thr: s.hyp.anchor_t, seed: s.seed });
      if (autoanchor.replaced)
        model.setAnchors(autoanchor.anchors.map((l, i) => l.map(([w, h]) => [w / model.strides[i], h / model.strides[i]])));
    }
    const train = createLoader({
      dataset: trainSet,
      batchSize: perRank,
      img: s.imgsz,
      augment: true,
      hyp: s.hyp,
      seed: s.seed,
      stride,
      rank,
      worldSize,
      // train.py --rect: aspect-sorted batches, one letterbox shape each (pad 0), no mosaic, no shuffle
      ...(s.rect ? { rect: true, pad: 0 } : {}),
      ...(s.cache ? { cache: s.cache } : {}),
    });
    // Validation shards by image (no wrap-around duplicates), each rank with rect batches of its own images.
    const shard = worldSize === 1 ? valSet : { ...valSet, items: valSet.items.filter((_, i) => i % worldSize === rank) };
    if (shard.items.length === 0)
      throw new RunSettingsError(`the validation set has ${valSet.items.length} images, fewer than the ${worldSize} ranks`);
    const val = createLoader({
      dataset: shard,
      batchSize: Math.max(1, Math.floor((2 * s.batch) / worldSize)),
      img: s.imgsz,
      augment: false,
      hyp: s.hyp,
      seed: s.seed,
      rect: true,
      stride,
      ...(s.cache ? { cache: s.cache } : {}),
    });
    const trainer = new Trainer(model, {
      hyp: s.hyp,
      epochs: s.epochs,
      batchSize: s.batch,
      batchesPerEpoch: train.length,
      imgsz: s.imgsz,
      lrKind: s.lrKind,
      freeze: s.freeze,
      nbs: s.nbs,
      optimizer: s.optimizer ?? 'SGD',
    });
    return {
      trainSet,
      valSet,
      model,
      trainer,
      train,
      val,
      meta: runSettingsMeta(s, trainSet.names, trainSet.nc),
      scan: [...scanReport(trainSet), ...scanReport(valSet)],
      ...(autoanchor ? { autoanchor } : {}),
      ...(pretrained ? { pretrained } : {}),
      fitOptions: {
        ...(s.multiScale ? { multiScale: { img: s.imgsz, stride, seed: s.seed } } : {}),
        ...(s.imageWeights ? { imageWeights: { labels: trainSet.items.map((i) => i.labels), nc: trainSet.nc } } : {}),
      },
      dispose: async () => {
        await train.close();
        await val.close();
        trainer.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
