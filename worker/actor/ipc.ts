/**
 * Messages between an actor process and its agent over the Node IPC channel. The last one an
 * actor sends is `result` (the shared ActorResult plus a type tag); the exit code backs it up.
 */
import { z } from 'zod';
import { ActorOutcome, ActorState } from '../../shared/schemas/index.ts';

/** actor -> agent */
export const ActorToAgent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), state: ActorState }),
  z.object({ type: z.literal('heartbeat'), step: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal('result'), outcome: ActorOutcome }),
]);
export type ActorToAgent = z.infer<typeof ActorToAgent>;

/** agent -> actor */
export const AgentToActor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stop'), reason: z.string() }),
]);
export type AgentToActor = z.infer<typeof AgentToActor>;

/**
 * Exit codes of an actor process, a backup for a lost IPC result: 0 succeeded, 3 fatal,
 * 4 cancelled; anything else (crash, signal) is retryable.
 */
export const ACTOR_EXIT_CODES = Object.freeze({ succeeded: 0, retryable: 1, fatal: 3, cancelled: 4 } as const);
