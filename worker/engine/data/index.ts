/**
 * The engine's data pipeline: YOLO datasets, image decoding, letterbox / mosaic / perspective /
 * HSV / flip augmentation, a sharded resumable batch loader, and the synthetic detection set.
 */
export { generateSyntheticDataset, synthesizeImage, formatLabels } from './synth/generate.ts';
export type { SyntheticOptions, SyntheticDataset, SyntheticImage } from './synth/generate.ts';
export { SHAPES, DEFAULT_CLASSES } from './synth/shapes.ts';
export { drawShape, drawBackground } from './synth/draw.ts';
export type { ShapeKind } from './synth/shapes.ts';
export { loadDataset, labelPathFor, scanReport, IMAGE_EXTENSIONS, MIN_IMAGE_SIDE } from './dataset.ts';
export type { YoloDataset, DatasetItem, LoadDatasetOptions } from './dataset.ts';
export { parseLabels, LabelFormatError } from './labels.ts';
export type { ParsedLabels } from './labels.ts';
export { createLoader } from './loader.ts';
export {
  ImageStore,
  CACHE_MODES,
  CacheBudgetError,
  CacheWriteError,
  checkCacheBudget,
  cacheBytes,
  diskCachePath,
  availableMemory,
} from './cache.ts';
export type { CacheMode, ImageStoreOptions } from './cache.ts';
export type { Loader, LoaderOptions, LoaderCursor, LoaderState, Batch, ImageShape, AugmentHyp } from './loader-types.ts';
export { decodeImage, encodeImage, readImageSize, ImageDecodeError } from './image.ts';
export type { RgbImage, LoadedImage } from './image.ts';
export { letterbox, PAD_VALUE } from './letterbox.ts';
export type { Letterboxed } from './letterbox.ts';
export { resizeBilinear } from './resize.ts';
export { mosaic, mosaicCanvas } from './mosaic.ts';
export type { MosaicTile } from './mosaic.ts';
export { randomPerspective, randomPerspectiveMatrix, transformBoxes } from './perspective.ts';
export type { PerspectiveHyp } from './perspective.ts';
export { warp, mat3, matMul, matInvert, mapPoint } from './warp.ts';
export type { Mat3 } from './warp.ts';
export { hsvLuts, randomHsvLuts, hsvPixel, writeSample } from './hsv.ts';
export type { HsvLuts } from './hsv.ts';
export { xywhnToXyxy, xyxyToXywhn, clipXyxy, boxCandidate, concatLabels } from './boxes.ts';
export type { BoxCandidateOptions } from './boxes.ts';
export { rectShape, aspectOrder } from './rect.ts';
export { epochOrder, batchesPerEpoch, batchPositions, resumeIndex } from './sampler.ts';
export { Rng, deriveRng, mixSeed } from './rng.ts';
export type { RngState } from './rng.ts';
