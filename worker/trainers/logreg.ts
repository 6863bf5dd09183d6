/**
 * A small real trainer: logistic regression on a generated dataset. Each rank draws its batch
 * from its own shard, the gradient sums of all ranks are added with the collective's
 * allreduce, and every rank applies the same update, so all replicas stay bit-identical.
 * Rank 0 checkpoints every `checkpoint_every` steps, at the end, and when a draining node asks
 * (then it holds the gang until it is moved, so no step is lost); on start every rank
 * loads the newest valid checkpoint, the gang agrees on the newest state among its ranks, and
 * goes on from the step after it. The global batch of step n depends only on (seed, n), its
 * split only on the world size, and the collective adds contributions in rank order, so a run
 * that recovers at the same size is bit-identical to one that never failed; an elastic job
 * that shrinks keeps its global batch (the ranks split it anew at the step boundary).
 */
import { FlotillaError } from '../../shared/errors.ts';
import { BadInputError } from '../engine/errors.ts';
import type { LogregTrainer } from '../../shared/schemas/index.ts';
import type { z } from 'zod';
import type { ActorContext, TrainerResult } from '../actor/context.ts';
import { abortableSleep } from '../actor/sleep.ts';
import { sha256Hex } from '../actor/checkpoint-store.ts';
import { batchRows, generateDataset, gradientSums, type Dataset } from './logreg-math.ts';
import { syncState, type LocalState } from '../actor/state-sync.ts';
import { reportAgreed } from '../actor/step-report.ts';
import { Rng } from './rng.ts';
import { decodeLogregState, encodeLogregState, type LogregState } from './logreg-state.ts';
import { FiniteGuard } from '../engine/train/finite-guard.ts';
import { effectiveSync } from '../../shared/schemas/index.ts';
import { SyncStrategy, type SyncTarget } from '../engine/sync/index.ts';
import { syncComm } from '../actor/sync-comm.ts';

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
    throw new BadInputError(`checkpoint ${ck.name} has ${st.params.length - 1} features, the job ${t.features}`);
  }
  ctx.log.info({ checkpoint: ck.name, step: st.step }, 'resuming from checkpoint');
  return st;
}

/** Everything of a job lives in run()'s locals: a pooled process may run the next job (warm.ts). */
export const reusable = true;

/**
 * Training with live recovery: each pass of the loop is one generation of the gang. The gang
 * first agrees on a state (state-sync.ts: the ranks at the highest step send theirs to the rest;
 * a start, or a gang with no state in memory, loads the newest checkpoint), then trains. A
 * collective operation that fails leaves the step it belonged to unapplied on this rank; if
 * live recovery keeps the actor (ctx.regroup), the next pass agrees on the state again, so a
 * rank that did apply that step hands it to one that did not.
 */
export async function run(ctx: ActorContext): Promise<TrainerResult | void> {
  const t = ctx.spec.job.trainer;
  if (t.kind !== 'logreg') throw new BadInputError(`logreg trainer given a '${t.kind}' spec`);
  const data = generateDataset(t.seed, datasetSize(t), t.features);
  // null: nothing in memory yet (a replacement in a live gang asks its peers first)
  let st: LogregState | null = ctx.spec.joinsLive ? null : await initialState(ctx, t);
  const last: LastApplied = { step: -1, generation: -1 };
  // docs/sync.md; in the local modes its state travels in the logreg state (checkpoints, peers)
  const strategy = new SyncStrategy(effectiveSync(ctx.spec.job), t.features + 1);
  for (;;) {
    try {
      st = await agree(ctx, t, st, last);
      const y = st.sync;
      strategy.importState(y?.meta, y?.anchor, y?.velocity);
      await train(ctx, t, data, st, last, strategy);
      break;
    } catch (e) {
      if (ctx.signal.aborted) return;
      if (!(await ctx.regroup(e))) throw e;
    }
  }
  const digest = paramsDigest(st.params);
  ctx.log.info({ step: st.step, params: digest }, 'training done');
  await ctx.emitLog('info', `done step=${st.step} params_sha256=${digest}`);
  return { digest };
}

/** The last step this rank applied in a live gang and its generation (the state-sync's `appliedIn`). */
interface LastApplied {
  step: number;
  generation: number;
}

