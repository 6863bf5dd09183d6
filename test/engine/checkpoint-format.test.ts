import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  stored,
  type CheckpointContent,
} from '../../worker/engine/checkpoint/index.ts';

function sample(): CheckpointContent {
  const f = new Float32Array([1.5, -0, Number.NaN, Infinity, 1e-45, 3.4e38, -2.25]);
  const d = new Float64Array([Math.PI, -1e-300, 0.1]);
  const i = new Int32Array([-2147483648, 0, 2147483647]);
  const u = new Uint32Array([0, 4294967295]);
  const b = new Uint8Array([1, 2, 3, 255, 0]); // odd length: the next tensor must still be aligned
  const tensors = new Map([
    ['model/conv.weight', stored(f.subarray(0, 6), [2, 3])],
    ['z/f64', stored(d)],
    ['a/i32', stored(i)],
    ['m/u32', stored(u, [1, 2])],
    ['b/u8', stored(b)],
    ['empty', stored(new Float32Array(0), [0, 4])],
  ]);
  return {
    tensors,
    meta: { epoch: 3, step: 17, cursor: { perm: [3, 1, 2], pos: 2 }, rng: [1, 2, 3, 4], note: 'ünïcode', ok: true, nil: null },
  };
}

function bitsEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, k) => v === y[k]);
}

t.test('encode/decode round-trips every tensor bit for bit, and the meta', async (t) => {
  const c = sample();
  const bytes = encodeCheckpoint(c);
  const back = decodeCheckpoint(bytes);
  t.same([...back.tensors.keys()].sort(), [...c.tensors.keys()].sort());
  for (const [k, v] of c.tensors) {
    const w = back.tensors.get(k)!;
    t.equal(w.dtype, v.dtype, `${k} dtype`);
    t.same(w.shape, v.shape, `${k} shape`);
    t.ok(bitsEqual(w.data, v.data), `${k} bits`);
    t.equal(w.data.constructor, v.data.constructor, `${k} array type`);
  }
  t.same(back.meta, c.meta);
  // -0 and NaN payloads survive (bitsEqual above); the re-encoding is byte-identical (deterministic).
  t.ok(bitsEqual(encodeCheckpoint(back), bytes), 'encode(decode(x)) === x');
});

t.test('layout: u64 LE header length, JSON header, 8-byte aligned data', async (t) => {
  const bytes = encodeCheckpoint(sample());
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  t.equal((8 + n) % 8, 0, 'data start aligned');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  t.same(header.tensors['model/conv.weight'], { dtype: 'F32', shape: [2, 3], offsets: header.tensors['model/conv.weight'].offsets });
  for (const e of Object.values(header.tensors) as Array<{ offsets: [number, number] }>) t.equal(e.offsets[0] % 8, 0, 'tensor aligned');
  // An independent read of one tensor straight from the bytes.
  const [b0] = header.tensors['z/f64'].offsets;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + 8 + n + b0);
  t.equal(dv.getFloat64(0, true), Math.PI);
  t.equal(dv.getFloat64(16, true), 0.1);
});

t.test('corrupt blobs are rejected with CheckpointFormatError', async (t) => {
  const bytes = encodeCheckpoint(sample());
  t.throws(() => decodeCheckpoint(bytes.subarray(0, 5)), CheckpointFormatError);
  t.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 3)), CheckpointFormatError, 'truncated data');
  const bad = bytes.slice();
  new DataView(bad.buffer).setBigUint64(0, 1n << 40n, true);
  t.throws(() => decodeCheckpoint(bad), CheckpointFormatError, 'huge header length');
  const garbled = bytes.slice();
  garbled[9] = 0x7b;
  garbled[10] = 0x7b;
  t.throws(() => decodeCheckpoint(garbled), CheckpointFormatError, 'bad JSON');
  t.throws(() => stored(new Float32Array(3), [2, 2]), CheckpointFormatError, 'shape mismatch');
});

t.test('file save/load round trip, and sha256 of the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const c = sample();
  const path = join(dir, 'sub', 'last.ckpt');
  const digest = saveCheckpoint(path, c);
  t.match(digest, /^[0-9a-f]{64}$/);
  const back = loadCheckpoint(path);
  t.ok(bitsEqual(encodeCheckpoint(back), readFileSync(path)), 'file bytes equal the encoding');
  t.same(back.meta, c.meta);
});
