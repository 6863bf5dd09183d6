/**
 * Compute threads per actor process. Every actor's native kernels split their work over a
 * team of threads; actors sharing a machine must split its cores, or each team waits at every
 * barrier for a member the OS has descheduled (measured: the 2-worker demo on 2 cores took
 * 38 s with 2 threads per actor, 32 s with 1).
 */
import { availableParallelism } from 'node:os';

export const THREADS_ENV = 'FLOTILLA_NATIVE_THREADS';

/** Threads for each of `actorsOnHost` actors on a machine of `cores` cores: at least 1. */
export function threadsPerActor(cores: number, actorsOnHost: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, actorsOnHost)));
}

/**
 * The actor env with FLOTILLA_NATIVE_THREADS set for `slots` actors on this machine, unless
 * `env` (or the agent's own environment) already chose it.
 */
export function withActorThreads(env: NodeJS.ProcessEnv | undefined, slots: number, cores = availableParallelism()): NodeJS.ProcessEnv {
  if (env?.[THREADS_ENV] || process.env[THREADS_ENV]) return { ...env };
  return { ...env, [THREADS_ENV]: String(threadsPerActor(cores, slots)) };
}
