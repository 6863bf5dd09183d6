/**
 * Live recovery (JobSpec.recovery 'live', the default) with real processes: a head, one worker
 * agent, actor processes, a real nats-server. A rank SIGKILLed mid-job is replaced alone: the
 * survivor keeps its process (same PID) and its state, the replacement receives the state from
 * it over the collective (its state digest equals the survivor's), no step is lost or applied
 * twice, and a logreg job whose ranks are killed every few steps ends with the weights of a
 * fault-free run, bit for bit. recovery 'checkpoint' still restarts every rank.
 */
import t from 'tap';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobSpecInput } from '../../shared/schemas/job.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { auditSteps, checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';
import { actorsOf, alive, eventsOf, liveCluster, stateLines, doneDigests, finished, referenceDigests } from './live-helpers.ts';

/** Seconds from each kill to the first rank-0 step of a newer generation (event clocks; same host). */
function nextStepAfter(events: JobEvent[], kills: { at: number; generation: number }[]): string[] {
  return kills.map((k) => {
    const e = events.find((x) => x.type === 'metric' && x.rank === 0 && x.generation > k.generation && x.ts > k.at);
    return e ? ((e.ts - k.at) / 1000).toFixed(2) : '?';
  });
}

t.test('live recovery of a logreg gang on one node', async (t) => {
  const { c, nc, api } = await liveCluster(t, 'lr');
  await startAgentProc(t, c, 'a', 2);
  const steps = 60;
  const trainer = { kind: 'logreg' as const, steps, features: 8, batch: 32, seed: 3 };
  const finish = (id: string) => finished(api, id);

  const refDigest = await referenceDigests(t, api, { workers: 2, trainer }); // the same job without faults

  await t.test('SIGKILL of a rank: the survivor keeps its PID, the replacement gets its state', async (t) => {
    // no periodic checkpoint: a restart from one would go back to step 0
    const spec: JobSpecInput = { workers: 2, max_restarts: 5, checkpoint_every: 1000, trainer: { ...trainer, step_delay_ms: 60 } };
    const job = await api.submit(spec);
    const killAt = [12, 24, 36];
    const kills: { at: number; generation: number }[] = [];
    const victims = [1, 0, 1];
    for (const [i, at] of killAt.entries()) {
      const gen = i;
      const cur = await until(`generation ${gen} past step ${at}`, async () => {
        const j = await api.get(job.id);
        return j.generation === gen && j.state === 'running' && j.step >= at && j;
      });
      const procs = await actorsOf(nc, c.prefix, cur);
      const victim = procs.find((p) => p.rank === victims[i]);
      const survivor = procs.find((p) => p !== victim);
      t.ok(victim && survivor, `generation ${gen}: both ranks found (${JSON.stringify(procs)})`);
      if (!victim || !survivor) return;
      kills.push({ at: Date.now(), generation: gen });
      process.kill(victim.pid, 'SIGKILL');
      const next = await until(`generation ${gen + 1} running`, async () => {
        const j = await api.get(job.id);
        return j.generation === gen + 1 && j.state === 'running' && j.step > at + 2 && j;
      });
      t.ok(alive(survivor.pid), `generation ${gen + 1}: the survivor (rank ${1 - victims[i]}, pid ${survivor.pid}) still runs`);
      t.ok(
        next.placement.some((p) => p.actorId === survivor.actorId),
        `the new placement keeps actor ${survivor.actorId}`,
      );
    }
    const done = await finish(job.id);
    t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
    t.equal(done.restarts, 3, 'three recoveries counted');
    const events = await eventsOf(api, job.id);
    // every generation after a loss: all ranks hold the same state bytes; the replacement got them from a peer
    for (const g of [1, 2, 3]) {
      const st = stateLines(events, g);
      t.equal(st.length, 2, `generation ${g}: both ranks reported the agreed state`);
      t.ok(
        st[0]?.sha && st[0].sha === st[1]?.sha,
        `generation ${g}: the replacement's state equals the survivor's (sha256 ${st[0]?.sha?.slice(0, 12)})`,
      );
      t.same(
        st.map((s) => s.source).sort(),
        ['peer', 'self'],
        `generation ${g}: one rank kept its state, one received it (${st.map((s) => s.msg).join(' | ')})`,
      );
    }
    const metricSteps = events.flatMap((e) => (e.type === 'metric' && e.rank === 0 ? [e.step] : []));
    const report = checkSteps(events, steps);
    // rank 0 is a victim once (generation 2 replaces it): the step it applied but had not reported is
    // reported by its replacement, once (worker/actor/step-report.ts)
    t.same(
      metricSteps,
      Array.from({ length: steps }, (_, i) => i + 1),
      'rank 0 reported every step exactly once: none lost, none applied twice',
    );
    t.ok(
      report.ok,
      `step audit: ${report.problems.join('; ') || 'every change continued right after the last step'} (${JSON.stringify(report.firstSteps)})`,
    );
    const audit = auditSteps(events);
    t.same(audit.lostPerChange, [0, 0, 0], 'no step redone at any generation change');
    t.equal(audit.staleAfterNewer, 0, 'no older generation reported after a newer one');
    t.comment(
      `live: next completed step after each SIGKILL at +${nextStepAfter(events, kills).join(', +')} s; training gap at each change (ms, event clocks): ${audit.gapMsPerChange.join(', ')}`,
    );
    const final = doneDigests(events, done.generation);
    t.same(final, refDigest, 'final weights equal the fault-free run, bit for bit');
  });

  await t.test("recovery 'checkpoint': every rank restarts from the checkpoint", async (t) => {
    const job = await api.submit({
      workers: 2,
      max_restarts: 3,
      checkpoint_every: 5,
      recovery: 'checkpoint',
      trainer: { ...trainer, step_delay_ms: 60 },
    });
    const cur = await until('past the first checkpoint', async () => {
      const j = await api.get(job.id);
      return j.state === 'running' && j.step >= 8 && j;
    });
    const procs = await actorsOf(nc, c.prefix, cur);
    t.equal(procs.length, 2, 'two actors');
    const kills = [{ at: Date.now(), generation: 0 }];
    process.kill(procs.find((p) => p.rank === 1)!.pid, 'SIGKILL');
    const survivor = procs.find((p) => p.rank === 0)!;
    await until('generation 1 running', async () => {
      const j = await api.get(job.id);
      return j.generation === 1 && j.state === 'running' && j;
    });
    await until('the old rank 0 gone', () => !alive(survivor.pid));
    t.pass(`the old rank 0 (pid ${survivor.pid}) was stopped`);
    const done = await finish(job.id);
    t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
    const events = await eventsOf(api, job.id);
    const report = checkSteps(events, steps);
    t.ok(report.ok, `step sequence: ${report.problems.join('; ') || 'resumed at checkpoint + 1'} (${JSON.stringify(report.firstSteps)})`);
    t.comment(
      `checkpoint: next completed step after the SIGKILL at +${nextStepAfter(events, kills).join(', +')} s; steps lost ${auditSteps(events).lostPerChange.join(', ')}`,
    );
    t.equal(doneDigests(events, done.generation).length, 2, 'both ranks reported their final weights');
    t.same(doneDigests(events, done.generation), refDigest, 'the checkpoint path also ends with the fault-free weights');
  });
});

