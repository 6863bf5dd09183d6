// Local workers of `up` and `demo` share this machine: their actors split its cores.
import { SHARE_ENV, THREADS_ENV } from '../../worker/agent/index.ts';

/** Env for local workers that run up to `actors` actors in all on this machine (a user's setting wins). */
export function localWorkerThreads(actors: number): Record<string, string> {
  if (process.env[THREADS_ENV] || process.env[SHARE_ENV]) return {};
  return { [SHARE_ENV]: String(Math.max(1, actors)) };
}
