/**
 * Faults as the head keeps them in the job record (HeadJob.faults), and the pure decisions about
 * them: the ids (`f1`, `f2`, … per job, in the order accepted), the target checks done when
 * they are armed, whether one is due, and where one goes in the current placement.
 */
import { z } from 'zod';
import { Id } from '../../shared/schemas/common.ts';
import { FaultPhase, FaultSpec, NODE_FAULTS, HEAD_FAULTS, FaultEventFields } from '../../shared/schemas/fault.ts';
import type { Placement } from '../../shared/schemas/job.ts';

export const HeadFault = z.object({
  id: FaultEventFields.fault_id,
  spec: FaultSpec,
  source: z.enum(['spec', 'api']),
  phase: FaultPhase,
  /** ms epoch when it was armed (after_ms counts from here) */
  armed_at: z.number(),
  /** the generation and node it was last handed to; a newer generation gets it again until it fires */
  delivered: z
    .object({ generation: z.number().int().nonnegative(), nodeId: Id, rank: z.number().int().nonnegative().optional() })
    .optional(),
  /** the trainer step it was injected at */
  step: z.number().int().nonnegative().optional(),
});
export type HeadFault = z.infer<typeof HeadFault>;

/** Phases after which a fault is done with (nothing more will happen to it). */
export const SETTLED = ['ended', 'failed', 'expired'] as const;

export function faultIds(existing: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `f${existing + i + 1}`);
}

/** A field error of a fault that the schema cannot see (its target against the job), or none. */
export function targetProblems(
  specs: readonly FaultSpec[],
  workers: number,
  path: (i: number) => string,
): { field: string; message: string }[] {
  const bad: { field: string; message: string }[] = [];
  specs.forEach((f, i) => {
    if ('rank' in f.target && f.target.rank >= workers)
      bad.push({ field: `${path(i)}.target.rank`, message: `the job has ${workers} rank(s) (0..${workers - 1})` });
  });
  return bad;
}

/** True once its trigger time has come (at_step faults are handed out at once: the rank watches its step). */
export function isDue(f: HeadFault, now: number): boolean {
  return f.spec.after_ms === undefined || now >= f.armed_at + f.spec.after_ms;
}

/** Where a fault goes in this placement: the node that carries it out and the rank it hits or watches. */
export type Route =
  | { kind: 'head'; rank?: number }
  | { kind: 'node'; nodeId: string; rank?: number; actorId?: string }
  | { kind: 'wait'; why: string }
  | { kind: 'fail'; why: string };

export function route(f: HeadFault, placement: readonly Placement[], knownNode: (id: string) => boolean): Route {
  const k = f.spec.kind;
  const t = f.spec.target;
  const needsRank = f.spec.at_step !== undefined || !NODE_FAULTS.includes(k);
  if (HEAD_FAULTS.includes(k) && f.spec.at_step === undefined) return { kind: 'head' };
  let p: Placement | undefined;
  if ('rank' in t) {
    p = placement.find((q) => q.rank === t.rank);
    if (!p) return placement.length > 0 ? { kind: 'fail', why: `the job has no rank ${t.rank}` } : { kind: 'wait', why: 'not placed' };
  } else {
    if (!knownNode(t.node)) return { kind: 'fail', why: `unknown node ${t.node}` };
    p = [...placement].sort((a, b) => a.rank - b.rank).find((q) => q.nodeId === t.node);
    if (!p && needsRank) return { kind: 'wait', why: `node ${t.node} runs no rank of the job` };
    if (!p) return { kind: 'node', nodeId: t.node };
  }
  // a node fault aimed at a rank hits the node that runs it; head faults at a step are watched by the rank
  return { kind: 'node', nodeId: p.nodeId, rank: p.rank, actorId: p.actorId };
}
