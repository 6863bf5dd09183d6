// Actors sharing a machine split its cores between their native-kernel thread teams.
import { spawnSync } from 'node:child_process';
import t from 'tap';

import { SHARE_ENV, THREADS_ENV, coreShareEnv } from '../../worker/agent/index.ts';

const saved = { t: process.env[THREADS_ENV], s: process.env[SHARE_ENV] };
delete process.env[THREADS_ENV];
delete process.env[SHARE_ENV];
t.same(coreShareEnv(4), { [SHARE_ENV]: '4' }, 'an agent with 4 slots tells its actors 4 share the machine');
t.same(coreShareEnv(0), { [SHARE_ENV]: '1' }, 'no slots counts as one');
process.env[THREADS_ENV] = '3';
t.same(coreShareEnv(4), {}, "an explicit thread count in the agent's environment is left for the actors to inherit");
delete process.env[THREADS_ENV];
process.env[SHARE_ENV] = '7';
t.same(coreShareEnv(4), {}, "and so is the agent's own share");
for (const [k, v] of [
  [THREADS_ENV, saved.t],
  [SHARE_ENV, saved.s],
] as const) {
  if (v === undefined) delete process.env[k];
  else process.env[k] = v;
}

// What an actor's addon makes of it (a fresh process: the count is read once).
const threads = (env: Record<string, string>) => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { defaultThreads } from './worker/native/index.ts'; import { availableParallelism, loadavg } from 'node:os'; console.log(JSON.stringify({ n: defaultThreads(), cores: availableParallelism(), busy: loadavg()[0] >= availableParallelism() }));",
    ],
    {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, [THREADS_ENV]: '', [SHARE_ENV]: '', ...env },
      encoding: 'utf8',
    },
  );
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { n: number; cores: number; busy: boolean };
};
t.equal(threads({ [THREADS_ENV]: '3' }).n, 3, 'FLOTILLA_NATIVE_THREADS is taken as given');
t.equal(threads({ [THREADS_ENV]: '3', [SHARE_ENV]: '2' }).n, 3, 'and wins over a share');
for (const share of [2, 5]) {
  const r = threads({ [SHARE_ENV]: String(share) });
  const want = r.busy ? 1 : Math.max(1, Math.floor(r.cores / share));
  t.equal(r.n, want, `a share of ${share} divides the ${r.cores} cores, at least 1 (1 when the machine is busy)`);
}
