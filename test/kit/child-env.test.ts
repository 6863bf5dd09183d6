// test/kit/child-env.mjs: processes a test starts do not inherit tap's process-info loader.
import { spawnSync } from 'node:child_process';
import t from 'tap';
// @ts-expect-error: a plain .mjs module without types
import { withoutTapLoader } from './child-env.mjs';

t.test('a child of a test process starts without tap’s process-info loader', async (t) => {
  t.match(process.execArgv.join(' '), /@tapjs\/processinfo/, 'the test process itself runs under tap’s loader');
  const r = spawnSync(process.execPath, ['-e', 'console.log(JSON.stringify([process.env.NODE_OPTIONS ?? "", process.execArgv]))'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=512' },
  });
  t.equal(r.status, 0, r.stderr);
  const [opts] = JSON.parse(r.stdout) as [string, string[]];
  t.notMatch(opts, /processinfo/, 'no process-info loader in the child’s NODE_OPTIONS');
  t.match(opts, /--max-old-space-size=512/, 'the child keeps the options it was given');
});

t.test('withoutTapLoader keeps every other option', async (t) => {
  t.equal(withoutTapLoader('"--import=file:///x/node_modules/@tapjs/processinfo/dist/esm/import.mjs"'), '');
  t.equal(
    withoutTapLoader('--require /a.cjs "--import=file:///x/node_modules/@tapjs/processinfo/dist/esm/import.mjs" --max-old-space-size=64'),
    '--require /a.cjs --max-old-space-size=64',
  );
  t.equal(withoutTapLoader('--enable-source-maps'), '--enable-source-maps');
});
