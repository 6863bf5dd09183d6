/**
 * A job's report (shared/schemas/report.ts) as a pure function of its record and its events
 * in stream order: the faults' figures (faults.ts), the step audit (steps.ts) and the
 * invariants. Both trainers report the digest of their final state (logreg: its parameters;
 * YOLOv5: every tensor of last.ckpt, without its metadata) and are deterministic on one
 * backend with a fixed world size: rank 0's state wins at every start, batches are drawn by
 * step, the collective adds contributions in rank order, a resume is bit-exact. So a job that
 * survived faults must end with the digest of a fault-free run of its spec, unless a fault
 * changed the training itself (a nan-gradient step is skipped, an elastic job shrank).
 */
import { traitsOf } from '../../shared/trainer-traits.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobRecord, JobState } from '../../shared/schemas/job.ts';
import { TERMINAL_STATES } from '../../shared/schemas/job.ts';
import type { InvariantResult, JobReport } from '../../shared/schemas/report.ts';
import { attributeChanges, faultReports } from './faults.ts';
import { changesOf, stepProblems, trainedGenerations } from './steps.ts';

function held(name: InvariantResult['name'], problems: string[], okDetail: string): InvariantResult {
  return { name, ok: problems.length === 0, detail: problems.length ? problems.join('; ') : okDetail };
}

function digestCheck(job: JobRecord, baseline: JobRecord | null): InvariantResult {
  const name = 'digest_equals_baseline' as const;
  if (!baseline) return { name, ok: null, detail: 'not checked: no baseline job given (?baseline=ID)' };
  if (job.state !== 'succeeded' || baseline.state !== 'succeeded')
    return { name, ok: null, detail: `not checked: job ${job.state}, baseline ${baseline.state}` };
  if (!job.final_digest || !baseline.final_digest)
    return {
      name,
      ok: null,
      detail: `not checked: no final digest from ${job.final_digest ? `baseline ${baseline.id}` : `job ${job.id}`}`,
    };
  const same = job.final_digest === baseline.final_digest;
  return {
    name,
    ok: same,
    detail: same
      ? `final weights identical to job ${baseline.id}`
      : `final weights ${job.final_digest.slice(0, 12)}… differ from job ${baseline.id}'s ${baseline.final_digest.slice(0, 12)}…`,
  };
}

export function buildReport(job: JobRecord, events: readonly JobEvent[], baseline: JobRecord | null = null): JobReport {
  const trained = trainedGenerations(events);
  const changes = attributeChanges(events, changesOf(events, trained.generations));
  const p = stepProblems(events, trained);
  const lastGen = trained.generations.at(-1);
  const lastStep = lastGen ? lastGen.steps.at(-1)! : null;
  const t = job.spec.trainer;
  const finalStep = traitsOf(t).finalStep(t) ?? (job.state === 'succeeded' ? job.step : null);
  const ended = TERMINAL_STATES.includes(job.state);
  let reached: InvariantResult;
  if (!ended) reached = { name: 'final_step_reached', ok: null, detail: `not yet: the job is ${job.state} at step ${lastStep ?? 0}` };
  else if (job.state !== 'succeeded')
    reached = {
      name: 'final_step_reached',
      ok: false,
      detail: `the job ${job.state} at step ${lastStep ?? 0}${job.message ? `: ${job.message}` : ''}`,
    };
  else
    reached = held(
      'final_step_reached',
      lastStep === finalStep ? [] : [`rank 0's last step is ${lastStep}, the final step ${finalStep}`],
      `step ${finalStep}`,
    );
  const invariants = [
    reached,
    held('no_step_applied_twice', p.twice, 'every step once in the surviving run'),
    held('no_rollback_past_checkpoint', p.pastCheckpoint, 'every rollback resumed at the newest valid checkpoint'),
    digestCheck(job, baseline),
  ];
  const at = (st: (s: JobState) => boolean) => events.find((e) => e.type === 'state' && st(e.state))?.ts ?? null;
  return {
    job_id: job.id,
    ...(job.spec.name ? { name: job.spec.name } : {}),
    state: job.state,
    trainer: t.kind,
    final_step: finalStep,
    last_step: lastStep,
    generation: job.generation,
    restarts: job.restarts,
    max_restarts: job.spec.max_restarts,
    started_at: at((s) => s === 'running'),
    ended_at: ended ? at((s) => TERMINAL_STATES.includes(s)) : null,
    final_digest: job.final_digest ?? null,
    baseline: baseline ? { job_id: baseline.id, final_digest: baseline.final_digest ?? null } : null,
    steps_lost: changes.reduce((a, c) => a + c.steps_lost, 0),
    changes,
    faults: faultReports(events, changes),
    invariants,
    ok: invariants.every((i) => i.ok !== false),
  };
}
