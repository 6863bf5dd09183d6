/** The collective group of an actor (worker/collective), with options taken from its spec. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ActorSpec } from '../../shared/schemas/index.ts';
import { subjects } from '../../shared/subjects.ts';
import { createGroup, type Group, type GroupOptions, type RawLaneSecurity } from '../collective/index.ts';

export type CollectiveGroup = Group;
export type { GroupOptions };

/**
 * The group options of an actor: subject base `collective(jobId, generation)`, the job's
 * allreduce settings, `connectLane` (when given) for the extra data connections, and every
 * server URL the actor was given as raw-lane candidates after the main connection's server,
 * and the actor's own creds and TLS for those raw lanes (`laneSecurity`).
 */
export function groupOptions(
  nc: NatsConnection,
  prefix: string,
  spec: ActorSpec,
  signal: AbortSignal,
  connectLane?: () => Promise<NatsConnection>,
  servers?: string[],
  laneSecurity?: RawLaneSecurity,
): GroupOptions {
  return {
    nc,
    ...(servers ? { dataServers: servers } : {}),
    ...(laneSecurity ? { laneSecurity } : {}),
    subjectBase: subjects(prefix).collective(spec.jobId, spec.generation),
    jobId: spec.jobId,
    generation: spec.generation,
    rank: spec.rank,
    worldSize: spec.worldSize,
    nodeOfRank: [...spec.nodeOfRank],
    timeoutMs: spec.job.allreduce.timeout_ms,
    algorithm: spec.job.allreduce.algorithm,
    fp16: spec.job.allreduce.fp16,
    signal,
    ...(connectLane ? { connect: connectLane } : {}),
  };
}

/** Joins the group; resolves once every rank listens. */
export function createActorGroup(o: GroupOptions): Promise<CollectiveGroup> {
  return createGroup(o);
}
