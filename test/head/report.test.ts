/**
 * The job report as a pure function of events and record: each figure checked against an
 * event sequence written by hand (what a kill with rollback, a live replacement, a stall, a
 * corrupt checkpoint and a fault that never fired look like in a job's stream).
 */
import t from 'tap';
import { JobSpec, type JobRecord, type JobSpecInput } from '../../shared/schemas/job.ts';
import { JobEvent } from '../../shared/schemas/event.ts';
import type { FaultSpecInput } from '../../shared/schemas/fault.ts';
import { FaultSpec } from '../../shared/schemas/fault.ts';
import { JobReport } from '../../shared/schemas/report.ts';
import { buildReport } from '../../head/report/build.ts';
import { checkSteps, auditSteps } from '../../head/report/steps.ts';
import { rankSucceeded, placed } from '../../head/state/transitions.ts';
import type { HeadJob } from '../../head/state/job-store.ts';

const J = 'jrep';

/** An event list with a clock: each helper appends one event at the current time, `wait` moves the clock. */
class Stream {
  readonly events: JobEvent[] = [];
  now = 1_000_000;
  wait(ms: number): this {
    this.now += ms;
    return this;
  }
  #push(e: Record<string, unknown>): this {
    this.events.push(JobEvent.parse({ jobId: J, ts: this.now, ...e }));
    return this;
  }
  state(generation: number, state: string, restarts = 0, message?: string): this {
    return this.#push({ type: 'state', generation, state, restarts, ...(message ? { message } : {}) });
  }
  /** rank-0 steps from..to, 100 ms apart, with a checkpoint event at every multiple of `every` */
  steps(generation: number, from: number, to: number, every = 5): this {
    for (let s = from; s <= to; s++) {
      this.wait(100).#push({ type: 'metric', generation, rank: 0, step: s, values: { loss: 1 / s } });
      if (s % every === 0) this.#push({ type: 'checkpoint', generation, step: s, name: `${J}/${String(s).padStart(12, '0')}` });
    }
    return this;
  }
  metric(generation: number, step: number, epoch?: number): this {
    return this.#push({ type: 'metric', generation, rank: 0, step, values: { x: 1 }, ...(epoch === undefined ? {} : { epoch }) });
  }
  fault(generation: number, id: string, phase: string, fault: FaultSpecInput, extra: Record<string, unknown> = {}): this {
    return this.#push({ type: 'fault', generation, fault_id: id, phase, fault: FaultSpec.parse(fault), ...extra });
  }
  log(generation: number, level: string, msg: string, rank?: number): this {
    return this.#push({ type: 'log', generation, level, msg, ...(rank === undefined ? {} : { rank }) });
  }
}

function record(over: Omit<Partial<JobRecord>, 'spec'> & { spec?: JobSpecInput } = {}): JobRecord {
  const { spec, ...rest } = over;
  const iso = new Date(0).toISOString();
  return {
    id: J,
    spec: JobSpec.parse(spec ?? { workers: 2, checkpoint_every: 5, trainer: { kind: 'logreg', steps: 20 } }),
    state: 'succeeded',
    generation: 1,
    restarts: 1,
    step: 20,
    checkpoint_step: 20,
    placement: [],
    metrics: {},
    created_at: iso,
    updated_at: iso,
    seq: 1,
    ...rest,
  };
}

const kill = { kind: 'kill-actor', target: { rank: 1 }, at_step: 8 } as const;

