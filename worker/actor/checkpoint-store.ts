/**
 * Checkpoints of one job in its own JetStream Object Store bucket (`jobStore(jobId, 'ckpt')`,
 * made by the head before the job's actors start), named `<jobId>/<step padded to 12>`. The store publishes an object's meta only after its last
 * chunk, so a checkpoint is visible only when complete; on top of the store's own digest we
 * record our SHA-256 (and size) in the object's metadata when saving and verify it on load. A
 * checkpoint that fails either check is skipped (reported through `onEvent`) for the one before.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import { FlotillaError } from '../../shared/errors.ts';
import { subjects } from '../../shared/subjects.ts';
import { withJsRetry } from '../../shared/js-retry.ts';
import { requireJobStore } from '../../shared/job-stores.ts';
import type { CheckpointCache } from './node-cache.ts';

/** Digits of the zero-padded step in a checkpoint name. */
export const STEP_DIGITS = 12;
/** Metadata keys written with every checkpoint. */
export const META_SHA256 = 'flotilla-sha256';
export const META_SIZE = 'flotilla-size';
export const META_STEP = 'flotilla-step';
export const META_GENERATION = 'flotilla-generation';

export function checkpointName(jobId: string, step: number): string {
  return `${jobId}/${String(step).padStart(STEP_DIGITS, '0')}`;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The Object Store's own SHA-256 of an object's bytes (`SHA-256=<base64url>`), as hex; null when absent or unknown. */
export function storeSha256(info: Pick<ObjectInfo, 'digest'>): string | null {
  if (!info.digest?.startsWith('SHA-256=')) return null;
  const hex = Buffer.from(info.digest.slice(8), 'base64url').toString('hex');
  return hex.length === 64 ? hex : null;
}

export interface Checkpoint {
  name: string;
  step: number;
  data: Uint8Array;
  /** caller metadata saved with it (without the flotilla-* keys) */
  meta: Record<string, string>;
}

export type CheckpointEvent =
  | { type: 'saved'; name: string; step: number; bytes: number; sha256: string }
  | { type: 'pruned'; name: string; step: number }
  /** an old checkpoint could not be removed now (tried again after the next save) */
  | { type: 'prune-failed'; reason: string }
  | { type: 'skipped'; name: string; step: number; reason: string }
  /** `from`: the node cache, or the store (`cacheMiss` says why not the cache, when there is one) */
  | { type: 'loaded'; name: string; step: number; bytes: number; from: 'node-cache' | 'store'; cacheMiss?: string };

export interface CheckpointStoreOptions {
  /** checkpoints kept per job, newest first (default 3) */
  keep?: number;
  /** told about saves, prunes and checkpoints skipped as corrupt */
  onEvent?: (e: CheckpointEvent) => void;
  /** the writer's generation, recorded with every checkpoint (a function: a live-recovery survivor's changes) */
  generation?: number | (() => number);
  /**
   * generation fence, called before a write and again after it: throwing before refuses the
   * save; throwing after deletes the object just written (when it still carries `generation`)
   */
  guard?: (what: string) => Promise<void>;
  /** this node's copies of the job's checkpoints (node-cache.ts): read before the store, written on save and load */
  cache?: CheckpointCache;
  /**
   * the newest checkpoint step the job's record names (null: none; undefined: unknown, e.g. the
   * record unreadable). loadLatest refuses to come back empty-handed while the store lists no
   * checkpoint at that step or later: a store still recovering (a nats-server restarted) would
   * otherwise send the gang back to step 1.
   */
  expectedStep?: () => Promise<number | null | undefined>;
  /** pauses between listings while the store lists less than expectedStep (default LIST_RETRY_MS) */
  listRetryMs?: readonly number[];
}

/** Pauses between listings of a store that lists less than the record names (~10 s in all). */
export const LIST_RETRY_MS: readonly number[] = [250, 500, 1000, 2000, 3000, 3000];

export class CheckpointStore {
  private readonly keep: number;
  private readonly onEvent: (e: CheckpointEvent) => void;
  private readonly gen: (() => number) | undefined;
  private readonly guard: (what: string) => Promise<void>;
  private readonly cache: CheckpointCache | undefined;
  private readonly expectedStep: () => Promise<number | null | undefined>;
  private readonly listRetryMs: readonly number[];
  /**
   * The job's checkpoint names as this store last listed them, plus what it saved and pruned
   * since (undefined: never listed). Only rank 0 of the current generation writes, so a save
   * that leaves at most `keep` skips the prune's listing (a round trip per stored object).
   */
  private names: Set<string> | undefined;

  private get generation(): string | undefined {
    return this.gen ? String(this.gen()) : undefined;
  }

  constructor(
    private readonly os: ObjectStore,
    readonly jobId: string,
    opts: CheckpointStoreOptions = {},
  ) {
    this.keep = Math.max(1, opts.keep ?? 3);
    this.onEvent = opts.onEvent ?? (() => undefined);
    const g = opts.generation;
    this.gen = g === undefined ? undefined : typeof g === 'number' ? () => g : g;
    this.guard = opts.guard ?? (() => Promise.resolve());
    this.cache = opts.cache;
    this.expectedStep = opts.expectedStep ?? (() => Promise.resolve(undefined));
    this.listRetryMs = opts.listRetryMs ?? LIST_RETRY_MS;
  }

  /** Opens the job's checkpoint bucket (FLO_UNAVAILABLE when the head has not made it). */
  static async open(nc: NatsConnection, prefix: string, jobId: string, opts?: CheckpointStoreOptions): Promise<CheckpointStore> {
    const os = await requireJobStore(nc, subjects(prefix), jobId, 'ckpt');
    return new CheckpointStore(os, jobId, opts);
  }

  /** Writes the checkpoint of `step`, then prunes all but the newest `keep`. */
  async save(step: number, data: Uint8Array, meta: Record<string, string> = {}): Promise<{ name: string; sha256: string }> {
    if (!Number.isInteger(step) || step < 0)
      throw new FlotillaError('FLO_VALIDATION', `checkpoint step must be a non-negative integer, got ${step}`);
    const name = checkpointName(this.jobId, step);
    const sha256 = sha256Hex(data);
    const metadata: Record<string, string> = {
      ...meta,
      [META_SHA256]: sha256,
      [META_SIZE]: String(data.length),
      [META_STEP]: String(step),
    };
    if (this.generation !== undefined) metadata[META_GENERATION] = this.generation;
    await this.guard(`checkpoint ${name}`);
    await withJsRetry(`save checkpoint ${name}`, () => this.os.putBlob({ name, metadata }, data));
    try {
      await this.guard(`checkpoint ${name}`);
    } catch (e) {
      // superseded while writing: take it back unless a newer generation has replaced it since
      const info = await this.os.info(name).catch(() => null);
      if (info && this.generation !== undefined && info.metadata?.[META_GENERATION] === this.generation)
        await this.os.delete(name).catch(() => undefined);
      throw e;
    }
    this.cache?.put(name, data);
    this.onEvent({ type: 'saved', name, step, bytes: data.length, sha256 });
    this.names?.add(name);
    // housekeeping: a store that cannot list or delete now (a failover) must not stop training
    if (!this.names || this.names.size > this.keep)
      await this.prune().catch((e: unknown) => this.onEvent({ type: 'prune-failed', reason: e instanceof Error ? e.message : String(e) }));
    return { name, sha256 };
  }

  /** This job's checkpoints, newest first. */
  async list(): Promise<{ name: string; step: number; info: ObjectInfo }[]> {
    const prefix = `${this.jobId}/`;
    const out: { name: string; step: number; info: ObjectInfo }[] = [];
    for (const info of await withJsRetry(`list checkpoints of ${this.jobId}`, () => this.os.list())) {
      if (info.deleted || !info.name.startsWith(prefix)) continue;
      const tail = info.name.slice(prefix.length);
      if (!/^\d+$/.test(tail)) continue;
      out.push({ name: info.name, step: Number(tail), info });
    }
    this.names = new Set(out.map((c) => c.name));
    return out.sort((a, b) => b.step - a.step);
  }

  /**
   * The newest checkpoint that passes verification, or null when there is none. Each bad one
   * on the way is reported as `skipped`. When the job's record names a checkpoint
   * (`expectedStep`), a store that lists nothing at that step or later is listed again for a
   * while, then the load fails as retryable (FLO_UNAVAILABLE), and so does a load that finds no
   * readable checkpoint at all: never a silent start from step 1.
   */
  async loadLatest(): Promise<Checkpoint | null> {
    const want = await this.expectedStep();
    let listed = await this.list();
    for (const pause of this.listRetryMs) {
      if (want === null || want === undefined || (listed[0]?.step ?? -1) >= want) break;
      await new Promise((r) => setTimeout(r, pause));
      listed = await this.list();
    }
    if (want !== null && want !== undefined && (listed[0]?.step ?? -1) < want) {
      throw new FlotillaError(
        'FLO_UNAVAILABLE',
        `the job record names checkpoint step ${want}, but the store lists ${listed.length ? `steps up to ${listed[0].step} only` : 'no checkpoint'} (JetStream still recovering?): not resuming from an older state`,
      );
    }
    for (const c of listed) {
      const r = await this.verify(c.name, c.step, c.info);
      if (typeof r === 'string') {
        this.onEvent({ type: 'skipped', name: c.name, step: c.step, reason: r });
        continue;
      }
      return r;
    }
    if (want !== null && want !== undefined) {
      throw new FlotillaError(
        'FLO_UNAVAILABLE',
        `the job record names checkpoint step ${want}, but none of the ${listed.length} checkpoint(s) listed could be read: not starting from step 1`,
      );
    }
    return null;
  }

  /** The checkpoint, or why it cannot be trusted. */
  private async verify(name: string, step: number, info: ObjectInfo): Promise<Checkpoint | string> {
    const md = info.metadata ?? {};
    const want = md[META_SHA256];
    if (!want || !/^[0-9a-f]{64}$/.test(want)) return 'no sha256 recorded';
    if (md[META_STEP] !== String(step)) return `recorded step ${md[META_STEP]} does not match the name`;
    // the node's copy counts only when it is exactly what the store holds now (its own digest)
    const stored = storeSha256(info);
    const cached =
      this.cache && (stored ? this.cache.get(name, stored) : { hit: false as const, reason: `store digest '${info.digest}' unreadable` });
    let data: Uint8Array | null;
    if (cached?.hit) data = cached.data;
    else {
      try {
        data = await withJsRetry(`read checkpoint ${name}`, () => this.os.getBlob(name));
      } catch (e) {
        return `unreadable: ${(e as Error).message}`;
      }
    }
    if (!data) return 'vanished';
    if (md[META_SIZE] !== String(data.length)) return `size ${data.length} differs from recorded ${md[META_SIZE]}`;
    const got = sha256Hex(data);
    if (got !== want) return `sha256 ${got} differs from recorded ${want}`;
    if (!cached?.hit) this.cache?.put(name, data);
    this.onEvent({
      type: 'loaded',
      name,
      step,
      bytes: data.length,
      from: cached?.hit ? 'node-cache' : 'store',
      ...(cached && !cached.hit ? { cacheMiss: cached.reason } : {}),
    });
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(md)) if (!k.startsWith('flotilla-')) meta[k] = v;
    return { name, step, data, meta };
  }

  private async prune(): Promise<void> {
    // the names this writer knows (listed once, then its own saves): no listing, which needs a
    // consumer on the store's stream (a listing timed out for 20 s after a cluster failover)
    const all = this.names
      ? [...this.names].map((name) => ({ name, step: Number(name.slice(name.lastIndexOf('/') + 1)) })).sort((a, b) => b.step - a.step)
      : await this.list();
    for (const c of all.slice(this.keep)) {
      await withJsRetry(`prune checkpoint ${c.name}`, () => this.os.delete(c.name));
      this.names?.delete(c.name);
      this.cache?.drop(c.name);
      this.onEvent({ type: 'pruned', name: c.name, step: c.step });
    }
  }
}
