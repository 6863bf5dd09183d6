/**
 * Ultralytics' model summary (`model_info`): layers = modules in the PyTorch module tree
 * (`len(list(model.modules()))`, which counts the one SiLU shared by every Conv once);
 * GFLOPs = thop's operation count on a (stride × stride) image, ×2 (multiply-adds → FLOPs),
 * scaled to the requested image size. thop counts a Conv2d as out_elements·c_in·k² (bias not
 * counted), an affine BatchNorm as 4 ops per element, nearest upsampling as 1 op per output
 * element, and nothing for SiLU, max-pooling, addition or concatenation.
 */
import type { BuiltGraph } from './build.ts';
import { addOps, zeroOps, type OpCount, type Shape3 } from './module.ts';

export interface ModelSummary {
  /** modules in the equivalent PyTorch module tree */
  readonly layers: number;
  /** all parameters (BatchNorm running statistics and anchors are buffers, not counted) */
  readonly parameters: number;
  /** parameters that receive gradients (all of them) */
  readonly gradients: number;
  /** GFLOPs of one forward pass on an `img × img` image */
  readonly gflops: number;
}

/** One row of the per-layer table (Ultralytics' `from  n  params  module  arguments`). */
export interface LayerRowInfo {
  readonly index: number;
  readonly from: number | number[];
  readonly n: number;
  readonly params: number;
  /** yaml module name (`C3`) */
  readonly module: string;
  /** PyTorch class (`models.common.C3`) */
  readonly qualname: string;
  /** yaml args */
  readonly args: unknown[];
  /** constructor arguments as Ultralytics prints them (`[32, 32, 1]`) */
  readonly shownArgs: unknown[];
}

/** Python-style rendering of a table argument: `None`, `False`, `'nearest'`, `[10, 13]`. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return String(v);
}

/** One line of Ultralytics' layer table. */
export function formatLayerRow(r: LayerRowInfo): string {
  const from = Array.isArray(r.from) ? pyRepr(r.from) : String(r.from);
  return `${String(r.index).padStart(3)}${from.padStart(18)}${String(r.n).padStart(3)}${String(r.params).padStart(10)}  ${r.qualname.padEnd(40)}${pyRepr(r.shownArgs)}`;
}

/** Header of Ultralytics' layer table. */
export const LAYER_TABLE_HEADER = `${''.padStart(3)}${'from'.padStart(18)}${'n'.padStart(3)}${'params'.padStart(10)}  ${'module'.padEnd(40)}arguments`;

/** `DetectionModel` + its `model` Sequential + every layer + the shared SiLU. */
export function countModules(g: BuiltGraph): number {
  let n = 2 + g.detect.moduleCount();
  for (const l of g.layers) if (l.block) n += l.block.moduleCount();
  return n + 1;
}

/** thop-style operation counts for a square image of `size` pixels, batch 1. */
export function countOps(g: BuiltGraph, size: number): OpCount {
  const shapes: Shape3[] = [];
  let ops = zeroOps();
  for (const l of g.layers) {
    const ins = l.from.map((x) => (x === -1 ? ([size, size, 3] as Shape3) : shapes[x]));
    if (!l.block) {
      ops = addOps(ops, g.detect.profile(ins));
      continue;
    }
    const p = l.block.profile(ins);
    shapes.push(p.out);
    ops = addOps(ops, p.ops);
  }
  return ops;
}

/** Total thop ops (before the ×2 of FLOPs). */
export function thopOps(o: OpCount): number {
  return o.conv + 4 * o.bnElements + o.upsampleElements;
}

/** GFLOPs as Ultralytics prints them: measured at max(stride, 32) px, scaled by (img/stride)². */
export function gflops(g: BuiltGraph, img: number): number {
  const s = Math.max(Math.max(...g.strides), 32);
  return ((thopOps(countOps(g, s)) * 2) / 1e9) * (img / s) * (img / s);
}

/** `YOLOv5s summary: 214 layers, 7235389 parameters, 7235389 gradients, 16.6 GFLOPs` */
export function formatSummary(name: string, s: ModelSummary): string {
  return `${name} summary: ${s.layers} layers, ${s.parameters} parameters, ${s.gradients} gradients, ${s.gflops.toFixed(1)} GFLOPs`;
}