t.test('elastic live recovery: a 3-rank logreg job (min_workers 2) loses a node, goes on at once with 2, grows back to 3', async (t) => {
  const { c, nc, api } = await liveCluster(t, 'le');
  await startAgentProc(t, c, 'a', 2);
  const b = await startAgentProc(t, c, 'b', 1);
  // long enough that the job cannot finish before the new agent has started (growth is not begun in
  // the last 10% of the steps)
  const steps = 400;
  const job = await api.submit({
    workers: 3,
    min_workers: 2,
    max_restarts: 3,
    checkpoint_every: 1000,
    trainer: { kind: 'logreg', steps, features: 8, batch: 16, seed: 5, step_delay_ms: 60 },
  });
  const g0 = await until('3 ranks training', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.step >= 10 && j;
  });
  t.same(g0.placement.map((p) => p.nodeId).sort(), ['a', 'a', 'b'], 'two ranks on a, one on b');
  const onA = (await actorsOf(nc, c.prefix, g0)).filter((p) => g0.placement.find((q) => q.actorId === p.actorId)?.nodeId === 'a');
  t.equal(onA.length, 2, 'two actor processes on a');
  await b.kill('SIGKILL');
  const shrunk = await until('generation 1 with 2 ranks training', async () => {
    const j = await api.get(job.id);
    return j.generation === 1 && j.state === 'running' && j;
  });
  t.equal(shrunk.placement.length, 2, 'going on with the 2 survivors');
  t.same(
    shrunk.placement.map((p) => p.rank),
    [0, 1],
    'ranks 0..1',
  );
  const s1 = await until('a step of generation 1', async () => {
    const j = await api.get(job.id);
    return j.generation === 1 && j.step > g0.step && j;
  });
  t.ok(
    onA.every((p) => alive(p.pid)),
    `the survivors kept their processes (${onA.map((p) => p.pid).join(', ')}), trained on to step ${s1.step}`,
  );
  await startAgentProc(t, c, 'c', 1);
  const grown = await until('grown back to 3 ranks', async () => {
    const j = await api.get(job.id);
    return j.generation === 2 && j.state === 'running' && j.placement.length === 3 && j;
  });
  t.equal(grown.placement.find((p) => p.rank === 2)?.nodeId, 'c', 'the new rank 2 on the new node');
  t.ok(
    onA.every((p) => alive(p.pid)),
    'the survivors still run the job',
  );
  const done = await until(
    'finished',
    async () => {
      const j = await api.get(job.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    120_000,
  );
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  const events = await eventsOf(api, job.id);
  const report = checkSteps(events, steps);
  t.ok(report.ok, `step audit: ${report.problems.join('; ') || 'each step once'} (${JSON.stringify(report.firstSteps)})`);
  t.same(auditSteps(events).lostPerChange, [0, 0], 'no step lost at the shrink nor at the growth');
  const shrinkState = stateLines(events, 1);
  t.same(
    shrinkState.map((s) => s.source),
    ['self', 'self'],
    'shrink: both survivors held the state (nothing to send)',
  );
  const growState = stateLines(events, 2);
  t.equal(growState.length, 3, 'growth: three ranks agreed');
  t.ok(
    growState.every((s) => s.sha && s.sha === growState[0].sha),
    `growth: the new rank's state equals the survivors' (${growState.map((s) => s.source).join(', ')})`,
  );
  // a survivor whose allreduce the growth interrupted while the other's completed receives the state too
  t.equal(
    growState.find((s) => s.rank === 2)?.source,
    'peer',
    `the new rank received it (${growState.map((s) => `rank ${s.rank}: ${s.source}`).join(', ')})`,
  );
});
