/**
 * Messages between an actor process and its agent over the Node IPC channel. The last one an
 * actor sends is `result` (the shared ActorResult plus a type tag); the exit code backs it up.
 * A warm actor (forked without a spec, worker/actor/warm.ts) sends `ready` once its runtime is
 * loaded and then waits for `start`, which carries its spec and its NATS credentials.
 */
import { z } from 'zod';
import { ActorOutcome, ActorSpec, ActorState, ArmedFault, FAULT_REPORT_PHASES } from '../../shared/schemas/index.ts';

/** actor -> agent */
export const ActorToAgent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), state: ActorState }),
  z.object({ type: z.literal('heartbeat'), step: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal('result'), outcome: ActorOutcome }),
  /** a phase of a fault this actor was given (`due`: the trigger step came, the agent or head carries it out) */
  z.object({
    type: z.literal('fault'),
    fault_id: ArmedFault.shape.fault_id,
    phase: z.enum(FAULT_REPORT_PHASES),
    step: z.number().int().nonnegative().optional(),
    message: z.string().optional(),
  }),
  /** a warm actor: runtime, trainer modules and compute backend loaded; waiting for `start` */
  z.object({ type: z.literal('ready') }),
]);
export type ActorToAgent = z.infer<typeof ActorToAgent>;

/** agent -> actor */
export const AgentToActor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stop'), reason: z.string() }),
  /** a fault to carry out or to watch the trigger step of (worker/actor/faults.ts) */
  z.object({ type: z.literal('fault'), fault: ArmedFault }),
  /** a `due` fault was carried out: the actor goes on with its step */
  z.object({ type: z.literal('fault-go'), fault_id: ArmedFault.shape.fault_id }),
  /** partition: cut this process's NATS connections for `ms` */
  z.object({ type: z.literal('cut'), ms: z.number().int().positive() }),
  /** a warm actor becomes this actor; `creds`: its own NATS credentials (never put in its env) */
  z.object({ type: z.literal('start'), spec: ActorSpec, creds: z.string().min(1).optional() }),
]);
export type AgentToActor = z.infer<typeof AgentToActor>;

/**
 * Exit codes of an actor process, a backup for a lost IPC result: 0 succeeded, 3 fatal,
 * 4 cancelled; anything else (crash, signal) is retryable.
 */
export const ACTOR_EXIT_CODES = Object.freeze({ succeeded: 0, retryable: 1, fatal: 3, cancelled: 4 } as const);
