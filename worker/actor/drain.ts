/**
 * A checkpoint asked for by a draining node (SIGTERM, a preemption notice). Rank 0 of the
 * current generation answers `jobCheckpoint` requests once it has written the checkpoint of the
 * step in flight, then holds the gang (it starts no further step, so the other ranks wait in
 * the next allreduce) until the head moves it (a jobAbort that stops it, or, with live recovery,
 * one that keeps it in a new generation while the draining node's ranks are replaced: `held()`
 * fires on both) or DRAIN_HOLD_MS pass without a move, so no step is trained past the checkpoint and thrown away.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { FlotillaError } from '../../shared/errors.ts';
import { respond, respondError, serve } from '../../shared/endpoint.ts';
import { DrainCheckpoint } from '../../shared/endpoints.ts';
import type { Logger } from '../../shared/logger.ts';
import type { ActorSpec, CheckpointDone, CheckpointRequest } from '../../shared/schemas/index.ts';
import { checkpointName } from './checkpoint-store.ts';
import { abortableSleep } from './sleep.ts';

/** how long rank 0 holds the gang after a drain checkpoint when nobody moves it (default) */
export const DRAIN_HOLD_MS = 20_000;

export class DrainPoint {
  private waiting: Msg[] = [];
  private sub: Subscription | undefined;

  /**
   * `spec`: the actor's current spec (a live-recovery survivor moves to newer generations);
   * `held`: fires when the current generation ends for this actor (stopped or kept in a newer one)
   */
  constructor(
    private readonly spec: () => ActorSpec,
    private readonly held: () => AbortSignal,
    private readonly log: Logger,
    private readonly holdMs = DRAIN_HOLD_MS,
  ) {}

  /** Rank 0 listens on `subject`; other ranks have nothing to write and never answer. */
  listen(nc: NatsConnection, subject: string): void {
    if (this.spec().rank !== 0) return;
    this.sub = serve(nc, DrainCheckpoint, subject, (req, { msg, later }) => {
      this.onRequest(req, msg);
      return later();
    });
  }

  /** Held until the checkpoint is written (`written`), or left to another rank 0 to answer. */
  private onRequest(req: CheckpointRequest, m: Msg): void {
    if (req.jobId !== this.spec().jobId || req.generation !== this.spec().generation) return; // another generation's rank 0 answers
    // the subject's last token is the asking node (only it may publish there): only a node of this gang may hold it
    if (!this.spec().nodeOfRank.includes(m.subject.slice(m.subject.lastIndexOf('.') + 1))) return;
    this.log.info({ reason: req.reason }, 'checkpoint requested by a draining node');
    this.waiting.push(m);
  }

  /** A checkpoint was asked for and not yet written. */
  requested(): boolean {
    return this.waiting.length > 0;
  }

  /** Answers the requests with the checkpoint of `step`, then holds until moved (or holdMs). */
  async written(step: number): Promise<void> {
    const done: CheckpointDone = { step, name: checkpointName(this.spec().jobId, step) };
    for (const m of this.waiting.splice(0)) respond(m, { ok: true, result: done });
    this.log.info({ step, holdMs: this.holdMs }, 'drain checkpoint written; holding the gang until it moves');
    const held = this.held();
    await abortableSleep(this.holdMs, held);
    if (held.aborted) this.log.info({ step }, 'drain hold ended: the gang moved');
    else this.log.warn({ step, holdMs: this.holdMs }, 'drain hold expired: nobody moved the gang; going on');
  }

  /** The actor is ending: requests still open get an error instead of a timeout. */
  close(reason: string): void {
    for (const m of this.waiting.splice(0))
      respondError(m, new FlotillaError('FLO_CANCELLED', `rank 0 ended before the checkpoint: ${reason}`));
    this.sub?.unsubscribe();
  }
}
