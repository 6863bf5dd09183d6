// The machine's sgemm rate against the native conv kernels on YOLOv5n layer shapes.
//   npm run bench:kernels -- [--batch 16] [--img 320] [--reps 3] [--threads N] [--json FILE]
// Prints sgemm GFLOP/s, conv forward + both gradients GFLOP/s per layer shape and in total
// (weighted by how often the shape occurs in YOLOv5n), and the ratio conv / sgemm.
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

import { initBackend } from '../worker/engine/backend.ts';
import { loadAddon } from '../worker/native/index.ts';
import { benchThreads, flag, numFlag } from './args.ts';
import { best, sgemmGflops } from './sgemm.ts';

const argv = process.argv.slice(2);
const batch = numFlag(argv, 'batch', 16);
const img = numFlag(argv, 'img', 320);
const reps = numFlag(argv, 'reps', 3);
const json = flag(argv, 'json');

benchThreads(argv);
const info = await initBackend({ force: 'native-cpu' });
const load = loadAddon();
if (!load.ok) throw new Error(load.reason);
const addon = load.addon;

/** [input size as a fraction of img, cin, cout, kernel, stride, occurrences in YOLOv5n] */
const LAYERS: Array<[number, number, number, number, number, number]> = [
  [1, 3, 16, 6, 2, 1],
  [1 / 2, 16, 32, 3, 2, 1],
  [1 / 4, 32, 16, 1, 1, 2],
  [1 / 4, 16, 16, 1, 1, 1],
  [1 / 4, 16, 16, 3, 1, 1],
  [1 / 4, 32, 32, 1, 1, 1],
  [1 / 4, 32, 64, 3, 2, 1],
  [1 / 8, 64, 32, 1, 1, 4],
  [1 / 8, 32, 32, 1, 1, 3],
  [1 / 8, 32, 32, 3, 1, 3],
  [1 / 8, 64, 64, 1, 1, 2],
  [1 / 8, 128, 32, 1, 1, 2],
  [1 / 8, 64, 64, 3, 2, 1],
  [1 / 8, 64, 255, 1, 1, 1],
  [1 / 8, 64, 128, 3, 2, 1],
  [1 / 16, 128, 64, 1, 1, 5],
  [1 / 16, 256, 64, 1, 1, 2],
  [1 / 16, 64, 64, 1, 1, 5],
  [1 / 16, 64, 64, 3, 1, 5],
  [1 / 16, 128, 128, 1, 1, 3],
  [1 / 16, 128, 128, 3, 2, 1],
  [1 / 16, 128, 255, 1, 1, 1],
  [1 / 16, 128, 256, 3, 2, 1],
  [1 / 32, 256, 128, 1, 1, 6],
  [1 / 32, 128, 128, 1, 1, 2],
  [1 / 32, 128, 128, 3, 1, 2],
  [1 / 32, 256, 256, 1, 1, 2],
  [1 / 32, 512, 256, 1, 1, 1],
  [1 / 32, 256, 255, 1, 1, 1],
];

console.log(`bench:kernels batch ${batch} img ${img}, ${info.device}`);
const sgemm = sgemmGflops(addon);
console.log(`sgemm: ${sgemm.toFixed(1)} GFLOP/s (best of 1024x1024x1024 and 2048x2048x512)`);

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;

interface Row {
  layer: string;
  count: number;
  gflop: number;
  fwdMs: number;
  dxMs: number;
  dwMs: number;
  gflops: number;
}
const rows: Row[] = [];
let totalFlop = 0,
  totalMs = 0;
for (const [frac, cin, cout, k, s, count] of LAYERS) {
  const h = Math.round(img * frac);
  const pad = Math.floor(k / 2) - (k === 6 ? 1 : 0);
  const x = tf.randomUniform([batch, h, h, cin]);
  const w = tf.randomUniform([k, k, cin, cout], -0.1, 0.1);
  const attrs = { strides: [s, s], pad, dataFormat: 'NHWC', dilations: [1, 1] };
  const y = run('Conv2D', { x, filter: w }, attrs);
  const dy = tf.randomUniform(y.shape);
  const fwdMs = best(() => tf.dispose(run('Conv2D', { x, filter: w }, attrs)), reps);
  // The first layer's input is the image batch: training never asks for its gradient.
  const needsDx = cin !== 3;
  const dxMs = needsDx ? best(() => tf.dispose(run('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape })), reps) : 0;
  const dwMs = best(() => tf.dispose(run('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape })), reps);
  const [, oh, ow] = y.shape as [number, number, number, number];
  const flop = 2 * batch * oh * ow * cout * k * k * cin * (needsDx ? 3 : 2);
  const ms = fwdMs + dxMs + dwMs;
  const row = { layer: `${h}x${h} ${cin}->${cout} k${k} s${s}`, count, gflop: flop / 1e9, fwdMs, dxMs, dwMs, gflops: flop / (ms * 1e6) };
  rows.push(row);
  totalFlop += flop * count;
  totalMs += ms * count;
  console.log(
    `  ${row.layer.padEnd(24)} x${count}  fwd ${fwdMs.toFixed(1).padStart(7)} ms  dx ${needsDx ? dxMs.toFixed(1).padStart(7) : '      -'} ms  dw ${dwMs.toFixed(1).padStart(7)} ms  ${row.gflops.toFixed(1).padStart(6)} GFLOP/s`,
  );
  tf.dispose([x, w, y, dy]);
}
const conv = totalFlop / (totalMs * 1e6);
const ratio = conv / sgemm;
console.log(
  `conv forward+backward: ${conv.toFixed(1)} GFLOP/s over YOLOv5n layer shapes (${(totalFlop / 1e9).toFixed(1)} GFLOP in ${totalMs.toFixed(0)} ms)`,
);
console.log(`ratio conv/sgemm: ${ratio.toFixed(2)} (target >= 0.6)`);
if (json) {
  writeFileSync(
    json,
    JSON.stringify({ sgemm_gflops: sgemm, conv_gflops: conv, ratio, batch, img, device: info.device, layers: rows }, null, 2),
  );
  console.log(`wrote ${json}`);
}
