/**
 * The node's cache of a job's checkpoints (FLOTILLA_NODE_CACHE, default ~/.cache/flotilla;
 * checkpoints under `checkpoints/<jobId>/`): every checkpoint this node saved or downloaded is
 * kept as a file, so an actor restarted on the same node reads the newest one from disk instead
 * of the Object Store. An entry is used only when its SHA-256 equals the store's own digest of
 * that object now (so a copy never outlives a replaced or corrupted object: a mismatch deletes
 * it and the store's bytes are read, then verified as any download is); writes go
 * to a temporary file renamed into place, so a reader never sees half a file. Entries follow
 * the store's pruning, and a job's folder goes when one of its actors finishes the job, or ends
 * in a failed or cancelled job. The whole cache is size-bounded (cache-bound.ts,
 * FLOTILLA_NODE_CACHE_MB): a write evicts the least recently used entries beyond the bound.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { enforceCacheBound, nodeCacheLimitBytes, touch } from './cache-bound.ts';

/** The node cache root: FLOTILLA_NODE_CACHE, else ~/.cache/flotilla. */
export function nodeCacheRoot(): string {
  return process.env.FLOTILLA_NODE_CACHE || join(homedir(), '.cache', 'flotilla');
}

/** A cache lookup: the bytes, or why there were none. */
export type CacheLookup = { hit: true; data: Uint8Array } | { hit: false; reason: string };

export class CheckpointCache {
  readonly dir: string;
  /** the bound of the whole node cache (bytes) */
  readonly limitBytes: number;

  /** throws FLO_VALIDATION on a bad FLOTILLA_NODE_CACHE_MB */
  constructor(
    jobId: string,
    private readonly root = nodeCacheRoot(),
    limitBytes = nodeCacheLimitBytes(),
  ) {
    this.dir = join(root, 'checkpoints', jobId);
    this.limitBytes = limitBytes;
  }

  #file(name: string): string {
    return join(this.dir, name.replaceAll('/', '__'));
  }

  /** The cached bytes of `name` when their SHA-256 (hex) is `sha256`; a mismatching entry is deleted. */
  get(name: string, sha256: string): CacheLookup {
    let data: Uint8Array;
    // a plain Uint8Array, as the store gives: a Buffer's slice() is a view, not a copy, and
    // decoders that slice and take `.buffer` would read the whole file (measured: NaN weights)
    try {
      data = new Uint8Array(readFileSync(this.#file(name)));
    } catch {
      return { hit: false, reason: 'not cached on this node' };
    }
    const got = createHash('sha256').update(data).digest('hex');
    if (got === sha256) {
      touch(this.#file(name));
      return { hit: true, data };
    }
    rmSync(this.#file(name), { force: true });
    return { hit: false, reason: `cached copy has sha256 ${got}, the store holds ${sha256}: dropped` };
  }

  /** Keeps `data` as `name` (best effort: a full disk only costs the next restart a download). */
  put(name: string, data: Uint8Array): boolean {
    const tmp = join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(tmp, data);
      renameSync(tmp, this.#file(name));
      enforceCacheBound(this.root, this.limitBytes, [this.#file(name)]);
      return true;
    } catch {
      rmSync(tmp, { force: true });
      return false;
    }
  }

  drop(name: string): void {
    rmSync(this.#file(name), { force: true });
  }

  /** Names cached now (tests, pruning). */
  names(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((f) => !f.startsWith('.tmp-'))
        .map((f) => f.replaceAll('__', '/'));
    } catch {
      return [];
    }
  }

  /** Removes the job's whole folder. */
  clear(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
