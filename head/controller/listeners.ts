/**
 * The side effects of a committed job change (job-changed.ts), one listener each, added in this
 * order: a new generation aborts the older ones' actors (the survivors a live recovery keeps are
 * named) and drops their buffered progress; a change of state or generation is logged, an ended
 * job's unfired faults expire and its stores are sealed, and a `state` event is published.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../../shared/logger.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { encode } from '../../shared/codec.ts';
import { publishEvent } from '../../shared/event-publish.ts';
import type { JobAbort } from '../../shared/schemas/actor.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { FaultDirector } from '../faults/director.ts';
import { isTerminal } from '../state/transitions.ts';
import type { JobChanged, JobChanges } from './job-changed.ts';
import type { ProgressBuffer } from './progress.ts';

const moved = (c: JobChanged) => c.after.state !== c.before.state || c.after.generation !== c.before.generation;
const ended = (c: JobChanged) => isTerminal(c.after.state) && !isTerminal(c.before.state);

/** Publishes a job event; a failure is logged, never thrown. */
export function eventPublisher(js: JetStreamClient, s: Subjects, log: Logger): (e: JobEvent) => Promise<void> {
  return async (e) => {
    await publishEvent(js, s, e).catch((err: Error) => log.warn({ job: e.jobId, err: err.message }, 'event not published'));
  };
}

export function addCommitListeners(
  changes: JobChanges,
  d: {
    nc: NatsConnection;
    s: Subjects;
    log: Logger;
    progress: ProgressBuffer;
    event: (e: JobEvent) => Promise<void>;
    faults: () => FaultDirector | undefined;
    seal: (id: string) => void;
  },
): void {
  changes.on(({ id, before, after }) => {
    if (after.generation <= before.generation) return;
    // live recovery: the survivors named here stay (see liveRecovery)
    const keep = after.placement.map((p) => ({ actorId: p.actorId, rank: p.rank }));
    const worldSize = after.state === 'running' ? after.placement.length : after.spec.workers;
    const abort: JobAbort = {
      jobId: id,
      generation: after.generation,
      reason: after.message ?? 'generation ended',
      keep,
      ...(keep.length ? { worldSize } : {}),
    };
    d.nc.publish(d.s.jobAbort(id), encode(abort));
    d.progress.drop(id);
  });
  changes.on((c) => {
    if (!moved(c)) return;
    const { id, before, after } = c;
    d.log.info(
      { job: id, from: before.state, to: after.state, generation: after.generation, restarts: after.restarts, message: after.message },
      'job state',
    );
  });
  // faults that never fired expire before the terminal event (event readers stop at it)
  changes.on(async (c) => {
    if (moved(c) && ended(c))
      await d
        .faults()
        ?.ended(c.after)
        .catch((e: Error) => d.log.warn({ job: c.id, err: e.message }, 'faults not expired'));
  });
  // an ended job's stores take no more writes (in the background: sealing retries through elections)
  changes.on((c) => {
    if (!moved(c) || !ended(c)) return;
    d.seal(c.id);
    d.progress.ended(c.id, c.now);
  });
  changes.on(async (c) => {
    if (!moved(c)) return;
    const { id, after, now } = c;
    await d.event({
      type: 'state',
      jobId: id,
      ts: now,
      generation: after.generation,
      state: after.state,
      message: after.message,
      restarts: after.restarts,
      ...(after.state === 'recovering' && after.checkpoint_step !== null ? { checkpoint_step: after.checkpoint_step } : {}),
    });
  });
}
