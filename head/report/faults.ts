/**
 * Per-fault figures from a job's events in stream order (pure). "After" means later in the
 * stream, so clocks of different hosts never decide an order; durations subtract the `ts` of
 * two events, which come from the clocks of their publishers (the agent or actor that injected
 * the fault, the head that reacted, rank 0 that trained).
 *
 * - injected: the fault's `injected` event (published by the head when the injector reports;
 *   the injector may act first, so the head can have reacted already: see below).
 * - the generation it hit: the older of the event's generation and that of rank 0's newest step
 *   before it (the head stamps its current generation, which a quick reaction may have bumped).
 * - detected: the first platform reaction: a head `state` event that ends the hit generation
 *   (state recovering or failed, or any newer generation: a gang restart, a live replacement, a
 *   drain's move) or a `warn`/`error` log event (a corrupt checkpoint skipped, a non-finite
 *   gradient refused, an actor fenced), looked for from the hit generation's last rank-0 step
 *   before the fault's step on: a reaction that overtook the injector's report (the actor's own
 *   log, a head that processed the exit first) still counts, at 0 s. A corrupt checkpoint is detected by the log alone (when a load skips it).
 *   None: the job rode it out (a stall, a slow link) and detect is empty.
 * - recovered: the first step rank 0 completed after the reaction, in a generation no older
 *   than the reaction's; with no reaction, the first step at or past the injection step
 *   completed after the injection.
 * - steps lost / restarts: those of the changes of the training generation charged to the
 *   fault: a change from generation A to B belongs to the newest fault that hit A and was
 *   injected before B's first step.
 */
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { FaultFigures, GenerationChange } from '../../shared/schemas/report.ts';
import type { Change } from './steps.ts';

type Ev = JobEvent;
type FaultEv = Extract<Ev, { type: 'fault' }>;

const secs = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.round(b - a) / 1000);
/** a reaction that overtook the injector's report happened after the act, which came first: 0 s */
const nonNegative = (x: number | null): number | null => (x === null ? null : Math.max(0, x));

interface Injection {
  id: string;
  e: FaultEv;
  /** stream index of its `injected` event */
  index: number;
  /** the generation it hit */
  hit: number;
  /** where to look for a reaction from: the hit generation's last rank-0 step before the fault's step */
  since: number;
}

/** The `injected` event of every fault, in stream order. */
function injections(events: readonly Ev[]): Injection[] {
  const out: Injection[] = [];
  const steps: number[] = []; // stream indices of rank-0 metrics so far
  events.forEach((e, i) => {
    if (e.type === 'metric' && e.rank === 0) steps.push(i);
    if (e.type !== 'fault' || e.phase !== 'injected' || out.some((x) => x.id === e.fault_id)) return;
    const last = steps.length ? events[steps.at(-1)!] : undefined;
    const hit = last && last.generation < e.generation ? last.generation : e.generation;
    // the hit generation's last step before the fault's own step: what came after may be its effect
    let since = i;
    for (let k = steps.length - 1; k >= 0; k--) {
      const m = events[steps[k]] as Extract<Ev, { type: 'metric' }>;
      if (m.generation < hit) break;
      if (m.generation === hit && (e.step === undefined || m.step < e.step)) {
        since = steps[k];
        break;
      }
    }
    out.push({ id: e.fault_id, e, index: i, hit, since: Math.min(since, i) });
  });
  return out;
}

/** Stream index of the head's first state event of a generation newer than `g` from `from` on, or -1. */
function endOf(events: readonly Ev[], g: number, from = 0): number {
  for (let i = from; i < events.length; i++) {
    const e = events[i];
    if (e.type === 'state' && (e.generation > g || e.state === 'failed')) return i;
  }
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
    const cause = [...inj].reverse().find((x) => x.index < c.to.firstIndex && x.hit === c.from.generation);
    // restarts counted between the old generation's end and the new one's first step
    let restarts = Math.max(0, restartsAt(events, c.to.firstIndex) - restartsAt(events, endIdx - 1));
    if (!events.slice(0, c.to.firstIndex).some((e) => e.type === 'state' && e.restarts !== undefined)) {
      restarts = events.slice(endIdx, c.to.firstIndex).filter((e) => e.type === 'state' && e.state === 'recovering').length;
    }
    return {
      from_generation: c.from.generation,
      to_generation: c.to.generation,
      last_step: c.from.steps.at(-1)!,
      resumed_step: c.to.steps[0],
      steps_lost: c.lost,
      restarts,
      gap_s: Math.round(c.to.firstTs - c.from.lastTs) / 1000,
      fault_id: cause?.id ?? null,
    };
  });
}

