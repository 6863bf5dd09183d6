/** The contract every architecture module implements (internal to the model folder). */
import type * as tf from '@tensorflow/tfjs';

/** How a tensor is used, which decides its optimizer group and how it is loaded. */
export type TensorKind = 'weight' | 'bnWeight' | 'bias' | 'runningMean' | 'runningVar';

/** One state tensor under its PyTorch `state_dict` name. */
export interface NamedTensor {
  /** PyTorch name, e.g. `model.0.conv.weight`, `model.24.m.0.bias` */
  readonly name: string;
  readonly variable: tf.Variable;
  readonly kind: TensorKind;
  /** shape in PyTorch layout (OIHW for conv weights; the variable itself is HWIO) */
  readonly torchShape: readonly number[];
}

/** Per-call forward settings shared by every module. */
export interface ForwardContext {
  /** BatchNorm uses batch statistics (biased variance) when true, running statistics otherwise */
  readonly training: boolean;
  /** in training mode, also move the running statistics towards the batch statistics */
  readonly updateRunningStats: boolean;
}

/** A feature-map shape without the batch: [height, width, channels]. */
export type Shape3 = readonly [number, number, number];

/** Operation count of one forward pass for batch 1, by thop's rules (see summary.ts). */
export interface OpCount {
  /** convolution multiply-accumulates */
  conv: number;
  /** BatchNorm elements (thop: 4 ops per input element for an affine BatchNorm) */
  bnElements: number;
  /** elements written by nearest upsampling (thop: 1 op each) */
  upsampleElements: number;
}

/** A node of the architecture graph whose output is one NHWC feature map. */
export interface Block {
  /** module name as in the yaml (`Conv`, `C3`, …) */
  readonly type: string;
  readonly outChannels: number;
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D;
  /** every parameter and buffer, named under `prefix` (e.g. `model.2`) */
  tensors(prefix: string): NamedTensor[];
  /** number of modules in this PyTorch subtree, itself included, shared activation excluded */
  moduleCount(): number;
  /** output shape and operation count for the given input shapes */
  profile(inputs: Shape3[]): { out: Shape3; ops: OpCount };
  dispose(): void;
}

export function zeroOps(): OpCount {
  return { conv: 0, bnElements: 0, upsampleElements: 0 };
}

export function addOps(a: OpCount, b: OpCount): OpCount {
  return { conv: a.conv + b.conv, bnElements: a.bnElements + b.bnElements, upsampleElements: a.upsampleElements + b.upsampleElements };
}
