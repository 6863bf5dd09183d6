/**
 * The YOLOv5 trainer actor: one data-parallel replica of the engine's Trainer. Each rank reads
 * its shard of every batch (the loader is keyed by seed, epoch and index, so a batch is the
 * same on any layout), the per-rank gradients are summed with the collective's allreduce, and
 * every rank applies the same update. The step is the engine's integrated batch counter `ni`.
 * Rank 0 checkpoints every `checkpoint_every` steps and at the end (trainer state + loader
 * cursor), reports losses per step and P/R/mAP of the EMA after the final epoch, and stores the
 * final weights as the job artifact `last.ckpt`. Bad input (dataset, cfg, hyp) is fatal.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { FlotillaError } from '../../shared/errors.ts';
import type { Yolov5Trainer } from '../../shared/schemas/index.ts';
import type { ActorContext } from '../actor/context.ts';
import { initBackend } from '../engine/backend.ts';
import { decodeCheckpoint, encodeCheckpoint, type Json } from '../engine/checkpoint/index.ts';
import { createLoader, generateSyntheticDataset, loadDataset, type YoloDataset } from '../engine/data/index.ts';
import { loadHyp, type Hyp } from '../engine/hyp/index.ts';
import { buildModel } from '../engine/model/index.ts';
import { Trainer, restoreTrainer, trainerCheckpoint, validate, withWeights } from '../engine/train/index.ts';

type Yolov5Spec = z.infer<typeof Yolov5Trainer>;

/** Bad input: the job fails instead of retrying. */
function fatal(what: string, e: unknown): FlotillaError {
  return new FlotillaError('FLO_ACTOR_FATAL', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

async function datasets(ctx: ActorContext, t: Yolov5Spec): Promise<{ train: YoloDataset; val: YoloDataset }> {
  let yaml = t.data;
  if (t.data === 'synthetic') {
    // Every actor draws its own copy (same seed, same bytes), so no two processes share files.
    const dir = join(tmpdir(), `flotilla-synth-${ctx.spec.jobId}-${ctx.spec.actorId}`);
    try { yaml = (await generateSyntheticDataset({ dir, ...t.synthetic, img: t.img })).yamlPath; }
    catch (e) { throw fatal('cannot generate the synthetic dataset', e); }
  }
  try { return { train: await loadDataset(yaml, 'train'), val: await loadDataset(yaml, 'val') }; }
  catch (e) { throw fatal(`bad dataset '${t.data}'`, e); }
}

export async function run(ctx: ActorContext): Promise<void> {
  const { spec, signal, log } = ctx;
  const t = spec.job.trainer;
  if (t.kind !== 'yolov5') throw new FlotillaError('FLO_ACTOR_FATAL', `yolov5 trainer given a '${t.kind}' spec`);
  const perRank = Math.floor(t.batch / spec.worldSize);
  if (perRank < 1) throw new FlotillaError('FLO_ACTOR_FATAL', `batch ${t.batch} is smaller than the ${spec.worldSize} ranks`);
  let hyp: Hyp;
  try { hyp = loadHyp(undefined, t.hyp); } catch (e) { throw fatal('bad hyp', e); }
  const backend = await initBackend({ onNotice: (line) => log.info(line) });
  log.info(backend, 'compute backend');
  const data = await datasets(ctx, t);
  let model;
  try { model = buildModel(t.cfg, { nc: data.train.nc, seed: t.seed }); } catch (e) { throw fatal(`bad cfg '${t.cfg}'`, e); }
  try {
    const loaderOpts = { batchSize: perRank, img: t.img, hyp, seed: t.seed, rank: spec.rank, worldSize: spec.worldSize };
    const loader = createLoader({ ...loaderOpts, dataset: data.train, augment: true });
    const trainer = new Trainer(model, { hyp, epochs: t.epochs, batchSize: perRank * spec.worldSize, batchesPerEpoch: loader.length, imgsz: t.img, nbs: t.nbs });

    let cursor = { epoch: 0, index: 0 };
    const ck = await ctx.checkpoints.loadLatest();
    if (ck) {
      const content = decodeCheckpoint(ck.data);
      try { restoreTrainer(trainer, content); } catch (e) { throw fatal(`checkpoint ${ck.name} does not fit this job`, e); }
      cursor = (content.meta.loader as unknown as { epoch: number; index: number } | undefined) ?? cursor;
      log.info({ checkpoint: ck.name, step: trainer.counters.ni, cursor }, 'resuming from checkpoint');
    }
    const group = await ctx.group();
    // Every rank must start from the same step (the same checkpoint); if not, retry the gang.
    const agree = Float32Array.of(trainer.counters.ni, 1);
    await group.allreduce(agree, { op: 'sum' });
    if (agree[0] !== trainer.counters.ni * agree[1]) throw new FlotillaError('FLO_CONFLICT', `ranks resumed from different steps (mine ${trainer.counters.ni})`);

    const save = async () => {
      const meta: { [k: string]: Json } = { loader: cursor, job: spec.jobId, generation: spec.generation, cfg: t.cfg, nc: data.train.nc, names: data.train.names, imgsz: t.img };
      const bytes = encodeCheckpoint(trainerCheckpoint(trainer, meta));
      await ctx.checkpoints.save(trainer.counters.ni, bytes, { generation: String(spec.generation) });
      return bytes;
    };
    let lastValues: Record<string, number> = {};
    for (let epoch = cursor.epoch; epoch < t.epochs; epoch++) {
      trainer.counters.epoch = epoch;
      for await (const batch of loader.epochBatches(epoch, epoch === cursor.epoch ? cursor.index : 0)) {
        if (signal.aborted) return;
        const { grads, items } = trainer.computeGradients(batch);
        await group.allreduce(grads, { op: 'sum' });
        if (signal.aborted) return; // an aborted step is not applied
        const info = trainer.applyGradients(grads);
        cursor = batch.index + 1 < loader.length ? { epoch, index: batch.index + 1 } : { epoch: epoch + 1, index: 0 };
        const step = trainer.counters.ni;
        ctx.heartbeat(step);
        if (spec.rank === 0) {
          lastValues = { box: items.box, obj: items.obj, cls: items.cls, lr0: info.lr[0] };
          // The final step's metric waits for the validation, so every step is reported once.
          if (cursor.epoch < t.epochs) await ctx.emitMetric(step, lastValues, epoch);
          if (step % spec.job.checkpoint_every === 0 && cursor.epoch < t.epochs && !signal.aborted) await save();
        }
      }
    }
    trainer.counters.epoch = t.epochs;
    if (spec.rank !== 0 || signal.aborted) return;
    const last = await save();
    const val = createLoader({ ...loaderOpts, rank: 0, worldSize: 1, dataset: data.val, augment: false });
    const m = await withWeights(trainer.model, trainer.ema.state, () =>
      validate(trainer.model, val.epochBatches(0, 0), { hyp, imgsz: t.img, signal }));
    await ctx.emitMetric(trainer.counters.ni, { ...lastValues, precision: m.mp, recall: m.mr, map50: m.map50, map: m.map, fitness: m.fitness }, t.epochs - 1);
    await ctx.saveArtifact('last.ckpt', last);
    log.info({ step: trainer.counters.ni, map50: m.map50 }, 'training done');
  } finally {
    model.dispose?.();
  }
}
