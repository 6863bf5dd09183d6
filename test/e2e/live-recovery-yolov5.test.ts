/**
 * Live recovery of a 2-rank YOLOv5 job (fit() on every rank) with real processes: rank 1 is
 * SIGKILLed mid-epoch; rank 0 keeps its process, its step in flight is undone (fit's
 * StepInterruptedError), the replacement receives rank 0's state as checkpoint bytes over the
 * collective (same SHA-256 on both ranks), every step is trained once, and rank 0's final
 * weights equal a fault-free run's bit for bit (parameters are the same on every rank; the
 * BatchNorm buffers of rank 0 come from its own batches). In measurement mode also the same kill
 * with recovery 'checkpoint'; the comments print, for each, the time from the kill to the next
 * completed step and the steps lost.
 *
 * Defaults: the tiny test model at img 64 (CI). For the README's figures:
 *   FLOTILLA_LIVE_CFG=yolov5n.yaml FLOTILLA_LIVE_IMG=128 npx tap test/e2e/live-recovery-yolov5.test.ts
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobSpecInput } from '../../shared/schemas/job.ts';
import { decodeCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { Objm } from '@nats-io/obj';
import { subjects } from '../../shared/subjects.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { auditSteps, checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';
import { actorsOf, alive, eventsOf, liveCluster, stateLines, finished } from './live-helpers.ts';

const TINY = fileURLToPath(new URL('../worker/fixtures/tiny-yolov5.yaml', import.meta.url));
const cfg = process.env.FLOTILLA_LIVE_CFG ?? TINY;
const img = Number(process.env.FLOTILLA_LIVE_IMG ?? 64);

t.test('live recovery of a 2-rank YOLOv5 job', async (t) => {
  // a long dead-node threshold: setup (tfjs, the model, AutoAnchor) blocks an actor for seconds on a loaded machine
  const { c, nc, api } = await liveCluster(t, 'ly', { deadAfterMs: 20_000, paths: { models: dirname(TINY) } });
  const agent = await startAgentProc(t, c, 'a', 2);
  const trainer = {
    kind: 'yolov5' as const,
    cfg,
    data: 'synthetic',
    img,
    epochs: 2,
    batch: 2,
    synthetic: { train: 16, val: 2, seed: 3 },
    hyp: { warmup_epochs: 0 },
  };
  const base: JobSpecInput = { workers: 2, max_restarts: 2, checkpoint_every: 1000, trainer };
  const finish = (id: string) => finished(api, id, 300_000);
  const lastCkpt = async (id: string) =>
    decodeCheckpoint((await (await new Objm(nc).open(subjects(c.prefix).jobStore(id, 'art'))).getBlob(`${id}/last.ckpt`))!);
  const params = (ck: ReturnType<typeof decodeCheckpoint>) =>
    [...ck.tensors].filter(([k]) => k.startsWith('model/') && !/running_(mean|var)|num_batches/.test(k));

  const ref = await api.submit(base);
  const refDone = await finish(ref.id);
  t.equal(refDone.state, 'succeeded', `the fault-free run succeeded (${refDone.message})`);
  if (refDone.state !== 'succeeded') return;
  const refParams = params(await lastCkpt(ref.id));
  const finalStep = (await api.get(ref.id)).step;

  const killed = async (recovery: 'live' | 'checkpoint') => {
    const job = await api.submit({ ...base, recovery, ...(recovery === 'checkpoint' ? { checkpoint_every: 3 } : {}) });
    // early in epoch 0 (8 steps): a loss during the epoch-end validation still takes the full restart
    // (README: live recovery limits), and the record's step trails the ranks' by a flush or two
    const cur = await until(
      'past step 2',
      async () => {
        const j = await api.get(job.id);
        return j.state === 'running' && j.step >= 2 && j;
      },
      300_000,
    );
    const procs = await actorsOf(nc, c.prefix, cur);
    const victim = procs.find((p) => p.rank === 1)!;
    const survivor = procs.find((p) => p.rank === 0)!;
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    // every change of the record is printed, so a run that leaves the live path says where it went
    let seen = '';
    const g1 = await until(
      'a newer generation running',
      async () => {
        const j = await api.get(job.id);
        const now = `${j.state} g${j.generation}: ${j.message ?? ''}`;
        if (now !== seen) {
          seen = now;
          t.comment(`+${((Date.now() - killedAt) / 1000).toFixed(1)} s ${now}`);
        }
        return j.generation >= 1 && j.state === 'running' && j;
      },
      120_000,
    );
    t.equal(g1.generation, 1, 'the first new generation runs (no second restart)');
    const during = await actorsOf(nc, c.prefix, g1);
    const done = await finish(job.id);
    const events = await eventsOf(api, job.id);
    const before = events.filter((e) => e.type === 'metric' && e.rank === 0 && e.ts <= killedAt && 'box' in e.values).at(-1) as
      | Extract<JobEvent, { type: 'metric' }>
      | undefined;
    const after = events.find((e) => e.type === 'metric' && e.rank === 0 && e.ts > killedAt && e.generation > 0 && 'box' in e.values) as
      | Extract<JobEvent, { type: 'metric' }>
      | undefined;
    const audit = auditSteps(events);
    t.comment(
      `${recovery}: SIGKILL of rank 1 after step ${before?.step}; next completed step ${after?.step} at +${after ? ((after.ts - killedAt) / 1000).toFixed(2) : '?'} s; steps lost ${audit.lostPerChange.join(', ')}`,
    );
    if (process.env.FLOTILLA_LIVE_CFG) {
      // where the time went: the new generation's actor log lines, relative to the kill
      for (const l of agent.output().split('\n')) {
        try {
          const j = JSON.parse(l) as { time?: number; msg?: string; actor?: string; generation?: number };
          if (j.time && j.time > killedAt && j.actor?.startsWith(job.id))
            t.comment(`  +${((j.time - killedAt) / 1000).toFixed(2)} s ${j.actor.slice(job.id.length)} ${j.msg}`);
        } catch {
          /* not a log line */
        }
      }
    }
    return { job, done, events, survivor, audit, survivorStayed: during.some((p) => p.pid === survivor.pid) };
  };

  await t.test("recovery 'live'", async (t) => {
    const { job, done, events, survivor, audit, survivorStayed } = await killed('live');
    t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
    t.equal(done.restarts, 1, 'one recovery');
    t.ok(survivorStayed, `rank 0 kept its process (pid ${survivor.pid}) into generation 1`);
    const st = stateLines(events, 1);
    t.equal(st.length, 2, `both ranks reported the agreed state (${st.map((s) => s.msg).join(' | ')})`);
    t.ok(
      st[0]?.sha && st[0].sha === st[1]?.sha,
      `the replacement's state equals the survivor's, bit for bit (${st[0]?.sha?.slice(0, 12)})`,
    );
    t.same(
      st.map((s) => [s.rank, s.source]).sort(),
      [
        [0, 'self'],
        [1, 'peer'],
      ],
      'rank 0 kept its state, the replacement got it from rank 0',
    );
    const report = checkSteps(events, finalStep);
    t.ok(report.ok, `step audit: ${report.problems.join('; ') || 'each step once'} (${JSON.stringify(report.firstSteps)})`);
    t.same(audit.lostPerChange, [0], 'no step lost');
    const mine = params(await lastCkpt(job.id));
    t.equal(mine.length, refParams.length, 'same parameter tensors');
    const differ = mine.filter(
      ([k, v], i) =>
        refParams[i][0] !== k ||
        Buffer.compare(
          Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength),
          Buffer.from(refParams[i][1].data.buffer, refParams[i][1].data.byteOffset, refParams[i][1].data.byteLength),
        ) !== 0,
    );
    t.same(
      differ.map(([k]) => k),
      [],
      'final parameters equal the fault-free run, bit for bit',
    );
  });

  // the checkpoint path itself is covered elsewhere (test/worker/yolov5-resume.test.ts, the logreg live test); here it is the comparison
  if (!process.env.FLOTILLA_LIVE_CFG) {
    t.comment("recovery 'checkpoint' comparison skipped: it runs when FLOTILLA_LIVE_CFG is set (measurement mode)");
    return;
  }
  await t.test("recovery 'checkpoint'", async (t) => {
    const { done, survivor } = await killed('checkpoint');
    t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
    await until('the old rank 0 gone', () => !alive(survivor.pid));
    t.pass(`rank 0 (pid ${survivor.pid}) was restarted too`);
  });
});
