/**
 * The YOLOv5 trainer actor: wiring of the engine's one training loop (fit) into a job. Every
 * rank builds the same run (engine/train/run-setup.ts) on its shard of every batch and its
 * part of the validation set; fit's hooks sum the gradients with the collective's allreduce
 * and gather the validation statistics, so every rank applies the same update and reaches
 * the same early-stopping decision. Rank 0 writes what `flotilla train` writes (results.csv,
 * last.ckpt, best.ckpt) into a scratch folder and sends it out: checkpoints to the job's
 * checkpoint store (every `checkpoint_every` steps, at every epoch end, and when a draining node
 * asks: then it holds the gang until it is moved), results.csv as an
 * artifact after every epoch, the pictures (results.png, curves, confusion matrix, labels,
 * batch mosaics: engine/plots) as artifacts when drawn, best.ckpt and last.ckpt as artifacts at the end, losses per step
 * and P/R/mAP per epoch as metric events. The checkpoints are `flotilla train`'s format, so a
 * job resumes a `flotilla train` run (`trainer.resume`) and the other way round. Bad input
 * (dataset, cfg, hyp, a checkpoint of another model) is fatal. Live recovery: a step whose
 * gradient sum fails is undone (fit's StepInterruptedError); when the actor is kept
 * (ctx.regroup), the new gang agrees on the state (state-sync.ts: a replacement receives a
 * survivor's state as checkpoint bytes) and fit continues from it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { sha256Hex } from '../actor/checkpoint-store.ts';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { z } from 'zod';
import { datasetFileRef, datasetRefName } from '../../shared/dataset-ref.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { effectiveSync, type Yolov5Trainer } from '../../shared/schemas/index.ts';
import { SyncStrategy } from '../engine/sync/index.ts';
import { syncComm } from '../actor/sync-comm.ts';
import type { ActorContext, TrainerResult } from '../actor/context.ts';
import { fetchDataset } from '../datasets/store.ts';
import { cachedSynthetic } from './synthetic-cache.ts';
import { initBackend } from '../engine/backend.ts';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, sha256, type CheckpointContent } from '../engine/checkpoint/index.ts';
import { syncState, type SyncResult } from '../actor/state-sync.ts';
import { reportAgreed } from '../actor/step-report.ts';
import { Timeline } from '../actor/timeline.ts';
import { hypOverridesWith, loadHyp, type Hyp } from '../engine/hyp/index.ts';
import {
  CheckpointMismatchError,
  RunSettingsError,
  StepInterruptedError,
  fit,
  setupRun,
  synthesize,
  trainStateMeta,
  type FitEvent,
  type RunSettings,
  type RunSetup,
} from '../engine/train/index.ts';

type Yolov5Spec = z.infer<typeof Yolov5Trainer>;

/** Bad input: the job fails instead of retrying. */
function fatal(what: string, e: unknown): FlotillaError {
  return new FlotillaError('FLO_ACTOR_FATAL', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** The run a job spec describes (the job's settings win over a resumed checkpoint's). */
async function settingsOf(ctx: ActorContext, t: Yolov5Spec, hyp: Hyp, scratch: string): Promise<RunSettings> {
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
    throw fatal('cannot generate the synthetic dataset', e);
  }
}

/** The job's `weights` as a local file: a path as given, or a file of a pushed dataset fetched into this node's cache. */
async function weightsOf(ctx: ActorContext, t: Yolov5Spec): Promise<string | undefined> {
  if (!t.weights) return undefined;
  const ref = datasetFileRef(t.weights);
  if (!ref) return resolve(t.weights);
  const got = await fetchDataset(ctx.nc, ctx.prefix, ref.name);
  const file = join(got.dir, ref.file);
  if (!existsSync(file)) throw new FlotillaError('FLO_ACTOR_FATAL', `bad weights: dataset '${ref.name}' has no file '${ref.file}'`);
  ctx.log.info({ weights: t.weights, sha256: got.sha256, cached: got.cached }, 'weights from the object store');
  return file;
}

/** The job's newest valid checkpoint, else the `resume` file, else none. */
async function startingPoint(ctx: ActorContext, t: Yolov5Spec): Promise<{ content: CheckpointContent; from: string } | undefined> {
  const ck = await ctx.checkpoints.loadLatest();
  if (ck) {
    try {
      return { content: decodeCheckpoint(ck.data), from: ck.name };
    } catch (e) {
      throw fatal(`checkpoint ${ck.name} cannot be read`, e);
    }
  }
  if (!t.resume) return undefined;
  try {
    return { content: loadCheckpoint(t.resume), from: t.resume };
  } catch (e) {
    throw fatal(`cannot read the resume checkpoint '${t.resume}'`, e);
  }
}

/**
 * The state the gang agrees on (state-sync.ts) from `mine` (null: none in memory): a peer's,
 * this rank's own, or (nobody holds one, a transfer failed) the newest checkpoint's.
 */
async function agreeState(
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
      throw fatal('the state received from a peer cannot be read', e);
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
interface LastApplied {
  step: number;
  generation: number;
}

let warmed: Promise<void> | undefined;

/** FLOTILLA_WARM_STEP=1 (the agent's environment, inherited by its warm actors): warm YOLOv5 actors take the throw-away step below. */
export const WARM_STEP_ENV = 'FLOTILLA_WARM_STEP';

/**
 * A warm actor loads tfjs, the native addon and the backend before it has a job (the backend is
 * chosen once per process), then, with FLOTILLA_WARM_STEP=1, trains one step of YOLOv5n on a tiny synthetic set (img 64,
 * batch 4) and throws it away: V8 compiles the kernels', the loss's and the loader's code paths
 * before a job's first step pays for it (measured on the loaded 2-core machine: a first step at
 * img 128 of 1.3 s cold, 0.84 s after this pass, which costs ~1.4 s while the pool fills). It
 * leaves no state a job can see: fit seeds from its settings, the model and loaders are disposed.
 * Once per process; a pass that fails only loses its speed-up.
 */
export function warm(signal?: AbortSignal): Promise<void> {
  return (warmed ??= warmOnce(signal));
}

async function warmOnce(signal?: AbortSignal): Promise<void> {
  await initBackend({ onNotice: () => undefined });
  // the throw-away step is opt-in: it costs ~1.4 s of CPU per warm fork, taken from whatever
  // trains on the node's cores while the pool refills (2-core machines: every job's neighbour)
  if (signal?.aborted || process.env[WARM_STEP_ENV] !== '1') return;
  const scratch = mkdtempSync(join(tmpdir(), 'flotilla-warm-'));
  try {
    const synthetic = { train: 4, val: 4, seed: 0, img: 64 };
    const got = await cachedSynthetic(synthetic);
    const setup = await setupRun(
      {
        cfg: 'yolov5n.yaml',
        imgsz: 64,
        epochs: 1,
        batch: 4,
        seed: 0,
        lrKind: 'linear',
        freeze: [],
        nbs: 64,
        hyp: loadHyp(undefined, {}),
        patience: 0,
        noautoanchor: true,
        data: got.yamlPath,
        synthetic,
      },
      { fresh: true },
    );
    try {
      const stop = new AbortController();
      const abort = () => stop.abort();
      signal?.addEventListener('abort', abort, { once: true });
      await fit(setup.trainer, {
        train: setup.train,
        saveDir: scratch,
        patience: 0,
        noVal: true,
        signal: stop.signal,
        onEvent: (e) => {
          if (e.type === 'batch') stop.abort();
        },
      })
        .catch(() => undefined)
        .finally(() => signal?.removeEventListener('abort', abort)); // stopped after its first step
    } finally {
      await setup.dispose();
    }
  } catch {
    /* no speed-up, nothing else lost */
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function run(ctx: ActorContext): Promise<TrainerResult | void> {
  const { signal, log } = ctx;
  const spec = ctx.spec;
  const t = spec.job.trainer;
  if (t.kind !== 'yolov5') throw new FlotillaError('FLO_ACTOR_FATAL', `yolov5 trainer given a '${t.kind}' spec`);
  if (t.batch < spec.worldSize || t.batch % spec.worldSize !== 0) {
    throw new FlotillaError(
      'FLO_ACTOR_FATAL',
      `batch ${t.batch} does not split evenly over the ${spec.worldSize} ranks (make it a multiple of workers)`,
    );
  }
  let hyp: Hyp;
  try {
    hyp = loadHyp(undefined, hypOverridesWith(t.hyp, { labelSmoothing: t.label_smoothing }));
  } catch (e) {
    throw fatal('bad hyp', e);
  }
  const clock = new Timeline();
  const backend = await initBackend({ onNotice: (line) => log.info(line) });
  log.info(backend, 'compute backend');
  clock.mark('backend');
  const scratch = join(tmpdir(), `flotilla-run-${spec.jobId}-${spec.actorId}`);
  rmSync(scratch, { recursive: true, force: true });
  // a replacement in a live gang gets the state from its peers (the checkpoint only as their fallback)
  const start = spec.joinsLive ? undefined : await startingPoint(ctx, t);
  // a replacement joins its gang and takes the survivors' state while it builds its data and
  // model: the bytes are in flight (and buffered by the socket and the server) meanwhile
  const early = spec.joinsLive
    ? ctx.group().then(async (g) => {
        clock.mark('group');
        const r = await syncState(g, null);
        clock.mark('received');
        return r;
      })
    : undefined;
  early?.catch(() => undefined); // awaited below; a setup that fails first must not leave it unhandled
  const settings = await settingsOf(ctx, t, hyp, scratch);
  clock.mark('data');
  let setup: RunSetup;
  try {
    setup = await setupRun(settings, { rank: spec.rank, worldSize: spec.worldSize, fresh: !start && !spec.joinsLive });
  } catch (e) {
    throw e instanceof FlotillaError ? e : fatal(`bad dataset '${t.data}' or cfg '${t.cfg}'`, e);
  }
  clock.mark('model');
  try {
    const { trainer } = setup;
    // every rank computes the same (seeded) anchors; rank 0 reports what train.py prints
    if (spec.rank === 0) {
      for (const line of setup.scan) await ctx.emitLog(line.includes('WARNING') ? 'warn' : 'info', line);
      if (setup.pretrained) await ctx.emitLog('info', setup.pretrained.message);
      for (const line of setup.autoanchor?.lines ?? []) await ctx.emitLog('info', line);
    }
    let startStep = 0;
    if (start) {
      try {
        startStep = trainStateMeta(start.content).counters.ni;
      } catch (e) {
        throw fatal(`checkpoint ${start.from} is not a training checkpoint`, e);
      }
      log.info({ checkpoint: start.from, step: startStep }, 'resuming from checkpoint');
    }
    let resume = start?.content;
    const last: LastApplied = { step: -1, generation: -1 };
    if (spec.joinsLive) resume = await agreeState(ctx, t, null, last, clock, early);
    else {
      const group = await ctx.group();
      // Every rank must start from the same step (the same checkpoint); if not, retry the gang.
      const agree = Float32Array.of(startStep, 1);
      await group.allreduce(agree, { op: 'sum' });
      if (agree[0] !== startStep * agree[1])
        throw new FlotillaError('FLO_CONFLICT', `ranks resumed from different steps (mine ${startStep})`);
    }

    const leader = spec.rank === 0;
    if (leader) {
      // results.csv continues across generations (fit drops the rows the checkpoint has not reached)
      const earlier = await ctx.loadArtifact('results.csv');
      if (earlier) {
        mkdirSync(scratch, { recursive: true });
        writeFileSync(join(scratch, 'results.csv'), earlier);
      }
    }
    const onEvent = async (e: FitEvent): Promise<void> => {
      if (e.type === 'batch' || e.type === 'skip') {
        last.step = e.step;
        last.generation = ctx.spec.generation;
      }
      if (e.type === 'batch') {
        ctx.heartbeat(e.step);
        if (clock.open) {
          clock.mark('step');
          void ctx.emitLog('info', clock.take(ctx.spec.generation));
        }
        if (leader) await ctx.reportStep(e.step, { box: e.items.box, obj: e.items.obj, cls: e.items.cls, lr0: e.lr[0] }, e.epoch);
      } else if (e.type === 'epoch' && leader) {
        const m = e.metrics;
        const values: Record<string, number> = {
          train_box: e.train.box,
          train_obj: e.train.obj,
          train_cls: e.train.cls,
          lr0: e.lr[0],
          lr1: e.lr[1],
          lr2: e.lr[2],
        };
        if (m)
          Object.assign(values, {
            precision: m.mp,
            recall: m.mr,
            map50: m.map50,
            map: m.map,
            fitness: m.fitness,
            val_box: m.loss.box,
            val_obj: m.loss.obj,
            val_cls: m.loss.cls,
          });
        // what this rank handed to the exchange so far and the outer steps applied (docs/sync.md)
        if (strategy.local || strategy.settings.compress !== 'none')
          Object.assign(values, { sync_bytes_sent: strategy.bytesSent, sync_outer_steps: strategy.syncs });
        await ctx.emitMetric(e.step, values, e.epoch);
        await ctx.saveArtifact('results.csv', readFileSync(e.resultsPath));
      } else if (e.type === 'plots') {
        // the pictures train.py leaves in a run folder, as artifacts under their file names
        if (e.error) await ctx.emitLog('warn', `a picture could not be drawn: ${e.error}`);
        for (const f of e.files) await ctx.saveArtifact(basename(f), readFileSync(f));
      } else if (e.type === 'skip') {
        ctx.heartbeat(e.step);
        if (leader) {
          await ctx.emitLog(
            'warn',
            `step ${e.step} skipped on every rank: the summed gradient is NaN/Inf (${e.consecutive} in a row, ${e.skipped} in all)`,
          );
          await ctx.reportStep(e.step, { skipped_steps: e.skipped }, e.epoch);
        }
      } else if (e.type === 'checkpoint' && e.kind === 'epoch' && !signal.aborted) {
        // save_period: the epoch's checkpoint as an artifact under its run-folder name (epochN.ckpt)
        await ctx.saveArtifact(basename(e.path), readFileSync(e.path));
      } else if (e.type === 'checkpoint' && e.kind === 'last' && !signal.aborted) {
        await ctx.checkpoints.save(e.step, readFileSync(e.path), { generation: String(ctx.spec.generation) });
        // a draining node asked for this step's checkpoint: answer, then hold the gang until it moves
        if (ctx.checkpointRequested()) await ctx.checkpointWritten(e.step);
      }
    };
    // docs/sync.md: allreduce sums every gradient; the local modes step alone and sync every `every` steps
    const strategy = new SyncStrategy(effectiveSync(spec.job), trainer.layout.size);
    let result;
    for (;;) {
      const group = await ctx.group();
      const comm = syncComm(group);
      clock.once('fit');
      try {
        result = await fit(trainer, {
          train: setup.train,
          val: setup.val,
          saveDir: scratch,
          patience: t.patience,
          saveEvery: spec.job.checkpoint_every,
          savePeriod: t.save_period,
          plots: { names: setup.trainSet.names, labels: setup.trainSet.items.map((i) => i.labels) },
          meta: { ...setup.meta, job: spec.jobId, generation: ctx.spec.generation },
          resume,
          signal,
          onEvent,
          hooks: {
            leader,
            checkpointNow: () => ctx.checkpointRequested(),
            beforeStep: (step) => {
              clock.once('restored');
              return ctx.faults.beforeStep(step);
            },
            reduceGradients: (g) => {
              clock.once('forward');
              ctx.faults.poison(trainer.counters.ni + 1, g); // the step this gradient belongs to (fit's beforeStep numbering)
              return strategy.afterBackward(g, comm);
            },
            ...(strategy.local ? { sync: { strategy, comm } } : {}),
            ...(spec.worldSize > 1 ? { gather: (v: Float32Array) => group.allgather(v) } : {}),
          },
        });
        break;
      } catch (e) {
        if (e instanceof CheckpointMismatchError || e instanceof RunSettingsError)
          throw fatal(`checkpoint ${start?.from ?? ''} does not fit this job`, e);
        if (!(e instanceof StepInterruptedError) || signal.aborted) throw e;
        clock.restart();
        // the bytes this rank may send to a replacement, encoded while the head places it (off the gang's critical path)
        const bytes = spec.job.recovery === 'live' ? encodeCheckpoint(e.state) : undefined;
        const encoded = bytes && { bytes, sha256: sha256Hex(bytes) };
        clock.mark('encoded');
        if (!(await ctx.regroup(e.cause))) throw e.cause;
        clock.mark('regrouped');
        // kept: the new gang agrees on the state (this rank's is the one before the interrupted step)
        resume = await agreeState(ctx, t, e.state, last, clock, undefined, encoded);
      }
    }
    if (!leader || signal.aborted) return;
    await ctx.saveArtifact('last.ckpt', readFileSync(result.lastPath));
    if (existsSync(result.bestPath)) await ctx.saveArtifact('best.ckpt', readFileSync(result.bestPath));
    log.info(
      { step: trainer.counters.ni, epochs: result.epochsRun, stoppedEarly: result.stoppedEarly, map50: result.metrics?.map50 },
      'training done',
    );
    // the final training state without the run's metadata (job, generation, paths): equal for equal training
    return { digest: sha256(encodeCheckpoint({ tensors: loadCheckpoint(result.lastPath).tensors, meta: {} })) };
  } finally {
    await setup.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}
