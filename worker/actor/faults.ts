/**
 * The faults an actor carries out or triggers (shared/schemas/fault.ts), given to it by its agent
 * over IPC. A fault with `at_step` fires when this rank starts that training step (or the first
 * step after it, when the rank resumed past it); one without fires at the next step start
 * (link faults: at once). What the actor does itself: crash-actor (the step throws a retryable
 * error), nan-gradient (the rank's gradient of that step becomes NaN before the allreduce),
 * slow-link and drop-messages (its data lanes' LinkShaper). Faults of the agent (kill, stall,
 * partition, preempt) and of the head (corrupt-checkpoint) are reported `due` at the trigger
 * step, and the step waits until the agent says it was done (or the actor stops), so the fault
 * lands exactly at that step. Every phase goes to the agent, which reports it to the head.
 */
import type { Logger } from '../../shared/logger.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { AGENT_FAULTS, HEAD_FAULTS, type ActorSpec, type ArmedFault } from '../../shared/schemas/index.ts';
import type { LinkShaper } from '../collective/index.ts';
import type { ActorToAgent } from './ipc.ts';

/** How long a step waits for the agent to carry out a `due` fault before it goes on. */
export const DUE_WAIT_MS = 30_000;

/** What a trainer calls (ActorContext.faults). */
export interface StepFaults {
  /** awaited at the start of each training step (`step`: the 1-based step about to be trained) */
  beforeStep(step: number): Promise<void>;
  /** called with this rank's gradient of `step` before the allreduce: a nan-gradient fault poisons it */
  poison(step: number, grads: Float32Array): void;
}

export interface ActorFaultsDeps {
  /** the actor's current spec (live recovery moves a kept actor to newer generations) */
  spec(): ActorSpec;
  send(m: ActorToAgent): void;
  shaper: LinkShaper;
  log: Logger;
  signal: AbortSignal;
}

export class ActorFaults implements StepFaults {
  private readonly armed = new Map<string, ArmedFault>();
  private readonly seen = new Set<string>();
  private readonly waiting = new Map<string, () => void>();
  private readonly poisonAt = new Map<number, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastStep: number | undefined;

  constructor(private readonly d: ActorFaultsDeps) {}

  private report(f: ArmedFault, phase: 'due' | 'injected' | 'ended' | 'failed', step?: number, message?: string): void {
    this.d.send({ type: 'fault', fault_id: f.fault_id, phase, ...(step === undefined ? {} : { step }), ...(message ? { message } : {}) });
  }

  /** A fault from the agent; one of another job or actor is refused (reported failed). */
  receive(f: ArmedFault): void {
    const spec = this.d.spec();
    // a kept actor (live recovery) is handed an unfired fault again for its new generation: still armed here
    if (this.seen.has(f.fault_id)) return;
    this.seen.add(f.fault_id);
    if (f.jobId !== spec.jobId || (f.actorId !== undefined && f.actorId !== spec.actorId)) {
      this.report(
        f,
        'failed',
        undefined,
        `actor ${spec.actorId} of job ${spec.jobId} was given a fault of ${f.actorId ?? 'another actor'} of job ${f.jobId}`,
      );
      return;
    }
    const k = f.spec.kind;
    if (f.spec.at_step === undefined && (k === 'slow-link' || k === 'drop-messages')) {
      this.link(f, this.lastStep);
      return;
    }
    this.armed.set(f.fault_id, f);
  }

  /** The agent carried out a `due` fault. */
  go(faultId: string): void {
    const w = this.waiting.get(faultId);
    this.waiting.delete(faultId);
    w?.();
  }

  async beforeStep(step: number): Promise<void> {
    this.lastStep = step;
    for (const f of [...this.armed.values()]) {
      const at = f.spec.at_step;
      if (at !== undefined && step < at) continue;
      this.armed.delete(f.fault_id);
      await this.fire(f, step);
    }
  }

  poison(step: number, grads: Float32Array): void {
    const id = this.poisonAt.get(step);
    if (id === undefined) return;
    this.poisonAt.delete(step);
    grads[0] = Number.NaN;
    this.d.send({
      type: 'fault',
      fault_id: id,
      phase: 'injected',
      step,
      message: `rank ${this.d.spec().rank}'s gradient of step ${step} set to NaN`,
    });
  }

  private async fire(f: ArmedFault, step: number): Promise<void> {
    const k = f.spec.kind;
    if (AGENT_FAULTS.includes(k) || HEAD_FAULTS.includes(k)) {
      await this.due(f, step);
      return;
    }
    switch (k) {
      case 'crash-actor':
        this.report(f, 'injected', step, `rank ${this.d.spec().rank} throws at step ${step}`);
        throw new FlotillaError('FLO_ACTOR_FAILED', `fault ${f.fault_id}: crash-actor injected at step ${step}`);
      case 'nan-gradient':
        this.poisonAt.set(step, f.fault_id);
        return;
      default:
        this.link(f, step);
    }
  }

  /** Reports the trigger step to the agent and waits until it carried the fault out. */
  private async due(f: ArmedFault, step: number): Promise<void> {
    const { signal } = this.d;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiting.delete(f.fault_id);
        resolve();
      };
      const timer = setTimeout(() => {
        this.d.log.warn({ fault: f.fault_id }, 'the agent did not carry out a due fault in time; going on');
        done();
      }, DUE_WAIT_MS);
      this.waiting.set(f.fault_id, done);
      signal.addEventListener('abort', done, { once: true });
      this.report(f, 'due', step);
    });
  }

  private link(f: ArmedFault, step: number | undefined): void {
    const { shaper } = this.d;
    const slow = f.spec.kind === 'slow-link';
    if (slow) shaper.setRate(f.spec.rate_kbit ?? null);
    else shaper.setDrop(f.spec.fraction ?? null);
    const what = slow
      ? `collective sends throttled to ${f.spec.rate_kbit} kbit/s`
      : `${f.spec.fraction} of outgoing collective chunks dropped`;
    this.report(f, 'injected', step, what);
    const ms = f.spec.duration_ms;
    if (ms === undefined) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (slow) shaper.setRate(null);
      else shaper.setDrop(null);
      this.report(
        f,
        'ended',
        this.lastStep,
        `${what} for ${ms} ms (dropped ${shaper.counters.dropped}, paced ${shaper.counters.paced} chunks)`,
      );
    }, ms);
    this.timers.add(timer);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of [...this.waiting.values()]) w();
  }
}
