/**
 * The one walk over a YoloModel's layers that every export format shares: it visits the
 * architecture in order and asks a format's emitter for each primitive (a convolution with its
 * BatchNorm folded in, add, channel concat, max-pool, nearest upsample, Detect). ONNX
 * (onnx-yolo.ts) and TensorFlow.js (tfjs-yolo.ts) are two emitters over this walk.
 */
import type * as tf from '@tensorflow/tfjs';
import { Bottleneck, C3, Concat, Repeated, SPPF, Upsample } from '../model/blocks.ts';
import { Conv, type Conv2d } from '../model/conv.ts';
import type { Detect } from '../model/detect.ts';
import type { YoloModel } from '../model/index.ts';
import type { Block } from '../model/module.ts';

const read = (v: tf.Variable): Float32Array => v.dataSync() as Float32Array;

/** Conv2d (+ an optional BatchNorm folded in): weight HWIO (the engine's layout), bias per output channel. */
export function foldConv(c: Conv2d, bn?: Conv['bn']): { hwio: Float32Array; b: Float32Array } {
  const hwio = read(c.weight).slice();
  const b = c.bias ? read(c.bias).slice() : new Float32Array(c.cOut);
  if (!bn) return { hwio, b };
  const [gamma, beta, mean, variance] = [bn.gamma, bn.beta, bn.runningMean, bn.runningVar].map(read);
  // fuse_conv_and_bn: w·γ/√(var+eps), β − mean·γ/√(var+eps) (+ the conv bias scaled likewise), in float64
  const s = Float64Array.from(gamma, (g, o) => g / Math.sqrt(variance[o] + bn.eps));
  for (let j = 0; j < hwio.length; j++) hwio[j] *= s[j % c.cOut];
  for (let o = 0; o < c.cOut; o++) b[o] = beta[o] + (b[o] - mean[o]) * s[o];
  return { hwio, b };
}

/** What a format writes for each primitive; T is its handle on a value (a tensor name, …). */
export interface LayerEmitter<T> {
  /** the convolution (pad `c.pad` on every side) with `bn` folded in, then SiLU when `act` */
  conv(x: T, c: Conv2d, prefix: string, bn?: Conv['bn'], act?: boolean): T;
  add(a: T, b: T): T;
  /** concatenation along channels */
  concat(xs: T[]): T;
  /** max-pool k×k, stride 1, padding k/2 (the padding never wins) */
  maxPool(x: T, k: number): T;
  /** nearest-neighbour upsampling by an integer scale (floor, asymmetric: PyTorch's 'nearest') */
  upsample(x: T, scale: number, prefix: string): T;
  /** Detect in inference mode: [B, N, no] decoded rows by level, anchor, y, x; sizes are the levels' [ny, nx] */
  detect(ins: T[], d: Detect, prefix: string, sizes: [number, number][]): T;
}

function conv<T>(e: LayerEmitter<T>, x: T, c: Conv, prefix: string): T {
  return e.conv(x, c.conv, `${prefix}.conv`, c.bn, c.act);
}

function bottleneck<T>(e: LayerEmitter<T>, x: T, b: Bottleneck, prefix: string): T {
  const y = conv(e, conv(e, x, b.cv1, `${prefix}.cv1`), b.cv2, `${prefix}.cv2`);
  return b.add ? e.add(x, y) : y;
}

function block<T>(e: LayerEmitter<T>, ins: T[], b: Block, prefix: string, format: string): T {
  if (b instanceof Conv) return conv(e, ins[0], b, prefix);
  if (b instanceof Bottleneck) return bottleneck(e, ins[0], b, prefix);
  if (b instanceof C3) {
    let y = conv(e, ins[0], b.cv1, `${prefix}.cv1`);
    b.m.forEach((m, i) => {
      y = bottleneck(e, y, m, `${prefix}.m.${i}`);
    });
    return conv(e, e.concat([y, conv(e, ins[0], b.cv2, `${prefix}.cv2`)]), b.cv3, `${prefix}.cv3`);
  }
  if (b instanceof SPPF) {
    const x = conv(e, ins[0], b.cv1, `${prefix}.cv1`);
    const y1 = e.maxPool(x, b.k);
    const y2 = e.maxPool(y1, b.k);
    return conv(e, e.concat([x, y1, y2, e.maxPool(y2, b.k)]), b.cv2, `${prefix}.cv2`);
  }
  if (b instanceof Upsample) return e.upsample(ins[0], b.scale, prefix);
  if (b instanceof Concat) return e.concat(ins);
  if (b instanceof Repeated) {
    let y = ins[0];
    b.items.forEach((it, i) => {
      y = block(e, [y], it, `${prefix}.${i}`, format);
    });
    return y;
  }
  throw new Error(`${format} export: no mapping for module ${b.type}`);
}

/** Walks `model` for an h×w input `input`; returns Detect's output. */
export function walkYolo<T>(e: LayerEmitter<T>, model: YoloModel, input: T, h: number, w: number, format: string): T {
  const smax = Math.max(...model.strides);
  if (h % smax || w % smax) throw new RangeError(`image size ${h}×${w} must be a multiple of the stride ${smax}`);
  const { layers, detect } = model.architecture();
  const outs: T[] = [];
  for (const l of layers) {
    const ins = l.from.map((k) => (k === -1 ? input : outs[k]));
    if (!l.block)
      return e.detect(
        ins,
        detect,
        `model.${l.index}`,
        detect.strides.map((s) => [h / s, w / s]),
      );
    outs.push(block(e, ins, l.block, `model.${l.index}`, format));
  }
  throw new Error('the model has no Detect layer');
}
