/**
 * An actor's fence: a self-fencing lease plus a generation check, so that an actor cut off from
 * the cluster, or one the head has already replaced, stops instead of running as a second copy
 * of its job. Every `periodMs` it reads its job's record from the jobs KV bucket; a read goes
 * through JetStream, so an answer proves contact with the cluster (not only with the actor's own
 * server). An answer renews the lease; a record of a newer generation, or of an ended job, means
 * the actor is superseded. No answer for `leaseMs` (the head's dead-node threshold: by then the
 * head may have declared the node dead and placed a replacement), plus the hold for a leader
 * election described below, and the lease has expired. Either
 * verdict is reported once through `onFenced`; `check()` is the same test made fresh, before
 * and after a checkpoint write. Time in which the process itself did not run (a blocked event
 * loop) does not count against the lease. A newer generation whose placement still names this
 * actor keeps it (live recovery): that is reported through `onKept`, not as a verdict.
 *
 * While the actor's own connection is down (nats.js reports it disconnected: its server died or
 * its socket was cut) the lease is held, for at most `outageMs`: a disconnected actor can send
 * nothing, so it cannot act beside a replacement, and when the whole server is down the head is
 * cut off too and decides nothing (head/view.ts); once the connection is back the actor has a
 * full lease to hear from JetStream, and its first read tells it whether it was replaced
 * meanwhile. Disconnected for longer than `outageMs` it stops itself (truly cut off). An actor
 * whose connection stays up while JetStream does not answer holds its lease for `electionMs`
 * more (JS_ELECTION_MS): every read of the job's record needs the jobs stream's leader, and
 * when the server holding it is cut off or killed the others elect a new one only after
 * nats-server's election timeout (4-9 s on 2.10; 13 s once, with the meta leader lost too), so for that long no client anywhere gets an
 * answer, not even from the healthy servers (measured: 4.6-6.9 s of silence). An actor that
 * self-fenced at `leaseMs` then would restart a gang that lost nothing. The hold is safe for the
 * same reason as the outage hold: without an answer from JetStream the actor can persist
 * nothing (checkpoints are written after a fresh `check()`, step reports and events are
 * JetStream writes), and the head can place a replacement only by writing a newer generation
 * into the same jobs bucket, which the actor's first answered read then shows. An actor whose
 * server is truly on the minority side of a partition stops after `leaseMs + electionMs`.
 */
import { PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { jsClient } from '../../shared/js-domain.ts';
import { Kvm, type KV } from '@nats-io/kv';
import { DEFAULTS } from '../../shared/config.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { causes, isTransientJsError } from '../../shared/js-retry.ts';
import { JobFence, TERMINAL_STATES, type ActorSpec } from '../../shared/schemas/index.ts';
import { subjects } from '../../shared/subjects.ts';

/** the head's default dead-node threshold */
export const DEFAULT_LEASE_MS = DEFAULTS.deadAfterMs;

export type FenceVerdict =
  | { kind: 'superseded'; generation: number; state: string; message: string }
  | { kind: 'lease-expired'; silentMs: number; message: string };

/**
 * How long JetStream may be silent beyond the lease while the actor's own connection is up: a
 * stream leader election after the leader's server is lost (nats-server 2.10: a follower calls
 * an election 4-9 s after the leader's last heartbeat, one round of votes elects) plus margin.
 * When the lost server also led the JetStream meta group, reads through a healthy server were
 * answered "JetStream system temporarily unavailable" for 13 s in one head-partition run (the
 * partition healed after 10 s, mid-election): hence 20 s, not 10.
 */
export const JS_ELECTION_MS = 20_000;

/** how long a disconnected actor holds its lease by default: the collective's wait for a lost connection */
export function defaultOutageMs(spec: ActorSpec): number {
  return spec.job.allreduce.timeout_ms;
}

export interface FenceOptions {
  nc: NatsConnection;
  prefix: string;
  spec: ActorSpec;
  /** default spec.leaseMs, else DEFAULT_LEASE_MS */
  leaseMs?: number;
  /** the longest disconnection of the actor's own connection that holds the lease (default defaultOutageMs) */
  outageMs?: number;
  /** how much longer than the lease a connected actor waits for JetStream to answer (default JS_ELECTION_MS) */
  electionMs?: number;
  /** between reads (default leaseMs / 6, within 100..1000 ms) */
  periodMs?: number;
  onFenced: (v: FenceVerdict) => void;
  /** told once when the actor is not allowed to read its job's record (fencing cannot work) */
  onBlind?: (err: unknown) => void;
  /** a record of a newer generation that keeps this actor (live recovery; see live-gang.ts) */
  onKept?: (record: JobFence) => void;
}

export class Fence {
  readonly leaseMs: number;
  readonly outageMs: number;
  readonly electionMs: number;
  private readonly periodMs: number;
  /** why the last read got no answer (for the verdict's message) */
  private lastFailure: string | undefined;
  /** when the actor's own connection went down (undefined while it is up) */
  private downSince: number | undefined;
  private watching = false;
  private lastContact = Date.now();
  private lastTick = Date.now();
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private verdict: FenceVerdict | undefined;
  private blind = false;
  private spec: ActorSpec;

  constructor(private readonly o: FenceOptions) {
    this.spec = o.spec;
    this.leaseMs = o.leaseMs ?? o.spec.leaseMs ?? DEFAULT_LEASE_MS;
    this.outageMs = o.outageMs ?? defaultOutageMs(o.spec);
    this.electionMs = o.electionMs ?? JS_ELECTION_MS;
    this.periodMs = o.periodMs ?? Math.min(1000, Math.max(100, Math.floor(this.leaseMs / 6)));
  }

  /** set once the actor must stop */
  get fenced(): FenceVerdict | undefined {
    return this.verdict;
  }

  /** The actor moved to a newer generation (live recovery): the fence checks against it from now on. */
  moveTo(spec: ActorSpec): void {
    this.spec = spec;
  }

  start(): void {
    this.lastContact = this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), this.periodMs);
    this.timer.unref();
    void this.watch();
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.watching = false;
  }

  /** Follows the actor's own connection (see the file comment). */
  private async watch(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    for await (const s of this.o.nc.status()) {
      if (!this.watching) return;
      if (s.type === 'disconnect') this.downSince ??= Date.now();
      else if (s.type === 'reconnect') {
        // a fresh lease from the reconnection: JetStream gets leaseMs to answer
        this.downSince = undefined;
        this.lastContact = Date.now();
      }
    }
  }

  private tick(): void {
    if (this.verdict) return;
    const now = Date.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    // The event loop was blocked (a long synchronous setup, a starved CPU): time in which this
    // process did not run is not silence of the cluster, and it did nothing a fence must stop.
    if (gap > 2 * this.periodMs) this.lastContact += gap - this.periodMs;
    if (this.downSince !== undefined && !this.o.nc.isClosed()) {
      const downMs = now - this.downSince;
      if (downMs > this.outageMs) {
        this.decide({
          kind: 'lease-expired',
          silentMs: now - this.lastContact,
          message: `self-fenced: disconnected from NATS for ${downMs} ms (an outage is waited out for ${this.outageMs} ms)`,
        });
      }
      return; // held: a read would only time out, and a disconnected actor can send nothing
    }
    const silentMs = now - this.lastContact;
    if (silentMs > this.leaseMs + this.electionMs) {
      const last = this.lastFailure ? `; last read via ${this.o.nc.getServer()}: ${this.lastFailure}` : '';
      this.decide({
        kind: 'lease-expired',
        silentMs,
        message: `self-fenced: no answer from JetStream for ${silentMs} ms (lease ${this.leaseMs} ms + ${this.electionMs} ms for a leader election)${last}`,
      });
      return;
    }
    this.reading ??= this.read().finally(() => {
      this.reading = undefined;
    });
  }

  private decide(v: FenceVerdict): void {
    if (this.verdict) return;
    this.verdict = v;
    this.stop();
    this.o.onFenced(v);
  }

  /** One read of the job's record and the verdict on it. */
  private async read(): Promise<void> {
    const j = await this.record();
    const spec = this.spec;
    if (!j) return;
    const kept = !TERMINAL_STATES.includes(j.state) && j.placement.some((p) => p.actorId === spec.actorId);
    if (j.generation > spec.generation && kept) {
      this.o.onKept?.(j);
      return;
    }
    if (j.generation > spec.generation || TERMINAL_STATES.includes(j.state)) {
      this.decide({
        kind: 'superseded',
        generation: j.generation,
        state: j.state,
        message: `superseded: job ${spec.jobId} is ${j.state} at generation ${j.generation} (this actor: ${spec.generation})`,
      });
    }
  }

  /** The job's record as the cluster has it now, or undefined (none, unreadable, no answer); an answer of any kind (even "no such bucket") is contact. */
  async record(): Promise<JobFence | undefined> {
    const { nc, prefix } = this.o;
    const timeout = Math.max(250, Math.floor(this.leaseMs / 3));
    try {
      this.kv ??= await new Kvm(jsClient(nc, { timeout })).open(subjects(prefix).jobsBucket);
      const e = await this.kv.get(this.spec.jobId);
      this.lastContact = Date.now();
      this.lastFailure = undefined;
      if (!e || e.operation !== 'PUT') return undefined;
      const r = JobFence.safeParse(e.json());
      return r.success ? r.data : undefined;
    } catch (e) {
      if (causes(e).some((c) => c instanceof PermissionViolationError)) {
        // the server answered, but this identity may not read the record: fencing stays off
        this.lastContact = Date.now();
        if (!this.blind) {
          this.blind = true;
          this.o.onBlind?.(e);
        }
      } else if (!isTransientJsError(e))
        this.lastContact = Date.now(); // a definite answer, e.g. no bucket yet
      else this.lastFailure = (e as Error).message;
      return undefined;
    }
  }

  /**
   * Throws FLO_STALE_GENERATION when the actor is superseded or its lease is gone, after a
   * fresh read; a read that gets no answer defers to the lease.
   */
  async check(what: string): Promise<void> {
    if (!this.verdict) {
      await this.reading;
      await this.read();
      this.tick();
    }
    if (this.verdict)
      throw new FlotillaError('FLO_STALE_GENERATION', `${what} refused: ${this.verdict.message}`, { details: this.verdict });
  }
}
