/**
 * A burst of short jobs on two one-slot agent processes with warm pools (the path
 * `bench:recovery --only throughput` measures): every job succeeds at its final step, its
 * report's invariants hold (the step audit: each step reported once, none skipped), every job
 * of the burst ends with the same weights (same spec, same seed: no state crossed from one job
 * to the next in a reused process), and the agents ran them in processes given back to their
 * pools (worker/actor/reuse.ts).
 */
import t from 'tap';
import { until } from '../head/helpers/wait.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { liveCluster } from './live-helpers.ts';

const JOBS = 8;
const STEPS = 3;

t.test(`${JOBS} short logreg jobs at once on 2 slots: all succeed, audits clean, processes reused`, async (t) => {
  const { c, api } = await liveCluster(t, 'sj');
  await startAgentProc(t, c, 'p1', 1);
  await startAgentProc(t, c, 'p2', 1);
  await until(
    'both warm pools ready',
    async () => {
      const ws = await api.workers();
      return ws.length === 2 && ws.every((w) => (w.warm?.ready ?? 0) >= 1);
    },
    120_000,
  );
  const trainer = { kind: 'logreg' as const, steps: STEPS, features: 4, batch: 8, seed: 5 };
  const ids = await Promise.all(Array.from({ length: JOBS }, () => api.submit({ workers: 1, trainer }).then((j) => j.id)));
  const done = await until(
    'every job ended',
    async () => {
      const js = (await api.list()).filter((j) => ids.includes(j.id));
      return js.length === JOBS && js.every((j) => ['succeeded', 'failed', 'cancelled'].includes(j.state)) && js;
    },
    300_000,
  );
  for (const j of done)
    t.match(j, { state: 'succeeded', step: STEPS, restarts: 0 }, `job ${j.id} succeeded at step ${STEPS} without a restart`);
  const digests = new Set<string | null>();
  for (const id of ids) {
    const r = await api.report(id);
    t.ok(
      r.ok,
      `job ${id}: every invariant holds (failed: ${
        r.invariants
          .filter((i) => i.ok === false)
          .map((i) => `${i.name}: ${i.detail}`)
          .join('; ') || 'none'
      })`,
    );
    t.equal(r.last_step, STEPS, `job ${id}: rank 0 reported its last step`);
    digests.add(r.final_digest);
  }
  t.equal(digests.size, 1, 'every job of the burst ends with the same weights');
  t.notOk(digests.has(null), 'and reported them');
  const reused = await until(
    'the heartbeats count the processes given back',
    async () => {
      const n = (await api.workers()).reduce((a, w) => a + (w.warm?.reused ?? 0), 0);
      return n >= JOBS - 2 && n;
    },
    30_000,
  );
  // every clean end gives its process back; one whose socket outlived reuse.ts's 1 s wait exits instead
  t.ok(reused >= JOBS - 2, `${reused} of ${JOBS} processes went back to their pools`);
});
