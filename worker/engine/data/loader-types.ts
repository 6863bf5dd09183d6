/** The loader's public types: options (with defaults), cursor and state, batches. */
import type { Hyp } from '../hyp/index.ts';
import type { CacheMode } from './cache.ts';
import type { YoloDataset } from './dataset.ts';

/** The augmentation hyperparameters the loader reads (a full `Hyp` fits). */
export type AugmentHyp = Pick<
  Hyp,
  'hsv_h' | 'hsv_s' | 'hsv_v' | 'degrees' | 'translate' | 'scale' | 'shear' | 'perspective' | 'flipud' | 'fliplr' | 'mosaic' | 'mixup'
>;

/** Where a loader stands: the next batch it yields is batch `index` of epoch `epoch`. */
export interface LoaderCursor {
  epoch: number;
  index: number;
}

/**
 * Everything needed to resume a loader exactly (with the same dataset and options). `position` is
 * how many samples of the epoch order all ranks together have consumed; after a change of world
 * size or batch size, resume at `resumeIndex(position, worldSize, batchSize)`.
 */
export interface LoaderState extends LoaderCursor {
  seed: number;
  position: number;
}

export interface LoaderOptions {
  dataset: YoloDataset;
  /** images per batch on this rank */
  batchSize: number;
  /** training image size (long side; mosaic and letterbox output img × img) */
  img: number;
  /** train-time augmentation (mosaic, perspective, HSV, flips); false: letterbox only */
  augment: boolean;
  /** augmentation hyperparameters (default hyp.scratch-low) */
  hyp?: AugmentHyp;
  seed: number;
  /** this process's rank (default 0) */
  rank?: number;
  /** number of ranks sharing each epoch (default 1) */
  worldSize?: number;
  /** rectangular batches sorted by aspect ratio, no mosaic, no shuffle (default false) */
  rect?: boolean;
  /** reshuffle every epoch (default: augment && !rect) */
  shuffle?: boolean;
  /** where to start (default epoch 0, batch 0) */
  cursor?: LoaderCursor;
  /** model stride, for rect shapes (default 32) */
  stride?: number;
  /** rect padding in strides (default 0.5 without augment, 0 with) */
  pad?: number;
  /** images decoded at once (default 8) */
  decodeConcurrency?: number;
  /**
   * worker threads building batches ahead, off the main thread (default 0: batches are built on
   * the calling thread when asked for). Each thread caches its own decoded images.
   */
  workers?: number;
  /**
   * train.py --cache: 'ram' keeps every decoded, resized image; 'disk' keeps them in files
   * beside the images; 'encoded' keeps the files' bytes in RAM; 'none' decodes each image for
   * the batches that use it (default: 'ram' for a small set, else 'none'). See cache.ts.
   */
  cache?: CacheMode;
  /** bytes a 'ram'/'encoded' cache may use (default: the machine's available memory) */
  cacheBudget?: number;
}

/** Where a sample's original pixels went: x_batch = x_orig·gainX + padX (null for mosaics). */
export interface ImageShape {
  origWidth: number;
  origHeight: number;
  gainX: number;
  gainY: number;
  padX: number;
  padY: number;
}

/** One batch. */
export interface Batch {
  /** NHWC [batchSize, height, width, 3], RGB in [0, 1] */
  images: Float32Array;
  /** nt × 6 rows [imageIndexInBatch, cls, xc, yc, w, h], normalised to width/height */
  targets: Float32Array;
  shapes: (ImageShape | null)[];
  paths: string[];
  /** dataset indices of the images */
  indices: number[];
  batchSize: number;
  height: number;
  width: number;
  epoch: number;
  index: number;
}

export interface Loader {
  /** batches per epoch on this rank */
  readonly length: number;
  readonly batchSize: number;
  readonly rank: number;
  readonly worldSize: number;
  /** The batches of an epoch from `from` (default: the cursor's index if it is in this epoch, else 0). */
  epochBatches(epoch: number, from?: number): AsyncIterable<Batch>;
  /** Batch `index` of `epoch` (random access; does not move the cursor). */
  getBatch(epoch: number, index: number): Promise<Batch>;
  /** The next batch position. */
  cursor(): LoaderCursor;
  /** Seed and cursor: enough to resume exactly. */
  state(): LoaderState;
  /**
   * --image-weights: epoch `epoch`'s order becomes n images drawn with replacement by `weights`
   * (one per dataset image; seeded by seed and epoch, so every rank draws the same list and
   * takes its shard of it); null: the plain order again
   */
  setImageWeights(epoch: number, weights: Float64Array | null): void;
  /** Decodes every image up front (in-thread loaders only; kept only with cache 'ram'). */
  warm(): Promise<void>;
  /** Stops the worker threads, if any. */
  close(): Promise<void>;
}
