/**
 * JetStream assets (streams, KV buckets, object stores) created idempotently with a replica
 * count, and the cluster size that count defaults from: `replicas = min(3, servers)`.
 *
 * Cluster size: nats.js v3 has no call for it and 2.9's peer lists live behind the system
 * account, so we ask the placement engine itself: a throwaway memory stream is created at R3,
 * then R2; the first that is placed gives the count (a standalone server answers 10074
 * "replicas > 1 not supported in non-clustered mode", a cluster with fewer live peers 10005 /
 * 10023, asked again for a while since a forming cluster places fewer peers than it has). It works through a leaf server too, since the request is answered by the hub.
 *
 * An asset that exists is kept; if it has fewer replicas than asked for, its stream is
 * updated to the new count (nats-server 2.9 scales a clustered stream up in place). When the
 * update is refused (not enough live servers) the asset stays as it was and the report says so.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  JetStreamApiError,
  StorageType,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { withJsRetry, type JsRetryOptions } from './js-retry.ts';
import { jsOptions } from './js-domain.ts';

/** The largest replica count chosen by default. */
export const MAX_DEFAULT_REPLICAS = 3;

/** A JetStream manager in this process's domain (js-domain.ts), once JetStream answers (its account-info check retried through elections). */
export function jsManager(nc: NatsConnection, r: JsRetryOptions = {}): Promise<JetStreamManager> {
  return withJsRetry('JetStream account info', () => jetstreamManager(nc, jsOptions()), r);
}

/** What ensuring one asset did. */
export interface AssetReport {
  stream: string;
  /** replicas the asset has now */
  replicas: number;
  action: 'created' | 'exists' | 'raised' | 'kept';
  /** why a lower count was kept */
  note?: string;
}

type Probe = 'placed' | 'short' | 'standalone';

async function probe(jsm: JetStreamManager, replicas: number, r: JsRetryOptions): Promise<Probe> {
  const tag = randomBytes(4).toString('hex');
  const name = `FLOTILLA_REPLICA_PROBE_${tag}`;
  return withJsRetry(
    `probe R${replicas}`,
    async () => {
      try {
        await jsm.streams.add({
          name,
          subjects: [`_flotilla_probe.${tag}`],
          num_replicas: replicas,
          storage: StorageType.Memory,
          max_msgs: 1,
        });
      } catch (e) {
        if (e instanceof JetStreamApiError && e.code === 10074) return 'standalone';
        if (e instanceof JetStreamApiError && (e.code === 10005 || e.code === 10023)) return 'short';
        throw e;
      }
      await jsm.streams.delete(name).catch(() => undefined);
      return 'placed';
    },
    r,
  );
}

/**
 * Servers in the JetStream cluster behind `jsm`, counted up to MAX_DEFAULT_REPLICAS. A cluster
 * that is still forming places fewer peers than it has for a few seconds, so a count below 3
 * is only believed after `settleMs` (default 10000) of asking again.
 */
export async function detectClusterSize(jsm: JetStreamManager, r: JsRetryOptions & { settleMs?: number } = {}): Promise<number> {
  const until = Date.now() + (r.settleMs ?? 10_000);
  for (;;) {
    const p = await probe(jsm, MAX_DEFAULT_REPLICAS, r);
    if (p === 'placed') return MAX_DEFAULT_REPLICAS;
    if (p === 'standalone') return 1;
    if (Date.now() > until) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  for (let n = MAX_DEFAULT_REPLICAS - 1; n > 1; n--) if ((await probe(jsm, n, r)) === 'placed') return n;
  return 1;
}

/** `configured` when given, else min(3, cluster size). */
export function defaultReplicas(clusterSize: number, configured?: number): number {
  return configured ?? Math.max(1, Math.min(MAX_DEFAULT_REPLICAS, clusterSize));
}

async function raise(jsm: JetStreamManager, stream: string, replicas: number, created: boolean, r: JsRetryOptions): Promise<AssetReport> {
  const info = await withJsRetry(`stream info ${stream}`, () => jsm.streams.info(stream), r);
  const have = info.config.num_replicas || 1;
  if (created) return { stream, replicas: have, action: 'created' };
  if (have >= replicas) return { stream, replicas: have, action: 'exists' };
  try {
    await withJsRetry(`raise replicas of ${stream}`, () => jsm.streams.update(stream, { ...info.config, num_replicas: replicas }), r);
    return { stream, replicas, action: 'raised' };
  } catch (e) {
    return { stream, replicas: have, action: 'kept', note: `could not raise to R${replicas}: ${(e as Error).message}` };
  }
}

const exists = (jsm: JetStreamManager, stream: string, r: JsRetryOptions) =>
  withJsRetry(
    `stream info ${stream}`,
    () =>
      jsm.streams.info(stream).then(
        () => true,
        (e: unknown) => {
          if (e instanceof JetStreamApiError && e.code === 10059) return false; // stream not found
          throw e;
        },
      ),
    r,
  );

/** Creates a stream unless it exists (race-safe), then raises its replicas if needed. */
export async function ensureStream(
  jsm: JetStreamManager,
  cfg: Partial<StreamConfig> & { name: string },
  replicas: number,
  r: JsRetryOptions = {},
): Promise<AssetReport> {
  let created = false;
  if (!(await exists(jsm, cfg.name, r))) {
    try {
      await withJsRetry(`create stream ${cfg.name}`, () => jsm.streams.add({ ...cfg, num_replicas: replicas }), r);
      created = true;
    } catch (e) {
      if (!(await exists(jsm, cfg.name, r))) throw e; // else a concurrent creator won the race
    }
  }
  return raise(jsm, cfg.name, replicas, created, r);
}

/** Opens or creates a KV bucket with `replicas`. */
export async function ensureKv(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  replicas: number,
  opts: Partial<KvOptions> = {},
  r: JsRetryOptions = {},
): Promise<{ kv: KV; report: AssetReport }> {
  const stream = `KV_${bucket}`;
  const created = !(await exists(jsm, stream, r));
  const kv = await withJsRetry(`create KV ${bucket}`, () => new Kvm(js).create(bucket, { ...opts, replicas }), r);
  return { kv, report: await raise(jsm, stream, replicas, created, r) };
}

/** Opens or creates an object store with `replicas`. */
export async function ensureObjectStore(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  replicas: number,
  r: JsRetryOptions = {},
): Promise<{ os: ObjectStore; report: AssetReport }> {
  const stream = `OBJ_${bucket}`;
  const created = !(await exists(jsm, stream, r));
  const os = await withJsRetry(`create object store ${bucket}`, () => new Objm(js).create(bucket, { replicas }), r);
  return { os, report: await raise(jsm, stream, replicas, created, r) };
}

/**
 * For a process that normally finds the asset already made by the head (actors): opens an
 * object store, creating it (at min(3, cluster size) replicas) only when it is missing.
 */
export async function openObjectStore(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  r: JsRetryOptions = {},
): Promise<ObjectStore> {
  if (await exists(jsm, `OBJ_${bucket}`, r)) return withJsRetry(`open object store ${bucket}`, () => new Objm(js).open(bucket), r);
  return (await ensureObjectStore(js, jsm, bucket, defaultReplicas(await detectClusterSize(jsm, r)), r)).os;
}
