// YOLOv5n training throughput on this machine's CPU: one iteration of the engine's own Trainer
// (forward + loss + backward, gradients to the flat vector, clipping, Nesterov SGD, EMA) on
// synthetic data, with a per-kernel profile of one step.
//   npm run bench:train -- [--batch 16] [--img 320] [--steps 3] [--backend native-cpu|cpu|cuda|cuda-host] [--threads N] [--by-shape] [--no-reference] [--json FILE]
//     [--data DATA.yaml [--cache ram|disk|encoded]]
// With --data the batches come from the training loader on that set (mosaic and all; e.g. the
// COCO-like set of scripts/make-coco-like.ts), so the peak RSS printed includes the data path.
// Then runs the same iteration in PyTorch (bench/reference/yolov5_torch.py) when python3-torch is
// installed, and prints the ratio.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

import { cudaBackend, cudaReport, formatCudaReport } from '../worker/cuda/index.ts';
import { endKernelStep, initBackend, type BackendName } from '../worker/engine/backend.ts';
import { createLoader, loadDataset, type CacheMode, type Loader } from '../worker/engine/data/index.ts';
import { loadHyp } from '../worker/engine/hyp/index.ts';
import { buildModel } from '../worker/engine/model/index.ts';
import { hostTransfers, trackHostTransfers, transfersSince } from '../worker/engine/host-transfers.ts';
import { Trainer } from '../worker/engine/train/index.ts';
import { formatProfile, loadAddon, profileByShape, profileKernels } from '../worker/native/index.ts';
import { benchThreads, flag, numFlag } from './args.ts';
import { sgemmGflops } from './sgemm.ts';

const argv = process.argv.slice(2);
const batch = numFlag(argv, 'batch', 16);
const img = numFlag(argv, 'img', 320);
const steps = numFlag(argv, 'steps', 3);
const cfg = flag(argv, 'cfg') || 'yolov5n';
const json = flag(argv, 'json');
const prefer = (flag(argv, 'backend') || 'native-cpu') as BackendName;
const data = flag(argv, 'data');
const cache = flag(argv, 'cache') as CacheMode | undefined;

benchThreads(argv);
const info = await initBackend({ force: prefer });
const hyp = loadHyp();
const model = buildModel(cfg, { nc: 80, seed: 1 });
// nbs = batch: every iteration ends with an optimizer step, as the benchmark means to time it
const trainer = new Trainer(model, { hyp, epochs: 300, batchSize: batch, batchesPerEpoch: 1000, imgsz: img, nbs: batch });
/** The machine's sgemm rate (as bench:kernels measures it), or undefined off the native backend. */
function sgemmRate(): number | undefined {
  const load = loadAddon();
  return load.ok && info.backend === 'native-cpu' ? sgemmGflops(load.addon) : undefined;
}

interface TorchRef {
  images_per_s: number;
  step_ms: number[];
  threads: number;
  torch: string;
  parameters: number;
}

/** The same iteration in PyTorch (Debian's python3-torch), on as many threads, after our run. */
function pytorchReference(): TorchRef | { reason: string } {
  const script = fileURLToPath(new URL('./reference/yolov5_torch.py', import.meta.url));
  const threads = process.env.FLOTILLA_NATIVE_THREADS ?? '2';
  const tried: string[] = [];
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(
      py,
      [script, '--cfg', cfg, '--batch', String(batch), '--img', String(img), '--steps', String(steps), '--threads', threads],
      { encoding: 'utf8', timeout: 600_000 },
    );
    const line = r.stdout?.trim().split('\n').pop() ?? '';
    if (r.status === 0 && line.startsWith('{')) return JSON.parse(line) as TorchRef;
    tried.push(`${py}: ${(r.error?.message ?? r.stderr?.trim().split('\n').pop() ?? 'failed').slice(0, 120)}`);
  }
  return { reason: `PyTorch not runnable (apt-get install python3-torch); ${tried.join('; ')}` };
}

const loader: Loader | undefined = data
  ? createLoader({
      dataset: await loadDataset(data, 'train'),
      batchSize: batch,
      img,
      augment: true,
      hyp,
      seed: 0,
      ...(cache ? { cache } : {}),
    })
  : undefined;
let drawn = 0;
/** The next batch: the loader's (cycling through its epochs) with --data, else synthetic. */
async function refill(): Promise<{ images: Float32Array; targets: Float32Array }> {
  if (!loader) return syntheticBatch();
  const b = await loader.getBatch(Math.floor(drawn / loader.length), drawn % loader.length);
  drawn++;
  return b;
}
let nextBatch = await refill();
/** Synthetic batch: uniform noise images and 1–6 random boxes per image. */
function syntheticBatch(): { images: Float32Array; targets: Float32Array } {
  const rows: number[] = [];
  for (let i = 0; i < batch; i++) {
    const n = 1 + Math.floor(Math.random() * 6);
    for (let j = 0; j < n; j++) {
      const w = 0.05 + Math.random() * 0.4,
        h = 0.05 + Math.random() * 0.4;
      rows.push(i, Math.floor(Math.random() * 80), w / 2 + Math.random() * (1 - w), h / 2 + Math.random() * (1 - h), w, h);
    }
  }
  const images = new Float32Array(batch * img * img * 3);
  for (let i = 0; i < images.length; i++) images[i] = Math.random();
  return { images, targets: Float32Array.from(rows) };
}

/** One training iteration (its batch made beforehand); the loss and the ms of its two halves. */
function step(): { loss: number; gradMs: number; updateMs: number } {
  const { images, targets } = nextBatch;
  const t0 = performance.now();
  const { items } = trainer.computeGradients({ images, targets, batchSize: batch, height: img, width: img });
  endKernelStep(); // as the training loop (fit.ts) does
  const t1 = performance.now();
  trainer.applyGradients();
  return { loss: items.box + items.obj + items.cls, gradMs: t1 - t0, updateMs: performance.now() - t1 };
}

