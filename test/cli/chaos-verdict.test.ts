/** A chaos experiment's verdict from its plan entry and a report (pure): each bound and job check. */
import t from 'tap';
import { ChaosExperiment } from '../../shared/schemas/chaos.ts';
import type { FaultFigures, JobReport } from '../../shared/schemas/report.ts';
import { verdict } from '../../bin/cli/chaos-verdict.ts';

const fault = (over: Partial<FaultFigures> = {}): FaultFigures => ({
  fault_id: 'f1',
  kind: 'kill-actor',
  target: { rank: 1 },
  phase: 'injected',
  rank: 1,
  nodeId: 'n1',
  step: 12,
  generation: 0,
  injected_at: 1000,
  detected_at: 3000,
  detected_by: 'state recovering (g1)',
  detect_s: 2,
  recovered_at: 9000,
  recovered_step: 11,
  recover_s: 8,
  steps_lost: 1,
  restarts: 1,
  ...over,
});
const report = (over: Partial<JobReport> = {}): JobReport => ({
  job_id: 'j1',
  state: 'succeeded',
  trainer: 'logreg',
  final_step: 40,
  last_step: 40,
  generation: 1,
  restarts: 1,
  max_restarts: 3,
  started_at: 0,
  ended_at: 10_000,
  final_digest: 'a'.repeat(64),
  baseline: null,
  steps_lost: 1,
  changes: [],
  faults: [fault()],
  invariants: [
    { name: 'final_step_reached', ok: true, detail: 'step 40' },
    { name: 'no_step_applied_twice', ok: true, detail: '' },
    { name: 'no_rollback_past_checkpoint', ok: true, detail: '' },
    { name: 'digest_equals_baseline', ok: null, detail: 'not checked: no baseline' },
  ],
  ok: true,
  ...over,
});
const exp = (expect: Record<string, unknown>) =>
  ChaosExperiment.parse({
    name: 'x',
    job: { workers: 2, trainer: { kind: 'logreg', steps: 40 }, faults: [{ kind: 'kill-actor', target: { rank: 1 }, at_step: 12 }] },
    expect,
  });

t.test('bounds per fault', async (t) => {
  t.ok(verdict(exp({ max_detect_s: 5, max_recovery_s: 10, max_steps_lost: 1, max_restarts: 1 }), report()).ok, 'within every bound');
  const v = verdict(exp({ max_detect_s: 1, max_recovery_s: 5, max_steps_lost: 0, max_restarts: 0 }), report());
  t.notOk(v.ok);
  t.same(v.rows[0].problems, [
    'f1: detected after 2 s > max_detect_s 1',
    'f1: recovered after 8 s > max_recovery_s 5',
    'f1: 1 steps lost > max_steps_lost 0',
    'f1: 1 restarts > max_restarts 0',
  ]);
  t.match(v.rows[0], { experiment: 'x', job_id: 'j1', fault: 'f1 kill-actor rank 1 (n1)', detect_s: 2, recover_s: 8, steps_lost: 1 });
  t.ok(
    verdict(exp({ max_detect_s: 1 }), report({ faults: [fault({ detect_s: null, detected_at: null })] })).ok,
    'a fault nothing reacted to passes max_detect_s',
  );
  t.match(verdict(exp({ max_recovery_s: 5 }), report({ faults: [fault({ recover_s: null, recovered_at: null })] })).problems, [
    /no step completed after it/,
  ]);
  t.match(verdict(exp({}), report({ faults: [fault({ phase: 'expired', injected_at: null, message: 'the job ended first' })] })).problems, [
    /was not injected \(expired: the job ended first\)/,
  ]);
  t.match(verdict(exp({}), report({ faults: [] })).problems, ["1 fault(s) planned, 0 seen in the job's events"]);
});

t.test('job checks: state, final step, invariants, digest', async (t) => {
  t.match(verdict(exp({}), report({ state: 'failed', last_step: 30 })).problems, [
    'job failed, expected succeeded',
    /ended at step 30, expected final_step 40/,
  ]);
  const bad = report({ invariants: [{ name: 'no_step_applied_twice', ok: false, detail: 'steps 3..7 applied twice' }] });
  t.same(verdict(exp({}), bad).problems, ['no_step_applied_twice: steps 3..7 applied twice']);
  t.same(
    verdict(exp({ digest_equal_baseline: true }), report()).problems,
    ['digest_equal_baseline: not checked: no baseline'],
    'asked for and not checked is a failure',
  );
  t.ok(
    verdict(
      exp({ state: 'failed' }),
      report({ state: 'failed', last_step: 12, invariants: [{ name: 'final_step_reached', ok: false, detail: 'failed' }] }),
    ).ok,
    'a plan that expects the job to fail does not want the final step',
  );
});
