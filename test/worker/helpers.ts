/** Test helpers for the worker side: a real nats-server, a pretend head, specs and waits. */
import { fileURLToPath } from 'node:url';
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { decode, encode } from '../../shared/codec.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { subjects, type Subjects } from '../../shared/subjects.ts';
import {
  ActorExit,
  ActorSpec,
  ControlReply,
  JobSpec,
  type ActorStatus,
  type JobSpecInput,
  type NodeControl,
} from '../../shared/schemas/index.ts';
import { call, NoReply } from '../../shared/endpoint.ts';
import { ActorCallEndpoint } from '../../shared/endpoints.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { actorPermissions } from '../../head/auth/nats-permissions.ts';
import { startNatsServer, uniquePrefix, type NatsServer, type StartOptions } from '../kit/nats-server.ts';
import { Agent } from '../../worker/agent/agent.ts';
import { openResources } from '../../head/resources.ts';
import { JobStores } from '../../head/job-stores.ts';
import { jsClient } from '../../shared/js-domain.ts';
import { jsManager } from '../../shared/js-assets.ts';
import { ACTOR_ENTRY, REPO_ROOT } from '../../worker/agent/start.ts';

export interface Tap {
  teardown(fn: () => unknown): void;
}

export function testLogger(role = 'test'): Logger {
  return createLogger({ role, level: process.env.FLOTILLA_TEST_LOG_LEVEL ?? 'warn', destination: 2 });
}

export interface Env {
  srv: NatsServer;
  nc: NatsConnection;
  prefix: string;
  s: Subjects;
}

/**
 * A fresh nats-server (JetStream), a client and a unique prefix, and the stream that keeps
 * actor exits (a head creates it; agents store their exit reports there); all torn down with `t`.
 */
export async function natsEnv(t: Tap, tag = 'w', opts: StartOptions = {}): Promise<Env> {
  const srv = await startNatsServer(opts);
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const prefix = uniquePrefix(tag);
  const s = subjects(prefix);
  // what a head creates at start (streams, buckets, object stores): an actor's credential may use them, not make them
  await openResources(nc, s);
  return { srv, nc, prefix, s };
}

