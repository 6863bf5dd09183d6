/**
 * GET /v1/jobs/:id/report: what the job's faults cost and whether the job kept its
 * invariants, computed by the head from the job's event stream and record (head/report/).
 * Times are ms since the epoch on the clock of whoever published the event; durations are s.
 */
import { z } from 'zod';
import { MAX_NAME, MAX_ROWS, MAX_STAMP, MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';
import { JobState } from './job.ts';
import { FaultKind, FaultPhase, FaultTarget } from './fault.ts';

/** One injected (or armed and never injected) fault and what followed it. */
export const FaultFigures = z.object({
  fault_id: z.string().max(MAX_NAME),
  kind: FaultKind,
  /** the user's label (FaultSpec.name) */
  name: z.string().max(MAX_NAME).optional(),
  target: FaultTarget,
  /** the last phase seen: injected/ended = done; armed = waiting still; failed/expired = never injected */
  phase: FaultPhase,
  rank: z.number().int().nonnegative().optional(),
  nodeId: z.string().max(MAX_NAME).optional(),
  /** the target's training step when it was injected */
  step: z.number().int().nonnegative().nullable(),
  /** the generation it hit */
  generation: z.number().int().nonnegative().nullable(),
  injected_at: z.number().nullable(),
  /**
   * the first platform reaction after the injection: a head `state` event that ends the hit
   * generation (recovering, failed, or any newer generation: a restart, a live replacement, a
   * drain's move) or a `warn`/`error` log event (a corrupt checkpoint skipped, a non-finite
   * gradient refused, an actor fenced); null when nothing reacted (the job rode it out)
   */
  detected_at: z.number().nullable(),
  /** what the reaction was, e.g. "state recovering (g1): rank 1 failed: ..." */
  detected_by: z.string().max(MAX_TEXT).nullable(),
  detect_s: z.number().nullable(),
  /** the first rank-0 step completed after the reaction (after the injection when none), in a generation no older than the reaction's */
  recovered_at: z.number().nullable(),
  /** the step it completed */
  recovered_step: z.number().int().nonnegative().nullable(),
  /** recovered_at - injected_at */
  recover_s: z.number().nullable(),
  /** steps computed and then redone at the generation changes this fault caused */
  steps_lost: z.number().int().nonnegative(),
  /** restarts (counted against max_restarts) those changes used */
  restarts: z.number().int().nonnegative(),
  /** the fault's own message (why it failed or expired, what was done) */
  message: z.string().max(MAX_TEXT).optional(),
});
export type FaultFigures = z.infer<typeof FaultFigures>;

export const INVARIANTS = ['final_step_reached', 'no_step_applied_twice', 'no_rollback_past_checkpoint', 'digest_equals_baseline'] as const;
export const InvariantName = z.enum(INVARIANTS);
export type InvariantName = z.infer<typeof InvariantName>;

/** ok: true held, false violated, null not checked (the detail says why). */
export const InvariantResult = z.object({ name: InvariantName, ok: z.boolean().nullable(), detail: z.string().max(MAX_TEXT) });
export type InvariantResult = z.infer<typeof InvariantResult>;

/** One change of the generation that trained (consecutive generations with rank-0 steps). */
export const GenerationChange = z.object({
  from_generation: z.number().int().nonnegative(),
  to_generation: z.number().int().nonnegative(),
  /** last step the old generation completed, first step the new one completed */
  last_step: z.number().int().nonnegative(),
  resumed_step: z.number().int().nonnegative(),
  steps_lost: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  /** rank-0 training gap: first step of the new generation minus last step of the old (s) */
  gap_s: z.number(),
  /** the fault it is attributed to (the newest injected before the head ended the old generation), or null */
  fault_id: z.string().max(MAX_NAME).nullable(),
});
export type GenerationChange = z.infer<typeof GenerationChange>;

export const JobReport = z.object({
  job_id: Id,
  name: z.string().max(MAX_NAME).optional(),
  state: JobState,
  trainer: z.enum(['logreg', 'yolov5']),
  /** the step the job must end at when the spec says (logreg: trainer.steps), else the step it ended at */
  final_step: z.number().int().nonnegative().nullable(),
  /** the newest step rank 0 completed */
  last_step: z.number().int().nonnegative().nullable(),
  generation: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  max_restarts: z.number().int().nonnegative(),
  /** first `running` state event, terminal state event */
  started_at: z.number().nullable(),
  ended_at: z.number().nullable(),
  /** SHA-256 of the final training state, as rank 0 reported it (logreg: parameters; YOLOv5: last.ckpt's tensors) */
  final_digest: z.string().max(MAX_STAMP).nullable(),
  /** the baseline job compared with (`?baseline=ID`) and its digest */
  baseline: z.object({ job_id: Id, final_digest: z.string().max(MAX_STAMP).nullable() }).nullable(),
  steps_lost: z.number().int().nonnegative(),
  changes: z.array(GenerationChange).max(MAX_ROWS),
  faults: z.array(FaultFigures).max(MAX_ROWS),
  invariants: z.array(InvariantResult).max(MAX_ROWS),
  /** every invariant that was checked held */
  ok: z.boolean(),
});
export type JobReport = z.infer<typeof JobReport>;

/** GET /v1/jobs/:id/report query. */
export const ReportQuery = z.object({ baseline: Id.optional() });
