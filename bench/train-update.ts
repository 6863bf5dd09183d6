// The two halves of a YOLOv5n training iteration timed apart, by process CPU time and wall time,
// on one fixed synthetic batch: forward + backward (Trainer.computeGradients) and the update
// (applyGradients: accumulate, clip, Nesterov SGD, EMA; nbs = batch, so every iteration steps).
// Process CPU time is the steadier figure on a shared, loaded machine (docs/gpu.md, "Speed on
// the CPU").
//   node --import tsx bench/train-update.ts [--batch 4] [--img 128] [--steps 8] [--threads N] [--backend native-cpu|cpu|cuda|cuda-host]
import { initBackend, type BackendName } from '../worker/engine/backend.ts';
import { loadHyp } from '../worker/engine/hyp/index.ts';
import { buildModel } from '../worker/engine/model/index.ts';
import { Trainer } from '../worker/engine/train/index.ts';
import { benchThreads, flag, numFlag } from './args.ts';

const argv = process.argv.slice(2);
const batch = numFlag(argv, 'batch', 4),
  img = numFlag(argv, 'img', 128),
  steps = numFlag(argv, 'steps', 8);
const threads = benchThreads(argv);
const info = await initBackend({ force: (flag(argv, 'backend') || 'native-cpu') as BackendName });
const trainer = new Trainer(buildModel('yolov5n', { nc: 80, seed: 1 }), {
  hyp: loadHyp(),
  epochs: 300,
  batchSize: batch,
  batchesPerEpoch: 1000,
  imgsz: img,
  nbs: batch,
});
let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const images = Float32Array.from({ length: batch * img * img * 3 }, rnd);
const targets = Float32Array.from(Array.from({ length: batch }, (_, i) => [i, 3, 0.5, 0.5, 0.3, 0.2]).flat());
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const half = { grad: { cpu: [] as number[], wall: [] as number[] }, update: { cpu: [] as number[], wall: [] as number[] } };
const WARMUP = 2;
for (let i = 0; i < steps + WARMUP; i++) {
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  trainer.computeGradients({ images: images.slice(), targets: targets.slice(), batchSize: batch, height: img, width: img });
  const c1 = process.cpuUsage(),
    t1 = performance.now();
  trainer.applyGradients();
  const c2 = process.cpuUsage(),
    t2 = performance.now();
  if (i < WARMUP) continue;
  half.grad.cpu.push(cpuMs(c1) - cpuMs(c0));
  half.grad.wall.push(t1 - t0);
  half.update.cpu.push(cpuMs(c2) - cpuMs(c1));
  half.update.wall.push(t2 - t1);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `train-update yolov5n batch ${batch} img ${img}, ${steps} steps after ${WARMUP} warm-up, backend ${info.backend}, ${threads} threads`,
);
for (const [name, h] of Object.entries(half)) {
  console.log(
    `${name === 'grad' ? 'forward+backward' : 'update (clip+SGD+EMA)'}: median ${median(h.cpu).toFixed(1)} ms process CPU, ${median(h.wall).toFixed(1)} ms wall`,
  );
}
trainer.dispose();
