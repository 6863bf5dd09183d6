/** The composite YOLOv5 blocks (Ultralytics models/common.py, v6.0+): Bottleneck, C3, SPPF, Upsample, Concat. */
import * as tf from '@tensorflow/tfjs';
import { Conv, convOutSize } from './conv.ts';
import type { SeededRandom } from './init.ts';
import { addOps, zeroOps, type Block, type ForwardContext, type NamedTensor, type OpCount, type Shape3 } from './module.ts';

/** `Bottleneck(c1, c2, shortcut=True, g=1, e=0.5)`: 1×1 → 3×3, plus the input when shapes allow. */
export class Bottleneck implements Block {
  readonly type = 'Bottleneck';
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly add: boolean;
  constructor(
    cIn: number,
    readonly outChannels: number,
    shortcut: boolean,
    e: number,
    rng: SeededRandom,
  ) {
    const hidden = Math.trunc(outChannels * e);
    this.cv1 = new Conv(cIn, hidden, 1, 1, null, true, rng);
    this.cv2 = new Conv(hidden, outChannels, 3, 1, null, true, rng);
    this.add = shortcut && cIn === outChannels;
  }

  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    const y = this.cv2.forward([this.cv1.forward(inputs, ctx)], ctx);
    return this.add ? tf.add(inputs[0], y) : y;
  }

  tensors(prefix: string): NamedTensor[] {
    return [...this.cv1.tensors(`${prefix}.cv1`), ...this.cv2.tensors(`${prefix}.cv2`)];
  }

  moduleCount(): number {
    return 1 + this.cv1.moduleCount() + this.cv2.moduleCount();
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    const a = this.cv1.profile(inputs);
    const b = this.cv2.profile([a.out]);
    return { out: b.out, ops: addOps(a.ops, b.ops) };
  }

  dispose(): void {
    this.cv1.dispose();
    this.cv2.dispose();
  }
}

/** `C3(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: CSP bottleneck with three convolutions. */
export class C3 implements Block {
  readonly type = 'C3';
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly cv3: Conv;
  readonly m: Bottleneck[];
  constructor(
    cIn: number,
    readonly outChannels: number,
    n: number,
    shortcut: boolean,
    e: number,
    rng: SeededRandom,
  ) {
    const hidden = Math.trunc(outChannels * e);
    // construction order = PyTorch registration order (cv1, cv2, cv3, m), which fixes the init stream
    this.cv1 = new Conv(cIn, hidden, 1, 1, null, true, rng);
    this.cv2 = new Conv(cIn, hidden, 1, 1, null, true, rng);
    this.cv3 = new Conv(2 * hidden, outChannels, 1, 1, null, true, rng);
    this.m = Array.from({ length: n }, () => new Bottleneck(hidden, hidden, shortcut, 1.0, rng));
  }

  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    let y = this.cv1.forward(inputs, ctx);
    for (const b of this.m) y = b.forward([y], ctx);
    return this.cv3.forward([tf.concat4d([y, this.cv2.forward(inputs, ctx)], 3)], ctx);
  }

  tensors(prefix: string): NamedTensor[] {
    return [
      ...this.cv1.tensors(`${prefix}.cv1`),
      ...this.cv2.tensors(`${prefix}.cv2`),
      ...this.cv3.tensors(`${prefix}.cv3`),
      ...this.m.flatMap((b, i) => b.tensors(`${prefix}.m.${i}`)),
    ];
  }

  /** itself, cv1..cv3, the `m` Sequential and its bottlenecks */
  moduleCount(): number {
    return 2 + this.cv1.moduleCount() + this.cv2.moduleCount() + this.cv3.moduleCount() + this.m.reduce((s, b) => s + b.moduleCount(), 0);
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    const a = this.cv1.profile(inputs);
    let ops = a.ops;
    let shape = a.out;
    for (const b of this.m) {
      const p = b.profile([shape]);
      ops = addOps(ops, p.ops);
      shape = p.out;
    }
    const c = this.cv2.profile(inputs);
    const d = this.cv3.profile([[shape[0], shape[1], shape[2] + c.out[2]]]);
    return { out: d.out, ops: addOps(addOps(ops, c.ops), d.ops) };
  }

  dispose(): void {
    for (const c of [this.cv1, this.cv2, this.cv3, ...this.m]) c.dispose();
  }
}

