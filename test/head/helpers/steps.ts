/**
 * Checks of the step sequence a job's events record: within a generation rank 0's steps go up
 * by exactly one; a new generation starts right after the newest checkpoint published before
 * it (never earlier, so no step is lost past a checkpoint; never later, so none is skipped);
 * the generation that finishes covers every step once.
 */
import type { JobEvent } from '../../../shared/schemas/event.ts';

export interface StepReport { ok: boolean; problems: string[]; generations: number[]; firstSteps: Record<number, number> }

export function checkSteps(events: readonly JobEvent[], finalStep: number): StepReport {
  const problems: string[] = [];
  const byGen = new Map<number, number[]>();
  const firstSteps: Record<number, number> = {};
  let newestCkpt = 0;
  const ckptBeforeGen = new Map<number, number>();
  for (const e of events) {
    if (e.type === 'checkpoint') newestCkpt = Math.max(newestCkpt, e.step);
    if (e.type !== 'metric' || e.rank !== 0) continue;
    const steps = byGen.get(e.generation) ?? [];
    if (steps.length === 0) { ckptBeforeGen.set(e.generation, newestCkpt); firstSteps[e.generation] = e.step; }
    steps.push(e.step);
    byGen.set(e.generation, steps);
  }
  const gens = [...byGen.keys()].sort((a, b) => a - b);
  for (const g of gens) {
    const steps = byGen.get(g)!;
    const start = steps[0];
    const expected = gens[0] === g ? 1 : (ckptBeforeGen.get(g) ?? 0) + 1;
    if (start !== expected) problems.push(`generation ${g} starts at step ${start}, expected ${expected} (newest checkpoint before it: ${ckptBeforeGen.get(g)})`);
    for (let i = 1; i < steps.length; i++) if (steps[i] !== steps[i - 1] + 1) problems.push(`generation ${g}: step ${steps[i]} after ${steps[i - 1]}`);
  }
  const last = gens.at(-1);
  if (last === undefined) problems.push('no metric events');
  else if (byGen.get(last)!.at(-1) !== finalStep) problems.push(`last generation ends at ${byGen.get(last)!.at(-1)}, expected ${finalStep}`);
  return { ok: problems.length === 0, problems, generations: gens, firstSteps };
}

export interface StepAudit {
  /** steps redone after each generation change: last step of g minus (first step of g+1 - 1) */
  lostPerChange: number[];
  /** rank-0 metric events of a generation that arrived after a newer generation's first one */
  staleAfterNewer: number;
  /** training gap at each generation change: first metric of g+1 minus last metric of g (ms, event clocks) */
  gapMsPerChange: number[];
}

/**
 * What faults cost, from the stream order of a job's events: steps lost at each restart, and
 * whether an older generation kept reporting after a newer one began (a second copy running).
 */
export function auditSteps(events: readonly JobEvent[]): StepAudit {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const firstTs = new Map<number, number>();
  const lastTs = new Map<number, number>();
  let newest = -1;
  let staleAfterNewer = 0;
  for (const e of events) {
    if (e.type !== 'metric' || e.rank !== 0) continue;
    if (e.generation < newest) { staleAfterNewer++; continue; }
    newest = e.generation;
    if (!first.has(e.generation)) { first.set(e.generation, e.step); firstTs.set(e.generation, e.ts); }
    last.set(e.generation, e.step);
    lastTs.set(e.generation, e.ts);
  }
  const gens = [...first.keys()].sort((a, b) => a - b);
  const lostPerChange: number[] = [];
  const gapMsPerChange: number[] = [];
  for (let i = 1; i < gens.length; i++) {
    const prevLast = last.get(gens[i - 1])!;
    const resume = first.get(gens[i])!;
    lostPerChange.push(Math.max(0, prevLast - (resume - 1)));
    gapMsPerChange.push(firstTs.get(gens[i])! - lastTs.get(gens[i - 1])!);
  }
  return { lostPerChange, staleAfterNewer, gapMsPerChange };
}