t.test('a kill with a rollback: detection, recovery, steps lost, restarts, attribution', async (t) => {
  const s = new Stream()
    .state(0, 'pending')
    .state(0, 'running')
    .steps(0, 1, 7)
    .fault(0, 'f1', 'armed', kill, { source: 'spec' })
    .wait(50)
    .fault(0, 'f1', 'injected', kill, { rank: 1, nodeId: 'n1', step: 8 });
  const injectedAt = s.now;
  s.wait(2500).state(1, 'recovering', 1, 'rank 1 failed: actor killed by SIGKILL');
  const detectedAt = s.now;
  s.wait(300).state(1, 'running', 1).wait(1000).steps(1, 6, 20).state(1, 'succeeded', 1);
  const firstAfter = s.events.find((e) => e.type === 'metric' && e.generation === 1)!.ts;
  const r = JobReport.parse(buildReport(record(), s.events));
  t.equal(r.faults.length, 1);
  const f = r.faults[0];
  t.match(f, { fault_id: 'f1', kind: 'kill-actor', phase: 'injected', rank: 1, nodeId: 'n1', step: 8, generation: 0 });
  t.equal(f.injected_at, injectedAt);
  t.equal(f.detected_at, detectedAt);
  t.match(f.detected_by, /^state recovering \(g1\): rank 1 failed/);
  t.equal(f.detect_s, 2.5);
  t.equal(f.recovered_at, firstAfter);
  t.equal(f.recovered_step, 6, 'the first step after the rollback to checkpoint 5');
  t.equal(f.recover_s, (firstAfter - injectedAt) / 1000);
  t.equal(f.steps_lost, 2, 'steps 6 and 7 computed twice');
  t.equal(f.restarts, 1);
  t.same(
    r.changes.map((c) => [c.from_generation, c.to_generation, c.last_step, c.resumed_step, c.steps_lost, c.fault_id]),
    [[0, 1, 7, 6, 2, 'f1']],
  );
  t.equal(r.steps_lost, 2);
  t.same(
    r.invariants.map((i) => [i.name, i.ok]),
    [
      ['final_step_reached', true],
      ['no_step_applied_twice', true],
      ['no_rollback_past_checkpoint', true],
      ['digest_equals_baseline', null],
    ],
  );
  t.ok(r.ok);
  t.equal(r.last_step, 20);
  t.equal(r.final_step, 20);
  t.ok(checkSteps(s.events, 20).ok, "the tests' step check agrees");
  t.same(auditSteps(s.events).lostPerChange, [2]);
});

t.test("a head reaction that overtook the injector's report still counts (at 0 s) and the fault pays for the change", async (t) => {
  const s = new Stream().state(0, 'running').steps(0, 1, 7).wait(40).state(1, 'recovering', 1, 'rank 1 failed: actor killed by SIGKILL');
  const reactedAt = s.now;
  s.wait(10)
    .fault(1, 'f1', 'injected', kill, { rank: 1, step: 8 })
    .wait(500)
    .state(1, 'running', 1)
    .steps(1, 6, 20)
    .state(1, 'succeeded', 1);
  const r = buildReport(record(), s.events);
  const f = r.faults[0];
  t.equal(f.generation, 0, 'the hit generation is the one that was training, not the one the head had moved to');
  t.equal(f.detected_at, reactedAt);
  t.equal(f.detect_s, 0);
  t.equal(f.recovered_step, 6);
  t.equal(f.steps_lost, 2);
  t.equal(f.restarts, 1);
  t.equal(r.changes[0].fault_id, 'f1');
});

t.test("an actor-side fault whose own warning lands before the head's injected event", async (t) => {
  const nan = { kind: 'nan-gradient', target: { rank: 0 }, at_step: 8 } as const;
  const s = new Stream()
    .state(0, 'running')
    .steps(0, 1, 7)
    .wait(30)
    .log(0, 'warn', 'step 8 skipped on every rank: the summed gradient is NaN/Inf', 0);
  const warnAt = s.now;
  s.metric(0, 8).wait(20).fault(0, 'f1', 'injected', nan, { rank: 0, step: 8 }).steps(0, 9, 20).state(0, 'succeeded');
  const f = buildReport(record({ generation: 0, restarts: 0 }), s.events).faults[0];
  t.equal(f.detected_at, warnAt);
  t.match(f.detected_by, /^warn rank 0: step 8 skipped/);
  t.equal(f.detect_s, 0, 'overtaken: 0 s');
  t.equal(f.recovered_step, 8);
  t.equal(f.recover_s, 0);
});

