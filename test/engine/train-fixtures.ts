/** Shared fixtures of the training tests: a tiny YOLOv5-style model and seeded synthetic batches. */
import type { ModelYaml } from '../../worker/engine/model/index.ts';
import type { TrainBatch } from '../../worker/engine/train/index.ts';

/** A two-level YOLOv5 with 8–64 channels: every module kind the trainer meets, in a fraction of the time. */
export const TINY_YAML: ModelYaml = {
  nc: 2,
  depth_multiple: 0.33,
  width_multiple: 0.125,
  anchors: [
    [10, 13, 16, 30, 33, 23],
    [30, 61, 62, 45, 59, 119],
  ],
  backbone: [
    [-1, 1, 'Conv', [64, 6, 2, 2]],
    [-1, 1, 'Conv', [128, 3, 2]],
    [-1, 1, 'C3', [128]],
    [-1, 1, 'Conv', [256, 3, 2]],
    [-1, 1, 'C3', [256]],
    [-1, 1, 'Conv', [512, 3, 2]],
    [-1, 1, 'SPPF', [512, 5]],
  ],
  head: [
    [-1, 1, 'Conv', [256, 1, 1]],
    [-1, 1, 'nn.Upsample', [null, 2, 'nearest']],
    [[-1, 4], 1, 'Concat', [1]],
    [-1, 1, 'C3', [256, false]],
    [[10, 6], 1, 'Detect', ['nc', 'anchors']],
  ],
};

/** A seeded LCG, independent of the engine's generators. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

/** Batch `k` of a deterministic stream: noise images with one or two boxes each. */
export function syntheticBatch(k: number, batchSize: number, img: number, nc = 2): TrainBatch {
  const r = lcg(1000 + k);
  const images = new Float32Array(batchSize * img * img * 3);
  for (let i = 0; i < images.length; i++) images[i] = r();
  const rows: number[] = [];
  for (let b = 0; b < batchSize; b++) {
    const n = 1 + ((k + b) % 2);
    for (let j = 0; j < n; j++) rows.push(b, Math.floor(r() * nc), 0.3 + 0.4 * r(), 0.3 + 0.4 * r(), 0.1 + 0.4 * r(), 0.1 + 0.4 * r());
  }
  return { images, batchSize, height: img, width: img, targets: Float32Array.from(rows) };
}
