/** The YOLOv5 model on TF.js: parameters as tf.Variables, NHWC inside, the reference head layout outside. */
import * as tf from '@tensorflow/tfjs';
import { buildGraph, type BuiltGraph, type Layer } from './build.ts';
import type { Detect } from './detect.ts';
import type { ForwardContext, NamedTensor } from './module.ts';
import { loadModelYaml, type ModelYaml } from './model-yaml.ts';
import {
  assignTensors,
  torchBlobToMap,
  type LoadOptions,
  type LoadReport,
  type SourceTensor,
  type TorchTensorInfo,
  StateDictError,
} from './state.ts';
import { countModules, gflops, type LayerRowInfo, type ModelSummary } from './summary.ts';

/** Options of {@link buildModel}. */
export interface BuildOptions {
  /** number of classes; overrides the yaml's `nc` (default: the yaml's) */
  readonly nc?: number;
  /** seed of the deterministic initialisation (default 0) */
  readonly seed?: number;
}

/** Options of {@link YoloModel.forward}. */
export interface ForwardOptions {
  /** BatchNorm normalises with batch statistics (biased variance) when true, running statistics when false */
  readonly training: boolean;
  /**
   * In training mode, also update the BatchNorm running statistics (momentum 0.03, unbiased
   * batch variance). Default: equal to `training`. Pass false for extra passes within a step
   * (e.g. a gradient-accumulation micro-batch you do not want counted twice).
   */
  readonly updateRunningStats?: boolean;
}

/** Trainable variables grouped as Ultralytics' optimizer groups them. */
export interface TrainableVariables {
  /** convolution weights (including Detect's): weight decay applies */
  readonly weights: tf.Variable[];
  /** BatchNorm weights (γ): no decay */
  readonly bnWeights: tf.Variable[];
  /** every bias, BatchNorm β and Detect conv bias: no decay */
  readonly biases: tf.Variable[];
}

/** Name of the anchors buffer in the state dict (`model.<detect index>.anchors`). */
const ANCHORS_SUFFIX = '.anchors';

export class YoloModel {
  /** number of classes */
  readonly nc: number;
  /** anchors per level */
  readonly na: number;
  /** detection levels */
  readonly nl: number;
  /** outputs per anchor, nc + 5 */
  readonly no: number;
  /** stride per level, e.g. [8, 16, 32] */
  readonly strides: number[];
  /** the resolved yaml (with the `nc` override applied) */
  readonly yaml: ModelYaml;
  /** trainable variables in optimizer groups */
  readonly trainableVariables: TrainableVariables;
  private readonly graph: BuiltGraph;
  private readonly named: NamedTensor[];
  private readonly anchorsName: string;
  /** index of the last layer reading each layer's output */
  private readonly lastUse: number[];
  private disposed = false;

  constructor(yaml: ModelYaml, seed: number) {
    this.yaml = yaml;
    this.graph = buildGraph(yaml, seed);
    const d = this.graph.detect;
    this.nc = d.nc;
    this.na = d.na;
    this.nl = d.nl;
    this.no = d.no;
    this.strides = [...this.graph.strides];
    const detectLayer = this.graph.layers[this.graph.layers.length - 1];
    this.named = [...this.graph.layers.flatMap((l) => (l.block ? l.block.tensors(`model.${l.index}`) : d.tensors(`model.${l.index}`)))];
    this.anchorsName = `model.${detectLayer.index}${ANCHORS_SUFFIX}`;
    this.lastUse = this.graph.layers.map(() => -1);
    for (const l of this.graph.layers) for (const k of l.from) if (k >= 0) this.lastUse[k] = Math.max(this.lastUse[k], l.index);
    const group = (k: NamedTensor['kind']) => this.named.filter((t) => t.kind === k).map((t) => t.variable);
    this.trainableVariables = { weights: group('weight'), bnWeights: group('bnWeight'), biases: group('bias') };
  }

