/**
 * The study runner's decisions, on a real KV bucket (a real nats-server) with the job side
 * played by the test: at most `concurrency` trials in flight; a trial its hyperparameters
 * failed gets the worst fitness and the search goes on; an infrastructure failure is retried
 * once under a new job id, then recorded as failed; a runner started afresh on the same KV
 * (a head restart) creates the job of a trial written before the stop and no other twice.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { StudyStore } from '../../head/state/study-store.ts';
import { StudyRunner, type RunnerDeps } from '../../head/tune/runner.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { silentLogger } from '../../shared/logger.ts';
import { JobSpec } from '../../shared/schemas/job.ts';
import { StudySpec } from '../../shared/schemas/study.ts';
import type { HeadJob } from '../../head/state/job-store.ts';
import { RESULTS_COLUMNS, resultsHeader, resultsRow } from '../../worker/engine/train/results-csv.ts';

/** The job side: jobs as the controller would keep them, moved by the test. */
function fakeJobs() {
  const jobs = new Map<string, HeadJob>();
  const submitted: string[] = [];
  const csvs = new Map<string, string>();
  const losses = new Map<string, Map<number, number>>();
  const deps: Pick<RunnerDeps, 'jobs' | 'submit' | 'cancel' | 'artifact' | 'stepLosses'> = {
    jobs: { get: (id) => jobs.get(id), update: async (id) => jobs.get(id)! },
    async submit(spec, _owner, as) {
      submitted.push(as.id);
      if (jobs.has(as.id)) throw new FlotillaError('FLO_CONFLICT', `job ${as.id} exists`);
      jobs.set(as.id, {
        id: as.id,
        spec: JobSpec.parse(spec),
        state: 'pending',
        generation: 0,
        restarts: 0,
        step: 0,
        checkpoint_step: null,
        placement: [],
        metrics: {},
        created_at: '',
        updated_at: '',
        seq: 0,
        finished: [],
        study: as.study,
      });
    },
    async cancel(id) {
      const j = jobs.get(id);
      if (j) j.state = 'cancelled';
    },
    artifact: async (id) => csvs.get(id) ?? null,
    stepLosses: async (id) => new Map(losses.get(id)),
  };
  const end = (id: string, state: HeadJob['state'], loss?: number, message?: string) => {
    const j = jobs.get(id)!;
    Object.assign(j, {
      state,
      message,
      step: j.spec.trainer.kind === 'logreg' ? j.spec.trainer.steps : 0,
      metrics: loss === undefined ? {} : { loss },
    });
  };
  /** epochs done, each with fitness f (mAP@0.5 = mAP@0.5:0.95 = f), as the job's results.csv and progress */
  const epochs = (id: string, fs: number[]) => {
    const rows = fs.map((f, e) => resultsRow(RESULTS_COLUMNS.map((c) => (c === 'epoch' ? e : c.startsWith('metrics/mAP') ? f : 0.1))));
    csvs.set(id, `${[resultsHeader(), ...rows].join('\n')}\n`);
    Object.assign(jobs.get(id)!, { state: 'running', metrics: { epoch: fs.length - 1 } });
  };
  /** logreg steps done, step i + 1 with training loss ls[i], as the job's metric events and progress */
  const steps = (id: string, ls: number[]) => {
    losses.set(id, new Map(ls.map((l, i) => [i + 1, l])));
    Object.assign(jobs.get(id)!, { state: 'running', step: ls.length, metrics: { loss: ls.at(-1) } });
  };
  return { jobs, submitted, deps, end, epochs, steps };
}

