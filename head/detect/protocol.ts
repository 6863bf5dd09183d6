/** Messages between the head and its detect thread (in-process, structured clone: no wire schema). */
import type { BytesResult } from '../../worker/engine/detect/index.ts';

export interface DetectTask {
  id: number;
  /** names the weights in messages and keys the thread's model cache with their digest */
  label: string;
  weights: Uint8Array;
  image: Uint8Array;
  img: number;
  confThres: number;
  iouThres: number;
  maxDet: number;
  classes?: number[];
  maxPixels: number;
}

/** 'input': the image is refused; 'weights': the artifact is not weights this engine loads. */
export type DetectFailure = { kind: 'input' | 'weights' | 'internal'; message: string };

export type DetectAnswer = { id: number; result: BytesResult } | { id: number; error: DetectFailure };
