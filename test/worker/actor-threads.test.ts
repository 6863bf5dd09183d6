// Actors sharing a machine split its cores between their native-kernel thread teams.
import t from 'tap';

import { THREADS_ENV, threadsPerActor, withActorThreads } from '../../worker/agent/index.ts';

t.equal(threadsPerActor(2, 1), 2, 'one actor on 2 cores gets both');
t.equal(threadsPerActor(2, 2), 1, 'two actors on 2 cores get one each');
t.equal(threadsPerActor(16, 3), 5, 'cores are divided down');
t.equal(threadsPerActor(2, 5), 1, 'never fewer than one thread');
t.equal(threadsPerActor(8, 0), 8, 'no slots counts as one');

const saved = process.env[THREADS_ENV];
delete process.env[THREADS_ENV];
t.equal(withActorThreads(undefined, 4, 16)[THREADS_ENV], '4', 'an agent with 4 slots on 16 cores gives each actor 4 threads');
t.equal(withActorThreads({ A: 'b' }, 4, 16).A, 'b', 'and keeps the rest of the actor env');
t.equal(withActorThreads({ [THREADS_ENV]: '3' }, 4, 16)[THREADS_ENV], '3', 'an explicit actor setting wins');
process.env[THREADS_ENV] = '7';
t.notOk(THREADS_ENV in withActorThreads({}, 4, 16), "the agent's own FLOTILLA_NATIVE_THREADS is left for the actor to inherit");
if (saved === undefined) delete process.env[THREADS_ENV];
else process.env[THREADS_ENV] = saved;
