/**
 * Moving tensors in and out of a model by PyTorch `state_dict` name: the engine layout (HWIO
 * conv weights) for checkpoints and EMA, and PyTorch's layout (OIHW) for official weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from './module.ts';
import { EngineError } from '../errors.ts';

/** Where one tensor sits in a flat float32 blob, in PyTorch layout (the reference manifest's format). */
export interface TorchTensorInfo {
  readonly name: string;
  readonly shape: readonly number[];
  /** offset in float32 elements */
  readonly offset: number;
  readonly numel: number;
}

/** What a load did. */
export interface LoadReport {
  readonly loaded: string[];
  /** names in the source that the model lacks or whose shape differs (non-strict loads only) */
  readonly skipped: string[];
  /** model tensors left as they were: absent from the source or skipped (non-strict loads only) */
  readonly missing: string[];
}

/** Options of the loaders. */
export interface LoadOptions {
  /**
   * true (default): every model tensor must be present with its shape and no name may be
   * unknown. false: load the names whose shapes match (fine-tuning with another `nc`).
   */
  readonly strict?: boolean;
}

/** Buffers of a PyTorch state_dict that have no counterpart here and are ignored. */
const IGNORED = /\.num_batches_tracked$/;

export class StateDictError extends EngineError {
  override name = 'StateDictError';
  readonly retryable = false;
}

const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** OIHW → HWIO for a flat array. */
export function oihwToHwio(src: Float32Array, [o, i, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(src.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++)
        for (let ww = 0; ww < w; ww++) {
          out[((hh * w + ww) * i + ii) * o + oo] = src[((oo * i + ii) * h + hh) * w + ww];
        }
  return out;
}

/** HWIO → OIHW for a flat array (`shape` is the OIHW shape). */
export function hwioToOihw(src: Float32Array, [o, i, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(src.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++)
        for (let ww = 0; ww < w; ww++) {
          out[((oo * i + ii) * h + hh) * w + ww] = src[((hh * w + ww) * i + ii) * o + oo];
        }
  return out;
}

/** A value to load: flat data plus the PyTorch shape it claims (engine layout when `torchLayout` is false). */
export interface SourceTensor {
  readonly data: Float32Array;
  readonly shape?: readonly number[];
}

/**
 * Assigns `source` into `targets`. `torchLayout` converts 4-D weights OIHW → HWIO. Special
 * names (anchors) are passed to `onExtra`, which returns true when it consumed them.
 */
export function assignTensors(
  targets: NamedTensor[],
  source: Map<string, SourceTensor>,
  torchLayout: boolean,
  opts: LoadOptions,
  onExtra: (name: string, t: SourceTensor) => boolean,
): LoadReport {
  const strict = opts.strict ?? true;
  const byName = new Map(targets.map((t) => [t.name, t]));
  const loaded: string[] = [];
  const skipped: string[] = [];
  const problems: string[] = [];
  const updates: [tf.Variable, Float32Array][] = [];
  for (const [name, src] of source) {
    if (IGNORED.test(name)) continue;
    const t = byName.get(name);
    if (!t) {
      if (onExtra(name, src)) {
        loaded.push(name);
        continue;
      }
      (strict ? problems : skipped).push(strict ? `unexpected tensor ${name}` : name);
      continue;
    }
    const want = t.torchShape;
    const shapeOk = src.shape
      ? src.shape.length === want.length && src.shape.every((d, k) => d === want[k])
      : src.data.length === product(want);
    if (!shapeOk || src.data.length !== product(want)) {
      const msg = `${name}: shape ${JSON.stringify(src.shape ?? [src.data.length])} != model ${JSON.stringify(want)}`;
      if (strict) problems.push(msg);
      else skipped.push(name);
      continue;
    }
    const data = torchLayout && want.length === 4 ? oihwToHwio(src.data, want) : src.data;
    updates.push([t.variable, data]);
    loaded.push(name);
  }
  const absent = targets.filter((t) => !source.has(t.name)).map((t) => t.name);
  if (strict && absent.length)
    problems.push(`missing ${absent.length} tensors (${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ', …' : ''})`);
  if (problems.length)
    throw new StateDictError(
      `cannot load state: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; … ${problems.length - 8} more` : ''}`,
    );
  // assign only after every check passed, so a failed strict load changes nothing
  // copied: TF.js's CPU backend would otherwise keep the caller's array (or the whole blob) as the variable's storage
  for (const [v, data] of updates) tf.tidy(() => v.assign(tf.tensor(data.slice(), v.shape)));
  const done = new Set(loaded);
  return { loaded, skipped, missing: strict ? [] : targets.filter((t) => !done.has(t.name)).map((t) => t.name) };
}

/** Reads the tensors of a flat PyTorch blob, checking that each lies inside it. */
export function torchBlobToMap(blob: Float32Array, tensors: readonly TorchTensorInfo[]): Map<string, SourceTensor> {
  const out = new Map<string, SourceTensor>();
  for (const t of tensors) {
    if (t.numel !== product(t.shape))
      throw new StateDictError(`${t.name}: numel ${t.numel} != product of shape ${JSON.stringify(t.shape)}`);
    if (t.offset < 0 || t.offset + t.numel > blob.length)
      throw new StateDictError(`${t.name}: [${t.offset}, ${t.offset + t.numel}) lies outside the blob of ${blob.length}`);
    out.set(t.name, { data: blob.subarray(t.offset, t.offset + t.numel), shape: t.shape });
  }
  return out;
}
