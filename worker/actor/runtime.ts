/**
 * The actor runtime inside an actor process: lifecycle starting -> running -> stopping ->
 * exited, one AbortSignal fed by stop requests (actorCall `stop`, the agent's IPC `stop`,
 * SIGTERM) and by a jobAbort of a newer generation, an `actorCall` endpoint, and the trainer
 * run with its context. With live recovery (live-gang.ts) a jobAbort that keeps this actor aborts
 * only the collective step in flight, and the actor moves on to the new generation. The result is a typed outcome: resolved -> succeeded, aborted ->
 * cancelled, a non-retryable FlotillaError or any error with `retryable: false` (the engine's) -> fatal, anything else -> retryable.
 * Over 300 lines: the actor's lifecycle, stop paths and trainer context share one AbortSignal and state.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import { decode } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { subjects } from '../../shared/subjects.ts';
import { serve, type ReplyOf } from '../../shared/endpoint.ts';
import { ActorCallEndpoint } from '../../shared/endpoints.ts';
import {
  JobAbort,
  TERMINAL_STATES,
  type ActorCall,
  type ActorStatus,
  type ActorOutcome,
  type ActorSpec,
  type ActorState,
  type JobEvent,
} from '../../shared/schemas/index.ts';
import { getArtifact, putArtifact } from './artifacts.ts';
import { CheckpointStore, type CheckpointEvent } from './checkpoint-store.ts';
import { CheckpointCache } from './node-cache.ts';
import type { ActorContext, TrainerModule, TrainerRegistry } from './context.ts';
import { EventPublisher, ensureEventsStream } from './events.ts';
import { createActorGroup, groupOptions } from './group.ts';
import type { RawLaneSecurity } from '../collective/index.ts';
import { watchGroup, type GroupWatch } from './group-watch.ts';
import type { ActorToAgent } from './ipc.ts';
import { DrainPoint } from './drain.ts';
import { Fence } from './fence.ts';
import { LiveGang, REGROUP_WAIT_MS } from './live-gang.ts';
import { abortableSleep } from './sleep.ts';
import { ActorFaults } from './faults.ts';
import { LinkShaper } from '../collective/index.ts';

export interface RuntimeOptions {
  spec: ActorSpec;
  nc: NatsConnection;
  prefix: string;
  log: Logger;
  /** to the agent (IPC); a no-op when run standalone */
  send?: (m: ActorToAgent) => void;
  /** aborting it stops the actor (SIGTERM, IPC stop, agent gone) */
  stop?: AbortSignal;
  /** trainer kind -> module (actor/main.ts passes worker/trainers/registry.ts) */
  trainers?: TrainerRegistry;
  /** override the trainer (tests); default: the `trainers` entry of spec.job.trainer.kind */
  trainer?: TrainerModule;
  /** checkpoints kept per job (default 3) */
  keepCheckpoints?: number;
  /** opens an extra NATS connection for the collective's data lanes (default: none, data on `nc`) */
  connectLane?: () => Promise<NatsConnection>;
  /** every NATS server URL the actor was given (raw-lane candidates after the main connection's server) */
  servers?: string[];
  /** the actor's creds and TLS for the collective's raw lanes */
  laneSecurity?: RawLaneSecurity;
}

/** The message id of rank 0's report of `step` applied in `generation` (ActorContext.reportStep). */
export function stepReportId(jobId: string, generation: number, step: number): string {
  return `${jobId}-step-g${generation}-s${step}`;
}

/** Why an actor ended, as a typed outcome. */
export function classify(err: unknown, signal: AbortSignal): ActorOutcome {
  const base = { exitCode: null, signal: null };
  if (signal.aborted) return { kind: 'cancelled', message: String(signal.reason ?? 'aborted'), ...base };
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof FlotillaError) {
    if (err.code === 'FLO_CANCELLED') return { kind: 'cancelled', message, ...base };
    if (!err.retryable) return { kind: 'fatal', message: `${err.code}: ${message}`, ...base };
    return { kind: 'retryable', message, ...base };
  }
  // an error that says a retry cannot help (the engine's errors, worker/engine/errors.ts) fails the job
  if ((err as { retryable?: unknown } | null)?.retryable === false)
    return { kind: 'fatal', message: `FLO_ACTOR_FATAL: ${message}`, ...base };
  return { kind: 'retryable', message, ...base };
}

