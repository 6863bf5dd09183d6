/** An agent's settings and states, and the checks of an actor spec the schema cannot make alone. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import { FlotillaError } from '../../shared/errors.ts';
import type { ActorSpec } from '../../shared/schemas/index.ts';
import type { BackendReport } from './backend-probe.ts';
import type { GpuInventory } from './gpus.ts';

/** `checkpointing`: leaving, rank 0 of each local job writes the step in flight before the head is told */
export const AGENT_STATES = ['starting', 'running', 'checkpointing', 'draining', 'stopped'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export interface AgentOptions {
  nc: NatsConnection;
  /**
   * the connection heartbeats go out on (default `nc`): its own connection, so that a beat never
   * waits in one outbound buffer behind control replies and exit reports
   */
  heartbeatNc?: NatsConnection;
  /** NATS URL(s) handed to actor processes */
  natsUrl: string;
  prefix: string;
  nodeId: string;
  slots: number;
  backend: BackendReport;
  /** repository root and actor entry script */
  root: string;
  actorEntry: string;
  log: Logger;
  /** heartbeat period (default 1000 ms) */
  heartbeatMs?: number;
  /** SIGTERM -> SIGKILL grace for a stopped actor (default 3000 ms) */
  stopGraceMs?: number;
  /** on leave, how long to wait for the head to move the actors (default 8000 ms; the whole leave stays under ~12 s) */
  leaveWaitMs?: number;
  /** on leave, how long rank 0 of each local job may take to checkpoint the step in flight (default 15000 ms) */
  drainCheckpointMs?: number;
  /** extra env for actor processes (tests); FLOTILLA_NATIVE_SHARE defaults to the slots (actor-threads.ts) */
  actorEnv?: NodeJS.ProcessEnv;
  /** on close, how long unacknowledged exit reports may still be retried (default 5000 ms) */
  exitFlushMs?: number;
  /** preempt-node fault: the drain path (default: SIGTERM to this process, which startAgent turns into leave()) */
  preempt?: () => void;
  /** kill-node fault: after its actors, the agent dies (default: SIGKILL to this process) */
  die?: () => void;
  /** warm actor processes kept ready for placements (default 1; 0: every actor is a fresh fork) */
  warmActors?: number;
  /** a taken warm process is replaced at the actor's first step or exit, or after this long (default 10000 ms) */
  warmRefillMs?: number;
  /** the GPUs this node offers (worker/agent/gpus.ts findGpus; default none, env left alone) */
  gpus?: GpuInventory;
  /** how often nvidia-smi's figures are refreshed for the heartbeats (default 5000 ms) */
  gpuRefreshMs?: number;
  /** a head answered this node's pool join just before the agent started (it is up) */
  joined?: boolean;
  /**
   * told once when the registration can never succeed (a head is up, yet no one answers it: the
   * leaf server does not forward this node id); without it the agent warns and keeps trying
   */
  onUnregistrable?: (message: string) => void;
}

/** What the schema cannot say alone: the rank fits the world, one node per rank. */
export function checkSpec(spec: ActorSpec): void {
  const bad: { path: string; message: string }[] = [];
  if (spec.rank >= spec.worldSize) bad.push({ path: 'actor.rank', message: `rank ${spec.rank} is not below worldSize ${spec.worldSize}` });
  if (spec.nodeOfRank.length !== spec.worldSize) {
    bad.push({ path: 'actor.nodeOfRank', message: `${spec.nodeOfRank.length} entries for worldSize ${spec.worldSize}` });
  }
  if (bad.length)
    throw new FlotillaError('FLO_VALIDATION', `invalid message: ${bad.map((b) => `${b.path}: ${b.message}`).join('; ')}`, { details: bad });
}