t.test('concurrency, worst fitness, one retry, and a restart that neither loses nor repeats a trial', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const kv = await new Kvm(nc).create(uniquePrefix('st'), { history: 1 });
  const side = fakeJobs();
  const make = async (store: StudyStore) => new StudyRunner({ ...side.deps, studies: store, problem: () => null, log: silentLogger() });
  const store = new StudyStore(kv);
  const runner = await make(store);
  const spec = StudySpec.parse({
    base: { trainer: { kind: 'logreg', steps: 5 } },
    space: { lr: [0.1, 1] },
    trials: 5,
    concurrency: 2,
    seed: 9,
  });
  const st = await runner.create(spec, 'alice');
  const cur = () => store.get(st.id)!;
  const until = async (what: string, f: () => boolean) => {
    for (let i = 0; i < 100 && !f(); i++) {
      await runner.pass();
      await new Promise((r) => setTimeout(r, 10));
    }
    t.ok(f(), what);
  };
  await until('two trials written and submitted', () => side.submitted.length === 2);
  t.same(
    cur().trials.map((x) => x.job_id),
    [`${st.id}-t0`, `${st.id}-t1`],
    'no more than concurrency = 2 in flight',
  );
  t.equal(
    side.jobs.get(`${st.id}-t0`)!.spec.trainer.kind === 'logreg' && (side.jobs.get(`${st.id}-t0`)!.spec.trainer as { lr: number }).lr,
    0.5,
    'trial 0: the base lr',
  );

  side.end(`${st.id}-t0`, 'failed', undefined, 'rank 0 failed: the summed gradient was NaN or Inf for 5 consecutive steps (up to step 5)');
  await until('a trial its hyperparameters failed: worst fitness, and the search goes on', () => cur().trials.length === 3);
  t.match(cur().trials[0], { state: 'failed', fitness: 0, message: /hyperparameters failed it/ });

  side.end(`${st.id}-t1`, 'failed', undefined, 'restarts exhausted: node w1 is gone');
  await until('an infrastructure failure is retried under a new job id', () => side.submitted.includes(`${st.id}-t1r1`));
  t.match(cur().trials[1], { state: 'pending', attempts: 2, job_id: `${st.id}-t1r1`, fitness: null, message: /retried/ });
  t.equal(cur().trials.length, 3, 'the retry holds its slot: still 2 in flight');
  side.end(`${st.id}-t1r1`, 'failed', undefined, 'restarts exhausted: node w2 is gone');
  await until('a second infrastructure failure: recorded failed with the worst fitness', () => cur().trials[1].state === 'failed');
  t.match(cur().trials[1], { fitness: 0, message: /failed 2 times/ });
  t.equal(cur().trials.length, 4);

  // a head restart: trial 4 is written into the record, its job not yet made (the head stopped between the two)
  runner.stop();
  side.end(`${st.id}-t2`, 'succeeded', 0.25);
  await store.update(st.id, (s) => ({
    ...s,
    trials: [...s.trials, { n: 4, job_id: `${st.id}-t4`, hyp: { lr: 0.3 }, state: 'pending', fitness: null, attempts: 1 }],
  }));
  const before = side.submitted.length;
  const store2 = new StudyStore(kv);
  t.equal(await store2.load(), 1, 'the new head loads the study from KV');
  const runner2 = await make(store2);
  for (let i = 0; i < 5; i++) await runner2.pass();
  t.same(side.submitted.slice(before), [`${st.id}-t4`], 'only the trial without a job gets one, with its recorded id');
  t.equal((side.jobs.get(`${st.id}-t4`)!.spec.trainer as { lr: number }).lr, 0.3, 'and its recorded value');
  t.match(
    store2.get(st.id)!.trials[2],
    { state: 'succeeded', fitness: 1 / 1.25 },
    'a trial that ended while no runner ran is scored (logreg: 1 / (1 + loss))',
  );
  t.equal(store2.get(st.id)!.trials.length, 5, 'no trial beyond the budget');
  side.end(`${st.id}-t3`, 'succeeded', 0.1);
  side.end(`${st.id}-t4`, 'succeeded', 0.5);
  for (let i = 0; i < 5; i++) await runner2.pass();
  const end = store2.get(st.id)!;
  t.match(end, { state: 'succeeded', best: 3, message: /best: trial 3/ }, 'the study ends with its best trial');
  t.equal(side.jobs.size, 6, '5 trials, one retry: 6 jobs, none twice');
  runner2.stop();
});

t.test("ASHA: a trial below its rung's cutoff is stopped, its job cancelled and its slot reused at once", async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const side = fakeJobs();
  const store = new StudyStore(await new Kvm(nc).create(uniquePrefix('sa'), { history: 1 }));
  const runner = new StudyRunner({ ...side.deps, studies: store, problem: () => null, log: silentLogger() });
  const spec = StudySpec.parse({
    base: { trainer: { kind: 'yolov5', epochs: 9 } },
    space: { lr0: [0.001, 0.05] },
    method: 'random',
    trials: 4,
    concurrency: 3,
    asha: {},
  });
  const st = await runner.create(spec);
  const id = (n: number) => `${st.id}-t${n}`;
  const trial = (n: number) => store.get(st.id)!.trials[n];
  // create() starts a pass of its own: a pass while one runs is a no-op, so wait between tries
  for (let i = 0; i < 100 && side.submitted.length < 3; i++) {
    await runner.pass();
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(side.submitted.length, 3, 'three trials at once');
  side.epochs(id(0), [0.5]);
  await runner.pass();
  t.match(trial(0), { state: 'running', rungs: { 1: 0.5 } }, 'the first at rung 1 goes on');
  side.epochs(id(1), [0.2]);
  await runner.pass();
  t.match(
    trial(1),
    { state: 'stopped', fitness: 0.2, rungs: { 1: 0.2 }, message: /stopped by ASHA after 1 epochs/ },
    'below the cutoff of [0.5, 0.2]: stopped',
  );
  t.equal(side.jobs.get(id(1))!.state, 'cancelled', 'its job is cancelled');
  t.ok(side.submitted.includes(id(3)), 'and the next trial takes its slot in the same pass');
  side.epochs(id(2), [0.9, 0.1]);
  side.epochs(id(0), [0.5, 0.55, 0.6]);
  await runner.pass();
  t.match(trial(2), { state: 'running', rungs: { 1: 0.9 } }, 'the top third goes on');
  t.match(trial(0), { state: 'running', rungs: { 1: 0.5 } });
  t.ok(Math.abs((trial(0).rungs?.['3'] ?? 0) - 0.6) < 1e-12, `rung 3 recorded from results.csv row 3 (${trial(0).rungs?.['3']})`);
  side.end(id(0), 'succeeded');
  side.end(id(2), 'succeeded');
  side.end(id(3), 'cancelled', undefined, 'cancelled by its owner');
  for (let i = 0; i < 5; i++) await runner.pass();
  t.equal(store.get(st.id)!.state, 'succeeded', 'the study ends');
  t.match(trial(3), { state: 'cancelled', fitness: null });
  runner.stop();
});

