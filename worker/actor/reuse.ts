/**
 * Whether a warm actor process may run another job after the one it just ran (actor/main.ts):
 * only after a job that succeeded without being stopped, with a trainer that keeps no state
 * outside its run (TrainerModule.reusable), and with nothing of the job's network left: no NATS
 * connection (its creds go with it), no raw lane, no socket at all, no partition cut in force.
 * Anything else and the process exits with its actor, as every actor did before processes were
 * reused, and the agent's pool forks a fresh one.
 */
import { isCut, openConnections } from '../../shared/nats-cut.ts';
import type { ActorOutcome } from '../../shared/schemas/index.ts';
import type { TrainerModule } from './context.ts';

/** Handle types of network sockets in process.getActiveResourcesInfo(). */
const SOCKET_HANDLES = new Set(['TCPSocketWrap', 'TLSWrap', 'TCPWrap', 'TCPServerWrap']);

/** Sockets of this process still open (the IPC channel to the agent is a pipe, not counted). */
export function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => SOCKET_HANDLES.has(r)).length;
}

/** How long a closed connection's socket may take to be released before the process gives up on reuse. */
export const SOCKET_RELEASE_MS = 1000;

/**
 * Why this process may not run another job, or null. A closed nats.js connection resolves
 * before its socket handle is released (a few ms later), so the sockets get SOCKET_RELEASE_MS.
 */
export async function reuseRefusal(o: { outcome: ActorOutcome; stopped: boolean; trainer: TrainerModule }): Promise<string | null> {
  if (o.outcome.kind !== 'succeeded') return `the job ended ${o.outcome.kind}`;
  if (o.stopped) return 'the actor was stopped';
  if (o.trainer.reusable !== true) return 'its trainer does not declare itself reusable';
  if (isCut()) return 'a partition fault is in force';
  const nats = openConnections();
  if (nats > 0) return `${nats} NATS connection(s) still open`;
  const until = Date.now() + SOCKET_RELEASE_MS;
  while (openSockets() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  const sockets = openSockets();
  if (sockets > 0) return `${sockets} socket(s) still open`;
  return null;
}
