/**
 * A safe reader of the pickles `torch.save` writes (protocol 2, plus the protocol 3–4 opcodes
 * that cost nothing to read). It never runs code: a GLOBAL names a class or function, and only
 * the names in {@link classify}'s allow-list are accepted — PyTorch's tensor rebuilders and
 * storages, `collections.OrderedDict`, and classes whose instances are kept as inert records
 * (PyTorch and Ultralytics modules, a few builtins). Any other global is refused.
 * Over 300 lines: one opcode interpreter; its allow-list and rebuilders belong beside it.
 */
import { EngineError } from '../errors.ts';

export class PickleError extends EngineError {
  override name = 'PickleError';
  readonly retryable = false;
}

/** A class or function named by the pickle (never resolved to code). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of an allowed class, kept as data: its constructor args and its BUILD state. */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: string,
    readonly args: unknown[],
  ) {}
}

/** A `dict`/`OrderedDict`: a Map keyed by the (primitive) keys. */
export type PyDict = Map<unknown, unknown>;

/** A storage named by a persistent id: ('storage', type, key, location, numel). */
export class StorageRef {
  constructor(
    readonly dtype: StorageDType,
    readonly key: string,
    readonly numel: number,
  ) {}
}

/** A tensor rebuilt from its storage: strided view resolved, values as float32. */
export class PyTensor {
  constructor(
    readonly shape: number[],
    readonly data: Float32Array,
    readonly dtype: StorageDType,
  ) {}
}

export type StorageDType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';

const STORAGES: Record<string, StorageDType> = {
  FloatStorage: 'f32',
  HalfStorage: 'f16',
  BFloat16Storage: 'bf16',
  DoubleStorage: 'f64',
  LongStorage: 'i64',
  IntStorage: 'i32',
  ShortStorage: 'i16',
  CharStorage: 'i8',
  ByteStorage: 'u8',
  BoolStorage: 'bool',
};

/** Bytes per element of each storage type. */
export const ITEM_SIZE: Record<StorageDType, number> = { f32: 4, f16: 2, bf16: 2, f64: 8, i64: 8, i32: 4, i16: 2, i8: 1, u8: 1, bool: 1 };

/** Classes kept as inert records (their code is never needed: the reader walks their state). */
const INERT_PREFIXES = ['torch.nn.modules.', 'models.common.', 'models.yolo.', 'models.experimental.'];
const INERT_EXACT = new Set([
  'builtins.set',
  'builtins.frozenset',
  '__builtin__.set',
  '__builtin__.frozenset',
  'builtins.slice',
  'pathlib.PosixPath',
  'pathlib.WindowsPath',
  'argparse.Namespace',
  'torch.device',
  'torch.Size',
  'numpy.core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy._core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
]);
const TORCH_DTYPES = /^torch\.(float(16|32|64)?|half|double|bfloat16|u?int(8|16|32|64)|long|short|bool)$/;

type Kind = 'rebuild_tensor' | 'rebuild_parameter' | 'ordered_dict' | 'storage' | 'inert';

/** What an allowed global is; throws PickleError for any other. */
export function classify(g: PyGlobal): Kind {
  const q = g.qualname;
  if (q === 'torch._utils._rebuild_tensor_v2') return 'rebuild_tensor';
  if (q === 'torch._utils._rebuild_parameter') return 'rebuild_parameter';
  if (q === 'collections.OrderedDict') return 'ordered_dict';
  if (g.module === 'torch' && g.name in STORAGES) return 'storage';
  if (INERT_EXACT.has(q) || TORCH_DTYPES.test(q) || INERT_PREFIXES.some((p) => q.startsWith(p))) return 'inert';
  throw new PickleError(`refusing global ${q}: not a tensor, a dict or a known model class (nothing in a weights file needs it)`);
}

const MARK = Symbol('mark');

/** Reads a storage's bytes for a persistent id (the zip's `data/<key>` entry). */
export type StorageLoader = (ref: StorageRef) => Uint8Array;

/**
 * Unpickles `bytes`. `loadStorage` gives the raw little-endian bytes of a storage; tensors are
 * converted to float32 (half and bfloat16 widened, integers cast).
 */
