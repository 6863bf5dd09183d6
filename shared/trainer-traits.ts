/**
 * What the platform needs to know of a trainer, declared as data per trainer kind: the head's
 * live recovery (elastic gangs, when a gang may still grow), its success check and the job
 * report (the final step a spec fixes), a chaos plan's check of its expected step. Code outside
 * the trainers asks `traitsOf(spec.trainer)` instead of testing the trainer's kind.
 */
import type { TrainerSpec } from './schemas/job.ts';

export interface TrainerTraits<T extends TrainerSpec = TrainerSpec> {
  /**
   * Live recovery may shrink and grow a gang whose `min_workers` is below `workers`: the data
   * split follows the world size at every step. Not elastic: shards are fixed when the ranks
   * start, so the gang shrinks through a full restart.
   */
  elastic: boolean;
  /** The step a successful run ends at, when the spec fixes it; undefined: known when the ranks report it. */
  finalStep(t: T): number | undefined;
  /**
   * A live gang below its size grows only before this step (ranks finishing while the new one
   * starts would leave it alone in the new generation).
   */
  growsBefore(t: T): number;
}

type TraitsTable = { [K in TrainerSpec['kind']]: TrainerTraits<Extract<TrainerSpec, { kind: K }>> };

export const TRAINER_TRAITS: TraitsTable = Object.freeze({
  /** logistic regression: a fixed number of steps, every step split over the ranks there are */
  logreg: { elastic: true, finalStep: (t) => t.steps, growsBefore: (t) => 0.9 * t.steps },
  /** YOLOv5: epochs with early stopping (the final step is the one the ranks agree on), fixed shards */
  yolov5: { elastic: false, finalStep: () => undefined, growsBefore: () => Number.POSITIVE_INFINITY },
});

/** The traits of a trainer spec's kind. */
export function traitsOf(t: TrainerSpec): TrainerTraits {
  return TRAINER_TRAITS[t.kind] as TrainerTraits;
}
