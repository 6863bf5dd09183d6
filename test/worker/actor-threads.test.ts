// Actors sharing a machine split its cores between their native-kernel thread teams.
import { spawnSync } from 'node:child_process';
import t from 'tap';

import { SHARE_ENV, THREADS_ENV, threadsPerActor, withActorThreads } from '../../worker/agent/index.ts';

t.equal(threadsPerActor(2, 1), 2, 'one actor on 2 cores gets both');
t.equal(threadsPerActor(2, 2), 1, 'two actors on 2 cores get one each');
t.equal(threadsPerActor(16, 3), 5, 'cores are divided down');
t.equal(threadsPerActor(2, 5), 1, 'never fewer than one thread');
t.equal(threadsPerActor(8, 0), 8, 'no slots counts as one');

const saved = { t: process.env[THREADS_ENV], s: process.env[SHARE_ENV] };
delete process.env[THREADS_ENV];
delete process.env[SHARE_ENV];
t.equal(withActorThreads(undefined, 4)[SHARE_ENV], '4', 'an agent with 4 slots tells its actors 4 share the machine');
t.equal(withActorThreads({ A: 'b' }, 4).A, 'b', 'and keeps the rest of the actor env');
t.notOk(SHARE_ENV in withActorThreads({ [THREADS_ENV]: '3' }, 4), 'an explicit thread count wins');
process.env[SHARE_ENV] = '7';
t.notOk(SHARE_ENV in withActorThreads({}, 4), "the agent's own share is left for the actor to inherit");
for (const [k, v] of [[THREADS_ENV, saved.t], [SHARE_ENV, saved.s]] as const) {
  if (v === undefined) delete process.env[k];
  else process.env[k] = v;
}

// What an actor's addon makes of it (a fresh process: the count is read once).
const threads = (env: Record<string, string>) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "import { defaultThreads } from './worker/native/index.ts'; import { availableParallelism, loadavg } from 'node:os'; console.log(JSON.stringify({ n: defaultThreads(), cores: availableParallelism(), busy: loadavg()[0] >= availableParallelism() }));"],
  { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, [THREADS_ENV]: '', [SHARE_ENV]: '', ...env }, encoding: 'utf8' });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { n: number; cores: number; busy: boolean };
};
t.equal(threads({ [THREADS_ENV]: '3' }).n, 3, 'FLOTILLA_NATIVE_THREADS is taken as given');
const shared = threads({ [SHARE_ENV]: '2' });
t.equal(shared.n, shared.busy ? 1 : threadsPerActor(shared.cores, 2), `a share of 2 halves the ${shared.cores} cores (1 when the machine is busy)`);
