/**
 * How the ranks of a job agree (docs/sync.md): `sync` of a job spec. Every field is bounded;
 * the defaults are the synchronous data parallelism the platform always had.
 */
import { z } from 'zod';

export const SYNC_MODES = ['allreduce', 'local-sgd', 'diloco', 'streaming'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];
export const SYNC_COMPRESSIONS = ['none', 'fp16', 'bf16', 'int8'] as const;
export type SyncCompression = (typeof SYNC_COMPRESSIONS)[number];

/** The defaults, named (docs/sync.md explains each). */
export const SYNC_DEFAULTS = {
  mode: 'allreduce',
  every: 16,
  compress: 'none',
  outer_lr: 0.7,
  outer_momentum: 0.9,
  fragments: 4,
  overlap: 1,
  error_feedback: true,
} as const satisfies Record<string, unknown>;

export const SyncOptions = z
  .object({
    /**
     * allreduce: sum the gradient every step (default); local-sgd: average the parameters every
     * `every` optimizer steps; diloco: an outer Nesterov step on the averaged parameter delta every
     * `every` steps; streaming: diloco whose sync is split into `fragments`, each overlapped with
     * `overlap` inner steps
     */
    mode: z.enum(SYNC_MODES).default(SYNC_DEFAULTS.mode),
    /** optimizer steps between outer syncs (H), default 16; ignored by allreduce */
    every: z.number().int().positive().max(100_000).default(SYNC_DEFAULTS.every),
    /** what is sent: fp32 (none, default), fp16, bf16, or int8 with one scale per 256 values */
    compress: z.enum(SYNC_COMPRESSIONS).default(SYNC_DEFAULTS.compress),
    /** outer learning rate of diloco/streaming (default 0.7) */
    outer_lr: z.number().positive().max(10).default(SYNC_DEFAULTS.outer_lr),
    /** outer Nesterov momentum of diloco/streaming, in [0, 1) (default 0.9) */
    outer_momentum: z.number().min(0).lt(1).default(SYNC_DEFAULTS.outer_momentum),
    /** streaming: parameter fragments, synced in turn (default 4; at most `every`) */
    fragments: z.number().int().positive().max(64).default(SYNC_DEFAULTS.fragments),
    /** streaming: inner steps a fragment's exchange runs beside before it is applied (default 1; below `every`) */
    overlap: z.number().int().nonnegative().max(10_000).default(SYNC_DEFAULTS.overlap),
    /** bf16/int8: carry each rank's rounding error into its next send (default true) */
    error_feedback: z.boolean().default(SYNC_DEFAULTS.error_feedback),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.mode === 'streaming' && s.fragments > s.every)
      ctx.addIssue({ code: 'custom', path: ['fragments'], message: `fragments (${s.fragments}) must be <= every (${s.every})` });
    if (s.mode === 'streaming' && s.overlap >= s.every)
      ctx.addIssue({ code: 'custom', path: ['overlap'], message: `overlap (${s.overlap}) must be < every (${s.every})` });
  });
export type SyncOptions = z.infer<typeof SyncOptions>;
export type SyncOptionsInput = z.input<typeof SyncOptions>;

/** The sync a job runs: `allreduce.fp16` (the older switch) means compress fp16 when `sync.compress` is left 'none'. */
export function effectiveSync(job: { sync: SyncOptions; allreduce: { fp16: boolean } }): SyncOptions {
  return job.sync.compress === 'none' && job.allreduce.fp16 ? { ...job.sync, compress: 'fp16' } : job.sync;
}
