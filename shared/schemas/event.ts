/** Job events: one JetStream stream, replayable from a sequence number. */
import { z } from 'zod';
import { MAX_KEYS, MAX_NAME, MAX_PATH, MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';
import { JobState } from './job.ts';
import { FaultEventFields } from './fault.ts';

const base = { jobId: Id, ts: z.number(), generation: z.number().int().nonnegative() };

export const JobEvent = z.discriminatedUnion('type', [
  /**
   * from the head; `restarts`: the job's restart count after this change; `checkpoint_step`: on
   * `recovering`, the newest checkpoint rank 0 reported saved (the step a checkpoint restart
   * resumes after; its own `checkpoint` event may reach the stream later, or never, when the
   * saving actor was stopped while JetStream was electing a leader)
   */
  z.object({
    ...base,
    type: z.literal('state'),
    state: JobState,
    message: z.string().max(MAX_TEXT).optional(),
    restarts: z.number().int().nonnegative().optional(),
    checkpoint_step: z.number().int().nonnegative().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('log'),
    level: z.enum(['debug', 'info', 'warn', 'error']),
    rank: z.number().int().optional(),
    msg: z.string().max(MAX_TEXT),
  }),
  z.object({
    ...base,
    type: z.literal('metric'),
    rank: z.number().int().nonnegative(),
    step: z.number().int().nonnegative(),
    epoch: z.number().int().nonnegative().optional(),
    values: z.record(z.string().max(MAX_NAME), z.number()).refine((v) => Object.keys(v).length <= MAX_KEYS, `at most ${MAX_KEYS} values`),
  }),
  z.object({ ...base, type: z.literal('checkpoint'), step: z.number().int().nonnegative(), name: z.string().max(MAX_PATH) }),
  z.object({ ...base, type: z.literal('artifact'), name: z.string().max(MAX_PATH), bytes: z.number().int().nonnegative() }),
  /** one phase of an injected fault (shared/schemas/fault.ts) */
  z.object({ ...base, type: z.literal('fault'), ...FaultEventFields }),
]);
export type JobEvent = z.infer<typeof JobEvent>;
