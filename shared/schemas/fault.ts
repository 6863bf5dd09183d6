/**
 * Fault injection as data: what a user declares (in a job spec's `faults`, in
 * POST /v1/jobs/:id/faults, or through `flotilla fault`), and the `fault` job event that
 * records each phase of one fault. The agents and actors execute faults; nothing needs ssh
 * or root.
 */
import { z } from 'zod';
import { MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';

export const FAULT_KINDS = [
  /** SIGKILL the rank's actor process */
  'kill-actor',
  /** SIGKILL the node's agent and all its actors */
  'kill-node',
  /** the rank's trainer throws a retryable error */
  'crash-actor',
  /** SIGTERM the node's agent: drain (checkpoint the step in flight, then leave) */
  'preempt-node',
  /** SIGSTOP the rank's process for duration_ms, then SIGCONT (a straggler) */
  'stall',
  /** the node's (agent's and its actors') NATS connections are cut for duration_ms */
  'partition',
  /** the rank's collective traffic is throttled to rate_kbit for duration_ms */
  'slow-link',
  /** a fraction of the rank's outgoing collective chunks are dropped (for duration_ms, or until the job ends) */
  'drop-messages',
  /** the newest checkpoint's bytes are flipped in the Object Store */
  'corrupt-checkpoint',
  /** the rank's gradient at the trigger step is NaN: the step must be skipped or halted, never applied */
  'nan-gradient',
] as const;
export const FaultKind = z.enum(FAULT_KINDS);
export type FaultKind = z.infer<typeof FaultKind>;

/** Kinds that need duration_ms. */
export const TIMED_FAULTS: readonly FaultKind[] = ['stall', 'partition', 'slow-link'];
/** Kinds aimed at a whole node (a rank target means "the node that runs that rank"). */
export const NODE_FAULTS: readonly FaultKind[] = ['kill-node', 'preempt-node', 'partition'];

export const FaultTarget = z.union([z.object({ rank: z.number().int().nonnegative() }).strict(), z.object({ node: Id }).strict()]);
export type FaultTarget = z.infer<typeof FaultTarget>;

/** One fault as a user declares it. Neither at_step nor after_ms: inject at once. */
export const FaultSpec = z
  .object({
    kind: FaultKind,
    /** whom it hits (default rank 0; ignored by corrupt-checkpoint, which hits the job's newest checkpoint) */
    target: FaultTarget.default({ rank: 0 }),
    /** inject when the target rank (for a node target: the lowest rank of the job on that node) starts this training step */
    at_step: z.number().int().nonnegative().optional(),
    /** inject this long after the fault is armed (the job starts running, or the POST for a running job) */
    after_ms: z.number().int().nonnegative().max(86_400_000).optional(),
    /** how long a stall, partition, slow-link or drop-messages lasts */
    duration_ms: z.number().int().positive().max(3_600_000).optional(),
    /** slow-link: the rate in kbit/s (e.g. 10000 = 10 Mbit/s) */
    rate_kbit: z.number().positive().max(100_000_000).optional(),
    /** drop-messages: the fraction of chunks dropped (0 < f <= 1) */
    fraction: z.number().gt(0).max(1).optional(),
    /** a label of the user's, shown in the report */
    name: z.string().min(1).max(128).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.at_step !== undefined && f.after_ms !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['after_ms'], message: 'give at_step or after_ms, not both' });
    }
    if (TIMED_FAULTS.includes(f.kind) && f.duration_ms === undefined) {
      ctx.addIssue({ code: 'custom', path: ['duration_ms'], message: `${f.kind} needs duration_ms` });
    }
    if (f.kind === 'slow-link' && f.rate_kbit === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rate_kbit'], message: 'slow-link needs rate_kbit' });
    }
    if (f.kind === 'drop-messages' && f.fraction === undefined) {
      ctx.addIssue({ code: 'custom', path: ['fraction'], message: 'drop-messages needs fraction' });
    }
  });
