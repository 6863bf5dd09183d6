/**
 * The built-in synthetic dataset, drawn once per node and settings: `<node cache>/synthetic/<key>`
 * where the key hashes the settings (the generator is seeded, so the same settings give the
 * same bytes). A restarted actor, or the next job with the same settings, reads the folder
 * instead of drawing it again (~0.3 s at img 128 with 80 images, more at larger sizes). It is
 * drawn into a private folder and renamed into place, so concurrent actors never see half a
 * set; readers only read (the engine writes nothing next to a dataset). Each reader marks its use
 * (cache-bound.ts), so the node cache's size bound never removes a set in use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCacheRoot } from '../actor/node-cache.ts';
import { enforceCacheBound, nodeCacheLimitBytes, SYNTHETIC_DONE, useSynthetic } from '../actor/cache-bound.ts';
import { synthesize, type SyntheticSpec } from '../engine/train/index.ts';

/** Bumped when the generator's output changes, so older folders are not reused. */
export const SYNTHETIC_CACHE_VERSION = 1;
const DONE = SYNTHETIC_DONE;

export function syntheticKey(spec: SyntheticSpec): string {
  const canonical = JSON.stringify(
    Object.keys(spec)
      .sort()
      .map((k) => [k, spec[k as keyof SyntheticSpec]]),
  );
  return createHash('sha256').update(`v${SYNTHETIC_CACHE_VERSION}:${canonical}`).digest('hex').slice(0, 24);
}

/** The dataset yaml of `spec` in the node cache, drawn first when missing; `cached`: it was already there. */
export async function cachedSynthetic(
  spec: SyntheticSpec,
  root = nodeCacheRoot(),
  limitBytes = nodeCacheLimitBytes(),
): Promise<{ yamlPath: string; cached: boolean }> {
  const base = join(root, 'synthetic');
  const dir = join(base, syntheticKey(spec));
  const yamlPath = join(dir, 'data.yaml');
  if (existsSync(join(dir, DONE)) && existsSync(yamlPath)) {
    useSynthetic(dir);
    return { yamlPath, cached: true };
  }
  mkdirSync(base, { recursive: true });
  const tmp = join(base, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const drawn = await synthesize(spec, tmp);
    // the yaml names its own folder: point it at the final place before the rename
    writeFileSync(drawn, readFileSync(drawn, 'utf8').replaceAll(tmp, dir));
    writeFileSync(join(tmp, DONE), JSON.stringify(spec));
    // a folder in place is always complete (the marker is written before the atomic rename), and
    // may be in use: never replace it; losing the race to another actor is fine
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!existsSync(join(dir, DONE))) throw e;
    }
    useSynthetic(dir);
    enforceCacheBound(root, limitBytes, [dir]);
    return { yamlPath, cached: false };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
