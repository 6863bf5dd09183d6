/**
 * The YOLOv5 trainer entry. Until the engine exposes its training loop to the actor runtime,
 * a yolov5 job fails fatally with a clear message instead of pretending to train.
 */
import { FlotillaError } from '../../shared/errors.ts';
import type { ActorContext } from '../actor/context.ts';

export async function run(_ctx: ActorContext): Promise<void> {
  throw new FlotillaError('FLO_ACTOR_FATAL', 'the yolov5 trainer is not wired into the actor runtime yet');
}
