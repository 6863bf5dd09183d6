/**
 * The head's detect thread: loads weights (keeping the last model, keyed by the weights' digest)
 * and runs worker/engine/detect on one image per message, off the head's event loop.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../../worker/engine/backend.ts';
import { classNames, detectBytes, DetectInputError } from '../../worker/engine/detect/index.ts';
import type { YoloModel } from '../../worker/engine/model/index.ts';
import { modelFromPretrained, readPretrainedBytes, WeightsError } from '../../worker/engine/weights/index.ts';
import type { DetectAnswer, DetectTask } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('head/detect/thread.ts runs as a worker thread');
await initBackend();

let cached: { key: string; model: YoloModel; names: string[] } | null = null;

function modelFor(t: DetectTask): { model: YoloModel; names: string[] } {
  const key = createHash('sha256').update(t.weights).digest('hex');
  if (cached?.key === key) return cached;
  const w = readPretrainedBytes(t.weights, t.label);
  const model = modelFromPretrained(w);
  cached?.model.dispose();
  cached = { key, model, names: classNames(model, w.names) };
  return cached;
}

port.on('message', (t: DetectTask) => {
  void (async (): Promise<DetectAnswer> => {
    try {
      const { model, names } = modelFor(t);
      const result = await detectBytes(model, names, Buffer.from(t.image.buffer, t.image.byteOffset, t.image.byteLength), {
        img: t.img,
        confThres: t.confThres,
        iouThres: t.iouThres,
        maxDet: t.maxDet,
        maxPixels: t.maxPixels,
        ...(t.classes ? { classes: t.classes } : {}),
      });
      return { id: t.id, result };
    } catch (e) {
      const kind = e instanceof DetectInputError ? 'input' : e instanceof WeightsError ? 'weights' : 'internal';
      return { id: t.id, error: { kind, message: (e as Error).message } };
    }
  })().then((a) => port.postMessage(a));
});