/** Collects every message on `subject` from now on. */
export class Collector<T> {
  readonly items: T[] = [];
  private readonly sub: Subscription;
  private wake: (() => void) | undefined;
  constructor(nc: NatsConnection, subject: string, parse: (m: Msg) => T) {
    this.sub = nc.subscribe(subject, {
      callback: (err, m) => {
        if (!err) {
          this.items.push(parse(m));
          this.wake?.();
        }
      },
    });
  }
  /** Resolves with the first item (already seen or future) matching `pred`. */
  async next(pred: (x: T) => boolean = () => true): Promise<T> {
    for (;;) {
      const hit = this.items.find(pred);
      if (hit !== undefined) return hit;
      // No timed assertion: tap's own test timeout bounds a wait that never ends.
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
  close(): void {
    this.sub.unsubscribe();
  }
}

/** Answers node registrations like a head would; returns what it saw. */
export function pretendHead(nc: NatsConnection, s: Subjects): Collector<Uint8Array> {
  const c = new Collector(nc, s.allNodeRegister, (m) => {
    m.respond(encode({ ok: true, result: { headId: 'pretend-head' } }));
    return m.data;
  });
  return c;
}

export function exits(nc: NatsConnection, s: Subjects): Collector<ActorExit> {
  return new Collector(nc, s.allActorExits, (m) => decode(ActorExit, m.data));
}

export function jobSpec(input: Partial<JobSpecInput> & { trainer: JobSpecInput['trainer'] }): JobSpec {
  return JobSpec.parse(input);
}

/** The tiny YOLOv5 of test/worker/fixtures on a 4+2-image synthetic set at img 64, batch 2, plus `extra`. */
export function tinyYolov5(extra: Record<string, unknown> = {}): JobSpecInput['trainer'] {
  return {
    kind: 'yolov5',
    cfg: fileURLToPath(new URL('./fixtures/tiny-yolov5.yaml', import.meta.url)),
    data: 'synthetic',
    img: 64,
    batch: 2,
    synthetic: { train: 4, val: 2, seed: 3 },
    hyp: { warmup_epochs: 0 },
    noautoanchor: true,
    ...extra,
  } as JobSpecInput['trainer'];
}

export function actorSpec(o: {
  jobId: string;
  actorId: string;
  generation?: number;
  rank?: number;
  worldSize?: number;
  nodeId: string;
  job: JobSpec;
}): ActorSpec {
  const worldSize = o.worldSize ?? 1;
  return ActorSpec.parse({
    actorId: o.actorId,
    jobId: o.jobId,
    generation: o.generation ?? 0,
    rank: o.rank ?? 0,
    worldSize,
    nodeOfRank: Array.from({ length: worldSize }, () => o.nodeId),
    job: o.job,
  });
}

/** Makes the jobs' checkpoint and artifact stores, as the head does before it spawns a job's actors (an actor only opens them). */
export async function jobStores(env: Pick<Env, 'nc' | 's'>, ...jobIds: string[]): Promise<JobStores> {
  const stores = new JobStores({ nc: env.nc, js: jsClient(env.nc), jsm: await jsManager(env.nc), s: env.s, replicas: 1 });
  for (const id of jobIds) await stores.ensure(id);
  return stores;
}

/** A `spawn` as the head sends it: the job's stores made first, with the actor's own minted creds (on a server with auth). */
export async function spawnMsg(env: Env, actor: ActorSpec): Promise<NodeControl> {
  await jobStores(env, actor.jobId);
  if (!env.srv.auth) return { op: 'spawn', actor };
  return {
    op: 'spawn',
    actor,
    creds: await env.srv.auth.mint(`actor:${actor.actorId}`, actorPermissions(env.s, actor.jobId, actor.actorId)),
  };
}

/**
 * Sends a control request and decodes the ControlReply. A spawn goes out as from the head: after
 * its job's stores exist (made with `nc`, the prefix read from the node's control subject).
 */
export async function control(nc: NatsConnection, subject: string, body: unknown): Promise<ControlReply> {
  const jobId = (body as { op?: unknown; actor?: { jobId?: unknown } } | null)?.actor?.jobId;
  if ((body as { op?: unknown } | null)?.op === 'spawn' && typeof jobId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(jobId)) {
    await jobStores({ nc, s: subjects(subject.split('.')[0]) }, jobId);
  }
  const data = body instanceof Uint8Array ? body : encode(body);
  const m = await nc.request(subject, data, { timeout: 30_000 });
  return decode(ControlReply, m.data);
}

/** An in-process agent with real actor processes. */
export async function startTestAgent(
  t: Tap,
  env: Pick<Env, 'nc' | 'prefix'> & { srv: Pick<NatsServer, 'url' | 'auth'> },
  o: { nodeId?: string; slots?: number; stopGraceMs?: number; actorEnv?: Record<string, string>; warmActors?: number } = {},
): Promise<Agent> {
  const agent = new Agent({
    nc: env.nc,
    natsUrl: env.srv.url,
    prefix: env.prefix,
    nodeId: o.nodeId ?? 'node-a',
    slots: o.slots ?? 2,
    backend: { backend: 'cpu', device: 'test' },
    root: REPO_ROOT,
    actorEntry: ACTOR_ENTRY,
    log: testLogger('worker'),
    heartbeatMs: 200,
    stopGraceMs: o.stopGraceMs ?? 3000,
    ...(o.warmActors === undefined ? {} : { warmActors: o.warmActors }),
    // these tests send `spawn` themselves, without minted actor creds: the actors connect as the test
    actorEnv: {
      FLOTILLA_LOG_LEVEL: process.env.FLOTILLA_TEST_LOG_LEVEL ?? 'warn',
      ...(env.srv.auth ? { FLOTILLA_NATS_CREDS: env.srv.auth.headCreds } : {}),
      ...o.actorEnv,
    },
  });
  await agent.start();
  t.teardown(() => agent.close());
  return agent;
}

export type { ActorStatus };

/** Polls the actor's `status` method until `pred` holds (no responders while it starts up). */
export async function waitActor(
  nc: NatsConnection,
  s: Subjects,
  actorId: string,
  pred: (st: ActorStatus) => boolean,
  timeoutMs = 120_000,
): Promise<ActorStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'no answer';
  while (Date.now() < deadline) {
    try {
      const st = (await call(nc, ActorCallEndpoint, s.actorCall(actorId), { method: 'status' }, { timeoutMs: 30_000 })) as ActorStatus;
      if (pred(st)) return st;
      last = st;
    } catch (e) {
      if (!(e instanceof NoReply)) last = e instanceof FlotillaError ? e.toWire() : String(e);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`actor ${actorId} did not reach the awaited status within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}
