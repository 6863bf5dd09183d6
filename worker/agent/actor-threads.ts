/**
 * Compute threads per actor process. Every actor's native kernels split their work over a
 * team of threads; actors sharing a machine must split its cores, or each team waits at every
 * barrier for a member the OS has descheduled (measured: the 2-worker demo on 2 cores took
 * 38 s with 2 threads per actor, 32.6 s with 1). The agent says how many processes share the
 * machine; the actor's addon divides its cores by that, and still drops to one thread when the
 * machine is already busy (defaultThreads in worker/native/addon.ts, which reads these names:
 * the agent does not import the engine, so they are spelt out on both sides).
 */

export const THREADS_ENV = 'FLOTILLA_NATIVE_THREADS';
export const SHARE_ENV = 'FLOTILLA_NATIVE_SHARE';

/**
 * Env telling actor processes that `actors` of them share this machine's cores; empty where
 * this process's own environment already fixed the threads or the share (children inherit it).
 */
export function coreShareEnv(actors: number): Record<string, string> {
  if (process.env[THREADS_ENV] || process.env[SHARE_ENV]) return {};
  return { [SHARE_ENV]: String(Math.max(1, actors)) };
}
