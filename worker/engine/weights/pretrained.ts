/**
 * Pretrained weights for `--weights`: our own checkpoints (`flotilla train`'s .ckpt) and PyTorch
 * `.pt` files (Ultralytics YOLOv5 checkpoints, or a plain state dict), read into one shape and
 * transferred into a model by name where the shapes match, as train.py's intersect_dicts.
 */
import { readFileSync } from 'node:fs';
import { decodeCheckpoint, type CheckpointContent } from '../checkpoint/index.ts';
import { buildModel, ModelYaml, type YoloModel } from '../model/index.ts';
import { readTorchFile } from './torch-file.ts';
import { isZip } from './zip.ts';
import { EngineError } from '../errors.ts';

export class WeightsError extends EngineError {
  override name = 'WeightsError';
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A weights file read into memory. */
export interface Pretrained {
  readonly file: string;
  /** 'flotilla': our checkpoint (engine layout); 'pytorch': a .pt (PyTorch layout, shapes known) */
  readonly format: 'flotilla' | 'pytorch';
  /** tensors by state_dict name */
  readonly state: Map<string, { data: Float32Array; shape?: readonly number[] }>;
  /** the architecture the weights were made with: a cfg name/path (ours) or the yaml dict (.pt); absent for a bare state dict */
  readonly cfg?: string | ModelYaml;
  readonly nc?: number;
  readonly names?: string[];
  /** the training image size, when the file records it */
  readonly imgsz?: number;
  /** one line saying what was read, e.g. "PyTorch module checkpoint (ckpt['model'], f16)" */
  readonly description: string;
}

/** Reads `file`: a PyTorch zip (`.pt`) or a flotilla checkpoint, by its first bytes. */
export function readPretrained(file: string): Pretrained {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new WeightsError(`cannot read weights '${file}': ${(e as Error).message}`, { cause: e });
  }
  return readPretrainedBytes(bytes, file);
}

/** Reads weights already in memory (an artifact fetched from a store); `file` names them in messages. */
export function readPretrainedBytes(bytes: Uint8Array, file: string): Pretrained {
  try {
    return isZip(bytes) ? fromTorch(file, bytes) : fromCheckpoint(file, decodeCheckpoint(bytes));
  } catch (e) {
    if (e instanceof WeightsError) throw e;
    throw new WeightsError(`weights '${file}': ${(e as Error).message}`, { cause: e });
  }
}

function fromTorch(file: string, bytes: Uint8Array): Pretrained {
  const w = readTorchFile(bytes);
  const state = new Map([...w.state].map(([k, t]) => [k, { data: t.data, shape: t.shape }]));
  let cfg: ModelYaml | undefined;
  if (w.yaml) {
    const r = ModelYaml.safeParse(w.yaml);
    if (r.success) cfg = r.data;
  }
  const nc = cfg?.nc ?? (w.names ? w.names.length : undefined);
  const from = w.key ? `ckpt['${w.key}']` : 'top level';
  return {
    file,
    format: 'pytorch',
    state,
    ...(cfg ? { cfg } : {}),
    ...(nc ? { nc } : {}),
    ...(w.names ? { names: w.names } : {}),
    description: `PyTorch ${w.source === 'module' ? 'model' : 'state dict'} (${from}, ${w.dtypes.join('/') || 'no float'} tensors)`,
  };
}

function fromCheckpoint(file: string, ck: CheckpointContent): Pretrained {
  // the EMA weights, as val.py and detect.py use them; a bare model state when there is no EMA
  const pick = (prefix: string) =>
    new Map(
      [...ck.tensors]
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, t]) => {
          if (!(t.data instanceof Float32Array)) throw new WeightsError(`${file}: ${k} is ${t.dtype}, expected F32`);
          return [k.slice(prefix.length), { data: t.data }];
        }),
    );
  let state = pick('ema/');
  if (!state.size) state = pick('model/');
  if (!state.size) throw new WeightsError(`${file}: the checkpoint holds no model/ or ema/ tensors`);
  const m = ck.meta;
  return {
    // checkpoints without a cfg in their meta were yolov5n (the training default)
    file,
    format: 'flotilla',
    state,
    cfg: typeof m.cfg === 'string' ? m.cfg : 'yolov5n',
    ...(typeof m.nc === 'number' ? { nc: m.nc } : {}),
    ...(Array.isArray(m.names) ? { names: m.names.map(String) } : {}),
    ...(typeof m.imgsz === 'number' ? { imgsz: m.imgsz } : {}),
    description: 'flotilla checkpoint',
  };
}

/** What a transfer did; counts as PyTorch's state_dict counts them (see transferPretrained). */
export interface TransferReport {
  transferred: number;
  total: number;
  /** source names not transferred: unknown to the model, another shape, or excluded */
  skipped: string[];
  /** "Transferred X/Y items from FILE" */
  message: string;
}

/**
 * Copies the tensors of `w` whose names and shapes match into `model` (train.py's
 * intersect_dicts); `excludeAnchors` leaves the model's anchors (train.py excludes them when
 * --cfg or hyp anchors are given). X/Y count as PyTorch's state_dict does: every parameter
 * and buffer including each BatchNorm's `num_batches_tracked`, which is counted transferred
 * with its BatchNorm's running mean (the engine keeps no such counter: its momentum is fixed).
 */
export function transferPretrained(model: YoloModel, w: Pretrained, opts: { excludeAnchors?: boolean } = {}): TransferReport {
  const state = new Map(w.state);
  const excluded: string[] = [];
  if (opts.excludeAnchors)
    for (const k of [...state.keys()])
      if (k.includes('anchor')) {
        state.delete(k);
        excluded.push(k);
      }
  const r =
    w.format === 'pytorch'
      ? model.loadTorchState(new Map([...state].map(([k, t]) => [k, { data: t.data, shape: t.shape ?? [t.data.length] }])), {
          strict: false,
        })
      : model.loadStateDict(new Map([...state].map(([k, t]) => [k, t.data])), { strict: false });
  const named = model.namedTensors();
  const bns = named.filter((t) => t.kind === 'runningMean').map((t) => t.name);
  const loaded = new Set(r.loaded);
  const transferred = r.loaded.length + bns.filter((n) => loaded.has(n)).length;
  const total = named.length + 1 + bns.length;
  return { transferred, total, skipped: [...r.skipped, ...excluded], message: `Transferred ${transferred}/${total} items from ${w.file}` };
}

/**
 * A model built from `w` with every tensor loaded (strict: all names and shapes), for
 * validation and detection. `cfg` overrides the architecture the file records; a bare state
 * dict records none and needs it.
 */
export function modelFromPretrained(w: Pretrained, cfg?: string | ModelYaml): YoloModel {
  const arch = cfg ?? w.cfg;
  if (arch === undefined) throw new WeightsError(`${w.file} is a bare state dict without its architecture: pass --cfg (e.g. yolov5n)`);
  const model = buildModel(arch, w.nc === undefined ? {} : { nc: w.nc });
  try {
    if (w.format === 'pytorch')
      model.loadTorchState(new Map([...w.state].map(([k, t]) => [k, { data: t.data, shape: t.shape ?? [t.data.length] }])));
    else model.loadStateDict(new Map([...w.state].map(([k, t]) => [k, t.data])));
    return model;
  } catch (e) {
    model.dispose();
    throw new WeightsError(
      `${w.file} does not fit ${typeof arch === 'string' ? arch : 'its recorded architecture'}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}
