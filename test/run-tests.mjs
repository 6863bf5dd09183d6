#!/usr/bin/env node
// Runs the tap suite and ends with one line `N passed, N failed`, counted from the TAP stream
// (every test point at every depth; skips and todos are counted apart and printed above).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tapBin = join(dirname(require.resolve('tap/package.json')), 'dist/esm/run.mjs');
// A directory argument (npm test -- test/cuda/) stands for the *.test.ts files under it.
const testsUnder = (dir) =>
  readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));
const args = process.argv.slice(2).flatMap((a) => (!a.startsWith('-') && existsSync(a) && statSync(a).isDirectory() ? testsUnder(a) : [a]));
// The processes the tests start (agents, actors, the CLI) run the compiled JavaScript, as in
// production: bring dist/ up to date first (nothing to do when it is current).
const built = spawnSync(
  process.execPath,
  ['--import', 'tsx', join(dirname(new URL(import.meta.url).pathname), '..', 'scripts', 'build-js.ts')],
  { stdio: 'inherit' },
);
if (built.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const child = spawn(process.execPath, [tapBin, '--reporter=tap', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
  // Recycled native output buffers are filled with NaN under test, so a kernel that leaves part
  // of its output unwritten fails its comparison instead of passing on stale values.
  // NODE_COMPILE_CACHE (Node >= 22.1; older ones ignore it): V8 keeps the bytecode of the modules
  // the suite's thousands of processes load, so each start compiles less (~5-10% of an actor's
  // start CPU).
  env: {
    ...process.env,
    FLOTILLA_POOL_POISON: process.env.FLOTILLA_POOL_POISON ?? '1',
    NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'flotilla-test-compile-cache'),
  },
});
// CI stops a run with SIGTERM to this process: pass it on, so each test file tears down what it
// made (a lab's namespaces: test/kit/netns.ts) and the count below still prints. (Ctrl-C's
// SIGINT already reaches the whole process group.)
for (const sig of ['SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    child.kill(sig);
  });
let passed = 0,
  failed = 0,
  skipped = 0,
  failedParents = 0,
  buf = '';
// A point that closes a subtest (one whose children were seen just before it, one indent
// deeper) is a summary, not a test: only leaves are counted.
const hasChildren = new Map();
const count = (line) => {
  const m = /^(\s*)(not ok|ok)\b.*?(#\s*(SKIP|TODO)\b(.*))?$/i.exec(line);
  if (!m) return;
  const depth = m[1].length;
  const parent = hasChildren.get(depth) === true;
  hasChildren.set(depth, false);
  hasChildren.set(depth - 4, true);
  for (const k of hasChildren.keys()) if (k > depth) hasChildren.delete(k);
  if (parent) {
    if (m[2] === 'not ok' && !m[4]) failedParents++;
    return;
  }
  m.splice(1, 1);
  if (m[3]) {
    skipped++;
    if (m[3].toUpperCase() === 'SKIP') console.log(`skipped: ${line.trim()}`);
    return;
  }
  if (m[1] === 'ok') passed++;
  else failed++;
};
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d.toString();
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    count(buf.slice(0, i));
    buf = buf.slice(i + 1);
  }
});
child.on('close', (code) => {
  if (buf) count(buf);
  if (code !== 0 && failed === 0) failed = Math.max(1, failedParents); // a file or tap failed without a failing leaf (crash, timeout)
  if (skipped) console.log(`${skipped} skipped (reasons printed above)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code === 0 ? 0 : 1);
});
