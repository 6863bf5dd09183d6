/**
 * The node cache's size bound (FLOTILLA_NODE_CACHE_MB, default DEFAULT_NODE_CACHE_MB): after every
 * write, entries are removed oldest use first until the cache fits. Entries: one checkpoint file
 * (`checkpoints/<job>/<name>`) and one synthetic dataset folder (`synthetic/<key>/`, whole). A use
 * refreshes an entry's time (a cache hit touches it). Never removed: what the caller just wrote,
 * and a synthetic folder an actor on this node still reads (its images are read batch by batch):
 * each user leaves `<folder>/.users/<pid>`, and a folder with a live user pid stays.
 */
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaError } from '../../shared/errors.ts';

/** The node cache's default bound in MiB (checkpoints and synthetic sets together). */
export const DEFAULT_NODE_CACHE_MB = 4096;
const MIB = 1024 * 1024;
/** The synthetic folder's marker of a complete set (synthetic-cache.ts); its mtime is the folder's last use. */
export const SYNTHETIC_DONE = '.complete';
const USERS = '.users';

/** The bound in bytes from FLOTILLA_NODE_CACHE_MB (MiB, 0: keep nothing but what is in use); a bad value is an error. */
export function nodeCacheLimitBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FLOTILLA_NODE_CACHE_MB;
  if (raw === undefined || raw.trim() === '') return DEFAULT_NODE_CACHE_MB * MIB;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0) {
    throw new FlotillaError('FLO_VALIDATION', `FLOTILLA_NODE_CACHE_MB must be a size in MiB (>= 0), got '${raw}'`, {
      details: [{ path: 'FLOTILLA_NODE_CACHE_MB', message: `not a size in MiB: '${raw}'` }],
    });
  }
  return Math.floor(mb * MIB);
}

export interface CacheEntry {
  kind: 'checkpoint' | 'synthetic';
  path: string;
  bytes: number;
  usedAt: number;
}

function sizeOf(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const f of readdirSync(path)) n += sizeOf(join(path, f));
  return n;
}

const list = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/** Every entry under the cache `root` (temporary files of writes in progress are not entries). */
export function cacheEntries(root: string): CacheEntry[] {
  const out: CacheEntry[] = [];
  for (const job of list(join(root, 'checkpoints'))) {
    for (const f of list(join(root, 'checkpoints', job))) {
      if (f.startsWith('.tmp-')) continue;
      const path = join(root, 'checkpoints', job, f);
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isFile()) out.push({ kind: 'checkpoint', path, bytes: st.size, usedAt: st.mtimeMs });
    }
  }
  for (const key of list(join(root, 'synthetic'))) {
    if (key.startsWith('.tmp-')) continue;
    const path = join(root, 'synthetic', key);
    const done = statSync(join(path, SYNTHETIC_DONE), { throwIfNoEntry: false });
    if (done) out.push({ kind: 'synthetic', path, bytes: sizeOf(path), usedAt: done.mtimeMs });
  }
  return out;
}

const alive = (pid: number): boolean => {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Whether an actor on this node still reads the synthetic folder (stale user marks are removed). */
function inUse(folder: string): boolean {
  let used = false;
  for (const f of list(join(folder, USERS))) {
    if (alive(Number(f))) used = true;
    else rmSync(join(folder, USERS, f), { force: true });
  }
  return used;
}

/** Marks this process as a reader of a synthetic folder and refreshes its last use. */
export function useSynthetic(folder: string): void {
  try {
    mkdirSync(join(folder, USERS), { recursive: true });
    writeFileSync(join(folder, USERS, String(process.pid)), '');
    touch(join(folder, SYNTHETIC_DONE));
  } catch {
    /* best effort: an unmarked folder may be evicted, and is drawn again when needed */
  }
}

/** Refreshes an entry's last use. */
export function touch(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    /* gone meanwhile */
  }
}

/**
 * Removes entries, oldest use first, until the cache under `root` holds at most `limitBytes`;
 * `keep`: paths never removed (what was just written). Returns what was removed.
 */
export function enforceCacheBound(root: string, limitBytes: number, keep: readonly string[] = []): { evicted: string[]; bytes: number } {
  const entries = cacheEntries(root).sort((a, b) => a.usedAt - b.usedAt);
  let total = entries.reduce((a, e) => a + e.bytes, 0);
  const evicted: string[] = [];
  for (const e of entries) {
    if (total <= limitBytes) break;
    if (keep.includes(e.path) || (e.kind === 'synthetic' && inUse(e.path))) continue;
    rmSync(e.path, { recursive: true, force: true });
    total -= e.bytes;
    evicted.push(e.path);
  }
  return { evicted, bytes: total };
}
