/**
 * The study runner of the head that holds the lease: on every pass it scores the trials whose
 * jobs ended (outcome.ts), samples new trials while fewer than `concurrency` are in flight, and
 * ends the study when every trial has a result. A trial is first written into the study's KV
 * record (with its sampled values and its job id `<study>-t<n>`), then its job is created under
 * that id; a head that restarts between the two creates the job from the record, and a create of
 * an id that exists is refused by KV, so no trial is lost or run twice.
 */
import { randomBytes } from 'node:crypto';
import { FlotillaError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { TERMINAL_STATES, type JobSpec } from '../../shared/schemas/job.ts';
import { trialStateOf, type StudyRecord, type StudySpec, type Trial } from '../../shared/schemas/study.ts';
import type { HeadJob } from '../state/job-store.ts';
import type { StudyStore } from '../state/study-store.ts';
import { resultRows, trialOutcome } from './outcome.ts';
import { ashaStops, rungEpochs } from './asha.ts';
import { studyRand } from './rand.ts';
import { evolveNext, fitness, randomNext, type Point } from './search.ts';
import { basePoint, genesOf, trialSpec } from './space.ts';
import { account, slotHoursUsed } from './budget.ts';

/** Jobs run for one trial at most: the first and one retry after an infrastructure failure. */
export const MAX_ATTEMPTS = 2;

export interface RunnerDeps {
  studies: StudyStore;
  jobs: { get(id: string): HeadJob | undefined; update(id: string, fn: () => null): Promise<HeadJob> };
  submit(spec: JobSpec, owner: string | undefined, as: { id: string; study: string }): Promise<unknown>;
  cancel(jobId: string): Promise<unknown>;
  /** a job's artifact as text, or null */
  artifact(jobId: string, name: string): Promise<string | null>;
  /** a logreg job's training loss per step so far, from its metric events (ASHA's rungs of logreg trials) */
  stepLosses(jobId: string): Promise<Map<number, number>>;
  /** why the head cannot write now (cut off from NATS), or null */
  problem(): string | null;
  log: Logger;
}

const inFlight = (t: Trial) => t.state === 'pending' || t.state === 'running';
export const trialJobId = (study: string, n: number, attempt: number) => `${study}-t${n}${attempt > 1 ? `r${attempt - 1}` : ''}`;

/** Trial n's values: from the trials that have a fitness in `st` (evolve) or the bounds (random). */
export function sampleTrial(st: StudyRecord, n: number): Point {
  const genes = genesOf(st.spec);
  const rand = studyRand(st.spec.seed, n);
  if (st.spec.method === 'random') return randomNext(genes, rand);
  const results = st.trials.filter((t) => t.fitness !== null).map((t) => ({ hyp: t.hyp, fitness: t.fitness as number }));
  return evolveNext(n, basePoint(st.spec), results, genes, rand);
}

function bestOf(trials: readonly Trial[]): Trial | undefined {
  return trials.reduce<Trial | undefined>((b, t) => (t.fitness !== null && (!b || t.fitness > (b.fitness as number)) ? t : b), undefined);
}

export class StudyRunner {
  readonly #d: RunnerDeps;
  readonly #endedAt = new Map<string, number>();
  #busy = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(d: RunnerDeps) {
    this.#d = d;
  }

  start(everyMs: number): void {
    this.#timer = setInterval(() => void this.pass(), everyMs);
  }
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  async create(spec: StudySpec, owner?: string): Promise<StudyRecord> {
    const why = this.#d.problem();
    if (why) throw new FlotillaError('FLO_UNAVAILABLE', `the head cannot reach NATS: ${why}`);
    const now = new Date().toISOString();
    const st = await this.#d.studies.create({
      id: `s${Date.now().toString(36)}${randomBytes(3).toString('hex')}`,
      spec,
      state: 'running',
      trials: [],
      ...(owner ? { owner } : {}),
      created_at: now,
      updated_at: now,
    });
    this.#d.log.info({ study: st.id, trials: spec.trials, concurrency: spec.concurrency, method: spec.method }, 'study submitted');
    void this.pass();
    return st;
  }

  async cancel(id: string): Promise<StudyRecord> {
    const st = await this.#d.studies.update(id, (s) => {
      if (s.state !== 'running') return null;
      for (const t of s.trials)
        if (inFlight(t)) {
          t.state = 'cancelled';
          t.message = 'the study was cancelled';
        }
      return { ...s, state: 'cancelled', message: 'cancelled' };
    });
    await this.#cancelTrialJobs(st);
    return st;
  }

  /** One pass over every study; a pass still running makes this one a no-op. */
  async pass(): Promise<void> {
    if (this.#busy || this.#stopped || this.#d.problem()) return;
    this.#busy = true;
    try {
      for (const st of this.#d.studies.list()) {
        try {
          if (st.state === 'running') await this.#step(st);
          else if (st.state === 'cancelled') await this.#cancelTrialJobs(st);
        } catch (e) {
          this.#d.log.warn({ study: st.id, err: (e as Error).message }, 'study pass failed (retried)');
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  async #cancelTrialJobs(st: StudyRecord): Promise<void> {
    for (const t of st.trials) {
      const j = this.#d.jobs.get(t.job_id);
      if (j && !TERMINAL_STATES.includes(j.state)) await this.#d.cancel(t.job_id).catch(() => undefined);
    }
  }

  /** The change an ended or moving trial job makes to its trial (keyed by that job's id), or null. */
  async #observe(study: string, t: Trial): Promise<Partial<Trial> | null> {
    const job = this.#d.jobs.get(t.job_id);
    if (!job) return null;
    if (!TERMINAL_STATES.includes(job.state)) {
      const s = trialStateOf(job.state);
      return s === t.state ? null : { state: s };
    }
    const ended = this.#endedAt.get(job.id) ?? Date.now();
    this.#endedAt.set(job.id, ended);
    const o = await trialOutcome(job, Date.now() - ended, this.#d.artifact);
    switch (o.kind) {
      case 'wait':
        return null;
      case 'scored':
        return { state: 'succeeded', fitness: o.fitness, ...(o.metrics ? { metrics: o.metrics } : {}) };
      case 'hyp-failed':
        return { state: 'failed', fitness: 0, message: `its hyperparameters failed it (worst fitness): ${o.message}` };
      case 'cancelled':
        return { state: 'cancelled', message: o.message };
      case 'retry':
        if (t.attempts >= MAX_ATTEMPTS)
          return {
            state: 'failed',
            fitness: 0,
            message: `failed ${t.attempts} times for infrastructure reasons (worst fitness): ${o.message}`,
          };
        this.#d.log.warn({ job: t.job_id, reason: o.message }, 'trial failed for an infrastructure reason: retried');
        return {
          state: 'pending',
          job_id: trialJobId(study, t.n, t.attempts + 1),
          attempts: t.attempts + 1,
          message: `retried: ${o.message}`,
        };
    }
  }

  /**
   * ASHA: the fitness at each rung the trial's job has passed and the trial has not recorded yet.
   * YOLOv5: from its results.csv (rungs in epochs). logreg: 1 / (1 + the training loss of the
   * rung's step, or of the first later step that reported one), from its metric events (rungs in steps).
   */
  async #rungsReached(st: StudyRecord, t: Trial): Promise<Record<string, number> | null> {
    const job = this.#d.jobs.get(t.job_id);
    const a = st.spec.asha;
    if (!a || !job || TERMINAL_STATES.includes(job.state)) return null;
    const tr = job.spec.trainer;
    const len = tr.kind === 'yolov5' ? tr.epochs : tr.steps;
    const open = rungEpochs(a.grace, a.reduction_factor, len).filter((r) => t.rungs?.[r] === undefined);
    const done = tr.kind === 'yolov5' ? (job.metrics.epoch ?? -1) + 1 : job.step;
    if (!open.length || done < open[0]) return null;
    const out: Record<string, number> = {};
    if (tr.kind === 'yolov5') {
      const csv = await this.#d.artifact(job.id, 'results.csv');
      const rows = csv === null ? [] : resultRows(csv);
      for (const r of open) if (rows.length >= r) out[r] = fitness(rows[r - 1]);
    } else {
      const losses = [...(await this.#d.stepLosses(job.id))].sort((x, y) => x[0] - y[0]);
      for (const r of open) {
        const at = losses.find(([step]) => step >= r);
        if (at) out[r] = 1 / (1 + at[1]);
      }
    }
    return Object.keys(out).length ? out : null;
  }

  async #step(st: StudyRecord): Promise<void> {
    const changes = new Map<string, Partial<Trial>>();
    const reached = new Map<string, Record<string, number>>();
    for (const t of st.trials) {
      if (t.state === 'stopped') {
        const j = this.#d.jobs.get(t.job_id);
        if (j && !TERMINAL_STATES.includes(j.state)) await this.#d.cancel(t.job_id).catch(() => undefined);
      }
      if (!inFlight(t)) continue;
      const c = await this.#observe(st.id, t);
      if (c) changes.set(t.job_id, c);
      const r = c?.state === undefined || inFlight(c as Trial) ? await this.#rungsReached(st, t) : null;
      if (r) reached.set(t.job_id, r);
    }
    const next = await this.#d.studies.update(st.id, (cur) => {
      if (cur.state !== 'running') return null;
      let changed = false;
      const now = Date.now();
      const workers = cur.spec.base.workers;
      cur.trials = cur.trials.map((t) => {
        const c = inFlight(t) ? changes.get(t.job_id) : undefined;
        if (!c) return t;
        changed = true;
        const u = { ...t, ...c };
        account(u, t, workers, now);
        return u;
      });
      const asha = cur.spec.asha;
      for (const t of cur.trials) {
        const r = inFlight(t) && asha ? reached.get(t.job_id) : undefined;
        if (!r || !asha) continue;
        changed = true;
        for (const [epochs, f] of Object.entries(r).sort((x, y) => Number(x[0]) - Number(y[0]))) {
          t.rungs = { ...t.rungs, [epochs]: f };
          const recorded = cur.trials.flatMap((x) => (x.rungs?.[epochs] === undefined ? [] : [x.rungs[epochs]]));
          if (ashaStops(f, recorded, asha.reduction_factor)) {
            const before = { ...t };
            Object.assign(t, {
              state: 'stopped',
              fitness: f,
              message: `stopped by ASHA after ${epochs} ${cur.spec.base.trainer.kind === 'yolov5' ? 'epochs' : 'steps'}: fitness ${f} below the rung's cutoff (${recorded.length} recorded there)`,
            });
            account(t, before, workers, now);
            break;
          }
        }
      }
      const budget = cur.spec.budget?.slot_hours;
      const spent = budget !== undefined && slotHoursUsed(cur, now) >= budget;
      while (!spent && cur.trials.length < cur.spec.trials && cur.trials.filter(inFlight).length < cur.spec.concurrency) {
        const n = cur.trials.length;
        cur.trials.push({ n, job_id: trialJobId(cur.id, n, 1), hyp: sampleTrial(cur, n), state: 'pending', fitness: null, attempts: 1 });
        changed = true;
      }
      const best = bestOf(cur.trials);
      if (best && best.n !== cur.best) {
        cur.best = best.n;
        changed = true;
      }
      if ((spent || cur.trials.length === cur.spec.trials) && !cur.trials.some(inFlight)) {
        cur.state = 'succeeded';
        cur.message = best ? `best: trial ${best.n} (job ${best.job_id}), fitness ${best.fitness}` : 'no trial has a fitness';
        if (spent && cur.trials.length < cur.spec.trials)
          cur.message = `budget of ${budget} slot-hours spent after ${cur.trials.length} of ${cur.spec.trials} trials; ${cur.message}`;
        changed = true;
      }
      if (changed) cur.slot_hours = Number(slotHoursUsed(cur, now).toPrecision(6));
      return changed ? cur : null;
    });
    if (next.state !== 'running' && st.state === 'running')
      this.#d.log.info({ study: st.id, state: next.state, message: next.message }, 'study ended');
    for (const t of next.trials) {
      if (inFlight(t) && !this.#d.jobs.get(t.job_id)) await this.#createJob(next, t);
      const j = t.state === 'stopped' ? this.#d.jobs.get(t.job_id) : undefined;
      if (j && !TERMINAL_STATES.includes(j.state)) {
        this.#d.log.info({ study: st.id, trial: t.n, job: t.job_id }, t.message ?? 'stopped by ASHA');
        await this.#d.cancel(t.job_id);
      }
    }
  }

  async #createJob(st: StudyRecord, t: Trial): Promise<void> {
    const spec = trialSpec(st.spec, t.hyp, `${st.spec.name ?? st.id} trial ${t.n}`);
    try {
      await this.#d.submit(spec, st.owner, { id: t.job_id, study: st.id });
      this.#d.log.info({ study: st.id, trial: t.n, job: t.job_id, hyp: t.hyp }, 'trial submitted');
    } catch (e) {
      // made before a restart (the record was written, the head stopped before it saw the job): read it
      if (e instanceof FlotillaError && e.code === 'FLO_CONFLICT') await this.#d.jobs.update(t.job_id, () => null);
      else throw e;
    }
  }
}
