/**
 * A scripted node agent for head tests: speaks the real protocol over a real nats-server
 * (register, heartbeats, spawn/ping replies, jobAbort, actorExit) but runs no processes; the
 * test decides when each actor exits and how.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { subjects, type Subjects } from '../../../shared/subjects.ts';
import { decode, encode } from '../../../shared/codec.ts';
import { NodeControl, JobAbort, type ActorSpec, type NodeInfo, type ActorOutcome, type JobEvent } from '../../../shared/schemas/index.ts';

export class FakeAgent {
  readonly actors = new Map<string, ActorSpec>();
  readonly spawned: ActorSpec[] = [];
  readonly info: NodeInfo;
  #nc!: NatsConnection;
  #s: Subjects;
  #timer: NodeJS.Timeout | undefined;
  #url: string;
  /** stop heartbeats without telling anyone (a node that died) */
  silent = false;

  constructor(url: string, prefix: string, nodeId: string, slots: number) {
    this.#url = url;
    this.#s = subjects(prefix);
    this.info = { nodeId, host: 'fake', slots, backend: 'cpu', device: 'fake', pid: process.pid, started_at: new Date().toISOString() };
  }

  async start(): Promise<this> {
    this.#nc = await connect({ servers: this.#url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    this.#nc.subscribe(this.#s.nodeControl(this.info.nodeId), {
      callback: (_e, m) => {
        const c = decode(NodeControl, m.data);
        if (c.op === 'spawn') {
          if (this.actors.size >= this.info.slots) { m.respond(encode({ ok: false, error: { code: 'FLO_NO_CAPACITY', message: 'full' } })); return; }
          this.actors.set(c.actor.actorId, c.actor);
          this.spawned.push(c.actor);
          m.respond(encode({ ok: true, result: { actorId: c.actor.actorId } }));
          this.beat();
        } else if (c.op === 'ping') m.respond(encode({ ok: true, result: this.info }));
        else m.respond(encode({ ok: true }));
      },
    });
    this.#nc.subscribe(this.#s.jobAbortAll, {
      callback: (_e, m) => {
        const a = decode(JobAbort, m.data);
        for (const spec of [...this.actors.values()]) {
          if (spec.jobId === a.jobId && spec.generation < a.generation) this.exit(spec.actorId, { kind: 'cancelled', message: a.reason });
        }
      },
    });
    await this.#nc.flush();
    for (;;) {
      try { await this.#nc.request(this.#s.nodeRegister, encode(this.info), { timeout: 1000 }); break; }
      catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    this.#timer = setInterval(() => this.beat(), 200);
    return this;
  }

  beat(): void {
    if (this.silent || this.#nc.isClosed()) return;
    const actors = [...this.actors.values()].map((a) => ({ actorId: a.actorId, jobId: a.jobId, generation: a.generation, rank: a.rank }));
    this.#nc.publish(this.#s.nodeHeartbeat, encode({ nodeId: this.info.nodeId, ts: Date.now(), slots: this.info.slots, actors, draining: false }));
  }

  /** Ends one actor with an outcome (publishes actorExit, like the real agent). */
  exit(actorId: string, o: Partial<ActorOutcome> & { kind: ActorOutcome['kind'] }): void {
    const a = this.actors.get(actorId);
    if (!a) return;
    this.actors.delete(actorId);
    const outcome = { message: '', exitCode: null, signal: null, ...o };
    this.#nc.publish(this.#s.actorExit, encode({ nodeId: this.info.nodeId, actorId, jobId: a.jobId, generation: a.generation, rank: a.rank, outcome }));
    this.beat();
  }

  /** Publishes an event into the job stream as an actor would. */
  async event(e: JobEvent): Promise<void> {
    await jetstream(this.#nc).publish(this.#s.jobEvents(e.jobId), encode(e));
  }

  of(jobId: string): ActorSpec[] { return [...this.actors.values()].filter((a) => a.jobId === jobId).sort((a, b) => a.rank - b.rank); }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.#nc.isClosed()) await this.#nc.close();
  }
}
