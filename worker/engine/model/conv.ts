/**
 * The basic layers: a 2-D convolution with explicit symmetric padding (as PyTorch pads; TF's
 * 'same' pads stride-2 convolutions asymmetrically), BatchNorm2d (eps 1e-3, momentum 0.03, as
 * Ultralytics sets them) and `Conv` = conv → BN → SiLU.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormAct, type BnActivation } from '../../native/index.ts';
import { constant } from '../constants.ts';
import { convInitBound, SeededRandom, uniform } from './init.ts';
import type { Block, ForwardContext, NamedTensor, OpCount, Shape3 } from './module.ts';

/** BatchNorm constants from Ultralytics' `initialize_weights`. */
export const BN_EPS = 1e-3;
export const BN_MOMENTUM = 0.03;

/** Output size of a convolution or pooling along one axis. */
export function convOutSize(n: number, k: number, s: number, p: number): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

/** A bias-optional 2-D convolution; weight held HWIO, groups = 1. */
export class Conv2d {
  readonly weight: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1> | null;
  constructor(
    readonly cIn: number,
    readonly cOut: number,
    readonly k: number,
    readonly stride: number,
    readonly pad: number,
    withBias: boolean,
    rng: SeededRandom,
  ) {
    const fanIn = cIn * k * k;
    const bound = convInitBound(fanIn);
    // drawn in PyTorch's OIHW order and written to HWIO places, so the layout never changes the numbers
    const hwio = new Float32Array(cOut * fanIn);
    for (let o = 0; o < cOut; o++)
      for (let i = 0; i < cIn; i++)
        for (let h = 0; h < k; h++)
          for (let w = 0; w < k; w++) {
            hwio[((h * k + w) * cIn + i) * cOut + o] = (rng.next() * 2 - 1) * bound;
          }
    this.weight = tf.variable(tf.tensor4d(hwio, [k, k, cIn, cOut]), true);
    this.bias = withBias ? tf.variable(tf.tensor1d(uniform(rng, cOut, bound)), true) : null;
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    // a numeric pad is symmetric on both sides of each spatial axis, as in PyTorch
    const pad = this.pad === 0 ? 'valid' : this.pad;
    if (!this.bias) return tf.conv2d(x, this.weight, this.stride, pad);
    // one kernel adds the bias as it writes the output (the native FusedConv2D), instead of a
    // second full pass over the map; the gradient is the same conv gradients plus a bias sum
    return tf.fused.conv2d({ x, filter: this.weight, strides: this.stride, pad, bias: this.bias });
  }

  tensors(prefix: string, biasKind: 'bias' = 'bias'): NamedTensor[] {
    const out: NamedTensor[] = [
      { name: `${prefix}.weight`, variable: this.weight, kind: 'weight', torchShape: [this.cOut, this.cIn, this.k, this.k] },
    ];
    if (this.bias) out.push({ name: `${prefix}.bias`, variable: this.bias, kind: biasKind, torchShape: [this.cOut] });
    return out;
  }

