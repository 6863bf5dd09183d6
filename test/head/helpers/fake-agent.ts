/**
 * A scripted node agent for head tests: speaks the real protocol over a real nats-server
 * (register, heartbeats, spawn/ping replies, jobAbort, actorExit) but runs no processes; the
 * test decides when each actor exits and how. It connects with the node's own worker
 * credential, so it can do only what a real agent may.
 */
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jsClient } from '../../../shared/js-domain.ts';
import { natsOptions } from '../../../shared/nats-connect.ts';
import { parseJoinToken } from '../../../shared/join-token.ts';
import type { NatsServer } from '../../kit/nats-server.ts';
import { subjects, type Subjects } from '../../../shared/subjects.ts';
import { decode, encode } from '../../../shared/codec.ts';
import {
  NodeControl,
  JobAbort,
  type ActorSpec,
  type NodeInfo,
  type ActorOutcome,
  type JobEvent,
  type GpuInfo,
  type GpuStats,
} from '../../../shared/schemas/index.ts';

/** A fake node's GPUs: its inventory, and the figures its heartbeats carry (none: a declared inventory). */
export interface FakeGpus {
  gpus: GpuInfo[];
  stats?: GpuStats[];
}

/** connect() options of node `nodeId`'s own worker credential on `nats` (anonymous on a server without auth). */
export async function fakeAgentOptions(
  nats: Pick<NatsServer, 'auth' | 'options'>,
  prefix: string,
  nodeId: string,
): Promise<NodeConnectionOptions> {
  return nats.options(nats.auth ? parseJoinToken(await nats.auth.joinToken(prefix, nodeId)).creds : undefined);
}

/** The last step of a spec's trainer (logreg: `steps`; others: 1). */
export function finalStep(a: ActorSpec): number {
  return a.job.trainer.kind === 'logreg' ? a.job.trainer.steps : 1;
}

export class FakeAgent {
  readonly actors = new Map<string, ActorSpec>();
  readonly spawned: ActorSpec[] = [];
  readonly info: NodeInfo;
  #nc!: NatsConnection;
  #s: Subjects;
  #timer: NodeJS.Timeout | undefined;
  #opts: NodeConnectionOptions;
  /** per job, the creds the head minted for its newest actor here (events are an actor's to publish) */
  readonly #creds = new Map<string, string>();
  readonly #actorNc: NatsConnection[] = [];
  /** stop heartbeats without telling anyone (a node that died) */
  silent = false;
  /** heartbeats say the node is draining (a node that leaves) */
  draining = false;

  readonly #gpuStats: GpuStats[] | undefined;

  constructor(opts: NodeConnectionOptions, prefix: string, nodeId: string, slots: number, gpus?: FakeGpus) {
    this.#opts = opts;
    this.#s = subjects(prefix);
    this.info = {
      nodeId,
      host: 'fake',
      slots,
      backend: 'cpu',
      device: 'fake',
      pid: process.pid,
      started_at: new Date().toISOString(),
      ...(gpus ? { gpus: gpus.gpus, gpu_source: gpus.stats ? ('nvidia-smi' as const) : ('declared' as const) } : {}),
    };
    this.#gpuStats = gpus?.stats;
  }

  async start(): Promise<this> {
    this.#nc = await connect({ ...this.#opts, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    this.#nc.subscribe(this.#s.nodeControl(this.info.nodeId), {
      callback: (_e, m) => {
        const c = decode(NodeControl, m.data);
        if (c.op === 'spawn') {
          if (this.actors.size >= this.info.slots) {
            m.respond(encode({ ok: false, error: { code: 'FLO_NO_CAPACITY', message: 'full' } }));
            return;
          }
          this.actors.set(c.actor.actorId, c.actor);
          if (c.creds) this.#creds.set(c.actor.jobId, c.creds);
          this.spawned.push(c.actor);
          m.respond(encode({ ok: true, result: { actorId: c.actor.actorId } }));
          this.beat();
        } else if (c.op === 'ping') m.respond(encode({ ok: true, result: this.info }));
        else if (c.op === 'fault') m.respond(encode({ ok: true, result: { accepted: true, fault_id: c.fault.fault_id } }));
        else if (c.op === 'stop') m.respond(encode({ ok: true, result: { actorId: c.actorId, stopping: true } }));
        else m.respond(encode({ ok: true, result: { draining: true, actors: [] } }));
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
      try {
        await this.#nc.request(this.#s.nodeRegister(this.info.nodeId), encode(this.info), { timeout: 1000 });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.#timer = setInterval(() => this.beat(), 200);
    return this;
  }

  beat(): void {
    if (this.silent || this.#nc.isClosed()) return;
    const actors = [...this.actors.values()].map((a) => ({
      actorId: a.actorId,
      jobId: a.jobId,
      generation: a.generation,
      rank: a.rank,
      ...(a.gpus ? { gpus: a.gpus } : {}),
    }));
    this.#nc.publish(
      this.#s.nodeHeartbeat(this.info.nodeId),
      encode({
        nodeId: this.info.nodeId,
        ts: Date.now(),
        slots: this.info.slots,
        actors,
        draining: this.draining,
        ...(this.#gpuStats ? { gpus: this.#gpuStats } : {}),
      }),
    );
  }

  /** Ends one actor with an outcome (publishes actorExit, like the real agent). */
  exit(actorId: string, o: Partial<ActorOutcome> & { kind: ActorOutcome['kind'] }): void {
    // a success names the step it finished at: the trainer's final one unless the test says otherwise
    const a0 = this.actors.get(actorId);
    if (o.kind === 'succeeded' && o.step === undefined && a0) o = { ...o, step: finalStep(a0) };
    const a = this.actors.get(actorId);
    if (!a) return;
    this.actors.delete(actorId);
    const outcome = { message: '', exitCode: null, signal: null, ...o };
    this.#nc.publish(
      this.#s.actorExit(this.info.nodeId),
      encode({ nodeId: this.info.nodeId, actorId, jobId: a.jobId, generation: a.generation, rank: a.rank, outcome }),
    );
    this.beat();
  }

  /** Publishes an event into the job stream as an actor would. */
  async event(e: JobEvent): Promise<void> {
    const creds = this.#creds.get(e.jobId);
    let nc = this.#nc;
    if (creds) {
      nc = await connect(natsOptions(this.#opts.servers ?? [], creds));
      this.#actorNc.push(nc);
    }
    await jsClient(nc).publish(this.#s.jobEvents(e.jobId), encode(e));
  }

  /** The creds the head minted for this node's newest actor of `jobId` (what a real agent hands its actor). */
  credsOf(jobId: string): string | undefined {
    return this.#creds.get(jobId);
  }

  of(jobId: string): ActorSpec[] {
    return [...this.actors.values()].filter((a) => a.jobId === jobId).sort((a, b) => a.rank - b.rank);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const nc of this.#actorNc) await nc.close().catch(() => undefined);
    if (!this.#nc.isClosed()) await this.#nc.close();
  }
}
