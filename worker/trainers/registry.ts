/**
 * Trainer registry: trainer kind -> lazily imported module exporting `run(ctx)`. The import
 * happens inside the actor process, so the agent never loads an engine; actor/main.ts hands
 * the registry to the runtime, so the actor runtime never imports a trainer.
 */
import type { TrainerRegistry } from '../actor/context.ts';

export const trainers: TrainerRegistry = Object.freeze({
  logreg: () => import('./logreg.ts'),
  yolov5: () => import('./yolov5.ts'),
});
