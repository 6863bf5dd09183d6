/**
 * The job state machine, as pure functions over a HeadJob:
 *   pending → running → (recovering → running)* → succeeded | failed | cancelled
 * Each function returns the next value or throws FLO_INVALID_STATE; the caller writes it
 * with a revision check. A new generation is started whenever the gang changes, so every
 * message of an older generation can be recognised and dropped.
 */
import { traitsOf } from '../../shared/trainer-traits.ts';
import { TERMINAL_STATES, type JobState, type Placement } from '../../shared/schemas/job.ts';
import { FlotillaError } from '../../shared/errors.ts';
import type { HeadJob } from './job-store.ts';

const ALLOWED: Readonly<Record<JobState, readonly JobState[]>> = {
  pending: ['running', 'failed', 'cancelled'],
  running: ['recovering', 'succeeded', 'failed', 'cancelled'],
  recovering: ['running', 'recovering', 'failed', 'cancelled'], // a live gang may lose another rank while it waits
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function isTerminal(s: JobState): boolean {
  return TERMINAL_STATES.includes(s);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return ALLOWED[from].includes(to);
}

function to(j: HeadJob, state: JobState, message?: string): HeadJob {
  if (!canTransition(j.state, state)) throw new FlotillaError('FLO_INVALID_STATE', `job ${j.id} is ${j.state}; cannot become ${state}`);
  return { ...j, state, message: message ?? j.message };
}

/** A gang was placed: the job runs its current generation on these actors. */
export function placed(j: HeadJob, placement: Placement[], now: number): HeadJob {
  const msg = `placed ${placement.length} rank(s) on ${new Set(placement.map((p) => p.nodeId)).size} node(s)`;
  return { ...to(j, 'running', msg), placement, finished: [], final_step: undefined, placed_at: now, not_before: undefined };
}

/**
 * Why a generation ends early: a failure that may be retried (counted, with exponential
 * backoff), one that may not, a planned change (at once), or a placement that did not take
 * (a spawn refused: retried after one backoff, not counted).
 */
export type GenerationEnd = 'retryable' | 'fatal' | 'rescale' | 'deferred';

/**
 * Ends the current generation: the generation is bumped (older messages are now stale), the
 * placement is cleared, and the job recovers (after a backoff of `backoffMs * 2^restarts` for
 * a failure, counted against max_restarts) or fails.
 */
export function endGeneration(j: HeadJob, end: GenerationEnd, reason: string, backoffMs: number, now: number): HeadJob {
  const base: HeadJob = { ...j, generation: j.generation + 1, placement: [], finished: [], final_step: undefined, placed_at: undefined };
  if (end === 'fatal') return to(base, 'failed', reason);
  if (end === 'retryable' && j.restarts >= j.spec.max_restarts) {
    return to(base, 'failed', `${reason}; gave up after ${j.restarts} restart(s)`);
  }
  const restarts = end === 'retryable' ? j.restarts + 1 : j.restarts;
  const delay = end === 'retryable' ? backoffMs * 2 ** j.restarts : end === 'deferred' ? backoffMs : 0;
  const next = to({ ...base, restarts }, 'recovering', reason);
  return {
    ...next,
    step: j.checkpoint_step ?? 0,
    not_before: delay > 0 ? new Date(now + delay).toISOString() : undefined,
  };
}

/**
 * Live recovery (JobSpec.recovery 'live'): the generation ends because the ranks of `lost`
 * (actor ids) are gone, but the survivors stay: they keep their place (actor id, node, rank) in
 * the new generation's placement and only the lost ranks are placed again. Counted as a restart
 * (max_restarts applies) without the backoff: nothing is restarted but the lost ranks, and the
 * survivors wait for them. The step is not rolled back (the survivors hold it). Null when no
 * rank survives (or a rank already finished, or an elastic job has too few left, or is a YOLOv5
 * one): the checkpoint path (endGeneration) applies, which shrinks an elastic job at once.
 * `counted` false: a drain (the lost ranks' node is leaving, nothing failed), not a restart.
 */
export function liveRecovery(j: HeadJob, lost: readonly string[], reason: string, now: number, counted = true): HeadJob | null {
  const kept = j.placement.filter((p) => !lost.includes(p.actorId));
  if (kept.length === 0 || kept.length === j.placement.length || j.finished.length > 0) return null;
  if (j.spec.min_workers !== undefined && j.spec.min_workers < j.spec.workers && !isElastic(j)) return null; // shrinks by a full restart
  const base: HeadJob = { ...j, generation: j.generation + 1, placement: kept, finished: [], final_step: undefined, placed_at: undefined };
  if (counted && j.restarts >= j.spec.max_restarts)
    return to({ ...base, placement: [] }, 'failed', `${reason}; gave up after ${j.restarts} restart(s)`);
  const restarts = j.restarts + (counted ? 1 : 0);
  if (isElastic(j)) {
    // elastic: the survivors go on at once as ranks 0..k-1 (the job grows back when a slot appears)
    if (kept.length < (j.spec.min_workers ?? j.spec.workers)) return null;
    const placement = [...kept].sort((a, b) => a.rank - b.rank).map((p, rank) => ({ ...p, rank }));
    return {
      ...base,
      placement,
      restarts,
      state: 'running',
      message: `${reason}; going on with ${kept.length} of ${j.spec.workers} rank(s) (elastic, live)`,
      placed_at: now,
      not_before: undefined,
    };
  }
  return {
    ...to(
      { ...base, restarts, incident: { generation: base.generation, step: j.step } },
      'recovering',
      `${reason}; ${kept.length} rank(s) kept (live recovery)`,
    ),
    not_before: undefined,
  };
}

/**
 * A fault that hits several ranks at once (a nats-server dies with every data lane and client
 * on it, a host is cut off) reaches the head as one rank lost first (liveRecovery, counted) and
 * the kept ranks failing next, while they regroup. A retryable failure in the generation a live
 * regroup started, before the job's step moved past the step it had then, is that same
 * incident: the gang restarts from its checkpoint and nothing more is counted. The next
 * generation is a full restart (no incident), so a gang that keeps failing is still counted.
 */
export function sameIncident(j: HeadJob): boolean {
  return j.incident !== undefined && j.incident.generation === j.generation && j.step <= j.incident.step;
}

/**
 * The failure of a generation that is still the regroup of an incident (sameIncident): uncounted,
 * after the backoff a counted restart would wait (`backoffMs * 2^restarts`). Not at once: right
 * after a nats-server died, a gang restarted at once listed no checkpoint in the object store
 * (JetStream still recovering) and trained from step 1 (measured in test/e2e/multi-host).
 */
export function incidentRestart(j: HeadJob, reason: string, backoffMs: number, now: number): HeadJob {
  const next = endGeneration(
    j,
    'rescale',
    `${reason} (same incident as generation ${j.incident?.generation ?? j.generation}: not counted again)`,
    0,
    now,
  );
  return { ...next, incident: undefined, not_before: new Date(now + backoffMs * 2 ** j.restarts).toISOString() };
}

/**
 * Live recovery shrinks and grows a job whose `min_workers` is below `workers` only for an
 * elastic trainer (shared/trainer-traits.ts: logreg's data split follows the world size at every
 * step); a YOLOv5 job's shards are fixed when its ranks start, so it shrinks through a full restart.
 */
export function isElastic(j: HeadJob): boolean {
  return j.spec.min_workers !== undefined && j.spec.min_workers < j.spec.workers && traitsOf(j.spec.trainer).elastic;
}

/** A running elastic live gang below its size, when a slot is free: it grows (the new ranks are placed next). */
export function grown(j: HeadJob): HeadJob {
  return {
    ...j,
    generation: j.generation + 1,
    state: 'recovering',
    finished: [],
    final_step: undefined,
    placed_at: undefined,
    message: `growing from ${j.placement.length} to ${j.spec.workers} rank(s)`,
  };
}

/** Ranks of a recovering live gang that have no actor yet (all of them after endGeneration). */
export function missingRanks(j: HeadJob): number[] {
  const have = new Set(j.placement.map((p) => p.rank));
  return Array.from({ length: j.spec.workers }, (_, r) => r).filter((r) => !have.has(r));
}

/**
 * Why a rank's `succeeded` cannot be believed, or null: it must name the step it finished at,
 * that step must be the job's final one (the trainer's `steps` where the spec says it, and
 * never behind rank 0's reported progress), and every rank of the generation must agree.
 */
export function successRefusal(j: HeadJob, rank: number, step: number | undefined): string | null {
  if (step === undefined) return `rank ${rank} reported success without its final step`;
  const planned = traitsOf(j.spec.trainer).finalStep(j.spec.trainer);
  if (planned !== undefined && step !== planned) return `rank ${rank} reported success at step ${step}, not the final step ${planned}`;
  if (step === 0 || step < j.step) return `rank ${rank} reported success at step ${step}, behind the job (step ${j.step})`;
  if (j.final_step !== undefined && step !== j.final_step)
    return `rank ${rank} reported success at step ${step}; another rank finished at ${j.final_step}`;
  return null;
}

/**
 * A rank of the current generation exited `succeeded` at `step` (with its final weights'
 * `digest`, kept from rank 0 as the job's `final_digest`); the job succeeds when all have.
 */
export function rankSucceeded(j: HeadJob, rank: number, step?: number, digest?: string): HeadJob {
  const finished = j.finished.includes(rank) ? j.finished : [...j.finished, rank].sort((a, b) => a - b);
  const all = j.placement.length > 0 && j.placement.every((p) => finished.includes(p.rank));
  const d = rank === 0 && digest ? { final_digest: digest } : {};
  if (!all) return { ...j, ...d, finished, final_step: j.final_step ?? step };
  return { ...to(j, 'succeeded', 'every rank succeeded'), ...d, finished, placement: [], placed_at: undefined };
}

/** Cancel works from every non-terminal state; running actors are aborted by the new generation. */
export function cancelled(j: HeadJob, reason = 'cancelled by user'): HeadJob {
  if (isTerminal(j.state)) throw new FlotillaError('FLO_INVALID_STATE', `job ${j.id} is already ${j.state}`);
  const hadActors = j.placement.length > 0 || j.state === 'recovering';
  return {
    ...to(j, 'cancelled', reason),
    generation: hadActors ? j.generation + 1 : j.generation,
    placement: [],
    finished: [],
    placed_at: undefined,
    not_before: undefined,
  };
}

/** New worker count; a running gang is restarted at the new size (not counted as a restart). */
export function rescaled(j: HeadJob, workers: number, now: number): HeadJob {
  if (isTerminal(j.state)) throw new FlotillaError('FLO_INVALID_STATE', `job ${j.id} is already ${j.state}`);
  const min = j.spec.min_workers !== undefined ? Math.min(j.spec.min_workers, workers) : undefined;
  const spec = { ...j.spec, workers, min_workers: min };
  if (j.state === 'running') return endGeneration({ ...j, spec }, 'rescale', `rescaling to ${workers} worker(s)`, 0, now);
  return { ...j, spec };
}
