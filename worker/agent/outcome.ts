/** How an actor ended, derived from its IPC result, its exit code or signal, and why it was stopped. */
import type { ActorOutcome } from '../../shared/schemas/index.ts';
import { ACTOR_EXIT_CODES } from '../actor/index.ts';

/** Why the agent itself stopped an actor: asked by the head (`cancelled`) or leaving the node (`retryable`). */
export type StopIntent = 'cancelled' | 'retryable';

export interface ExitFacts {
  /** the outcome the actor reported over IPC, if it got that far */
  result?: ActorOutcome;
  code: number | null;
  signal: string | null;
  /** set when the agent asked the actor to stop */
  stop?: { intent: StopIntent; reason: string };
}

/**
 * Succeeded and fatal results stand as reported. A cancellation the actor reports because the
 * agent is leaving becomes retryable (the actor must move). Without a result: the stop intent,
 * then the exit code (0/3/4), and otherwise retryable (crash, SIGKILL).
 */
export function outcomeOf(f: ExitFacts): ActorOutcome {
  const base = { exitCode: f.code, signal: f.signal };
  const r = f.result;
  if (r && (r.kind === 'succeeded' || r.kind === 'fatal' || r.kind === 'retryable')) return { ...r, ...base };
  if (r && r.kind === 'cancelled') {
    return f.stop?.intent === 'retryable' ? { kind: 'retryable', message: f.stop.reason, ...base } : { ...r, ...base };
  }
  if (f.stop) return { kind: f.stop.intent, message: f.stop.reason, ...base };
  if (f.signal) return { kind: 'retryable', message: `actor killed by ${f.signal}`, ...base };
  if (f.code === ACTOR_EXIT_CODES.succeeded) return { kind: 'succeeded', message: 'exited 0', ...base };
  if (f.code === ACTOR_EXIT_CODES.fatal) return { kind: 'fatal', message: `exited ${f.code}`, ...base };
  if (f.code === ACTOR_EXIT_CODES.cancelled) return { kind: 'cancelled', message: `exited ${f.code}`, ...base };
  return { kind: 'retryable', message: `actor exited with code ${f.code}`, ...base };
}