export type FaultSpec = z.infer<typeof FaultSpec>;
export type FaultSpecInput = z.input<typeof FaultSpec>;

/** POST /v1/jobs/:id/faults body: one fault or several. */
export const FaultRequest = z.union([FaultSpec, z.object({ faults: z.array(FaultSpec).min(1).max(100) }).strict()]);
export type FaultRequest = z.infer<typeof FaultRequest>;
export type FaultRequestInput = z.input<typeof FaultRequest>;

/**
 * Phases of one fault, each a `fault` job event:
 * armed (accepted, waiting for its trigger) -> injected (done to the target) -> ended (a timed
 * fault lifted) | failed (could not be injected: the reason says why) | expired (the job ended first).
 */
export const FAULT_PHASES = ['armed', 'injected', 'ended', 'failed', 'expired'] as const;
export const FaultPhase = z.enum(FAULT_PHASES);
export type FaultPhase = z.infer<typeof FaultPhase>;

/** Fields of the `fault` job event (shared/schemas/event.ts adds jobId, ts, generation, type). */
export const FaultEventFields = {
  /** `f<n>`, unique within the job, in the order the faults were accepted */
  fault_id: z.string().regex(/^f[0-9]{1,6}$/),
  phase: FaultPhase,
  fault: FaultSpec,
  /** where it was (or will be) done */
  rank: z.number().int().nonnegative().optional(),
  nodeId: Id.optional(),
  /** the training step of the target when it was injected */
  step: z.number().int().nonnegative().optional(),
  /** whence it came */
  source: z.enum(['spec', 'api']).optional(),
  message: z.string().max(MAX_TEXT).optional(),
};

/** Kinds the node agent carries out itself (signals to its actors or itself, its connections). */
export const AGENT_FAULTS: readonly FaultKind[] = ['kill-actor', 'kill-node', 'preempt-node', 'stall', 'partition'];
/** Kinds the head carries out (it alone may rewrite a job's checkpoints). */
export const HEAD_FAULTS: readonly FaultKind[] = ['corrupt-checkpoint'];

const FaultId = FaultEventFields.fault_id;

/**
 * A fault on its way to the node that carries it out (NodeControl `fault`, head -> agent, and
 * the agent's IPC to the rank's actor). `rank`/`actorId`: the rank it hits or whose step
 * triggers it (absent for a node that runs no rank of the job); `generation`: the generation it
 * was delivered to (an undelivered fault is sent again to the next placement).
 */
export const ArmedFault = z.object({
  fault_id: FaultId,
  jobId: Id,
  generation: z.number().int().nonnegative(),
  spec: FaultSpec,
  nodeId: Id,
  rank: z.number().int().nonnegative().optional(),
  actorId: Id.optional(),
});
export type ArmedFault = z.infer<typeof ArmedFault>;

/**
 * What the node reports about a fault it was given (request on `nodeFault(nodeId)`, answered with
 * a ControlReply once the head has recorded it and published the `fault` event): `due` asks the
 * head to carry out a head fault whose trigger step the rank reached.
 */
export const FAULT_REPORT_PHASES = ['due', 'injected', 'ended', 'failed'] as const;
export const FaultReport = z.object({
  jobId: Id,
  fault_id: FaultId,
  generation: z.number().int().nonnegative(),
  phase: z.enum(FAULT_REPORT_PHASES),
  rank: z.number().int().nonnegative().optional(),
  step: z.number().int().nonnegative().optional(),
  message: z.string().max(2000).optional(),
});
export type FaultReport = z.infer<typeof FaultReport>;

/** POST /v1/jobs/:id/faults reply (201): the ids given to the faults, in the order posted. */
export const FaultsArmed = z.object({ jobId: Id, fault_ids: z.array(FaultId).max(100) });
export type FaultsArmed = z.infer<typeof FaultsArmed>;
