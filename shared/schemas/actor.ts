/** Actor lifecycle, exits (agent -> head), aborts (head -> actors) and calls. */
import { z } from 'zod';
import { MAX_NAME, MAX_PATH, MAX_RANKS, MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';

export const ACTOR_STATES = ['starting', 'running', 'stopping', 'exited'] as const;
export const ActorState = z.enum(ACTOR_STATES);
export type ActorState = z.infer<typeof ActorState>;

/**
 * How an actor ended: `succeeded`; `retryable` (crash, kill, lost peer: restart from a
 * checkpoint); `fatal` (bad input, bug: fail the job); `cancelled` (asked to stop).
 */
export const ActorOutcome = z.object({
  kind: z.enum(['succeeded', 'retryable', 'fatal', 'cancelled']),
  message: z.string().max(MAX_TEXT).default(''),
  exitCode: z.number().int().nullable().default(null),
  signal: z.string().max(MAX_NAME).nullable().default(null),
  /** `succeeded`: the last step the actor applied (the head checks it is the job's final step) */
  step: z.number().int().nonnegative().optional(),
  /** `succeeded`: SHA-256 (hex) of the final training state, from trainers that compute one */
  digest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type ActorOutcome = z.infer<typeof ActorOutcome>;

export const ActorExit = z.object({
  nodeId: Id,
  actorId: Id,
  jobId: Id,
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  outcome: ActorOutcome,
});
export type ActorExit = z.infer<typeof ActorExit>;

/** A survivor of a lost rank that stays in the new generation (JobSpec.recovery 'live'), with its rank there. */
export const KeptActor = z.object({ actorId: Id, rank: z.number().int().nonnegative() });
export type KeptActor = z.infer<typeof KeptActor>;

/**
 * Published by the head: every actor of `jobId` with generation < `generation` stops now,
 * except the actors in `keep` (live recovery): they abort the step in flight, keep their
 * process and state, and join generation `generation` at their rank in it once the job record
 * shows the new gang placed (worker/actor/live-gang.ts). Default: nobody is kept.
 */
export const JobAbort = z.object({
  jobId: Id,
  generation: z.number().int().nonnegative(),
  reason: z.string().max(MAX_TEXT),
  keep: z.array(KeptActor).max(MAX_RANKS).default([]),
  /** the new generation's world size (with `keep`) */
  worldSize: z.number().int().positive().optional(),
});
export type JobAbort = z.infer<typeof JobAbort>;

/**
 * A draining node asks the job's rank 0 (of `generation`) for a checkpoint of the step in flight
 * before the gang moves; answered with a ControlReply whose result is a CheckpointDone.
 */
export const CheckpointRequest = z.object({ jobId: Id, generation: z.number().int().nonnegative(), reason: z.string().max(MAX_TEXT) });
export type CheckpointRequest = z.infer<typeof CheckpointRequest>;

/** The checkpoint written for a CheckpointRequest. */
export const CheckpointDone = z.object({ step: z.number().int().nonnegative(), name: z.string().max(MAX_PATH) });
export type CheckpointDone = z.infer<typeof CheckpointDone>;

/** Request to an actor addressed by id (`actorCall`): its status, or stop. */
export const ACTOR_METHODS = ['status', 'stop'] as const;
export const ActorCall = z.discriminatedUnion(
  'method',
  [z.object({ method: z.literal('status') }), z.object({ method: z.literal('stop') })],
  { error: (i) => (i.code === 'invalid_union' ? `unknown method (known: ${ACTOR_METHODS.join(', ')})` : undefined) },
);
export type ActorCall = z.infer<typeof ActorCall>;

/** Reply to ActorCall `status`. */
export const ActorStatus = z.object({
  state: ActorState,
  actorId: Id,
  jobId: Id,
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  /** the training step in flight (null before the first) */
  step: z.number().int().nonnegative().nullable(),
  pid: z.number().int().positive(),
});
export type ActorStatus = z.infer<typeof ActorStatus>;

/** Reply to ActorCall `stop`. */
export const ActorStopping = z.object({ stopping: z.literal(true) });
export type ActorStopping = z.infer<typeof ActorStopping>;

/** The reply of each ActorCall method. */
export const ACTOR_CALL_REPLIES = { status: ActorStatus, stop: ActorStopping } as const satisfies Record<
  (typeof ACTOR_METHODS)[number],
  z.ZodType
>;

/** The last message an actor process writes to its parent (IPC) before exiting. */
export const ActorResult = z.object({ outcome: ActorOutcome });
export type ActorResult = z.infer<typeof ActorResult>;
