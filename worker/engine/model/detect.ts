/**
 * `Detect(nc, anchors, ch)`: one 1×1 convolution per level producing `na·(nc+5)` channels,
 * reshaped to the reference head layout [B, na, ny, nx, no], and the eval-mode decoding.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d } from './conv.ts';
import type { SeededRandom } from './init.ts';
import type { NamedTensor, OpCount, Shape3 } from './module.ts';

export class Detect {
  readonly type = 'Detect';
  readonly no: number;
  readonly nl: number;
  readonly na: number;
  readonly m: Conv2d[];
  /** anchors in grid units per level, [nl][na][2] (pixels / stride) */
  anchors: number[][][];

  constructor(
    readonly nc: number,
    anchorsGrid: number[][][],
    readonly inChannels: number[],
    readonly strides: number[],
    rng: SeededRandom,
  ) {
    this.nl = anchorsGrid.length;
    this.na = anchorsGrid[0].length;
    this.no = nc + 5;
    this.anchors = anchorsGrid.map((l) => l.map((a) => [a[0], a[1]]));
    this.m = inChannels.map((c) => new Conv2d(c, this.no * this.na, 1, 1, 0, true, rng));
    this.initBiases();
  }

  /**
   * Ultralytics `_initialize_biases` (class frequencies unknown): objectness bias
   * += log(8/(640/s)²) (≈ 8 objects per 640² image), class biases += log(0.6/(nc − 0.99999)).
   */
  private initBiases(): void {
    this.m.forEach((conv, i) => {
      const s = this.strides[i];
      const b = conv.bias!.dataSync().slice();
      for (let a = 0; a < this.na; a++) {
        b[a * this.no + 4] += Math.log(8 / (640 / s) ** 2);
        for (let c = 5; c < this.no; c++) b[a * this.no + c] += Math.log(0.6 / (this.nc - 0.99999));
      }
      conv.bias!.assign(tf.tensor1d(b));
    });
  }

  /** Raw logits per level, [B, na, ny, nx, no]; no activation. */
  forward(inputs: tf.Tensor4D[]): tf.Tensor5D[] {
    return inputs.map((x, i) => {
      const [b, ny, nx] = x.shape;
      const y = this.m[i].apply(x); // [B, ny, nx, na·no]; channel = anchor·no + k, as PyTorch's view
      return tf.transpose(tf.reshape(y, [b, ny, nx, this.na, this.no]), [0, 3, 1, 2, 4]) as tf.Tensor5D;
    });
  }

  /**
   * Eval-mode boxes: [B, N, no] with rows by level, anchor, y, x; columns
   * xc = (2σ − 0.5 + i)·stride, yc likewise, w = (2σ)²·anchor_px, h likewise, then σ(obj), σ(cls).
   */
  decode(raw: tf.Tensor5D[]): tf.Tensor3D {
    return tf.tidy(() => {
      const levels = raw.map((r, i) => {
        const [b, na, ny, nx, no] = r.shape;
        const s = this.strides[i];
        const sig = tf.sigmoid(r);
        const xy = tf.slice(sig, [0, 0, 0, 0, 0], [b, na, ny, nx, 2]);
        const wh = tf.slice(sig, [0, 0, 0, 0, 2], [b, na, ny, nx, 2]);
        const rest = tf.slice(sig, [0, 0, 0, 0, 4], [b, na, ny, nx, no - 4]);
        const grid = new Float32Array(ny * nx * 2);
        for (let y = 0; y < ny; y++)
          for (let x = 0; x < nx; x++) {
            grid[(y * nx + x) * 2] = x - 0.5;
            grid[(y * nx + x) * 2 + 1] = y - 0.5;
          }
        const anchorPx = new Float32Array(na * 2);
        for (let a = 0; a < na; a++) {
          anchorPx[a * 2] = this.anchors[i][a][0] * s;
          anchorPx[a * 2 + 1] = this.anchors[i][a][1] * s;
        }
        const xyOut = tf.mul(tf.add(tf.mul(xy, 2), tf.tensor(grid, [1, 1, ny, nx, 2])), s);
        const whOut = tf.mul(tf.square(tf.mul(wh, 2)), tf.tensor(anchorPx, [1, na, 1, 1, 2]));
        return tf.reshape(tf.concat([xyOut, whOut, rest], 4), [b, na * ny * nx, no]);
      });
      return tf.concat(levels, 1) as tf.Tensor3D;
    });
  }

  tensors(prefix: string): NamedTensor[] {
    return this.m.flatMap((c, i) => c.tensors(`${prefix}.m.${i}`));
  }

  /** itself, the `m` ModuleList and one Conv2d per level */
  moduleCount(): number {
    return 2 + this.nl;
  }

  profile(inputs: Shape3[]): OpCount {
    return { conv: inputs.reduce((s, x, i) => s + this.m[i].profile(x).macs, 0), bnElements: 0, upsampleElements: 0 };
  }

  dispose(): void {
    for (const c of this.m) c.dispose();
  }
}
