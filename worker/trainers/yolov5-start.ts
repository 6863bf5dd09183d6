/**
 * Where a YOLOv5 rank starts from: the run a job spec describes (its dataset, pushed or
 * synthetic, and its weights), the job's newest checkpoint or its resume file, and in a live
 * gang the state the ranks agree on (state-sync.ts).
 */
import { existsSync } from 'node:fs';
import { sha256Hex } from '../actor/checkpoint-store.ts';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { datasetFileRef, datasetRefName } from '../../shared/dataset-ref.ts';
import { effectiveSync, type Yolov5Trainer } from '../../shared/schemas/index.ts';
import type { ActorContext } from '../actor/context.ts';
import { fetchDataset } from '../datasets/store.ts';
import { cachedSynthetic } from './synthetic-cache.ts';
import { BadInputError } from '../engine/errors.ts';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, type CheckpointContent } from '../engine/checkpoint/index.ts';
import { syncState, type SyncResult } from '../actor/state-sync.ts';
import { reportAgreed } from '../actor/step-report.ts';
import type { Timeline } from '../actor/timeline.ts';
import type { Hyp } from '../engine/hyp/index.ts';
import { trainStateMeta, type RunSettings } from '../engine/train/index.ts';

export type Yolov5Spec = z.infer<typeof Yolov5Trainer>;

/** The run a job spec describes (the job's settings win over a resumed checkpoint's). */
export async function settingsOf(ctx: ActorContext, t: Yolov5Spec, hyp: Hyp, scratch: string): Promise<RunSettings> {
  const weights = await weightsOf(ctx, t);
  const base = {
    ...(weights ? { weights, weightsAnchors: false } : {}),
    cfg: t.cfg,
    imgsz: t.img,
    epochs: t.epochs,
    batch: t.batch,
    seed: t.seed,
    lrKind: t.cos_lr ? ('cosine' as const) : ('linear' as const),
    freeze: t.freeze,
    nbs: t.nbs,
    hyp,
    patience: t.patience,
    noautoanchor: t.noautoanchor,
    ...(t.single_cls ? { singleCls: true } : {}),
    ...(t.cache ? { cache: t.cache } : {}),
    optimizer: t.optimizer,
    ...(t.rect ? { rect: true } : {}),
    ...(t.multi_scale ? { multiScale: true } : {}),
    ...(t.image_weights ? { imageWeights: true } : {}),
    sync: effectiveSync(ctx.spec.job),
  };
  const pushed = datasetRefName(t.data);
  if (pushed !== null) {
    // dataset://NAME: fetched once per digest into this node's cache
    const got = await fetchDataset(ctx.nc, ctx.prefix, pushed);
    ctx.log.info({ dataset: pushed, sha256: got.sha256, cached: got.cached }, 'dataset from the object store');
    return { ...base, data: got.yamlPath };
  }
  if (t.data !== 'synthetic') return { ...base, data: resolve(t.data) };
  // drawn once per node and settings (synthetic-cache.ts); a restart on this node reads it
  const synthetic = { ...t.synthetic, img: t.img };
  try {
    const got = await cachedSynthetic(synthetic);
    ctx.log.info({ data: got.yamlPath, cached: got.cached }, 'synthetic dataset');
    return { ...base, synthetic, data: got.yamlPath };
  } catch (e) {
    throw new BadInputError('cannot generate the synthetic dataset', e);
  }
}

/** The job's `weights` as a local file: a path as given, or a file of a pushed dataset fetched into this node's cache. */
async function weightsOf(ctx: ActorContext, t: Yolov5Spec): Promise<string | undefined> {
  if (!t.weights) return undefined;
  const ref = datasetFileRef(t.weights);
  if (!ref) return resolve(t.weights);
  const got = await fetchDataset(ctx.nc, ctx.prefix, ref.name);
  const file = join(got.dir, ref.file);
  if (!existsSync(file)) throw new BadInputError(`bad weights: dataset '${ref.name}' has no file '${ref.file}'`);
  ctx.log.info({ weights: t.weights, sha256: got.sha256, cached: got.cached }, 'weights from the object store');
  return file;
}

/** The job's newest valid checkpoint, else the `resume` file, else none. */
export async function startingPoint(ctx: ActorContext, t: Yolov5Spec): Promise<{ content: CheckpointContent; from: string } | undefined> {
  const ck = await ctx.checkpoints.loadLatest();
  if (ck) {
    try {
      return { content: decodeCheckpoint(ck.data), from: ck.name };
    } catch (e) {
      throw new BadInputError(`checkpoint ${ck.name} cannot be read`, e);
    }
  }
  if (!t.resume) return undefined;
  try {
    return { content: loadCheckpoint(t.resume), from: t.resume };
  } catch (e) {
    throw new BadInputError(`cannot read the resume checkpoint '${t.resume}'`, e);
  }
}

/**
 * The state the gang agrees on (state-sync.ts) from `mine` (null: none in memory): a peer's,
 * this rank's own, or (nobody holds one, a transfer failed) the newest checkpoint's.
 */
export async function agreeState(
  ctx: ActorContext,
  t: Yolov5Spec,
  mine: CheckpointContent | null,
  last: LastApplied,
  clock: Timeline,
  early?: Promise<SyncResult>,
  encoded?: { bytes: Uint8Array; sha256: string },
): Promise<CheckpointContent | undefined> {
  const group = await ctx.group();
  if (!early) clock.mark('group');
  const local = (c: CheckpointContent | null) => {
    if (!c) return null;
    const step = trainStateMeta(c).counters.ni;
    const pre = c === mine ? encoded : undefined;
    return {
      step,
      ...(last.step === step ? { appliedIn: last.generation } : {}),
      encode: () => pre?.bytes ?? encodeCheckpoint(c),
      ...(pre ? { sha256: pre.sha256 } : {}),
    };
  };
  let r = await (early ?? syncState(group, local(mine)));
  let state = mine ?? undefined;
  if (r.source === 'checkpoint') {
    ctx.log.info({ reason: r.reason }, 'state from the checkpoint');
    state = (await startingPoint(ctx, t))?.content;
    r = await syncState(group, local(state ?? null));
    if (r.source === 'checkpoint') state = undefined; // no checkpoint anywhere: every rank starts fresh, the same way
  }
  if (r.source === 'peer') {
    try {
      state = decodeCheckpoint(r.bytes);
    } catch (e) {
      throw new BadInputError('the state received from a peer cannot be read', e);
    }
    ctx.log.info({ step: r.step, bytes: r.bytes.length, donors: r.donors, ms: Math.round(r.ms) }, 'state received from peers');
  }
  clock.mark('state');
  if (r.source !== 'checkpoint') {
    if (r.appliedIn !== undefined) {
      last.step = r.step;
      last.generation = r.appliedIn;
    }
    await reportAgreed(ctx, r.step, r.appliedIn, r.source === 'peer' && mine ? trainStateMeta(mine).counters.ni : undefined);
  }
  const step = state ? trainStateMeta(state).counters.ni : 0;
  ctx.heartbeat(step);
  // the digest the transfer already computed (the received bytes were checked against it), else computed here
  const digest =
    r.source === 'peer' || (r.source === 'self' && r.sha256) ? r.sha256 : state ? sha256Hex(encodeCheckpoint(state)) : undefined;
  await ctx.emitLog('info', `state step=${step} source=${r.source}${digest ? ` state_sha256=${digest}` : ''}`);
  return state;
}

/** The last step this rank applied in a live gang and its generation (the state-sync's `appliedIn`). */
export interface LastApplied {
  step: number;
  generation: number;
}
