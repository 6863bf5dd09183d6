/**
 * What the trainer needs from the model, the loss and the data, written as structural
 * interfaces so that the trainer can be tested with a toy model and the engine's pieces
 * stay swappable.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ConfusionMatrix, MetricCurves } from '../metrics/index.ts';

/** A trainable tensor under its PyTorch-style name (`model.0.conv.weight`). */
export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** Trainable tensors by optimizer group. */
export interface ParameterGroups {
  /** conv / linear weights: weight decay applies */
  readonly weights: readonly NamedVariable[];
  /** BatchNorm weights (gamma): no decay */
  readonly bnWeights: readonly NamedVariable[];
  /** all biases, BatchNorm beta included: no decay */
  readonly biases: readonly NamedVariable[];
}

/** How a model tensor is used: the first three are trained, the rest are buffers. */
export type TensorKind = 'weight' | 'bnWeight' | 'bias' | 'runningMean' | 'runningVar';

/** A model tensor under its PyTorch-style name, with its kind. */
export interface KindedVariable extends NamedVariable {
  readonly kind: TensorKind;
}

/** The model as the trainer sees it (YoloModel fits). */
export interface TrainableModel {
  readonly nc: number;
  /** stride of each output level, in pixels */
  readonly strides: readonly number[];
  /** [nl][na][2] anchors in grid units */
  readonly anchors: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>;
  /** raw per-level predictions [B, na, ny, nx, no]; training mode uses and updates batch statistics */
  forward(x: tf.Tensor4D, opts: { training: boolean }): tf.Tensor[];
  /** [B, N, no]: xywh in pixels, then sigmoid objectness and class scores */
  decode(raw: tf.Tensor[]): tf.Tensor3D;
  /** every parameter and BatchNorm buffer, by name and kind */
  namedTensors(): readonly KindedVariable[];
  /** every parameter and buffer (BN running statistics included), copied */
  stateDict(): Map<string, Float32Array>;
  loadStateDict(state: Map<string, Float32Array>): unknown;
  /** the state-dict entries that are host values rather than tensors (anchors); absent: stateDict() is read for them */
  hostState?(): Map<string, Float32Array>;
  dispose?(): void;
}

/** One batch of letterboxed images and their labels. */
export interface TrainBatch {
  /** NHWC, values in [0, 1], length batch·height·width·3 */
  readonly images: Float32Array;
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
  /** nt×6 rows [image index in batch, class, xc, yc, w, h], normalised to [0, 1] */
  readonly targets: Float32Array;
}

/** The loss items of one batch, as train.py logs them (each already times its gain, not times batch). */
export interface LossItems {
  box: number;
  obj: number;
  cls: number;
}

/** Validation results (val.py's `results`). */
export interface ValMetrics {
  /** mean precision and recall over classes */
  mp: number;
  mr: number;
  map50: number;
  map: number;
  fitness: number;
  /** mean loss items over validation batches */
  loss: LossItems;
  /** images and labels seen */
  images: number;
  labels: number;
  /** mAP@0.5:0.95 per class id (length nc); classes without labels get the mean, as val.py's maps */
  maps?: number[];
  /** what the numbers were computed from, for the plots: labels per class, the confusion matrix, the curves */
  stats?: { labelsPerClass: readonly number[]; confusion?: ConfusionMatrix; curves?: MetricCurves };
}
