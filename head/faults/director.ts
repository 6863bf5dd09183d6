/**
 * The head's part of fault injection: it arms faults (ids `f1`, `f2`, … per job, kept in the job
 * record, which only the head writes), publishes every `fault` event (agents may not publish job
 * events), hands each fault to the node that carries it out (NodeControl `fault`) once it is due
 * and the gang is spawned, hands an unfired one again to the next generation's placement, does
 * corrupt-checkpoint itself, records what the nodes report, and expires what never fired when
 * the job ends. A report counts only from the node the fault was handed to (the subject names
 * the sender).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from '../../shared/logger.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { publishEvent } from '../../shared/event-publish.ts';
import type { ArmedFault, FaultPhase, FaultReport, FaultSpec } from '../../shared/schemas/index.ts';
import type { JobStore, HeadJob } from '../state/job-store.ts';
import type { NodeStore } from '../state/node-store.ts';
import { isTerminal } from '../state/transitions.ts';
import { sendFault } from '../supervisor/spawn.ts';
import { corruptNewestCheckpoint } from './corrupt.ts';
import { faultIds, isDue, route, targetProblems, SETTLED, type HeadFault } from './record.ts';

export interface FaultDirectorDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  s: Subjects;
  jobs: JobStore;
  nodes: NodeStore;
  /** a job's checkpoint store (head/job-stores.ts), null when the job has none */
  checkpoints(jobId: string): Promise<ObjectStore | null>;
  log: Logger;
  /** the controller's decision queue (record writes from REST and NATS go through it) */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** how long a node may take to accept a fault (default 5000) */
  deliverTimeoutMs?: number;
}

export class FaultDirector {
  readonly #d: FaultDirectorDeps;
  /** per job, the generation whose spawns all went out (faults go to a gang that exists) */
  readonly #spawned = new Map<string, number>();
  /** `<job>/<fault>` being handed out right now */
  readonly #inFlight = new Set<string>();
  readonly #started = Date.now();

  constructor(d: FaultDirectorDeps) {
    this.#d = d;
  }

  /** The controller: every spawn of this generation was accepted. */
  spawned(jobId: string, generation: number): void {
    this.#spawned.set(jobId, generation);
  }