console.log(
  `bench:train ${cfg} batch ${batch} img ${img}, backend ${info.backend}: ${info.device}; data: ${data ? `${data} (training loader${cache ? `, --cache ${cache}` : ''})` : 'synthetic noise'}`,
);
const tw = performance.now();
step(); // warm-up: fills the buffer pool, caches and JIT
nextBatch = await refill();
console.log(`warm-up step ${(performance.now() - tw).toFixed(0)} ms`);
const times: number[] = [];
let loss = 0,
  updateMs = 0;
for (let i = 0; i < steps; i++) {
  const r = step();
  nextBatch = await refill(); // untimed: the loader's time is not the step's
  loss = r.loss;
  updateMs += r.updateMs / steps;
  times.push(r.gradMs + r.updateMs);
  console.log(
    `step ${i + 1}/${steps}: ${times[i].toFixed(0)} ms (forward+backward ${r.gradMs.toFixed(0)}, clip+SGD+EMA ${r.updateMs.toFixed(0)}), loss ${loss.toFixed(3)}`,
  );
}
trackHostTransfers();
const before = hostTransfers();
step();
const tr = transfersSince(before);
console.log(
  `host transfers of one step (an optimizer step): ${tr.reads} reads (${(tr.readBytes / 2 ** 20).toFixed(2)} MiB), ` +
    `${tr.writes} writes (${(tr.writeBytes / 2 ** 20).toFixed(2)} MiB), ${tr.constants} one-element constants`,
);
const mean = times.reduce((a, b) => a + b, 0) / times.length;
const imagesPerS = (batch * 1000) / mean;
// peak resident memory of the process so far (getrusage ru_maxrss): model, optimizer, EMA, buffer pool, activations
const peakRssMb = (process.resourceUsage().maxRSS * 1024) / 2 ** 20;
console.log(`images/s ${imagesPerS.toFixed(2)} (mean step ${mean.toFixed(0)} ms over ${steps} steps), peak RSS ${peakRssMb.toFixed(0)} MB`);
// Same-run reference: the machine's sgemm rate, against the step's useful work counted as
// 3 × the forward GFLOPs (forward, input gradient, filter gradient) of each image.
const sgemm = sgemmRate();
const forwardGflops = model.summary(img).gflops;
const trainGflops = (3 * forwardGflops * batch) / (mean / 1000);
console.log(
  `training ${trainGflops.toFixed(1)} GFLOP/s (3 x ${forwardGflops.toFixed(2)} GFLOPs x ${batch} images per step) = ${(trainGflops / (sgemm ?? NaN)).toFixed(2)}x this machine's sgemm (${sgemm?.toFixed(1) ?? 'n/a'} GFLOP/s, measured now)`,
);
const profile = await profileKernels(() => {
  step();
  return [];
});
console.log(`per-kernel profile of one step (${info.backend}):`);
for (const line of formatProfile(profile, 30)) console.log(line);
if (argv.includes('--by-shape')) {
  const reps = 3;
  const rows = profileByShape(() => {
    for (let i = 0; i < reps; i++) step();
  });
  console.log(`slowest kernels by input shapes (per step, mean of ${reps} steps timed around each kernel call):`);
  for (const r of rows.slice(0, 25)) {
    console.log(
      `  ${(r.ms / reps).toFixed(1).padStart(7)} ms ${String(r.calls / reps).padStart(4)} calls  ${r.kernel} ${JSON.stringify(r.shapes)}`,
    );
  }
}

// CUDA backends: kernels by transfer, host<->device transfers and device memory (docs/gpu.md)
const cuda = info.backend === 'cuda' || info.backend === 'cuda-host' ? cudaBackend(info.backend) : undefined;
if (cuda) for (const line of formatCudaReport(cuda)) console.log(line);

const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
const torchRef = argv.includes('--no-reference') ? null : pytorchReference();
if (torchRef && 'images_per_s' in torchRef) {
  const tMedian = [...torchRef.step_ms].sort((a, b) => a - b)[Math.floor(torchRef.step_ms.length / 2)];
  console.log(
    `PyTorch ${torchRef.torch} on this machine, same run, ${torchRef.threads} threads (bench/reference/yolov5_torch.py, stand-in loss): ` +
      `${torchRef.images_per_s.toFixed(2)} images/s mean, median step ${tMedian.toFixed(0)} ms`,
  );
  console.log(
    `ratio flotilla / PyTorch: ${(imagesPerS / torchRef.images_per_s).toFixed(2)} (means), ${(tMedian / median).toFixed(2)} (median steps)`,
  );
} else {
  console.log(`no PyTorch reference: ${torchRef?.reason ?? '--no-reference'}`);
}

if (json) {
  writeFileSync(
    json,
    JSON.stringify(
      {
        images_per_s: imagesPerS,
        peak_rss_mb: peakRssMb,
        data: data ?? 'synthetic',
        cache: cache ?? null,
        batch,
        img,
        backend: info.backend,
        device: info.device,
        model: cfg,
        train_gflops_per_s: trainGflops,
        sgemm_gflops: sgemm,
        ratio_vs_sgemm: sgemm ? trainGflops / sgemm : null,
        median_step_ms: median,
        pytorch: torchRef,
        host_transfers: tr,
        step_ms: times,
        update_ms: updateMs,
        loss,
        cuda: cuda ? cudaReport(cuda) : undefined,
        profile: profile.kernels.map((k) => ({ name: k.name, ms: k.ms, calls: k.calls })),
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${json}`);
}