const stateReaction = (e: Extract<Ev, { type: 'state' }>) => `state ${e.state} (g${e.generation})${e.message ? `: ${e.message}` : ''}`;

function logReaction(e: Ev): string | null {
  return e.type === 'log' && (e.level === 'warn' || e.level === 'error')
    ? `${e.level}${e.rank !== undefined ? ` rank ${e.rank}` : ''}: ${e.msg}`
    : null;
}

/** One row per fault the stream knows (first phase seen: its `armed` or `injected` event). */
export function faultReports(events: readonly Ev[], changes: readonly GenerationChange[]): FaultFigures[] {
  const ids: string[] = [];
  const last = new Map<string, FaultEv>();
  for (const e of events) {
    if (e.type !== 'fault') continue;
    if (!ids.includes(e.fault_id)) ids.push(e.fault_id);
    last.set(e.fault_id, e);
  }
  const inj = new Map(injections(events).map((x) => [x.id, x]));
  return ids.map((id) => {
    const l = last.get(id)!;
    const x = inj.get(id);
    const f = x?.e ?? l;
    const mine = changes.filter((c) => c.fault_id === id);
    const row: FaultFigures = {
      fault_id: id,
      kind: f.fault.kind,
      ...(f.fault.name ? { name: f.fault.name } : {}),
      target: f.fault.target,
      phase: l.phase,
      ...(f.rank !== undefined ? { rank: f.rank } : {}),
      ...(f.nodeId ? { nodeId: f.nodeId } : {}),
      step: x?.e.step ?? null,
      generation: x ? x.hit : null,
      injected_at: x ? x.e.ts : null,
      detected_at: null,
      detected_by: null,
      detect_s: null,
      recovered_at: null,
      recovered_step: null,
      recover_s: null,
      steps_lost: mine.reduce((a, c) => a + c.steps_lost, 0),
      restarts: mine.reduce((a, c) => a + c.restarts, 0),
      ...(l.message ? { message: l.message } : x?.e.message ? { message: x.e.message } : {}),
    };
    if (!x) return row;
    // a corrupt checkpoint is noticed only when one is loaded (the skip log), not by a restart that another fault caused
    const end = f.fault.kind === 'corrupt-checkpoint' ? -1 : endOf(events, x.hit, x.since + 1);
    let logAt = -1;
    for (let i = x.since + 1; i < events.length && logAt < 0; i++) if (logReaction(events[i])) logAt = i;
    const detIdx = end >= 0 && (logAt < 0 || end < logAt) ? end : logAt;
    const det = detIdx >= 0 ? events[detIdx] : undefined;
    const minGen = det?.type === 'state' ? det.generation : x.hit;
    const from = Math.max(detIdx, x.index);
    for (let i = (det ? detIdx : from) + 1; i < events.length; i++) {
      const e = events[i];
      if (e.type !== 'metric' || e.rank !== 0 || e.generation < minGen) continue;
      if (!det && x.e.step !== undefined && e.step < x.e.step) continue;
      row.recovered_at = e.ts;
      row.recovered_step = e.step;
      break;
    }
    if (det) {
      row.detected_at = det.ts;
      row.detected_by = det.type === 'state' ? stateReaction(det) : logReaction(det);
    }
    row.detect_s = nonNegative(secs(row.injected_at, row.detected_at));
    row.recover_s = nonNegative(secs(row.injected_at, row.recovered_at));
    return row;
  });
}
