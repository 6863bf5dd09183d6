/**
 * The report of a real job on real processes: a 2-rank logreg job (recovery: checkpoint, so
 * the kill costs a rollback) whose rank-1 actor process
 * the test SIGKILLs itself (publishing the `fault` injected event a fault executor would),
 * then GET /v1/jobs/:id/report and `flotilla report` checked against what the test saw on its
 * own: the pid it killed and when, the event stream's timestamps, the record's restarts, the
 * final weights' digest that rank 0 logged, and a fault-free baseline run of the same spec.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { cli, startAgentProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { waitActor } from '../worker/helpers.ts';
import { subjects } from '../../shared/subjects.ts';
import { publishEvent } from '../../shared/event-publish.ts';
import { JobReport } from '../../shared/schemas/report.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobRecord, JobSpecInput } from '../../shared/schemas/job.ts';

t.test("report of a job whose rank-1 actor was SIGKILLed, against the test's own observations", async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('rp') };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 2000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  await startAgentProc(t, c, 'rp-a', 2);
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const s = subjects(c.prefix);
  const api = new HeadClient(head.url);
  const steps = 30;
  const spec: JobSpecInput = {
    workers: 2,
    max_restarts: 3,
    checkpoint_every: 5,
    recovery: 'checkpoint',
    trainer: { kind: 'logreg', steps, step_delay_ms: 80 },
  };
  const ended = (id: string) =>
    until(
      `job ${id} ended`,
      async () => {
        const j = await api.get(id);
        return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
      },
      120_000,
    );
  const eventsOf = async (id: string) => {
    const out: JobEvent[] = [];
    for await (const e of api.events(id, { follow: false })) out.push(e.event);
    return out;
  };
  const loggedDigest = (ev: JobEvent[]) =>
    ev
      .flatMap((e) => (e.type === 'log' && e.rank === 0 ? [/params_sha256=([0-9a-f]{64})/.exec(e.msg)?.[1]] : []))
      .filter(Boolean)
      .at(-1);

  // the fault-free baseline
  const base = await ended((await api.submit({ ...spec, name: 'baseline' })).id);
  t.equal(base.state, 'succeeded', `baseline succeeded (${base.message})`);
  t.match(base.final_digest, /^[0-9a-f]{64}$/, "the job record carries the final weights' digest");
  t.equal(base.final_digest, loggedDigest(await eventsOf(base.id)), 'the digest is the one rank 0 logged');

  const job = await api.submit({ ...spec, name: 'killed' });
  const mid = await until('rank 0 past step 7', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.step >= 7 && j;
  });
  const victim = mid.placement.find((p) => p.rank === 1)!;
  const st = await waitActor(nc, s, victim.actorId, (x) => x.state === 'running');
  const js = jetstream(nc);
  const tInject = Date.now();
  await publishEvent(js, s, {
    type: 'fault',
    jobId: job.id,
    ts: tInject,
    generation: mid.generation,
    fault_id: 'f1',
    phase: 'injected',
    fault: { kind: 'kill-actor', target: { rank: 1 } },
    rank: 1,
    nodeId: victim.nodeId,
    step: st.step ?? undefined,
    source: 'api',
  });
  process.kill(st.pid, 'SIGKILL');
  const tKill = Date.now();
  t.comment(`killed rank 1 (pid ${st.pid}) at its step ${st.step}`);
  const done: JobRecord = await ended(job.id);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);

  // what the test sees in the stream on its own
  const ev = await eventsOf(job.id);
  const iInj = ev.findIndex((e) => e.type === 'fault' && e.phase === 'injected');
  const recovering = ev.find((e, i) => i > iInj && e.type === 'state' && e.state === 'recovering');
  t.ok(recovering, 'the head went recovering after the kill');
  const metrics = ev.filter((e): e is Extract<JobEvent, { type: 'metric' }> => e.type === 'metric' && e.rank === 0);
  const lastOld = metrics.filter((m) => m.generation === mid.generation).at(-1)!;
  const firstNew = metrics.find((m) => m.generation > mid.generation)!;

  const r = JobReport.parse(await api.report(job.id, base.id));
  t.equal(r.faults.length, 1);
  const f = r.faults[0];
  t.equal(f.injected_at, tInject, 'injected at the time the test published');
  t.equal(f.detected_at, recovering!.ts, "detected = the head's recovering event");
  t.ok(f.detected_at! >= tKill, 'detected after the kill (one clock: one host)');
  t.match(f.detected_by, /rank 1 failed: actor killed by SIGKILL/, 'the reaction names the SIGKILL of the pid the test killed');
  t.equal(f.recovered_at, firstNew.ts, 'recovered = the first rank-0 step of the next generation');
  t.equal(f.recovered_step, firstNew.step);
  t.equal(f.recover_s, (firstNew.ts - tInject) / 1000);
  t.equal(
    f.steps_lost,
    lastOld.step - (firstNew.step - 1),
    `steps lost: generation ${mid.generation} reached ${lastOld.step}, the next resumed at ${firstNew.step}`,
  );
  t.equal(f.restarts, done.restarts, 'restarts as the job record counts them');
  t.equal(done.restarts, 1);
  t.same(
    r.invariants.map((i) => [i.name, i.ok]),
    [
      ['final_step_reached', true],
      ['no_step_applied_twice', true],
      ['no_rollback_past_checkpoint', true],
      ['digest_equals_baseline', true],
    ],
    JSON.stringify(r.invariants),
  );
  t.equal(r.final_digest, base.final_digest, "the killed run ends with the baseline's weights");
  t.comment(`detect ${f.detect_s} s, recover ${f.recover_s} s, steps lost ${f.steps_lost}`);

  const table = await cli(['report', job.id, '--baseline', base.id, '--server', head.url]);
  t.equal(table.code, 0, table.stderr);
  t.comment(`flotilla report:\n${table.stdout}`);
  t.match(table.stdout, /f1\s+kill-actor\s+rank 1 \(rp-a\)/);
  t.match(table.stdout, /digest_equals_baseline\s+yes/);
  const json = await cli(['report', job.id, '--json', '--server', head.url]);
  t.same(JobReport.parse(JSON.parse(json.stdout)).faults[0].steps_lost, f.steps_lost);
  const missing = await cli(['report', 'jnope', '--server', head.url]);
  t.not(missing.code, 0);
  t.match(missing.stderr, /no job jnope/);
});
