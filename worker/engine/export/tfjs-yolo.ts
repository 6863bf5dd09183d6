/**
 * A YoloModel as a TensorFlow GraphDef for a TensorFlow.js graph model: NHWC input `images`
 * [B, H, W, 3] (float32, 0..1; B free), BatchNorm folded into each Conv2D (explicit symmetric
 * padding, as PyTorch pads) + BiasAdd, SiLU as Sigmoid·Mul, and Detect's decoded boxes `output0`
 * [B, N, 5 + nc], rows by level, anchor, y, x — the same rows as YoloModel.decode and the ONNX export.
 */
import type { Conv, Conv2d } from '../model/conv.ts';
import { convOutSize } from '../model/conv.ts';
import type { Detect } from '../model/detect.ts';
import type { YoloModel } from '../model/index.ts';
import { attr, type TfGraphBuilder } from './tfjs-graph.ts';
import { foldConv, type LayerEmitter, walkYolo } from './yolo-walk.ts';

/** A value in the graph: its node name and its spatial size (ResizeNearestNeighbor takes the output size). */
interface V {
  readonly n: string;
  readonly h: number;
  readonly w: number;
}

const NHWC = attr.s('NHWC');

/** The TensorFlow emitter of the shared layer walk. */
class YoloTf implements LayerEmitter<V> {
  constructor(readonly g: TfGraphBuilder) {}

  conv(x: V, c: Conv2d, prefix: string, bn?: Conv['bn'], act = false): V {
    const { hwio, b } = foldConv(c, bn);
    const p = c.pad;
    const y = this.g.op('Conv2D', [x.n, this.g.floats(`${prefix}.weight`, hwio, [c.k, c.k, c.cIn, c.cOut])], {
      strides: attr.ints([1, c.stride, c.stride, 1]),
      padding: attr.s(p ? 'EXPLICIT' : 'VALID'),
      explicit_paddings: attr.ints(p ? [0, 0, p, p, p, p, 0, 0] : []),
      dilations: attr.ints([1, 1, 1, 1]),
      data_format: NHWC,
    });
    let out = this.g.op('BiasAdd', [y, this.g.floats(`${prefix}.bias`, b, [c.cOut])], { data_format: NHWC });
    if (act) out = this.g.op('Mul', [out, this.g.op('Sigmoid', [out])]);
    return { n: out, h: convOutSize(x.h, c.k, c.stride, p), w: convOutSize(x.w, c.k, c.stride, p) };
  }

  add(a: V, b: V): V {
    return { ...a, n: this.g.op('AddV2', [a.n, b.n]) };
  }

  private cat(xs: string[], axis: number): string {
    return this.g.op('ConcatV2', [...xs, this.g.ints('axis', [axis], [])], { N: attr.i(xs.length), Tidx: attr.int32 });
  }

  concat(xs: V[]): V {
    return {
      ...xs[0],
      n: this.cat(
        xs.map((x) => x.n),
        3,
      ),
    };
  }

  maxPool(x: V, k: number): V {
    // stride 1 'SAME' pads k/2 on each side for odd k, and TF's padding never wins a max: PyTorch's -inf padding
    if (k % 2 !== 1) throw new Error(`TF.js export: max-pool kernel ${k} is even; SAME padding would differ from PyTorch's`);
    const n = this.g.op('MaxPool', [x.n], {
      ksize: attr.ints([1, k, k, 1]),
      strides: attr.ints([1, 1, 1, 1]),
      padding: attr.s('SAME'),
      data_format: NHWC,
    });
    return { ...x, n };
  }

  upsample(x: V, scale: number, prefix: string): V {
    const [h, w] = [x.h * scale, x.w * scale];
    // no half-pixel centres, no corner alignment: source index floor(dst / scale), PyTorch's 'nearest'
    const n = this.g.op('ResizeNearestNeighbor', [x.n, this.g.ints(`${prefix}.size`, [h, w])], {
      align_corners: attr.b(false),
      half_pixel_centers: attr.b(false),
    });
    return { n, h, w };
  }

  detect(ins: V[], d: Detect, prefix: string, sizes: [number, number][]): V {
    const g = this.g;
    const levels = ins.map((x, i) => {
      const p = `${prefix}.m.${i}`;
      const s = d.strides[i];
      const [ny, nx] = sizes[i];
      const y = this.conv(x, d.m[i], p).n; // [B, ny, nx, na·no]; channel = anchor·no + k
      const r = g.op(
        'Transpose',
        [g.op('Reshape', [y, g.ints(`${p}.shape`, [-1, ny * nx, d.na, d.no])], { Tshape: attr.int32 }), g.ints(`${p}.perm`, [0, 2, 1, 3])],
        {
          Tperm: attr.int32,
        },
      );
      const sig = g.op('Sigmoid', [r]); // [B, na, ny·nx, no]
      const slice = (a: number, b: number) =>
        g.op('Slice', [sig, g.ints(`${p}.begin`, [0, 0, 0, a]), g.ints(`${p}.size`, [-1, -1, -1, b - a])], { Index: attr.int32 });
      const two = g.floats(`${p}.two`, [2], []);
      const grid = new Float32Array(ny * nx * 2);
      for (let yy = 0; yy < ny; yy++)
        for (let xx = 0; xx < nx; xx++) {
          grid[(yy * nx + xx) * 2] = xx - 0.5;
          grid[(yy * nx + xx) * 2 + 1] = yy - 0.5;
        }
      const xy = g.op('Mul', [
        g.op('AddV2', [g.op('Mul', [slice(0, 2), two]), g.floats(`${p}.grid`, grid, [1, 1, ny * nx, 2])]),
        g.floats(`${p}.stride`, [s], []),
      ]);
      const wh2 = g.op('Mul', [slice(2, 4), two]);
      const anchorPx = d.anchors[i].flatMap(([aw, ah]) => [aw * s, ah * s]);
      const wh = g.op('Mul', [g.op('Mul', [wh2, wh2]), g.floats(`${p}.anchor_grid`, anchorPx, [1, d.na, 1, 2])]);
      const cat = this.cat([xy, wh, slice(4, d.no)], 3);
      return g.op('Reshape', [cat, g.ints(`${p}.out_shape`, [-1, d.na * ny * nx, d.no])], { Tshape: attr.int32 });
    });
    const n = g.op('ConcatV2', [...levels, g.ints('axis', [1], [])], { N: attr.i(levels.length), Tidx: attr.int32 }, 'output0');
    return { n, h: 0, w: 0 };
  }
}

/** Writes `model`'s graph into `g` for an [*, h, w, 3] input named `images`; returns the output node's name. */
export function yoloToTf(g: TfGraphBuilder, model: YoloModel, h: number, w: number): string {
  const input = g.placeholder('images', [-1, h, w, 3]);
  return walkYolo(new YoloTf(g), model, { n: input, h, w }, h, w, 'TF.js').n;
}
