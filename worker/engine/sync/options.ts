/**
 * The engine's view of a job's `sync` setting (shared/schemas/sync.ts is the schema the head
 * and the CLI validate with; the engine imports nothing of the platform, so the shape is
 * repeated here and the actor hands the parsed value over as is).
 */
export type SyncMode = 'allreduce' | 'local-sgd' | 'diloco' | 'streaming';
export type SyncCompression = 'none' | 'fp16' | 'bf16' | 'int8';

export interface SyncSettings {
  mode: SyncMode;
  /** optimizer steps between outer syncs (H) */
  every: number;
  compress: SyncCompression;
  outer_lr: number;
  outer_momentum: number;
  /** streaming: fragments synced in turn */
  fragments: number;
  /** streaming: inner steps an exchange runs beside before it is applied */
  overlap: number;
  /** bf16/int8: carry each rank's rounding error into its next send */
  error_feedback: boolean;
}

/** Today's synchronous data parallelism. */
export const ALLREDUCE_SYNC: SyncSettings = {
  mode: 'allreduce',
  every: 16,
  compress: 'none',
  outer_lr: 0.7,
  outer_momentum: 0.9,
  fragments: 4,
  overlap: 1,
  error_feedback: true,
};
