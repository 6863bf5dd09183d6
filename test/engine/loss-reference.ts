/**
 * Reads the YOLOv5 reference vectors (shared/reference: vectors.json + raw float32 files) for the
 * loss, metrics and NMS tests. The folder is FLOTILLA_REFERENCE_DIR, else ../shared/reference
 * beside the repository, else /work/shared/reference; `referenceDir()` is null when none exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function referenceDir(): string | null {
  const candidates = [
    process.env.FLOTILLA_REFERENCE_DIR,
    resolve(here, '../../shared/reference'),
    resolve(here, '../../../shared/reference'),
    '/work/shared/reference',
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'vectors.json'))) return c;
  return null;
}

/** A manifest entry of one binary file. */
export interface RefFile {
  file: string;
  shape: number[];
}

/** The parts of vectors.json that the loss, metrics and NMS tests read. */
export interface RefManifest {
  forward: { model: { nc: number; strides: number[]; anchors_grid_units: number[][][] } };
  loss: {
    hyp: {
      imgsz: number;
      box: number;
      obj: number;
      cls: number;
      cls_pw: number;
      obj_pw: number;
      anchor_t: number;
      fl_gamma: number;
      label_smoothing: number;
    };
    cases: Array<{
      name: string;
      predictions: Array<RefFile | string>;
      targets: RefFile;
      expected: {
        lbox: number;
        lobj: number;
        lcls: number;
        total: number;
        matches_per_level: number[];
        duplicate_cells_per_level: number[];
      };
      grad: RefFile[];
    }>;
  };
  metrics: {
    n_images: number;
    num_class_ids: number;
    iou_thresholds: number[];
    labels: RefFile;
    detections: RefFile;
    expected_correct: RefFile;
    labels_per_image: number[];
    detections_per_image: number[];
    expected: {
      mp: number;
      mr: number;
      map50: number;
      map: number;
      labels_per_class: number[];
      per_class: Array<{
        class: number;
        ap50: number;
        ap50_95: number;
        ap_per_iou: number[];
        p: number;
        r: number;
        f1: number;
        tp: number;
        fp: number;
      }>;
    };
    box_iou: { box1_xyxy: number[][]; box2_xyxy: number[][]; expected: number[][] };
    ciou: { box1_xywh: number[][]; box2_xywh: number[][]; expected: number[] };
  };
  nms: {
    params: { conf_thres: number; iou_thres: number; multi_label: boolean; agnostic: boolean; max_det: number; nc: number };
    input: RefFile;
    output: RefFile;
    kept_per_image: number[];
  };
}

/** vectors.json as plain JSON (other tests cast it to the parts they read). */
export function readManifest(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'vectors.json'), 'utf8')) as Record<string, unknown>;
}

/** vectors.json typed for the loss, metrics and NMS tests. */
export function readRefManifest(dir: string): RefManifest {
  return readManifest(dir) as unknown as RefManifest;
}

/** Reads a float32 file and checks its length against the manifest shape. */
export function readF32(dir: string, entry: RefFile | string, shape?: number[]): Float32Array {
  const name = typeof entry === 'string' ? entry : entry.file;
  const want = typeof entry === 'string' ? shape : entry.shape;
  const buf = readFileSync(join(dir, name));
  const out = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (want && out.length !== want.reduce((a, b) => a * b, 1)) {
    throw new Error(`${name}: ${out.length} values, manifest shape ${want.join('x')}`);
  }
  return out;
}

/** |a − b| ≤ atol + rtol·|b| for every element; returns the first failure, or null. */
export function closeAll(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  let worst = 0,
    at = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= 0) && (at < 0 || excess > worst)) {
      worst = excess;
      at = i;
    }
  }
  return at < 0 ? null : `element ${at}: ${a[at]} vs ${b[at]} (over by ${worst})`;
}

/** Finds the manifest object describing `file` anywhere in the manifest. */
export function findEntry(node: unknown, file: string): RefFile | null {
  if (Array.isArray(node)) {
    for (const x of node) {
      const r = findEntry(x, file);
      if (r) return r;
    }
  } else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.file === file && Array.isArray(o.shape)) return o as unknown as RefFile;
    for (const v of Object.values(o)) {
      const r = findEntry(v, file);
      if (r) return r;
    }
  }
  return null;
}