export class ActorRuntime {
  state: ActorState = 'starting';
  step: number | undefined;
  private readonly ac = new AbortController();
  private readonly subs: Subscription[] = [];
  private readonly gang: LiveGang;
  private groupWatch: GroupWatch | undefined;
  private readonly drain: DrainPoint;
  private fence: Fence | undefined;
  /** job events not published because the fence stopped this actor */
  private droppedEvents = 0;
  private lastBeat = 0;
  private readonly send: (m: ActorToAgent) => void;
  /** link faults on this rank's data lanes */
  private readonly shaper = new LinkShaper();
  /** faults given to this actor by its agent (actor/main.ts routes the IPC here) */
  readonly faults: ActorFaults;

  /** partition fault: this rank's data lanes lose everything for `ms` (its nats.js connections are cut apart) */
  cutLanes(ms: number): void {
    this.shaper.cut(ms);
  }

  constructor(private readonly o: RuntimeOptions) {
    this.send = o.send ?? (() => undefined);
    this.faults = new ActorFaults({
      spec: () => this.gang.spec,
      send: (m) => this.send(m),
      shaper: this.shaper,
      log: o.log,
      signal: this.ac.signal,
    });
    this.drain = new DrainPoint(
      () => this.gang.spec,
      () => this.gang.signal,
      o.log,
    );
    this.gang = new LiveGang({
      spec: o.spec,
      stop: this.ac.signal,
      log: o.log,
      openGroup: (spec, signal) =>
        createActorGroup({
          ...groupOptions(o.nc, o.prefix, spec, signal, o.connectLane, o.servers, o.laneSecurity),
          wrapLane: (l) => this.shaper.wrap(l),
          // A gang waits for its ranks' start however it was placed: ranks start at different speeds
          // (one from the agent's warm pool, one cold: seconds apart on a loaded machine), which is no
          // fault of the step exchange that allreduce.timeout_ms bounds. A rank that never starts is
          // the head's to notice (its spawn fails, its node dies): the head's next decision aborts the wait.
          joinTimeoutMs: Math.max(REGROUP_WAIT_MS, spec.job.allreduce.timeout_ms),
        }).then((g) => {
          this.groupWatch?.done();
          this.groupWatch = watchGroup(g, o.log);
          return g;
        }),
      readRecord: () => this.fence?.record() ?? Promise.resolve(undefined),
      onMoved: (spec) => this.fence?.moveTo(spec),
    });
    if (o.stop) {
      if (o.stop.aborted) this.abort(String(o.stop.reason));
      else o.stop.addEventListener('abort', () => this.abort(String(o.stop?.reason)), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** resolves once the actor is told to stop */
  private readonly stopped = new Promise<void>((resolve) => this.ac.signal.addEventListener('abort', () => resolve(), { once: true }));

  abort(reason: string): void {
    if (this.ac.signal.aborted) return;
    this.o.log.info({ reason }, 'actor stopping');
    this.ac.abort(reason);
  }

  private setState(state: ActorState): void {
    this.state = state;
    this.send({ type: 'state', state });
  }

  status(): ActorStatus {
    const spec = this.gang.spec;
    return {
      state: this.state,
      actorId: spec.actorId,
      jobId: spec.jobId,
      generation: spec.generation,
      rank: spec.rank,
      step: this.step ?? null,
      pid: process.pid,
    };
  }

  private onCall(call: ActorCall): ReplyOf<typeof ActorCallEndpoint> {
    switch (call.method) {
      case 'status':
        return this.status();
      case 'stop':
        this.abort('stopped by actorCall');
        return { stopping: true };
    }
  }

  private onAbort(data: Uint8Array): void {
    let a: JobAbort;
    try {
      a = decode(JobAbort, data);
    } catch (err) {
      this.o.log.warn({ err }, 'ignoring a malformed jobAbort');
      return;
    }
    if (a.jobId !== this.o.spec.jobId || a.generation <= this.gang.spec.generation) return;
    if (!this.gang.onAbort(a)) this.abort(`job aborted (generation ${a.generation}): ${a.reason}`);
  }

  /** Publishes a job event unless the fence has stopped this actor (then it is counted and dropped). */
  private emit(events: EventPublisher, e: JobEvent, msgID?: string): Promise<void> {
    // a stopping actor does not wait for JetStream (the publish retries on in the background)
    if (!this.fence?.fenced) return Promise.race([events.emit(e, msgID), this.stopped]);
    if (++this.droppedEvents === 1) this.o.log.warn({ type: e.type }, 'fenced: dropping job events of this generation');
    return Promise.resolve();
  }

  private context(events: EventPublisher, checkpoints: CheckpointStore): ActorContext {
    const { nc, prefix, log } = this.o;
    const gang = this.gang;
    const base = () => ({ jobId: gang.spec.jobId, generation: gang.spec.generation, ts: Date.now() });
    return {
      get spec() {
        return gang.spec;
      },
      nc,
      prefix,
      log,
      checkpoints,
      signal: this.signal,
      faults: this.faults,
      emitMetric: (step, values, epoch) =>
        this.emit(events, { ...base(), type: 'metric', rank: gang.spec.rank, step, values, ...(epoch === undefined ? {} : { epoch }) }),
      reportStep: (step, values, epoch, appliedIn) =>
        this.emit(
          events,
          { ...base(), type: 'metric', rank: gang.spec.rank, step, values, ...(epoch === undefined ? {} : { epoch }) },
          stepReportId(gang.spec.jobId, appliedIn ?? gang.spec.generation, step),
        ),
      emitLog: (level, msg) => this.emit(events, { ...base(), type: 'log', level, rank: gang.spec.rank, msg }),
      saveArtifact: async (name, data) => {
        const bytes = await putArtifact(nc, prefix, gang.spec.jobId, name, data);
        await this.emit(events, { ...base(), type: 'artifact', name, bytes });
      },
      loadArtifact: (name) => getArtifact(nc, prefix, gang.spec.jobId, name),
      group: () => gang.group(),
      regroup: (cause) => gang.regroup(cause),
      heartbeat: (step) => {
        if (step !== undefined) this.step = step;
        const now = Date.now();
        if (now - this.lastBeat < 250) return;
        this.lastBeat = now;
        this.send({ type: 'heartbeat', ...(step === undefined ? {} : { step }) });
      },
      checkpointRequested: () => this.drain.requested(),
      checkpointWritten: (step) => this.drain.written(step),
    };
  }

  /** Whether the job's record shows it ended (cancelled, failed); false when unknown. */
  private async jobEnded(): Promise<boolean> {
    const r = await this.fence?.record().catch(() => undefined);
    return r !== undefined && TERMINAL_STATES.includes(r.state);
  }

  /** Runs the actor to its end; never throws. */
  async run(): Promise<ActorOutcome> {
    const { spec, nc, prefix, log } = this.o;
    const s = subjects(prefix);
    let outcome: ActorOutcome;
    let cache: CheckpointCache | undefined;
    try {
      this.subs.push(serve(nc, ActorCallEndpoint, s.actorCall(spec.actorId), (call) => this.onCall(call), { log }));
      this.subs.push(
        nc.subscribe(s.jobAbort(spec.jobId), {
          callback: (err, m) => {
            if (!err) this.onAbort(m.data);
          },
        }),
      );
      this.drain.listen(nc, s.jobCheckpointAny(spec.jobId));
      const fence = (this.fence = new Fence({
        nc,
        prefix,
        spec,
        onFenced: (v) => {
          log.warn({ verdict: v }, 'actor fenced: stopping');
          this.abort(v.message);
        },
        onBlind: (err) => log.error({ err }, 'fencing off: this actor may not read its job record in the jobs KV bucket (grant it)'),
        onKept: (r) => this.gang.onKeptRecord(r),
      }));
      fence.start();
      await nc.flush();
      // independent round trips to JetStream, taken at once (a replacement's start is on the gang's critical path)
      const streamReady = ensureEventsStream(nc, prefix);
      const events = new EventPublisher(nc, prefix, (err) => log.warn({ err }, 'job event not stored'));
      const onCkpt = (e: CheckpointEvent) => {
        if (e.type === 'saved')
          void this.emit(events, {
            jobId: spec.jobId,
            generation: this.gang.spec.generation,
            ts: Date.now(),
            type: 'checkpoint',
            step: e.step,
            name: e.name,
          });
        if (e.type === 'skipped') {
          log.warn({ checkpoint: e.name, reason: e.reason }, 'skipping a corrupt checkpoint');
          void this.emit(events, {
            jobId: spec.jobId,
            generation: this.gang.spec.generation,
            ts: Date.now(),
            type: 'log',
            level: 'warn',
            rank: this.gang.spec.rank,
            msg: `checkpoint ${e.name} skipped: ${e.reason}`,
          });
        }
        if (e.type === 'prune-failed') log.warn({ reason: e.reason }, 'old checkpoints not pruned now (tried again after the next save)');
        if (e.type === 'loaded') {
          const msg = `checkpoint ${e.name} loaded from ${e.from === 'node-cache' ? 'the node cache' : 'the object store'}${e.cacheMiss ? ` (node cache: ${e.cacheMiss})` : ''}`;
          log.info({ checkpoint: e.name, from: e.from, bytes: e.bytes }, msg);
          void this.emit(events, {
            jobId: spec.jobId,
            generation: this.gang.spec.generation,
            ts: Date.now(),
            type: 'log',
            level: 'info',
            rank: this.gang.spec.rank,
            msg,
          });
        }
      };
      cache = new CheckpointCache(spec.jobId);
      const opening = CheckpointStore.open(nc, prefix, spec.jobId, {
        keep: this.o.keepCheckpoints,
        onEvent: onCkpt,
        generation: () => this.gang.spec.generation,
        guard: (what) => fence.check(what),
        cache,
        expectedStep: async () => (await fence.record())?.checkpoint_step,
      });
      const load = this.o.trainers?.[spec.job.trainer.kind];
      const [checkpoints, trainer] = await Promise.all([opening, this.o.trainer ?? (load ? load() : undefined), streamReady]);
      if (!trainer) throw new FlotillaError('FLO_ACTOR_FATAL', `no trainer for kind '${spec.job.trainer.kind}'`);
      if (this.signal.aborted) throw new FlotillaError('FLO_CANCELLED', String(this.signal.reason));
      this.setState('running');
      const result = await trainer.run(this.context(events, checkpoints));
      outcome = this.signal.aborted
        ? classify(undefined, this.signal)
        : {
            kind: 'succeeded',
            message: 'done',
            exitCode: null,
            signal: null,
            ...(this.step === undefined ? {} : { step: this.step }),
            ...(result?.digest ? { digest: result.digest } : {}),
          };
    } catch (err) {
      outcome = classify(err, this.signal);
      if (outcome.kind === 'retryable' || outcome.kind === 'fatal') log.error({ err }, 'actor failed');
    }
    // a job that ended (succeeded, failed: a fatal outcome fails it, cancelled) needs its node-cached
    // checkpoints no more; a job that goes on (a retry, a move) may restart here and read them
    if (cache && (outcome.kind === 'succeeded' || outcome.kind === 'fatal' || (await this.jobEnded()))) cache.clear();
    this.fence?.stop();
    this.faults.close();
    const fenced = this.fence?.fenced;
    // cut off: the head has (or will have) declared this node dead; the gang must be restarted
    if (fenced?.kind === 'lease-expired') outcome = { kind: 'retryable', message: fenced.message, exitCode: null, signal: null };
    if (this.droppedEvents > 0) log.warn({ dropped: this.droppedEvents }, 'fenced: job events dropped (total)');
    this.setState('stopping');
    this.drain.close(outcome.message);
    try {
      // A group still forming is not waited on for long: the process is about to exit anyway.
      const opened = this.gang.opened();
      const g = opened && (await Promise.race([opened, abortableSleep(2000).then(() => undefined)]));
      await g?.close();
      this.groupWatch?.done();
    } catch {
      /* a group that never formed */
    }
    for (const sub of this.subs) sub.unsubscribe();
    this.state = 'exited';
    return outcome;
  }
}
