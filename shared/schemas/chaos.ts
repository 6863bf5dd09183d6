/**
 * A chaos plan (`flotilla chaos run PLAN.yaml`): experiments run one after another against a
 * cluster, each a job spec with its faults and what the job must still manage. Every
 * experiment also checks the job's invariants (no step applied twice, no rollback past a
 * checkpoint, every fault injected); the bounds below are per fault.
 */
import { traitsOf } from '../trainer-traits.ts';
import { z } from 'zod';
import { MAX_NAME, MAX_PATH, MAX_ROWS, MAX_TEXT } from './bounds.ts';
import { JobSpec, JobState } from './job.ts';

export const ChaosExpect = z
  .object({
    /** the job's end state (default succeeded) */
    state: JobState.default('succeeded'),
    /** the step the job must end at (default: the trainer's final step: logreg `steps`) */
    final_step: z.number().int().positive().optional(),
    /** per fault: seconds from injection to the platform's reaction (a fault nothing reacts to passes) */
    max_detect_s: z.number().positive().optional(),
    /** per fault: seconds from injection to the first step completed after it */
    max_recovery_s: z.number().positive().optional(),
    /** per fault: steps computed and then redone because of it */
    max_steps_lost: z.number().int().nonnegative().optional(),
    /** per fault: restarts it used */
    max_restarts: z.number().int().nonnegative().optional(),
    /** the final weights equal a fault-free run of the same spec (run first as a baseline, once per distinct spec) */
    digest_equal_baseline: z.boolean().default(false),
  })
  .strict();
export type ChaosExpect = z.infer<typeof ChaosExpect>;

export const ChaosExperiment = z
  .object({
    name: z.string().min(1).max(128),
    /** the job spec, its `faults` included */
    job: JobSpec,
    expect: ChaosExpect.default({ state: 'succeeded', digest_equal_baseline: false }),
    /** give up (cancel the job, fail the experiment) after this long, per job (default 600) */
    timeout_s: z.number().positive().max(86_400).default(600),
  })
  .strict()
  .superRefine((x, ctx) => {
    const steps = traitsOf(x.job.trainer).finalStep(x.job.trainer);
    if (steps !== undefined && x.expect.final_step !== undefined && x.expect.final_step > steps) {
      ctx.addIssue({ code: 'custom', path: ['expect', 'final_step'], message: `the job has only ${steps} steps` });
    }
  });
export type ChaosExperiment = z.infer<typeof ChaosExperiment>;

export const ChaosPlan = z
  .object({
    name: z.string().min(1).max(128).optional(),
    experiments: z.array(ChaosExperiment).min(1).max(200),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.experiments.forEach((x, i) => {
      if (seen.has(x.name))
        ctx.addIssue({ code: 'custom', path: ['experiments', i, 'name'], message: `duplicate experiment name '${x.name}'` });
      seen.add(x.name);
    });
  });
export type ChaosPlan = z.infer<typeof ChaosPlan>;
export type ChaosPlanInput = z.input<typeof ChaosPlan>;

/** One row of `chaos run`'s table: a fault of an experiment (or the experiment, when it has none). */
export const ChaosRow = z.object({
  experiment: z.string().max(MAX_NAME),
  job_id: z.string().max(MAX_NAME),
  /** `f1 kill-actor rank 1`, or `-` */
  fault: z.string().max(MAX_TEXT),
  detect_s: z.number().nullable(),
  recover_s: z.number().nullable(),
  steps_lost: z.number().int().nonnegative(),
  ok: z.boolean(),
  /** what broke the expectations (this fault's and the job's) */
  problems: z.array(z.string().max(MAX_TEXT)).max(MAX_ROWS),
});
export type ChaosRow = z.infer<typeof ChaosRow>;

/** `chaos run --json`. */
export const ChaosResult = z.object({
  plan: z.string().max(MAX_PATH).optional(),
  ok: z.boolean(),
  rows: z.array(ChaosRow).max(MAX_ROWS),
  experiments: z
    .array(
      z.object({
        name: z.string().max(MAX_NAME),
        job_id: z.string().max(MAX_NAME),
        baseline_job_id: z.string().max(MAX_NAME).nullable(),
        state: JobState,
        seconds: z.number(),
        ok: z.boolean(),
        problems: z.array(z.string().max(MAX_TEXT)).max(MAX_ROWS),
      }),
    )
    .max(MAX_ROWS),
});
export type ChaosResult = z.infer<typeof ChaosResult>;
