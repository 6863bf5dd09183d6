/**
 * The step audit of a job, from its events in stream order (pure functions). Only rank 0
 * reports steps (`metric` events); a repeated report of the same step (YOLOv5's epoch metrics
 * ride on the epoch's last step) counts once. A generation that trained is one whose rank 0
 * reported a step. Rules:
 * - within a generation the steps go up by exactly one;
 * - at a change of the training generation the new one resumes either right after the old
 *   one's last step (live recovery: nothing redone) or right after a checkpoint (a rollback:
 *   the steps after it are redone, which is allowed because the old generation's later work was
 *   thrown away), never elsewhere: resuming before that checkpoint would apply steps twice,
 *   resuming past the old last step would skip some;
 * - a rollback goes back to the newest valid checkpoint published before the new generation
 *   began, never past it (valid: not reported skipped as corrupt, not hit by a
 *   corrupt-checkpoint fault);
 * - once a newer generation reported a step, an older one never reports again (that would be
 *   two copies of the job training at once).
 */
import type { JobEvent } from '../../shared/schemas/event.ts';

type Ev = JobEvent;

export interface TrainedGeneration {
  generation: number;
  /** rank-0 steps in order, consecutive repeats dropped */
  steps: number[];
  firstTs: number;
  lastTs: number;
  /** stream index of its first and last rank-0 metric */
  firstIndex: number;
  lastIndex: number;
}

export interface StaleStep {
  generation: number;
  step: number;
  newer: number;
}

export interface Trained {
  generations: TrainedGeneration[];
  /** rank-0 steps of a generation older than one that had already reported */
  stale: StaleStep[];
}

export function trainedGenerations(events: readonly Ev[]): Trained {
  const byGen = new Map<number, TrainedGeneration>();
  const stale: StaleStep[] = [];
  let newest = -1;
  events.forEach((e, i) => {
    if (e.type !== 'metric' || e.rank !== 0) return;
    if (e.generation < newest) {
      stale.push({ generation: e.generation, step: e.step, newer: newest });
      return;
    }
    newest = e.generation;
    const g = byGen.get(e.generation);
    if (!g) {
      byGen.set(e.generation, { generation: e.generation, steps: [e.step], firstTs: e.ts, lastTs: e.ts, firstIndex: i, lastIndex: i });
      return;
    }
    if (g.steps.at(-1) !== e.step) g.steps.push(e.step);
    g.lastTs = e.ts;
    g.lastIndex = i;
  });
  return { generations: [...byGen.values()].sort((a, b) => a.generation - b.generation), stale };
}

/** Checkpoint names end in the step, 12 digits (worker/actor/checkpoint-store.ts). */
const SKIPPED = /^checkpoint \S*?(\d{12}) skipped/;

/**
 * Checkpoint steps published before stream index `before` (by rank 0's `checkpoint` event or the
 * head's `recovering` event that names it) that a resume may use: not reported skipped (a corrupt one) and not the newest checkpoint when a corrupt-checkpoint fault hit.
 */
export function validCheckpoints(events: readonly Ev[], before: number): number[] {
  const saved: number[] = [];
  const bad = new Set<number>();
  for (let i = 0; i < Math.min(before, events.length); i++) {
    const e = events[i];
    if (e.type === 'checkpoint') saved.push(e.step);
    // the head's word that rank 0 saved it (its own event may come later or be lost with its actor)
    else if (e.type === 'state' && e.checkpoint_step !== undefined && e.checkpoint_step > 0 && !saved.includes(e.checkpoint_step))
      saved.push(e.checkpoint_step);
    else if (e.type === 'log' && (e.level === 'warn' || e.level === 'error')) {
      const m = SKIPPED.exec(e.msg);
      if (m) bad.add(Number(m[1]));
    } else if (e.type === 'fault' && e.phase === 'injected' && e.fault.kind === 'corrupt-checkpoint' && saved.length > 0) {
      bad.add(Math.max(...saved));
    }
  }
  return saved.filter((s) => !bad.has(s));
}

export interface Change {
  from: TrainedGeneration;
  to: TrainedGeneration;
  /** steps computed by `from` and redone by `to` */
  lost: number;
  /** the newest valid checkpoint published before `to` began (0: none) */
  checkpoint: number;
}

