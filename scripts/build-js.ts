/**
 * `npm run build:js`: compiles bin/, head/, shared/ and worker/ to dist/ (tsc with
 * tsconfig.build.json: emit only, the type check is `npm run typecheck`), then writes
 * dist/.stamp.json with the state of the sources it started from, so that processes know
 * whether dist/ is current (shared/run-entry.ts). Does nothing when dist/ is current; `--force`
 * rebuilds anyway.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_DIR, DIST_STAMP, REPO_ROOT, distStale, sourceState } from '../shared/run-entry.ts';

const force = process.argv.includes('--force');
const why = distStale();
if (!force && why === null) {
  console.log('build:js: dist/ is current');
} else {
  const before = sourceState();
  const t0 = Date.now();
  rmSync(DIST_STAMP, { force: true });
  if (force) rmSync(DIST_DIR, { recursive: true, force: true });
  mkdirSync(DIST_DIR, { recursive: true });
  const tsc = join(createRequire(import.meta.url).resolve('typescript/package.json'), '..', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json')], { cwd: REPO_ROOT, stdio: 'inherit' });
  writeFileSync(DIST_STAMP, JSON.stringify(before) + '\n');
  console.log(`build:js: compiled ${before.files} files to dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s (${why ?? 'forced'})`);
}
