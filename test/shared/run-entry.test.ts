/**
 * shared/run-entry.ts: when the platform's processes run the compiled dist/ and when the
 * TypeScript sources (a fake root with its own stamp), and that `npm test`'s processes do run
 * dist/ (test/run-tests.mjs builds it first).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  COMPILED_DIRS,
  REPO_ROOT,
  compiledPath,
  distStale,
  nodeArgs,
  sourceDir,
  sourceState,
  threadEntry,
  useCompiled,
} from '../../shared/run-entry.ts';

function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-run-entry-'));
  writeFileSync(join(root, 'tsconfig.build.json'), '{}');
  for (const d of COMPILED_DIRS) {
    mkdirSync(join(root, d, 'sub'), { recursive: true });
    writeFileSync(join(root, d, 'sub', 'a.ts'), '');
  }
  return root;
}

t.test('dist/ is stale until built, current after, stale again after an edit, an added or a removed file', async (t) => {
  const root = fakeRoot();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.match(distStale(root), /not built/);
  mkdirSync(join(root, 'dist'));
  const old = new Date(Date.now() - 60_000);
  for (const d of COMPILED_DIRS) utimesSync(join(root, d, 'sub', 'a.ts'), old, old);
  utimesSync(join(root, 'tsconfig.build.json'), old, old);
  const state = sourceState(root);
  t.equal(state.files, COMPILED_DIRS.length);
  writeFileSync(join(root, 'dist', '.stamp.json'), JSON.stringify(state));
  t.equal(distStale(root), null, 'built from the sources as they are');
  writeFileSync(join(root, 'worker', 'sub', 'a.ts'), 'export {};');
  t.match(distStale(root), /changed after/, 'an edited source');
  utimesSync(join(root, 'worker', 'sub', 'a.ts'), old, old);
  t.equal(distStale(root), null);
  writeFileSync(join(root, 'head', 'b.ts'), '');
  utimesSync(join(root, 'head', 'b.ts'), old, old);
  t.match(distStale(root), /5 files, dist\/ was built from 4/, 'an added source, however old its mtime');
  rmSync(join(root, 'head', 'b.ts'));
  rmSync(join(root, 'bin', 'sub', 'a.ts'));
  t.match(distStale(root), /3 files/, 'a removed source');
  writeFileSync(join(root, 'dist', '.stamp.json'), 'not json');
  t.match(distStale(root), /unreadable/);
});

t.test('compiled twins: only .ts files under the compiled folders', async (t) => {
  t.equal(compiledPath(join(REPO_ROOT, 'worker', 'actor', 'main.ts')), join(REPO_ROOT, 'dist', 'worker', 'actor', 'main.js'));
  t.equal(compiledPath(join(REPO_ROOT, 'test', 'worker', 'fixtures', 'env-actor.ts')), null, 'a test fixture is not compiled');
  t.equal(compiledPath(join(REPO_ROOT, 'worker', 'engine', 'data', 'loader-worker.mjs')), null);
  t.same(nodeArgs(join(REPO_ROOT, 'test', 'x.ts')), ['--import', 'tsx', join(REPO_ROOT, 'test', 'x.ts')], 'a fixture runs through tsx');
  t.equal(
    sourceDir(new URL(`file://${join(REPO_ROOT, 'dist', 'worker', 'engine', 'hyp', 'index.js')}`).href),
    join(REPO_ROOT, 'worker', 'engine', 'hyp'),
    'assets are read beside the sources',
  );
});

t.test("the suite's processes run dist/, and a compiled actor entry starts", async (t) => {
  const why = distStale();
  t.equal(why, null, 'npm test builds dist/ before the tests (test/run-tests.mjs)');
  t.equal(useCompiled(), why === null);
  const args = nodeArgs(join(REPO_ROOT, 'worker', 'actor', 'main.ts'));
  t.same(args, [join(REPO_ROOT, 'dist', 'worker', 'actor', 'main.js')], 'an actor is forked from its compiled file');
  // Without a spec or an IPC channel the actor refuses to run: proof that the compiled entry loads and decides.
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, FLOTILLA_ACTOR_SPEC: '' }, timeout: 120_000 });
  t.not(r.status, 0);
  t.match(r.stderr + r.stdout, /FLOTILLA_ACTOR_SPEC|spec/i, 'the compiled actor says what it lacks');
  // a worker thread started from a compiled module (the head's detect runner, the data loader) runs the compiled entry: no .mjs shim in dist/
  for (const [mod, name] of [
    ['head/detect/runner', 'thread'],
    ['worker/engine/data/loader-pool', 'loader-worker'],
  ]) {
    const entry = fileURLToPath(threadEntry(pathToFileURL(join(REPO_ROOT, 'dist', `${mod}.js`)).href, name));
    t.equal(entry, join(REPO_ROOT, 'dist', mod.replace(/[^/]+$/, `${name}.js`)), `${mod}'s thread starts from dist/`);
    t.ok(existsSync(entry), `${entry} is built`);
  }
  const cli = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'flotilla.mjs'), '--help'], {
    encoding: 'utf8',
    env: { ...process.env, FLOTILLA_RUN: 'js' },
    timeout: 120_000,
  });
  t.equal(cli.status, 0, 'FLOTILLA_RUN=js: the CLI runs from dist/');
  t.match(cli.stdout, /flotilla/);
});