export function changesOf(events: readonly Ev[], gens: readonly TrainedGeneration[]): Change[] {
  const out: Change[] = [];
  for (let i = 1; i < gens.length; i++) {
    const from = gens[i - 1],
      to = gens[i];
    const last = from.steps.at(-1)!;
    const valid = validCheckpoints(events, to.firstIndex);
    out.push({ from, to, lost: Math.max(0, last - (to.steps[0] - 1)), checkpoint: valid.length ? Math.max(...valid) : 0 });
  }
  return out;
}

export interface StepProblems {
  /** steps applied twice (or skipped), and two generations training at once */
  twice: string[];
  /** rollbacks behind the newest valid checkpoint */
  pastCheckpoint: string[];
}

/** The rules above, as lists of what broke them (empty: held). */
export function stepProblems(events: readonly Ev[], t: Trained = trainedGenerations(events)): StepProblems {
  const twice: string[] = [];
  const pastCheckpoint: string[] = [];
  const gens = t.generations;
  if (gens.length > 0 && gens[0].steps[0] !== 1) {
    const valid = validCheckpoints(events, gens[0].firstIndex);
    if (!valid.includes(gens[0].steps[0] - 1))
      twice.push(`generation ${gens[0].generation} starts at step ${gens[0].steps[0]}, not 1 or right after a checkpoint`);
  }
  for (const g of gens) {
    for (let i = 1; i < g.steps.length; i++) {
      if (g.steps[i] !== g.steps[i - 1] + 1) twice.push(`generation ${g.generation}: step ${g.steps[i]} after ${g.steps[i - 1]}`);
    }
  }
  for (const c of changesOf(events, gens)) {
    const last = c.from.steps.at(-1)!;
    const resume = c.to.steps[0];
    const saved = validCheckpoints(events, c.to.firstIndex);
    if (resume > last + 1)
      twice.push(
        `generation ${c.to.generation} resumed at step ${resume}, but generation ${c.from.generation} ended at ${last}: steps ${last + 1}..${resume - 1} skipped`,
      );
    else if (resume <= last && resume !== 1 && !saved.includes(resume - 1)) {
      twice.push(
        `generation ${c.to.generation} resumed at step ${resume} (generation ${c.from.generation} ended at ${last}) with no checkpoint at ${resume - 1}: steps ${resume}..${last} applied twice`,
      );
    }
    if (resume <= last && resume - 1 < c.checkpoint) {
      pastCheckpoint.push(
        `generation ${c.to.generation} resumed at step ${resume}, behind the newest valid checkpoint (step ${c.checkpoint}) published before it`,
      );
    }
  }
  for (const s of t.stale)
    twice.push(`generation ${s.generation} reported step ${s.step} after generation ${s.newer} began: two copies trained`);
  return { twice, pastCheckpoint };
}

export interface StepReport {
  ok: boolean;
  problems: string[];
  generations: number[];
  firstSteps: Record<number, number>;
}

/** Every rule above held and the last generation ended at `finalStep`. */
export function checkSteps(events: readonly Ev[], finalStep: number): StepReport {
  const t = trainedGenerations(events);
  const p = stepProblems(events, t);
  const problems = [...p.twice, ...p.pastCheckpoint];
  const last = t.generations.at(-1);
  if (!last) problems.push('no metric events');
  else if (last.steps.at(-1) !== finalStep) problems.push(`last generation ends at ${last.steps.at(-1)}, expected ${finalStep}`);
  return {
    ok: problems.length === 0,
    problems,
    generations: t.generations.map((g) => g.generation),
    firstSteps: Object.fromEntries(t.generations.map((g) => [g.generation, g.steps[0]])),
  };
}

export interface StepAudit {
  /** steps redone after each change of the training generation */
  lostPerChange: number[];
  /** rank-0 metric events of a generation that arrived after a newer generation's first one */
  staleAfterNewer: number;
  /** training gap at each change: first metric of the new generation minus last of the old (ms, event clocks) */
  gapMsPerChange: number[];
}

/** What faults cost, from the stream order of a job's events. */
export function auditSteps(events: readonly Ev[]): StepAudit {
  const t = trainedGenerations(events);
  const changes = changesOf(events, t.generations);
  return {
    lostPerChange: changes.map((c) => c.lost),
    staleAfterNewer: t.stale.length,
    gapMsPerChange: changes.map((c) => c.to.firstTs - c.from.lastTs),
  };
}