t.test('live recovery: the new generation goes on after the last step, nothing lost', async (t) => {
  const s = new Stream()
    .state(0, 'running')
    .steps(0, 1, 7)
    .fault(0, 'f1', 'injected', kill, { rank: 1, step: 8 })
    .wait(800)
    .state(1, 'running', 1, 'rank 1 replaced')
    .wait(900)
    .steps(1, 8, 20)
    .state(1, 'succeeded', 1);
  const r = buildReport(record(), s.events);
  t.equal(r.faults[0].detect_s, 0.8);
  t.equal(r.faults[0].recovered_step, 8);
  t.equal(r.faults[0].steps_lost, 0);
  t.equal(r.faults[0].restarts, 1);
  t.ok(r.ok, JSON.stringify(r.invariants));
});

t.test('a stall nobody reacts to: no detection, recovery at the first step at or past the injection step', async (t) => {
  const stall = { kind: 'stall', target: { rank: 1 }, at_step: 8, duration_ms: 2000 } as const;
  const s = new Stream().state(0, 'running').steps(0, 1, 7).fault(0, 'f1', 'injected', stall, { rank: 1, step: 8 });
  const at = s.now;
  s.metric(0, 7); // rank 0's report of step 7 landing after the injection event
  s.wait(2000).fault(0, 'f1', 'ended', stall, { rank: 1 }).wait(150).steps(0, 8, 20).state(0, 'succeeded', 0);
  const r = buildReport(record({ generation: 0, restarts: 0 }), s.events);
  const f = r.faults[0];
  t.equal(f.phase, 'ended');
  t.equal(f.detected_at, null);
  t.equal(f.detect_s, null);
  t.equal(f.recovered_step, 8);
  t.equal(f.recover_s, (s.events.find((e) => e.type === 'metric' && e.step === 8)!.ts - at) / 1000);
  t.equal(f.steps_lost, 0);
  t.equal(f.restarts, 0);
  t.ok(r.ok);
});

t.test('violations: steps applied twice, a rollback past the newest checkpoint, two generations at once, final step missed', async (t) => {
  // generation 1 resumes at 3 (no checkpoint at 2) while checkpoint 5 existed
  const s = new Stream()
    .state(0, 'running')
    .steps(0, 1, 7)
    .fault(0, 'f1', 'injected', kill, { rank: 1, step: 8 })
    .wait(100)
    .state(1, 'recovering', 1)
    .state(1, 'running', 1)
    .steps(1, 3, 6)
    .metric(0, 8)
    .steps(1, 7, 18)
    .state(1, 'failed', 1, 'gave up');
  const r = buildReport(record({ state: 'failed', step: 18, message: 'gave up' }), s.events);
  const inv = Object.fromEntries(r.invariants.map((i) => [i.name, i]));
  t.equal(inv.no_step_applied_twice.ok, false);
  t.match(inv.no_step_applied_twice.detail, /resumed at step 3 .* no checkpoint at 2: steps 3\.\.7 applied twice/);
  t.match(inv.no_step_applied_twice.detail, /generation 0 reported step 8 after generation 1 began/);
  t.equal(inv.no_rollback_past_checkpoint.ok, false);
  t.match(inv.no_rollback_past_checkpoint.detail, /behind the newest valid checkpoint \(step 5\)/);
  t.equal(inv.final_step_reached.ok, false);
  t.match(inv.final_step_reached.detail, /failed at step 18: gave up/);
  t.equal(r.ok, false);
  t.equal(r.faults[0].steps_lost, 5);
  t.notOk(checkSteps(s.events, 20).ok);
  t.equal(auditSteps(s.events).staleAfterNewer, 1);

  const gap = new Stream().state(0, 'running').steps(0, 1, 7).state(1, 'recovering', 1).steps(1, 10, 20).state(1, 'succeeded', 1);
  const g = buildReport(record(), gap.events);
  t.match(g.invariants[1].detail, /resumed at step 10, but generation 0 ended at 7: steps 8\.\.9 skipped/);
  t.equal(g.changes[0].fault_id, null, 'a change with no fault before it is unattributed');
});

