import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../worker/engine/backend.ts';
import { loadHyp } from '../worker/engine/hyp/index.ts';
import { computeLoss, type LossMeta } from '../worker/engine/loss/index.ts';
import { buildModel } from '../worker/engine/model/index.ts';
await initBackend({ force: 'native-cpu' });
const batch = 16, img = 320;
const hyp = loadHyp();
const model = buildModel('yolov5n', { nc: 80, seed: 1 });
const meta: LossMeta = { nc: model.nc, anchors: model.anchors, strides: model.strides, imgsz: img };
const vars = [...model.trainableVariables.weights, ...model.trainableVariables.bnWeights, ...model.trainableVariables.biases];
const optimizer = tf.train.momentum(0.01, 0.937, true);
function step() {
  const x = tf.randomUniform([batch, img, img, 3], 0, 1) as tf.Tensor4D;
  const targets = Float32Array.from([0, 1, 0.5, 0.5, 0.2, 0.2, 1, 2, 0.3, 0.3, 0.1, 0.1]);
  const { value, grads } = tf.variableGrads(() => computeLoss(model.forward(x, { training: true }), targets, meta, hyp).total, vars);
  optimizer.applyGradients(grads as unknown as Record<string, tf.Variable>);
  value.dataSync(); tf.dispose([x, value, ...Object.values(grads)]);
}
step(); step();
const info = await tf.profile(() => { step(); return []; });
const by = new Map<string, {ms: number, n: number}>();
for (const k of info.kernels) {
  if (!/Conv2D|BnAct/.test(k.name)) continue;
  const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
  const e = by.get(key) ?? { ms: 0, n: 0 }; e.ms += k.kernelTimeMs as number; e.n++; by.set(key, e);
}
for (const [k, v] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40)) console.log(v.ms.toFixed(1).padStart(7), v.n, k);
