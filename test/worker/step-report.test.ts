/**
 * Every applied step is reported once across a live regroup (worker/actor/step-report.ts): rank 0
 * of a new gang reports the agreed step again under the message id of the generation that
 * applied it, so the events stream (a real nats-server with JetStream) keeps the lost rank 0's
 * report when it was stored and the new one when it was not; which steps a new rank 0 reports
 * (a fake context records them).
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { EventPublisher, ensureEventsStream } from '../../worker/actor/events.ts';
import { stepReportId } from '../../worker/actor/runtime.ts';
import { reportAgreed } from '../../worker/actor/step-report.ts';
import type { ActorContext } from '../../worker/actor/context.ts';
import { subjects } from '../../shared/subjects.ts';
import { readEvents } from '../../head/events/read.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';

t.test("a re-reported step is stored once: the lost rank 0's report wins when it arrived", async (t) => {
  const srv = await startNatsServer({ auth: false });
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const prefix = uniquePrefix('sr');
  const s = subjects(prefix);
  await ensureEventsStream(nc, prefix);
  const events = new EventPublisher(nc, prefix, (err) => {
    throw err;
  });
  const jobId = 'job1';
  const metric = (generation: number, step: number, values: Record<string, number>): JobEvent => ({
    type: 'metric',
    jobId,
    generation,
    ts: Date.now(),
    rank: 0,
    step,
    values,
  });
  // generation 0's rank 0 reported steps 1..5, then died after applying 6 without reporting it
  for (let step = 1; step <= 5; step++) await events.emit(metric(0, step, { loss: step }), stepReportId(jobId, 0, step));
  // the new rank 0 (generation 1) re-reports 5 (suppose it was the agreed step) and 6
  await events.emit(metric(1, 5, {}), stepReportId(jobId, 0, 5));
  await events.emit(metric(1, 6, {}), stepReportId(jobId, 0, 6));
  // a later generation that trains step 6 again after a rollback is a different report
  await events.emit(metric(3, 6, { loss: 6 }), stepReportId(jobId, 3, 6));
  const got: JobEvent[] = [];
  for await (const e of readEvents(jetstream(nc), await jetstreamManager(nc), s, jobId, { follow: false })) got.push(e.event);
  const steps = got.flatMap((e) => (e.type === 'metric' ? [`g${e.generation}:${e.step}`] : []));
  t.same(
    steps,
    ['g0:1', 'g0:2', 'g0:3', 'g0:4', 'g0:5', 'g1:6', 'g3:6'],
    'step 5 kept once (the original, with its loss), step 6 filled in by generation 1',
  );
  const five = got.find((e) => e.type === 'metric' && e.step === 5);
  t.same(five?.type === 'metric' && five.values, { loss: 5 }, 'the stored report of step 5 is the one that carried the loss');
});

/** A context that records what reportAgreed asks for. */
function fakeCtx(rank: number): { ctx: ActorContext; calls: string[] } {
  const calls: string[] = [];
  const ctx = {
    spec: { rank },
    reportStep: async (step: number, _v: Record<string, number>, _e?: number, appliedIn?: number) => {
      calls.push(`report ${step}@g${appliedIn}`);
    },
    emitMetric: async (step: number) => {
      calls.push(`metric ${step}`);
    },
  } as unknown as ActorContext;
  return { ctx, calls };
}

t.test('which steps a new rank 0 reports after the gang agreed', async (t) => {
  const cases: [string, number, number, number | undefined, number | undefined, string[]][] = [
    ['a replacement rank 0 (no state of its own) reports the agreed step, as applied', 0, 12, 3, undefined, ['report 12@g3']],
    [
      'a survivor rank 0 at the agreed step reports it too (the stream drops it: it was its own report)',
      0,
      12,
      3,
      undefined,
      ['report 12@g3'],
    ],
    ['a rank 0 whose last allreduce failed reports the step it missed', 0, 12, 3, 11, ['report 12@g3']],
    ['other ranks report nothing', 1, 12, 3, undefined, []],
    ['a state from a checkpoint: its step was reported when it was trained', 0, 20, undefined, undefined, []],
    ['a state from a checkpoint, and this rank was behind it: the steps in between', 0, 20, undefined, 18, ['metric 19', 'metric 20']],
    ['step 0 (nothing trained yet): nothing', 0, 0, 2, undefined, []],
  ];
  for (const [what, rank, step, appliedIn, behind, want] of cases) {
    const { ctx, calls } = fakeCtx(rank);
    await reportAgreed(ctx, step, appliedIn, behind);
    t.same(calls, want, what);
  }
});