t.test("a checkpoint whose own event never reached the stream counts when the head's recovering event names it", async (t) => {
  // steps 1..15 with a checkpoint event at 5 only: the event for 10 was lost with its actor
  const before = () => new Stream().state(0, 'running').steps(0, 1, 9).steps(0, 10, 15, 100);
  const base = before().state(1, 'recovering', 1).steps(1, 11, 20).state(1, 'succeeded', 1);
  const named = before();
  named.events.push(
    JobEvent.parse({ jobId: J, ts: named.now, type: 'state', generation: 1, state: 'recovering', restarts: 1, checkpoint_step: 10 }),
  );
  named.steps(1, 11, 20).state(1, 'succeeded', 1);
  const without = checkSteps(base.events, 20);
  t.notOk(without.ok, 'no checkpoint event at 10 and no word from the head: steps 11..15 applied twice');
  t.match(without.problems.join(), /no checkpoint at 10/);
  const withHead = checkSteps(named.events, 20);
  t.ok(withHead.ok, `the head named checkpoint 10 when the job began recovering: ${withHead.problems.join('; ')}`);
  t.ok(buildReport(record(), named.events).ok);
});

t.test('a corrupt newest checkpoint may be skipped for the one before (fault event or skip log)', async (t) => {
  const corrupt = { kind: 'corrupt-checkpoint' } as const;
  const viaFault = new Stream()
    .state(0, 'running')
    .steps(0, 1, 12)
    .fault(0, 'f1', 'injected', corrupt, { step: 12 })
    .fault(0, 'f2', 'injected', kill, { rank: 1, step: 13 })
    .state(1, 'recovering', 1)
    .steps(1, 6, 20)
    .state(1, 'succeeded', 1);
  const a = buildReport(record(), viaFault.events);
  t.ok(a.ok, `resuming at 6 past the corrupt 10 holds: ${JSON.stringify(a.invariants)}`);
  t.equal(a.faults[1].steps_lost, 7, 'the kill (newest fault before the head reacted) pays for steps 6..12');
  t.equal(a.faults[0].steps_lost, 0);
  t.equal(a.faults[0].detected_at, null, 'a restart caused by the kill is not the detection of the corruption');

  const viaLog = new Stream()
    .state(0, 'running')
    .steps(0, 1, 12)
    .state(1, 'recovering', 1)
    .log(1, 'warn', `checkpoint ${J}/000000000010 skipped: sha256 mismatch`, 0)
    .steps(1, 6, 20)
    .state(1, 'succeeded', 1);
  t.ok(buildReport(record(), viaLog.events).ok);
  const both = new Stream()
    .state(0, 'running')
    .steps(0, 1, 12)
    .fault(0, 'f1', 'injected', corrupt, { step: 12 })
    .state(1, 'recovering', 1)
    .wait(700)
    .log(1, 'warn', `checkpoint ${J}/000000000010 skipped: sha256 mismatch`, 0)
    .steps(1, 6, 20)
    .state(1, 'succeeded', 1);
  const skipAt = both.events.find((e) => e.type === 'log')!.ts;
  t.equal(buildReport(record(), both.events).faults[0].detected_at, skipAt, 'the corruption is detected when a load skips it');
  const unexplained = new Stream().state(0, 'running').steps(0, 1, 12).state(1, 'recovering', 1).steps(1, 6, 20).state(1, 'succeeded', 1);
  t.equal(buildReport(record(), unexplained.events).invariants[2].ok, false, 'without a reason, going back to 5 past 10 is a violation');
});

