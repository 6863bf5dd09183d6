/**
 * A YoloModel as an ONNX graph, as YOLOv5's export.py writes it in inference mode: NCHW input
 * `images` [B, 3, H, W] (float32, 0..1), BatchNorm folded into each convolution (fuse()), SiLU
 * as Sigmoid·Mul, and Detect's decoded boxes `output0` [B, N, 5 + nc] (xc, yc, w, h in input
 * pixels, σ(obj), σ(cls)), rows by level, anchor, y, x — the same rows as YoloModel.decode.
 */
import type { Conv, Conv2d } from '../model/conv.ts';
import type { Detect } from '../model/detect.ts';
import { hwioToOihw, type YoloModel } from '../model/index.ts';
import type { GraphBuilder } from './onnx-graph.ts';
import { foldConv, type LayerEmitter, walkYolo } from './yolo-walk.ts';

/** The opsets the exporter writes (Resize with scales needs 11; export.py's default is 17). */
export const MIN_OPSET = 11;
export const MAX_OPSET = 21;

/** One model's graph being written: the ONNX emitter of the shared layer walk (values are tensor names). */
class YoloOnnx implements LayerEmitter<string> {
  constructor(
    readonly g: GraphBuilder,
    readonly opset: number,
    readonly dynamic: boolean,
  ) {}

  conv(x: string, c: Conv2d, prefix: string, bn?: Conv['bn'], act = false): string {
    const { hwio, b } = foldConv(c, bn);
    const wn = this.g.floats(`${prefix}.weight`, hwioToOihw(hwio, [c.cOut, c.cIn, c.k, c.k]), [c.cOut, c.cIn, c.k, c.k]);
    const bnName = this.g.floats(`${prefix}.bias`, b, [c.cOut]);
    const y = this.g.op('Conv', [x, wn, bnName], {
      kernel_shape: [c.k, c.k],
      strides: [c.stride, c.stride],
      pads: [c.pad, c.pad, c.pad, c.pad],
      dilations: [1, 1],
      group: 1,
    });
    return act ? this.g.op('Mul', [y, this.g.op('Sigmoid', [y])]) : y;
  }

  add(a: string, b: string): string {
    return this.g.op('Add', [a, b]);
  }

  concat(xs: string[]): string {
    return this.g.op('Concat', xs, { axis: 1 });
  }

  maxPool(x: string, k: number): string {
    const p = Math.floor(k / 2);
    return this.g.op('MaxPool', [x], { kernel_shape: [k, k], strides: [1, 1], pads: [p, p, p, p] });
  }

  upsample(x: string, scale: number, prefix: string): string {
    const scales = this.g.floats(`${prefix}.scales`, [1, 1, scale, scale], [4]);
    // opset 11–12 need an roi input (an empty tensor); from 13 it may be left out
    const roi = this.opset >= 13 ? '' : this.g.floats(`${prefix}.roi`, [], [0]);
    return this.g.op('Resize', [x, roi, scales], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
  }

  /** The (xc−0.5, yc−0.5) grid of a level as [1, 1, ny·nx, 2]: constants, or computed from the map's shape when dynamic. */
  grid(feature: string, ny: number, nx: number, dynamic: boolean, prefix: string): string {
    if (!dynamic) {
      const g = new Float32Array(ny * nx * 2);
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          g[(y * nx + x) * 2] = x - 0.5;
          g[(y * nx + x) * 2 + 1] = y - 0.5;
        }
      return this.g.floats(`${prefix}.grid`, g, [1, 1, ny * nx, 2]);
    }
    const g = this.g;
    const shape = g.op('Shape', [feature]);
    const at = (k: number) => g.op('Gather', [shape, g.int64s(`${prefix}.dim${k}`, [k], [])], { axis: 0 });
    const h = at(2),
      w = at(3);
    const pos = g.op('Range', [g.int64s(`${prefix}.zero`, [0], []), g.op('Mul', [h, w]), g.int64s(`${prefix}.one`, [1], [])]);
    const col = (t: string) =>
      g.op('Reshape', [
        g.op('Sub', [g.op('Cast', [t], { to: 1 }), g.floats(`${prefix}.half`, [0.5], [])]),
        g.int64s(`${prefix}.col`, [1, 1, -1, 1]),
      ]);
    return g.op('Concat', [col(g.op('Mod', [pos, w])), col(g.op('Div', [pos, w]))], { axis: 3 });
  }

  /** Detect in inference mode: per level conv → [B, na, ny·nx, no] → σ → xy, wh decoded → [B, na·ny·nx, no]. */
  detect(ins: string[], d: Detect, prefix: string, sizes: [number, number][]): string {
    const dynamic = this.dynamic;
    const g = this.g;
    const levels = ins.map((x, i) => {
      const p = `${prefix}.m.${i}`;
      const s = d.strides[i];
      const y = this.conv(x, d.m[i], p);
      const r = g.op('Transpose', [g.op('Reshape', [y, g.int64s(`${p}.shape`, [0, d.na, d.no, -1])])], { perm: [0, 1, 3, 2] });
      const sig = g.op('Sigmoid', [r]);
      const axis = g.int64s(`${p}.axis`, [3]);
      const slice = (a: number, b: number) => g.op('Slice', [sig, g.int64s(`${p}.start`, [a]), g.int64s(`${p}.end`, [b]), axis]);
      const two = g.floats(`${p}.two`, [2], []);
      const xy = g.op('Mul', [
        g.op('Add', [g.op('Mul', [slice(0, 2), two]), this.grid(y, sizes[i][0], sizes[i][1], dynamic, p)]),
        g.floats(`${p}.stride`, [s], []),
      ]);
      const wh2 = g.op('Mul', [slice(2, 4), two]);
      const anchorPx = d.anchors[i].flatMap(([w, h]) => [w * s, h * s]);
      const wh = g.op('Mul', [g.op('Mul', [wh2, wh2]), g.floats(`${p}.anchor_grid`, anchorPx, [1, d.na, 1, 2])]);
      const cat = g.op('Concat', [xy, wh, slice(4, d.no)], { axis: 3 });
      return g.op('Reshape', [cat, g.int64s(`${p}.out_shape`, [0, -1, d.no])]);
    });
    return g.op('Concat', levels, { axis: 1 }, 'output0');
  }
}

/** Writes `model`'s graph into `g` for an [*, 3, h, w] input named `images`; returns the output's name. */
export function yoloToOnnx(g: GraphBuilder, model: YoloModel, h: number, w: number, opset: number, dynamic: boolean): string {
  if (opset < MIN_OPSET || opset > MAX_OPSET) throw new RangeError(`opset ${opset} is outside ${MIN_OPSET}..${MAX_OPSET}`);
  return walkYolo(new YoloOnnx(g, opset, dynamic), model, 'images', h, w, 'ONNX');
}
