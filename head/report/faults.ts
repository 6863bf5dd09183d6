/**
 * Per-fault figures from a job's events in stream order (pure). "After" means later in the
 * stream, so clocks of different hosts never decide an order; durations subtract the `ts` of
 * two events, which come from the clocks of their publishers (the agent or actor that injected
 * the fault, the head that reacted, rank 0 that trained).
 *
 * - injected: the fault's `injected` event.
 * - detected: the first platform reaction after it: a head `state` event that ends the
 *   generation the fault hit (state recovering or failed, or any newer generation: a gang
 *   restart, a live replacement, a drain's move), or a `warn`/`error` log event (a corrupt
 *   checkpoint skipped, a non-finite gradient refused, an actor fenced). None: the job rode
 *   it out (a stall, a slow link) and detect is empty.
 * - recovered: the first step rank 0 completed after the reaction, in a generation no older
 *   than the reaction's; with no reaction, the first step at or past the injection step
 *   completed after the injection.
 * - steps lost / restarts: those of the changes of the training generation attributed to the
 *   fault: a change belongs to the newest fault injected before the head ended the old
 *   generation (the first `state` event of a newer generation).
 */
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { FaultFigures, GenerationChange } from '../../shared/schemas/report.ts';
import type { Change } from './steps.ts';

type Ev = JobEvent;
type FaultEv = Extract<Ev, { type: 'fault' }>;

const secs = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.round(b - a) / 1000);

interface Injection { id: string; index: number; generation: number }

/** The `injected` event of every fault, in stream order. */
function injections(events: readonly Ev[]): Injection[] {
  const out: Injection[] = [];
  events.forEach((e, i) => { if (e.type === 'fault' && e.phase === 'injected' && !out.some((x) => x.id === e.fault_id)) out.push({ id: e.fault_id, index: i, generation: e.generation }); });
  return out;
}

/** Stream index of the head's first state event of a generation newer than `g`, or -1. */
function endOf(events: readonly Ev[], g: number, from = 0): number {
  for (let i = from; i < events.length; i++) { const e = events[i]; if (e.type === 'state' && e.generation > g) return i; }
  return -1;
}

/** The job's restart count as of stream index `i` (the newest state event up to it that carries one). */
function restartsAt(events: readonly Ev[], i: number): number {
  for (let k = Math.min(i, events.length - 1); k >= 0; k--) {
    const e = events[k];
    if (e.type === 'state' && e.restarts !== undefined) return e.restarts;
  }
  return 0;
}

/** The changes of the training generation with their cost and the fault each is attributed to. */
export function attributeChanges(events: readonly Ev[], changes: readonly Change[]): GenerationChange[] {
  const inj = injections(events);
  return changes.map((c) => {
    const end = endOf(events, c.from.generation, c.from.lastIndex);
    const endIdx = end < 0 ? c.to.firstIndex : end;
    const cause = [...inj].reverse().find((x) => x.index < endIdx && x.generation <= c.from.generation);
    // restarts counted between the old generation's end and the new one's first step
    let restarts = Math.max(0, restartsAt(events, c.to.firstIndex) - restartsAt(events, endIdx - 1));
    if (!events.slice(0, c.to.firstIndex).some((e) => e.type === 'state' && e.restarts !== undefined)) {
      restarts = events.slice(endIdx, c.to.firstIndex).filter((e) => e.type === 'state' && e.state === 'recovering').length;
    }
    return {
      from_generation: c.from.generation, to_generation: c.to.generation,
      last_step: c.from.steps.at(-1)!, resumed_step: c.to.steps[0], steps_lost: c.lost, restarts,
      gap_s: Math.round(c.to.firstTs - c.from.lastTs) / 1000, fault_id: cause?.id ?? null,
    };
  });
}

function reaction(e: Ev, g: number): string | null {
  if (e.type === 'state' && (e.generation > g || e.state === 'recovering' || e.state === 'failed')) {
    return `state ${e.state} (g${e.generation})${e.message ? `: ${e.message}` : ''}`;
  }
  if (e.type === 'log' && (e.level === 'warn' || e.level === 'error')) return `${e.level}${e.rank !== undefined ? ` rank ${e.rank}` : ''}: ${e.msg}`;
  return null;
}

/** One row per fault the stream knows (first phase seen: its `armed` or `injected` event). */
export function faultReports(events: readonly Ev[], changes: readonly GenerationChange[]): FaultFigures[] {
  const ids: string[] = [];
  const last = new Map<string, FaultEv>();
  const injected = new Map<string, { e: FaultEv; index: number }>();
  events.forEach((e, i) => {
    if (e.type !== 'fault') return;
    if (!ids.includes(e.fault_id)) ids.push(e.fault_id);
    last.set(e.fault_id, e);
    if (e.phase === 'injected' && !injected.has(e.fault_id)) injected.set(e.fault_id, { e, index: i });
  });
  return ids.map((id) => {
    const l = last.get(id)!;
    const inj = injected.get(id);
    const f = inj?.e ?? l;
    const mine = changes.filter((c) => c.fault_id === id);
    const row: FaultFigures = {
      fault_id: id, kind: f.fault.kind, ...(f.fault.name ? { name: f.fault.name } : {}), target: f.fault.target,
      phase: l.phase, ...(f.rank !== undefined ? { rank: f.rank } : {}), ...(f.nodeId ? { nodeId: f.nodeId } : {}),
      step: inj?.e.step ?? null, generation: inj ? inj.e.generation : null,
      injected_at: inj ? inj.e.ts : null, detected_at: null, detected_by: null, detect_s: null,
      recovered_at: null, recovered_step: null, recover_s: null,
      steps_lost: mine.reduce((a, c) => a + c.steps_lost, 0), restarts: mine.reduce((a, c) => a + c.restarts, 0),
      ...(l.message ? { message: l.message } : inj?.e.message ? { message: inj.e.message } : {}),
    };
    if (!inj) return row;
    const g = inj.e.generation;
    let det: { index: number; e: Ev; by: string } | undefined;
    for (let i = inj.index + 1; i < events.length && !det; i++) {
      const by = reaction(events[i], g);
      if (by) det = { index: i, e: events[i], by };
    }
    const minGen = det && det.e.type === 'state' ? det.e.generation : g;
    const from = det ? det.index : inj.index;
    for (let i = from + 1; i < events.length; i++) {
      const e = events[i];
      if (e.type !== 'metric' || e.rank !== 0 || e.generation < minGen) continue;
      if (!det && inj.e.step !== undefined && e.step < inj.e.step) continue;
      row.recovered_at = e.ts;
      row.recovered_step = e.step;
      break;
    }
    if (det) { row.detected_at = det.e.ts; row.detected_by = det.by; }
    row.detect_s = secs(row.injected_at, row.detected_at);
    row.recover_s = secs(row.injected_at, row.recovered_at);
    return row;
  });
}