/** The gang's state for this generation (see state-sync.ts); `st` is this rank's, if any. */
async function agree(ctx: ActorContext, t: LogregSpec, st: LogregState | null, last: LastApplied): Promise<LogregState> {
  const group = await ctx.group();
  const local = (s: LogregState | null): LocalState | null =>
    s && {
      step: s.step,
      ...(last.step === s.step ? { appliedIn: last.generation } : {}),
      encode: () => encodeLogregState(s),
    };
  let r = await syncState(group, local(st));
  if (r.source === 'checkpoint') {
    ctx.log.info({ reason: r.reason }, 'state from the checkpoint');
    st = await initialState(ctx, t);
    r = await syncState(group, local(st));
    if (r.source === 'checkpoint') throw new FlotillaError('FLO_UNAVAILABLE', `the gang cannot agree on a state: ${r.reason}`);
  }
  const behind = r.source === 'peer' ? st?.step : undefined;
  if (r.source === 'peer') {
    st = decodeLogregState(r.bytes);
    ctx.log.info({ step: r.step, bytes: r.bytes.length, donors: r.donors, ms: Math.round(r.ms) }, 'state received from peers');
  }
  const state = st!;
  if (r.appliedIn !== undefined) {
    last.step = state.step;
    last.generation = r.appliedIn;
  }
  await reportAgreed(ctx, r.step, r.appliedIn, behind);
  ctx.heartbeat(state.step); // a gang that resumes at its final step has still reached it
  if (ctx.spec.generation > 0) {
    // what the tests compare: every rank of a generation holds the same bytes
    await ctx.emitLog('info', `state step=${state.step} source=${r.source} state_sha256=${sha256Hex(encodeLogregState(state))}`);
  }
  return state;
}

/** Trains from `st` (updated in place, one applied step at a time) to the last step. */
async function train(
  ctx: ActorContext,
  t: LogregSpec,
  data: Dataset,
  st: LogregState,
  last: LastApplied,
  strategy: SyncStrategy,
): Promise<void> {
  const { spec, signal } = ctx;
  const group = await ctx.group();
  const f = t.features;
  // the global batch (batch x the job's workers) is kept whatever the world size now (elastic)
  const global = t.batch * spec.job.workers;
  const buf = new Float32Array(f + 3);
  const guard = new FiniteGuard("lower the job's trainer.lr or check the data for NaN/Inf values");
  const comm = syncComm(group);
  const target: SyncTarget = { params: { size: f + 1, read: (out) => out.set(st.params), write: (v) => st.params.set(v) } };
  strategy.begin(target);
  const lowBit = strategy.settings.compress === 'bf16' || strategy.settings.compress === 'int8';
  ctx.log.info({ from: st.step + 1, to: t.steps, world: spec.worldSize, generation: spec.generation }, 'training');
  while (st.step < t.steps) {
    if (signal.aborted) return;
    const next = st.step + 1;
    await ctx.faults.beforeStep(next);
    if (signal.aborted) return;
    const rows = batchRows(st.samplerSeed, next, data.n, global, spec.rank, spec.worldSize);
    gradientSums(data, st.params, rows, buf);
    ctx.faults.poison(next, buf);
    // a failed exchange throws: the step is not applied. Local modes: this rank's rows alone.
    if (!strategy.local && lowBit) {
      await strategy.afterBackward(buf.subarray(0, f + 1), comm);
      await group.allreduce(buf.subarray(f + 1), { op: 'sum', fp16: false }); // loss and count stay exact
    } else if (!strategy.local) await group.allreduce(buf, { op: 'sum', fp16: strategy.settings.compress === 'fp16' });
    if (signal.aborted) return; // an aborted step is not applied
    // every rank holds the same sum, so every rank skips (or applies) alike
    const applied = guard.check(buf, next); // NonFiniteGradientError is not retryable: the actor boundary fails the job
    let loss = Number.NaN;
    if (applied) {
      const count = buf[f + 2];
      for (let j = 0; j <= f; j++) st.params[j] -= (t.lr * buf[j]) / count;
      loss = buf[f + 1] / count;
    }
    st.step = next;
    last.step = next;
    last.generation = spec.generation;
    if (strategy.local) {
      // the outer sync of this step; a failed one throws with the inner step kept and the sync due again
      try {
        await strategy.afterStep(target, next, comm);
        if (next === t.steps) await strategy.flush(target, next, comm); // every rank ends with the same parameters
      } finally {
        st.sync = strategy.exportState();
      }
    }
    ctx.heartbeat(st.step);
    if (spec.rank === 0) {
      const skipped: Record<string, number> = guard.skipped > 0 ? { skipped_steps: guard.skipped } : {};
      if (!applied)
        await ctx.emitLog(
          'warn',
          `step ${st.step} skipped on every rank: the summed gradient is NaN/Inf (${guard.consecutive} in a row, ${guard.skipped} in all; ${guard.limit} in a row fail the job)`,
        );
      await ctx.reportStep(st.step, applied ? { loss, ...skipped } : skipped);
      const drain = ctx.checkpointRequested(); // a draining node: checkpoint this step, then hold
      if ((st.step % spec.job.checkpoint_every === 0 || st.step === t.steps || drain) && !signal.aborted) {
        await ctx.checkpoints.save(st.step, encodeLogregState(st), { generation: String(spec.generation) });
        if (drain) await ctx.checkpointWritten(st.step);
      }
    }
    if (t.step_delay_ms > 0) await abortableSleep(t.step_delay_ms, signal);
  }
}
