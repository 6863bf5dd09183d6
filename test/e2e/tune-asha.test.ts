/**
 * ASHA stops the bad half early, end to end: a random-search study of 8 logreg trials, 2 at a
 * time on one two-slot agent, lr in [0.0005, 1] (seed 4 samples three clearly bad learning
 * rates, < 0.05, that barely move the loss), ASHA with grace 4 steps and reduction factor 2
 * (rungs at steps 4, 8, 16 of 30). Checked against the trial jobs themselves (their records and
 * their metric events, read through REST): every bad trial is stopped at its first rung; a stopped
 * trial's job is cancelled before its last step; its rung fitness is 1 / (1 + the loss its job
 * reported at that step) and lies below a trial that went on past that rung; the 8 trials ran
 * as 8 jobs, never more than 2 at once; the best trial was never stopped. That a stopped
 * trial's slot goes to the next trial in the same pass is tune-runner.test.ts's: here the other
 * running trial may end in that pass too, so which end freed which slot is not told apart.
 */
import t from 'tap';
import { liveCluster } from './live-helpers.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';

const STEPS = 30;
const BAD_LR = 0.05;

t.test('ASHA stops the bad half early', async (t) => {
  const { c, api } = await liveCluster(t, 'as', { deadAfterMs: 20_000 });
  await startAgentProc(t, c, 'a1', 2);
  const st = await api.startStudy({
    name: 'asha',
    base: { trainer: { kind: 'logreg', steps: STEPS, step_delay_ms: 200 }, checkpoint_every: 1000 },
    space: { lr: [0.0005, 1] },
    method: 'random',
    trials: 8,
    concurrency: 2,
    seed: 4,
    asha: { grace: 4, reduction_factor: 2 },
  });
  const done = await until(
    'the study ended',
    async () => {
      const s = await api.study(st.id);
      return s.state !== 'running' && s;
    },
    600_000,
  );
  t.equal(done.state, 'succeeded', done.message ?? '');
  t.comment(done.trials.map((x) => `t${x.n} lr ${x.hyp.lr} ${x.state} ${x.fitness} rungs ${JSON.stringify(x.rungs ?? {})}`).join('\n'));
  const bad = done.trials.filter((x) => x.hyp.lr < BAD_LR);
  t.ok(bad.length >= 2, `seed 4 samples bad learning rates (${bad.map((x) => x.hyp.lr).join(', ')})`);
  for (const x of bad)
    t.match(
      x,
      { state: 'stopped', message: /stopped by ASHA after 4 steps/ },
      `trial ${x.n} (lr ${x.hyp.lr}) is stopped at its first rung`,
    );

  // each trial job's life (from its state events) and its losses (from its metric events)
  const life = new Map<string, { created: number; running: number; end: number; losses: Map<number, number> }>();
  for (const x of done.trials) {
    const l = {
      created: Number.POSITIVE_INFINITY,
      running: Number.POSITIVE_INFINITY,
      end: 0,
      losses: new Map<number, number>(),
    };
    for await (const { event: e } of api.events(x.job_id, { follow: false })) {
      if (e.type === 'state') {
        l.created = Math.min(l.created, e.ts);
        if (e.state === 'running') l.running = Math.min(l.running, e.ts);
        if (['succeeded', 'failed', 'cancelled'].includes(e.state)) l.end = Math.max(l.end, e.ts);
      }
      if (e.type === 'metric' && typeof e.values.loss === 'number') l.losses.set(e.step, e.values.loss);
    }
    life.set(x.job_id, l);
  }

  const stopped = done.trials.filter((x) => x.state === 'stopped');
  t.ok(stopped.length >= bad.length && stopped.length < done.trials.length, `${stopped.length} of 8 trials stopped`);
  for (const x of stopped) {
    const job = await api.get(x.job_id);
    const l = life.get(x.job_id)!;
    const rung = Math.max(...Object.keys(x.rungs ?? {}).map(Number));
    t.equal(job.state, 'cancelled', `trial ${x.n}: its job is cancelled`);
    t.ok(job.step < STEPS && Math.max(...l.losses.keys()) < STEPS, `trial ${x.n}: stopped at step ${job.step}, before its last (${STEPS})`);
    const loss = [...l.losses].sort((a, b) => a[0] - b[0]).find(([s]) => s >= rung)![1];
    t.equal(x.fitness, 1 / (1 + loss), `trial ${x.n}: rung ${rung} fitness ${x.fitness} = 1 / (1 + its job's loss at step ${rung})`);
    const better = done.trials.filter((y) => y.n !== x.n && (y.rungs?.[rung] ?? -1) > (x.fitness as number));
    t.ok(
      better.some((y) => y.state !== 'stopped' || Object.keys(y.rungs ?? {}).some((r) => Number(r) > rung)),
      `trial ${x.n}: below trial(s) ${better.map((y) => y.n).join(', ')} that went on past rung ${rung}`,
    );
  }
  const edges = [...life.values()].flatMap((l) => [
    [l.running, 1],
    [l.end, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (live += d));
  t.ok(most > 0 && most <= 2, `at most 2 trial jobs running at once (${most}), from their state events`);
  t.equal((await api.list()).filter((j) => (j as { study?: string }).study === st.id).length, 8, 'one job per trial');
  t.not(done.trials[done.best!].state, 'stopped', `the best trial (${done.best}) ran to its end`);
});