export function unpickle(bytes: Uint8Array, loadStorage: StorageLoader): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const storages = new Map<string, Uint8Array>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new PickleError(`truncated pickle at byte ${p}`);
  };
  const u8 = () => {
    need(1);
    return bytes[p++];
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(p, true);
    p += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(bytes.length)) throw new PickleError('length past the end of the pickle');
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const s = bytes.subarray(p, p + n);
    p += n;
    return s;
  };
  const utf8 = (n: number) => new TextDecoder('utf-8', { fatal: true }).decode(take(n));
  const line = () => {
    const e = bytes.indexOf(0x0a, p);
    if (e < 0) throw new PickleError('unterminated line');
    const s = new TextDecoder().decode(bytes.subarray(p, e));
    p = e + 1;
    return s;
  };
  const pop = () => {
    if (!stack.length) throw new PickleError(`stack underflow at byte ${p}`);
    return stack.pop();
  };
  const top = () => {
    if (!stack.length) throw new PickleError(`stack underflow at byte ${p}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) throw new PickleError('no MARK');
    return stack.splice(m);
  };
  const asDict = (d: unknown): PyDict => {
    if (d instanceof Map) return d;
    if (d instanceof PyObject && d.cls === 'collections.OrderedDict') return d.state as PyDict;
    throw new PickleError('SETITEM on a non-dict');
  };
  const storageBytes = (ref: StorageRef) => {
    let b = storages.get(ref.key);
    if (!b) {
      b = loadStorage(ref);
      storages.set(ref.key, b);
    }
    if (b.length < ref.numel * ITEM_SIZE[ref.dtype])
      throw new PickleError(`storage ${ref.key}: ${b.length} bytes for ${ref.numel} elements`);
    return b;
  };
  const call = (f: unknown, args: unknown): unknown => {
    if (!(f instanceof PyGlobal)) throw new PickleError('REDUCE of something that is not a global');
    if (!Array.isArray(args)) throw new PickleError('REDUCE arguments are not a tuple');
    switch (classify(f)) {
      case 'rebuild_tensor':
        return rebuildTensor(args, storageBytes);
      case 'rebuild_parameter': {
        if (!(args[0] instanceof PyTensor)) throw new PickleError('_rebuild_parameter without a tensor');
        return args[0];
      }
      case 'ordered_dict': {
        const m: PyDict = new Map();
        const init = args[0];
        if (Array.isArray(init)) for (const kv of init) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
        return m;
      }
      case 'storage':
        throw new PickleError(`${f.qualname} called directly (storages come only by persistent id)`);
      case 'inert':
        return new PyObject(f.qualname, args);
    }
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME: the frame length is only a hint
      case 0x2e:
        return pop(); // STOP
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x8a: {
        // LONG1
        const n = u8();
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case 0x47: {
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      } // BINFLOAT (big-endian)
      case 0x58:
        stack.push(utf8(u32()));
        break; // BINUNICODE
      case 0x8c:
        stack.push(utf8(u8()));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(utf8(u64()));
        break; // BINUNICODE8
      case 0x55:
        stack.push(new TextDecoder('latin1').decode(take(u8())));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(new TextDecoder('latin1').decode(take(u32())));
        break; // BINSTRING
      case 0x43:
        stack.push(take(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(take(u32()).slice());
        break; // BINBYTES
      case 0x8e:
        stack.push(take(u64()).slice());
        break; // BINBYTES8
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x8f:
        stack.push(new PyObject('builtins.set', [[]]));
        break; // EMPTY_SET
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(),
          b = pop();
        stack.push([pop(), b, c]);
        break;
      } // TUPLE3
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const items = popMark();
        const m: PyDict = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      } // DICT
      case 0x61: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) throw new PickleError('APPEND to a non-list');
        l.push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) throw new PickleError('APPENDS to a non-list');
        l.push(...items);
        break;
      } // APPENDS
      case 0x73: {
        const v = pop(),
          k = pop();
        asDict(top()).set(k, v);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        const d = asDict(top());
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      } // SETITEMS
      case 0x90: {
        const items = popMark();
        const s = top();
        if (s instanceof PyObject && Array.isArray(s.args[0])) (s.args[0] as unknown[]).push(...items);
        break;
      } // ADDITEMS
      case 0x91:
        stack.push(new PyObject('builtins.frozenset', [popMark()]));
        break; // FROZENSET
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw new PickleError(`memo key ${k} unset`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: {
        const module = line(),
          name = line();
        const g = new PyGlobal(module, name);
        classify(g);
        stack.push(g);
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop(),
          module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL needs two strings');
        const g = new PyGlobal(module, name);
        classify(g);
        stack.push(g);
        break;
      }
      case 0x52: {
        const args = pop();
        stack.push(call(pop(), args));
        break;
      } // REDUCE
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args) — an inert record, or an OrderedDict
        const args = pop(),
          cls = pop();
        if (!(cls instanceof PyGlobal)) throw new PickleError('NEWOBJ of something that is not a class');
        const kind = classify(cls);
        if (kind === 'ordered_dict') stack.push(new Map());
        else if (kind === 'inert') stack.push(new PyObject(cls.qualname, Array.isArray(args) ? args : []));
        else throw new PickleError(`NEWOBJ of ${cls.qualname}`);
        break;
      }
      case 0x92: {
        pop();
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ_EX (kwargs dropped)
      case 0x62: {
        // BUILD: the state of an inert object, or the attributes of a tensor/dict (ignored)
        const state = pop();
        const o = top();
        if (o instanceof PyObject) o.state = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof PyGlobal) || classify(pid[1]) !== 'storage')
          throw new PickleError('persistent id is not a storage');
        const numel = Number(pid[4]);
        if (!Number.isSafeInteger(numel) || numel < 0) throw new PickleError('bad storage size');
        stack.push(new StorageRef(STORAGES[pid[1].name], String(pid[2]), numel));
        break;
      }
      default:
        throw new PickleError(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}

/** _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) → float32 values in C order. */
function rebuildTensor(args: unknown[], storageBytes: (r: StorageRef) => Uint8Array): PyTensor {
  const [ref, offset, size, stride] = args;
  if (!(ref instanceof StorageRef)) throw new PickleError('_rebuild_tensor_v2 without a storage');
  const isInts = (a: unknown): a is number[] => Array.isArray(a) && a.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
  if (typeof offset !== 'number' || !isInts(size) || !isInts(stride) || size.length !== stride.length)
    throw new PickleError('_rebuild_tensor_v2: bad offset, size or stride');
  const n = size.reduce((a, b) => a * b, 1);
  if (n > 0) {
    const last = offset + size.reduce((s, d, i) => s + (d - 1) * stride[i], 0);
    if (offset < 0 || last >= ref.numel)
      throw new PickleError(`tensor view [${size}] at ${offset} lies outside its storage of ${ref.numel}`);
  }
  const src = toFloat32(ref.dtype, storageBytes(ref), ref.numel);
  const out = new Float32Array(n);
  const contiguous = stride.every((s, i) => size[i] === 1 || s === size.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) out.set(src.subarray(offset, offset + n));
  else {
    const idx = new Array<number>(size.length).fill(0);
    for (let k = 0; k < n; k++) {
      let at = offset;
      for (let d = 0; d < size.length; d++) at += idx[d] * stride[d];
      out[k] = src[at];
      for (let d = size.length - 1; d >= 0; d--) {
        if (++idx[d] < size[d]) break;
        idx[d] = 0;
      }
    }
  }
  return new PyTensor([...size], out, ref.dtype);
}

/** IEEE half → float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function toFloat32(dtype: StorageDType, b: Uint8Array, numel: number): Float32Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(numel);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < numel; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'f16':
      for (let i = 0; i < numel; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      break;
    case 'bf16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
      break;
    }
    case 'f64':
      for (let i = 0; i < numel; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'i64':
      for (let i = 0; i < numel; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'i32':
      for (let i = 0; i < numel; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'i16':
      for (let i = 0; i < numel; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'i8':
      for (let i = 0; i < numel; i++) out[i] = dv.getInt8(i);
      break;
    case 'u8':
    case 'bool':
      for (let i = 0; i < numel; i++) out[i] = b[i];
      break;
  }
  return out;
}