t.test('a fault that never fired, YOLOv5 repeated step reports, digests against a baseline', async (t) => {
  const s = new Stream()
    .state(0, 'running')
    .fault(0, 'f1', 'armed', { kind: 'kill-actor', at_step: 99 })
    .steps(0, 1, 20)
    .fault(0, 'f1', 'expired', { kind: 'kill-actor', at_step: 99 }, { message: 'the job ended first' })
    .state(0, 'succeeded');
  const digest = 'a'.repeat(64);
  const r = buildReport(record({ generation: 0, restarts: 0, final_digest: digest }), s.events);
  t.match(r.faults[0], { phase: 'expired', injected_at: null, detected_at: null, recovered_at: null, message: 'the job ended first' });
  t.equal(r.invariants[3].ok, null);
  t.equal(buildReport(record({ final_digest: digest }), s.events, record({ id: 'jbase', final_digest: digest })).invariants[3].ok, true);
  const differ = buildReport(record({ final_digest: digest }), s.events, record({ id: 'jbase', final_digest: 'b'.repeat(64) }));
  t.equal(differ.invariants[3].ok, false);
  t.equal(differ.ok, false);
  t.same(differ.baseline, { job_id: 'jbase', final_digest: 'b'.repeat(64) });

  const y = new Stream()
    .state(0, 'running')
    .metric(0, 1, 0)
    .metric(0, 2, 0)
    .metric(0, 2, 0)
    .metric(0, 3, 1)
    .metric(0, 4, 1)
    .metric(0, 4, 1)
    .state(0, 'succeeded');
  const yr = buildReport(
    record({ spec: { trainer: { kind: 'yolov5', epochs: 2 } }, step: 4, generation: 0, restarts: 0 }),
    y.events,
    record({ id: 'jb' }),
  );
  t.equal(yr.final_step, 4);
  t.ok(yr.ok, "an epoch metric on the epoch's last step is not a second application");
  t.match(yr.invariants[3].detail, /not checked: no final digest from job jrep/);
});

t.test("rank 0's success digest becomes the job's final_digest", async (t) => {
  const two = [
    { rank: 0, nodeId: 'n', actorId: 'a0' },
    { rank: 1, nodeId: 'n', actorId: 'a1' },
  ];
  let j: HeadJob = placed({ ...record({ state: 'pending', generation: 0, restarts: 0 }), finished: [] }, two, 0);
  j = rankSucceeded(j, 1, 20, 'c'.repeat(64));
  t.equal(j.final_digest, undefined, "another rank's digest is not the job's");
  j = rankSucceeded(j, 0, 20, 'd'.repeat(64));
  t.equal(j.state, 'succeeded');
  t.equal(j.final_digest, 'd'.repeat(64));
});

t.test('report events are read once: a second report reads only what the stream got since', async (t) => {
  const { ReportEvents } = await import('../../head/report/event-cache.ts');
  const stream = new Stream().state(0, 'running').steps(0, 1, 4);
  const reads: Array<{ jobId: string; from: number | undefined }> = [];
  const reader = async function* (jobId: string, opts: { from?: number }) {
    reads.push({ jobId, from: opts.from });
    for (let i = (opts.from ?? 1) - 1; i < stream.events.length; i++) yield { seq: i + 1, event: stream.events[i] };
  };
  const cache = new ReportEvents(reader, 100);
  const first = (await cache.of(J)).length;
  t.equal(first, stream.events.length, 'the first report reads every event');
  stream.steps(0, 5, 6);
  const second = await cache.of(J);
  t.same(second, stream.events, 'the second holds the old and the new events, in order');
  t.same(
    reads.map((r) => r.from),
    [1, first + 1],
    'and read only from after the last one it had',
  );
  const [a, b] = await Promise.all([cache.of(J), cache.of(J)]);
  t.same([a.length, b.length], [stream.events.length, stream.events.length], 'two reports at once each see every event once');
  // the bound: a second job pushes the first out once the total passes it
  const small = new ReportEvents(reader, stream.events.length + 1);
  await small.of('a');
  await small.of('b');
  t.equal(small.size, stream.events.length, 'the least recently asked for job was dropped');
  await small.of('a');
  t.same(reads.slice(-1), [{ jobId: 'a', from: 1 }], 'and is read again from the start when asked for');
});
