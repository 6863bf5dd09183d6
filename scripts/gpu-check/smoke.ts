// The first thing run.sh runs from the bundle: that it starts under the carried Node, finds its
// data files (model yaml, hyperparameters) where the bundle put them, and trains one small
// YOLOv5n step on whatever backend the engine picks (FLOTILLA_BACKEND to force one). One JSON line.
//   node dist/gpu/smoke.mjs
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { buildModel } from '../../worker/engine/model/index.ts';
import { Trainer } from '../../worker/engine/train/index.ts';

const t0 = performance.now();
const info = await initBackend({ onNotice: (line) => console.error(`smoke: ${line}`) });
const batch = 2,
  img = 64;
const model = buildModel('yolov5n', { nc: 80, seed: 1 });
const trainer = new Trainer(model, { hyp: loadHyp(), epochs: 1, batchSize: batch, batchesPerEpoch: 1, imgsz: img, nbs: batch });
const images = new Float32Array(batch * img * img * 3).map((_, i) => ((i * 2654435761) % 1000) / 1000);
const targets = Float32Array.from([0, 1, 0.5, 0.5, 0.3, 0.3, 1, 2, 0.4, 0.6, 0.2, 0.4]);
const { items } = trainer.computeGradients({ images, targets, batchSize: batch, height: img, width: img });
trainer.applyGradients();
const loss = items.box + items.obj + items.cls;
console.log(
  JSON.stringify({
    ok: Number.isFinite(loss),
    node: process.version,
    backend: info.backend,
    device: info.device,
    tfjs: tf.version_core,
    loss,
    tensors: tf.memory().numTensors,
    ms: Math.round(performance.now() - t0),
  }),
);
if (!Number.isFinite(loss)) process.exit(1);
