/**
 * PyTorch `.pt` files as TypeScript data: the zip (`<name>/data.pkl` + `<name>/data/<key>`
 * storages), unpickled safely (pickle.ts), then the state dict found in it — a plain
 * `{name: tensor}` dict, or a pickled module (Ultralytics saves `ckpt['model']`, a whole
 * `DetectionModel`) whose `_parameters`/`_buffers`/`_modules` are walked as nn.Module.state_dict()
 * walks them, without running any of its classes.
 */
import { ZipReader, isZip } from './zip.ts';
import { PickleError, PyObject, PyTensor, unpickle, type PyDict } from './pickle.ts';

/** A state dict read from a `.pt` file, with what the checkpoint says about its model. */
export interface TorchWeights {
  /** tensors by state_dict name, float32 values in PyTorch layout (OIHW conv weights) */
  readonly state: Map<string, PyTensor>;
  /** 'module': a pickled nn.Module (Ultralytics); 'state_dict': a plain dict of tensors */
  readonly source: 'module' | 'state_dict';
  /** the checkpoint key the weights came from ('ema', 'model', 'state_dict' or '' for the top level) */
  readonly key: string;
  /** the model's architecture dict (Ultralytics' `model.yaml`), when the module carries one */
  readonly yaml?: Record<string, unknown>;
  /** class names (`model.names`), when present */
  readonly names?: string[];
  /** element types of the floating-point tensors as stored, e.g. ['f16'] */
  readonly dtypes: string[];
}

/** Reads a `.pt` (zip) file's bytes into a {@link TorchWeights}. */
export function readTorchFile(bytes: Uint8Array): TorchWeights {
  if (!isZip(bytes))
    throw new PickleError('not a PyTorch zip file (legacy non-zip torch.save files are not supported; re-save with torch >= 1.6)');
  const zip = new ZipReader(bytes);
  const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new PickleError('no <archive>/data.pkl in the zip: not a torch.save file');
  const root = pkl.slice(0, -'data.pkl'.length);
  const obj = unpickle(zip.read(pkl), (ref) => {
    if (!/^[A-Za-z0-9_]+$/.test(ref.key)) throw new PickleError(`bad storage key ${ref.key}`);
    return zip.read(`${root}data/${ref.key}`);
  });
  return findState(obj);
}

const isTensorMap = (d: PyDict) => d.size > 0 && [...d].every(([k, v]) => typeof k === 'string' && v instanceof PyTensor);

function findState(obj: unknown): TorchWeights {
  if (obj instanceof Map && isTensorMap(obj)) return fromMap(obj as Map<string, PyTensor>, 'state_dict', '');
  if (obj instanceof PyObject && isModule(obj)) return fromModule(obj, '');
  if (obj instanceof Map) {
    // as YOLOv5's attempt_load: the EMA when the checkpoint has one, else the model
    for (const key of ['ema', 'model', 'state_dict', 'model_state_dict']) {
      const v = obj.get(key);
      if (v instanceof PyObject && isModule(v)) return fromModule(v, key);
      if (v instanceof Map && isTensorMap(v)) return fromMap(v as Map<string, PyTensor>, 'state_dict', key);
    }
  }
  throw new PickleError('the file holds neither a state dict nor a model (looked at the top level and ckpt[ema|model|state_dict])');
}

function fromMap(
  m: Map<string, PyTensor>,
  source: 'module' | 'state_dict',
  key: string,
  extra: { yaml?: Record<string, unknown>; names?: string[] } = {},
): TorchWeights {
  return {
    state: m,
    source,
    key,
    ...extra,
    dtypes: [...new Set([...m.values()].filter((t) => t.dtype.startsWith('f') || t.dtype === 'bf16').map((t) => t.dtype))],
  };
}

function attrs(o: PyObject): PyDict | null {
  // BUILD state is the instance __dict__, or (dict, slots) for classes with __slots__
  const s = Array.isArray(o.state) ? o.state[0] : o.state;
  return s instanceof Map ? s : null;
}

function isModule(o: PyObject): boolean {
  const a = attrs(o);
  return !!a && a.get('_parameters') instanceof Map && a.get('_modules') instanceof Map;
}

/** nn.Module.state_dict(): parameters, then persistent buffers, then the children, depth first. */
function fromModule(root: PyObject, key: string): TorchWeights {
  const out = new Map<string, PyTensor>();
  const seen = new Set<PyObject>();
  const walk = (m: PyObject, prefix: string) => {
    if (seen.has(m)) throw new PickleError(`module cycle at ${prefix || '<root>'}`);
    seen.add(m);
    const a = attrs(m)!;
    const nonPersistent = a.get('_non_persistent_buffers_set');
    const skip = new Set<unknown>(
      nonPersistent instanceof PyObject && Array.isArray(nonPersistent.args[0]) ? (nonPersistent.args[0] as unknown[]) : [],
    );
    for (const group of ['_parameters', '_buffers']) {
      const g = a.get(group);
      if (!(g instanceof Map)) continue;
      for (const [name, t] of g) {
        if (t === null || (group === '_buffers' && skip.has(name))) continue;
        if (!(t instanceof PyTensor)) throw new PickleError(`${prefix}${String(name)} is not a tensor`);
        out.set(`${prefix}${String(name)}`, t);
      }
    }
    const kids = a.get('_modules') as PyDict;
    for (const [name, child] of kids) {
      if (child === null) continue;
      if (!(child instanceof PyObject) || !isModule(child)) throw new PickleError(`${prefix}${String(name)} is not a module`);
      walk(child, `${prefix}${String(name)}.`);
    }
  };
  walk(root, '');
  const a = attrs(root)!;
  const yaml = a.get('yaml');
  const names = a.get('names');
  const nameList = Array.isArray(names) ? names.map(String) : names instanceof Map ? [...names.values()].map(String) : undefined;
  return fromMap(out, 'module', key, {
    ...(yaml instanceof Map ? { yaml: toPlain(yaml) as Record<string, unknown> } : {}),
    ...(nameList ? { names: nameList } : {}),
  });
}

/** A pickled yaml dict as plain JSON-like data. */
function toPlain(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toPlain(x)]));
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof PyObject || v instanceof PyTensor) return null;
  return v;
}