/** `SPPF(c1, c2, k=5)`: one k×k max-pool (stride 1, pad k//2) applied three times in sequence. */
export class SPPF implements Block {
  readonly type = 'SPPF';
  readonly cv1: Conv;
  readonly cv2: Conv;
  constructor(
    cIn: number,
    readonly outChannels: number,
    readonly k: number,
    rng: SeededRandom,
  ) {
    const hidden = Math.trunc(cIn / 2);
    this.cv1 = new Conv(cIn, hidden, 1, 1, null, true, rng);
    this.cv2 = new Conv(hidden * 4, outChannels, 1, 1, null, true, rng);
  }

  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    const x = this.cv1.forward(inputs, ctx);
    // stride-1 'same' pooling pads k//2 on each side and ignores the padding, like PyTorch's −∞ pad
    const pool = (t: tf.Tensor4D) => tf.maxPool(t, this.k, 1, 'same');
    const y1 = pool(x);
    const y2 = pool(y1);
    return this.cv2.forward([tf.concat4d([x, y1, y2, pool(y2)], 3)], ctx);
  }

  tensors(prefix: string): NamedTensor[] {
    return [...this.cv1.tensors(`${prefix}.cv1`), ...this.cv2.tensors(`${prefix}.cv2`)];
  }

  /** itself, cv1, cv2 and one MaxPool2d */
  moduleCount(): number {
    return 2 + this.cv1.moduleCount() + this.cv2.moduleCount();
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    const a = this.cv1.profile(inputs);
    const h = convOutSize(a.out[0], this.k, 1, Math.floor(this.k / 2));
    const w = convOutSize(a.out[1], this.k, 1, Math.floor(this.k / 2));
    const b = this.cv2.profile([[h, w, a.out[2] * 4]]);
    return { out: b.out, ops: addOps(a.ops, b.ops) };
  }

  dispose(): void {
    this.cv1.dispose();
    this.cv2.dispose();
  }
}

/** `nn.Upsample(None, scale, 'nearest')` with an integer scale factor. */
export class Upsample implements Block {
  readonly type = 'nn.Upsample';
  constructor(
    readonly outChannels: number,
    readonly scale: number,
  ) {}

  /**
   * out[y][x] = in[⌊y/s⌋][⌊x/s⌋], PyTorch's 'nearest'. Built from two rank-3 broadcasts rather
   * than tf.image.resizeNearestNeighbor, whose CPU gradient is wrong for batches > 1 (tfjs 4.22),
   * and rather than rank-5 broadcasts, whose (tile) gradient tfjs does not implement.
   */
  forward(inputs: tf.Tensor4D[]): tf.Tensor4D {
    const x = inputs[0];
    const [b, h, w, c] = x.shape;
    const s = this.scale;
    const wide = tf.broadcastTo(tf.reshape(x, [b * h * w, 1, c]), [b * h * w, s, c]);
    const tall = tf.broadcastTo(tf.reshape(wide, [b * h, 1, w * s * c]), [b * h, s, w * s * c]);
    return tf.reshape(tall, [b, h * s, w * s, c]);
  }

  tensors(): NamedTensor[] {
    return [];
  }

  moduleCount(): number {
    return 1;
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    const [h, w, c] = inputs[0];
    const out: Shape3 = [h * this.scale, w * this.scale, c];
    return { out, ops: { ...zeroOps(), upsampleElements: out[0] * out[1] * out[2] } };
  }

  dispose(): void {}
}

/** `Concat(dimension=1)`: channel concatenation (the last axis in NHWC). */
export class Concat implements Block {
  readonly type = 'Concat';
  constructor(readonly outChannels: number) {}

  forward(inputs: tf.Tensor4D[]): tf.Tensor4D {
    return tf.concat4d(inputs, 3);
  }

  tensors(): NamedTensor[] {
    return [];
  }

  moduleCount(): number {
    return 1;
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    const [h, w] = inputs[0];
    for (const s of inputs) {
      if (s[0] !== h || s[1] !== w) throw new Error(`Concat: spatial sizes differ (${inputs.map((i) => `${i[0]}×${i[1]}`).join(', ')})`);
    }
    return { out: [h, w, inputs.reduce((s, i) => s + i[2], 0)], ops: zeroOps() };
  }

  dispose(): void {}
}

/** `nn.Sequential` of `n` copies, which is what a row with `number > 1` builds for a non-CSP module. */
export class Repeated implements Block {
  readonly type: string;
  readonly outChannels: number;
  constructor(readonly items: Block[]) {
    this.type = items[0].type;
    this.outChannels = items[items.length - 1].outChannels;
  }

  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    let y = this.items[0].forward(inputs, ctx);
    for (const b of this.items.slice(1)) y = b.forward([y], ctx);
    return y;
  }

  tensors(prefix: string): NamedTensor[] {
    return this.items.flatMap((b, i) => b.tensors(`${prefix}.${i}`));
  }

  moduleCount(): number {
    return 1 + this.items.reduce((s, b) => s + b.moduleCount(), 0);
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    let p = this.items[0].profile(inputs);
    let ops = p.ops;
    for (const b of this.items.slice(1)) {
      p = b.profile([p.out]);
      ops = addOps(ops, p.ops);
    }
    return { out: p.out, ops };
  }

  dispose(): void {
    for (const b of this.items) b.dispose();
  }
}
