/**
 * A study survives its head: SIGKILL of the head while trials run, a new head on the same KV
 * resumes the study from its record (trials already written keep their job ids and values; no
 * job is created twice), a trial hit by an injected fault (kill-actor) restarts as a job and is
 * still scored, and the study ends with every trial scored once. logreg trials keep it fast.
 */
import t from 'tap';
import { startNatsServer, uniquePrefix, freePort } from '../kit/nats-server.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc, startHeadProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';

t.test('SIGKILL of the head mid-study, a new head: no trial lost or run twice', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('tr') };
  const port = await freePort();
  const [first] = await Promise.all([startHeadProc(t, c, port), startAgentProc(t, c, 'w1', 2, false)]);
  const api = new HeadClient(first.url);
  await until('worker registered', async () => (await api.workers()).length === 1, 120_000);
  const TRIALS = 6;
  const st = await api.startStudy({
    base: { trainer: { kind: 'logreg', steps: 60, step_delay_ms: 100, features: 4 }, checkpoint_every: 5 },
    space: { lr: [0.05, 1] },
    trials: TRIALS,
    concurrency: 2,
    seed: 3,
  });
  const mid = await until(
    'a trial scored and two in flight',
    async () => {
      const s = await api.study(st.id);
      return s.trials.some((x) => x.fitness !== null) && s.trials.filter((x) => x.state === 'running').length === 2 && s;
    },
    240_000,
  );
  t.comment(`head killed with ${mid.trials.length} trials written: ${mid.trials.map((x) => `${x.n}:${x.state}`).join(' ')}`);
  await first.p.kill('SIGKILL');
  await startHeadProc(t, c, port);
  // a fault in a trial that runs under the new head: its job restarts and the trial is still scored
  const victim = await until(
    'a running trial under the new head',
    async () => {
      const s = await api.study(st.id).catch(() => undefined);
      const r = s?.trials.find((x) => x.state === 'running' && x.n >= mid.trials.length - 1);
      if (!r) return undefined;
      const j = await api.get(r.job_id);
      // early enough that the kill lands before the trial's last step even on a loaded machine
      return j.state === 'running' && j.step >= 3 && j.step <= 30 && r;
    },
    240_000,
  );
  await api.injectFaults(victim.job_id, { kind: 'kill-actor' });
  const done = await until(
    'study ended',
    async () => {
      const s = await api.study(st.id).catch(() => undefined);
      return s && s.state !== 'running' && s;
    },
    400_000,
  );
  t.equal(done.state, 'succeeded', done.message ?? '');
  t.same(
    done.trials.map((x) => x.job_id),
    Array.from({ length: TRIALS }, (_, n) => `${st.id}-t${n}`),
    'every trial once, under its own id, no retry needed',
  );
  for (const x of mid.trials) t.same(done.trials[x.n].hyp, x.hyp, `trial ${x.n} kept the values written before the kill`);
  t.ok(
    done.trials.every((x) => x.state === 'succeeded' && typeof x.fitness === 'number' && x.fitness > 0),
    'every trial scored',
  );
  const jobs = (await api.list()).filter((j) => (j as { study?: string }).study === st.id);
  t.equal(jobs.length, TRIALS, `${TRIALS} jobs for ${TRIALS} trials: none created twice`);
  for (const j of jobs)
    t.equal((j.spec.trainer as { lr: number }).lr, done.trials.find((x) => x.job_id === j.id)!.hyp.lr, `${j.id} ran with its trial's lr`);
  const hit = jobs.find((j) => j.id === victim.job_id)!;
  t.ok(
    hit.restarts >= 1 || hit.generation >= 1,
    `the faulted trial ${hit.id} recovered as a job (generation ${hit.generation}, restarts ${hit.restarts}) and was scored`,
  );
});