t.test('ASHA on logreg trials: rungs in steps, judged by 1 / (1 + the loss of the rung step)', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const side = fakeJobs();
  const store = new StudyStore(await new Kvm(nc).create(uniquePrefix('sl'), { history: 1 }));
  const runner = new StudyRunner({ ...side.deps, studies: store, problem: () => null, log: silentLogger() });
  const spec = StudySpec.parse({
    base: { trainer: { kind: 'logreg', steps: 20 } },
    space: { lr: [0.01, 1] },
    method: 'random',
    trials: 3,
    concurrency: 2,
    asha: { grace: 4, reduction_factor: 2 },
  });
  const st = await runner.create(spec);
  const id = (n: number) => `${st.id}-t${n}`;
  const trial = (n: number) => store.get(st.id)!.trials[n];
  for (let i = 0; i < 100 && side.submitted.length < 2; i++) {
    await runner.pass();
    await new Promise((r) => setTimeout(r, 10));
  }
  side.steps(id(0), [0.7, 0.6, 0.5]);
  await runner.pass();
  t.equal(trial(0).rungs, undefined, 'no rung before step 4');
  side.steps(id(0), [0.7, 0.6, 0.5, 0.25, 0.2]);
  await runner.pass();
  t.same(trial(0).rungs, { 4: 1 / 1.25 }, 'rung 4: 1 / (1 + the loss of step 4), not of the step the head saw');
  t.equal(trial(0).state, 'running', 'the first at the rung goes on');
  side.steps(id(1), [0.7, 0.69, 0.69, 0.69, 0.69, 0.69]);
  await runner.pass();
  t.match(
    trial(1),
    { state: 'stopped', rungs: { 4: 1 / 1.69 }, message: /stopped by ASHA after 4 steps/ },
    'a worse loss at step 4: stopped',
  );
  t.equal(side.jobs.get(id(1))!.state, 'cancelled', 'its job is cancelled');
  t.ok(side.submitted.includes(id(2)), 'and trial 2 takes its slot in the same pass');
  runner.stop();
});

t.test('a slot-hour budget: trials stop being made once the running time x workers spent it; the study records what it used', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const side = fakeJobs();
  const store = new StudyStore(await new Kvm(nc).create(uniquePrefix('sb'), { history: 1 }));
  const runner = new StudyRunner({ ...side.deps, studies: store, problem: () => null, log: silentLogger() });
  const make = (slotHours: number) =>
    runner.create(
      StudySpec.parse({
        base: { workers: 2, trainer: { kind: 'logreg', steps: 20 } },
        space: { lr: [0.01, 1] },
        method: 'random',
        trials: 5,
        concurrency: 1,
        budget: { slot_hours: slotHours },
      }),
    );
  // 2 workers x 0.1 s = 0.2 slot-s: a budget of 0.1 slot-s is spent by the first trial, 1 slot-hour is not
  const small = await make(0.1 / 3600);
  const big = await make(1);
  for (let i = 0; i < 100 && side.submitted.length < 2; i++) {
    await runner.pass();
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const s of [small, big]) side.jobs.get(`${s.id}-t0`)!.state = 'running';
  await runner.pass();
  t.ok(store.get(small.id)!.trials[0].started_at, 'a running trial starts its clock');
  await new Promise((r) => setTimeout(r, 150));
  for (const s of [small, big]) side.end(`${s.id}-t0`, 'succeeded', 0.5);
  for (let i = 0; i < 3; i++) await runner.pass();
  const a = store.get(small.id)!;
  t.ok((a.trials[0].slot_s ?? 0) >= 2 * 0.15, `the ended trial counts its running time x 2 workers (${a.trials[0].slot_s} slot-s)`);
  t.equal(a.trials[0].started_at, undefined, 'and its clock stops');
  t.match(
    a,
    { state: 'succeeded', message: /budget of [\d.e-]+ slot-hours spent after 1 of 5 trials; best: trial 0/ },
    'the spent budget ends the study',
  );
  t.equal(a.trials.length, 1, 'no trial made past the budget');
  t.ok(a.slot_hours! >= (2 * 0.15) / 3600, `the study records the slot-hours used (${a.slot_hours})`);
  const b = store.get(big.id)!;
  t.equal(b.state, 'running', 'a budget not spent goes on');
  t.equal(b.trials.length, 2, 'and makes the next trial');
  runner.stop();
});
