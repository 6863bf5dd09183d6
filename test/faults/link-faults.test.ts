/**
 * Link faults on a rank's collective data lanes, in one real logreg job: slow-link throttles
 * rank 0's sends to 80 kbit/s for 4 s (the test bounds the steps that window can hold from the
 * bytes each step must send, a bound load cannot break), and drop-messages drops all of rank 1's
 * chunks for 2 s (the allreduce times out and the platform recovers instead of hanging).
 */
import t from 'tap';
import { faultCluster, faultPhase, finished, jobEvents } from './helpers.ts';

t.test('slow-link (planned) and drop-messages (posted) on one job', async (t) => {
  const { api } = await faultCluster(t, { a: 2 }, 'fl');
  const steps = 60;
  const features = 4095; // 4096 floats of gradient + 2: 16 KiB per rank per step
  const job = await api.submit({
    workers: 2,
    max_restarts: 4,
    checkpoint_every: 5,
    allreduce: { timeout_ms: 3000 },
    trainer: { kind: 'logreg', steps, features, batch: 16, step_delay_ms: 50 },
    faults: [{ kind: 'slow-link', target: { rank: 0 }, at_step: 5, duration_ms: 4000, rate_kbit: 80 }],
  });
  const slow = await faultPhase(api, job.id, 'f1', 'injected');
  const lifted = await faultPhase(api, job.id, 'f1', 'ended');
  t.equal(slow.step, 5, 'throttled from step 5');
  const events = await jobEvents(api, job.id);
  const inWindow = events.filter((e) => e.type === 'metric' && e.rank === 0 && e.ts > slow.ts && e.ts < lifted.ts).length;
  // each step rank 0 must send at least half of its 16 KiB gradient: >= 0.8 s at 10 kB/s
  const bound = Math.floor((lifted.ts - slow.ts) / 800) + 1;
  t.ok(inWindow <= bound, `${inWindow} steps in the ${lifted.ts - slow.ts} ms window (at most ${bound} at 80 kbit/s)`);

  const drop = (await api.injectFaults(job.id, { kind: 'drop-messages', target: { rank: 1 }, fraction: 1, duration_ms: 2000 }))
    .fault_ids[0];
  const dropped = await faultPhase(api, job.id, drop, 'injected');
  t.equal(dropped.rank, 1, 'rank 1 drops its chunks');
  const done = await finished(api, job.id, 180_000);
  t.equal(done.state, 'succeeded', `job succeeded after the dropped chunks (${done.message})`);
  const all = await jobEvents(api, job.id);
  const states = all
    .filter((e) => e.type === 'state' && e.ts > dropped.ts)
    .map((e) => (e.type === 'state' ? `${e.state}: ${e.message}` : ''));
  t.ok(
    states.some((s) => s.startsWith('recovering')),
    `the lost step was noticed and recovered from (${states.join(' | ')})`,
  );
  t.comment(`restarts ${done.restarts}, generation ${done.generation}`);
});
