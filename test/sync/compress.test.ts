/**
 * bf16 and int8 payloads (worker/engine/sync/compress.ts): the round-trip error stays within the
 * stated bounds on values across many magnitudes, NaN/Inf survive (fit's guard must see them),
 * and the payload sizes are what bench:sync counts. Checked against arithmetic done here in float64.
 */
import t from 'tap';
import { INT8_CHUNK, decode, encode, payloadBytes } from '../../worker/engine/sync/index.ts';

function values(n: number, seed = 1): Float32Array {
  let s = seed;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const a = new Float32Array(n);
  // magnitudes from 1e-6 to 1e3, both signs, some exact zeros
  for (let i = 0; i < n; i++) a[i] = i % 97 === 0 ? 0 : (r() - 0.5) * 10 ** (Math.floor(r() * 10) - 6);
  return a;
}

t.test('bf16: relative error <= 2^-8, exact on values with 8 mantissa bits', async (t) => {
  const x = values(5000);
  const y = new Float32Array(x.length);
  decode('bf16', encode('bf16', x), y);
  let worst = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) worst = Math.max(worst, Math.abs(y[i] - x[i]) / Math.abs(x[i]));
  t.ok(worst <= 2 ** -8, `worst relative error ${worst}`);
  t.ok(worst > 0, 'it does round');
  const exact = Float32Array.of(1, -2, 0.5, 3, 1.5, 255, -0.0078125);
  const back = new Float32Array(exact.length);
  decode('bf16', encode('bf16', exact), back);
  t.same(Array.from(back), Array.from(exact));
  // round to nearest even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 -> 1 (even); 1 + 3·2^-8 -> 1 + 2^-6
  const ties = Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8);
  decode('bf16', encode('bf16', ties), back.subarray(0, 2));
  t.same([back[0], back[1]], [1, 1 + 2 ** -6]);
  t.equal(payloadBytes('bf16', 5), 12, '2 bytes a value, padded to 4');
});

t.test('int8: absolute error <= max|x| of its chunk / 254, per chunk', async (t) => {
  const n = 3 * INT8_CHUNK + 17;
  const x = values(n, 7);
  x[5] = 1000; // one large value only coarsens its own chunk
  const y = new Float32Array(n);
  const p = encode('int8', x);
  t.equal(p.byteLength, payloadBytes('int8', n));
  t.equal(payloadBytes('int8', n), Math.ceil((4 * 4 + n) / 4) * 4, 'one float32 scale per chunk + one byte per value');
  decode('int8', p, y);
  for (let c = 0; c * INT8_CHUNK < n; c++) {
    const b = c * INT8_CHUNK,
      e = Math.min(n, b + INT8_CHUNK);
    let max = 0,
      worst = 0;
    for (let i = b; i < e; i++) max = Math.max(max, Math.abs(x[i]));
    for (let i = b; i < e; i++) worst = Math.max(worst, Math.abs(y[i] - x[i]));
    t.ok(worst <= (max / 254) * (1 + 1e-6), `chunk ${c}: error ${worst} vs bound ${max / 254}`);
  }
  t.equal(y[5], 1000, 'the chunk maximum is exact');
  const acc = Float32Array.from(y);
  decode('int8', p, acc, 'add');
  t.same(
    Array.from(acc),
    Array.from(y, (v) => Math.fround(v + v)),
    "'add' adds the decoded values",
  );
});

t.test('int8 and bf16 carry NaN and Inf to the receiver; all-zero chunks stay zero', async (t) => {
  for (const codec of ['int8', 'bf16'] as const) {
    const x = new Float32Array(2 * INT8_CHUNK);
    x[3] = Number.NaN;
    x[INT8_CHUNK + 1] = Number.POSITIVE_INFINITY;
    const y = new Float32Array(x.length);
    decode(codec, encode(codec, x), y);
    t.ok(Number.isNaN(y[3]), `${codec}: NaN arrives`);
    t.notOk(Number.isFinite(y[INT8_CHUNK + 1]), `${codec}: Inf arrives as a non-finite value`);
    const z = new Float32Array(INT8_CHUNK);
    const back = Float32Array.from({ length: INT8_CHUNK }, () => 5);
    decode(codec, encode(codec, z), back);
    t.ok(
      back.every((v) => v === 0),
      `${codec}: zeros`,
    );
  }
});
