/**
 * A small real trainer: logistic regression on a generated dataset. Each rank draws its batch
 * from its own shard, the gradient sums of all ranks are added with the collective's
 * allreduce, and every rank applies the same update, so all replicas stay bit-identical.
 * Rank 0 checkpoints every `checkpoint_every` steps, at the end, and when a draining node asks
 * (then it holds the gang until it is moved, so no step is lost); on start every rank
 * loads the newest valid checkpoint, then takes rank 0's state so the gang agrees, and goes
 * on from the step after it.
 */
import { FlotillaError } from '../../shared/errors.ts';
import type { LogregTrainer } from '../../shared/schemas/index.ts';
import type { z } from 'zod';
import type { ActorContext, TrainerResult } from '../actor/context.ts';
import { abortableSleep } from '../actor/sleep.ts';
import { sha256Hex } from '../actor/checkpoint-store.ts';
import { generateDataset, gradientSums, shardRows } from './logreg-math.ts';
import { Rng } from './rng.ts';
import { decodeLogregState, encodeLogregState, type LogregState } from './logreg-state.ts';

type LogregSpec = z.infer<typeof LogregTrainer>;

/** Dataset rows: 16 batches' worth, capped at ~4M floats. */
export function datasetSize(t: LogregSpec): number {
  return Math.max(1, Math.min(t.batch * 16, Math.floor(4_000_000 / t.features)));
}

export function paramsDigest(params: Float32Array): string {
  return sha256Hex(new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
}

/** The newest valid checkpoint's state, or a fresh one; refuses one of another shape. */
async function initialState(ctx: ActorContext, t: LogregSpec): Promise<LogregState> {
  const fresh: LogregState = { step: 0, params: new Float32Array(t.features + 1), samplerSeed: Rng.derive(t.seed, 2).seed };
  const ck = await ctx.checkpoints.loadLatest();
  if (!ck) return fresh;
  const st = decodeLogregState(ck.data);
  if (st.params.length !== t.features + 1) {
    throw new FlotillaError('FLO_ACTOR_FATAL', `checkpoint ${ck.name} has ${st.params.length - 1} features, the job ${t.features}`);
  }
  ctx.log.info({ checkpoint: ck.name, step: st.step }, 'resuming from checkpoint');
  return st;
}

export async function run(ctx: ActorContext): Promise<TrainerResult | void> {
  const { spec, signal } = ctx;
  const t = spec.job.trainer;
  if (t.kind !== 'logreg') throw new FlotillaError('FLO_ACTOR_FATAL', `logreg trainer given a '${t.kind}' spec`);
  const f = t.features;
  const data = generateDataset(t.seed, datasetSize(t), f);
  const shard = shardRows(data.n, spec.rank, spec.worldSize);
  if (shard.length === 0) throw new FlotillaError('FLO_ACTOR_FATAL', `rank ${spec.rank} has no rows (dataset ${data.n}, world ${spec.worldSize})`);

  const st = await initialState(ctx, t);
  const group = await ctx.group();
  // Rank 0's state wins, so a rank that saw another checkpoint cannot diverge.
  const sync = new Float32Array(f + 2);
  sync[0] = st.step;
  sync.set(st.params, 1);
  await group.broadcast(sync, 0);
  if (sync[0] !== st.step) ctx.log.warn({ mine: st.step, rank0: sync[0] }, 'took rank 0 checkpoint step');
  let step = sync[0];
  const params = sync.slice(1, f + 2);
  const samplerSeed = st.samplerSeed;

  const buf = new Float32Array(f + 3);
  let loss = NaN;
  ctx.log.info({ from: step + 1, to: t.steps, world: spec.worldSize }, 'training');
  while (step < t.steps) {
    if (signal.aborted) return;
    const next = step + 1;
    const rng = Rng.derive(samplerSeed, spec.rank, next);
    const rows = Array.from({ length: t.batch }, () => shard[rng.int(shard.length)]);
    gradientSums(data, params, rows, buf);
    await group.allreduce(buf, { op: 'sum' });
    if (signal.aborted) return; // an aborted step is not applied
    const count = buf[f + 2];
    for (let j = 0; j <= f; j++) params[j] -= (t.lr * buf[j]) / count;
    loss = buf[f + 1] / count;
    step = next;
    ctx.heartbeat(step);
    if (spec.rank === 0) {
      await ctx.emitMetric(step, { loss });
      const drain = ctx.checkpointRequested(); // a draining node: checkpoint this step, then hold
      if ((step % spec.job.checkpoint_every === 0 || step === t.steps || drain) && !signal.aborted) {
        await ctx.checkpoints.save(step, encodeLogregState({ step, params, samplerSeed }), { generation: String(spec.generation) });
        if (drain) await ctx.checkpointWritten(step);
      }
    }
    if (t.step_delay_ms > 0) await abortableSleep(t.step_delay_ms, signal);
  }
  const digest = paramsDigest(params);
  ctx.log.info({ step, loss, params: digest }, 'training done');
  await ctx.emitLog('info', `done step=${step} loss=${loss} params_sha256=${digest}`);
  return { digest };
}
