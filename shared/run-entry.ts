/**
 * How the platform starts its own Node processes and threads: the compiled JavaScript in dist/
 * (written by `npm run build`, scripts/build-js.ts) when it is there and built from the sources
 * as they are now, else the TypeScript sources through tsx. A process that itself runs from
 * dist/ starts its children from dist/ too. `FLOTILLA_RUN=ts` forces the sources (debugging),
 * `FLOTILLA_RUN=js` insists on dist/ (an error when it is missing or stale).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function findRoot(from: string): string {
  for (let d = dirname(from); ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error(`no package.json above ${from}`);
  }
}

const HERE = fileURLToPath(import.meta.url);
/** The repository (or install) root: the folder with package.json above this file, in dist/ or not. */
export const REPO_ROOT = findRoot(HERE);
/** Where `npm run build` writes the compiled JavaScript. */
export const DIST_DIR = join(REPO_ROOT, 'dist');
/** Written last by the build: what the sources looked like when it started. */
export const DIST_STAMP = join(DIST_DIR, '.stamp.json');
/** The source folders that are compiled (tests, bench and scripts run through tsx). */
export const COMPILED_DIRS = ['bin', 'head', 'shared', 'worker'] as const;
/** Whether this very process runs the compiled files. */
export const RUNNING_COMPILED = HERE.startsWith(DIST_DIR + sep);

export interface SourceState {
  files: number;
  newestMtimeMs: number;
}

/** The count and newest modification time of the compiled folders' .ts files (and the build's tsconfig). */
export function sourceState(root = REPO_ROOT): SourceState {
  let files = 0,
    newest = statSync(join(root, 'tsconfig.build.json')).mtimeMs;
  for (const dir of COMPILED_DIRS) {
    for (const f of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (!f.endsWith('.ts') || f.includes('node_modules')) continue;
      files++;
      newest = Math.max(newest, statSync(join(root, dir, f)).mtimeMs);
    }
  }
  return { files, newestMtimeMs: newest };
}

/** Why dist/ cannot be used now, or null when it is built from the current sources. */
export function distStale(root = REPO_ROOT): string | null {
  const stampFile = join(root, 'dist', '.stamp.json');
  if (!existsSync(stampFile)) return 'dist/ is not built (npm run build)';
  let stamp: SourceState;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as SourceState;
  } catch {
    return 'dist/.stamp.json is unreadable';
  }
  const now = sourceState(root);
  if (now.files !== stamp.files) return `the sources have ${now.files} files, dist/ was built from ${stamp.files}`;
  if (now.newestMtimeMs > stamp.newestMtimeMs) return 'a source file changed after dist/ was built';
  return null;
}

let decided: boolean | undefined;
/** Whether children start from dist/ (decided once per process). */
export function useCompiled(): boolean {
  if (decided !== undefined) return decided;
  const want = process.env.FLOTILLA_RUN ?? 'auto';
  if (want === 'ts') return (decided = false);
  if (RUNNING_COMPILED) return (decided = true);
  const why = distStale();
  if (want === 'js' && why) throw new Error(`FLOTILLA_RUN=js: ${why}`);
  return (decided = why === null);
}

/** The compiled twin of a source file under the repository (`worker/x.ts` -> `dist/worker/x.js`), or null. */
export function compiledPath(source: string): string | null {
  const rel = relative(REPO_ROOT, source);
  if (rel.startsWith('..') || !COMPILED_DIRS.some((d) => rel.startsWith(d + sep)) || !rel.endsWith('.ts')) return null;
  return join(DIST_DIR, rel.slice(0, -3) + '.js');
}

/**
 * `node` arguments that run `entry` (a .ts file under the repository): its compiled twin when
 * children run compiled, else the source through tsx. An entry outside the compiled folders (a
 * test fixture) always runs through tsx.
 */
export function nodeArgs(entry: string): string[] {
  const js = entry.endsWith('.ts') && useCompiled() ? compiledPath(entry) : null;
  if (js) return [js];
  return entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry];
}

/** The folder of the *source* file a module was compiled from: for files that sit beside the sources (yaml, html). */
export function sourceDir(moduleUrl: string): string {
  const p = dirname(fileURLToPath(moduleUrl));
  return p === DIST_DIR || p.startsWith(DIST_DIR + sep) ? join(REPO_ROOT, relative(DIST_DIR, p)) : p;
}

/**
 * The entry of a worker thread whose source `<name>.ts` sits beside the module at `moduleUrl`:
 * its compiled twin when processes run compiled, else the `<name>.mjs` shim beside the source
 * (it registers tsx, then imports the .ts). tsc does not copy .mjs files into dist/, so a thread
 * started from a compiled module needs this rather than a URL relative to its own file.
 */
export function threadEntry(moduleUrl: string, name: string): URL {
  const source = join(sourceDir(moduleUrl), `${name}.ts`);
  const js = useCompiled() ? compiledPath(source) : null;
  return pathToFileURL(js ?? join(dirname(source), `${name}.mjs`));
}
