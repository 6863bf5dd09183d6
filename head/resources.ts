/**
 * The JetStream resources the head uses, created idempotently at start: KV buckets for jobs,
 * nodes and the head lease, the job-events stream, a stream that keeps actor exits while no
 * head is listening. Each gets `replicas` (default min(3, servers in the cluster), detected
 * here; see shared/js-assets.ts). Checkpoints and artifacts live in object stores of each job
 * (job-stores.ts), made with the same replica count when the job is first placed.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jsClient } from '../shared/js-domain.ts';
import type { KV } from '@nats-io/kv';
import type { Subjects } from '../shared/subjects.ts';
import { jsManager, detectClusterSize, defaultReplicas, ensureKv, ensureStream, type AssetReport } from '../shared/js-assets.ts';
import { JobStores } from './job-stores.ts';

export interface HeadResources {
  js: JetStreamClient;
  jsm: JetStreamManager;
  jobs: KV;
  nodes: KV;
  lease: KV;
  /** hyperparameter studies (state/study-store.ts) */
  studies: KV;
  /** each job's checkpoint and artifact stores (made before its first spawn, sealed when it ends) */
  stores: JobStores;
  /** stream capturing `actorExit`, consumed durably by the head */
  exitsStream: string;
  /** servers detected in the cluster (capped at 3) and the replicas the assets were asked for */
  clusterSize: number;
  replicas: number;
  /** what ensuring each asset did (created, exists, raised, kept) */
  assets: AssetReport[];
}

const DAY_NS = 24 * 3600 * 1e9;

/** Name of the stream that captures actor exits (head-owned; agents just publish). */
export function exitsStreamName(s: Subjects): string {
  return `${s.eventsStream.replace(/_EVENTS$/, '')}_EXITS`;
}

/** Opens every resource; `replicas` overrides the detected default. */
export async function openResources(nc: NatsConnection, s: Subjects, opts: { replicas?: number } = {}): Promise<HeadResources> {
  const jsm = await jsManager(nc);
  const js = jsClient(nc);
  const clusterSize = await detectClusterSize(jsm);
  const replicas = defaultReplicas(clusterSize, opts.replicas);
  const exitsStream = exitsStreamName(s);
  const assets: AssetReport[] = [];
  assets.push(await ensureStream(jsm, { name: s.eventsStream, subjects: [s.allJobEvents], max_age: 7 * DAY_NS }, replicas));
  assets.push(await ensureStream(jsm, { name: exitsStream, subjects: [s.allActorExits], max_age: DAY_NS }, replicas));
  const kv = async (bucket: string) => {
    const r = await ensureKv(js, jsm, bucket, replicas, { history: 1 });
    assets.push(r.report);
    return r.kv;
  };
  const jobs = await kv(s.jobsBucket);
  const nodes = await kv(s.nodesBucket);
  const lease = await kv(s.headBucket);
  const studies = await kv(s.studiesBucket);
  const stores = new JobStores({ nc, js, jsm, s, replicas });
  return { js, jsm, jobs, nodes, lease, studies, stores, exitsStream, clusterSize, replicas, assets };
}
