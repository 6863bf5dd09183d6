/**
 * Compute threads per actor process. Every actor's native kernels split their work over a
 * team of threads; actors sharing a machine must split its cores, or each team waits at every
 * barrier for a member the OS has descheduled (measured: the 2-worker demo on 2 cores took
 * 38 s with 2 threads per actor, 32.6 s with 1). The agent says how many processes share the
 * machine (FLOTILLA_NATIVE_SHARE); the actor's addon divides its cores by that, and still
 * drops to one thread when the machine is already busy (worker/native/addon.ts).
 */

export const THREADS_ENV = 'FLOTILLA_NATIVE_THREADS';
export const SHARE_ENV = 'FLOTILLA_NATIVE_SHARE';

/** Threads for each of `actorsOnHost` actors on a machine of `cores` cores: at least 1. */
export function threadsPerActor(cores: number, actorsOnHost: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, actorsOnHost)));
}

/**
 * The actor env saying that `slots` actors share this machine, unless `env` (or the agent's
 * own environment) already fixed the threads or the share.
 */
export function withActorThreads(env: NodeJS.ProcessEnv | undefined, slots: number): NodeJS.ProcessEnv {
  const set = (k: string) => Boolean(env?.[k] || process.env[k]);
  if (set(THREADS_ENV) || set(SHARE_ENV)) return { ...env };
  return { ...env, [SHARE_ENV]: String(Math.max(1, slots)) };
}
