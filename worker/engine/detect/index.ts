/** Detection on images, as detect.py: letterbox, forward, NMS, scaled boxes, annotated images and YOLO txt. */
export { detectRun, labelLine, summarize, classNames } from './run.ts';
export type { DetectOptions, ImageResult } from './run.ts';
export { predict, checkImgSize } from './predict.ts';
export type { Detection, PredictOptions } from './predict.ts';
export { letterboxAuto, scaleBoxes } from './preprocess.ts';
export type { DetectInput } from './preprocess.ts';
export { drawDetections } from './draw.ts';
export type { DrawBox } from './draw.ts';
export { classHex as classColor } from '../plots/palette.ts';
export { imageFiles, SourceError } from './sources.ts';
export { detectBytes, DetectInputError } from './bytes.ts';
export type { BytesResult } from './bytes.ts';
