// YOLOv5n training throughput on this machine's CPU: forward + loss + backward + SGD on
// synthetic data, with a per-kernel profile of one step.
//   npm run bench:train -- [--batch 16] [--img 320] [--steps 3] [--backend native-cpu|cpu] [--json FILE]
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

import { initBackend, type BackendName } from '../worker/engine/backend.ts';
import { loadHyp } from '../worker/engine/hyp/index.ts';
import { computeLoss, type LossMeta } from '../worker/engine/loss/index.ts';
import { buildModel, type YoloModel } from '../worker/engine/model/index.ts';
import { formatProfile, profileKernels } from '../worker/native/index.ts';
import { flag, numFlag } from './args.ts';

const argv = process.argv.slice(2);
const batch = numFlag(argv, 'batch', 16);
const img = numFlag(argv, 'img', 320);
const steps = numFlag(argv, 'steps', 3);
const cfg = flag(argv, 'cfg') || 'yolov5n';
const json = flag(argv, 'json');
const prefer = (flag(argv, 'backend') || 'native-cpu') as BackendName;

const info = await initBackend({ force: prefer });
const hyp = loadHyp();
const model = buildModel(cfg, { nc: 80, seed: 1 });
const meta: LossMeta = { nc: model.nc, anchors: model.anchors, strides: model.strides, imgsz: img };
const vars = [...model.trainableVariables.weights, ...model.trainableVariables.bnWeights, ...model.trainableVariables.biases];
const optimizer = tf.train.momentum(0.01, 0.937, true);

/** Synthetic batch: uniform noise images and 1–6 random boxes per image. */
function syntheticBatch(): { x: tf.Tensor4D; targets: Float32Array } {
  const rows: number[] = [];
  for (let i = 0; i < batch; i++) {
    const n = 1 + Math.floor(Math.random() * 6);
    for (let j = 0; j < n; j++) {
      const w = 0.05 + Math.random() * 0.4, h = 0.05 + Math.random() * 0.4;
      rows.push(i, Math.floor(Math.random() * 80), w / 2 + Math.random() * (1 - w), h / 2 + Math.random() * (1 - h), w, h);
    }
  }
  return { x: tf.randomUniform([batch, img, img, 3], 0, 1) as tf.Tensor4D, targets: Float32Array.from(rows) };
}

function step(m: YoloModel): number {
  const { x, targets } = syntheticBatch();
  const { value, grads } = tf.variableGrads(() => computeLoss(m.forward(x, { training: true }), targets, meta, hyp).total, vars);
  optimizer.applyGradients(grads as unknown as Record<string, tf.Variable>);
  const loss = value.dataSync()[0];
  tf.dispose([x, value, ...Object.values(grads)]);
  return loss;
}

console.log(`bench:train ${cfg} batch ${batch} img ${img}, backend ${info.backend}: ${info.device}`);
const tw = performance.now();
step(model); // warm-up: first calls allocate and compile nothing, but fill caches
console.log(`warm-up step ${(performance.now() - tw).toFixed(0)} ms`);
const times: number[] = [];
let loss = 0;
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  loss = step(model);
  times.push(performance.now() - t0);
  console.log(`step ${i + 1}/${steps}: ${times[i].toFixed(0)} ms, loss ${loss.toFixed(3)}`);
}
const mean = times.reduce((a, b) => a + b, 0) / times.length;
const imagesPerS = (batch * 1000) / mean;
console.log(`images/s ${imagesPerS.toFixed(2)} (mean step ${mean.toFixed(0)} ms over ${steps} steps; PyTorch 1.13 on 2 threads: ~38-41)`);

const profile = await profileKernels(() => { step(model); return []; });
console.log(`per-kernel profile of one step (${info.backend}):`);
for (const line of formatProfile(profile, 30)) console.log(line);

if (json) {
  writeFileSync(json, JSON.stringify({
    images_per_s: imagesPerS, batch, img, backend: info.backend, device: info.device, model: cfg,
    step_ms: times, loss, profile: profile.kernels.map((k) => ({ name: k.name, ms: k.ms, calls: k.calls })),
  }, null, 2));
  console.log(`wrote ${json}`);
}
tf.dispose(vars);
