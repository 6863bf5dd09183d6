/**
 * A rank killed between two outer syncs of a DiLoCo job (real head, agent, actor processes and
 * nats-server; the kill is the fault-injection API's planned kill-actor): the job succeeds, the
 * survivors keep their process and their inner steps (no rank goes back to the last outer sync
 * or to a checkpoint: every rank of the next generation starts at or past the kill's step), the
 * replacement takes a survivor's live state at the next sync, every step is reported once, and
 * all ranks end with the same parameters. The one thing lost is the killed rank's inner steps.
 */
import t from 'tap';
import { startAgentProc } from '../head/helpers/procs.ts';
import { checkSteps } from '../../head/report/steps.ts';
import { doneDigests, eventsOf, finished, liveCluster, stateLines } from '../e2e/live-helpers.ts';
import { faultPhase } from '../faults/helpers.ts';

t.test('diloco: a rank killed between outer syncs costs only its own inner steps', async (t) => {
  const { c, api } = await liveCluster(t, 'dl');
  await startAgentProc(t, c, 'a', 3);
  const steps = 24,
    killAt = 7,
    every = 5;
  const job = await api.submit({
    workers: 3,
    max_restarts: 3,
    checkpoint_every: 1000, // no checkpoint to fall back on: the state must come from the gang
    trainer: { kind: 'logreg', steps, features: 8, batch: 16, seed: 2, step_delay_ms: 80 },
    sync: { mode: 'diloco', every },
    faults: [{ kind: 'kill-actor', target: { rank: 2 }, at_step: killAt }],
  });
  const kill = await faultPhase(api, job.id, 'f1', 'injected', 300_000); // three actor processes start first: minutes on a loaded machine
  t.equal(kill.step, killAt, `rank 2 killed at step ${killAt}, between the outer syncs of steps ${every} and ${2 * every}`);
  const done = await finished(api, job.id, 300_000);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.equal(done.restarts, 1, 'one recovery');
  const events = await eventsOf(api, job.id);
  const st = stateLines(events, 1).map((s) => ({ ...s, step: Number(/step=(\d+)/.exec(s.msg)?.[1]) }));
  t.equal(st.length, 3, `generation 1: three ranks agreed (${st.map((s) => s.msg).join(' | ')})`);
  t.ok(
    st.every((s) => s.step >= killAt),
    `no rank went back to the last outer sync (step ${every}) or a checkpoint: steps ${st.map((s) => s.step).join(', ')}`,
  );
  t.same(st.map((s) => s.source).sort(), ['peer', 'self', 'self'], 'the survivors kept their own state, the replacement received one');
  const report = checkSteps(events, steps);
  t.ok(report.ok, `steps: ${report.problems.join('; ') || 'every step reported once'}`);
  const digests = doneDigests(events, done.generation);
  t.equal(digests.length, 3, 'three ranks finished');
  t.equal(new Set(digests).size, 1, `all ranks end with the same parameters (${digests[0]?.slice(0, 12)})`);
});
