/**
 * The collective group of an actor, created on first use. Written against the collective
 * library's `createGroup` (worker/collective); until that module exists a temporary local
 * shim with the same call shape stands in (see collective-shim.ts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ActorSpec } from '../../shared/schemas/index.ts';
import { subjects } from '../../shared/subjects.ts';

/** What the actor runtime and trainers use of a collective group. */
export interface CollectiveGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** in place; every rank ends with the same values */
  allreduce(data: Float32Array, opts?: { op?: 'sum' | 'mean' }): Promise<unknown>;
  barrier(): Promise<unknown>;
  close(): unknown;
}

export interface GroupOptions {
  nc: NatsConnection;
  subjectBase: string;
  jobId: string;
  generation: number;
  rank: number;
  worldSize: number;
  nodeOfRank: string[];
  timeoutMs: number;
  algorithm: 'auto' | 'ring' | 'multicast' | 'hierarchical';
  fp16: boolean;
  signal: AbortSignal;
}

type CreateGroup = (o: GroupOptions) => CollectiveGroup | Promise<CollectiveGroup>;

async function loadCreateGroup(): Promise<CreateGroup> {
  const lib = '../collective/index.ts';
  try {
    const mod = (await import(lib)) as { createGroup?: CreateGroup };
    if (typeof mod.createGroup === 'function') return mod.createGroup;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
  return (await import('./collective-shim.ts')).createShimGroup;
}

/** The group options of an actor, from its spec. */
export function groupOptions(nc: NatsConnection, prefix: string, spec: ActorSpec, signal: AbortSignal): GroupOptions {
  return {
    nc, subjectBase: subjects(prefix).collective(spec.jobId, spec.generation), jobId: spec.jobId, generation: spec.generation,
    rank: spec.rank, worldSize: spec.worldSize, nodeOfRank: [...spec.nodeOfRank], timeoutMs: spec.job.allreduce.timeout_ms,
    algorithm: spec.job.allreduce.algorithm, fp16: spec.job.allreduce.fp16, signal,
  };
}

export async function createActorGroup(o: GroupOptions): Promise<CollectiveGroup> {
  return (await loadCreateGroup())(o);
}
