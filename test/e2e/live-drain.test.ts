/**
 * A live drain (JobSpec.recovery 'live', the default): SIGTERM of the agent that carries one
 * rank of a 2-rank job spread over two nodes. Rank 0 checkpoints the step in flight and holds
 * the gang, the node announces it is leaving, and the head keeps the rank on the other node
 * (same actor, same process, its state in memory) and places only the leaving node's rank on a
 * free node; the replacement gets the state from the survivor. Not counted as a restart, no
 * step lost or applied twice, and the final weights equal a fault-free run's, bit for bit. Once
 * with the leaving rank 1 (the survivor is rank 0, whose drain hold must end when the gang moves,
 * not when the hold expires) and once with the leaving rank 0.
 */
import t from 'tap';
import { startAgentProc, type Proc } from '../head/helpers/procs.ts';
import { auditSteps, checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';
import { actorsOf, alive, eventsOf, liveCluster, stateLines, doneDigests, finished, referenceDigests } from './live-helpers.ts';

t.test("live drain: only the leaving node's rank is replaced", async (t) => {
  const { c, nc, api } = await liveCluster(t, 'ldr');
  const names = ['a', 'b', 'c', 'd'];
  const agents = new Map<string, Proc>((await Promise.all(names.map((n) => startAgentProc(t, c, n, 1)))).map((p, i) => [names[i], p]));
  const steps = 50;
  const trainer = { kind: 'logreg' as const, steps, features: 8, batch: 32, seed: 5 };
  const finish = (id: string) => finished(api, id);

  const refDigest = await referenceDigests(t, api, { workers: 2, trainer }); // the same job without faults

  for (const leavingRank of [1, 0]) {
    await t.test(`SIGTERM of the node with rank ${leavingRank}`, async (t) => {
      // no periodic checkpoint: a restart of the whole gang would go back to the drain checkpoint at best
      const job = await api.submit({ workers: 2, max_restarts: 0, checkpoint_every: 1000, trainer: { ...trainer, step_delay_ms: 80 } });
      const cur = await until('running past step 10', async () => {
        const j = await api.get(job.id);
        return j.state === 'running' && j.step >= 10 && j;
      });
      const procs = await actorsOf(nc, c.prefix, cur);
      t.equal(procs.length, 2, 'both actors answer');
      const leaving = procs.find((p) => p.rank === leavingRank)!;
      const survivor = procs.find((p) => p.rank !== leavingRank)!;
      const leavingNode = cur.placement.find((p) => p.actorId === leaving.actorId)!.nodeId;
      const survivorNode = cur.placement.find((p) => p.actorId === survivor.actorId)!.nodeId;
      t.not(leavingNode, survivorNode, 'one rank per node (one slot each)');
      const agent = agents.get(leavingNode)!;
      agents.delete(leavingNode);
      await agent.kill('SIGTERM');
      t.equal((await agent.exited).code, 0, 'the leaving agent exits 0 after its actor');
      const next = await until('the new generation running', async () => {
        const j = await api.get(job.id);
        return j.generation > cur.generation && j.state === 'running' && j;
      });
      t.ok(alive(survivor.pid), `the survivor (rank ${survivor.rank}, pid ${survivor.pid}) still runs in generation ${next.generation}`);
      t.ok(
        next.placement.some((p) => p.actorId === survivor.actorId && p.rank === survivor.rank),
        `the new placement keeps actor ${survivor.actorId}`,
      );
      t.notOk(
        next.placement.some((p) => p.nodeId === leavingNode),
        'nothing is placed on the leaving node',
      );
      const done = await finish(job.id);
      t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
      t.equal(done.restarts, 0, 'a drain is not a restart (max_restarts 0 would have failed the job)');
      const events = await eventsOf(api, job.id);
      const report = checkSteps(events, steps);
      t.ok(report.ok, `step audit: ${report.problems.join('; ') || 'contiguous'} (${JSON.stringify(report.firstSteps)})`);
      t.same(auditSteps(events).lostPerChange, [0], 'one generation change, no step redone');
      const g = report.generations.at(-1)!;
      const st = stateLines(events, g);
      t.same(
        st.map((s) => s.source).sort(),
        ['peer', 'self'],
        `the survivor kept its state, the replacement received it (${st.map((s) => s.msg).join(' | ')})`,
      );
      t.ok(st[0]?.sha && st[0].sha === st[1]?.sha, 'both ranks hold the same state bytes');
      t.same(doneDigests(events, done.generation), refDigest, 'final weights equal the fault-free run, bit for bit');
      if (leavingRank === 1) {
        const out = agents.get(survivorNode)!.output();
        t.match(out, /drain hold ended: the gang moved/, 'rank 0 (the survivor) stopped holding when the gang moved');
        t.notMatch(out, /drain hold expired/, 'rank 0 did not wait out the hold');
      }
    });
  }
});
