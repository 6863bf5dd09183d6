/**
 * Hyperparameter studies (docs/tune.md): POST /v1/studies bodies, the study record kept in
 * JetStream KV (key = study id) and the REST replies. A study runs `trials` ordinary jobs made
 * from `base` with sampled hyperparameters, `concurrency` at a time.
 */
import { z } from 'zod';
import { MAX_LISTED, MAX_NAME, MAX_STAMP, MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';
import { JobSpec, type JobState } from './job.ts';
import { metaOf } from '../tune-space.ts';

/** train.py's default number of generations; the record of a study grows with its trials. */
export const MAX_TRIALS = 300;
export const SEARCH_METHODS = ['evolve', 'random'] as const;

/** `{ key: [min, max] }` over the trainer's searchable keys (shared/tune-space.ts). */
export const SearchBounds = z.record(z.string().min(1).max(MAX_NAME), z.tuple([z.number(), z.number()]));

/** POST /v1/studies body. */
export const StudySpec = z
  .object({
    name: z.string().min(1).max(128).optional(),
    /** the job every trial is made from (its hyperparameters are the starting point of evolve) */
    base: JobSpec,
    /** the keys to search with their bounds, or 'yolov5' for every key of train.py's evolve table */
    space: z.union([z.literal('yolov5'), SearchBounds]),
    method: z.enum(SEARCH_METHODS).default('evolve'),
    /** trials in all (evolve: generations) */
    trials: z.number().int().positive().max(MAX_TRIALS),
    /** trials running at once (default 1) */
    concurrency: z.number().int().positive().max(256).default(1),
    /** seed of the sampling (default 0): the same seed and the same results sample the same trials */
    seed: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 31)
      .default(0),
    /** stop making new trials once the trials' jobs have used this many slot-hours (running time x workers) */
    budget: z
      .object({ slot_hours: z.number().positive().max(1e6) })
      .strict()
      .optional(),
    /** ASHA early stopping: rungs at grace * reduction_factor^k epochs (YOLOv5) or steps (logreg); the lower (1 - 1/rf) of a rung stop */
    asha: z
      .object({
        grace: z.number().int().positive().default(1),
        reduction_factor: z.number().int().min(2).max(100).default(3),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const kind = s.base.trainer.kind;
    if (s.asha) {
      // rungs count epochs of a YOLOv5 trial, steps of a logreg trial
      const [len, unit] = s.base.trainer.kind === 'yolov5' ? [s.base.trainer.epochs, 'epoch'] : [s.base.trainer.steps, 'step'];
      if (s.asha.grace >= len)
        ctx.addIssue({
          code: 'custom',
          path: ['asha', 'grace'],
          message: `the first rung (${s.asha.grace} ${unit}s) must come before the trial's last ${unit} (${len})`,
        });
    }
    const meta = metaOf(kind);
    if (s.space === 'yolov5') {
      if (kind !== 'yolov5')
        ctx.addIssue({
          code: 'custom',
          path: ['space'],
          message: `'yolov5' needs a yolov5 base job; a ${kind} job searches { ${Object.keys(meta).join(', ')} }`,
        });
      return;
    }
    const keys = Object.keys(s.space);
    if (keys.length === 0) ctx.addIssue({ code: 'custom', path: ['space'], message: 'name at least one key with its [min, max]' });
    for (const k of keys) {
      const [lo, hi] = s.space[k];
      if (!(k in meta))
        ctx.addIssue({
          code: 'custom',
          path: ['space', k],
          message: `not a searchable ${kind} key; use one of: ${Object.keys(meta).join(', ')}`,
        });
      else if (!(lo <= hi)) ctx.addIssue({ code: 'custom', path: ['space', k], message: `min ${lo} must be <= max ${hi}` });
      else if (lo < meta[k][1] || hi > meta[k][2])
        ctx.addIssue({ code: 'custom', path: ['space', k], message: `bounds must lie within [${meta[k][1]}, ${meta[k][2]}]` });
    }
  });
export type StudySpec = z.infer<typeof StudySpec>;
export type StudySpecInput = z.input<typeof StudySpec>;

/** stopped: ended early by ASHA */
export const TRIAL_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'stopped'] as const;
export const TrialState = z.enum(TRIAL_STATES);
export type TrialState = z.infer<typeof TrialState>;

/** The final validation of a trial, as train.py's evolve.csv columns. */
export const TrialMetrics = z.object({
  precision: z.number(),
  recall: z.number(),
  map50: z.number(),
  map: z.number(),
  val_box: z.number(),
  val_obj: z.number(),
  val_cls: z.number(),
});
export type TrialMetrics = z.infer<typeof TrialMetrics>;

export const Trial = z.object({
  /** 0-based trial number; the job id is `<study>-t<n>` (`…r1` for its retry) */
  n: z.number().int().nonnegative(),
  job_id: Id,
  /** the sampled values of the searched keys, as applied to the job's spec */
  hyp: z.record(z.string().max(MAX_NAME), z.number()),
  state: TrialState,
  /** train.py's fitness (0.1 mAP@0.5 + 0.9 mAP@0.5:0.95); 0 for a trial its hyperparameters failed; null until known */
  fitness: z.number().nullable(),
  metrics: TrialMetrics.optional(),
  /** ASHA: fitness at each rung reached (key: epochs completed; logreg: steps) */
  rungs: z.record(z.string().max(MAX_NAME), z.number()).optional(),
  /** when the runner first saw the current attempt's job running (its slot time counts from there) */
  started_at: z.string().max(MAX_STAMP).optional(),
  /** slot-seconds used by the trial's ended attempts (running time x workers) */
  slot_s: z.number().nonnegative().optional(),
  /** jobs run for this trial (an infrastructure failure is retried once) */
  attempts: z.number().int().positive(),
  message: z.string().max(MAX_TEXT).optional(),
});
export type Trial = z.infer<typeof Trial>;

export const STUDY_STATES = ['running', 'succeeded', 'cancelled'] as const;
export const StudyState = z.enum(STUDY_STATES);

/** The study as stored in KV and returned by GET /v1/studies/:id. */
export const StudyRecord = z.object({
  id: Id,
  spec: StudySpec,
  state: StudyState,
  trials: z.array(Trial).max(MAX_TRIALS),
  /** slot-hours the trials' jobs have used, as of the record's last write (budget.slot_hours) */
  slot_hours: z.number().nonnegative().optional(),
  /** the trial with the highest fitness so far */
  best: z.number().int().nonnegative().optional(),
  owner: z.string().max(MAX_NAME).optional(),
  message: z.string().max(MAX_TEXT).optional(),
  created_at: z.string().max(MAX_STAMP),
  updated_at: z.string().max(MAX_STAMP),
});
export type StudyRecord = z.infer<typeof StudyRecord>;

/** GET /v1/studies reply. */
export const StudyList = z.object({ studies: z.array(StudyRecord).max(MAX_LISTED) });
/** A trial job's state mapped onto the trial (recovering counts as running). */
export function trialStateOf(s: JobState): TrialState {
  return s === 'recovering' ? 'running' : s;
}
