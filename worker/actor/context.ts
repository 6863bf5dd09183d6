/** What a trainer (or any actor handler) receives: the Temporal-style activity context. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import type { ActorSpec, TrainerSpec } from '../../shared/schemas/index.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import type { CollectiveGroup } from './group.ts';
import type { StepFaults } from './faults.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ActorContext {
  /** the actor's spec in its current generation (a live-recovery survivor moves on: read it anew after regroup) */
  readonly spec: ActorSpec;
  /** fires on stop, SIGTERM, or a jobAbort of a newer generation; check it between steps */
  readonly signal: AbortSignal;
  /** carries job, actor, rank and generation */
  readonly log: Logger;
  readonly nc: NatsConnection;
  readonly prefix: string;
  /** a `metric` job event of this rank and generation */
  emitMetric(step: number, values: Record<string, number>, epoch?: number): Promise<void>;
  /**
   * Rank 0's report of an applied step (a `metric` event of this generation), stored at most once
   * per (`appliedIn`, step): its message id is derived from them, so the events stream drops a
   * second report inside its duplicate window (2 min). `appliedIn` (default: the current
   * generation) is the generation in which the step was applied; a new rank 0 re-reports the step
   * the gang agreed on with the generation that applied it, which fills the hole a rank 0 killed
   * between its step and its report leaves, and is dropped when that report was stored.
   */
  reportStep(step: number, values: Record<string, number>, epoch?: number, appliedIn?: number): Promise<void>;
  /** a `log` job event (user-visible, replayable) */
  emitLog(level: LogLevel, msg: string): Promise<void>;
  /** stores a job artifact `<jobId>/<name>` and emits its `artifact` event */
  saveArtifact(name: string, data: Uint8Array): Promise<void>;
  /** a job artifact stored earlier (by this or an earlier generation), or null */
  loadArtifact(name: string): Promise<Uint8Array | null>;
  /** this job's checkpoints */
  readonly checkpoints: CheckpointStore;
  /** injected faults: await beforeStep(step) at each step start, poison(step, grads) before the allreduce */
  readonly faults: StepFaults;
  /** the collective group of this job and the current generation, joined on first call */
  group(): Promise<CollectiveGroup>;
  /**
   * After a collective operation failed with `cause`: true when live recovery keeps this actor
   * (it is in a newer generation now: spec and group() are the new ones; nothing of the failed
   * step may be applied, and the state is agreed anew, state-sync.ts); false: rethrow `cause`.
   */
  regroup(cause: unknown): Promise<boolean>;
  /** progress signal to the agent (and `status`): call once per step */
  heartbeat(step?: number): void;
  /**
   * Rank 0, after each applied step: true when a draining node asked for a checkpoint; write the
   * checkpoint of this step, then call checkpointWritten (drain.ts). Always false on other ranks.
   */
  checkpointRequested(): boolean;
  /** answers the drain request with the checkpoint of `step` and holds the gang until it is moved */
  checkpointWritten(step: number): Promise<void>;
}

/** What a trainer may return when done: the SHA-256 (hex) of its final weights, if it computes one. */
export interface TrainerResult {
  digest?: string;
}

/** A trainer module: `run` resolves when training is done, throws to fail. */
export interface TrainerModule {
  run(ctx: ActorContext): Promise<TrainerResult | void>;
  /**
   * loads what `run` needs before any spec exists (a warm actor, worker/actor/warm.ts): the
   * compute backend; `signal` aborts when the process is stopped or orphaned while loading
   */
  warm?(signal?: AbortSignal): Promise<void>;
  /**
   * true: `run` keeps no state of its job outside what it returns (no module-level caches, no
   * engine globals), so a pooled process may run another job after it (worker/actor/warm.ts).
   * Default false: the process exits with its actor.
   */
  readonly reusable?: boolean;
}

export type TrainerKind = TrainerSpec['kind'];

/** Trainer kind -> lazily imported module (worker/trainers/registry.ts, passed in by actor/main.ts). */
export type TrainerRegistry = Readonly<Record<TrainerKind, () => Promise<TrainerModule>>>;
