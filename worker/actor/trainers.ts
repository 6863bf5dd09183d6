/**
 * Trainer registry: trainer kind -> lazily imported module exporting `run(ctx)`. The import
 * happens inside the actor process, so the agent never loads an engine.
 */
import type { TrainerSpec } from '../../shared/schemas/index.ts';
import type { TrainerModule } from './context.ts';

export type TrainerKind = TrainerSpec['kind'];

export const trainers: Readonly<Record<TrainerKind, () => Promise<TrainerModule>>> = Object.freeze({
  logreg: () => import('../trainers/logreg.ts'),
  yolov5: () => import('../trainers/yolov5.ts'),
});