  profile(input: Shape3): { out: Shape3; macs: number } {
    const oh = convOutSize(input[0], this.k, this.stride, this.pad);
    const ow = convOutSize(input[1], this.k, this.stride, this.pad);
    return { out: [oh, ow, this.cOut], macs: oh * ow * this.cOut * this.cIn * this.k * this.k };
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

/** BatchNorm2d over the channel (last) axis of NHWC maps. */
export class BatchNorm2d {
  readonly gamma: tf.Variable<tf.Rank.R1>;
  readonly beta: tf.Variable<tf.Rank.R1>;
  readonly runningMean: tf.Variable<tf.Rank.R1>;
  readonly runningVar: tf.Variable<tf.Rank.R1>;
  constructor(
    readonly channels: number,
    readonly eps = BN_EPS,
    readonly momentum = BN_MOMENTUM,
  ) {
    this.gamma = tf.variable(tf.ones([channels]), true);
    this.beta = tf.variable(tf.zeros([channels]), true);
    this.runningMean = tf.variable(tf.zeros([channels]), false);
    this.runningVar = tf.variable(tf.ones([channels]), false);
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (!ctx.training) return tf.batchNorm4d(x, this.runningMean, this.runningVar, this.beta, this.gamma, this.eps);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    if (ctx.updateRunningStats) this.updateRunningStats(mean as tf.Tensor1D, variance as tf.Tensor1D, x.size / this.channels);
    return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, this.beta, this.gamma, this.eps);
  }

  /**
   * Training-mode BN fused with the activation that follows it: one native kernel (with its own
   * gradient) where the native CPU kernels are registered, the composed tfjs ops elsewhere.
   */
  applyTrain(x: tf.Tensor4D, ctx: ForwardContext, act: BnActivation): tf.Tensor4D {
    const { y, mean, variance } = batchNormAct(x, this.gamma, this.beta, this.eps, act);
    if (ctx.updateRunningStats) this.updateRunningStats(mean, variance, x.size / this.channels);
    return y as tf.Tensor4D;
  }

  /**
   * new = (1 − momentum)·old + momentum·batch, with the unbiased batch variance (PyTorch's rule),
   * as tensor ops on the backend: float32, each operation rounded as PyTorch rounds it, no read
   * back to the host (the constants are kept scalars, constants.ts).
   */
  private updateRunningStats(mean: tf.Tensor1D, biasedVar: tf.Tensor1D, n: number): void {
    const mf = constant(this.momentum),
      om = constant(1 - this.momentum),
      c = constant(n > 1 ? n / (n - 1) : 1);
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, om), tf.mul(mean, mf)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, om), tf.mul(tf.mul(biasedVar, c), mf)));
    });
  }

  tensors(prefix: string): NamedTensor[] {
    const s = [this.channels];
    return [
      { name: `${prefix}.weight`, variable: this.gamma, kind: 'bnWeight', torchShape: s },
      { name: `${prefix}.bias`, variable: this.beta, kind: 'bias', torchShape: s },
      { name: `${prefix}.running_mean`, variable: this.runningMean, kind: 'runningMean', torchShape: s },
      { name: `${prefix}.running_var`, variable: this.runningVar, kind: 'runningVar', torchShape: s },
    ];
  }

  dispose(): void {
    for (const v of [this.gamma, this.beta, this.runningMean, this.runningVar]) v.dispose();
  }
}

/** SiLU, x·σ(x). */
export function silu(x: tf.Tensor4D): tf.Tensor4D {
  return tf.mul(x, tf.sigmoid(x));
}

/** Ultralytics `autopad`: 'same'-sized output for odd kernels at stride 1. */
export function autopad(k: number, p?: number | null): number {
  return p ?? Math.floor(k / 2);
}

/** Ultralytics `Conv(c1, c2, k=1, s=1, p=None, g=1, d=1, act=True)`: conv (no bias) → BN → SiLU. */
export class Conv implements Block {
  readonly type = 'Conv';
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(
    cIn: number,
    readonly outChannels: number,
    k: number,
    s: number,
    p: number | null,
    readonly act: boolean,
    rng: SeededRandom,
  ) {
    this.conv = new Conv2d(cIn, outChannels, k, s, autopad(k, p), false, rng);
    this.bn = new BatchNorm2d(outChannels);
  }

  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    if (ctx.training) return this.bn.applyTrain(this.conv.apply(inputs[0]), ctx, this.act ? 'silu' : 'linear');
    const y = this.bn.apply(this.conv.apply(inputs[0]), ctx);
    return this.act ? silu(y) : y;
  }

  tensors(prefix: string): NamedTensor[] {
    return [...this.conv.tensors(`${prefix}.conv`), ...this.bn.tensors(`${prefix}.bn`)];
  }

  /** Conv, its Conv2d and its BatchNorm2d; the SiLU is one instance shared model-wide (counted once there). */
  moduleCount(): number {
    return this.act ? 3 : 4;
  }

  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount } {
    const { out, macs } = this.conv.profile(inputs[0]);
    return { out, ops: { conv: macs, bnElements: out[0] * out[1] * out[2], upsampleElements: 0 } };
  }

  dispose(): void {
    this.conv.dispose();
    this.bn.dispose();
  }
}
