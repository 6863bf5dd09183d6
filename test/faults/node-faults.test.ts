/**
 * Whole-node faults on real agent processes, one logreg job through all three: kill-node
 * (planned at a step: the agent process dies of SIGKILL with its actors, the gang moves), a
 * partition posted to the running job (the node's NATS connections are cut: the head declares it
 * dead, its actors fence themselves, the gang moves, the node comes back after the cut), and
 * preempt-node through the CLI (the agent drains: it exits 0 and the gang moves without a restart).
 */
import t from 'tap';
import { actorPid, faultCluster, faultPhase, finished, jobEvents, procState } from './helpers.ts';
import { cli } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { checkSteps } from '../../head/report/steps.ts';

t.test('kill-node, partition and preempt-node on one job', async (t) => {
  const { api, agents, head } = await faultCluster(t, { a: 2, b: 2, c: 2 }, 'fn');
  const steps = 80;
  const job = await api.submit({
    workers: 2,
    max_restarts: 6,
    checkpoint_every: 5,
    trainer: { kind: 'logreg', steps, step_delay_ms: 100 },
    faults: [{ kind: 'kill-node', target: { rank: 0 }, at_step: 6 }],
  });
  const first = await until('placed', async () => {
    const j = await api.get(job.id);
    return j.placement.length === 2 && j;
  });
  const n0 = first.placement[0].nodeId;
  const pids = await until('actor pids', () => {
    const p = first.placement.map((q) => actorPid(q.actorId));
    return p.every((x) => x !== undefined) && (p as number[]);
  });
  const kill = await faultPhase(api, job.id, 'f1', 'injected');
  t.equal(kill.step, 6, 'kill-node at step 6');
  t.equal(kill.nodeId, n0, `on rank 0's node ${n0}`);
  const exit = await agents[n0].exited;
  t.equal(exit.signal, 'SIGKILL', `agent ${n0} died of SIGKILL`);
  for (const pid of pids)
    if (first.placement.every((q) => q.nodeId === n0)) t.ok(procState(pid) === undefined || procState(pid) === 'Z', `actor ${pid} is gone`);

  const moved = await until(
    'running on another node',
    async () => {
      const j = await api.get(job.id);
      return j.state === 'running' && j.placement.length === 2 && j.placement.every((p) => p.nodeId !== n0) && j.step > 6 && j;
    },
    60_000,
  );
  const n1 = moved.placement[0].nodeId;
  const posted = await api.injectFaults(job.id, { kind: 'partition', target: { node: n1 }, duration_ms: 4000 });
  t.same(posted.fault_ids, ['f2']);
  const part = await faultPhase(api, job.id, 'f2', 'injected');
  t.equal(part.nodeId, n1, `partition of ${n1}`);
  const away = await until(`the gang leaves ${n1}`, async () => {
    const j = await api.get(job.id);
    return j.generation > moved.generation && j;
  });
  t.ok(away.generation > moved.generation, `the cut-off gang was ended (generation ${away.generation}): ${away.message}`);
  await faultPhase(api, job.id, 'f2', 'ended');
  await until(`${n1} back in the pool after the cut`, async () => (await api.workers()).some((w) => w.nodeId === n1));
  t.pass(`${n1} came back after the cut`);
  t.equal(agents[n1].proc.exitCode, null, `the partitioned agent ${n1} kept running`);

  const third = await until(
    'running again',
    async () => {
      const j = await api.get(job.id);
      return j.state === 'running' && j.placement.length === 2 && j.step > away.step && j;
    },
    60_000,
  );
  const n2 = third.placement[0].nodeId;
  const restartsBefore = third.restarts;
  const r = await cli(['fault', job.id, 'preempt-node', '--node', n2, '--server', head.url]);
  t.equal(r.code, 0, `flotilla fault exit 0 (${r.stdout.trim()}${r.stderr.trim()})`);
  t.match(r.stdout, /^f3 armed on /, 'the CLI prints the id');
  await faultPhase(api, job.id, 'f3', 'injected');
  const drained = await agents[n2].exited;
  t.equal(drained.code, 0, `agent ${n2} drained and exited 0`);
  const done = await finished(api, job.id, 180_000);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.equal(done.restarts, restartsBefore, 'the preemption cost no restart');
  const report = checkSteps(await jobEvents(api, job.id), steps);
  t.ok(report.ok, `steps: ${report.problems.join('; ') || 'ok'}`);
});
