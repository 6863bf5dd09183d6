/**
 * The verdict of one chaos experiment, from its plan entry and the job's report (pure): the
 * job-level checks (end state, final step, the report's invariants) and, per fault, that it
 * was injected and stayed within the plan's bounds. A row fails on its own problems or the
 * job's.
 */
import type { ChaosExperiment, ChaosRow } from '../../shared/schemas/chaos.ts';
import type { FaultFigures, JobReport } from '../../shared/schemas/report.ts';
import { targetOf } from './report.ts';

export interface Verdict {
  rows: ChaosRow[];
  problems: string[];
  ok: boolean;
}

function faultProblems(f: FaultFigures, x: ChaosExperiment): string[] {
  const e = x.expect;
  if (f.injected_at === null) return [`${f.fault_id} ${f.kind} was not injected (${f.phase}${f.message ? `: ${f.message}` : ''})`];
  const out: string[] = [];
  if (e.max_detect_s !== undefined && f.detect_s !== null && f.detect_s > e.max_detect_s)
    out.push(`${f.fault_id}: detected after ${f.detect_s} s > max_detect_s ${e.max_detect_s}`);
  if (e.max_recovery_s !== undefined) {
    if (f.recover_s === null) out.push(`${f.fault_id}: no step completed after it (max_recovery_s ${e.max_recovery_s})`);
    else if (f.recover_s > e.max_recovery_s)
      out.push(`${f.fault_id}: recovered after ${f.recover_s} s > max_recovery_s ${e.max_recovery_s}`);
  }
  if (e.max_steps_lost !== undefined && f.steps_lost > e.max_steps_lost)
    out.push(`${f.fault_id}: ${f.steps_lost} steps lost > max_steps_lost ${e.max_steps_lost}`);
  if (e.max_restarts !== undefined && f.restarts > e.max_restarts)
    out.push(`${f.fault_id}: ${f.restarts} restarts > max_restarts ${e.max_restarts}`);
  return out;
}

export function verdict(x: ChaosExperiment, r: JobReport): Verdict {
  const e = x.expect;
  const problems: string[] = [];
  if (r.state !== e.state) problems.push(`job ${r.state}, expected ${e.state}`);
  const final = e.final_step ?? (e.state === 'succeeded' ? r.final_step : null);
  if (final !== null && r.last_step !== final) problems.push(`rank 0 ended at step ${r.last_step ?? '-'}, expected final_step ${final}`);
  for (const i of r.invariants) {
    if (i.name === 'final_step_reached' && e.state !== 'succeeded') continue; // the plan expects the job not to finish
    if (i.name === 'digest_equals_baseline') {
      if (e.digest_equal_baseline && i.ok !== true) problems.push(`digest_equal_baseline: ${i.detail}`);
      continue;
    }
    if (i.ok === false) problems.push(`${i.name}: ${i.detail}`);
  }
  if (r.faults.length < x.job.faults.length)
    problems.push(`${x.job.faults.length} fault(s) planned, ${r.faults.length} seen in the job's events`);
  const rowOf = (fault: string, f: FaultFigures | null, own: string[]): ChaosRow => {
    const all = [...own, ...problems];
    return {
      experiment: x.name,
      job_id: r.job_id,
      fault,
      detect_s: f?.detect_s ?? null,
      recover_s: f?.recover_s ?? null,
      steps_lost: f?.steps_lost ?? r.steps_lost,
      ok: all.length === 0,
      problems: all,
    };
  };
  const rows = r.faults.length
    ? r.faults.map((f) => rowOf(`${f.fault_id} ${f.kind} ${targetOf(f)}`, f, faultProblems(f, x)))
    : [rowOf('-', null, [])];
  return { rows, problems: [...new Set(rows.flatMap((row) => row.problems))], ok: rows.every((row) => row.ok) };
}
