/**
 * Faults the agent carries out on real processes, planned in the job spec and posted to the
 * running job: a stall (the rank's process is in state T in /proc while it lasts, then runs
 * again), a kill of the rank's process at an exact step (its PID is gone, the gang restarts
 * once), and a crash of the trainer posted through POST /v1/jobs/:id/faults; the job still
 * succeeds, and every phase is a `fault` event.
 */
import t from 'tap';
import { actorPid, faultCluster, faultEvents, faultPhase, finished, jobEvents, procState } from './helpers.ts';
import { until } from '../head/helpers/wait.ts';
import { checkSteps } from '../../head/report/steps.ts';

t.test('stall, kill-actor (planned) and crash-actor (posted) on a logreg job', async (t) => {
  const { api } = await faultCluster(t, { a: 2 }, 'fp');
  const steps = 40;
  const job = await api.submit({
    workers: 2,
    max_restarts: 4,
    checkpoint_every: 5,
    trainer: { kind: 'logreg', steps, step_delay_ms: 100 },
    faults: [
      { kind: 'stall', target: { rank: 1 }, at_step: 4, duration_ms: 1500 },
      { kind: 'kill-actor', target: { rank: 0 }, at_step: 12 },
    ],
  });
  const armed = await until('both planned faults armed', async () => {
    const ev = faultEvents(await jobEvents(api, job.id)).filter((e) => e.phase === 'armed');
    return ev.length === 2 && ev;
  });
  t.same(
    armed.map((e) => [e.fault_id, e.fault.kind, e.source]),
    [
      ['f1', 'stall', 'spec'],
      ['f2', 'kill-actor', 'spec'],
    ],
    'ids f1, f2 in spec order, source spec',
  );

  const r1 = `${job.id}-g0-r1`;
  const pid1 = await until('rank 1 process', () => actorPid(r1));
  const stall = await faultPhase(api, job.id, 'f1', 'injected');
  t.equal(stall.step, 4, 'the stall was injected at step 4');
  t.equal(stall.rank, 1);
  t.equal(procState(pid1), 'T', `rank 1 (pid ${pid1}) is stopped (state T) during the stall`);
  await faultPhase(api, job.id, 'f1', 'ended');
  const after = await until('rank 1 runs again', () => {
    const s = procState(pid1);
    return s !== undefined && s !== 'T' && s;
  });
  t.not(after, 'T', `rank 1 runs again after the stall (state ${after})`);

  const r0 = `${job.id}-g0-r0`;
  const pid0 = await until('rank 0 process', () => actorPid(r0));
  const kill = await faultPhase(api, job.id, 'f2', 'injected');
  t.equal(kill.step, 12, 'kill-actor at step 12');
  await until(`pid ${pid0} gone`, () => procState(pid0) === undefined || procState(pid0) === 'Z');
  t.pass(`rank 0's process ${pid0} is gone`);
  const rec = await until('running again as generation 1', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.generation >= 1 && j;
  });
  t.equal(rec.restarts, 1, 'one restart for the kill');
  // a failure before the regrouped gang trains a step is charged to the kill's incident (not counted
  // again: head/state/transitions.ts sameIncident), so the crash is posted once training goes on
  await until('training again after the kill', async () => {
    const j = await api.get(job.id);
    return j.generation === rec.generation && j.step > rec.step && j;
  });

  const posted = await api.injectFaults(job.id, { kind: 'crash-actor', target: { rank: 1 } });
  t.same(posted.fault_ids, ['f3'], 'the posted fault is f3');
  const crash = await faultPhase(api, job.id, 'f3', 'injected');
  t.equal(crash.rank, 1, 'crash-actor on rank 1');
  // the crash restarts the gang; faults go to a running job, so the next one waits for it to run again
  await until('running again after the crash', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.generation > rec.generation && j;
  });
  const ghost = (await api.injectFaults(job.id, { kind: 'kill-node', target: { node: 'nosuch' } })).fault_ids[0];
  const failed = await faultPhase(api, job.id, ghost, 'failed');
  t.match(failed.message, /unknown node nosuch/, 'a fault on an unknown node fails, saying why');
  const done = await finished(api, job.id);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.equal(done.restarts, 2, 'two restarts: the kill and the crash (the failed fault did nothing)');
  const events = await jobEvents(api, job.id);
  const report = checkSteps(events, steps);
  t.ok(report.ok, `steps: ${report.problems.join('; ') || 'contiguous, resumed after checkpoints'}`);
  t.same(
    faultEvents(events).filter((e) => e.phase === 'expired'),
    [],
    'nothing expired',
  );
});
