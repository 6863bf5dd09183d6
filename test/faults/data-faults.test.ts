/**
 * Faults of data, in real logreg jobs: a NaN gradient on one rank is skipped by every rank (a
 * `log` event says so, the step's metric counts it, both ranks end with the same weights), five
 * in a row fail the job with a message that says what to fix; corrupt-checkpoint flips bytes of
 * the newest checkpoint in the Object Store (the test reads it back: the recorded SHA-256 no
 * longer matches), and the restore after a kill skips it for the one before.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { subjects } from '../../shared/subjects.ts';
import { faultCluster, faultEvents, faultPhase, finished, jobEvents } from './helpers.ts';

t.test('nan-gradient skipped on every rank; corrupt-checkpoint skipped on restore; 5 NaN steps fail a job', async (t) => {
  const { api, nats, c } = await faultCluster(t, { a: 3 }, 'fd');
  const steps = 30;
  const job = await api.submit({
    workers: 2,
    max_restarts: 3,
    checkpoint_every: 5,
    recovery: 'checkpoint',
    trainer: { kind: 'logreg', steps, step_delay_ms: 100 },
    faults: [
      { kind: 'nan-gradient', target: { rank: 1 }, at_step: 3 },
      { kind: 'corrupt-checkpoint', at_step: 12 },
      { kind: 'kill-actor', target: { rank: 1 }, at_step: 13 },
      { kind: 'crash-actor', target: { rank: 0 }, at_step: 999 },
    ],
  });
  const doomed = await api.submit({
    workers: 1,
    max_restarts: 3,
    trainer: { kind: 'logreg', steps: 20, step_delay_ms: 50 },
    faults: [2, 3, 4, 5, 6].map((s) => ({ kind: 'nan-gradient' as const, at_step: s })),
  });

  const nan = await faultPhase(api, job.id, 'f1', 'injected');
  t.equal(nan.step, 3, 'NaN injected into rank 1 at step 3');
  const corrupt = await faultPhase(api, job.id, 'f2', 'injected');
  t.match(corrupt.message, /checkpoint .*000000000010 \(step 10\)/, `the newest checkpoint was hit: ${corrupt.message}`);
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const os = await new Objm(jetstream(nc)).open(subjects(c.prefix).jobStore(job.id, 'ckpt'));
  const name = `${job.id}/000000000010`;
  const info = await os.info(name);
  const bytes = await os.getBlob(name);
  t.ok(info && bytes, 'the corrupted checkpoint is still there');
  t.not(
    createHash('sha256').update(bytes!).digest('hex'),
    info!.metadata?.['flotilla-sha256'],
    'its bytes no longer match the SHA-256 recorded with it',
  );

  const done = await finished(api, job.id);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  const ev = await jobEvents(api, job.id);
  const skipLog = ev.find((e) => e.type === 'log' && /step 3 skipped on every rank/.test(e.msg));
  t.ok(skipLog, 'a log event says step 3 was skipped on every rank');
  const m3 = ev.find((e) => e.type === 'metric' && e.rank === 0 && e.step === 3 && e.generation === 0);
  t.same(m3?.type === 'metric' ? m3.values : undefined, { skipped_steps: 1 }, 'step 3 has no loss, one skipped step');
  const digests = ev
    .filter((e) => e.type === 'log' && e.generation === done.generation && e.msg.startsWith('done '))
    .map((e) => (e.type === 'log' ? /params_sha256=(\w+)/.exec(e.msg)?.[1] : ''));
  t.equal(digests.length, 2, 'both ranks report their final weights');
  t.equal(new Set(digests).size, 1, 'both ranks end with the same weights');
  const last = ev.filter((e) => e.type === 'metric' && e.rank === 0 && e.step === steps).at(-1);
  t.ok(
    last?.type === 'metric' && Number.isFinite(last.values.loss),
    `the final loss is finite (${last?.type === 'metric' ? last.values.loss : '?'}): no NaN was applied`,
  );
  const skipped = ev.find((e) => e.type === 'log' && /checkpoint .*000000000010 skipped: sha256/.test(e.msg));
  t.ok(skipped, 'the restore skipped the corrupted checkpoint (sha256 mismatch)');
  const resumed = ev.find((e) => e.type === 'metric' && e.rank === 0 && e.generation === 1);
  t.equal(resumed?.type === 'metric' ? resumed.step : undefined, 6, 'generation 1 resumed after the checkpoint before it (step 5)');

  const expired = await faultPhase(api, job.id, 'f4', 'expired');
  t.match(expired.message, /the job ended \(succeeded\) before it fired/, 'a fault whose step never came expired with the job');

  const failed = await finished(api, doomed.id);
  t.equal(failed.state, 'failed', 'five NaN steps in a row fail the job');
  t.match(
    failed.message,
    /NaN or Inf for 5 consecutive steps.*lower the job's trainer\.lr or check the data/,
    `what to fix: ${failed.message}`,
  );
  t.equal(failed.restarts, 0, 'not retried: the same settings would fail again');
  t.same(
    faultEvents(await jobEvents(api, doomed.id))
      .filter((e) => e.phase === 'injected')
      .map((e) => e.step),
    [2, 3, 4, 5, 6],
  );
});
