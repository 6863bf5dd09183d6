/**
 * Export time and inference time of the exported model: the .pt fixture (YOLOv5n at width 0.125)
 * exported to ONNX at --img, run by onnxruntime-web (wasm, 1 thread) and by the engine (eval
 * forward + decode on its best backend), median of --runs. Prints ms and the ratio; no assertion.
 *   node --import tsx bench/onnx.ts [--img 320] [--runs 5]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-web';
import { initBackend } from '../worker/engine/backend.ts';
import { exportOnnx } from '../worker/engine/export/index.ts';
import { modelFromPretrained, readPretrained } from '../worker/engine/weights/index.ts';

const { values } = parseArgs({ options: { img: { type: 'string', default: '320' }, runs: { type: 'string', default: '5' } } });
const img = Number(values.img),
  runs = Number(values.runs);
const backend = await initBackend();
ort.env.wasm.numThreads = 1;
const model = modelFromPretrained(readPretrained(fileURLToPath(new URL('../test/fixtures/pt/yolov5n-w0125.pt', import.meta.url))));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let t0 = performance.now();
const bytes = exportOnnx(model, { img: [img, img] });
const exportMs = performance.now() - t0;
const session = await ort.InferenceSession.create(bytes);
const x = new Float32Array(3 * img * img).map((_, i) => (i % 255) / 255);
const ortMs: number[] = [],
  engMs: number[] = [];
for (let k = 0; k <= runs; k++) {
  t0 = performance.now();
  await session.run({ images: new ort.Tensor('float32', x, [1, 3, img, img]) });
  if (k) ortMs.push(performance.now() - t0);
  t0 = performance.now();
  tf.tidy(() =>
    model
      .decode(model.forward(tf.transpose(tf.tensor4d(x, [1, 3, img, img]), [0, 2, 3, 1]) as tf.Tensor4D, { training: false }))
      .dataSync(),
  );
  if (k) engMs.push(performance.now() - t0);
}
console.log(`export: ${exportMs.toFixed(0)} ms, ${(bytes.length / 1e6).toFixed(2)} MB at ${img}×${img}`);
console.log(
  `inference (batch 1, ${img}×${img}, median of ${runs}): onnxruntime-web wasm 1 thread ${median(ortMs).toFixed(1)} ms, engine ${backend.backend} ${median(engMs).toFixed(1)} ms, ratio ort/engine ${(median(ortMs) / median(engMs)).toFixed(2)}`,
);
model.dispose();
