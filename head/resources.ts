/**
 * The JetStream resources the head uses, created idempotently at start: KV buckets for jobs,
 * nodes and the head lease, the job-events stream, a stream that keeps actor exits while no
 * head is listening, and the object stores for checkpoints and artifacts.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { Subjects } from '../shared/subjects.ts';

export interface HeadResources {
  js: JetStreamClient;
  jsm: JetStreamManager;
  jobs: KV;
  nodes: KV;
  lease: KV;
  artifacts: ObjectStore;
  /** stream capturing `actorExit`, consumed durably by the head */
  exitsStream: string;
}

const DAY_NS = 24 * 3600 * 1e9;

/** Name of the stream that captures actor exits (head-owned; agents just publish). */
export function exitsStreamName(s: Subjects): string {
  return `${s.eventsStream.replace(/_EVENTS$/, '')}_EXITS`;
}

async function ensureStream(jsm: JetStreamManager, name: string, subject: string, maxAgeNs: number): Promise<void> {
  try {
    await jsm.streams.info(name);
  } catch {
    try {
      await jsm.streams.add({ name, subjects: [subject], max_age: maxAgeNs });
    } catch (e) {
      // a concurrent creator won the race
      await jsm.streams.info(name).catch(() => { throw e; });
    }
  }
}

export async function openResources(nc: NatsConnection, s: Subjects): Promise<HeadResources> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStream(jsm, s.eventsStream, s.allJobEvents, 7 * DAY_NS);
  const exitsStream = exitsStreamName(s);
  await ensureStream(jsm, exitsStream, s.actorExit, DAY_NS);
  const kvm = new Kvm(js);
  const [jobs, nodes, lease] = await Promise.all([
    kvm.create(s.jobsBucket, { history: 1 }),
    kvm.create(s.nodesBucket, { history: 1 }),
    kvm.create(s.headBucket, { history: 1 }),
  ]);
  const artifacts = await new Objm(js).create(s.artifactStore);
  await new Objm(js).create(s.checkpointStore);
  return { js, jsm, jobs, nodes, lease, artifacts, exitsStream };
}
