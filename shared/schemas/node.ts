/** Worker node registration, heartbeats and control requests (head -> agent). */
import { z } from 'zod';
import { MAX_LISTED, MAX_PATH, MAX_RANKS, MAX_SECRET, MAX_STAMP, MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';
import { JobSpec } from './job.ts';
import { ArmedFault } from './fault.ts';
import { GpuInfo, GpuList, GpuSource, GpuStats, MAX_NODE_GPUS } from './gpu.ts';

export const ComputeBackend = z.enum(['cuda', 'tensorflow-gpu', 'tensorflow', 'native-cpu', 'cpu']);
export type ComputeBackend = z.infer<typeof ComputeBackend>;

export const NodeInfo = z.object({
  nodeId: Id,
  host: z.string().min(1).max(MAX_PATH),
  slots: z.number().int().positive().max(1024),
  backend: ComputeBackend,
  device: z.string().max(MAX_PATH),
  pid: z.number().int().positive(),
  started_at: z.string().max(MAX_STAMP),
  /** the GPUs this node offers to placements (`flotilla worker --gpus`; absent: none) */
  gpus: z.array(GpuInfo).max(MAX_NODE_GPUS).optional(),
  /** where `gpus` came from (absent: older agents) */
  gpu_source: GpuSource.optional(),
});
export type NodeInfo = z.infer<typeof NodeInfo>;

export const ActorBrief = z.object({
  actorId: Id,
  jobId: Id,
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  /** the GPU indices it holds (absent: none) */
  gpus: GpuList.optional(),
});
export type ActorBrief = z.infer<typeof ActorBrief>;

/**
 * A node's warm actor pool (worker/agent/warm-pool.ts): processes kept, ready, still loading,
 * taken by placements so far, and given back after a job (reused; absent from older agents).
 */
export const WarmStats = z.object({
  size: z.number().int().nonnegative(),
  ready: z.number().int().nonnegative(),
  starting: z.number().int().nonnegative(),
  taken: z.number().int().nonnegative(),
  reused: z.number().int().nonnegative().optional(),
});
export type WarmStats = z.infer<typeof WarmStats>;

/**
 * A node's liveness beat. `ts` is the sender's clock when it was sent (ms since epoch) and
 * `seq` counts the beats of one agent process from 0 (reset when the agent restarts, together
 * with `started_at` of its NodeInfo): a receiver can tell a late beat (old `ts`, next `seq`)
 * from a lost one (a gap in `seq`). Older agents send no `seq`.
 */
export const NodeHeartbeat = z.object({
  nodeId: Id,
  ts: z.number(),
  seq: z.number().int().nonnegative().optional(),
  slots: z.number().int().positive(),
  actors: z.array(ActorBrief).max(MAX_RANKS),
  draining: z.boolean().default(false),
  /** the warm actor pool (absent: an agent without one, or an older agent) */
  warm: WarmStats.optional(),
  /** live figures of the node's GPUs (absent: none, a declared inventory, or an older agent) */
  gpus: z.array(GpuStats).max(MAX_NODE_GPUS).optional(),
});
export type NodeHeartbeat = z.infer<typeof NodeHeartbeat>;

/** What a node agent needs to start one trainer actor. */
export const ActorSpec = z.object({
  actorId: Id,
  jobId: Id,
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  worldSize: z.number().int().positive(),
  /** nodeId of every rank, for topology-aware collectives */
  nodeOfRank: z.array(Id).max(MAX_RANKS),
  job: JobSpec,
  /**
   * self-fencing lease (the head's dead-node threshold): an actor that cannot read its job's
   * record for this long stops itself (worker/actor/fence.ts); default 3000
   */
  leaseMs: z.number().int().positive().optional(),
  /**
   * a replacement in a live gang (JobSpec.recovery 'live'): the survivors hold the current state
   * and send it over the job's collective subjects; the newest checkpoint is the fallback
   */
  joinsLive: z.boolean().optional(),
  /** the node's GPU indices the head gave this rank (JobSpec.gpus_per_rank of them); the agent pins the actor to them */
  gpus: GpuList.optional(),
});
export type ActorSpec = z.infer<typeof ActorSpec>;

export const NodeControl = z.discriminatedUnion('op', [
  /** `creds`: the actor's NATS credentials, minted by the head for this actor alone */
  z.object({ op: z.literal('spawn'), actor: ActorSpec, creds: z.string().min(1).max(MAX_SECRET).optional() }),
  z.object({ op: z.literal('stop'), actorId: Id, reason: z.string().max(MAX_TEXT).default('stopped') }),
  z.object({ op: z.literal('ping') }),
  z.object({ op: z.literal('drain') }),
  /** arm a fault on this node (shared/schemas/fault.ts): carried out by the agent or the rank's actor */
  z.object({ op: z.literal('fault'), fault: ArmedFault }),
]);
export type NodeControl = z.infer<typeof NodeControl>;

/** A worker that holds a pool join token asks for the credentials of node `nodeId` (its own nkey; the seed never travels). */
export const JoinRequest = z.object({ nodeId: Id, publicKey: z.string().regex(/^U[A-Z2-7]{55}$/) });
export type JoinRequest = z.infer<typeof JoinRequest>;
/** The head's answer (ControlReply result): the node's user JWT for that key. */
export const JoinGrant = z.object({ jwt: z.string().min(1).max(MAX_SECRET) });
export type JoinGrant = z.infer<typeof JoinGrant>;

/** The head's answer to a `nodeRegister` request. */
export const NodeRegistered = z.object({ headId: z.string().min(1).max(MAX_PATH) });
export type NodeRegistered = z.infer<typeof NodeRegistered>;

/** NodeControl `spawn` reply: the actor's process (`existing`: it already ran, the request was a repeat). */
export const ActorSpawned = z.object({ actorId: Id, pid: z.number().int().positive().optional(), existing: z.boolean().optional() });
export type ActorSpawned = z.infer<typeof ActorSpawned>;
/** NodeControl `stop` reply. */
export const ActorStopRequested = z.object({ actorId: Id, stopping: z.literal(true) });
export type ActorStopRequested = z.infer<typeof ActorStopRequested>;
/** NodeControl `drain` reply: the actors still on the node. */
export const NodeDraining = z.object({ draining: z.literal(true), actors: z.array(ActorBrief).max(MAX_RANKS) });
export type NodeDraining = z.infer<typeof NodeDraining>;
/** NodeControl `fault` reply. */
export const FaultAccepted = z.object({ accepted: z.literal(true), fault_id: z.string().min(1).max(MAX_PATH) });
export type FaultAccepted = z.infer<typeof FaultAccepted>;

/** The reply of each NodeControl op. */
export const NODE_CONTROL_REPLIES = {
  spawn: ActorSpawned,
  stop: ActorStopRequested,
  ping: NodeInfo,
  drain: NodeDraining,
  fault: FaultAccepted,
} as const satisfies Record<NodeControl['op'], z.ZodType>;
export type NodeControlReply<Op extends NodeControl['op']> = z.infer<(typeof NODE_CONTROL_REPLIES)[Op]>;

/** Record of a node in KV (key = nodeId). */
export const NodeRecord = NodeInfo.extend({
  last_seen: z.number(),
  draining: z.boolean().default(false),
  actors: z.array(ActorBrief).max(MAX_RANKS).default([]),
  /** the node's warm actor pool, from its last heartbeat */
  warm: WarmStats.optional(),
  /** live figures of its GPUs, from its last heartbeat that carried them */
  gpu_stats: z.array(GpuStats).max(MAX_NODE_GPUS).optional(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

/** GET /v1/workers row: a live node with its free slots and GPUs. */
export const WorkerRow = NodeRecord.extend({
  free: z.number().int().nonnegative(),
  alive_ms_ago: z.number(),
  /** indices of its GPUs no rank holds (absent: a node without GPUs) */
  gpus_free: z.array(z.number().int().nonnegative()).max(MAX_NODE_GPUS).optional(),
});
export type WorkerRow = z.infer<typeof WorkerRow>;
/** GET /v1/workers reply. */
export const WorkerList = z.object({ workers: z.array(WorkerRow).max(MAX_LISTED) });
export type WorkerList = z.infer<typeof WorkerList>;
