import t from 'tap';
import { actorSpec, control, exits, jobSpec, natsEnv, startTestAgent, waitActor } from './helpers.ts';

t.test('a rank SIGKILLed mid-job: it exits retryable, and its peer fails the allreduce as retryable', async (t) => {
  const env = await natsEnv(t, 'pl');
  const ex = exits(env.nc, env.s);
  await startTestAgent(t, env, { nodeId: 'node-pl', slots: 2 });
  const job = jobSpec({
    workers: 2,
    trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 100 },
    // the timeout also bounds the group's join: long enough for two actor starts on a loaded machine
    allreduce: { algorithm: 'auto', fp16: false, timeout_ms: 10_000 },
  });
  const pids: number[] = [];
  for (const rank of [0, 1]) {
    const r = await control(env.nc, env.s.nodeControl('node-pl'), {
      op: 'spawn',
      actor: actorSpec({ jobId: 'jpl', actorId: `pl-r${rank}`, rank, worldSize: 2, nodeId: 'node-pl', job }),
    });
    pids.push(r.ok ? (r.result as { pid: number }).pid : 0);
  }
  await waitActor(env.nc, env.s, 'pl-r0', (s) => (s.step ?? 0) >= 3);
  process.kill(pids[1], 'SIGKILL');
  t.match((await ex.next((e) => e.actorId === 'pl-r1')).outcome, { kind: 'retryable', signal: 'SIGKILL' });
  const survivor = await ex.next((e) => e.actorId === 'pl-r0');
  t.match(survivor.outcome, { kind: 'retryable' }, `the survivor is retryable (${survivor.outcome.message})`);
  ex.close();
});
