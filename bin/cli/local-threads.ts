// Local workers of `up` and `demo` share this machine: their actors split its cores.
import { availableParallelism } from 'node:os';

import { THREADS_ENV, threadsPerActor } from '../../worker/agent/index.ts';

/** Env for local workers that will run up to `actors` actors in all on this machine (a user's FLOTILLA_NATIVE_THREADS wins). */
export function localWorkerThreads(actors: number): Record<string, string> {
  if (process.env[THREADS_ENV]) return {};
  return { [THREADS_ENV]: String(threadsPerActor(availableParallelism(), actors)) };
}