  /** The built layer graph and its Detect head, read-only, for exporters (worker/engine/export). */
  architecture(): { readonly layers: readonly Layer[]; readonly detect: Detect } {
    this.assertLive();
    return { layers: this.graph.layers, detect: this.graph.detect };
  }

  /** Anchors in grid units per level, [nl][na][2] (pixels = value × stride). A copy. */
  get anchors(): number[][][] {
    return this.graph.detect.anchors.map((l) => l.map((a) => [...a]));
  }

  /** Replaces the anchors (grid units, [nl][na][2]); used by autoanchor and checkpoint loading. */
  setAnchors(anchors: number[][][]): void {
    if (anchors.length !== this.nl || anchors.some((l) => l.length !== this.na || l.some((a) => a.length !== 2))) {
      throw new StateDictError(`anchors must be [${this.nl}][${this.na}][2]`);
    }
    this.graph.detect.anchors = anchors.map((l) => l.map((a) => [a[0], a[1]]));
  }

  /**
   * Raw head outputs per level, [B, na, ny, nx, nc+5] logits (no activation), from an NHWC image
   * batch [B, H, W, 3] with values in [0, 1]; H and W must be multiples of the largest stride.
   */
  forward(x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor5D[] {
    this.assertLive();
    const [, h, w, c] = x.shape;
    const smax = Math.max(...this.strides);
    if (c !== 3 || h % smax !== 0 || w % smax !== 0) {
      throw new Error(`forward: input must be [B, H, W, 3] with H, W multiples of ${smax}; got [${x.shape.join(', ')}]`);
    }
    const ctx: ForwardContext = { training: opts.training, updateRunningStats: opts.training && (opts.updateRunningStats ?? true) };
    const layers = this.graph.layers;
    return tf.tidy(() => {
      const outs: (tf.Tensor4D | null)[] = [];
      for (const l of layers) {
        const ins = l.from.map((k) => (k === -1 ? x : outs[k]!));
        if (!l.block) return this.graph.detect.forward(ins);
        const block = l.block;
        // one scope per layer, and each output freed after its last reader: peak memory stays near
        // the live feature maps (a gradient tape keeps what backprop needs on its own)
        outs.push(tf.tidy(() => block.forward(ins, ctx)));
        for (const k of l.from) {
          if (k >= 0 && this.lastUse[k] === l.index) {
            outs[k]!.dispose();
            outs[k] = null;
          }
        }
      }
      throw new Error('unreachable: the graph ends with Detect');
    });
  }

  /**
   * Eval-mode decoding of {@link forward}'s output: [B, N, nc+5] rows ordered by level, anchor,
   * y, x; columns xc, yc, w, h in input pixels, then σ(obj) and σ(cls).
   */
  decode(raw: tf.Tensor5D[]): tf.Tensor3D {
    return this.graph.detect.decode(raw);
  }

  /** Every parameter and BatchNorm buffer under its PyTorch name (anchors excluded). */
  namedTensors(): readonly NamedTensor[] {
    return this.named;
  }

  /**
   * Parameters, BatchNorm running statistics and anchors by PyTorch name, as copies. Conv
   * weights are in the engine layout (HWIO), not PyTorch's; anchors are grid units [nl·na·2].
   */
  stateDict(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    // slice: on the CPU backend dataSync() returns the variable's own storage
    for (const t of this.named) out.set(t.name, (t.variable.dataSync() as Float32Array).slice());
    out.set(this.anchorsName, Float32Array.from(this.graph.detect.anchors.flat(2)));
    return out;
  }

  /** The state-dict entries that are host values, not tensors: the anchors (no backend read). */
  hostState(): Map<string, Float32Array> {
    return new Map([[this.anchorsName, Float32Array.from(this.graph.detect.anchors.flat(2))]]);
  }

  /** Loads a {@link stateDict} (engine layout). Strict by default: all names, all shapes. */
  loadStateDict(state: Map<string, Float32Array> | Record<string, Float32Array>, opts: LoadOptions = {}): LoadReport {
    const m = state instanceof Map ? state : new Map(Object.entries(state));
    const src = new Map<string, SourceTensor>([...m].map(([k, data]) => [k, { data }]));
    return this.assign(src, false, opts);
  }

  /**
   * Loads a PyTorch state_dict laid out in one float32 blob (names like `model.0.conv.weight`,
   * OIHW conv weights, `model.24.anchors` in grid units); `num_batches_tracked` is ignored.
   */
  loadTorchWeights(blob: Float32Array, tensors: readonly TorchTensorInfo[], opts: LoadOptions = {}): LoadReport {
    return this.assign(torchBlobToMap(blob, tensors), true, opts);
  }

  /**
   * Loads tensors in PyTorch layout by name, each with its PyTorch shape (a `.pt` state dict);
   * non-strict loads transfer the names whose shapes match, as train.py's intersect_dicts.
   */
  loadTorchState(state: ReadonlyMap<string, { data: Float32Array; shape: readonly number[] }>, opts: LoadOptions = {}): LoadReport {
    return this.assign(new Map(state), true, opts);
  }

  private assign(src: Map<string, SourceTensor>, torchLayout: boolean, opts: LoadOptions): LoadReport {
    this.assertLive();
    let anchors: Float32Array | null = null;
    const report = assignTensors(this.named, src, torchLayout, opts, (name, t) => {
      if (name !== this.anchorsName) return false;
      if (t.data.length !== this.nl * this.na * 2) {
        if (opts.strict ?? true) throw new StateDictError(`${name}: ${t.data.length} values, expected ${this.nl * this.na * 2}`);
        return false;
      }
      anchors = t.data;
      return true;
    });
    const a: Float32Array | null = anchors;
    if (a) {
      this.setAnchors(
        Array.from({ length: this.nl }, (_, l) =>
          Array.from({ length: this.na }, (_, k) => [a[(l * this.na + k) * 2], a[(l * this.na + k) * 2 + 1]]),
        ),
      );
    }
    return report;
  }

  /** Number of learnable parameters. */
  paramCount(): number {
    return this.named
      .filter((t) => t.kind === 'weight' || t.kind === 'bnWeight' || t.kind === 'bias')
      .reduce((s, t) => s + t.variable.size, 0);
  }

  /** Ultralytics-style summary at `img` pixels (default 640). */
  summary(img = 640): ModelSummary {
    const p = this.paramCount();
    return { layers: countModules(this.graph), parameters: p, gradients: p, gflops: gflops(this.graph, img) };
  }

  /** The per-layer table: `from`, `n`, params, module, arguments. */
  layerTable(): LayerRowInfo[] {
    return this.graph.layers.map((l: Layer) => {
      const prefix = `model.${l.index}.`;
      const params = this.named
        .filter((t) => t.name.startsWith(prefix) && t.kind !== 'runningMean' && t.kind !== 'runningVar')
        .reduce((s, t) => s + t.variable.size, 0);
      return {
        index: l.index,
        from: l.fromRaw,
        n: l.n,
        params,
        module: l.type,
        qualname: l.qualname,
        args: l.args,
        shownArgs: l.shownArgs,
      };
    });
  }

  /** Frees every variable; the model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.graph.layers) l.block?.dispose();
    this.graph.detect.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('YoloModel used after dispose()');
  }
}

/**
 * Builds a YOLOv5 model from a yaml (a built-in name such as `yolov5s`, a path, or a parsed
 * object). Weights use PyTorch's default Conv2d initialisation from a seeded generator; BatchNorm
 * starts at γ=1, β=0, mean 0, var 1; Detect biases get Ultralytics' prior.
 */
export function buildModel(cfg: string | ModelYaml, opts: BuildOptions = {}): YoloModel {
  const yaml = loadModelYaml(cfg);
  if (opts.nc !== undefined) {
    if (!Number.isInteger(opts.nc) || opts.nc < 1) throw new RangeError(`nc must be a positive integer, got ${opts.nc}`);
    yaml.nc = opts.nc;
  }
  return new YoloModel(yaml, opts.seed ?? 0);
}