  /**
   * Arms faults on a job (REST and CLI: it must be running; 409 otherwise). A target rank the
   * job does not have is a 400 naming the field (`path(i)`). Resolves with the new ids.
   */
  arm(jobId: string, specs: FaultSpec[], path: (i: number) => string): Promise<string[]> {
    return this.#d.serial(async () => {
      const j = this.#d.jobs.get(jobId);
      if (!j) throw new FlotillaError('FLO_NOT_FOUND', `no job ${jobId}`);
      if (j.state !== 'running')
        throw new FlotillaError(
          'FLO_INVALID_STATE',
          `job ${jobId} is ${j.state}: faults are injected into a running job (planned ones go in the spec's faults)`,
        );
      const bad = targetProblems(specs, j.spec.workers, path);
      if (bad.length)
        throw new FlotillaError('FLO_VALIDATION', `invalid request: ${bad.map((b) => `${b.field}: ${b.message}`).join('; ')}`, {
          details: bad,
        });
      return this.#arm(j, specs, 'api');
    });
  }

  async #arm(j: HeadJob, specs: FaultSpec[], source: 'spec' | 'api'): Promise<string[]> {
    const now = Date.now();
    let ids: string[] = [];
    let added: HeadFault[] = [];
    const after = await this.#d.jobs.update(j.id, (cur) => {
      const have = cur.faults ?? [];
      ids = faultIds(have.length, specs.length);
      added = specs.map((spec, i) => ({ id: ids[i], spec, source, phase: 'armed' as const, armed_at: now }));
      return { ...cur, faults: [...have, ...added], ...(source === 'spec' ? { planned_armed: true } : {}) };
    });
    for (const f of added) {
      const t = f.spec.target;
      await this.#event(after, f, 'armed', { ...('rank' in t ? { rank: t.rank } : { nodeId: t.node }), source });
    }
    this.#d.log.info({ job: j.id, faults: ids, source }, 'faults armed');
    return ids;
  }

  /** One pass (inside the controller's tick): planned faults, expiry, and deliveries that are due. */
  async tick(now: number): Promise<void> {
    for (const j of this.#d.jobs.list()) {
      if (isTerminal(j.state)) {
        if (j.faults?.some((f) => f.phase === 'armed')) await this.#expire(j);
        continue;
      }
      if (j.state !== 'running') continue;
      if (!j.planned_armed && j.spec.faults.length > 0) await this.#arm(j, j.spec.faults, 'spec');
      const cur = this.#d.jobs.get(j.id) ?? j;
      const ready = this.#spawned.get(j.id) === cur.generation || ((cur.placed_at ?? now) < this.#started && !this.#spawned.has(j.id));
      if (!ready) continue;
      for (const f of cur.faults ?? []) {
        if (f.phase !== 'armed' || f.delivered?.generation === cur.generation || !isDue(f, now)) continue;
        const key = `${cur.id}/${f.id}`;
        if (this.#inFlight.has(key)) continue;
        this.#inFlight.add(key);
        void this.#deliver(cur, f).finally(() => this.#inFlight.delete(key));
      }
    }
  }

  /**
   * The controller, as a job ends and before its terminal `state` event (readers of the event
   * stream stop there): what never fired is expired.
   */
  async ended(j: HeadJob): Promise<void> {
    if (j.faults?.some((f) => f.phase === 'armed')) await this.#expire(j);
  }

  async #expire(j: HeadJob): Promise<void> {
    const armed = (j.faults ?? []).filter((f) => f.phase === 'armed');
    const after = await this.#d.jobs.update(j.id, (cur) => ({
      ...cur,
      faults: (cur.faults ?? []).map((f) => (f.phase === 'armed' ? { ...f, phase: 'expired' as const } : f)),
    }));
    for (const f of armed) await this.#event(after, f, 'expired', { message: `the job ended (${j.state}) before it fired` });
  }

  /** Hands a fault to its node (or does it, for head faults); outside the decision queue. */
  async #deliver(j: HeadJob, f: HeadFault): Promise<void> {
    const r = route(f, j.placement, (n) => this.#d.nodes.has(n));
    if (r.kind === 'wait') return;
    if (r.kind === 'fail') {
      await this.#d.serial(() => this.#record(j.id, f.id, 'failed', { message: r.why }));
      return;
    }
    if (r.kind === 'head') {
      await this.#d.serial(() => this.#corrupt(j.id, f.id, undefined));
      return;
    }
    const armed: ArmedFault = {
      fault_id: f.id,
      jobId: j.id,
      generation: j.generation,
      spec: f.spec,
      nodeId: r.nodeId,
      ...(r.rank === undefined ? {} : { rank: r.rank }),
      ...(r.actorId === undefined ? {} : { actorId: r.actorId }),
    };
    // recorded first: a report may come back before the request's reply
    await this.#d.serial(() =>
      this.#d.jobs.update(j.id, (cur) => ({
        ...cur,
        faults: (cur.faults ?? []).map((x) =>
          x.id === f.id
            ? { ...x, delivered: { generation: j.generation, nodeId: r.nodeId, ...(r.rank === undefined ? {} : { rank: r.rank }) } }
            : x,
        ),
      })),
    );
    try {
      await sendFault(this.#d.nc, this.#d.s, r.nodeId, armed, this.#d.deliverTimeoutMs ?? 5000);
      this.#d.log.info(
        { job: j.id, fault: f.id, kind: f.spec.kind, node: r.nodeId, rank: r.rank, generation: j.generation },
        'fault handed to its node',
      );
    } catch (e) {
      const err = e as FlotillaError;
      if (err.code === 'FLO_UNAVAILABLE') {
        // the node did not answer: hand it out again on a later pass
        this.#d.log.warn({ job: j.id, fault: f.id, node: r.nodeId, err: err.message }, 'fault not delivered; will retry');
        await this.#d.serial(() =>
          this.#d.jobs.update(j.id, (cur) => ({
            ...cur,
            faults: (cur.faults ?? []).map((x) => (x.id === f.id ? { ...x, delivered: undefined } : x)),
          })),
        );
        return;
      }
      await this.#d.serial(() =>
        this.#record(j.id, f.id, 'failed', { nodeId: r.nodeId, rank: r.rank, message: `node ${r.nodeId} refused it: ${err.message}` }),
      );
    }
  }

  /** A node's report (on its own fault subject, `sender` = the node the subject names). */
  onReport(r: FaultReport, sender: string | undefined): Promise<void> {
    return this.#d.serial(async () => {
      const j = this.#d.jobs.get(r.jobId);
      const f = j?.faults?.find((x) => x.id === r.fault_id);
      if (!j || !f) throw new FlotillaError('FLO_NOT_FOUND', `no fault ${r.fault_id} of job ${r.jobId}`);
      if (!sender || f.delivered?.nodeId !== sender)
        throw new FlotillaError('FLO_FORBIDDEN', `fault ${r.fault_id} of job ${r.jobId} was not given to node ${sender}`);
      if (r.phase === 'due') {
        if (r.generation !== j.generation || f.phase !== 'armed')
          throw new FlotillaError('FLO_STALE_GENERATION', `fault ${r.fault_id} is ${f.phase}, job generation ${j.generation}`);
        await this.#corrupt(j.id, f.id, r.step, r.rank);
        return;
      }
      await this.#record(j.id, f.id, r.phase, { nodeId: sender, rank: r.rank, step: r.step, message: r.message });
    });
  }

  async #corrupt(jobId: string, faultId: string, step: number | undefined, rank?: number): Promise<void> {
    try {
      const c = await corruptNewestCheckpoint(await this.#d.checkpoints(jobId), jobId);
      await this.#record(jobId, faultId, 'injected', {
        rank,
        step,
        message: `flipped ${c.flipped} bytes of checkpoint ${c.name} (step ${c.step})`,
      });
    } catch (e) {
      await this.#record(jobId, faultId, 'failed', { rank, step, message: `cannot corrupt a checkpoint: ${(e as Error).message}` });
    }
  }

  /** Moves a fault to `phase` (never back from a settled one) and publishes its event. */
  async #record(
    jobId: string,
    faultId: string,
    phase: FaultPhase,
    at: { nodeId?: string; rank?: number; step?: number; message?: string },
  ): Promise<void> {
    const before = this.#d.jobs.get(jobId)?.faults?.find((x) => x.id === faultId);
    if (!before || (SETTLED as readonly string[]).includes(before.phase) || (phase === 'injected' && before.phase === 'injected')) return;
    const after = await this.#d.jobs.update(jobId, (cur) => ({
      ...cur,
      faults: (cur.faults ?? []).map((x) =>
        x.id === faultId ? { ...x, phase, ...(at.step === undefined || phase !== 'injected' ? {} : { step: at.step }) } : x,
      ),
    }));
    const f = after.faults?.find((x) => x.id === faultId) ?? before;
    await this.#event(after, f, phase, {
      ...(at.rank === undefined ? {} : { rank: at.rank }),
      ...(at.nodeId ? { nodeId: at.nodeId } : {}),
      ...(at.step === undefined ? {} : { step: at.step }),
      ...(at.message ? { message: at.message } : {}),
    });
    this.#d.log.info({ job: jobId, fault: faultId, kind: f.spec.kind, phase, ...at }, 'fault');
  }

  async #event(
    j: HeadJob,
    f: HeadFault,
    phase: FaultPhase,
    extra: { rank?: number; nodeId?: string; step?: number; source?: 'spec' | 'api'; message?: string },
  ): Promise<void> {
    await publishEvent(this.#d.js, this.#d.s, {
      type: 'fault',
      jobId: j.id,
      ts: Date.now(),
      generation: j.generation,
      fault_id: f.id,
      phase,
      fault: f.spec,
      ...extra,
    }).catch((err: Error) => this.#d.log.warn({ job: j.id, fault: f.id, err: err.message }, 'fault event not published'));
  }
}
